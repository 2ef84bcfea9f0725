//! The benchmark run: latency rows, floods, memory; then the report.

use crate::flood::{self, Junk, Link, Sources};
use crate::stats::{ProcUsage, Row, ms, proc_usage};
use crate::systems::{self, DOOR, Env, FWKNOP_KNOCK, FWKNOP_TO_POSTERN, Kind, Knocker, SPA_PORT};
use crate::{probe, report};
use anyhow::{Context, Result, bail};
use postern_server::netns::{EchoServer, NetnsPair, is_root, run_in};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

#[derive(Debug, clap::Parser)]
#[command(about = "Postern vs knockd vs fwknopd, side by side in network namespaces")]
pub struct Opts {
    /// Knocks per latency row.
    #[arg(long, default_value_t = 30)]
    pub n: usize,
    /// Valid knocks attempted during each flood.
    #[arg(long, default_value_t = 8)]
    pub flood_knocks: usize,
    /// Junk packets per second during floods.
    #[arg(long, default_value_t = 105_000)]
    pub flood_pps: u64,
    /// Directory with the release `posternd` and `postern`.
    #[arg(long, default_value = "target/release")]
    pub bin_dir: PathBuf,
    /// Markdown file whose bench section is replaced.
    #[arg(long, default_value = "docs/benchmarks.md")]
    pub out: PathBuf,
    /// The command line to print in the report.
    #[arg(long, default_value = "scripts/bench.sh")]
    pub command: String,
    /// Skip the floods and the memory test (latency only).
    #[arg(long)]
    pub latency_only: bool,
    /// Only the rows whose "system — method" (latency), "system — junk"
    /// (floods) or "system — memory" contains this text (for a quick look;
    /// the report then has just those rows).
    #[arg(long)]
    pub only: Option<String>,
    /// Keep the work directory (configs, profiles, daemon logs) and print
    /// where it is.
    #[arg(long)]
    pub keep: bool,
}

pub struct Flooded {
    pub system: String,
    pub junk: String,
    pub sent: flood::Sent,
    /// Knock → open of the valid knocks that opened, in milliseconds.
    pub opened_ms: Vec<f64>,
    pub tried: usize,
    pub cpu_share: f64,
    pub peak_rss_kib: u64,
}

pub struct Memory {
    pub system: String,
    pub sources: u64,
    pub pps: f64,
    pub rss_before_kib: u64,
    pub peak_rss_kib: u64,
    pub bound_kib: Option<u64>,
}

pub struct Results {
    pub rows: Vec<Row>,
    pub floods: Vec<Flooded>,
    pub memory: Vec<Memory>,
}

