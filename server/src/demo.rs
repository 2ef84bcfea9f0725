//! `posternd demo`: the whole story in two network namespaces, narrated.
//!
//! closed → knock with the real `postern` client → open → after the ttl,
//! closed again for new connections while an established one survives.
//! Everything it creates (namespaces, temp files, processes) is removed
//! at the end, on error, and on Ctrl-C.

use crate::admin::user::{AddUser, Issue, IssueMethod};
use crate::netns::{EchoServer, NetnsPair, echo_works, is_root};
use crate::state::write_atomic;
use anyhow::{Context, Result, bail};
use postern_proto::ServerId;
use postern_proto::sign::AdminKey;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const PORT: u16 = 2222;

/// A child process stopped with SIGTERM (so posternd can fail closed)
/// and reaped when dropped.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn step(n: u32, text: &str) {
    println!("\n[{n}/6] {text}");
}

fn sleep_unless(stop: &AtomicBool, d: Duration) -> Result<()> {
    let end = Instant::now() + d;
    while Instant::now() < end {
        if stop.load(Ordering::Relaxed) {
            bail!("interrupted; cleaning up");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

/// Sets `flag` on Ctrl-C or SIGTERM, so the demo cleans up its namespaces
/// instead of dying with them in place. The signals are registered before
/// this returns; a small runtime on its own thread waits for them.
fn on_interrupt(flag: Arc<AtomicBool>) -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the signal runtime")?;
    let (mut int, mut term) = {
        let _inside = runtime.enter();
        (
            signal(SignalKind::interrupt()).context("listening for SIGINT")?,
            signal(SignalKind::terminate()).context("listening for SIGTERM")?,
        )
    };
    std::thread::spawn(move || {
        runtime.block_on(async {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
        });
        flag.store(true, Ordering::Relaxed);
    });
    Ok(())
}

/// Runs the demo; `client` is the `postern` binary (default: beside us).
pub fn run(client: Option<PathBuf>, ttl: u32) -> Result<()> {
    if !is_root() {
        bail!(
            "the demo needs root (it creates network namespaces and firewall rules): sudo posternd demo"
        );
    }
    let me = std::env::current_exe().context("finding posternd's own path")?;
    let client = match client {
        Some(c) => c,
        None => me.with_file_name("postern"),
    };
    if !client.exists() {
        bail!(
            "the client {} does not exist; build it with `cargo build --release -p postern` or pass --client",
            client.display()
        );
    }
    let stop = Arc::new(AtomicBool::new(false));
    on_interrupt(Arc::clone(&stop))?;

    let pid = std::process::id();
    let work = TempDir(std::env::temp_dir().join(format!("postern-demo-{pid}")));
    crate::state::ensure_dir(&work.0)?;
    let net = NetnsPair::create(&format!("pdemo{pid}"), 0)?;
    step(
        1,
        &format!(
            "Two network namespaces joined by a veth: server {} ({}), client {} ({}).",
            net.server_v4, net.server, net.client_v4, net.client
        ),
    );
    let (cfg_path, profile) = write_config(&work.0, &net, ttl)?;
    println!(
        "      posternd config: {}\n      signed profile for user \"demo\": {}",
        cfg_path.display(),
        profile.display()
    );
    let _echo = EchoServer::start(&net.server, PORT)?;

    step(
        2,
        &format!(
            "Before posternd runs, the service on {}:{PORT} answers:",
            net.server_v4
        ),
    );
    report_connect(&net, true)?;

    let daemon = start_daemon(&net, &me, &cfg_path, &stop)?;
    step(
        3,
        &format!("posternd guards port {PORT}. A connection attempt from the client is dropped:"),
    );
    report_connect(&net, false)?;

    step(
        4,
        &format!(
            "The client knocks (SPA) with the real client: postern knock {} --verify",
            profile.display()
        ),
    );
    let status = net
        .command(&net.client, &client)
        .args(["knock", &profile.display().to_string(), "--verify"])
        .env("POSTERN_CONFIG_DIR", work.0.join("client"))
        .status()
        .context("running the client")?;
    if !status.success() {
        bail!("the knock failed ({status}); see the client's message above");
    }

    step(5, &format!("The door is open, for {} only:", net.client_v4));
    let mut conn = report_connect(&net, true)?.context("connection expected")?;
    let status_out = net.exec(
        &net.server,
        &[
            &me.display().to_string(),
            "--config",
            &cfg_path.display().to_string(),
            "status",
        ],
    )?;
    for l in status_out.lines() {
        println!("      posternd status | {l}");
    }

    step(
        6,
        &format!(
            "After the {ttl} s grant the door closes for new connections; the open one keeps working."
        ),
    );
    sleep_unless(&stop, Duration::from_secs(u64::from(ttl) + 2))?;
    report_connect(&net, false)?;
    if echo_works(&mut conn) {
        println!("      the connection opened during the grant still echoes: ok");
    } else {
        bail!("the established connection was cut at expiry");
    }
    if std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some() {
        show_desktop_app(&net, &client, &work.0, &profile, &stop);
    }
    drop(daemon);
    println!("\ndemo ok: closed → knock → open → closed. Cleaning up namespaces and files.");
    Ok(())
}

/// Where a display exists: the same host in the desktop app, in the client
/// namespace, until the window is closed (or Ctrl-C). Best effort: a
/// missing display connection only prints why.
fn show_desktop_app(
    net: &NetnsPair,
    client: &Path,
    work: &Path,
    profile: &Path,
    stop: &AtomicBool,
) {
    println!(
        "\n[+] A display is available: the desktop app opens with the demo host. Click \"Knock\", then close the window to finish."
    );
    let dir = work.join("gui");
    let env = [
        ("POSTERN_CONFIG_DIR", dir.display().to_string()),
        ("POSTERN_SECRETS", "file".into()),
    ];
    let imported = net
        .command(&net.client, client)
        .args(["import", &profile.display().to_string(), "--yes"])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .status();
    if !imported.is_ok_and(|s| s.success()) {
        println!("      could not import the demo profile for the app; skipping it");
        return;
    }
    let child = net
        .command(&net.client, client)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            println!("      could not start the app: {e}");
            return;
        }
    };
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                if !status.success() {
                    println!(
                        "      the app ended with {status} (is the display reachable from this user?)"
                    );
                }
                return;
            }
            Ok(None) if stop.load(Ordering::Relaxed) => {
                let _ = child.kill();
                let _ = child.wait();
                return;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(200)),
            Err(_) => return,
        }
    }
}

