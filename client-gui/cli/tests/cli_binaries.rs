//! The `postern` binary as a whole: every command in one program, the
//! hand-over to `postern-desktop` when there is no command, and what it
//! links.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

const POSTERN: &str = env!("CARGO_BIN_EXE_postern");

/// `program` with its own config folder and secrets in a file.
fn postern_command(program: impl AsRef<std::ffi::OsStr>, config: &Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.env("POSTERN_CONFIG_DIR", config)
        .env("POSTERN_SECRETS", "file");
    cmd
}

/// Runs `cmd` to completion. Some tests run a copy of a binary made just
/// before; while another test thread forks, its child briefly holds the
/// copy's write descriptor (close-on-exec only closes it at that child's
/// exec), and running the copy then fails with ETXTBSY. That passes within
/// moments, so it is retried.
fn output(cmd: &mut Command) -> Output {
    spawn(cmd.stdout(Stdio::piped()).stderr(Stdio::piped()))
        .wait_with_output()
        .expect("running the binary")
}

/// Starts `cmd`, retrying while the binary is busy (see [`output`]).
fn spawn(cmd: &mut Command) -> Child {
    for _ in 0..100 {
        match cmd.spawn() {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            result => return result.expect("starting the binary"),
        }
    }
    panic!("{cmd:?}: the binary stayed busy for 2 s");
}

fn temp_dir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("postern-bins-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// A stand-in for `postern-desktop` in `dir`: prints its PID and
/// arguments and exits with 7, so a test sees that it ran, with what, and
/// as which process.
#[cfg(unix)]
fn fake_desktop(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).expect("a folder");
    let path = dir.join("postern-desktop");
    std::fs::write(
        &path,
        "#!/bin/sh\necho \"desktop pid=$$ args=$*\"\nexit 7\n",
    )
    .expect("writing the stand-in");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
        .expect("making it executable");
}

/// `postern` alone in a folder of its own, so that nothing else that was
/// built sits beside it.
fn lone_postern(dir: &Path) -> std::path::PathBuf {
    let alone = dir.join(exe("postern"));
    std::fs::copy(POSTERN, &alone).expect("copying postern");
    alone
}

