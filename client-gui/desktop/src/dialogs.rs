//! The modal dialogs: add/edit host, settings, import (passphrase, trust,
//! refusal) and "remove?". Like `ui.rs`, they edit only the text being
//! typed and return [`Command`]s for the rest. Escape closes any of them.

use super::commands::Command;
use super::form::{ConnectChoice, FormErrors, FormMethod, HostForm};
use super::settings::{AllowChoice, IpChoice, ThemeChoice};
use super::state::{AppState, Dialog, ImportFlow, ImportStage, SettingsDraft};
use crate::i18n::LanguageChoice;
use crate::i18n::t;
use eframe::egui::{self, Key, RichText, TextEdit, Ui};

pub fn show(ctx: &egui::Context, state: &mut AppState, cmds: &mut Vec<Command>) {
    let id = egui::Id::unique("dialog");
    let resp = match &mut state.dialog {
        Dialog::None => return,
        Dialog::HostForm(f) => egui::Modal::new(id).show(ctx, |ui| {
            let ok = scroll(ui, |ui| host_form(ui, f));
            save_cancel(ui, ok, Command::SaveHostForm, cmds);
        }),
        Dialog::Settings(d) => egui::Modal::new(id).show(ctx, |ui| {
            let ok = scroll(ui, |ui| settings(ui, d));
            save_cancel(ui, ok, Command::SaveSettings, cmds);
        }),
        Dialog::Import(flow) => egui::Modal::new(id).show(ctx, |ui| import(ui, flow, cmds)),
        Dialog::ConfirmRemove(name) => egui::Modal::new(id).show(ctx, |ui| {
            ui.set_max_width(420.0);
            ui.heading(t!("remove-title", host = name.as_str()));
            ui.label(t!("remove-body"));
            ui.horizontal(|ui| {
                if ui.button(t!("remove-confirm")).clicked() {
                    cmds.push(Command::Remove(name.clone()));
                }
                if ui.button(t!("remove-keep")).clicked() {
                    cmds.push(Command::CloseDialog);
                }
            });
        }),
    };
    if resp.should_close() {
        cmds.push(match &state.dialog {
            Dialog::Import(f) if matches!(f.stage, ImportStage::Trust { .. }) => {
                Command::Trust(false)
            }
            _ => Command::CloseDialog,
        });
    }
}

/// The dialog's body scrolls when the window is small; its buttons stay
/// visible under it.
fn scroll(ui: &mut Ui, add: impl FnOnce(&mut Ui) -> bool) -> bool {
    let max = (ui.ctx().content_rect().height() - 140.0).max(160.0);
    ui.set_max_width(520.0);
    egui::ScrollArea::vertical()
        .max_height(max)
        .auto_shrink([true, true])
        .show(ui, add)
        .inner
}

fn save_cancel(ui: &mut Ui, enabled: bool, save: Command, cmds: &mut Vec<Command>) {
    ui.separator();
    ui.horizontal(|ui| {
        if ui
            .add_enabled(enabled, egui::Button::new(t!("button-save")))
            .clicked()
        {
            cmds.push(save);
        }
        if ui.button(t!("button-cancel")).clicked() {
            cmds.push(Command::CloseDialog);
        }
    });
}

/// A labelled text field; the label is its accessible name. The error
/// shows under it once the user has typed something.
fn field(ui: &mut Ui, label: String, value: &mut String, hint: String, error: Option<&String>) {
    let l = ui.label(label);
    ui.add(
        TextEdit::singleline(value)
            .hint_text(hint)
            .desired_width(f32::INFINITY),
    )
    .labelled_by(l.id);
    if let Some(e) = error.filter(|_| !value.trim().is_empty()) {
        ui.colored_label(ui.visuals().error_fg_color, e);
    }
    ui.add_space(4.0);
}