fn report_connect(net: &NetnsPair, expect_open: bool) -> Result<Option<std::net::TcpStream>> {
    let t = Instant::now();
    let conn = net.connect(net.server_v4, PORT, Duration::from_millis(1500))?;
    let ms = t.elapsed().as_millis();
    match (&conn, expect_open) {
        (Some(_), true) => println!("      connect {}:{PORT} → open ({ms} ms)", net.server_v4),
        (None, false) => println!(
            "      connect {}:{PORT} → no answer (dropped, gave up after {ms} ms)",
            net.server_v4
        ),
        (Some(_), false) => bail!("port {PORT} answered but should be closed"),
        (None, true) => bail!("port {PORT} did not answer but should be open"),
    }
    Ok(conn)
}

fn write_config(dir: &Path, net: &NetnsPair, ttl: u32) -> Result<(PathBuf, PathBuf)> {
    let mut rng = rand::rng();
    let admin = AdminKey::generate(&mut rng);
    let key_path = dir.join("admin.key");
    write_atomic(
        &key_path,
        format!("{}\n", admin.to_base64().as_str()).as_bytes(),
        0o600,
    )?;
    let cfg_path = dir.join("posternd.toml");
    let text = format!(
        r#"[server]
server_id = "{}"
interfaces = ["{}"]
state_dir = "{}"
table = "postern_demo"
admin_key_file = "{}"
public_host = "{}"

[[door]]
name = "demo"
proto = "tcp"
port = {PORT}
duration = {ttl}
spa = true
"#,
        ServerId::generate(&mut rng),
        net.server_if,
        dir.join("state").display(),
        key_path.display(),
        net.server_v4,
    );
    write_atomic(&cfg_path, text.as_bytes(), 0o600)?;
    let profile = dir.join("demo.postern");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    crate::admin::user::add(
        &cfg_path,
        &AddUser {
            name: "demo".into(),
            doors: vec!["demo".into()],
            sources: vec![],
            max_duration: ttl,
            expires: None,
            issue: Issue {
                method: IssueMethod::Spa,
                host: None,
                out: Some(profile.clone()),
                stun: vec![],
                nat_networks: vec![],
                seal: false,
            },
        },
        postern_proto::UnixTime(now),
    )?;
    Ok((cfg_path, profile))
}

fn start_daemon(net: &NetnsPair, me: &Path, cfg: &Path, stop: &AtomicBool) -> Result<Daemon> {
    let mut child = net
        .command(&net.server, me)
        .args(["--config", &cfg.display().to_string(), "run"])
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting posternd")?;
    let stderr = child.stderr.take().context("posternd's stderr")?;
    let daemon = Daemon(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("posternd started") {
                let _ = tx.send(());
            }
            println!("      posternd | {line}");
        }
    });
    let deadline = Instant::now() + Duration::from_secs(15);
    while rx.try_recv().is_err() {
        if Instant::now() > deadline {
            bail!("posternd did not start within 15 s (see its log above)");
        }
        sleep_unless(stop, Duration::from_millis(50))?;
    }
    Ok(daemon)
}
