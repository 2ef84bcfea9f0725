//! Drawing. These functions read the state, edit only the text the user
//! is typing into a dialog, and return [`Command`]s for everything else
//! (STYLE.md rule 9). Every control has a name AccessKit can read: the
//! per-host buttons say which host they act on ("Knock Office PC").

use super::commands::Command;
use super::dialogs;
use super::launch::{ConnectAction, connect_action};
use super::settings::ActivityEntry;
use super::state::{AppState, BannerKind, HostView, ago, utc_time};
use super::status::{CardStatus, Tone, duration_words, grant_seconds};
use crate::i18n::t;
use eframe::egui::{
    self, Align, Color32, Key, KeyboardShortcut, Layout, Modifiers, RichText, ScrollArea, Ui,
};
use postern_proto::profile::{MethodSpec, Profile};

const IMPORT_KEY: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::I);
/// "Open a file", where people expect it; the same as [`IMPORT_KEY`].
const OPEN_KEY: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::O);
const ADD_KEY: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::N);

/// The whole window.
pub fn root(ui: &mut Ui, state: &mut AppState) -> Vec<Command> {
    let mut cmds = Vec::new();
    let ctx = ui.ctx().clone();
    drops(&ctx, &mut cmds);
    if matches!(state.dialog, super::state::Dialog::None) {
        ctx.input_mut(|i| {
            if i.consume_shortcut(&IMPORT_KEY) || i.consume_shortcut(&OPEN_KEY) {
                cmds.push(Command::PickProfile);
            }
            if i.consume_shortcut(&ADD_KEY) {
                cmds.push(Command::AddHost);
            }
        });
    }
    egui::Panel::top("top").show(ui, |ui| top_bar(ui, state, &mut cmds));
    egui::Panel::bottom("activity")
        .resizable(true)
        .show(ui, |ui| activity(ui, state, &mut cmds));
    egui::CentralPanel::default().show(ui, |ui| {
        if state.hosts.is_empty() {
            empty_state(ui, &mut cmds);
        } else {
            ScrollArea::vertical()
                .auto_shrink([false, false])
                .show(ui, |ui| {
                    for h in &state.hosts {
                        host_card(ui, state, h, &mut cmds);
                        ui.add_space(6.0);
                    }
                });
        }
    });
    if ctx.input(|i| !i.raw.hovered_files.is_empty()) {
        drop_overlay(&ctx);
    }
    dialogs::show(&ctx, state, &mut cmds);
    cmds
}

/// A `.postern` file dropped on the window is imported.
fn drops(ctx: &egui::Context, cmds: &mut Vec<Command>) {
    let dropped = ctx.input(|i| i.raw.dropped_files.clone());
    for f in dropped {
        cmds.push(Command::ImportFile(f.path().to_path_buf()));
    }
}

fn drop_overlay(ctx: &egui::Context) {
    let painter = ctx.layer_painter(egui::LayerId::new(
        egui::Order::Foreground,
        egui::Id::unique("drop"),
    ));
    let rect = ctx.content_rect();
    painter.rect_filled(rect, 0.0, Color32::from_black_alpha(180));
    painter.text(
        rect.center(),
        egui::Align2::CENTER_CENTER,
        t!("drop-to-import"),
        egui::FontId::proportional(22.0),
        Color32::WHITE,
    );
}

fn top_bar(ui: &mut Ui, state: &AppState, cmds: &mut Vec<Command>) {
    ui.add_space(4.0);
    ui.horizontal(|ui| {
        ui.heading("Postern");
        ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
            if ui
                .button(t!("top-settings"))
                .on_hover_text(t!("top-settings-hover"))
                .clicked()
            {
                cmds.push(Command::OpenSettings);
            }
            if ui
                .button(t!("top-add-host"))
                .on_hover_text(t!(
                    "top-add-host-hover",
                    shortcut = ui.ctx().format_shortcut(&ADD_KEY)
                ))
                .clicked()
            {
                cmds.push(Command::AddHost);
            }
            if ui
                .button(t!("top-import"))
                .on_hover_text(t!(
                    "top-import-hover",
                    shortcut = ui.ctx().format_shortcut(&IMPORT_KEY)
                ))
                .clicked()
            {
                cmds.push(Command::PickProfile);
            }
        });
    });
    if let Some(b) = &state.banner {
        ui.horizontal(|ui| {
            let color = match b.kind {
                BannerKind::Info => ui.visuals().text_color(),
                BannerKind::Error => ui.visuals().error_fg_color,
            };
            if ui.button(t!("banner-dismiss")).clicked() {
                cmds.push(Command::DismissBanner);
            }
            if b.undo && ui.button(t!("banner-undo")).clicked() {
                cmds.push(Command::UndoRemove);
            }
            ui.add(egui::Label::new(RichText::new(&b.text).color(color)).wrap());
        });
    }
    ui.add_space(4.0);
}