/// Without a command, `postern` becomes the `postern-desktop` beside it:
/// the same process (exec, so whoever started `postern` can wait for or
/// stop the window), with the same arguments.
#[cfg(unix)]
#[test]
fn postern_without_a_command_becomes_the_desktop_app_beside_it() {
    let dir = temp_dir("handover");
    let postern = lone_postern(&dir);
    fake_desktop(&dir);
    let child = spawn(
        postern_command(&postern, &dir.join("config"))
            .arg("--strict")
            .stdout(Stdio::piped()),
    );
    let pid = child.id();
    let out = child.wait_with_output().expect("waiting for it");
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(7), "{out:?}");
    assert_eq!(said.trim(), format!("desktop pid={pid} args=--strict"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// With none beside it, the `postern-desktop` on PATH is started.
#[cfg(unix)]
#[test]
fn postern_finds_the_desktop_app_on_path() {
    let dir = temp_dir("onpath");
    let postern = lone_postern(&dir);
    let bin = dir.join("bin");
    fake_desktop(&bin);
    let out = output(postern_command(&postern, &dir.join("config")).env("PATH", &bin));
    assert_eq!(out.status.code(), Some(7), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("desktop pid="));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_missing_desktop_app_is_named_and_the_commands_still_work() {
    let dir = temp_dir("nodesktop");
    let alone = lone_postern(&dir);
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).expect("an empty folder");
    let out = output(postern_command(&alone, &dir.join("config")).env("PATH", &empty));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert!(
        err.contains("the desktop app is not installed")
            && err.contains("postern-desktop")
            && err.contains("postern --help"),
        "stderr: {err}"
    );
    let list = run_in(&alone, &dir.join("config"), &["list"]);
    assert!(list.status.success(), "{list:?}");
    assert!(String::from_utf8_lossy(&list.stdout).contains("no saved hosts"));
    let _ = std::fs::remove_dir_all(&dir);
}

fn exe(name: &str) -> String {
    format!("{name}{}", std::env::consts::EXE_SUFFIX)
}

fn run_in(program: &Path, config: &Path, args: &[&str]) -> Output {
    output(postern_command(program, config).args(args))
}

/// A profile that knocks UDP ports on loopback, `last_port` last: nothing
/// is harmed. Its door (port 1) is closed, so `--verify` waits.
fn loopback_profile(dir: &Path, last_port: u16) -> std::path::PathBuf {
    loopback_profile_with_door(dir, last_port, 1)
}

/// [`loopback_profile`] with its TCP door on `door`.
fn loopback_profile_with_door(dir: &Path, last_port: u16, door: u16) -> std::path::PathBuf {
    let profile = dir.join("seq.postern");
    std::fs::write(
        &profile,
        format!(
            "version = 1\nname = \"Loop\"\nhost = \"127.0.0.1\"\n\
             server_id = \"00112233445566778899aabbccddeeff\"\n\
             [[door]]\nproto = \"tcp\"\nport = {door}\n\
             [method]\nkind = \"static-sequence\"\n\
             sequence = \"7001:udp,7002:udp,{last_port}:udp\"\n"
        ),
    )
    .expect("writing the profile");
    profile
}

/// `postern` must find /dev/null on standard descriptors it was started
/// without (std's runtime set-up sees to it; a leaner start-up of its own
/// would have to as well): else the next file or socket it opens takes
/// number 1 or 2, and a message could go into it. Started with 0, 1 and 2 closed, once its last knock
/// has arrived (start-up is over) and while `--verify` keeps it waiting
/// (nothing listens on the door), its fds 0–2 must be /dev/null.
#[cfg(target_os = "linux")]
#[test]
fn postern_opens_dev_null_on_closed_standard_descriptors() {
    use std::os::unix::process::CommandExt;
    let dir = temp_dir("closedfds");
    let last_knock = std::net::UdpSocket::bind("127.0.0.1:0").expect("a loopback UDP port");
    last_knock
        .set_read_timeout(Some(std::time::Duration::from_secs(4)))
        .expect("a read timeout");
    let port = last_knock.local_addr().expect("its port").port();
    let profile = loopback_profile(&dir, port);
    let mut cmd = postern_command(POSTERN, &dir.join("config"));
    cmd.arg("knock")
        .arg(&profile)
        .args(["--verify", "--no-reknock", "--deadline-ms", "5000"]);
    // SAFETY: close(2) is async-signal-safe; this runs in the child just
    // before exec and touches nothing else.
    unsafe {
        cmd.pre_exec(|| {
            for fd in 0..=2 {
                libc::close(fd);
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("starting postern");
    let knocked = last_knock.recv(&mut [0u8; 64]);
    let seen = [0, 1, 2].map(|fd| std::fs::read_link(format!("/proc/{}/fd/{fd}", child.id())).ok());
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    knocked.expect("postern's last knock never arrived");
    for (fd, target) in seen.iter().enumerate() {
        assert_eq!(
            target.as_deref(),
            Some(Path::new("/dev/null")),
            "fd {fd} of postern"
        );
    }
}

/// A door that already answers before the knock (here: a listener on
/// loopback that no firewall guards) is not reported as opened by it:
/// `--verify` says so in plain words and still exits 0, since connecting
/// would work.
#[test]
fn verify_says_when_the_port_answered_before_the_knock() {
    let dir = temp_dir("before");
    let door = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback TCP port");
    let door_port = door.local_addr().expect("its port").port();
    let profile = loopback_profile_with_door(&dir, 7005, door_port);
    let profile = profile.to_str().expect("a UTF-8 path");
    let out = run_in(
        Path::new(POSTERN),
        &dir.join("config"),
        &["knock", profile, "--verify", "--deadline-ms", "2000"],
    );
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(
        stdout.contains("already answering before the knock"),
        "{out:?}"
    );
    assert!(!stdout.contains("open after"), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("answers before the knock"),
        "{out:?}"
    );
}

/// Every command is `postern`'s own: alone in a folder it knocks a file,
/// lists, and says what is wrong with a name that is neither.
#[test]
fn postern_runs_every_command_alone() {
    let dir = temp_dir("alone");
    let config = dir.join("config");
    let profile = loopback_profile(&dir, 7003);
    let profile = profile.to_str().expect("a UTF-8 path");
    let alone = lone_postern(&dir);
    let out = run_in(&alone, &config, &["knock", profile]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("knocked \"Loop\": 3 packets sent"),
        "{out:?}"
    );
    let out = run_in(&alone, &config, &["list"]);
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("no saved hosts"));
    let out = run_in(&alone, &config, &["knock", "no-such-saved-host"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("no saved host called") && err.contains("postern list"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The library says what is wrong; the command line adds the flag that
/// helps (src/wording.rs).
#[test]
fn refusals_name_the_flag_that_helps() {
    let dir = temp_dir("wording");
    let config = dir.join("config");
    // Unsigned, from a script (no terminal to ask on): refused, with --yes.
    let profile = loopback_profile(&dir, 7004);
    let profile = profile.to_str().expect("a UTF-8 path");
    let out = output(
        postern_command(POSTERN, &config)
            .args(["import", profile])
            .stdin(Stdio::null()),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("is not signed") && err.contains("--yes"),
        "{err}"
    );
    // A knockd door that is no door: the flag it came from.
    let out = run_in(
        Path::new(POSTERN),
        &config,
        &[
            "import-knockd-door",
            "--host",
            "127.0.0.1",
            "--sequence",
            "7000,8000,9000",
            "--door",
            "22/sctp",
            "--name",
            "Lab",
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--door: \"22/sctp\" is not a door"), "{err}");
    let out = run_in(
        Path::new(POSTERN),
        &config,
        &[
            "import-knockd-door",
            "--host",
            "127.0.0.1",
            "--sequence",
            "7000,x",
            "--door",
            "22",
            "--name",
            "Lab",
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("postern: --sequence: knock 2"), "{err}");
    assert_eq!(err.matches("knock 2").count(), 1, "said twice: {err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The command line's start-up time is most of `postern knock`'s knock →
/// open latency (docs/benchmarks.md); linking the GUI stack into it tripled
/// its size and relocations. Only `postern-desktop` may link it (the
/// `cargo tree` of this package has no eframe; this checks the binary).
/// The keyring (D-Bus) and HTTPS stacks are linked, and set up only by the
/// commands that use them (src/main.rs): finding them is also the proof
/// that the search would see a linked crate.
#[cfg(target_os = "linux")]
#[test]
fn the_command_line_links_no_gui_code() {
    let bin = loaded_bytes(&std::fs::read(POSTERN).expect("reading postern"));
    // Source paths of the crates: they are in a binary's loaded data
    // (panic locations) exactly when those crates' code is linked in, unlike
    // crate names in the symbol table or paths in debug line tables, which
    // are there either way. The desktop package's tests check that these
    // same markers are in `postern-desktop`.
    let gui = [&b"/winit-"[..], b"/egui-0.", b"/wgpu-core-", b"/eframe-0."];
    let keyring_and_https = [&b"/zbus-"[..], b"/rustls-", b"/ureq-"];
    for marker in gui {
        assert_linked(marker, "postern", &bin, false);
    }
    for marker in keyring_and_https {
        assert_linked(marker, "postern", &bin, true);
    }
}

#[cfg(target_os = "linux")]
fn assert_linked(marker: &[u8], name: &str, bin: &[u8], expected: bool) {
    let found = bin.windows(marker.len()).any(|w| w == marker);
    assert_eq!(
        found,
        expected,
        "{name} {} code from {:?}",
        if found { "links" } else { "does not link" },
        String::from_utf8_lossy(marker)
    );
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
