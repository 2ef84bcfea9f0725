//! The two client binaries: `postern` (command line, no GUI code linked)
//! and `postern-desktop` (the window), and the hand-over between them.

use std::path::Path;
use std::process::{Command, Output};

const POSTERN: &str = env!("CARGO_BIN_EXE_postern");
const DESKTOP: &str = env!("CARGO_BIN_EXE_postern-desktop");

fn run_without_display(program: &Path, config: &Path) -> Output {
    Command::new(program)
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("WAYLAND_SOCKET")
        .env("POSTERN_CONFIG_DIR", config)
        .env("POSTERN_SECRETS", "file")
        .output()
        .expect("running the binary")
}

fn temp_dir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("postern-bins-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

#[test]
fn postern_without_a_command_hands_over_to_the_desktop_app() {
    let dir = temp_dir("handover");
    let out = run_without_display(Path::new(POSTERN), &dir.join("config"));
    let err = String::from_utf8_lossy(&out.stderr);
    // Only postern-desktop links the windowing code, so this message proves
    // the hand-over happened (and that no display is a clean exit 2).
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert!(err.contains("cannot open the window"), "stderr: {err}");
    assert!(err.contains("postern --help"), "stderr: {err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_missing_desktop_app_is_named_and_the_commands_still_work() {
    let dir = temp_dir("alone");
    let alone = dir.join(format!("postern{}", std::env::consts::EXE_SUFFIX));
    std::fs::copy(POSTERN, &alone).expect("copying postern");
    let out = run_without_display(&alone, &dir.join("config"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert!(
        err.contains("the desktop app is not installed") && err.contains("postern-desktop"),
        "stderr: {err}"
    );
    let list = Command::new(&alone)
        .arg("list")
        .env("POSTERN_CONFIG_DIR", dir.join("config"))
        .env("POSTERN_SECRETS", "file")
        .output()
        .expect("running postern list");
    assert!(list.status.success(), "{list:?}");
    assert!(String::from_utf8_lossy(&list.stdout).contains("no saved hosts"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The command line's start-up time is most of `postern knock`'s knock →
/// open latency (docs/benchmarks.md); linking the GUI stack into it tripled
/// its size and relocations. Guard against it creeping back.
#[test]
fn the_command_line_links_no_gui_code() {
    let cli = std::fs::read(POSTERN).expect("reading postern");
    let desktop = std::fs::read(DESKTOP).expect("reading postern-desktop");
    let has = |bin: &[u8], needle: &[u8]| bin.windows(needle.len()).any(|w| w == needle);
    // Source paths of the GUI crates: they are in a binary's read-only data
    // (panic locations) exactly when those crates' code is linked in, unlike
    // crate names, which the symbol table lists either way.
    for marker in [&b"/winit-"[..], b"/egui-0.", b"/wgpu-core-", b"/eframe-0."] {
        assert!(
            has(&desktop, marker),
            "marker {:?} should be in postern-desktop (else this test proves nothing)",
            String::from_utf8_lossy(marker)
        );
        assert!(
            !has(&cli, marker),
            "postern links GUI code ({:?} found)",
            String::from_utf8_lossy(marker)
        );
    }
}
