//! `postern knock`: a saved host or a profile file → the engine → one line
//! of output.
//!
//! What it needs besides the file is set up only when the profile asks for
//! it (main.rs says why): the keyring when the key is not in the file, the
//! passphrase prompt when the file is encrypted, the HTTPS lookup when
//! `allow.mode = "url"` (the engine calls the service only then).

use crate::args::{KnockArgs, KnockFailed};
use crate::commands::{host_store, passphrase_for, read_text, secret_store};
use anyhow::{Context, anyhow};
use postern_client::engine::clock::{ClockCheck, SntpTimeService, Span};
use postern_client::engine::resolve::HttpsAddressService;
use postern_client::engine::transmit::{SocketSink, ThreadSleeper};
use postern_client::engine::verify::{TcpProbe, Verdict};
use postern_client::engine::{self, Io, KnockEvent, KnockOptions};
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
            text =
                seal::open(&text, &pass).with_context(|| format!("cannot decrypt {}", a.target))?;
        }
        profile_from_text(&text, &a.target, &hosts)?
    } else {
        let saved = hosts.host(&a.target)?.ok_or_else(|| {
            let hint = if path.is_file() {
                format!("; to knock the file of that name, write ./{}", a.target)
            } else {
                String::new()
            };
            anyhow!(
                "no saved host called {:?}{hint}; `postern list` shows the saved hosts",
                a.target
            )
        })?;
        (saved, Origin::Saved)
    };
    let mut key = profile.method.take_key();
    if key.is_none() && profile.method.needs_key() {
        stored_key_allowed(&profile, origin, &a.target)?;
        let account = secret_account(&profile).unwrap_or_default();
        key = secret_store(strict)?.get(&account)?;
        if key.is_none() {
            return Err(anyhow!(
                "the key for {:?} is not in the keyring; import its profile again",
                profile.name
            ));
        }
    }
    if let MethodSpec::Fwknop { hmac, .. } = profile.method
        && profile.method.needs_fwknop_keys()
    {
        stored_key_allowed(&profile, origin, &a.target)?;
        let account = secret_account(&profile).unwrap_or_default();
        let keys = get_fwknop(&*secret_store(strict)?, &account, hmac)?.ok_or_else(|| {
            anyhow!(
                "the fwknop keys for {:?} are not in the keyring; add the host again",
                profile.name
            )
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
        Origin::OtherFile => Err(anyhow!(
            "refusing {target}: it carries no key and is not signed by the administrator              trusted for its server, so the key saved for {:?} is not used with it;              knock the saved host by its name, or import a signed profile",
            profile.name
        )),
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
    let file =
        sign::read_profile_file(text, target).with_context(|| format!("refusing {target}"))?;
    let Some(s) = &file.signer else {
        return Ok((file.profile, Origin::OtherFile));
    };
    let signers = hosts.signers()?;
    match signers.by_server.get(&file.profile.server_id.to_hex()) {
        Some(known) if known.public_key != s.to_text() => Err(anyhow!(
            "refusing {target}: it is signed by {}, but this server's trusted administrator key is {}",
            s.fingerprint(),
            known.fingerprint
        )),
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
            let a: Vec<String> = a.iter().map(ToString::to_string).collect();
            // Formatted first, then written once: stderr is unbuffered and
            // `eprintln!` would make a system call per piece, all before
            // the first packet.
            let line = format!(
                "postern: knocking {:?} at {} ({})\n",
                profile.name,
                a.join(" and "),
                profile.method.label()
            );
            let _ = std::io::stderr().write_all(line.as_bytes());
        }
        KnockEvent::Packet(p) if tty => {
            eprint!("\rpostern: sent {}/{}", p.index, p.total);
            if p.index == p.total {
                eprintln!();
            }
            let _ = std::io::stderr().flush();
        }
        KnockEvent::Packet(_) => {}
        KnockEvent::CheckingBefore(addr) => {
            eprintln!("postern: checking whether {addr} answers before the knock")
        }
        KnockEvent::Verifying(addr) => eprintln!("postern: waiting for {addr} to open"),
        KnockEvent::Reknocking => eprintln!("postern: still closed; knocking once more"),
        KnockEvent::CheckingClock => {
            eprintln!("postern: asking a time server whether this computer's clock is right")
        }
    };
    let report =
        engine::knock(profile, key, &opts, &mut io, &mut on_event).map_err(|e| match e {
            engine::KnockError::Plan(_) => anyhow!(e),
            _ => anyhow!(KnockFailed(anyhow!(e))),
        })?;
    // Which address the door opens for, and how it was found: the one
    // thing a user behind a NAT needs to see when it does not open.
    for b in &report.bound {
        println!("bound to {b}");
    }
    if report.bound.is_empty() {
        println!("bound to no address: opens for whichever address knocks");
    }
    match report.verdict {
        None => {
            println!(
                "knocked {:?}: {} packets sent",
                profile.name, report.packets
            );
            Ok(())
        }
        Some(v) if v.can_connect() || v == Verdict::NoTcpDoor => {
            println!("{}: {v}", profile.name);
            Ok(())
        }
        Some(v) => {
            if let Some(c) = &report.clock {
                println!("{}", clock_words(c));
            }
            Err(anyhow!(KnockFailed(anyhow!("{}: {v}", profile.name))))
        }
    }
}

/// What the clock check found, in a line: the likely reason when the
/// clock is wrong, else that the clock is not it (or could not be told).
fn clock_words(c: &ClockCheck) -> String {
    match c {
        ClockCheck::Wrong { ahead_secs, server } => {
            let way = if *ahead_secs > 0 { "ahead" } else { "behind" };
            format!(
                "your computer's clock is {} {way} ({server}): set the right time \
                 (or turn on automatic time), then knock again",
                span_words(Span::of(ahead_secs.unsigned_abs()))
            )
        }
        ClockCheck::Right { ahead_secs, server } => {
            format!(
                "your computer's clock is right ({ahead_secs:+} s from {server}), so it is not why"
            )
        }
        ClockCheck::Unknown { why } => format!("could not check your computer's clock: {why}"),
    }
}

fn span_words(s: Span) -> String {
    let (n, unit) = match s {
        Span::Seconds(n) => (n, "second"),
        Span::Minutes(n) => (n, "minute"),
        Span::Hours(n) => (n, "hour"),
        Span::Days(n) => (n, "day"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;

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
