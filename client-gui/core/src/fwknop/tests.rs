use super::rc::{self, RcError};
use super::*;
use crate::store::files::FileStore;
use crate::store::files::tests_support::temp_dir;
use crate::store::secrets::{FileSecrets, get_fwknop};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

/// Made by `fwknop --key-gen` for these tests only.
const KEY: &str = "A6yLICVZxmi9UcBTqC5ZOXHKKsqDkD1RHwpNoEaSGMo=";
const HMAC: &str =
    "8Q5w6ef/nNlS/JVVyrXDfHdR6fiNYf24HMpOKWYdUtfgiqHMSUrFEf2gBKFWBo2hjBH15mLNekodNbqc/vcDxg==";

/// A `.fwknoprc` as people write them: fwknop's own commented header,
/// defaults, a stanza per server, one GnuPG stanza.
fn fwknoprc() -> String {
    format!(
        "#\n# Example ~/.fwknoprc for fwknop 2.6\n#\n\
         [default]\n\
         #DIGEST_TYPE         sha256\n\
         SPA_SERVER_PORT      62201\n\
         USE_HMAC             Y\n\
         ALLOW_IP             source\n\
         \n\
         [office]\n\
         SPA_SERVER           198.18.0.1\n\
         ACCESS               tcp/22\n\
         KEY_BASE64           {KEY}\n\
         HMAC_KEY_BASE64      {HMAC}\n\
         SPOOF_USER           alice\n\
         \n\
         [lab]\n\
         SPA_SERVER           lab.example.org\n\
         SPA_SERVER_PORT      40000\n\
         ACCESS               tcp/22,udp/53\n\
         ALLOW_IP             198.51.100.7\n\
         KEY                  a passphrase\n\
         HMAC_KEY             an hmac passphrase\n\
         HMAC_DIGEST_TYPE     sha512\n\
         FW_TIMEOUT           60\n\
         TIME_OFFSET          -30\n\
         \n\
         [nat]\n\
         SPA_SERVER           198.18.0.9\n\
         ACCESS               tcp/3389\n\
         KEY_BASE64           {KEY}\n\
         HMAC_KEY_BASE64      {HMAC}\n\
         ALLOW_IP             resolve\n\
         RESOLVE_URL          https://ip.example.org/\n\
         \n\
         [gpg]\n\
         SPA_SERVER           198.18.0.2\n\
         ACCESS               tcp/22\n\
         USE_GPG              Y\n\
         GPG_SIGNING_PW       do-not-print-me\n"
    )
}

fn rng() -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(7)
}

#[test]
fn stanzas_become_hosts_with_defaults_inherited() {
    let r = rc::parse(&fwknoprc(), "bob", &mut rng()).expect("parses");
    let names: Vec<&str> = r.hosts.iter().map(|(p, _)| p.name.as_str()).collect();
    assert_eq!(names, ["office", "lab", "nat"]);

    let (office, k) = &r.hosts[0];
    assert_eq!(office.host, "198.18.0.1");
    assert_eq!(office.allow, AllowMode::Source, "from [default]");
    assert_eq!(office.door_list()[0].to_string(), "22/tcp");
    let MethodSpec::Fwknop {
        user, port, hmac, ..
    } = &office.method
    else {
        panic!("{:?}", office.method)
    };
    assert_eq!(
        (user.as_str(), *port, *hmac),
        ("alice", 62201, HmacType::Sha256)
    );
    assert_eq!(
        *k,
        FwknopKeys::from_base64(KEY, HMAC, HmacType::Sha256).expect("keys")
    );

    let (lab, k) = &r.hosts[1];
    let MethodSpec::Fwknop {
        user, port, hmac, ..
    } = &lab.method
    else {
        panic!()
    };
    assert_eq!(
        (user.as_str(), *port, *hmac),
        ("bob", 40000, HmacType::Sha512)
    );
    assert_eq!(lab.door_list().len(), 2);
    assert_eq!(
        lab.allow,
        AllowMode::Explicit {
            address: "198.51.100.7".parse().expect("ip")
        }
    );
    let raw = FwknopKeys::new(b"a passphrase", b"an hmac passphrase", HmacType::Sha512);
    assert_eq!(Some(k), raw.as_ref().ok());

    assert!(
        matches!(&r.hosts[2].0.allow, AllowMode::Url { url, .. } if url == "https://ip.example.org/")
    );

    assert_eq!(r.skipped.len(), 1);
    assert_eq!(r.skipped[0].0, "gpg");
    assert!(r.skipped[0].1.contains("GnuPG"), "{:?}", r.skipped);
    let notes: Vec<String> = r
        .not_carried
        .iter()
        .map(|(s, o)| format!("{s}: {o}"))
        .collect();
    assert!(notes.contains(&"lab: FW_TIMEOUT".to_owned()), "{notes:?}");
    assert!(notes.contains(&"lab: TIME_OFFSET".to_owned()), "{notes:?}");
    assert!(!format!("{notes:?}").contains("do-not-print-me"));
}

