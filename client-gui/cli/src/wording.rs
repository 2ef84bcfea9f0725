//! The library's errors in the command line's words.
//!
//! `postern-client` says what is wrong in the terms of the domain (the
//! profile is encrypted and no passphrase was given; the signer is not
//! trusted yet); what the user can do about it depends on the program. Here
//! that is a flag or another command, added after the message, in the
//! user's language (the `hint-*` messages of i18n/).

use crate::i18n::t;
use postern_client::import::{ExportError, ImportError};
use postern_client::store::StoreError;
use postern_client::store::secrets::SecretError;

/// What to do about `e` on the command line, when there is something.
pub fn hint(e: &anyhow::Error) -> Option<String> {
    e.chain().find_map(|cause| {
        if let Some(i) = cause.downcast_ref::<ImportError>() {
            import_hint(i)
        } else if let Some(x) = cause.downcast_ref::<ExportError>() {
            export_hint(x)
        } else if let Some(s) = cause.downcast_ref::<StoreError>() {
            store_hint(s)
        } else if let Some(s) = cause.downcast_ref::<SecretError>() {
            secret_hint(s)
        } else {
            None
        }
    })
}

fn import_hint(e: &ImportError) -> Option<String> {
    match e {
        ImportError::NeedPassphrase => Some(t!("hint-passphrase")),
        ImportError::UnknownSigner(_) => Some(t!("hint-unknown-signer")),
        ImportError::Unsigned => Some(t!("hint-unsigned")),
        // Wrapped transparently, so not in the error chain by themselves.
        ImportError::Store(s) => store_hint(s),
        ImportError::Secret(s) => secret_hint(s),
        _ => None,
    }
}

fn export_hint(e: &ExportError) -> Option<String> {
    match e {
        ExportError::NotFound(_) => Some(t!("hint-list")),
        ExportError::Store(s) => store_hint(s),
        ExportError::Secret(s) => secret_hint(s),
        _ => None,
    }
}

fn store_hint(e: &StoreError) -> Option<String> {
    match e {
        StoreError::NameTaken { name, .. } => {
            Some(t!("hint-name-taken", name = format!("{name:?}")))
        }
        _ => None,
    }
}

fn secret_hint(e: &SecretError) -> Option<String> {
    match e {
        SecretError::NoKeyring { .. } => Some(t!("hint-drop-strict")),
        SecretError::File(s) => store_hint(s),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use postern_proto::ServerId;

    fn hint_of(e: impl std::error::Error + Send + Sync + 'static) -> Option<String> {
        hint(&anyhow::Error::new(e).context("cannot import x.postern"))
    }

    #[test]
    fn each_way_out_names_the_flag_or_command() {
        let h = hint_of(ImportError::NeedPassphrase).unwrap_or_default();
        assert!(h.contains("--passphrase-file"), "{h}");
        let h = hint_of(ImportError::Unsigned).unwrap_or_default();
        assert!(h.contains("--yes"), "{h}");
        let h = hint_of(ExportError::NotFound("x".into())).unwrap_or_default();
        assert!(h.contains("postern list"), "{h}");
        let taken = StoreError::NameTaken {
            name: "Office".into(),
            existing: "00".into(),
        };
        let h = hint_of(ImportError::Store(taken)).unwrap_or_default();
        assert_eq!(h, "`postern remove \"Office\"` does");
        let strict = SecretError::NoKeyring { tried: "x".into() };
        let h = hint_of(ImportError::Secret(strict)).unwrap_or_default();
        assert!(h.contains("--strict"), "{h}");
    }

    #[test]
    fn an_error_with_nothing_to_do_gets_no_hint() {
        assert_eq!(hint_of(ImportError::WrongPassphrase), None);
        assert_eq!(
            hint_of(ImportError::UnsignedForSignedServer(ServerId([0; 16]))),
            None
        );
        assert_eq!(hint(&anyhow::anyhow!("anything else")), None);
    }
}