pub fn run(opts: &Opts) -> Result<()> {
    if !is_root() {
        bail!("needs root (network namespaces, firewalls, raw sockets): sudo scripts/bench.sh");
    }
    let posternd = std::fs::canonicalize(opts.bin_dir.join("posternd"))
        .context("posternd binary (build with --release)")?;
    let postern = std::fs::canonicalize(opts.bin_dir.join("postern"))
        .context("postern binary (build with --release)")?;
    let dir = std::env::temp_dir().join(format!("postern-bench-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("client"))?;
    let net = NetnsPair::create(&format!("pb{}", std::process::id()), 77)?;
    let _echo = EchoServer::start(&net.server, DOOR)?;
    let env = Env {
        net: &net,
        dir: &dir,
        posternd: &posternd,
        postern: &postern,
    };
    let result = measure(opts, &env);
    if opts.keep {
        println!("kept {}", dir.display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
    let results = result?;
    report::write(opts, &results)?;
    println!("wrote {}", opts.out.display());
    Ok(())
}

impl Opts {
    /// Whether the row of `system` labelled `what` is to be measured.
    fn wants(&self, system: Kind, what: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|o| format!("{} — {what}", system.name()).contains(o.as_str()))
    }
}

fn measure(opts: &Opts, env: &Env<'_>) -> Result<Results> {
    let mut rows = Vec::new();
    for kind in [Kind::Postern, Kind::Knockd, Kind::Fwknopd, Kind::FwknopdUdp] {
        let knockers: Vec<Knocker> = systems::knockers(kind, env)?
            .into_iter()
            .filter(|k| opts.wants(kind, &k.label))
            .collect();
        if knockers.is_empty() {
            continue;
        }
        let running = systems::start(kind, env, 65_536)?;
        eprintln!(
            "latency: {}, {} rows measured in turns, {} knocks each",
            kind.name(),
            knockers.len(),
            opts.n
        );
        for row in latency_rows(env, kind, &knockers, opts.n) {
            eprintln!(
                "  {}: median {:?} ms, {} failed",
                row.method,
                row.median(),
                row.failed
            );
            rows.push(row);
        }
        running.stop(env);
    }
    let mut floods = Vec::new();
    let mut memory = Vec::new();
    if !opts.latency_only {
        let link = link(env)?;
        // (system, the knock made during the flood, junk, label)
        let scenarios: Vec<(Kind, &str, Junk, &str)> = vec![
            (
                Kind::Postern,
                "SPA (UDP)",
                Junk::Udp { port: SPA_PORT },
                "UDP junk → SPA port",
            ),
            (
                Kind::Postern,
                "static sequence (3 knocks)",
                Junk::Syn { port: 7000 },
                "SYNs → 1st sequence port",
            ),
            (
                Kind::Knockd,
                "static sequence (3 knocks), `knock`",
                Junk::Syn { port: 7000 },
                "SYNs → 1st sequence port",
            ),
            (
                Kind::Fwknopd,
                FWKNOP_KNOCK,
                Junk::Udp { port: SPA_PORT },
                "UDP junk → SPA port",
            ),
            // fwknop clients: Debian's fwknop against posternd, fwknopd and
            // fwknopd's UDP server, under random bytes and under base64
            // text that passes fwknop's cheap checks.
            (
                Kind::Postern,
                FWKNOP_TO_POSTERN,
                Junk::Udp { port: SPA_PORT },
                "UDP junk → SPA port, `fwknop` knocks",
            ),
            (
                Kind::Postern,
                FWKNOP_TO_POSTERN,
                Junk::Base64 { port: SPA_PORT },
                "base64 junk → SPA port, `fwknop` knocks",
            ),
            (
                Kind::Fwknopd,
                FWKNOP_KNOCK,
                Junk::Base64 { port: SPA_PORT },
                "base64 junk → SPA port",
            ),
            (
                Kind::FwknopdUdp,
                FWKNOP_KNOCK,
                Junk::Udp { port: SPA_PORT },
                "UDP junk → SPA port",
            ),
            (
                Kind::FwknopdUdp,
                FWKNOP_KNOCK,
                Junk::Base64 { port: SPA_PORT },
                "base64 junk → SPA port",
            ),
        ];
        for (kind, knocker, junk, label) in scenarios {
            for spoofed in [false, true] {
                if !opts.wants(kind, &flood_label(label, spoofed)) {
                    continue;
                }
                eprintln!("flood: {} {label} spoofed={spoofed}", kind.name());
                floods.push(flood_row(
                    opts, env, &link, kind, knocker, junk, label, spoofed,
                )?);
            }
        }
        // 1 M distinct sources only exist in IPv6 (198.18.0.0/15 has 131 072).
        for kind in [Kind::Postern, Kind::Knockd] {
            if !opts.wants(kind, "memory") {
                continue;
            }
            eprintln!("memory: {} under 1M distinct sources", kind.name());
            memory.push(memory_row(opts, env, &link, kind)?);
        }
    }
    Ok(Results {
        rows,
        floods,
        memory,
    })
}

fn door(env: &Env<'_>) -> SocketAddr {
    SocketAddr::new(env.net.server_v4, DOOR)
}

/// Waits (up to 8 s) until the door refuses again.
fn wait_closed(env: &Env<'_>) {
    let to = door(env);
    let deadline = Instant::now() + Duration::from_secs(8);
    while Instant::now() < deadline {
        let closed = run_in(&env.net.client, move || {
            !probe::answers(to, Duration::from_millis(150))
        })
        .unwrap_or(false);
        if closed {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// One knock: start the client, probe until open. `None`: did not open
/// within `within`.
fn timed_knock(env: &Env<'_>, k: &Knocker, trial: usize, within: Duration) -> Option<Duration> {
    let to = door(env);
    let k = k.clone();
    let args = k
        .variants
        .get(trial % k.variants.len().max(1))
        .cloned()
        .unwrap_or_default();
    if k.in_process {
        let profile = args.last().and_then(|p| std::fs::read_to_string(p).ok())?;
        let profile = postern_proto::profile::parse(&profile, "bench").ok()?;
        return run_in(&env.net.client, move || {
            let t0 = Instant::now();
            let mut io = postern_client::engine::Io {
                sink: &mut postern_client::engine::transmit::SocketSink::default(),
                sleeper: &mut postern_client::engine::transmit::ThreadSleeper,
                probe: &mut postern_client::engine::verify::TcpProbe::default(),
                now: &postern_client::engine::unix_now,
                rng: &mut rand::rng(),
                addresses: None,
                time: None,
            };
            let opts = postern_client::engine::KnockOptions::default();
            let _report =
                postern_client::engine::knock(&profile, None, &opts, &mut io, &mut |_| {}).ok()?;
            probe::first_open(to, t0 + within).map(|t| t - t0)
        })
        .ok()
        .flatten();
    }
    run_in(&env.net.client, move || {
        let t0 = Instant::now();
        let child = std::process::Command::new(&k.program)
            .args(&args)
            .envs(k.env.iter().map(|(a, b)| (a.as_str(), b.as_str())))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
        let Ok(mut child) = child else { return None };
        let opened = probe::first_open(to, t0 + within);
        let _ = child.wait();
        opened.map(|t| t - t0)
    })
    .ok()
    .flatten()
}

/// All rows of one system, measured in turns (knock 1 of every row, then
/// knock 2, …) rather than one row after the other: whatever drifts during
/// a run (other tenants of the host, the daemon warming up) then shifts
/// every row alike, so rows compare fairly — e.g. `postern` against the
/// in-process engine, which differ by a fraction of a millisecond.
fn latency_rows(env: &Env<'_>, kind: Kind, knockers: &[Knocker], n: usize) -> Vec<Row> {
    let mut rows: Vec<Row> = knockers
        .iter()
        .map(|k| Row {
            system: kind.name().into(),
            method: k.label.clone(),
            samples: Vec::new(),
            failed: 0,
        })
        .collect();
    // One warm-up knock per row (page cache, ARP), not counted.
    for k in knockers {
        wait_closed(env);
        let _ = timed_knock(env, k, 0, Duration::from_secs(3));
    }
    for trial in 1..=n {
        for (k, row) in knockers.iter().zip(rows.iter_mut()) {
            wait_closed(env);
            std::thread::sleep(Duration::from_millis(rand::random_range(20..80)));
            match timed_knock(env, k, trial, Duration::from_secs(3)) {
                Some(d) => row.samples.push(ms(d)),
                None => row.failed += 1,
            }
        }
    }
    rows
}

fn link(env: &Env<'_>) -> Result<Link> {
    let mac = |ns: &str, dev: &str| -> Result<[u8; 6]> {
        flood::parse_mac(
            &env.net
                .exec(ns, &["cat", &format!("/sys/class/net/{dev}/address")])?,
        )
    };
    let (IpAddr::V4(attacker_v4), IpAddr::V4(server_v4), IpAddr::V6(server_v6)) =
        (env.net.client_v4_alt, env.net.server_v4, env.net.server_v6)
    else {
        bail!("unexpected address families");
    };
    Ok(Link {
        iface: "pcl0".into(),
        src_mac: mac(&env.net.client, "pcl0")?,
        dst_mac: mac(&env.net.server, &env.net.server_if)?,
        attacker_v4,
        server_v4,
        server_v6,
    })
}

fn flood_label(junk: &str, spoofed: bool) -> String {
    format!("{junk}{}", if spoofed { ", spoofed sources" } else { "" })
}

#[allow(clippy::too_many_arguments)]
fn flood_row(
    opts: &Opts,
    env: &Env<'_>,
    link: &Link,
    kind: Kind,
    knocker: &str,
    junk: Junk,
    label: &str,
    spoofed: bool,
) -> Result<Flooded> {
    let k = systems::knockers(kind, env)?
        .into_iter()
        .find(|k| k.label == knocker)
        .with_context(|| format!("no {} knock labelled {knocker:?}", kind.name()))?;
    let running = systems::start(kind, env, 65_536)?;
    let before = proc_usage(running.pid());
    let stop = Arc::new(AtomicBool::new(false));
    let spec = flood::Spec {
        junk,
        sources: if spoofed {
            Sources::SpoofedV4
        } else {
            Sources::Attacker
        },
        pps: opts.flood_pps,
        packets: flood::MAX_PACKETS,
        seconds: 20,
    };
    let link_copy = link.clone();
    let ns = env.net.client.clone();
    let flag = Arc::clone(&stop);
    let sender =
        std::thread::spawn(move || run_in(&ns, move || flood::run(&link_copy, spec, &flag)));
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_millis(500));
    let mut opened_ms = Vec::new();
    for trial in 0..opts.flood_knocks {
        wait_closed(env);
        if let Some(d) = timed_knock(env, &k, trial, Duration::from_millis(1500)) {
            opened_ms.push(ms(d));
        }
    }
    let wall = t0.elapsed().as_secs_f64();
    let after = proc_usage(running.pid());
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let sent = sender
        .join()
        .map_err(|_| anyhow::anyhow!("flood thread panicked"))???;
    running.stop(env);
    Ok(Flooded {
        system: kind.name().into(),
        junk: flood_label(label, spoofed),
        sent,
        opened_ms,
        tried: opts.flood_knocks,
        cpu_share: (after.cpu - before.cpu) / wall,
        peak_rss_kib: after.peak_rss_kib,
    })
}

fn memory_row(opts: &Opts, env: &Env<'_>, link: &Link, kind: Kind) -> Result<Memory> {
    let max_sources = 65_536;
    let running = systems::start(kind, env, max_sources)?;
    // Postern also watches IPv6; knockd listens on the interface for any family.
    let before: ProcUsage = proc_usage(running.pid());
    let stop = Arc::new(AtomicBool::new(false));
    let spec = flood::Spec {
        junk: Junk::Syn { port: 7000 },
        sources: Sources::DistinctV6,
        pps: opts.flood_pps.max(100_000),
        packets: 1_000_000,
        seconds: 30,
    };
    let link_copy = link.clone();
    let sent = run_in(&env.net.client, move || flood::run(&link_copy, spec, &stop))??;
    std::thread::sleep(Duration::from_millis(500));
    let after = proc_usage(running.pid());
    running.stop(env);
    let bound = (kind == Kind::Postern).then(|| {
        (postern_server::matcher::SourceTable::bound_bytes(max_sources) / 1024) as u64
            + before.rss_kib
    });
    Ok(Memory {
        system: kind.name().into(),
        sources: sent.packets,
        pps: sent.pps(),
        rss_before_kib: before.rss_kib,
        peak_rss_kib: after.peak_rss_kib,
        bound_kib: bound,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn only_selects_rows_of_every_kind_by_their_text() {
        let all = Opts::parse_from(["postern-bench"]);
        assert!(all.wants(Kind::Fwknopd, "memory"));
        let syn_floods = Opts::parse_from(["postern-bench", "--only", "Postern — SYNs"]);
        assert!(syn_floods.wants(
            Kind::Postern,
            &flood_label("SYNs → 1st sequence port", true)
        ));
        assert!(!syn_floods.wants(
            Kind::Knockd,
            &flood_label("SYNs → 1st sequence port", false)
        ));
        assert!(!syn_floods.wants(Kind::Postern, "SPA (UDP)"));
        assert!(!syn_floods.wants(Kind::Postern, "memory"));
        // `--only fwknop`: every row with an fwknop client, on both
        // servers, and nothing else.
        let fwknop = Opts::parse_from(["postern-bench", "--only", "fwknop"]);
        assert!(fwknop.wants(Kind::Postern, FWKNOP_TO_POSTERN));
        assert!(fwknop.wants(Kind::FwknopdUdp, FWKNOP_KNOCK));
        assert!(fwknop.wants(
            Kind::Postern,
            &flood_label("base64 junk → SPA port, `fwknop` knocks", true)
        ));
        assert!(!fwknop.wants(Kind::Postern, "SPA (UDP)"));
        assert!(!fwknop.wants(Kind::Postern, "memory"));
    }
}
