//! Drawing. These functions read the state, edit only the text the user
//! is typing into a dialog, and return [`Command`]s for everything else
//! (STYLE.md rule 9). Every control has a name AccessKit can read: the
//! per-host buttons say which host they act on ("Knock Office PC").

use super::commands::Command;
use super::dialogs;
use super::launch::connect_action;
use super::settings::Outcome;
use super::state::{AppState, BannerKind, HostView, ago, utc_time};
use eframe::egui::{
    self, Align, Color32, Key, KeyboardShortcut, Layout, Modifiers, RichText, ScrollArea, Ui,
};
use postern_proto::profile::MethodSpec;

const IMPORT_KEY: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::O);
const ADD_KEY: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::N);

/// The whole window.
pub fn root(ui: &mut Ui, state: &mut AppState) -> Vec<Command> {
    let mut cmds = Vec::new();
    let ctx = ui.ctx().clone();
    drops(&ctx, &mut cmds);
    if matches!(state.dialog, super::state::Dialog::None) {
        ctx.input_mut(|i| {
            if i.consume_shortcut(&IMPORT_KEY) {
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
        "Drop the profile file to import it",
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
                .button("Settings")
                .on_hover_text("Decoys, address family, theme, where files live")
                .clicked()
            {
                cmds.push(Command::OpenSettings);
            }
            if ui
                .button("Add host…")
                .on_hover_text(format!(
                    "Type in a server by hand ({})",
                    ui.ctx().format_shortcut(&ADD_KEY)
                ))
                .clicked()
            {
                cmds.push(Command::AddHost);
            }
            if ui
                .button("Import profile…")
                .on_hover_text(format!(
                    "Open a .postern file from your administrator ({}), or drop it on the window",
                    ui.ctx().format_shortcut(&IMPORT_KEY)
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
            if ui.button("Dismiss").clicked() {
                cmds.push(Command::DismissBanner);
            }
            ui.add(egui::Label::new(RichText::new(&b.text).color(color)).wrap());
        });
    }
    ui.add_space(4.0);
}

fn empty_state(ui: &mut Ui, cmds: &mut Vec<Command>) {
    ui.vertical_centered(|ui| {
        ui.add_space(40.0);
        ui.heading("No servers yet");
        ui.add_space(8.0);
        ui.label(
            "Postern opens a hidden door on a server (for Remote Desktop, SSH or a web page) \
             by knocking on it the right way. Add a server in one of two ways:",
        );
        ui.add_space(12.0);
        if ui.button("Import a profile file…").clicked() {
            cmds.push(Command::PickProfile);
        }
        ui.label("Open the .postern file your administrator sent you, or drop it on this window.");
        ui.add_space(12.0);
        if ui.button("Add host by hand…").clicked() {
            cmds.push(Command::AddHost);
        }
        ui.label("Type in the address and the knock sequence or key you were given.");
    });
}

fn badge(ui: &mut Ui, text: &str) {
    let fill = ui.visuals().selection.bg_fill;
    ui.label(
        RichText::new(format!(" {text} "))
            .small()
            .color(Color32::WHITE)
            .background_color(fill),
    );
}

fn host_card(ui: &mut Ui, state: &AppState, h: &HostView, cmds: &mut Vec<Command>) {
    let p = &h.profile;
    let name = p.name.as_str();
    egui::Frame::group(ui.style()).show(ui, |ui| {
        ui.set_width(ui.available_width());
        ui.horizontal(|ui| {
            ui.label(RichText::new(name).strong().size(17.0));
            badge(ui, p.method.label());
        });
        let doors: Vec<String> = p.door_list().iter().map(ToString::to_string).collect();
        ui.label(format!("{}  ·  opens {}", p.host, doors.join(", ")));
        // Sequences and SYN tokens cannot name an address (protocol.md §7.1).
        if !matches!(p.method, MethodSpec::Spa { .. }) {
            ui.label(RichText::new("Opens for whichever address knocks").small());
        }
        match &h.signer {
            Some(fp) => {
                ui.label(RichText::new(format!("Signed by administrator key {fp}")).small())
            }
            None => ui.label(
                RichText::new("Not signed (added by hand or from an unsigned file)").small(),
            ),
        };
        let action = connect_action(p);
        if let Some(run) = state.runs.get(name) {
            ui.horizontal(|ui| {
                ui.add(
                    egui::ProgressBar::new(run.phase.fraction())
                        .desired_width(220.0)
                        .animate(false),
                );
                ui.label(run.phase.message());
                if ui
                    .button("Cancel")
                    .accessible_name(format!("Cancel knock {name}"))
                    .clicked()
                {
                    cmds.push(Command::Cancel { host: name.into() });
                }
            });
            return;
        }
        let last = state.last_result(name);
        match last {
            Some(e) => {
                let color = match e.outcome {
                    Outcome::Open { .. } | Outcome::Sent { .. } => Color32::from_rgb(40, 160, 70),
                    Outcome::AnsweredBeforeKnock => ui.visuals().warn_fg_color,
                    Outcome::Cancelled => ui.visuals().weak_text_color(),
                    _ => ui.visuals().error_fg_color,
                };
                ui.add(
                    egui::Label::new(
                        RichText::new(format!(
                            "{}  ·  {}",
                            e.outcome.message(),
                            ago(state.now, e.at)
                        ))
                        .color(color),
                    )
                    .wrap(),
                );
            }
            None => {
                ui.label(RichText::new("Not knocked yet").weak());
            }
        }
        ui.horizontal(|ui| {
            if ui
                .button("Knock")
                .accessible_name(format!("Knock {name}"))
                .on_hover_text("Send the knock and check that the port opened")
                .clicked()
            {
                cmds.push(Command::Knock {
                    host: name.into(),
                    connect: false,
                });
            }
            if let Some(a) = &action {
                if ui
                    .button("Knock & connect")
                    .accessible_name(format!("Knock & connect {name}"))
                    .on_hover_text(format!(
                        "Knock, then open the {} when the port opens",
                        a.label()
                    ))
                    .clicked()
                {
                    cmds.push(Command::Knock {
                        host: name.into(),
                        connect: true,
                    });
                }
                if last.is_some_and(|e| e.outcome.can_connect())
                    && ui
                        .button(format!("Connect ({})", a.label()))
                        .accessible_name(format!("Connect {name}"))
                        .clicked()
                {
                    cmds.push(Command::Connect { host: name.into() });
                }
            }
            ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
                if ui
                    .button("Remove")
                    .accessible_name(format!("Remove {name}"))
                    .clicked()
                {
                    cmds.push(Command::AskRemove(name.into()));
                }
                if super::form::HostForm::can_edit(p)
                    && ui
                        .button("Edit")
                        .accessible_name(format!("Edit {name}"))
                        .clicked()
                {
                    cmds.push(Command::EditHost(name.into()));
                }
            });
        });
    });
}

fn activity(ui: &mut Ui, state: &AppState, cmds: &mut Vec<Command>) {
    egui::CollapsingHeader::new("Activity")
        .default_open(true)
        .show(ui, |ui| {
            if state.log.is_empty() {
                ui.label(RichText::new("No knocks yet.").weak());
                return;
            }
            if ui
                .button("Copy log")
                .on_hover_text("Copy the whole log, e.g. to send it to your administrator")
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