fn empty_state(ui: &mut Ui, cmds: &mut Vec<Command>) {
    ui.vertical_centered(|ui| {
        ui.add_space(40.0);
        ui.heading(t!("empty-title"));
        ui.add_space(8.0);
        ui.label(t!("empty-intro"));
        ui.add_space(12.0);
        if ui.button(t!("empty-import")).clicked() {
            cmds.push(Command::PickProfile);
        }
        ui.label(t!("empty-import-help"));
        ui.add_space(12.0);
        if ui.button(t!("empty-add")).clicked() {
            cmds.push(Command::AddHost);
        }
        ui.label(t!("empty-add-help"));
    });
}

/// One server: its name, the door's state in words and colour, one large
/// button that does what the host is for, the rest in a menu, and the
/// technical facts behind "Details" (issue #18).
fn host_card(ui: &mut Ui, state: &AppState, h: &HostView, cmds: &mut Vec<Command>) {
    let p = &h.profile;
    let name = p.name.as_str();
    let run = state.runs.get(name);
    let last = state.last_result(name);
    let status = CardStatus::of(p, run.map(|r| r.phase), last, state.now);
    if status.is_open_now() {
        // The countdown ticks once a second while it runs; otherwise the
        // window repaints only on input (idle costs nothing).
        ui.ctx()
            .request_repaint_after(std::time::Duration::from_secs(1));
    }
    egui::Frame::group(ui.style()).show(ui, |ui| {
        ui.set_width(ui.available_width());
        ui.label(RichText::new(name).strong().size(18.0));
        let color = tone_color(ui, status.tone());
        ui.horizontal(|ui| {
            if let Some(run) = run {
                ui.add(
                    egui::ProgressBar::new(run.phase.fraction())
                        .desired_width(160.0)
                        .animate(false),
                );
            }
            let said = ui
                .add(egui::Label::new(RichText::new(status.text()).color(color).size(15.0)).wrap());
            // A live region: screen readers announce each change of the
            // door's state (opening, open, failed) without the user moving
            // focus to the card.
            ui.ctx().accesskit_node_builder(said.id, |node| {
                node.set_live(egui::accesskit::Live::Polite);
            });
        });
        if let Some(hint) = status.suggestion() {
            ui.add(egui::Label::new(hint).wrap());
        }
        if state.keeping_open.contains(name) {
            ui.label(t!("card-keeping-open"));
        }
        ui.add_space(4.0);
        ui.horizontal(|ui| {
            if run.is_some() {
                if ui
                    .add(primary_button(t!("card-cancel")))
                    .accessible_name(t!("card-cancel-name", host = name))
                    .clicked()
                {
                    cmds.push(Command::Cancel { host: name.into() });
                }
                return;
            }
            // Once per card per frame: it clones the host name.
            let action = connect_action(p);
            primary_action(ui, p, action.as_ref(), &status, cmds);
            let keep_open = state.settings.keep_open.contains(name);
            more_menu(ui, p, action.is_some(), keep_open, cmds);
        });
        details(ui, h, last, state.now);
    });
}

/// "Connect" when the host has a program to start (knock, verify, start
/// it — or just start it while the door is still open), else "Open".
fn primary_action(
    ui: &mut Ui,
    p: &Profile,
    action: Option<&ConnectAction>,
    status: &CardStatus,
    cmds: &mut Vec<Command>,
) {
    let name = p.name.as_str();
    match action {
        Some(a) => {
            let hover = if status.is_open_now() {
                t!("card-connect-hover-open", program = a.label())
            } else {
                t!("card-connect-hover-closed", program = a.label())
            };
            if ui
                .add(primary_button(t!("card-connect")))
                .accessible_name(t!("card-connect-name", host = name))
                .on_hover_text(hover)
                .clicked()
            {
                cmds.push(if status.is_open_now() {
                    Command::Connect { host: name.into() }
                } else {
                    Command::Knock {
                        host: name.into(),
                        connect: true,
                    }
                });
            }
        }
        None => {
            if ui
                .add(primary_button(t!("card-open")))
                .accessible_name(t!("card-open-name", host = name))
                .on_hover_text(t!("card-open-hover"))
                .clicked()
            {
                cmds.push(Command::Knock {
                    host: name.into(),
                    connect: false,
                });
            }
        }
    }
}

fn primary_button(text: String) -> egui::Button<'static> {
    egui::Button::new(RichText::new(text).size(16.0).strong()).min_size(egui::vec2(130.0, 34.0))
}

