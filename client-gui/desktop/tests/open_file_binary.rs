//! The `postern-desktop FILE` program while a Postern window is open: it
//! hands the file over and exits at once — it needs no display for that,
//! which is how this runs without one.

use postern_desktop::single_instance;
use std::process::Command;
use std::time::{Duration, Instant};

const DESKTOP: &str = env!("CARGO_BIN_EXE_postern-desktop");

#[test]
fn a_second_launch_hands_the_file_to_the_open_window_and_exits() {
    let dir = std::env::temp_dir().join(format!("postern-desktop-second-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let config = dir.join("config");
    // The open window's end, as run_gui sets it up.
    let listener = single_instance::listen(&config).expect("listen");
    let out = Command::new(DESKTOP)
        .arg("office.postern")
        .current_dir(&dir)
        .env("POSTERN_CONFIG_DIR", &config)
        .env("POSTERN_SECRETS", "file")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("WAYLAND_SOCKET")
        .output()
        .expect("running postern-desktop");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr: {err}");
    // The relative name arrives absolute: the window runs elsewhere.
    let start = Instant::now();
    let mut got = Vec::new();
    while got.is_empty() && start.elapsed() < Duration::from_secs(10) {
        got = listener.received();
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(got, vec![dir.join("office.postern")]);
    drop(listener);
    let _ = std::fs::remove_dir_all(&dir);
}