/// Returns whether the form can be saved.
fn host_form(ui: &mut Ui, f: &mut HostForm) -> bool {
    let e = f.errors();
    ui.heading(if f.editing.is_some() {
        t!("form-edit-title")
    } else {
        t!("form-add-title")
    });
    ui.add_space(6.0);
    field(
        ui,
        t!("form-name"),
        &mut f.name,
        t!("form-name-hint"),
        e.name.as_ref(),
    );
    field(
        ui,
        t!("form-address"),
        &mut f.address,
        t!("form-address-hint"),
        e.address.as_ref(),
    );
    ui.label(t!("form-how"));
    ui.radio_value(
        &mut f.method,
        FormMethod::Sequence,
        t!("form-method-sequence"),
    );
    ui.radio_value(&mut f.method, FormMethod::Spa, t!("form-method-spa"));
    ui.radio_value(&mut f.method, FormMethod::Fwknop, t!("form-method-fwknop"));
    ui.add_space(4.0);
    match f.method {
        FormMethod::Sequence => {
            field(
                ui,
                t!("form-sequence"),
                &mut f.sequence,
                "7000,8000:udp,9000".to_owned(),
                e.sequence.as_ref(),
            );
            field(
                ui,
                t!("form-delay"),
                &mut f.delay_ms,
                "0".to_owned(),
                e.delay_ms.as_ref(),
            );
        }
        FormMethod::Spa => {
            field(
                ui,
                t!("form-spa-user"),
                &mut f.spa_user,
                "alice".to_owned(),
                e.spa_user.as_ref(),
            );
            let l = ui.label(if f.editing.is_some() {
                t!("form-key-keep")
            } else {
                t!("form-key-paste")
            });
            ui.add(
                TextEdit::singleline(&mut *f.spa_key)
                    .password(true)
                    .hint_text(t!("form-key-hint"))
                    .desired_width(f32::INFINITY),
            )
            .labelled_by(l.id);
            if let Some(err) = e.spa_key.as_ref().filter(|_| !f.spa_key.is_empty()) {
                ui.colored_label(ui.visuals().error_fg_color, err);
            }
            field(
                ui,
                t!("form-spa-port"),
                &mut f.spa_port,
                "62201".to_owned(),
                e.spa_port.as_ref(),
            );
            field(
                ui,
                t!("form-server-id"),
                &mut f.spa_server,
                t!("form-server-id-hint"),
                e.spa_server.as_ref(),
            );
        }
        FormMethod::Fwknop => fwknop_fields(ui, f, &e),
    }
    field(
        ui,
        t!("form-door-port"),
        &mut f.door_port,
        t!("form-door-port-hint"),
        e.door_port.as_ref(),
    );
    ui.checkbox(&mut f.door_udp, t!("form-door-udp"));
    ui.add_space(4.0);
    ui.label(t!("form-then-start"));
    for c in ConnectChoice::ALL {
        ui.radio_value(&mut f.connect, c, c.label());
    }
    match f.connect {
        ConnectChoice::Rdp | ConnectChoice::Ssh => field(
            ui,
            t!("form-connect-user"),
            &mut f.connect_user,
            String::new(),
            e.connect.as_ref(),
        ),
        ConnectChoice::Url => field(
            ui,
            t!("form-web-address"),
            &mut f.connect_url,
            "https://intranet.example/".to_owned(),
            e.connect.as_ref(),
        ),
        ConnectChoice::Nothing => {}
    }
    let missing = missing_fields(&e, f);
    if !missing.is_empty() {
        ui.label(RichText::new(t!("form-missing", fields = missing.join(", "))).weak());
    }
    e.is_empty()
}

/// The fwknop method's fields: what `fwknop --key-gen` printed, and the
/// user and port fwknopd expects.
fn fwknop_fields(ui: &mut Ui, f: &mut HostForm, e: &FormErrors) {
    field(
        ui,
        t!("form-fwknop-user"),
        &mut f.spa_user,
        "alice".into(),
        e.spa_user.as_ref(),
    );
    let keep = if f.editing.is_some() {
        t!("form-fwknop-keep")
    } else {
        String::new()
    };
    for (label, text, err) in [
        ("KEY_BASE64", &mut f.spa_key, e.spa_key.as_ref()),
        (
            "HMAC_KEY_BASE64",
            &mut f.fwknop_hmac_key,
            e.fwknop_hmac_key.as_ref(),
        ),
    ] {
        let l = ui.label(format!("{label}{keep}"));
        ui.add(
            TextEdit::singleline(&mut **text)
                .password(true)
                .hint_text(t!("form-fwknop-key-hint"))
                .desired_width(f32::INFINITY),
        )
        .labelled_by(l.id);
        if let Some(err) = err.filter(|_| !text.is_empty()) {
            ui.colored_label(ui.visuals().error_fg_color, err);
        }
    }
    ui.checkbox(&mut f.fwknop_sha512, t!("form-fwknop-sha512"));
    field(
        ui,
        t!("form-fwknop-port"),
        &mut f.spa_port,
        "62201".into(),
        e.spa_port.as_ref(),
    );
}