#[test]
fn a_bad_line_fails_the_whole_file() {
    let text = fwknoprc().replace("SPA_SERVER_PORT      40000", "SPA_SERVER_PORT      forty");
    let e = rc::parse(&text, "bob", &mut rng()).unwrap_err();
    assert!(matches!(e, RcError::Line { line: 19, .. }), "{e}");
    let text = fwknoprc().replace("ACCESS               tcp/22,udp/53", "ACCESS   ssh");
    assert!(matches!(
        rc::parse(&text, "bob", &mut rng()),
        Err(RcError::Stanza { stanza, .. }) if stanza == "lab"
    ));
    let text = fwknoprc().replace(KEY, "not base64!");
    assert!(rc::parse(&text, "bob", &mut rng()).is_err());
    assert_eq!(
        rc::parse("# nothing\n", "bob", &mut rng()).unwrap_err(),
        RcError::Empty
    );
    assert!(rc::parse("SPA_SERVER x\n", "bob", &mut rng()).is_err());
}

/// Saved hosts: the keys land in the secret store, the host files carry
/// none; hosts saved before the fwknop method existed still load next to
/// them; a name already taken saves nothing at all.
#[test]
fn saving_is_all_or_nothing_and_old_hosts_still_load() {
    let dir = temp_dir("fwknop-save");
    let hosts = FileStore::new(&dir);
    let secrets = FileSecrets::new(&dir);
    // A host file as an earlier postern wrote it (SPA, no [allow]).
    std::fs::create_dir_all(dir.join("hosts")).expect("dir");
    std::fs::write(
        dir.join("hosts/old.toml"),
        "# Saved by postern. The secret, if any, is in the OS keyring, not here.\n\
         version = 1\nname = \"old\"\nhost = \"198.18.0.1\"\n\
         server_id = \"00112233445566778899aabbccddeeff\"\n\
         [[door]]\nproto = \"tcp\"\nport = 22\n\
         [method]\nkind = \"spa\"\nuser = \"alice\"\nport = 62201\n",
    )
    .expect("old host");

    let r = rc::parse(&fwknoprc(), "bob", &mut rng()).expect("parses");
    save_all(&r.hosts, &hosts, &secrets).expect("saved");
    let all = hosts.hosts().expect("all hosts load");
    assert_eq!(all.len(), 4);
    let office = hosts.host("office").expect("load").expect("saved");
    assert!(
        office.method.needs_fwknop_keys(),
        "keys are not in the file"
    );
    let text = std::fs::read_to_string(dir.join("hosts/office.toml")).expect("file");
    assert!(
        !text.contains(&KEY[..12]) && !text.contains(&HMAC[..12]),
        "{text}"
    );
    let account = secret_account(&office).expect("account");
    let k = get_fwknop(&secrets, &account, HmacType::Sha256).expect("get");
    assert_eq!(k, Some(r.hosts[0].1.clone()));

    // Again: "office" exists, so nothing of the second import is saved.
    let again = rc::parse(
        &fwknoprc()
            .replace("[lab]", "[lab2]")
            .replace("[nat]", "[nat2]"),
        "bob",
        &mut rng(),
    )
    .expect("parses");
    assert!(matches!(
        save_all(&again.hosts, &hosts, &secrets),
        Err(SaveError::Exists(n)) if n == "office"
    ));
    assert!(hosts.host("lab2").expect("load").is_none());
    assert_eq!(hosts.hosts().expect("load").len(), 4);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn access_lists_read_like_fwknops() {
    let d = parse_access("tcp/22, UDP/53").expect("valid");
    assert_eq!(d.len(), 2);
    assert_eq!(d[1].proto, DoorProto::Udp);
    for bad in ["", "22", "tcp/0", "icmp/8", "tcp/x", "tcp/22,"] {
        let r = parse_access(bad);
        assert_eq!(r.is_err(), bad != "tcp/22,", "{bad:?}: {r:?}");
    }
}

#[test]
fn the_form_needs_a_server_and_keys() {
    let mut h = FwknopHost::new("alice");
    h.name = "x".into();
    assert_eq!(h.build(&mut rng()).unwrap_err(), FwknopHostError::Host);
    h.host = "198.18.0.1".into();
    assert!(matches!(h.build(&mut rng()), Err(FwknopHostError::Keys(_))));
    h.key_base64 = Zeroizing::new(KEY.into());
    h.hmac_key_base64 = Zeroizing::new(HMAC.into());
    let (p, _) = h.build(&mut rng()).expect("valid");
    assert_eq!(p.allow, AllowMode::auto(), "bound by default");
}
