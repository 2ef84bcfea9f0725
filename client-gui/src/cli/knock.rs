//! `postern knock`: a profile → the engine → one line of output. Shared by
//! both command-line binaries; they differ only in where a profile's key
//! and the "what is my address" lookup can come from, which the caller
//! passes in (see `knock_file_alone` in main.rs for `postern`'s part).

use crate::args::{KnockArgs, KnockFailed};
use anyhow::{Context, anyhow};
use postern_client::engine::resolve::AddressService;
use postern_client::engine::transmit::{SocketSink, ThreadSleeper};
use postern_client::engine::verify::{TcpProbe, Verdict};
use postern_client::engine::{self, Io, KnockEvent, KnockOptions};
use postern_client::store::HostStore;
use postern_client::store::files::{FileStore, config_dir};
use postern_proto::UserKey;
use postern_proto::profile::{IpPreference, Profile};
use postern_proto::sign;
use rand::TryRngCore;
use rand::rngs::OsRng;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::Duration;

pub type CmdResult = anyhow::Result<()>;

pub fn host_store() -> anyhow::Result<FileStore> {
    Ok(FileStore::new(config_dir()?))
}

pub fn read_text(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// A profile file's (decrypted) text → its profile. Refuses a file signed
/// by another key than the administrator key already trusted for its
/// server.
pub fn profile_from_text(text: &str, target: &str, hosts: &FileStore) -> anyhow::Result<Profile> {
    let file =
        sign::read_profile_file(text, target).with_context(|| format!("refusing {target}"))?;
    // An unsigned file has nobody to compare with the trusted signer, so
    // the signer list is only read for a signed one.
    if let Some(s) = &file.signer
        && let Some(known) = hosts
            .signers()?
            .by_server
            .get(&file.profile.server_id.to_hex())
        && known.public_key != s.to_text()
    {
        return Err(anyhow!(
            "refusing {target}: it is signed by {}, but this server's trusted administrator key is {}",
            s.fingerprint(),
            known.fingerprint
        ));
    }
    Ok(file.profile)
}

/// Knocks `profile` as `a` asks and prints the outcome.
pub fn knock(
    profile: &Profile,
    key: Option<&UserKey>,
    a: &KnockArgs,
    addresses: Option<&mut (dyn AddressService + 'static)>,
) -> CmdResult {
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
        addresses,
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
        KnockEvent::Verifying(addr) => eprintln!("postern: waiting for {addr} to open"),
        KnockEvent::Reknocking => eprintln!("postern: still closed; knocking once more"),
    };
    let report =
        engine::knock(profile, key, &opts, &mut io, &mut on_event).map_err(|e| match e {
            engine::KnockError::Plan(_) => anyhow!(e),
            _ => anyhow!(KnockFailed(anyhow!(e))),
        })?;
    match report.verdict {
        None => {
            println!(
                "knocked {:?}: {} packets sent",
                profile.name, report.packets
            );
            Ok(())
        }
        Some(v) if v.is_open() || v == Verdict::NoTcpDoor => {
            println!("{}: {v}", profile.name);
            Ok(())
        }
        Some(v) => Err(anyhow!(KnockFailed(anyhow!("{}: {v}", profile.name)))),
    }
}