/// Required fields that are still empty (their errors are not shown yet).
fn missing_fields(e: &FormErrors, f: &HostForm) -> Vec<String> {
    let mut m = Vec::new();
    let empty = |s: &str| s.trim().is_empty();
    let checks = [
        (e.name.is_some() && empty(&f.name), t!("form-name")),
        (e.address.is_some() && empty(&f.address), t!("form-address")),
        (
            e.sequence.is_some() && empty(&f.sequence),
            t!("form-sequence"),
        ),
        (
            e.spa_user.is_some() && empty(&f.spa_user),
            t!("form-spa-user"),
        ),
        (e.spa_key.is_some() && empty(&f.spa_key), t!("form-key")),
        (
            e.spa_server.is_some() && empty(&f.spa_server),
            t!("form-server-id"),
        ),
        (
            e.door_port.is_some() && empty(&f.door_port),
            t!("form-door-port"),
        ),
        (
            e.connect.is_some() && empty(&f.connect_url),
            t!("form-web-address"),
        ),
        (
            e.fwknop_hmac_key.is_some() && empty(&f.fwknop_hmac_key),
            t!("form-fwknop-hmac-key"),
        ),
    ];
    for (missing, name) in checks {
        if missing {
            m.push(name);
        }
    }
    m
}

/// Returns whether the settings can be saved.
fn settings(ui: &mut Ui, d: &mut SettingsDraft) -> bool {
    ui.heading(t!("settings-title"));
    ui.add_space(6.0);
    // First, so that someone who cannot read the current language finds
    // their own without scrolling (each language is named in itself).
    ui.label(t!("settings-language"));
    ui.horizontal(|ui| {
        for lang in LanguageChoice::ALL {
            ui.radio_value(&mut d.settings.language, lang, lang.label());
        }
    });
    ui.add_space(6.0);
    let problem = d.decoys_problem();
    let l = ui.label(t!("settings-decoys"));
    ui.add(
        TextEdit::singleline(&mut d.decoys)
            .hint_text(t!("settings-decoys-hint"))
            .desired_width(120.0),
    )
    .labelled_by(l.id);
    if let Some(p) = problem {
        ui.colored_label(ui.visuals().error_fg_color, p);
    }
    ui.label(RichText::new(t!("settings-decoys-help")).weak());
    ui.add_space(6.0);
    ui.label(t!("settings-ip"));
    for c in IpChoice::ALL {
        ui.radio_value(&mut d.settings.ip, c, c.label());
    }
    ui.add_space(6.0);
    ui.label(t!("settings-allow"));
    let allow = &mut d.settings.allow;
    let current = allow.clone();
    let choices = [
        AllowChoice::Profile,
        AllowChoice::Source,
        AllowChoice::Explicit {
            address: String::new(),
        },
        AllowChoice::Url {
            url: "https://".to_owned(),
        },
    ];
    for c in choices {
        let selected = std::mem::discriminant(&current) == std::mem::discriminant(&c);
        if ui.radio(selected, c.label()).clicked() && !selected {
            *allow = c;
        }
    }
    match allow {
        AllowChoice::Explicit { address } => {
            let l = ui.label(t!("settings-fixed-address"));
            ui.add(TextEdit::singleline(address).hint_text("203.0.113.7"))
                .labelled_by(l.id);
        }
        AllowChoice::Url { url } => {
            let l = ui.label(t!("settings-address-service"));
            ui.add(TextEdit::singleline(url).hint_text("https://ifconfig.example/ip"))
                .labelled_by(l.id);
        }
        _ => {}
    }
    if let Some(p) = allow.problem() {
        ui.colored_label(ui.visuals().error_fg_color, p);
    }
    ui.add_space(6.0);
    let stun_problem = d.stun_problem();
    let l = ui.label(t!("settings-stun"));
    ui.add(
        TextEdit::singleline(&mut d.stun)
            .hint_text("stun.example.org:3478, stun2.example.net:3478")
            .desired_width(f32::INFINITY),
    )
    .labelled_by(l.id);
    if let Some(p) = &stun_problem {
        ui.colored_label(ui.visuals().error_fg_color, p);
    }
    ui.label(RichText::new(t!("settings-stun-help")).weak());
    ui.add_space(6.0);
    ui.checkbox(&mut d.settings.check_clock, t!("settings-check-clock"));
    ui.label(RichText::new(t!("settings-check-clock-help")).weak());
    ui.add_space(6.0);
    ui.label(t!("settings-theme"));
    ui.horizontal(|ui| {
        for theme in ThemeChoice::ALL {
            ui.radio_value(&mut d.settings.theme, theme, theme.label());
        }
    });
    ui.add_space(6.0);
    ui.label(RichText::new(t!("settings-where")).strong());
    ui.label(t!("settings-hosts-dir", dir = d.config_dir.as_str()));
    ui.label(t!("settings-keys", store = d.secrets.as_str()));
    d.decoys_problem().is_none() && d.settings.allow.problem().is_none() && stun_problem.is_none()
}

