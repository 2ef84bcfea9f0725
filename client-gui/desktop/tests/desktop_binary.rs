//! The `postern-desktop` program itself: what it says when it cannot open
//! a window, and that it is the one client binary with the GUI stack.

use std::process::Command;

const DESKTOP: &str = env!("CARGO_BIN_EXE_postern-desktop");

/// No display (a server, an SSH session): a clean exit 2 that says why and
/// points at the command line, which works without one.
#[test]
fn without_a_display_it_says_so_and_points_at_the_commands() {
    let dir =
        std::env::temp_dir().join(format!("postern-desktop-nodisplay-{}", std::process::id()));
    let out = Command::new(DESKTOP)
        .env("POSTERN_CONFIG_DIR", dir.join("config"))
        .env("POSTERN_SECRETS", "file")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("WAYLAND_SOCKET")
        .output()
        .expect("running postern-desktop");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert!(err.contains("cannot open the window"), "stderr: {err}");
    assert!(err.contains("postern --help"), "stderr: {err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The markers the command line's test (client-gui/cli/tests/
/// cli_binaries.rs) must not find in `postern` are found here, in the
/// binary that does link the GUI stack: they are spelled right.
#[cfg(target_os = "linux")]
#[test]
fn the_gui_stack_is_linked_here() {
    let bin = std::fs::read(DESKTOP).expect("reading postern-desktop");
    for marker in [&b"/winit-"[..], b"/egui-0.", b"/wgpu-core-", b"/eframe-0."] {
        assert!(
            bin.windows(marker.len()).any(|w| w == marker),
            "no {:?} in postern-desktop",
            String::from_utf8_lossy(marker)
        );
    }
}
