//! `postern knock`: a saved host or a profile file → the engine → one line
//! of output.
//!
//! What it needs besides the file is set up only when the profile asks for
//! it (main.rs says why): the keyring when the key is not in the file, the
//! passphrase prompt when the file is encrypted, the HTTPS lookup when
//! `allow.mode = "url"` (the engine calls the service only then).

use crate::args::{KnockArgs, KnockFailed};
use crate::commands::{host_store, passphrase_for, read_text, secret_store};
use crate::i18n::t;
use anyhow::{Context, anyhow};
use postern_client::engine::bind::BoundBy;
use postern_client::engine::clock::{ClockCheck, SntpTimeService, Span};
use postern_client::engine::resolve::HttpsAddressService;
use postern_client::engine::transmit::{SocketSink, ThreadSleeper};
use postern_client::engine::verify::{TcpProbe, Verdict};
use postern_client::engine::{self, Bound, FailureKind, Io, KnockError, KnockEvent, KnockOptions};
use postern_client::store::files::FileStore;
use postern_client::store::secrets::get_fwknop;
use postern_client::store::{HostStore, secret_account};
use postern_proto::UserKey;
use postern_proto::profile::{IpPreference, MethodSpec, Profile};
use postern_proto::{seal, sign};
use rand::TryRngCore;
use rand::rngs::OsRng;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::Duration;
use zeroize::Zeroizing;

/// `postern knock`.
pub fn run(a: &KnockArgs, strict: bool) -> anyhow::Result<()> {
    let (profile, key) = load_target(a, strict)?;
    knock(&profile, key.as_ref(), a)
}

/// Where a profile came from, which decides whether a key stored in the
/// keyring may be used with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// The saved host, imported (and checked) earlier.
    Saved,
    /// A file signed by the administrator key already trusted for its
    /// server.
    TrustedFile,
    /// A file that is unsigned, or signed by a key nobody trusted yet.
    OtherFile,
}

/// Whether a knock target names a file rather than a saved host. A name
/// always means the saved host: a file called like a host in the current
/// directory must never be picked up instead (someone who can drop a file
/// there would choose what the stored key is used for).
fn looks_like_path(target: &str) -> bool {
    target.contains(std::path::MAIN_SEPARATOR)
        || target.contains('/')
        || Path::new(target)
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("postern"))
}

/// A profile and its key, from a file or from the store.
fn load_target(a: &KnockArgs, strict: bool) -> anyhow::Result<(Profile, Option<UserKey>)> {
    let hosts = host_store()?;
    let path = Path::new(&a.target);
    let (mut profile, origin) = if looks_like_path(&a.target) {
        // The text holds the user's key: wiped from memory when dropped,
        // whether it was read in the clear or decrypted.
        let mut text = Zeroizing::new(read_text(path)?);
        if seal::is_sealed(&text) {
            let pass = passphrase_for(&a.target, a.passphrase_file.as_deref())?;
            text = seal::open(&text, &pass)
                .with_context(|| t!("knock-cannot-decrypt", file = a.target.as_str()))?;
        }
        profile_from_text(&text, &a.target, &hosts)?
    } else {
        let saved = hosts.host(&a.target)?.ok_or_else(|| {
            let name = format!("{:?}", a.target);
            anyhow!(if path.is_file() {
                t!(
                    "knock-no-saved-host-but-file",
                    name = name,
                    file = a.target.as_str()
                )
            } else {
                t!("knock-no-saved-host", name = name)
            })
        })?;
        (saved, Origin::Saved)
    };
    let mut key = profile.method.take_key();
    if key.is_none() && profile.method.needs_key() {
        stored_key_allowed(&profile, origin, &a.target)?;
        let account = secret_account(&profile).unwrap_or_default();
        key = secret_store(strict)?.get(&account)?;
        if key.is_none() {
            return Err(anyhow!(t!(
                "knock-no-key",
                name = format!("{:?}", profile.name)
            )));
        }
    }
    if let MethodSpec::Fwknop { hmac, .. } = profile.method
        && profile.method.needs_fwknop_keys()
    {
        stored_key_allowed(&profile, origin, &a.target)?;
        let account = secret_account(&profile).unwrap_or_default();
        let keys = get_fwknop(&*secret_store(strict)?, &account, hmac)?.ok_or_else(|| {
            anyhow!(t!(
                "knock-no-fwknop-keys",
                name = format!("{:?}", profile.name)
            ))
        })?;
        profile.method.set_fwknop_keys(keys);
    }
    Ok((profile, key))
}

