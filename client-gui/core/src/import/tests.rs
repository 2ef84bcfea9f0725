use super::*;
use crate::store::files::FileStore;
use crate::store::files::tests_support::temp_dir;
use crate::store::secrets::KeyringSecrets;
use postern_proto::UserKey;
use postern_proto::seal::KdfCost;
use postern_proto::sign::AdminKey;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

const CHEAP: KdfCost = KdfCost {
    m_kib: 64,
    t: 1,
    p: 1,
};
const ACCOUNT: &str = "00112233445566778899aabbccddeeff/alice";

fn body() -> String {
    let key = UserKey::from_bytes([9; 32]).to_base64();
    format!(
        r#"version = 1
name = "Office"
host = "198.18.0.1"
server_id = "00112233445566778899aabbccddeeff"
[[door]]
proto = "tcp"
port = 3389
[method]
kind = "spa"
user = "alice"
key = "{key}"
port = 62201
"#
    )
}

fn admin(seed: u64) -> AdminKey {
    AdminKey::generate(&mut ChaCha20Rng::seed_from_u64(seed))
}

struct Env {
    dir: std::path::PathBuf,
    hosts: FileStore,
    secrets: KeyringSecrets,
}

impl Env {
    fn new(tag: &str) -> Self {
        let dir = temp_dir(tag);
        Env {
            hosts: FileStore::new(&dir),
            secrets: KeyringSecrets::new(keyring_core::mock::Store::new().unwrap(), "mock"),
            dir,
        }
    }

    fn import(
        &self,
        text: &str,
        pass: Option<&str>,
        yes: bool,
    ) -> (Result<Imported, ImportError>, usize) {
        let mut asked = 0;
        let r = import_text(
            text,
            "office.postern",
            pass,
            &mut |_| {
                asked += 1;
                yes
            },
            &self.hosts,
            &self.secrets,
        );
        (r, asked)
    }

