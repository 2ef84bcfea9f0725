//! The three systems under test, each guarding the same TCP port on the
//! server side of the veth: Postern, Debian's knockd, Debian's fwknopd.
//! Each is started with its own config and firewall setup, and removed
//! completely before the next one starts.

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use postern_proto::method::sequence::Sequence;
use postern_proto::method::{DoorProto, KnockProto};
use postern_proto::profile::{
    AllowMode, DecoySettings, DoorSpec, IpPreference, MethodSpec, Profile,
};
use postern_proto::{ServerId, UserKey};
use postern_server::netns::NetnsPair;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The protected port, the same for every system.
pub const DOOR: u16 = 2300;
/// The static sequence (Postern and knockd use the same one).
pub const SEQUENCE: &str = "7000,8000:udp,9000";
pub const SPA_PORT: u16 = 62201;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Postern,
    Knockd,
    /// fwknopd's default: libpcap on the interface.
    Fwknopd,
    /// fwknopd at its fastest: `ENABLE_UDP_SERVER Y` (a plain UDP socket).
    FwknopdUdp,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Postern => "Postern",
            Kind::Knockd => "knockd 0.8",
            Kind::Fwknopd => "fwknopd 2.6",
            Kind::FwknopdUdp => "fwknopd 2.6, UDP server",
        }
    }
}

/// How a system is knocked in one row of the table.
#[derive(Debug, Clone)]
pub struct Knocker {
    pub label: String,
    pub program: PathBuf,
    /// Argument lists, used in turn. Methods that burn a (user, step) after
    /// one use get one list per trial, each with its own user.
    pub variants: Vec<Vec<String>>,
    pub env: Vec<(String, String)>,
    /// Knock with the client engine inside this process instead of
    /// starting `program`: what an already-running client (the desktop
    /// app) achieves. The profile file is the first variant's last argument.
    pub in_process: bool,
}

/// Users in Postern's config; each trial of a burning method uses the next.
pub const USERS: usize = 64;

fn user_key(i: usize) -> UserKey {
    let mut k = KEY;
    k[0] = i as u8;
    UserKey::from_bytes(k)
}

pub struct Env<'a> {
    pub net: &'a NetnsPair,
    pub dir: &'a Path,
    pub posternd: &'a Path,
    pub postern: &'a Path,
}

/// A running daemon; stopped (and its firewall state removed) on `stop`.
pub struct Running {
    pub child: Child,
    cleanup: Vec<Vec<String>>,
}

impl Running {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stop(mut self, env: &Env<'_>) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        for _ in 0..50 {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        for c in &self.cleanup {
            let args: Vec<&str> = c.iter().map(String::as_str).collect();
            let _ = env.net.exec(&env.net.server, &args);
        }
    }
}

fn spawn(env: &Env<'_>, program: &str, args: &[String], log: &Path) -> Result<Child> {
    let file = std::fs::File::create(log)?;
    let child = env
        .net
        .command(&env.net.server, Path::new(program))
        .args(args)
        .stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file)
        .spawn()
        .with_context(|| format!("starting {program}"))?;
    Ok(child)
}

fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(())
}

const SID: &str = "be0c4b3e1d2f4a5b8c9d0e1f2a3b4c5d";
const KEY: [u8; 32] = [0x5b; 32];

/// Postern's config: one door, every method; grants last 1 s so trials do
/// not wait long for the door to close again.
///
/// The guess caps are raised to their bound: the prober starts a connect
/// every 200 µs, and each one before the grant is an ordinary SYN at the
/// keyed-token port, i.e. a failed guess from the knocking address. About
/// ten a knock, thirty knocks a minute, spent the default 30 per minute and
/// every keyed-token row failed 30/30. Real clients send one or two such
/// SYNs (their connects after the grant are not counted).
fn postern_config(env: &Env<'_>, max_sources: usize) -> String {
    format!(
        r#"[server]
server_id = "{SID}"
interfaces = ["{iface}"]
state_dir = "{state}"
table = "pbench"

[limits]
max_sources = {max_sources}
syn_guesses_per_source = 100000
syn_guesses_per_network = 100000

[[door]]
name = "bench"
proto = "tcp"
port = {DOOR}
duration = 1
spa = true
sequence = "{SEQUENCE}"
dynamic = {{ length = 5, port_min = 30000, port_max = 30999, proto = "udp" }}
syn_token = "keyed"

[[user]]
name = "fwknop"
key = "{fwknop_user_key}"
doors = ["bench"]
max_duration = 1
fwknop_key = "{fwknop_key}"
fwknop_hmac_key = "{fwknop_hmac_key}"
{users}"#,
        iface = env.net.server_if,
        state = env.dir.join("postern-state").display(),
        fwknop_user_key = user_key(USERS).to_base64(),
        fwknop_key = fwknop_keys().0,
        fwknop_hmac_key = fwknop_keys().1,
        users = (0..USERS)
            .map(|i| format!("\n[[user]]\nname = \"bench{i}\"\nkey = \"{}\"\ndoors = [\"bench\"]\nmax_duration = 1\n", user_key(i).to_base64()))
            .collect::<String>(),
    )
}

