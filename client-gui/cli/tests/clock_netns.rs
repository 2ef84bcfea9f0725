//! A knock from a computer whose clock is wrong is refused by the server
//! (posternd logs the skew; the client only sees a door that stays shut).
//! `postern knock --verify` then asks a time server and says the one thing
//! the user can fix: "your computer's clock is 10 minutes behind".
//!
//! Real pieces only: `posternd` guarding a port in a server namespace, an
//! SNTP responder there telling the true time, and the real `postern` in the
//! client namespace run under libfaketime (`faketime -f -600s`), so its
//! clock — and with it the SPA packet's timestamp — is really 10 minutes
//! behind. The same knock without faketime opens, and then nothing is said
//! about the clock. Root, `posternd` beside `postern` and `faketime` are
//! needed; without them the test says why and returns.

#![cfg(target_os = "linux")]

use postern_server::netns::{EchoServer, NetnsPair, is_root, run_in};
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const POSTERN: &str = env!("CARGO_BIN_EXE_postern");
const SERVER: &str = "00112233445566778899aabbccddeeff";
const KEY: &str = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
const DOOR: u16 = 2302;
const NTP_PORT: u16 = 1123;

/// An SNTP server (RFC 4330, server mode) telling this machine's true
/// time from inside a namespace, for as long as it lives.
struct TimeServer(Arc<AtomicBool>);

impl TimeServer {
    fn start(ns: &str) -> TimeServer {
        let socket = run_in(ns, || UdpSocket::bind(("0.0.0.0", NTP_PORT)))
            .expect("namespace")
            .expect("bind the time server");
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut request = [0u8; 48];
            while !flag.load(Ordering::Relaxed) {
                if let Ok((48, from)) = socket.recv_from(&mut request) {
                    let _ = socket.send_to(&reply_to(&request), from);
                }
            }
        });
        TimeServer(stop)
    }
}

impl Drop for TimeServer {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Now as an NTP timestamp: seconds since 1900 and a binary fraction.
fn ntp_now() -> [u8; 8] {
    let since_unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970");
    let secs = since_unix.as_secs() + 2_208_988_800;
    let frac = (u64::from(since_unix.subsec_nanos()) << 32) / 1_000_000_000;
    ((secs << 32) | frac).to_be_bytes()
}

/// Version 4, server mode, stratum 1 ("GPS"), echoing the request's
/// transmit time as the originate time (which the client checks).
fn reply_to(request: &[u8; 48]) -> [u8; 48] {
    let mut r = [0u8; 48];
    r[0] = 0x24;
    r[1] = 1;
    r[2] = 6;
    r[3] = 0xec;
    r[12..16].copy_from_slice(b"GPS\0");
    let now = ntp_now();
    r[16..24].copy_from_slice(&now);
    r[24..32].copy_from_slice(&request[40..48]);
    r[32..40].copy_from_slice(&now);
    r[40..48].copy_from_slice(&now);
    r
}

/// The daemon this test started, stopped by its PID and reaped.
struct Daemon(std::process::Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn wait_for(mut ok: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn a_knock_refused_for_a_wrong_clock_says_so() {
    let posternd = Path::new(POSTERN).with_file_name("posternd");
    if !is_root() || !posternd.exists() || !Path::new("/usr/bin/faketime").exists() {
        eprintln!("skipping: needs root, posternd built beside postern and faketime");
        return;
    }
    let net = NetnsPair::create(&format!("pck{}", std::process::id()), 163).expect("netns");
    let dir = TempDir(std::env::temp_dir().join(format!("postern-clock-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&dir.0);
    std::fs::create_dir_all(&dir.0).expect("temp dir");
    let cfg = dir.0.join("posternd.toml");
    std::fs::write(
        &cfg,
        format!(
            "[server]\nserver_id = \"{SERVER}\"\ninterfaces = [\"{}\"]\nstate_dir = \"{}\"\n\
             table = \"pck\"\n\n[[door]]\nname = \"rdp\"\nproto = \"tcp\"\nport = {DOOR}\n\
             duration = 30\nspa = true\n\n[[user]]\nname = \"alice\"\nkey = \"{KEY}\"\n\
             doors = [\"rdp\"]\n",
            net.server_if,
            dir.0.join("state").display()
        ),
    )
    .expect("config");
    let profile = dir.0.join("office.postern");
    std::fs::write(
        &profile,
        format!(
            "version = 1\nname = \"Office\"\nhost = \"{}\"\nserver_id = \"{SERVER}\"\nip = \"v4\"\n\
             [allow]\nmode = \"source\"\n[[door]]\nproto = \"tcp\"\nport = {DOOR}\n\
             [method]\nkind = \"spa\"\nuser = \"alice\"\nkey = \"{KEY}\"\nport = 62201\n",
            net.server_v4
        ),
    )
    .expect("profile");
    let _echo = EchoServer::start(&net.server, DOOR).expect("listener");
    let _time = TimeServer::start(&net.server);
    let log = dir.0.join("posternd.log");
    let _daemon = Daemon(
        net.command(&net.server, &posternd)
            .args(["--config", cfg.to_str().expect("utf-8"), "run"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log"))
            .spawn()
            .expect("posternd"),
    );
    let log_text = || std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        wait_for(|| log_text().contains("posternd started")),
        "{}",
        log_text()
    );

    let time_server = SocketAddr::new(net.server_v4, NTP_PORT).to_string();
    let knock = |behind: Option<&str>| -> Output {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &net.client]);
        if let Some(offset) = behind {
            c.args(["faketime", "-f", offset]);
        }
        c.arg(POSTERN)
            .args(["knock", "--verify", "--deadline-ms", "1500"])
            .args(["--time-server", &time_server])
            .arg(&profile)
            .env("POSTERN_CONFIG_DIR", dir.0.join("config"))
            .env("POSTERN_SECRETS", "file")
            .env("LC_ALL", "C.UTF-8")
            .stdin(Stdio::null())
            .output()
            .expect("postern")
    };

    // The clock 10 minutes behind: refused for it, and told so.
    let out = knock(Some("-600s"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("your computer's clock is 10 minutes behind"),
        "{stdout}\n{stderr}"
    );
    assert!(stderr.contains("still closed"), "{stderr}");
    // posternd got the packet and refused it. (Beyond its max_skew the
    // time-derived key id is not even recognized, so it logs an unknown
    // key id rather than a skew.)
    let refusal = format!("rejected src={}", net.client_v4);
    assert!(
        wait_for(|| log_text().contains(&refusal)),
        "posternd did not refuse the knock:\n{}",
        log_text()
    );
    let refused = net
        .connect(net.server_v4, DOOR, Duration::from_millis(300))
        .expect("probe");
    assert!(refused.is_none(), "the door must stay shut");

    // The right clock: opens, and the clock goes unmentioned.
    let out = knock(None);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout.contains("open after"), "{stdout}");
    assert!(!stdout.contains("clock"), "{stdout}");
}
