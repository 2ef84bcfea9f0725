//! Files the window was asked to open — `postern-desktop FILE` (a
//! double-clicked `.postern` profile) and files later launches handed over
//! ([`crate::single_instance`]) — go through the same import flow as the
//! Import button and a dropped file, one at a time: the next starts when
//! no dialog is open, so a trust question is never replaced by another.

use crate::commands::{Command, Controller, Effect};
use crate::single_instance::Listener;
use crate::state::Dialog;
use eframe::egui;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Default)]
pub struct OpenQueue {
    pending: VecDeque<PathBuf>,
    listener: Option<Listener>,
}

impl OpenQueue {
    pub fn push(&mut self, paths: impl IntoIterator<Item = PathBuf>) {
        self.pending.extend(paths);
    }

    /// Keeps the window's end of the single-instance channel (and with it
    /// the instance file) for as long as the window lives.
    pub fn set_listener(&mut self, listener: Listener) {
        self.listener = Some(listener);
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Once per frame: take what later launches sent (bringing the window
    /// to the front for them), then start the next import if no dialog is
    /// open.
    pub fn poll(&mut self, ctx: &egui::Context, controller: &mut Controller) -> Vec<Effect> {
        if let Some(l) = &self.listener {
            if !l.has_waker() {
                let c = ctx.clone();
                l.set_waker(Arc::new(move || c.request_repaint()));
            }
            let handed = l.received();
            if !handed.is_empty() {
                ctx.send_viewport_cmd(egui::ViewportCommand::Focus);
                self.pending.extend(handed);
            }
        }
        if !matches!(controller.state.dialog, Dialog::None) {
            return Vec::new();
        }
        match self.pending.pop_front() {
            Some(path) => controller.apply(Command::ImportFile(path)),
            None => Vec::new(),
        }
    }
}
