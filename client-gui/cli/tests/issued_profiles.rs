//! Profiles as `posternd user add/rotate` issue them, imported with
//! `postern import`: a sealed one with --passphrase-file (a wrong
//! passphrase is refused with a plain message and saves nothing), and a
//! re-issued one that updates the saved host in place and says what
//! changed.

use postern_proto::UnixTime;
use postern_server::admin::init::{InitOptions, init};
use postern_server::admin::user::{AddUser, Issue, IssueMethod, add};
use postern_server::admin::user_life::{Rotate, rotate};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const POSTERN: &str = env!("CARGO_BIN_EXE_postern");
const NOW: UnixTime = UnixTime(1_800_000_000);

/// A server config with an SPA door `rdp` on 3389 and its admin key.
fn server(tag: &str) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("postern-issued-{tag}-{}", std::process::id()));
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
    text.push_str("\n[[door]]\nname = \"rdp\"\nproto = \"tcp\"\nport = 3389\nspa = true\n");
    std::fs::write(&cfg, text).expect("write");
    (dir, cfg)
}

fn issue(out: PathBuf, seal: bool) -> Issue {
    Issue {
        method: IssueMethod::Spa,
        host: None,
        out: Some(out),
        stun: vec![],
        nat_networks: vec![],
        seal,
    }
}

fn postern(dir: &Path, args: &[&str]) -> Output {
    Command::new(POSTERN)
        .args(args)
        .env("POSTERN_CONFIG_DIR", dir.join("client"))
        .env("POSTERN_SECRETS", "file")
        .stdin(Stdio::null())
        .output()
        .expect("run postern")
}

fn saved_hosts(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("client/hosts")).map_or(0, |d| {
        d.filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".toml"))
            .count()
    })
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn a_sealed_profile_from_user_add_imports_with_its_passphrase_file() {
    let (dir, cfg) = server("sealed");
    let file = dir.join("alice.postern");
    let said = add(
        &cfg,
        &AddUser {
            name: "alice".into(),
            doors: vec!["rdp".into()],
            sources: vec![],
            max_duration: 600,
            expires: None,
            issue: issue(file.clone(), true),
        },
        NOW,
    )
    .expect("user add --seal");
    let pass = said
        .lines()
        .find(|l| l.starts_with("    "))
        .expect("the passphrase line")
        .trim()
        .to_owned();
    let f = file.to_str().expect("utf-8");

    let wrong = dir.join("wrong");
    std::fs::write(&wrong, "not the words\n").expect("write");
    let out = postern(
        &dir,
        &[
            "import",
            f,
            "--passphrase-file",
            wrong.to_str().expect("utf-8"),
            "--yes",
        ],
    );
    assert!(!out.status.success());
    let t = text(&out);
    assert!(t.contains("wrong passphrase"), "{t}");
    assert!(t.contains("nothing was saved"), "{t}");
    assert_eq!(saved_hosts(&dir), 0);

    let right = dir.join("pass");
    std::fs::write(&right, format!("{pass}\n")).expect("write");
    let out = postern(
        &dir,
        &[
            "import",
            f,
            "--passphrase-file",
            right.to_str().expect("utf-8"),
            "--yes",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("imported \"rdp on 198.18.0.1\""),
        "{}",
        text(&out)
    );
    assert_eq!(saved_hosts(&dir), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_rotated_profile_updates_the_saved_host_and_says_what_changed() {
    let (dir, cfg) = server("rotated");
    let first = dir.join("bob.postern");
    add(
        &cfg,
        &AddUser {
            name: "bob".into(),
            doors: vec!["rdp".into()],
            sources: vec![],
            max_duration: 600,
            expires: None,
            issue: issue(first.clone(), false),
        },
        NOW,
    )
    .expect("user add");
    let out = postern(&dir, &["import", first.to_str().expect("utf-8"), "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    // The admin moves the door to 3390 and rotates bob's key.
    let moved = std::fs::read_to_string(&cfg)
        .expect("read")
        .replace("port = 3389", "port = 3390");
    std::fs::write(&cfg, moved).expect("write");
    let second = dir.join("bob2.postern");
    rotate(
        &cfg,
        &Rotate {
            name: "bob".into(),
            grace_secs: Some(60),
            expires: None,
            issue: issue(second.clone(), false),
        },
        NOW,
    )
    .expect("user rotate");
    let out = postern(&dir, &["import", second.to_str().expect("utf-8")]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains("updated \"rdp on 198.18.0.1\"") && t.contains(": new key, port 3389 → 3390"),
        "{t}"
    );
    assert_eq!(saved_hosts(&dir), 1);
    let _ = std::fs::remove_dir_all(&dir);
}
