//! Each `user` command's config edit: comments and other entries stay as
//! they were, the file is replaced atomically, a broken config is refused.

use super::*;
use crate::admin::init::{InitOptions, init};
use crate::admin::user::{AddUser, IssueMethod, add};
use std::path::PathBuf;

const NOW: UnixTime = UnixTime(1_800_000_000);

/// A config made by `init`, a commented door, and users alice and bob
/// added by `user add` with a comment above bob written by the admin.
fn setup(tag: &str) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("postern-life-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let cfg = dir.join("posternd.toml");
    init(&InitOptions {
        config: cfg.clone(),
        interfaces: vec!["veth0".into()],
        public_host: Some("198.18.0.1".into()),
        state_dir: dir.join("state"),
        force: false,
        stun: vec![],
    })
    .expect("init");
    let mut text = std::fs::read_to_string(&cfg).expect("read");
    text.push_str("\n# The jump host.\n[[door]]\nname = \"ssh\"\nproto = \"tcp\"\nport = 22   # sshd\nspa = true\n");
    std::fs::write(&cfg, text).expect("write");
    for name in ["alice", "bob"] {
        add(&cfg, &add_req(&dir, name, None), NOW).expect("add");
    }
    let text = std::fs::read_to_string(&cfg).expect("read");
    let text = text.replace(
        "\n[[user]]\nname = \"bob\"",
        "\n# Bob: build robot, ask Carol before removing.\n[[user]]\nname = \"bob\"",
    );
    std::fs::write(&cfg, text).expect("write");
    (dir, cfg)
}

fn add_req(dir: &Path, name: &str, expires: Option<UnixTime>) -> AddUser {
    AddUser {
        name: name.into(),
        doors: vec!["ssh".into()],
        sources: vec![],
        max_duration: 600,
        expires,
        issue: issue_to(dir.join(format!("{name}.postern")), false),
    }
}

fn issue_to(out: PathBuf, seal: bool) -> Issue {
    Issue {
        method: IssueMethod::Spa,
        host: None,
        out: Some(out),
        stun: vec![],
        nat_networks: vec![],
        seal,
    }
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).expect("read")
}

/// The `[[user]]` block of `name` (from its header to the next blank line).
fn block<'a>(text: &'a str, name: &str) -> &'a str {
    let start = text
        .find(&format!("[[user]]\nname = \"{name}\""))
        .expect("user block");
    let end = text[start..]
        .find("\n\n")
        .map_or(text.len(), |e| start + e + 1);
    &text[start..end]
}

