//! The two client binaries: `postern` (command line, no GUI code linked)
//! and `postern-desktop` (the window), and the hand-over between them.

use std::path::Path;
use std::process::{Command, Output};

const POSTERN: &str = env!("CARGO_BIN_EXE_postern");
#[cfg(target_os = "linux")]
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
#[cfg(target_os = "linux")]
#[test]
fn the_command_line_links_no_gui_code() {
    let cli = loaded_bytes(&std::fs::read(POSTERN).expect("reading postern"));
    let desktop = loaded_bytes(&std::fs::read(DESKTOP).expect("reading postern-desktop"));
    let has = |bin: &[u8], needle: &[u8]| bin.windows(needle.len()).any(|w| w == needle);
    // Source paths of the GUI crates: they are in a binary's loaded data
    // (panic locations) exactly when those crates' code is linked in, unlike
    // crate names in the symbol table or paths in debug line tables, which
    // are there either way.
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

/// The contents of an ELF64 (little-endian) file's sections that are
/// loaded into memory (`SHF_ALLOC`): code and data, not symbols or debug
/// information.
#[cfg(target_os = "linux")]
fn loaded_bytes(elf: &[u8]) -> Vec<u8> {
    let u16_at = |o: usize| u16::from_le_bytes(elf[o..o + 2].try_into().expect("2 bytes"));
    let u64_at = |o: usize| u64::from_le_bytes(elf[o..o + 8].try_into().expect("8 bytes"));
    assert_eq!(&elf[..5], b"\x7fELF\x02", "an ELF64 file");
    let shoff = u64_at(0x28) as usize;
    let shentsize = usize::from(u16_at(0x3a));
    let shnum = usize::from(u16_at(0x3c));
    const SHF_ALLOC: u64 = 2;
    const SHT_NOBITS: u32 = 8;
    let mut out = Vec::new();
    for i in 0..shnum {
        let h = shoff + i * shentsize;
        let kind = u32::from_le_bytes(elf[h + 4..h + 8].try_into().expect("4 bytes"));
        let (flags, offset, size) = (u64_at(h + 8), u64_at(h + 24), u64_at(h + 32));
        if flags & SHF_ALLOC != 0 && kind != SHT_NOBITS {
            out.extend_from_slice(&elf[offset as usize..(offset + size) as usize]);
        }
    }
    assert!(!out.is_empty(), "no loaded sections found");
    out
}
