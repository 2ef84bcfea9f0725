//! Encrypted profiles on the command line: the passphrase comes from
//! --passphrase-file, or is asked on the terminal without echo; a script
//! with neither gets an error that says both ways.

use postern_proto::seal::{self, KdfCost};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
#[cfg(target_os = "linux")]
use std::io::{Read, Write};
use std::net::UdpSocket;
#[cfg(target_os = "linux")]
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const POSTERN: &str = env!("CARGO_BIN_EXE_postern");
const PASS: &str = "correct horse battery";
const CHEAP: KdfCost = KdfCost {
    m_kib: 64,
    t: 1,
    p: 1,
};

/// A sealed SPA profile for 127.0.0.1 whose knock lands on `listener`.
fn setup(tag: &str) -> (PathBuf, PathBuf, UdpSocket) {
    let dir = std::env::temp_dir().join(format!("postern-pass-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let listener = UdpSocket::bind("127.0.0.1:0").expect("udp");
    listener
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let port = listener.local_addr().expect("addr").port();
    let profile = format!(
        r#"version = 1
name = "sealed"
host = "127.0.0.1"
server_id = "00112233445566778899aabbccddeeff"
ip = "v4"
[[door]]
proto = "tcp"
port = 2300
[method]
kind = "spa"
user = "alice"
key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
port = {port}
"#
    );
    let sealed =
        seal::seal(&profile, PASS, CHEAP, &mut ChaCha20Rng::seed_from_u64(9)).expect("seal");
    let file = dir.join("sealed.postern");
    std::fs::write(&file, sealed).expect("write");
    (dir, file, listener)
}

fn postern(dir: &Path) -> Command {
    in_env(Command::new(POSTERN), dir)
}

fn in_env(mut c: Command, dir: &Path) -> Command {
    c.env("POSTERN_CONFIG_DIR", dir.join("config"))
        .env("POSTERN_SECRETS", "file");
    c
}

#[test]
fn a_script_without_a_passphrase_is_told_both_ways() {
    let (dir, file, _l) = setup("script");
    let out = postern(&dir)
        .arg("knock")
        .arg(&file)
        .stdin(Stdio::null())
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("is encrypted")
            && err.contains("--passphrase-file")
            && err.contains("terminal"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_passphrase_file_decrypts_and_the_knock_goes_out() {
    let (dir, file, listener) = setup("file");
    let pass = dir.join("pass");
    std::fs::write(&pass, format!("{PASS}\n")).expect("write");
    let out = postern(&dir)
        .arg("knock")
        .arg(&file)
        .arg("--passphrase-file")
        .arg(&pass)
        .stdin(Stdio::null())
        .output()
        .expect("run");
    assert!(out.status.success(), "{out:?}");
    let mut buf = [0u8; 512];
    assert!(listener.recv(&mut buf).expect("the SPA packet") > 100);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Types into a real pseudo-terminal through util-linux `script`: the
/// prompt appears, the typed passphrase is not echoed, and the right one
/// decrypts while a wrong one is refused with exit code 2.
#[cfg(target_os = "linux")]
#[test]
fn on_a_terminal_postern_asks_without_echo() {
    if Command::new("script").arg("--version").output().is_err() {
        panic!("util-linux `script` is needed for this test (it is in every Debian)");
    }
    let (dir, file, listener) = setup("tty");
    let run = |typed: &str| {
        let cmd = format!("{POSTERN} knock {}", file.display());
        let mut child = in_env(Command::new("script"), &dir)
            .args(["-q", "-e", "-c", &cmd, "/dev/null"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("script");
        let mut stdin = child.stdin.take().expect("stdin");
        let mut stdout = child.stdout.take().expect("stdout");
        // Type only once the prompt is up: input that arrives before the
        // prompt turns echo off is echoed by the terminal itself.
        let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 256];
            while let Ok(n @ 1..) = stdout.read(&mut buf) {
                if tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        let mut shown = Vec::new();
        while !String::from_utf8_lossy(&shown).contains("Passphrase for") {
            match rx.recv_timeout(Duration::from_secs(10)) {
                Ok(chunk) => shown.extend(chunk),
                Err(_) => panic!("no prompt: {}", String::from_utf8_lossy(&shown)),
            }
        }
        wait_for_echo_off(child.id());
        stdin
            .write_all(format!("{typed}\n").as_bytes())
            .expect("type");
        let status = child.wait().expect("wait");
        drop(stdin);
        let _ = reader.join();
        shown.extend(rx.try_iter().flatten());
        (status, String::from_utf8_lossy(&shown).into_owned())
    };
    let (status, shown) = run(PASS);
    assert!(!shown.contains(PASS), "the passphrase was echoed: {shown}");
    assert!(status.success(), "{shown}");
    let mut buf = [0u8; 512];
    assert!(listener.recv(&mut buf).expect("the SPA packet") > 100);

    let (status, shown) = run("not it");
    assert_eq!(status.code(), Some(2), "{shown}");
    assert!(shown.contains("cannot decrypt"), "{shown}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Waits until the terminal `script` gave its command has echo turned off:
/// the prompt is printed just before, and input typed in between would be
/// echoed by the terminal, not by postern.
#[cfg(target_os = "linux")]
fn wait_for_echo_off(script_pid: u32) {
    use std::os::fd::AsRawFd;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let pts = loop {
        let children =
            std::fs::read_to_string(format!("/proc/{script_pid}/task/{script_pid}/children"))
                .unwrap_or_default();
        let tty = children
            .split_whitespace()
            .find_map(|pid| std::fs::read_link(format!("/proc/{pid}/fd/0")).ok())
            .filter(|p| p.starts_with("/dev/pts"));
        if let Some(t) = tty {
            break t;
        }
        assert!(std::time::Instant::now() < deadline, "no terminal found");
        std::thread::sleep(Duration::from_millis(5));
    };
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY)
        .open(&pts)
        .expect("opening the terminal");
    loop {
        // SAFETY: a zeroed termios is a valid out-parameter, and the fd is
        // open for the duration of the call.
        let mut t: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        let got = unsafe { libc::tcgetattr(f.as_raw_fd(), &mut t) };
        if got == 0 && t.c_lflag & libc::ECHO == 0 {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "echo never turned off"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}