fn only_temp_free(dir: &Path) {
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .expect("dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn remove_takes_only_that_user_and_keeps_the_rest_byte_for_byte() {
    let (dir, cfg) = setup("remove");
    let before = read(&cfg);
    let said = remove(&cfg, "alice").expect("remove");
    assert!(said.contains("posternd reload"), "{said}");
    let after = read(&cfg);
    let alice = block(&before, "alice");
    assert_eq!(after, before.replacen(&format!("\n{alice}"), "", 1));
    assert!(
        after.contains("# Bob: build robot, ask Carol before removing.\n[[user]]\nname = \"bob\"")
    );
    assert!(after.contains("port = 22   # sshd"));
    let c = config::load(&cfg).expect("valid");
    assert_eq!(c.users.len(), 1);
    let e = remove(&cfg, "alice").unwrap_err().to_string();
    assert!(e.contains("no user named \"alice\""), "{e}");
    assert_eq!(read(&cfg), after, "a refused edit writes nothing");
    only_temp_free(&dir);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn disable_and_enable_change_one_line() {
    let (dir, cfg) = setup("disable");
    let before = read(&cfg);
    set_disabled(&cfg, "bob", true).expect("disable");
    let after = read(&cfg);
    let bob = block(&before, "bob");
    assert_eq!(
        after,
        before.replace(bob, &format!("{bob}disabled = true\n"))
    );
    assert!(config::load(&cfg).expect("valid").users[1].disabled);
    set_disabled(&cfg, "bob", false).expect("enable");
    assert_eq!(read(&cfg), before);
    only_temp_free(&dir);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_command_refuses_a_broken_config_and_leaves_it_alone() {
    let (dir, cfg) = setup("broken");
    let broken = read(&cfg).replace("port = 22", "port = \"twenty-two\"");
    std::fs::write(&cfg, &broken).expect("write");
    let rot = Rotate {
        name: "alice".into(),
        grace_secs: None,
        expires: None,
        issue: issue_to(dir.join("a2.postern"), false),
    };
    let errors = [
        remove(&cfg, "alice").unwrap_err(),
        set_disabled(&cfg, "alice", true).unwrap_err(),
        rotate(&cfg, &rot, NOW).unwrap_err(),
        add(&cfg, &add_req(&dir, "carol", None), NOW).unwrap_err(),
    ];
    for e in errors {
        let e = format!("{e:#}");
        assert!(
            e.starts_with("the config is not valid; fix it first"),
            "{e}"
        );
        assert!(e.contains("posternd.toml:"), "the parser's position: {e}");
    }
    assert_eq!(read(&cfg), broken);
    assert!(!dir.join("a2.postern").exists() && !dir.join("carol.postern").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn rotate_keeps_the_old_key_for_the_grace_and_issues_a_sealed_profile() {
    let (dir, cfg) = setup("rotate");
    let before = read(&cfg);
    let old = config::load(&cfg).expect("valid").users[0].key.clone();
    let out = dir.join("alice2.postern");
    let said = rotate(
        &cfg,
        &Rotate {
            name: "alice".into(),
            grace_secs: Some(3600),
            expires: Some(UnixTime(NOW.0 + 14 * 86_400)),
            issue: issue_to(out.clone(), true),
        },
        UnixTime(NOW.0 + 100),
    )
    .expect("rotate");
    assert!(said.contains("until 2027-01-15T09:01:40Z"), "{said}");
    let after = read(&cfg);
    // Bob's block and everything outside alice's are untouched.
    assert_eq!(block(&after, "bob"), block(&before, "bob"));
    let alice_before = block(&before, "alice");
    let alice_after = block(&after, "alice");
    assert_eq!(
        after.replace(alice_after, ""),
        before.replace(alice_before, "")
    );
    let c = config::load(&cfg).expect("valid");
    let a = &c.users[0];
    assert_ne!(a.key, old);
    assert_eq!(a.previous_key.as_ref(), Some(&old));
    assert_eq!(
        a.previous_key_until.map(|w| w.0),
        Some(UnixTime(NOW.0 + 3700))
    );
    assert_eq!(a.key_issued.map(|w| w.0), Some(UnixTime(NOW.0 + 100)));
    assert_eq!(a.expires.map(|w| w.0), Some(UnixTime(NOW.0 + 14 * 86_400)));
    // The passphrase is printed once, indented on its own line; it opens
    // the sealed file, which holds the new key.
    let pass = said
        .lines()
        .find(|l| l.starts_with("    "))
        .expect("passphrase line")
        .trim();
    assert_eq!(pass.split(' ').count(), crate::admin::passphrase::WORDS);
    let sealed = read(&out);
    assert!(postern_proto::seal::is_sealed(&sealed));
    let opened = postern_proto::seal::open(&sealed, pass).expect("opens");
    let (body, signer) = postern_proto::sign::verify_text(&opened).expect("signed");
    assert!(signer.is_some());
    let p = postern_proto::profile::parse(body, "p").expect("profile");
    assert_eq!(p.method.key(), Some(&a.key));
    assert!(postern_proto::seal::open(&sealed, "wrong words").is_err());
    // Rotating again replaces the previous key; without a grace it ends now.
    rotate(
        &cfg,
        &Rotate {
            name: "alice".into(),
            grace_secs: None,
            expires: None,
            issue: issue_to(dir.join("alice3.postern"), false),
        },
        UnixTime(NOW.0 + 200),
    )
    .expect("rotate again");
    let c = config::load(&cfg).expect("valid");
    assert_eq!(c.users[0].previous_key.as_ref(), Some(&a.key));
    assert_eq!(
        c.users[0].previous_key_until.map(|w| w.0),
        Some(UnixTime(NOW.0 + 200))
    );
    only_temp_free(&dir);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn list_shows_access_expiry_state_and_key_age() {
    let (dir, cfg) = setup("list");
    add(
        &cfg,
        &add_req(&dir, "carol", Some(UnixTime(NOW.0 + 86_400))),
        NOW,
    )
    .expect("add");
    assert!(read(&cfg).contains("expires = 2027-01-16T08:00:00Z"));
    set_disabled(&cfg, "bob", true).expect("disable");
    let later = UnixTime(NOW.0 + 3 * 86_400);
    let text = list(&cfg, false, later).expect("list");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert_eq!(
        lines[0],
        "alice: doors ssh; by spa; from anywhere; no expiry; key 3 days old"
    );
    assert!(
        lines[1].starts_with("bob:") && lines[1].ends_with("; DISABLED"),
        "{text}"
    );
    assert!(lines[2].contains("EXPIRED 2027-01-16T08:00:00Z"), "{text}");
    let json: serde_json::Value =
        serde_json::from_str(&list(&cfg, true, later).expect("json")).expect("valid json");
    assert_eq!(json[2]["name"], "carol");
    assert_eq!(json[2]["expired"], true);
    assert_eq!(json[1]["disabled"], true);
    assert_eq!(json[0]["methods"][0], "spa");
    assert_eq!(json[0]["key_age_days"], 3);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn rotate_says_that_fwknop_keys_stay_and_leaves_them_alone() {
    use postern_proto::method::fwknop::captured::{HMAC_B64 as HMAC, KEY_B64 as KEY};
    let (dir, cfg) = setup("rotate-fwknop");
    let text = read(&cfg).replace(
        "\n[[user]]\nname = \"alice\"\n",
        &format!(
            "\n[[user]]\nname = \"alice\"\nfwknop_key = \"{KEY}\"\nfwknop_hmac_key = \"{HMAC}\"\n"
        ),
    );
    std::fs::write(&cfg, text).expect("write");
    assert!(
        config::load(&cfg).expect("valid").users[0]
            .fwknop_key
            .is_some(),
        "the test config gives alice fwknop keys"
    );
    let rot = |name: &str, out: &str| Rotate {
        name: name.into(),
        grace_secs: None,
        expires: None,
        issue: issue_to(dir.join(out), false),
    };

    let said = rotate(&cfg, &rot("alice", "alice2.postern"), NOW).expect("rotate");
    assert!(
        said.contains(
            "warning: alice also has fwknop keys (fwknop_key, fwknop_hmac_key), which rotate \
             does not replace: they keep opening alice's doors."
        ),
        "{said}"
    );
    let a = config::load(&cfg).expect("valid").users[0].clone();
    assert_eq!(a.fwknop_key.as_deref(), Some(KEY));
    assert_eq!(a.fwknop_hmac_key.as_deref(), Some(HMAC));

    // A user without fwknop keys is not warned.
    let said = rotate(&cfg, &rot("bob", "bob2.postern"), NOW).expect("rotate bob");
    assert!(!said.contains("fwknop keys"), "{said}");
    let _ = std::fs::remove_dir_all(&dir);
}