pub fn start(kind: Kind, env: &Env<'_>, max_sources: usize) -> Result<Running> {
    let dir = env.dir;
    let run = match kind {
        Kind::Postern => {
            let cfg = dir.join("posternd.toml");
            write_private(&cfg, &postern_config(env, max_sources))?;
            let child = spawn(
                env,
                &env.posternd.display().to_string(),
                &["--config".into(), cfg.display().to_string(), "run".into()],
                &dir.join("posternd.log"),
            )?;
            Running {
                child,
                cleanup: vec![vec![
                    env.posternd.display().to_string(),
                    "--config".into(),
                    cfg.display().to_string(),
                    "uninstall".into(),
                ]],
            }
        }
        Kind::Knockd => {
            let nft = dir.join("kbench.nft");
            std::fs::write(
                &nft,
                format!(
                    "table inet kbench {{\n set allow {{ type ipv4_addr; flags timeout; }}\n chain input {{ type filter hook input priority -5; policy accept;\n  tcp dport {DOOR} ct state new ip saddr != @allow drop\n }}\n}}\n"
                ),
            )?;
            env.net
                .exec(&env.net.server, &["nft", "-f", &nft.display().to_string()])?;
            let conf = dir.join("knockd.conf");
            write_private(
                &conf,
                &format!(
                    "[options]\n    LogFile = {log}\n\n[bench]\n    sequence = {SEQUENCE}\n    seq_timeout = 5\n    tcpflags = syn\n    command = /usr/sbin/nft add element inet kbench allow {{ %IP% timeout 1s }}\n",
                    log = dir.join("knockd-events.log").display()
                ),
            )?;
            let child = spawn(
                env,
                "knockd",
                &[
                    "-c".into(),
                    conf.display().to_string(),
                    "-i".into(),
                    env.net.server_if.clone(),
                ],
                &dir.join("knockd.log"),
            )?;
            Running {
                child,
                cleanup: vec![vec![
                    "nft".into(),
                    "delete".into(),
                    "table".into(),
                    "inet".into(),
                    "kbench".into(),
                ]],
            }
        }
        Kind::Fwknopd | Kind::FwknopdUdp => {
            let (k, h) = fwknop_keys();
            let run_dir = dir.join("fwknop-run");
            std::fs::create_dir_all(&run_dir)?;
            let conf = dir.join("fwknopd.conf");
            write_private(
                &conf,
                &format!(
                    "PCAP_INTF {iface};\nENABLE_PCAP_PROMISC N;\nPCAP_FILTER udp port {SPA_PORT};\nENABLE_IPT_FORWARDING N;\nFWKNOP_RUN_DIR {run};\n{udp}",
                    iface = env.net.server_if,
                    run = run_dir.display(),
                    udp = if kind == Kind::FwknopdUdp {
                        "ENABLE_UDP_SERVER Y;\n"
                    } else {
                        ""
                    }
                ),
            )?;
            let access = dir.join("access.conf");
            write_private(
                &access,
                &format!("SOURCE ANY\nKEY_BASE64 {k}\nHMAC_KEY_BASE64 {h}\nFW_ACCESS_TIMEOUT 1\n"),
            )?;
            let drop = [
                "iptables", "-w", "-A", "INPUT", "-p", "tcp", "--dport", "2300", "-j", "DROP",
            ];
            env.net.exec(&env.net.server, &drop)?;
            let child = spawn(
                env,
                "fwknopd",
                &[
                    "-f".into(),
                    "-c".into(),
                    conf.display().to_string(),
                    "-a".into(),
                    access.display().to_string(),
                    "-d".into(),
                    dir.join("digest.cache").display().to_string(),
                    "-p".into(),
                    dir.join("fwknopd.pid").display().to_string(),
                    "-i".into(),
                    env.net.server_if.clone(),
                ],
                &dir.join("fwknopd.log"),
            )?;
            let mut undo: Vec<String> = drop.iter().map(|s| (*s).to_owned()).collect();
            undo[2] = "-D".into();
            Running {
                child,
                cleanup: vec![undo],
            }
        }
    };
    // Let the daemon open its capture and install its rules.
    std::thread::sleep(Duration::from_millis(1500));
    let mut run = run;
    if let Ok(Some(status)) = run.child.try_wait() {
        bail!(
            "{} exited at start ({status}); see its log in {}",
            kind.name(),
            dir.display()
        );
    }
    Ok(run)
}

fn fwknop_keys() -> (String, String) {
    let b = base64::engine::general_purpose::STANDARD;
    (b.encode([0x33u8; 32]), b.encode([0x44u8; 64]))
}

fn profile(method: MethodSpec, decoys: u8, jitter_ms: u32, host: &str) -> Profile {
    Profile {
        version: 1,
        name: "bench".into(),
        host: host.into(),
        server_id: ServerId::from_hex(SID).unwrap_or(ServerId([0; 16])),
        ip: IpPreference::V4,
        allow: AllowMode::Source,
        doors: vec![DoorSpec {
            proto: DoorProto::Tcp,
            port: DOOR,
            duration: 1,
        }],
        method,
        decoys: DecoySettings {
            count: decoys,
            jitter_ms,
        },
        launch: None,
    }
}

