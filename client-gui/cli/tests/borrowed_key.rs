//! A key saved in the keyring is used only with the host it was imported
//! with (or a file its trusted administrator signed): an unsigned, keyless
//! `.postern` file naming the same server and user, with an address of its
//! writer's choosing, must not make `postern` send a valid knock. And a
//! bare name means the saved host, never a file of that name in the
//! current directory.

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