/// A key in the keyring was issued for one saved host: it may be used with
/// that host, or with a file its trusted administrator signed, and never
/// with a file anyone could have written. Otherwise an unsigned file naming
/// the same server and user could aim the stored key at an address of the
/// file writer's choosing (`[allow] mode = "explicit"`).
fn stored_key_allowed(profile: &Profile, origin: Origin, target: &str) -> anyhow::Result<()> {
    match origin {
        Origin::Saved | Origin::TrustedFile => Ok(()),
        Origin::OtherFile => Err(anyhow!(t!(
            "knock-stored-key-refused",
            file = target,
            name = format!("{:?}", profile.name)
        ))),
    }
}

/// A profile file's (decrypted) text → its profile and whether its signer
/// is the one trusted for its server. Refuses a file signed by another key
/// than the administrator key already trusted for its server.
fn profile_from_text(
    text: &str,
    target: &str,
    hosts: &FileStore,
) -> anyhow::Result<(Profile, Origin)> {
    let file = sign::read_profile_file(text, target)
        .with_context(|| t!("knock-refusing", file = target))?;
    let Some(s) = &file.signer else {
        return Ok((file.profile, Origin::OtherFile));
    };
    let signers = hosts.signers()?;
    match signers.by_server.get(&file.profile.server_id.to_hex()) {
        Some(known) if known.public_key != s.to_text() => Err(anyhow!(t!(
            "knock-other-signer",
            file = target,
            signer = s.fingerprint().to_string(),
            trusted = known.fingerprint.as_str()
        ))),
        Some(_) => Ok((file.profile, Origin::TrustedFile)),
        None => Ok((file.profile, Origin::OtherFile)),
    }
}

/// Knocks `profile` as `a` asks and prints the outcome.
fn knock(profile: &Profile, key: Option<&UserKey>, a: &KnockArgs) -> anyhow::Result<()> {
    let opts = KnockOptions {
        decoys: a.decoys,
        ip: match (a.ipv4, a.ipv6) {
            (true, _) => Some(IpPreference::V4),
            (_, true) => Some(IpPreference::V6),
            _ => None,
        },
        verify: a.verify,
        reknock: !a.no_reknock,
        deadline: Duration::from_millis(a.deadline_ms),
        stun_servers: a.stun.clone(),
        time_servers: if a.no_clock_check {
            Vec::new()
        } else if a.time_server.is_empty() {
            KnockOptions::default().time_servers
        } else {
            a.time_server.clone()
        },
        ..KnockOptions::default()
    };
    let tty = std::io::stderr().is_terminal();
    let mut io = Io {
        sink: &mut SocketSink::default(),
        sleeper: &mut ThreadSleeper,
        probe: &mut TcpProbe::default(),
        now: &engine::unix_now,
        // Straight from the kernel: a one-shot command has no use for a
        // user-space generator, and seeding one (ChaCha, CPU feature
        // probing) is start-up time before the first packet.
        rng: &mut OsRng.unwrap_err(),
        // A unit value: nothing of the HTTPS client is set up unless the
        // profile has `allow.mode = "url"`.
        addresses: Some(&mut HttpsAddressService),
        // Asked only after a time-dependent knock stayed closed.
        time: Some(&mut SntpTimeService),
    };
    let mut on_event = |ev: KnockEvent| match ev {
        KnockEvent::Addresses(a) => {
            let addresses = a
                .iter()
                .map(ToString::to_string)
                .reduce(|first, second| t!("knock-and", first = first, second = second))
                .unwrap_or_default();
            // Formatted first, then written once: stderr is unbuffered and
            // `eprintln!` would make a system call per piece, all before
            // the first packet.
            let mut line = t!(
                "knock-knocking",
                name = format!("{:?}", profile.name),
                addresses = addresses,
                method = profile.method.label()
            );
            line.push('\n');
            let _ = std::io::stderr().write_all(line.as_bytes());
        }
        KnockEvent::Packet(p) if tty => {
            let progress = t!("knock-progress", index = p.index, total = p.total);
            eprint!("\r{progress}");
            if p.index == p.total {
                eprintln!();
            }
            let _ = std::io::stderr().flush();
        }
        KnockEvent::Packet(_) => {}
        KnockEvent::CheckingBefore(addr) => {
            eprintln!(
                "{}",
                t!("knock-checking-before", address = addr.to_string())
            )
        }
        KnockEvent::Verifying(addr) => {
            eprintln!("{}", t!("knock-waiting", address = addr.to_string()))
        }
        KnockEvent::Reknocking => eprintln!("{}", t!("knock-reknocking")),
        KnockEvent::CheckingClock => eprintln!("{}", t!("knock-checking-clock")),
    };
    let report = engine::knock(profile, key, &opts, &mut io, &mut on_event).map_err(|e| {
        // What it means and what to do, in plain words; the error itself
        // (the library's, English) follows as the technical detail.
        eprintln!("{}", failure_words(e.kind()));
        match e {
            KnockError::Plan(_) => anyhow!(e),
            _ => anyhow!(KnockFailed(anyhow!(e))),
        }
    })?;
    // Which address the door opens for, and how it was found: the one
    // thing a user behind a NAT needs to see when it does not open.
    for b in &report.bound {
        println!("{}", bound_words(b));
    }
    if report.bound.is_empty() {
        println!("{}", t!("knock-bound-none"));
    }
    match report.verdict {
        None => {
            let line = t!(
                "knock-sent",
                name = format!("{:?}", profile.name),
                packets = report.packets
            );
            println!("{line}");
            Ok(())
        }
        Some(v) if v.can_connect() || v == Verdict::NoTcpDoor => {
            println!("{}", verdict_line(&profile.name, v));
            Ok(())
        }
        Some(v) => {
            if let Some(c) = &report.clock {
                println!("{}", clock_words(c));
            }
            Err(anyhow!(KnockFailed(anyhow!(verdict_line(
                &profile.name,
                v
            )))))
        }
    }
}

