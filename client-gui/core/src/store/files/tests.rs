use super::tests_support::temp_dir;
use super::*;
use crate::store::{Signers, TrustedSigner};
use postern_proto::profile;

fn lab(name: &str, sid: &str) -> Profile {
    profile::parse(
        &format!(
            r#"version = 1
name = "{name}"
host = "198.18.0.1"
server_id = "{sid}"
[[door]]
proto = "tcp"
port = 22
[method]
kind = "spa"
user = "alice"
key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
port = 62201
"#
        ),
        "t",
    )
    .unwrap()
}

const SID: &str = "00112233445566778899aabbccddeeff";

#[test]
fn hosts_round_trip_without_the_secret() {
    let dir = temp_dir("hosts");
    let s = FileStore::new(&dir);
    assert!(s.hosts().unwrap().is_empty());
    let p = lab("Office PC", SID);
    s.save_host(&p).unwrap();
    let text = fs::read_to_string(dir.join("hosts/office-pc.toml")).unwrap();
    assert!(
        !text.contains("AAECAwQF"),
        "secret written to disk:\n{text}"
    );
    let back = s.host("office pc").unwrap().unwrap();
    assert_eq!(back.name, "Office PC");
    assert_eq!(back.method.key(), None);
    assert_eq!(s.hosts().unwrap().len(), 1);
    // Same name, other server: refused, old file kept.
    let other = lab("Office PC", "ffeeddccbbaa99887766554433221100");
    assert!(matches!(
        s.save_host(&other),
        Err(StoreError::NameTaken { .. })
    ));
    assert_eq!(
        fs::read_to_string(dir.join("hosts/office-pc.toml")).unwrap(),
        text
    );
    assert!(s.remove_host("Office PC").unwrap());
    assert!(!s.remove_host("Office PC").unwrap());
    let _ = fs::remove_dir_all(dir);
}

#[test]
fn crash_mid_write_leaves_the_old_file_intact() {
    let dir = temp_dir("crash");
    let s = FileStore::new(&dir);
    s.save_host(&lab("Lab", SID)).unwrap();
    let path = dir.join("hosts/lab.toml");
    let before = fs::read(&path).unwrap();

    // Simulated crash: the new content was staged (even half-written) but
    // the process died before the rename.
    let mut renamed = lab("Lab", SID);
    renamed.host = "198.18.0.99".into();
    let staged = stage(&path, b"version = 1\nname = \"La", false).unwrap();
    let tmp = staged.temp_path().to_path_buf();
    std::mem::forget(staged);
    assert!(tmp.exists());

    assert_eq!(fs::read(&path).unwrap(), before);
    let hosts = s.hosts().unwrap();
    assert_eq!(hosts.len(), 1, "the temp file must not be read as a host");
    assert_eq!(hosts[0].host, "198.18.0.1");
    // The next write still works and replaces the old file.
    s.save_host(&renamed).unwrap();
    assert_eq!(s.host("Lab").unwrap().unwrap().host, "198.18.0.99");
    let _ = fs::remove_dir_all(dir);
}

#[test]
fn corrupt_files_are_reported_by_name_and_never_overwritten() {
    let dir = temp_dir("corrupt");
    let s = FileStore::new(&dir);
    fs::create_dir_all(dir.join("hosts")).unwrap();
    let bad_host = dir.join("hosts/lab.toml");
    fs::write(&bad_host, "version = 1\nname = [oops\n").unwrap();
    let e = s.hosts().unwrap_err();
    assert!(matches!(e, StoreError::Corrupt { .. }));
    let msg = e.to_string();
    assert!(
        msg.contains("hosts/lab.toml") && msg.contains("damaged"),
        "{msg}"
    );
    let e = s.save_host(&lab("Lab", SID)).unwrap_err();
    assert!(matches!(e, StoreError::Corrupt { .. }));
    assert_eq!(
        fs::read_to_string(&bad_host).unwrap(),
        "version = 1\nname = [oops\n"
    );

    let bad_signers = dir.join("signers.toml");
    fs::write(&bad_signers, "[signer.x\n").unwrap();
    let e = s.signers().unwrap_err().to_string();
    assert!(e.contains("signers.toml"), "{e}");
    let mut sig = Signers::default();
    sig.by_server.insert(
        SID.into(),
        TrustedSigner {
            public_key: "ed25519:x".into(),
            fingerprint: "F".into(),
        },
    );
    assert!(s.save_signers(&sig).is_err());
    assert_eq!(fs::read_to_string(&bad_signers).unwrap(), "[signer.x\n");
    let _ = fs::remove_dir_all(dir);
}

#[test]
fn signers_round_trip() {
    let dir = temp_dir("signers");
    let s = FileStore::new(&dir);
    let mut sig = Signers::default();
    sig.by_server.insert(
        SID.into(),
        TrustedSigner {
            public_key: "ed25519:abc".into(),
            fingerprint: "ABCD".into(),
        },
    );
    s.save_signers(&sig).unwrap();
    assert_eq!(s.signers().unwrap(), sig);
    let _ = fs::remove_dir_all(dir);
}