/// Everything else a host can do, out of the way of the one action.
fn more_menu(
    ui: &mut Ui,
    p: &Profile,
    has_launcher: bool,
    keep_open: bool,
    cmds: &mut Vec<Command>,
) {
    let name = p.name.as_str();
    ui.menu_button(t!("card-more"), |ui| {
        if has_launcher
            && ui
                .button(t!("card-knock-only"))
                .accessible_name(t!("card-knock-only-name", host = name))
                .on_hover_text(t!("card-knock-only-hover"))
                .clicked()
        {
            cmds.push(Command::Knock {
                host: name.into(),
                connect: false,
            });
        }
        if has_launcher {
            let mut on = keep_open;
            if ui
                .checkbox(&mut on, t!("card-keep-open"))
                .accessible_name(t!("card-keep-open-name", host = name))
                .on_hover_text(t!("card-keep-open-hover"))
                .changed()
            {
                cmds.push(Command::ToggleKeepOpen(name.into()));
            }
        }
        if super::form::HostForm::can_edit(p)
            && ui
                .button(t!("card-edit"))
                .accessible_name(t!("card-edit-name", host = name))
                .clicked()
        {
            cmds.push(Command::EditHost(name.into()));
        }
        if ui
            .button(t!("card-remove"))
            .accessible_name(t!("card-remove-name", host = name))
            .clicked()
        {
            cmds.push(Command::AskRemove(name.into()));
        }
    })
    .response
    .accessible_name(t!("card-more-name", host = name));
}

/// The technical facts, for the curious and for the administrator on the
/// phone: address, ports, method, binding, signer, the last result as the
/// log has it.
fn details(ui: &mut Ui, h: &HostView, last: Option<&ActivityEntry>, now: u64) {
    let p = &h.profile;
    egui::CollapsingHeader::new(t!("details"))
        .id_salt(("details", p.name.as_str()))
        .show(ui, |ui| {
            let doors: Vec<String> = p.door_list().iter().map(ToString::to_string).collect();
            ui.label(t!("details-server", host = p.host.as_str()));
            ui.label(t!(
                "details-ports",
                ports = doors.join(", "),
                duration = duration_words(grant_seconds(p))
            ));
            ui.label(t!("details-knock", method = method_words(&p.method)));
            // Sequences and SYN tokens cannot name an address (protocol.md §7.1).
            if !matches!(p.method, MethodSpec::Spa { .. }) {
                ui.label(t!("details-opens-for-any"));
            }
            match &h.signer {
                Some(fp) => ui.label(t!("details-signed", fingerprint = fp.as_str())),
                None => ui.label(t!("details-unsigned")),
            };
            if let Some(e) = last {
                ui.label(t!(
                    "details-last",
                    result = e.outcome.message(),
                    ago = ago(now, e.at)
                ));
            }
        });
}

/// The knock method in words.
fn method_words(m: &MethodSpec) -> String {
    match m {
        MethodSpec::Spa { .. } => t!("method-spa"),
        MethodSpec::StaticSequence { .. } => t!("method-static-sequence"),
        MethodSpec::DynamicSequence { .. } => t!("method-dynamic-sequence"),
        MethodSpec::SynToken => t!("method-syn-token"),
        MethodSpec::SynTokenKeyed { .. } => t!("method-syn-token-keyed"),
        MethodSpec::Fwknop { .. } => t!("method-fwknop"),
    }
}

fn tone_color(ui: &Ui, tone: Tone) -> Color32 {
    match tone {
        Tone::Good => Color32::from_rgb(40, 160, 70),
        Tone::Warning => ui.visuals().warn_fg_color,
        Tone::Bad => ui.visuals().error_fg_color,
        Tone::Busy => ui.visuals().text_color(),
        Tone::Neutral => ui.visuals().weak_text_color(),
    }
}

fn activity(ui: &mut Ui, state: &AppState, cmds: &mut Vec<Command>) {
    egui::CollapsingHeader::new(t!("activity"))
        // The same header in every language keeps its open/closed state.
        .id_salt("activity")
        .default_open(true)
        .show(ui, |ui| {
            if state.log.is_empty() {
                ui.label(RichText::new(t!("activity-empty")).weak());
                return;
            }
            if ui
                .button(t!("activity-copy"))
                .on_hover_text(t!("activity-copy-hover"))
                .clicked()
            {
                cmds.push(Command::CopyLog);
            }
            ScrollArea::vertical()
                .max_height(140.0)
                .auto_shrink([false, true])
                .show(ui, |ui| {
                    for e in state.log.iter().rev().take(50) {
                        ui.label(
                            RichText::new(format!(
                                "{}  {}  {}",
                                utc_time(e.at),
                                e.host,
                                e.outcome.message()
                            ))
                            .monospace(),
                        );
                    }
                });
        });
}
