//! The modal dialogs: add/edit host, settings, import (passphrase, trust,
//! refusal) and "remove?". Like `ui.rs`, they edit only the text being
//! typed and return [`Command`]s for the rest. Escape closes any of them.

use super::commands::Command;
use super::form::{ConnectChoice, FormErrors, FormMethod, HostForm};
use super::settings::{AllowChoice, IpChoice, ThemeChoice};
use super::state::{AppState, Dialog, ImportFlow, ImportStage, SettingsDraft};
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
            ui.heading(format!("Remove {name}?"));
            ui.label("Its saved settings and its key are removed from this computer.");
            ui.horizontal(|ui| {
                if ui.button("Remove").clicked() {
                    cmds.push(Command::Remove(name.clone()));
                }
                if ui.button("Keep").clicked() {
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
        if ui.add_enabled(enabled, egui::Button::new("Save")).clicked() {
            cmds.push(save);
        }
        if ui.button("Cancel").clicked() {
            cmds.push(Command::CloseDialog);
        }
    });
}

/// A labelled text field; the label is its accessible name. The error
/// shows under it once the user has typed something.
fn field(ui: &mut Ui, label: &str, value: &mut String, hint: &str, error: Option<&String>) {
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
        "Edit host"
    } else {
        "Add host by hand"
    });
    ui.add_space(6.0);
    field(ui, "Name", &mut f.name, "Office PC", e.name.as_ref());
    field(
        ui,
        "Server address",
        &mut f.address,
        "office.example.com or 203.0.113.7",
        e.address.as_ref(),
    );
    ui.label("How to knock");
    ui.radio_value(
        &mut f.method,
        FormMethod::Sequence,
        "Knock sequence (knockd)",
    );
    ui.radio_value(
        &mut f.method,
        FormMethod::Spa,
        "Single packet (SPA) with a key",
    );
    ui.radio_value(&mut f.method, FormMethod::Fwknop, "fwknop (fwknopd server)");
    ui.add_space(4.0);
    match f.method {
        FormMethod::Sequence => {
            field(
                ui,
                "Knock sequence",
                &mut f.sequence,
                "7000,8000:udp,9000",
                e.sequence.as_ref(),
            );
            field(
                ui,
                "Pause between knocks (ms)",
                &mut f.delay_ms,
                "0",
                e.delay_ms.as_ref(),
            );
        }
        FormMethod::Spa => {
            field(
                ui,
                "User name",
                &mut f.spa_user,
                "alice",
                e.spa_user.as_ref(),
            );
            let l = ui.label(if f.editing.is_some() {
                "Key (leave empty to keep the saved key)"
            } else {
                "Key (paste it)"
            });
            ui.add(
                TextEdit::singleline(&mut *f.spa_key)
                    .password(true)
                    .hint_text("44 characters from your administrator")
                    .desired_width(f32::INFINITY),
            )
            .labelled_by(l.id);
            if let Some(err) = e.spa_key.as_ref().filter(|_| !f.spa_key.is_empty()) {
                ui.colored_label(ui.visuals().error_fg_color, err);
            }
            field(
                ui,
                "SPA port",
                &mut f.spa_port,
                "62201",
                e.spa_port.as_ref(),
            );
            field(
                ui,
                "Server id",
                &mut f.spa_server,
                "32 hex digits",
                e.spa_server.as_ref(),
            );
        }
        FormMethod::Fwknop => fwknop_fields(ui, f, &e),
    }
    field(
        ui,
        "Port to open",
        &mut f.door_port,
        "3389 for Remote Desktop, 22 for SSH",
        e.door_port.as_ref(),
    );
    ui.checkbox(&mut f.door_udp, "The port is UDP (not TCP)");
    ui.add_space(4.0);
    ui.label("After the port opens, start");
    for c in ConnectChoice::ALL {
        ui.radio_value(&mut f.connect, c, c.label());
    }
    match f.connect {
        ConnectChoice::Rdp | ConnectChoice::Ssh => field(
            ui,
            "User name to connect as (optional)",
            &mut f.connect_user,
            "",
            e.connect.as_ref(),
        ),
        ConnectChoice::Url => field(
            ui,
            "Web address",
            &mut f.connect_url,
            "https://intranet.example/",
            e.connect.as_ref(),
        ),
        ConnectChoice::Nothing => {}
    }
    let missing = missing_fields(&e, f);
    if !missing.is_empty() {
        ui.label(RichText::new(format!("To save, fill in: {}", missing.join(", "))).weak());
    }
    e.is_empty()
}

/// The fwknop method's fields: what `fwknop --key-gen` printed, and the
/// user and port fwknopd expects.
fn fwknop_fields(ui: &mut Ui, f: &mut HostForm, e: &FormErrors) {
    field(
        ui,
        "User name (fwknop -U)",
        &mut f.spa_user,
        "alice",
        e.spa_user.as_ref(),
    );
    let keep = if f.editing.is_some() {
        " (leave both empty to keep the saved keys)"
    } else {
        ""
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
                .hint_text("as fwknop --key-gen printed it")
                .desired_width(f32::INFINITY),
        )
        .labelled_by(l.id);
        if let Some(err) = err.filter(|_| !text.is_empty()) {
            ui.colored_label(ui.visuals().error_fg_color, err);
        }
    }
    ui.checkbox(
        &mut f.fwknop_sha512,
        "HMAC_DIGEST_TYPE is SHA512 (not SHA256)",
    );
    field(
        ui,
        "fwknopd port",
        &mut f.spa_port,
        "62201",
        e.spa_port.as_ref(),
    );
}