/// The ways each system is knocked, one table row each.
pub fn knockers(kind: Kind, env: &Env<'_>) -> Result<Vec<Knocker>> {
    let server = env.net.server_v4.to_string();
    let postern_env = vec![
        (
            "POSTERN_CONFIG_DIR".to_owned(),
            env.dir.join("client").display().to_string(),
        ),
        ("POSTERN_SECRETS".to_owned(), "file".to_owned()),
    ];
    Ok(match kind {
        Kind::Postern => {
            type Make = fn(usize) -> MethodSpec;
            let spa: Make = |u| MethodSpec::Spa {
                user: format!("bench{u}"),
                key: Some(user_key(u)),
                port: SPA_PORT,
                transport: Default::default(),
                action: None,
            };
            let seq: Make = |_| MethodSpec::StaticSequence {
                sequence: Sequence::parse(SEQUENCE).unwrap_or(Sequence(Vec::new())),
                delay_ms: 0,
            };
            let dynamic: Make = |u| MethodSpec::DynamicSequence {
                user: format!("bench{u}"),
                key: Some(user_key(u)),
                length: 5,
                port_min: 30000,
                port_max: 30999,
                proto: KnockProto::Udp,
                step_secs: 30,
            };
            let keyed: Make = |u| MethodSpec::SynTokenKeyed {
                user: format!("bench{u}"),
                key: Some(user_key(u)),
                step_secs: 30,
            };
            // (label, method, decoys, jitter, burns a step per user)
            let methods: Vec<(&str, Make, u8, u32, bool)> = vec![
                ("SPA (UDP)", spa, 0, 0, false),
                ("SPA + 8 decoys (jitter ≤ 20 ms)", spa, 8, 20, false),
                ("static sequence (3 knocks)", seq, 0, 0, false),
                ("dynamic sequence (5 knocks)", dynamic, 0, 0, true),
                ("keyed SYN token (raw SYN)", keyed, 0, 0, true),
            ];
            let mut out = Vec::new();
            for (i, (label, make, decoys, jitter, burns)) in methods.into_iter().enumerate() {
                let mut variants = Vec::new();
                for u in 0..if burns { USERS } else { 1 } {
                    let path = env.dir.join(format!("m{i}-u{u}.postern"));
                    std::fs::write(&path, profile(make(u), decoys, jitter, &server).to_toml()?)?;
                    variants.push(vec!["knock".into(), path.display().to_string()]);
                }
                out.push(Knocker {
                    label: label.into(),
                    program: env.postern.to_owned(),
                    variants: variants.clone(),
                    env: postern_env.clone(),
                    in_process: false,
                });
                if i == 0 {
                    out.push(Knocker {
                        label: "SPA (UDP), engine already running (as in the desktop app)".into(),
                        program: env.postern.to_owned(),
                        variants,
                        env: vec![],
                        in_process: true,
                    });
                }
            }
            // The same client as the fwknopd rows: fwknop clients moved
            // to posternd (import-fwknopd) without touching them.
            out.push(fwknop_knocker(env, FWKNOP_TO_POSTERN));
            // The same client as the knockd row: isolates the server side.
            out.push(Knocker {
                label: "static sequence (3 knocks), Debian's `knock`".into(),
                program: "knock".into(),
                variants: vec![vec![
                    server.clone(),
                    "7000".into(),
                    "8000:udp".into(),
                    "9000".into(),
                ]],
                env: vec![],
                in_process: false,
            });
            out
        }
        Kind::Knockd => vec![Knocker {
            label: "static sequence (3 knocks), `knock`".into(),
            program: "knock".into(),
            variants: vec![vec![
                server,
                "7000".into(),
                "8000:udp".into(),
                "9000".into(),
            ]],
            env: vec![],
            in_process: false,
        }],
        Kind::Fwknopd | Kind::FwknopdUdp => vec![fwknop_knocker(env, FWKNOP_KNOCK)],
    })
}

/// The label of the fwknop client's row against fwknopd.
pub const FWKNOP_KNOCK: &str = "SPA (Rijndael + HMAC), `fwknop`";
/// The label of the same client's row against posternd.
pub const FWKNOP_TO_POSTERN: &str = "SPA (Rijndael + HMAC), Debian's `fwknop`";

/// Debian's `fwknop` client, with the keys both fwknopd and posternd's
/// user "fwknop" have.
fn fwknop_knocker(env: &Env<'_>, label: &str) -> Knocker {
    let (k, h) = fwknop_keys();
    Knocker {
        label: label.into(),
        program: "fwknop".into(),
        variants: vec![vec![
            "-A".into(),
            format!("tcp/{DOOR}"),
            "-a".into(),
            env.net.client_v4.to_string(),
            "-D".into(),
            env.net.server_v4.to_string(),
            "--key-base64-rijndael".into(),
            k,
            "--key-base64-hmac".into(),
            h,
            "--use-hmac".into(),
            "--no-rc-file".into(),
        ]],
        env: vec![("HOME".into(), env.dir.display().to_string())],
        in_process: false,
    }
}
