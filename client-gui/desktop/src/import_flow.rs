//! Importing a profile from the window: read the file, then run the
//! engine's import with what the dialog has gathered (passphrase, the
//! answer about a new signer), one step per command.

use super::commands::Controller;
use super::state::{Dialog, ImportFlow, ImportStage};
use crate::i18n::t;
use postern_client::import::{self, ImportError};
use postern_proto::seal;
use std::path::Path;
use zeroize::Zeroizing;

/// Largest profile file read (they are a few hundred bytes).
const MAX_PROFILE_BYTES: u64 = 1 << 20;

impl Controller {
    pub(super) fn import_file(&mut self, path: &Path) {
        let source = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into(),
        );
        let refuse = |reason: String| ImportFlow {
            source: source.clone(),
            text: Zeroizing::new(String::new()),
            passphrase: Zeroizing::new(String::new()),
            stage: ImportStage::Refused { reason },
        };
        let text = match std::fs::metadata(path) {
            Ok(m) if m.len() > MAX_PROFILE_BYTES => Err(t!(
                "import-too-large",
                file = source.as_str(),
                bytes = m.len()
            )),
            _ => std::fs::read(path)
                .map_err(|e| {
                    t!(
                        "import-cannot-read",
                        path = path.display().to_string(),
                        error = e.to_string()
                    )
                })
                .and_then(|b| {
                    String::from_utf8(b).map_err(|_| t!("import-not-text", file = source.as_str()))
                }),
        };
        let flow = match text {
            Ok(t) => ImportFlow {
                source: source.clone(),
                text: Zeroizing::new(t),
                passphrase: Zeroizing::new(String::new()),
                stage: ImportStage::Passphrase { error: None },
            },
            Err(reason) => refuse(reason),
        };
        let refused = matches!(flow.stage, ImportStage::Refused { .. });
        self.state.dialog = Dialog::Import(Box::new(flow));
        if !refused {
            self.retry_import(false);
        }
    }

    /// Runs the import with what the dialog holds. `trust` answers the
    /// signer question with yes; otherwise a new signer stops the import
    /// and the dialog asks.
    pub(super) fn retry_import(&mut self, trust: bool) {
        let Dialog::Import(flow) = &self.state.dialog else {
            return;
        };
        let mut flow = flow.clone();
        let sealed = seal::is_sealed(&flow.text);
        if sealed && flow.passphrase.is_empty() {
            flow.stage = ImportStage::Passphrase { error: None };
            self.state.dialog = Dialog::Import(flow);
            return;
        }
        let pass = sealed.then(|| flow.passphrase.as_str());
        let mut asked = None;
        let opened = self.services.ensure_secrets();
        let result = match (opened, self.services.secrets.as_deref()) {
            (Err(e), _) => Err(GuiImportError::Refused(e)),
            (Ok(()), None) => Err(GuiImportError::Refused(t!("import-no-secret-store"))),
            (Ok(()), Some(secrets)) => {
                let r = import::import_text(
                    &flow.text,
                    &flow.source,
                    pass,
                    &mut |q| {
                        asked = Some(q.clone());
                        trust
                    },
                    &*self.services.hosts,
                    secrets,
                );
                r.map_err(|e| gui_reason(&e))
            }
        };
        let result = match result {
            Err(_) if asked.is_some() && !trust => {
                let q = asked.as_ref().map(|q| ImportStage::Trust {
                    profile_name: q.profile_name.clone(),
                    server_id: q.server_id.to_hex(),
                    fingerprint: q.fingerprint.as_ref().map(ToString::to_string),
                });
                flow.stage = q.unwrap_or(ImportStage::Refused {
                    reason: t!("import-lost-question"),
                });
                self.state.dialog = Dialog::Import(flow);
                return;
            }
            r => r,
        };
        match result {
            Ok(done) => {
                self.state.dialog = Dialog::None;
                self.reload_hosts();
                let who = done.fingerprint.map_or_else(
                    || t!("import-not-signed"),
                    |f| t!("import-signed-by", fingerprint = f.to_string()),
                );
                let name = done.name.as_str();
                self.state.info(match &done.updated {
                    None => t!("import-done", name = name, who = who),
                    Some(c) if c.is_empty() => t!("import-up-to-date", name = name, who = who),
                    // egui's built-in font has no arrow: "port 3389 to 3390".
                    Some(c) => t!(
                        "import-updated",
                        name = name,
                        who = who,
                        changes = c.join("; ").replace(" → ", " to ")
                    ),
                });
            }
            Err(GuiImportError::Passphrase(msg)) => {
                flow.passphrase = Zeroizing::new(String::new());
                flow.stage = ImportStage::Passphrase { error: msg };
                self.state.dialog = Dialog::Import(flow);
            }
            Err(GuiImportError::Refused(reason)) => {
                flow.stage = ImportStage::Refused { reason };
                self.state.dialog = Dialog::Import(flow);
            }
        }
    }
}

enum GuiImportError {
    /// Ask (again) for the passphrase, with this message.
    Passphrase(Option<String>),
    Refused(String),
}

/// Import errors in the window's words: the engine says what is wrong,
/// this says what to do in the dialog.
fn gui_reason(e: &ImportError) -> GuiImportError {
    match e {
        ImportError::NeedPassphrase => GuiImportError::Passphrase(None),
        ImportError::WrongPassphrase => {
            GuiImportError::Passphrase(Some(t!("import-wrong-passphrase")))
        }
        ImportError::UnsignedForSignedServer(_) => {
            GuiImportError::Refused(t!("import-unsigned-for-signed"))
        }
        other => GuiImportError::Refused(t!("import-refused", reason = other.to_string())),
    }
}