/// `NAME: verdict`, the verdict in the user's language (in English what
/// the library's `Verdict::message()` says, which scripts parse).
fn verdict_line(name: &str, v: Verdict) -> String {
    t!("knock-verdict", name = name, verdict = verdict_words(v))
}

fn verdict_words(v: Verdict) -> String {
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    match v {
        Verdict::Open { after, reknocked } => t!(
            "verdict-open",
            ms = after.as_millis().to_string(),
            reknocked = yes_no(reknocked)
        ),
        Verdict::StillClosed { reknocked } => {
            t!("verdict-still-closed", reknocked = yes_no(reknocked))
        }
        Verdict::AnsweredBeforeKnock => t!("verdict-answered-before"),
        Verdict::NoTcpDoor => t!("verdict-no-tcp-door"),
    }
}

/// `bound to ADDRESS (how it was found)`.
fn bound_words(b: &Bound) -> String {
    let by = match &b.by {
        BoundBy::OwnAddress => t!("bound-by-own-address"),
        BoundBy::SameNetwork => t!("bound-by-same-network"),
        BoundBy::Stun { servers } => t!("bound-by-stun", servers = servers.join(", ")),
        BoundBy::Explicit => t!("bound-by-explicit"),
        BoundBy::Url { url } => t!("bound-by-url", url = url.as_str()),
    };
    t!("knock-bound", address = b.address.to_string(), by = by)
}

/// A failed knock's kind as one plain sentence and what to do about it
/// (the desktop window's card says the same).
fn failure_words(kind: FailureKind) -> String {
    match kind {
        FailureKind::Offline => t!("failure-offline"),
        FailureKind::NameNotFound => t!("failure-name-not-found"),
        FailureKind::OwnAddressUnknown => t!("failure-own-address-unknown"),
        FailureKind::NeedsPermission => t!("failure-needs-permission"),
        FailureKind::ProfileProblem => t!("failure-profile-problem"),
        FailureKind::Other => t!("failure-other"),
    }
}

/// What the clock check found, in a line: the likely reason when the
/// clock is wrong, else that the clock is not it (or could not be told).
fn clock_words(c: &ClockCheck) -> String {
    match c {
        ClockCheck::Wrong { ahead_secs, server } => {
            let span = span_words(Span::of(ahead_secs.unsigned_abs()));
            if *ahead_secs > 0 {
                t!("clock-ahead", span = span, server = server.as_str())
            } else {
                t!("clock-behind", span = span, server = server.as_str())
            }
        }
        ClockCheck::Right { ahead_secs, server } => t!(
            "clock-right",
            offset = format!("{ahead_secs:+}"),
            server = server.as_str()
        ),
        // Why is the library's (English technical detail).
        ClockCheck::Unknown { why } => t!("clock-unknown", why = why.as_str()),
    }
}

