//! A key saved in the keyring is used only with the host it was imported
//! with (or a file its trusted administrator signed): an unsigned, keyless
//! `.postern` file naming the same server and user, with an address of its
//! writer's choosing, must not make `postern` send a valid knock. And a
//! bare name means the saved host, never a file of that name in the
//! current directory.
//!
//! The last test is the attack on the wire: a real `posternd` in a server
//! namespace, the real `postern` in a client namespace (root only; without
//! root or a built `posternd` it says why and returns).

use postern_proto::sign::AdminKey;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use std::net::UdpSocket;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const POSTERN: &str = env!("CARGO_BIN_EXE_postern");
const SERVER: &str = "00112233445566778899aabbccddeeff";

struct Lab {
    dir: PathBuf,
    listener: UdpSocket,
}

impl Lab {
    fn new(tag: &str) -> Lab {
        let dir = std::env::temp_dir().join(format!("postern-borrow-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let listener = UdpSocket::bind("127.0.0.1:0").expect("udp");
        listener
            .set_read_timeout(Some(Duration::from_millis(500)))
            .expect("timeout");
        Lab { dir, listener }
    }

    fn port(&self) -> u16 {
        self.listener.local_addr().expect("addr").port()
    }

    /// A profile for the lab's listener; `key` and `allow` are TOML lines.
    fn profile(&self, name: &str, key: &str, allow: &str) -> String {
        format!(
            "version = 1\nname = \"{name}\"\nhost = \"127.0.0.1\"\nserver_id = \"{SERVER}\"\nip = \"v4\"\n\
             {allow}[[door]]\nproto = \"tcp\"\nport = 2300\n\
             [method]\nkind = \"spa\"\nuser = \"alice\"\n{key}port = {}\n",
            self.port()
        )
    }

    fn write(&self, file: &str, text: &str) -> PathBuf {
        let p = self.dir.join(file);
        std::fs::write(&p, text).expect("write");
        p
    }

    fn postern(&self, args: &[&str]) -> Output {
        Command::new(POSTERN)
            .args(args)
            .current_dir(&self.dir)
            .env("POSTERN_CONFIG_DIR", self.dir.join("config"))
            .env("POSTERN_SECRETS", "file")
            .stdin(Stdio::null())
            .output()
            .expect("run postern")
    }

    fn packet_arrived(&self) -> bool {
        let mut buf = [0u8; 512];
        self.listener.recv(&mut buf).is_ok()
    }

    /// Imports a signed profile "Office" (its key goes to the store).
    fn import_signed(&self) {
        let admin = AdminKey::generate(&mut ChaCha20Rng::seed_from_u64(4));
        let key = "key = \"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\"\n";
        let signed = admin.sign_text(&self.profile("Office", key, ""));
        let file = self.write("office-signed.postern", &signed);
        let out = self.postern(&["import", file.to_str().expect("utf-8"), "--yes"]);
        assert!(out.status.success(), "{out:?}");
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn an_unsigned_keyless_file_does_not_borrow_the_stored_key() {
    let lab = Lab::new("unsigned");
    lab.import_signed();
    // The saved host knocks: the key is there and usable.
    let out = lab.postern(&["knock", "Office"]);
    assert!(out.status.success(), "{out:?}");
    assert!(lab.packet_arrived(), "the saved host's knock went out");

    // The attack: same server and user, no key, an address of the
    // writer's choosing, no signature.
    let evil = lab.profile(
        "Office",
        "",
        "[allow]\nmode = \"explicit\"\naddress = \"198.18.0.66\"\n",
    );
    let file = lab.write("evil.postern", &evil);
    let out = lab.postern(&["knock", file.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = stderr(&out);
    assert!(
        err.contains("not signed by the administrator") && err.contains("by its name"),
        "{err}"
    );
    assert!(!lab.packet_arrived(), "nothing may be sent for that file");
}

#[test]
fn a_name_means_the_saved_host_not_a_file_in_the_current_directory() {
    let lab = Lab::new("name");
    lab.import_signed();
    // A file called like the saved host, carrying its own key and an
    // address of its writer's choosing.
    let planted = lab.profile(
        "Office",
        "key = \"AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=\"\n",
        "[allow]\nmode = \"explicit\"\naddress = \"198.18.0.66\"\n",
    );
    lab.write("Office", &planted);
    let out = lab.postern(&["knock", "Office"]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("198.18.0.66"),
        "the saved host was knocked, not the planted file: {out:?}"
    );
    assert!(lab.packet_arrived());

    // A name that is no saved host, with a file of that name present: a
    // hint, never the file.
    lab.write("Other", &planted);
    let out = lab.postern(&["knock", "Other"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(stderr(&out).contains("write ./Other"), "{}", stderr(&out));
    assert!(!lab.packet_arrived());
}

/// The attack on the wire needs network namespaces: Linux only.
#[cfg(target_os = "linux")]
mod on_the_wire {
    use super::*;

    /// Issue #14 item 1 as it was seen: a signed profile imported, then an
    /// unsigned keyless file naming the same server and user with
    /// `mode = "explicit"` and the attacker's address. Before the fix
    /// `posternd` opened the door for that address. Now the CLI refuses and
    /// says why, nothing reaches the server, and the attacker's address stays
    /// shut out while the saved host still opens the door for its user.
    #[test]
    fn on_the_wire_the_borrowed_key_file_opens_nothing() {
        use postern_server::netns::{EchoServer, NetnsPair, is_root};
        const PORT: u16 = 2301;
        let posternd = std::path::Path::new(POSTERN).with_file_name("posternd");
        if !is_root() || !posternd.exists() {
            eprintln!("skipping: needs root and posternd built beside postern");
            return;
        }
        let net = NetnsPair::create(&format!("pbk{}", std::process::id()), 152).expect("netns");
        let lab = Lab::new("wire");
        let key = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
        let cfg = lab.write(
            "posternd.toml",
            &format!(
                "[server]\nserver_id = \"{SERVER}\"\ninterfaces = [\"{}\"]\nstate_dir = \"{}\"\n\
                 table = \"pbk\"\n\n[[door]]\nname = \"rdp\"\nproto = \"tcp\"\nport = {PORT}\n\
                 duration = 30\nspa = true\n\n[[user]]\nname = \"alice\"\nkey = \"{key}\"\n\
                 doors = [\"rdp\"]\nrequire_address = true\n",
                net.server_if,
                lab.dir.join("state").display()
            ),
        );
        let _echo = EchoServer::start(&net.server, PORT).expect("listener");
        let log = lab.dir.join("posternd.log");
        let mut daemon = Daemon(
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
        let profile = |key: &str, allow: &str| {
            format!(
                "version = 1\nname = \"Office\"\nhost = \"{}\"\nserver_id = \"{SERVER}\"\nip = \"v4\"\n\
                 {allow}[[door]]\nproto = \"tcp\"\nport = {PORT}\n\
                 [method]\nkind = \"spa\"\nuser = \"alice\"\n{key}port = 62201\n",
                net.server_v4
            )
        };
        let admin = AdminKey::generate(&mut ChaCha20Rng::seed_from_u64(5));
        let signed = lab.write(
            "office.postern",
            &admin.sign_text(&profile(
                &format!("key = \"{key}\"\n"),
                "[allow]\nmode = \"auto\"\n",
            )),
        );
        let in_client = |args: &[&str]| {
            net.command(&net.client, std::path::Path::new(POSTERN))
                .args(args)
                .current_dir(&lab.dir)
                .env("POSTERN_CONFIG_DIR", lab.dir.join("config"))
                .env("POSTERN_SECRETS", "file")
                .stdin(Stdio::null())
                .output()
                .expect("postern")
        };
        let out = in_client(&["import", signed.to_str().expect("utf-8"), "--yes"]);
        assert!(out.status.success(), "{out:?}");

        // The attack first, while the door is shut for everyone.
        let attacker = net.client_v4_alt;
        let evil = lab.write(
            "evil.postern",
            &profile(
                "",
                &format!("[allow]\nmode = \"explicit\"\naddress = \"{attacker}\"\n"),
            ),
        );
        let out = in_client(&["knock", evil.to_str().expect("utf-8")]);
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        assert!(
            stderr(&out).contains("not signed by the administrator"),
            "{}",
            stderr(&out)
        );
        // The saved host still works for its user: the server is listening,
        // so silence about the attacker below is not a dead daemon.
        let out = in_client(&["knock", "Office"]);
        assert!(out.status.success(), "{out:?}");
        assert!(
            wait_for(|| log_text().contains(&format!("for {}", net.client_v4))),
            "the user's knock was not accepted:\n{}",
            log_text()
        );
        let text = log_text();
        assert!(
            !text.contains(&attacker.to_string()),
            "the server saw something for the attacker's address:\n{text}"
        );
        assert!(
            run_in_client_from(&net, net.client_v4, PORT).is_some(),
            "the door did not open for the user"
        );
        assert!(
            run_in_client_from(&net, attacker, PORT).is_none(),
            "the door is open for the attacker's address"
        );
        daemon.stop();
    }

    /// A TCP connect to the server's `port` from `from` (an address of the
    /// client namespace); `Some` when it was answered.
    fn run_in_client_from(
        net: &postern_server::netns::NetnsPair,
        from: std::net::IpAddr,
        port: u16,
    ) -> Option<()> {
        let to = std::net::SocketAddr::new(net.server_v4, port);
        postern_server::netns::run_in(&net.client, move || {
            let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
                .expect("socket");
            // A failed bind must fail the test, not pass for "not answered".
            s.bind(&std::net::SocketAddr::new(from, 0).into())
                .expect("bind to a client address");
            s.connect_timeout(&to.into(), Duration::from_millis(700))
                .ok()
        })
        .expect("client namespace")
    }

    fn wait_for(mut ok: impl FnMut() -> bool) -> bool {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::time::Instant::now() < deadline {
            if ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// The daemon this test started, stopped by its PID (SIGTERM through
    /// `kill`, so it removes its table) and reaped.
    struct Daemon(std::process::Child);

    impl Daemon {
        fn stop(&mut self) {
            let _ = Command::new("kill")
                .args(["-TERM", &self.0.id().to_string()])
                .status();
            let _ = self.0.wait();
        }
    }

    impl Drop for Daemon {
        fn drop(&mut self) {
            if matches!(self.0.try_wait(), Ok(None)) {
                self.stop();
            }
        }
    }
}