    /// Nothing was saved: no host, no signer, no secret.
    fn assert_empty(&self) {
        assert!(self.hosts.hosts().unwrap().is_empty());
        assert!(self.hosts.signers().unwrap().by_server.is_empty());
        assert_eq!(self.secrets.get(ACCOUNT).unwrap(), None);
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn first_import_asks_then_moves_the_secret_to_the_keyring() {
    let env = Env::new("imp-ok");
    let file = admin(1).sign_text(&body());
    let (r, asked) = env.import(&file, None, true);
    let done = r.unwrap();
    assert_eq!(asked, 1);
    assert!(done.newly_trusted);
    assert_eq!(done.fingerprint, Some(admin(1).public().fingerprint()));
    assert_eq!(
        env.secrets.get(ACCOUNT).unwrap(),
        Some(UserKey::from_bytes([9; 32]))
    );
    let saved = env.hosts.host("Office").unwrap().unwrap();
    assert_eq!(saved.method.key(), None);
    let on_disk = std::fs::read_to_string(env.dir.join("hosts/office.toml")).unwrap();
    assert!(!on_disk.contains(&UserKey::from_bytes([9; 32]).to_base64()));
    // The same signer again: no question.
    let (r, asked) = env.import(&file, None, false);
    let _ = r.unwrap();
    assert_eq!(asked, 0);
}

#[test]
fn tampered_file_is_refused_and_nothing_saved() {
    let env = Env::new("imp-tamper");
    let file = admin(1).sign_text(&body()).replace("3389", "3390");
    let (r, asked) = env.import(&file, None, true);
    let e = r.unwrap_err();
    assert!(matches!(e, ImportError::Tampered(_)), "{e:?}");
    assert!(e.to_string().contains("changed after it was signed"));
    assert_eq!(asked, 0);
    env.assert_empty();
}

#[test]
fn unknown_signer_without_consent_is_refused() {
    let env = Env::new("imp-unknown");
    let (r, asked) = env.import(&admin(1).sign_text(&body()), None, false);
    let e = r.unwrap_err();
    assert_eq!(asked, 1);
    assert!(matches!(e, ImportError::UnknownSigner(_)), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains(admin(1).public().fingerprint().as_str()),
        "{msg}"
    );
    env.assert_empty();
}

#[test]
fn unsigned_file_without_consent_is_refused() {
    let env = Env::new("imp-unsigned");
    let e = env.import(&body(), None, false).0.unwrap_err();
    assert!(matches!(e, ImportError::Unsigned), "{e:?}");
    env.assert_empty();
}

#[test]
fn changed_signer_is_refused_even_with_yes() {
    let env = Env::new("imp-changed");
    let _ = env
        .import(&admin(1).sign_text(&body()), None, true)
        .0
        .unwrap();
    let before_host = std::fs::read(env.dir.join("hosts/office.toml")).unwrap();
    let before_signers = env.hosts.signers().unwrap();
    // Same server id, another administrator key, another secret.
    let evil = admin(2).sign_text(&body().replace(
        &UserKey::from_bytes([9; 32]).to_base64(),
        &UserKey::from_bytes([66; 32]).to_base64(),
    ));
    let (r, asked) = env.import(&evil, None, true);
    let e = r.unwrap_err();
    assert_eq!(asked, 0);
    assert!(matches!(e, ImportError::SignerChanged { .. }), "{e:?}");
    assert!(e.to_string().starts_with("REFUSED"));
    assert_eq!(
        std::fs::read(env.dir.join("hosts/office.toml")).unwrap(),
        before_host
    );
    assert_eq!(env.hosts.signers().unwrap(), before_signers);
    assert_eq!(
        env.secrets.get(ACCOUNT).unwrap(),
        Some(UserKey::from_bytes([9; 32]))
    );
    // An unsigned file for that server is refused too, without asking.
    let (r, asked) = env.import(&body(), None, true);
    let e = r.unwrap_err();
    assert_eq!(asked, 0);
    assert!(
        matches!(e, ImportError::UnsignedForSignedServer(s) if ACCOUNT.starts_with(&s.to_hex())),
        "{e:?}"
    );
}

#[test]
fn sealed_profile_needs_the_right_passphrase() {
    let env = Env::new("imp-sealed");
    let signed = admin(1).sign_text(&body());
    let sealed = seal::seal(
        &signed,
        "correct horse",
        CHEAP,
        &mut ChaCha20Rng::seed_from_u64(5),
    )
    .unwrap();
    let e = env.import(&sealed, None, true).0.unwrap_err();
    assert!(matches!(e, ImportError::NeedPassphrase), "{e:?}");
    let e = env.import(&sealed, Some("wrong"), true).0.unwrap_err();
    assert!(matches!(e, ImportError::WrongPassphrase), "{e:?}");
    assert!(e.to_string().starts_with("wrong passphrase"));
    env.assert_empty();
    let _ = env.import(&sealed, Some("correct horse"), true).0.unwrap();
    assert!(env.hosts.host("Office").unwrap().is_some());
}

#[test]
fn each_refusal_has_its_own_message() {
    let msgs = [
        ImportError::NeedPassphrase.to_string(),
        ImportError::WrongPassphrase.to_string(),
        ImportError::Tampered(SignError::BadSignature).to_string(),
        ImportError::UnknownSigner(admin(1).public().fingerprint()).to_string(),
        ImportError::Unsigned.to_string(),
        ImportError::UnsignedForSignedServer(ServerId([0; 16])).to_string(),
        ImportError::SignerChanged {
            server_id: ServerId([0; 16]),
            trusted: "A".into(),
            got: admin(2).public().fingerprint(),
        }
        .to_string(),
    ];
    for (i, a) in msgs.iter().enumerate() {
        for b in &msgs[i + 1..] {
            assert_ne!(a, b);
        }
        // Domain terms only: each program adds its own way out (a flag, a
        // button), so the library names none.
        assert!(!a.contains("--"), "{a}");
    }
}

#[test]
fn export_leaves_the_secret_out_unless_asked() {
    let env = Env::new("imp-export");
    let _ = env
        .import(&admin(1).sign_text(&body()), None, true)
        .0
        .unwrap();
    let b64 = UserKey::from_bytes([9; 32]).to_base64();
    let plain = export("office", false, &env.hosts, &env.secrets).unwrap();
    assert!(!plain.contains(&b64));
    let full = export("office", true, &env.hosts, &env.secrets).unwrap();
    assert!(full.contains(&b64) && full.contains("WITH its secret"));
    // The exported text is a valid profile again.
    postern_proto::profile::parse(&full, "x").unwrap();
    assert!(matches!(
        export("nope", false, &env.hosts, &env.secrets),
        Err(ExportError::NotFound(_))
    ));
}

#[test]
fn knockd_door_profiles() {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let p = knockd_door_profile(
        "Lab",
        "198.18.0.1",
        "7000,8000:udp,9000",
        "22/tcp",
        0,
        &mut rng,
    )
    .unwrap();
    assert_eq!(p.doors[0].port, 22);
    assert!(knockd_door_profile("Lab", "h", "7000", "22/sctp", 0, &mut rng).is_err());
    assert!(knockd_door_profile("Lab", "h", "7000,x", "22", 0, &mut rng).is_err());
    assert!(knockd_door_profile("Lab", "h", "7000,64:icmp", "22", 0, &mut rng).is_err());
}

/// A re-issued profile (new key, new port, new name from the admin) for a
/// host the user renamed and gave a launcher: updated in place, the
/// user's name and launcher kept, the changes listed.
#[test]
fn a_reissued_profile_updates_the_saved_host_in_place() {
    use postern_proto::profile::Launch;
    let env = Env::new("imp-update");
    let (r, _) = env.import(&admin(1).sign_text(&body()), None, true);
    assert_eq!(r.unwrap().updated, None, "a new host");
    let mut mine = env.hosts.host("Office").unwrap().unwrap();
    env.hosts.remove_host("Office").unwrap();
    mine.name = "My office".into();
    mine.launch = Some(Launch::Rdp {
        user: Some("ALICE".into()),
    });
    env.hosts.save_host(&mine).unwrap();

    let new_key = UserKey::from_bytes([10; 32]).to_base64();
    let reissued = body()
        .replace(&UserKey::from_bytes([9; 32]).to_base64(), &new_key)
        .replace("port = 3389", "port = 3390")
        .replace("name = \"Office\"", "name = \"ssh on office\"");
    let (r, asked) = env.import(&admin(1).sign_text(&reissued), None, false);
    let done = r.unwrap();
    assert_eq!(asked, 0, "the trusted signer is not asked about");
    assert_eq!(done.name, "My office");
    assert_eq!(
        done.updated,
        Some(vec!["new key".to_owned(), "port 3389 → 3390".to_owned()])
    );
    let all = env.hosts.hosts().unwrap();
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0].name, "My office");
    assert_eq!(all[0].doors[0].port, 3390);
    assert_eq!(
        all[0].launch,
        Some(Launch::Rdp {
            user: Some("ALICE".into())
        })
    );
    assert_eq!(
        env.secrets.get(ACCOUNT).unwrap(),
        Some(UserKey::from_bytes([10; 32]))
    );
    // The same file again: updated, nothing changed.
    let (r, _) = env.import(&admin(1).sign_text(&reissued), None, false);
    assert_eq!(r.unwrap().updated, Some(vec![]));
    // Another signer for this server is still refused, and changes nothing.
    let (r, _) = env.import(&admin(2).sign_text(&body()), None, true);
    assert!(matches!(r, Err(ImportError::SignerChanged { .. })));
    assert_eq!(env.hosts.hosts().unwrap()[0].doors[0].port, 3390);
}