fn span_words(s: Span) -> String {
    match s {
        Span::Seconds(n) => t!("span-seconds", n = n),
        Span::Minutes(n) => t!("span-minutes", n = n),
        Span::Hours(n) => t!("span-hours", n = n),
        Span::Days(n) => t!("span-days", n = n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Scripts parse these lines: in English they are exactly what the
    /// library's own wording says (unit tests run in English, i18n.rs).
    #[test]
    fn english_verdicts_and_bindings_are_the_librarys_words() {
        let mut verdicts = vec![Verdict::AnsweredBeforeKnock, Verdict::NoTcpDoor];
        for reknocked in [false, true] {
            verdicts.push(Verdict::StillClosed { reknocked });
            verdicts.push(Verdict::Open {
                after: Duration::from_millis(1234),
                reknocked,
            });
        }
        for v in verdicts {
            assert_eq!(verdict_words(v), v.message());
            assert_eq!(verdict_line("Office", v), format!("Office: {v}"));
        }
        let address = "198.18.0.7".parse().expect("an address");
        for by in [
            BoundBy::OwnAddress,
            BoundBy::SameNetwork,
            BoundBy::Stun {
                servers: vec!["stun.example:3478".into(), "198.18.0.9:3478".into()],
            },
            BoundBy::Explicit,
            BoundBy::Url {
                url: "https://ip.example/".into(),
            },
        ] {
            let b = Bound { address, by };
            assert_eq!(bound_words(&b), format!("bound to {b}"));
        }
    }

    #[test]
    fn english_clock_words_are_as_before() {
        let server = "time.example".to_owned();
        let wrong = |ahead_secs| ClockCheck::Wrong {
            ahead_secs,
            server: server.clone(),
        };
        let fix =
            "(time.example): set the right time (or turn on automatic time), then knock again";
        assert_eq!(
            clock_words(&wrong(-600)),
            format!("your computer's clock is 10 minutes behind {fix}")
        );
        assert_eq!(
            clock_words(&wrong(1)),
            format!("your computer's clock is 1 second ahead {fix}")
        );
        assert_eq!(
            clock_words(&wrong(3 * 86_400)),
            format!("your computer's clock is 3 days ahead {fix}")
        );
        assert_eq!(
            clock_words(&ClockCheck::Right {
                ahead_secs: 3,
                server: server.clone()
            }),
            "your computer's clock is right (+3 s from time.example), so it is not why"
        );
        assert_eq!(
            clock_words(&ClockCheck::Unknown {
                why: "no answer".into()
            }),
            "could not check your computer's clock: no answer"
        );
    }

    #[test]
    fn each_failure_kind_has_its_own_plain_words() {
        let kinds = FailureKind::ALL;
        let words: std::collections::BTreeSet<String> =
            kinds.into_iter().map(failure_words).collect();
        assert_eq!(words.len(), kinds.len());
        for w in &words {
            assert!(w.starts_with("postern: ") && w.ends_with('.'), "{w}");
        }
    }

    #[test]
    fn a_name_is_a_saved_host_and_a_path_is_a_file() {
        for name in ["office", "Office PC", "db.example.org"] {
            assert!(!looks_like_path(name), "{name}");
        }
        for path in [
            "./office",
            "/tmp/x",
            "alice.postern",
            "ALICE.POSTERN",
            "dir/office",
        ] {
            assert!(looks_like_path(path), "{path}");
        }
    }

    #[test]
    fn a_stored_key_is_never_lent_to_a_file_nobody_trusted() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/tests/fixtures/issued-before-auto.postern"
        ))
        .expect("fixture");
        let profile = sign::read_profile_file(&text, "fixture")
            .expect("fixture parses")
            .profile;
        let e = stored_key_allowed(&profile, Origin::OtherFile, "evil.postern")
            .expect_err("an untrusted file must not use the stored key");
        assert!(
            e.to_string().contains("not signed by the administrator"),
            "{e}"
        );
        stored_key_allowed(&profile, Origin::Saved, "office").expect("saved host");
        stored_key_allowed(&profile, Origin::TrustedFile, "a.postern").expect("trusted file");
    }
}
