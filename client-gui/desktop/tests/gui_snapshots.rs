//! Pictures of the main screens, rendered with wgpu (lavapipe works) and
//! compared with tests/snapshots/*.png. Behind the `snapshots` feature:
//!
//!   cargo test -p postern-desktop --features snapshots --test gui_snapshots
//!   UPDATE_SNAPSHOTS=1 cargo test ... (to write new pictures)
//!
//! Needs a Vulkan driver at run time (`mesa-vulkan-drivers libvulkan1`);
//! scripts/test.sh installs it and runs this as its own step. The
//! behaviour itself is tested without a GPU in gui_app.rs.

#![cfg(feature = "snapshots")]

mod gui_support;

use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use gui_support::*;
use postern_desktop::PosternApp;

fn snap_harness(app: PosternApp) -> Harness<'static, PosternApp> {
    styled_harness(app, egui::Theme::Light, 1.0)
}

/// The window at its default size in logical points, in `theme`, at
/// `scale` (1.5 = a 150 % display setting: the same layout, more pixels).
fn styled_harness(app: PosternApp, theme: egui::Theme, scale: f32) -> Harness<'static, PosternApp> {
    Harness::builder()
        .with_size(egui::vec2(760.0, 600.0))
        .with_pixels_per_point(scale)
        .with_os(egui::os::OperatingSystem::Nix)
        .with_theme(theme)
        .with_max_steps(16)
        .wgpu()
        .build_ui_state(|ui, app: &mut PosternApp| app.frame(ui), app)
}

/// The host list after an open (the countdown showing) in `theme` at
/// `scale`: every text must stay readable and nothing cut off in the light
/// and the dark theme, at 100 % and 150 % (issue #18). One harness per
/// test: kittest wants each test's pictures from one harness.
fn themed_host_list(theme: egui::Theme, scale: f32, name: &str) {
    let dir = temp_dir("snap-themes");
    add_lab_host(&dir);
    // The harness reports no system theme, so the app's own setting picks
    // it (Settings → Theme), as a user who chose one would see it.
    let fake = Fake::new(open_after(42));
    let mut a = app(&dir, fake.clone(), None);
    a.controller.state.settings.theme = match theme {
        egui::Theme::Light => postern_desktop::settings::ThemeChoice::Light,
        egui::Theme::Dark => postern_desktop::settings::ThemeChoice::Dark,
    };
    let mut h = styled_harness(a, theme, scale);
    knock_only(&mut h, "Lab");
    fake.go(4);
    wait_for(&mut h, "Open for you for 30 s");
    h.snapshot(name);
}

#[test]
fn host_list_light_100() {
    themed_host_list(egui::Theme::Light, 1.0, "host_list_light_100");
}

#[test]
fn host_list_light_150() {
    themed_host_list(egui::Theme::Light, 1.5, "host_list_light_150");
}

#[test]
fn host_list_dark_100() {
    themed_host_list(egui::Theme::Dark, 1.0, "host_list_dark_100");
}

#[test]
fn host_list_dark_150() {
    themed_host_list(egui::Theme::Dark, 1.5, "host_list_dark_150");
}

fn fixed_dir(mut app: PosternApp) -> PosternApp {
    app.controller.services.config_dir = "/home/ann/.config/postern".into();
    app
}

#[test]
fn empty_state() {
    let dir = temp_dir("snap-empty");
    let mut h = snap_harness(app(&dir, Fake::new(open_after(1)), None));
    h.run();
    h.snapshot("empty_state");
}

#[test]
fn host_list_knock_and_result() {
    let dir = temp_dir("snap-hosts");
    add_lab_host(&dir);
    let admin = admin(1);
    let path = dir.join("office.postern");
    std::fs::write(&path, signed_profile(&admin)).unwrap();
    let fake = Fake::new(open_after(42));
    let mut h = snap_harness(app(&dir, fake.clone(), Some(path)));
    h.get_by_label("Import profile…").click();
    h.run();
    h.snapshot("trust_prompt");
    h.get_by_label("Trust and import").click();
    h.run();
    h.get_by_label("Dismiss").click();
    h.run();
    h.snapshot("host_list");
    knock_only(&mut h, "Lab");
    wait_for(&mut h, "Sending packet 1 of 3");
    fake.go(1);
    wait_for(&mut h, "Sending packet 2 of 3");
    h.snapshot("knock_in_progress");
    fake.go(4);
    wait_for(&mut h, "Open after 42 ms");
    h.snapshot("knock_result");
}

#[test]
fn add_host_form_and_settings() {
    let dir = temp_dir("snap-forms");
    let mut h = snap_harness(fixed_dir(app(&dir, Fake::new(open_after(1)), None)));
    h.get_by_label("Add host…").click();
    h.run();
    type_into(&mut h, "Name", "Lab box");
    type_into(&mut h, "Server address", "192.0.2.7");
    type_into(&mut h, "Knock sequence", "7000,8000:udp,99999");
    h.snapshot("add_host_form");
    h.get_by_label("Cancel").click();
    h.run();
    h.get_by_label("Settings").click();
    h.run();
    h.snapshot("settings");
}

#[test]
fn refused_profile() {
    let dir = temp_dir("snap-refused");
    let path = dir.join("office.postern");
    std::fs::write(
        &path,
        signed_profile(&admin(1)).replace("198.18.0.1", "198.18.0.66"),
    )
    .unwrap();
    let mut h = snap_harness(app(&dir, Fake::new(open_after(1)), Some(path)));
    h.get_by_label("Import profile…").click();
    h.run();
    h.snapshot("refused_profile");
}
