//! Client start-up alone: the time from spawning a command to the first UDP
//! datagram it sends, on loopback, for comparing builds of `postern`
//! (docs/benchmarks.md). The commands run in turns, with a pause before each
//! so the CPUs are idle as in the end-to-end benchmark.
//!
//! ```text
//! cargo run --release -p postern-bench --example spawn_to_packet -- \
//!     300 30 target/release/postern /tmp/postern-before
//! ```
//!
//! Arguments: runs per binary, pause in ms, then the `postern`-like
//! binaries; each is run as `BINARY knock PROFILE` with an SPA profile (a
//! random key) for 127.0.0.1, written to a temporary directory here.

use anyhow::{Context, Result, bail};
use std::net::UdpSocket;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [runs, pause, bins @ ..] = args.as_slice() else {
        bail!("usage: spawn_to_packet RUNS PAUSE_MS BINARY…");
    };
    let runs: usize = runs.parse().context("RUNS")?;
    let pause = Duration::from_millis(pause.parse().context("PAUSE_MS")?);
    if runs == 0 || bins.is_empty() {
        bail!("usage: spawn_to_packet RUNS PAUSE_MS BINARY…");
    }
    let listener = UdpSocket::bind("127.0.0.1:0")?;
    listener.set_read_timeout(Some(Duration::from_secs(3)))?;
    let port = listener.local_addr()?.port();
    let dir = std::env::temp_dir().join(format!("spawn-to-packet-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let profile = dir.join("loopback.postern");
    let key: [u8; 32] = rand::random();
    use base64::Engine as _;
    std::fs::write(
        &profile,
        format!(
            "version = 1\nname = \"loopback\"\nhost = \"127.0.0.1\"\n\
             server_id = \"00112233445566778899aabbccddeeff\"\nip = \"v4\"\n\
             [[door]]\nproto = \"tcp\"\nport = 22\n\
             [method]\nkind = \"spa\"\nuser = \"bench\"\nport = {port}\nkey = \"{}\"\n",
            base64::engine::general_purpose::STANDARD.encode(key)
        ),
    )?;
    let mut samples = vec![Vec::with_capacity(runs); bins.len()];
    let mut buf = [0u8; 2048];
    for _ in 0..runs {
        for (bin, times) in bins.iter().zip(samples.iter_mut()) {
            std::thread::sleep(pause);
            let t0 = Instant::now();
            let mut child = Command::new(bin)
                .arg("knock")
                .arg(&profile)
                .env("POSTERN_CONFIG_DIR", dir.join("config"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .with_context(|| format!("starting {bin}"))?;
            let got = listener.recv(&mut buf);
            let elapsed = t0.elapsed();
            child.wait()?;
            got.with_context(|| format!("{bin} sent nothing within 3 s"))?;
            times.push(elapsed.as_secs_f64() * 1e3);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    for (bin, times) in bins.iter().zip(samples.iter_mut()) {
        times.sort_by(f64::total_cmp);
        let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
        println!(
            "{bin}: spawn → first packet min {:.3} ms, median {:.3} ms, p90 {:.3} ms ({} runs)",
            at(0.0),
            at(0.5),
            at(0.9),
            times.len()
        );
    }
    Ok(())
}