fn import(ui: &mut Ui, flow: &mut ImportFlow, cmds: &mut Vec<Command>) {
    ui.set_max_width(480.0);
    match &flow.stage {
        ImportStage::Passphrase { error } => {
            ui.heading(t!("import-encrypted-title"));
            ui.label(t!("import-encrypted-body", file = flow.source.as_str()));
            ui.label(RichText::new(t!("import-encrypted-after")).weak());
            ui.add_space(4.0);
            // Words read over the phone are easier to type when seen; the
            // choice lives in egui's memory for this dialog only.
            let show_id = ui.make_persistent_id("show-passphrase");
            let mut show = ui.data(|d| d.get_temp::<bool>(show_id).unwrap_or(false));
            let l = ui.label(t!("import-passphrase"));
            let r = ui
                .add(
                    TextEdit::singleline(&mut *flow.passphrase)
                        .password(!show)
                        .desired_width(f32::INFINITY),
                )
                .labelled_by(l.id);
            if ui
                .checkbox(&mut show, t!("import-show-passphrase"))
                .changed()
            {
                ui.data_mut(|d| d.insert_temp(show_id, show));
            }
            if let Some(e) = error {
                ui.colored_label(ui.visuals().error_fg_color, e);
            }
            let enter = r.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter));
            ui.horizontal(|ui| {
                if ui.button(t!("import-button")).clicked() || enter {
                    cmds.push(Command::SubmitPassphrase);
                }
                if ui.button(t!("button-cancel")).clicked() {
                    cmds.push(Command::CloseDialog);
                }
            });
        }
        ImportStage::Trust {
            profile_name,
            server_id,
            fingerprint,
        } => match fingerprint {
            Some(fp) => {
                ui.heading(t!("import-trust-title"));
                if postern_proto::seal::is_sealed(&flow.text) {
                    ui.label(t!("import-passphrase-right"));
                }
                ui.label(t!("import-trust-body", profile = profile_name.as_str()));
                ui.add_space(4.0);
                ui.label(RichText::new(fp).monospace().strong().size(15.0));
                ui.add_space(4.0);
                ui.label(t!("import-trust-compare"));
                ui.label(
                    RichText::new(t!("import-trust-server", server = server_id.as_str()))
                        .small()
                        .weak(),
                );
                ui.horizontal(|ui| {
                    if ui.button(t!("import-trust-yes")).clicked() {
                        cmds.push(Command::Trust(true));
                    }
                    if ui.button(t!("import-no")).clicked() {
                        cmds.push(Command::Trust(false));
                    }
                });
            }
            None => {
                ui.heading(t!("import-unsigned-title"));
                ui.colored_label(
                    ui.visuals().warn_fg_color,
                    t!("import-unsigned-body", profile = profile_name.as_str()),
                );
                ui.horizontal(|ui| {
                    if ui.button(t!("import-anyway")).clicked() {
                        cmds.push(Command::Trust(true));
                    }
                    if ui.button(t!("import-no")).clicked() {
                        cmds.push(Command::Trust(false));
                    }
                });
            }
        },
        ImportStage::Refused { reason } => {
            ui.heading(t!("import-refused-title"));
            ui.label(t!("import-refused-source", file = flow.source.as_str()));
            ui.add(
                egui::Label::new(RichText::new(reason).color(ui.visuals().error_fg_color)).wrap(),
            );
            ui.label(t!("import-nothing-changed"));
            if ui.button(t!("button-close")).clicked() {
                cmds.push(Command::CloseDialog);
            }
        }
    }
}