/// Required fields that are still empty (their errors are not shown yet).
fn missing_fields(e: &FormErrors, f: &HostForm) -> Vec<&'static str> {
    let mut m = Vec::new();
    let empty = |s: &str| s.trim().is_empty();
    let checks = [
        (e.name.is_some() && empty(&f.name), "Name"),
        (e.address.is_some() && empty(&f.address), "Server address"),
        (e.sequence.is_some() && empty(&f.sequence), "Knock sequence"),
        (e.spa_user.is_some() && empty(&f.spa_user), "User name"),
        (e.spa_key.is_some() && empty(&f.spa_key), "Key"),
        (
            e.fwknop_hmac_key.is_some() && empty(&f.fwknop_hmac_key),
            "HMAC key",
        ),
        (e.spa_server.is_some() && empty(&f.spa_server), "Server id"),
        (e.door_port.is_some() && empty(&f.door_port), "Port to open"),
        (e.connect.is_some() && empty(&f.connect_url), "Web address"),
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
    ui.heading("Settings");
    ui.add_space(6.0);
    let problem = d.decoys_problem().map(str::to_owned);
    let l = ui.label("Decoy packets per knock");
    ui.add(
        TextEdit::singleline(&mut d.decoys)
            .hint_text("empty: as each profile says")
            .desired_width(120.0),
    )
    .labelled_by(l.id);
    if let Some(p) = problem {
        ui.colored_label(ui.visuals().error_fg_color, p);
    }
    ui.label(
        RichText::new("Decoys are random packets that hide the real knock from onlookers.").weak(),
    );
    ui.add_space(6.0);
    ui.label("Address family");
    for c in IpChoice::ALL {
        ui.radio_value(&mut d.settings.ip, c, c.label());
    }
    ui.add_space(6.0);
    ui.label("Address the server should let in (single-packet hosts only)");
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
            let l = ui.label("Fixed address");
            ui.add(TextEdit::singleline(address).hint_text("203.0.113.7"))
                .labelled_by(l.id);
        }
        AllowChoice::Url { url } => {
            let l = ui.label("Address service");
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
    let l = ui.label("STUN servers");
    ui.add(
        TextEdit::singleline(&mut d.stun)
            .hint_text("stun.example.org:3478, stun2.example.net:3478")
            .desired_width(f32::INFINITY),
    )
    .labelled_by(l.id);
    if let Some(p) = &stun_problem {
        ui.colored_label(ui.visuals().error_fg_color, p);
    }
    ui.label(
        RichText::new(
            "They tell this computer its public address when it is behind a home or office \
             router, for hosts whose profile names none. Separate several with commas.",
        )
        .weak(),
    );
    ui.add_space(6.0);
    ui.label("Theme");
    ui.horizontal(|ui| {
        for t in ThemeChoice::ALL {
            ui.radio_value(&mut d.settings.theme, t, t.label());
        }
    });
    ui.add_space(6.0);
    ui.label(RichText::new("Where things are kept").strong());
    ui.label(format!("Hosts and settings: {}", d.config_dir));
    ui.label(format!("Keys: {}", d.secrets));
    d.decoys_problem().is_none() && d.settings.allow.problem().is_none() && stun_problem.is_none()
}

fn import(ui: &mut Ui, flow: &mut ImportFlow, cmds: &mut Vec<Command>) {
    ui.set_max_width(480.0);
    match &flow.stage {
        ImportStage::Passphrase { error } => {
            ui.heading("Encrypted profile");
            ui.label(format!(
                "{} is protected with a passphrase. Enter the passphrase your administrator \
                 gave you (separately from the file).",
                flow.source
            ));
            let l = ui.label("Passphrase");
            let r = ui
                .add(
                    TextEdit::singleline(&mut *flow.passphrase)
                        .password(true)
                        .desired_width(f32::INFINITY),
                )
                .labelled_by(l.id);
            if let Some(e) = error {
                ui.colored_label(ui.visuals().error_fg_color, e);
            }
            let enter = r.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter));
            ui.horizontal(|ui| {
                if ui.button("Import").clicked() || enter {
                    cmds.push(Command::SubmitPassphrase);
                }
                if ui.button("Cancel").clicked() {
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
                ui.heading("Trust this administrator?");
                ui.label(format!(
                    "\"{profile_name}\" is signed by an administrator key this computer has not \
                     seen before. Its fingerprint is:"
                ));
                ui.add_space(4.0);
                ui.label(RichText::new(fp).monospace().strong().size(15.0));
                ui.add_space(4.0);
                ui.label(
                    "Compare it with the fingerprint your administrator gave you (by phone or \
                     in person). Only if they match, trust it. Later profiles for this server \
                     must be signed by the same key.",
                );
                ui.label(RichText::new(format!("Server {server_id}")).small().weak());
                ui.horizontal(|ui| {
                    if ui.button("Trust and import").clicked() {
                        cmds.push(Command::Trust(true));
                    }
                    if ui.button("Don't import").clicked() {
                        cmds.push(Command::Trust(false));
                    }
                });
            }
            None => {
                ui.heading("This profile is not signed");
                ui.colored_label(
                    ui.visuals().warn_fg_color,
                    format!(
                        "Anyone could have written \"{profile_name}\". Import it only if you \
                         know exactly where it came from."
                    ),
                );
                ui.horizontal(|ui| {
                    if ui.button("Import anyway").clicked() {
                        cmds.push(Command::Trust(true));
                    }
                    if ui.button("Don't import").clicked() {
                        cmds.push(Command::Trust(false));
                    }
                });
            }
        },
        ImportStage::Refused { reason } => {
            ui.heading("Profile refused");
            ui.label(format!("{}:", flow.source));
            ui.add(
                egui::Label::new(RichText::new(reason).color(ui.visuals().error_fg_color)).wrap(),
            );
            ui.label("Nothing was changed.");
            if ui.button("Close").clicked() {
                cmds.push(Command::CloseDialog);
            }
        }
    }
}
