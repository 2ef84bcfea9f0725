//! Firewall adapters: the only code that changes the host's packet filter.
//!
//! Protection model (DESIGN.md §4): every protected port drops NEW
//! connections unless (source, proto, port) is a live grant. Grants expire
//! in the kernel (nftables set timeouts, ipset timeouts), so a crashed daemon
//! never leaves a door open past its ttl. Postern touches only its own table /
//! chains / sets.

use std::net::IpAddr;
use std::time::Duration;

pub mod fake;
#[cfg(target_os = "linux")]
pub mod iptables;
#[cfg(target_os = "linux")]
pub mod netlink;
#[cfg(target_os = "linux")]
pub mod nftables;

/// Transport protocol of a protected port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Proto {
    Tcp,
    Udp,
}

/// A port the firewall keeps closed to everyone without a grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProtectedPort {
    pub proto: Proto,
    pub port: u16,
}

impl From<postern_proto::method::Door> for ProtectedPort {
    fn from(d: postern_proto::method::Door) -> Self {
        use postern_proto::method::DoorProto;
        ProtectedPort {
            proto: match d.proto {
                DoorProto::Tcp => Proto::Tcp,
                DoorProto::Udp => Proto::Udp,
            },
            port: d.port,
        }
    }
}

/// Permission for one source address to open NEW connections to one
/// protected port until `ttl` has passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FwGrant {
    pub source: IpAddr,
    pub port: ProtectedPort,
    pub ttl: Duration,
}

/// A grant as the kernel reports it now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveGrant {
    pub source: IpAddr,
    pub port: ProtectedPort,
    pub remaining: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum FirewallError {
    #[error("{backend}: {what}")]
    Backend { backend: &'static str, what: String },
    #[error("{backend}: {context}: {source}")]
    Io {
        backend: &'static str,
        context: String,
        #[source]
        source: std::io::Error,
    },
}

/// One firewall backend. Implementations: nftables, iptables + ipset,
/// Windows Firewall, and an in-memory fake for tests.
pub trait Firewall {
    /// Short name for logs ("nftables", "iptables").
    fn name(&self) -> &'static str;

    /// Make `ports` protected. Idempotent: replaces whatever Postern had
    /// installed before (stale grants included) in one atomic step where the
    /// backend allows it.
    fn install(&mut self, ports: &[ProtectedPort]) -> Result<(), FirewallError>;

    /// Let `grant.source` open NEW connections to `grant.port` for
    /// `grant.ttl`; the kernel removes it by itself afterwards. Re-granting a
    /// live grant refreshes its timeout. Must not spawn a process per call.
    fn grant(&mut self, grant: &FwGrant) -> Result<(), FirewallError>;

    /// Grants currently live in the kernel.
    fn grants(&mut self) -> Result<Vec<LiveGrant>, FirewallError>;

    /// Drop all grants but keep ports protected: used when the daemon stops
    /// (fail-closed).
    fn revoke_all(&mut self) -> Result<(), FirewallError>;

    /// Remove everything Postern added, and nothing else.
    fn uninstall(&mut self) -> Result<(), FirewallError>;
}

impl Proto {
    /// The keyword nft, iptables and ipset all use for this protocol.
    pub fn keyword(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }

    /// Inverse of [`Proto::keyword`], for parsing what the kernel reports.
    pub fn from_keyword(word: &str) -> Option<Proto> {
        match word {
            "tcp" => Some(Proto::Tcp),
            "udp" => Some(Proto::Udp),
            _ => None,
        }
    }
}

/// Which Linux packet filter to drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// nftables when `nft` works on this host, else iptables + ipset.
    #[default]
    Auto,
    Nftables,
    Iptables,
}

impl std::str::FromStr for Backend {
    type Err = String;

    /// The spelling used in the config file: `auto`, `nftables`, `iptables`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(Backend::Auto),
            "nftables" => Ok(Backend::Nftables),
            "iptables" => Ok(Backend::Iptables),
            other => Err(format!(
                "unknown firewall backend {other:?} (expected auto, nftables or iptables)"
            )),
        }
    }
}

/// Default name of Postern's nftables table (and prefix of its iptables
/// chain and ipsets).
pub const DEFAULT_TABLE_NAME: &str = "postern";

/// Open the firewall adapter for `backend`. `table_name` names everything
/// Postern creates, so tests (and a second instance) never touch the
/// production objects. Nothing is changed in the kernel until
/// [`Firewall::install`].
#[cfg(target_os = "linux")]
pub fn open(backend: Backend, table_name: &str) -> Result<Box<dyn Firewall + Send>, FirewallError> {
    let use_nft = match backend {
        Backend::Nftables => true,
        Backend::Iptables => false,
        Backend::Auto => nftables::available(),
    };
    if use_nft {
        Ok(Box::new(nftables::Nftables::new(table_name)?))
    } else {
        Ok(Box::new(iptables::Iptables::new(table_name)?))
    }
}

/// Names end up in nft scripts, iptables chain names (max 28 bytes) and ipset
/// names (max 31 bytes, plus our `-6` suffix), so only a short identifier
/// that needs no quoting anywhere is accepted.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub(crate) fn validate_name(backend: &'static str, name: &str) -> Result<(), FirewallError> {
    let ok = !name.is_empty()
        && name.len() <= 24
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(FirewallError::Backend {
            backend,
            what: format!(
                "invalid table name {name:?}: use 1-24 ASCII letters, digits or '_', starting with a letter"
            ),
        })
    }
}

/// Grants are kept in whole seconds by ipset and shown in seconds by nft; a
/// sub-second ttl would silently become "no timeout" or 0, so round up.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub(crate) fn ttl_secs(ttl: Duration) -> u64 {
    let secs = ttl.as_secs() + u64::from(ttl.subsec_nanos() > 0);
    secs.max(1)
}

#[cfg(target_os = "linux")]
pub(crate) mod process {
    //! Running the firewall tools: one-shot commands for rare changes
    //! (install, list, uninstall) and a long-lived coprocess for grants.

    use super::FirewallError;
    use std::io::{BufRead, BufReader, Write};
    use std::process::{Child, ChildStdin, Command, Stdio};
    use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
    use std::time::Duration;

    /// How long a coprocess may take to answer one command before it is
    /// considered hung and restarted.
    const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

    /// Run `program args`, feeding `stdin` if given; error unless it exits 0.
    pub(crate) fn run(
        backend: &'static str,
        program: &str,
        args: &[&str],
        stdin: Option<&str>,
    ) -> Result<String, FirewallError> {
        let shown = format!("{program} {}", args.join(" "));
        let io_err = |source| FirewallError::Io {
            backend,
            context: format!("running `{shown}`"),
            source,
        };
        let mut child = Command::new(program)
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(io_err)?;
        if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
            // A child that exits early closes the pipe; its stderr says why.
            let _ = pipe.write_all(text.as_bytes());
        }
        let out = child.wait_with_output().map_err(io_err)?;
        if out.status.success() {
            return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
        }
        let mut what = format!(
            "`{shown}` failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
        if let Some(text) = stdin {
            what.push_str(&format!("\ninput was:\n{text}"));
        }
        Err(FirewallError::Backend { backend, what })
    }

    /// How a coprocess is started and how to tell that it has finished a
    /// command.
    #[derive(Debug, Clone)]
    pub(crate) struct CoprocessSpec {
        pub backend: &'static str,
        pub program: &'static str,
        pub args: &'static [&'static str],
        /// Whether the tool's stdout joins stderr (nft flushes stdout per
        /// command; ipset block-buffers it, so it must go to /dev/null).
        pub capture_stdout: bool,
        /// A harmless command that always prints `sentinel_marker`,
        /// independent of kernel state and of any command before it.
        pub sentinel: &'static str,
        pub sentinel_marker: &'static str,
        /// Output lines that carry no information (help hints).
        pub noise_prefix: Option<&'static str>,
    }

    /// A firewall tool in interactive mode (`nft -i`, `ipset -`) kept open so
    /// that a grant costs one line on a pipe instead of a fork + exec.
    ///
    /// Protocol: write the command and then the sentinel; everything the tool
    /// prints before the sentinel's answer belongs to the command, and these
    /// tools print nothing for a command that succeeds. So "no output before
    /// the sentinel" means success. On a hang, or output we cannot read, the
    /// process is killed and started again on the next call.
    #[derive(Debug)]
    pub(crate) struct Coprocess {
        spec: CoprocessSpec,
        running: Option<Running>,
    }

    #[derive(Debug)]
    struct Running {
        child: Child,
        stdin: ChildStdin,
        lines: Receiver<String>,
    }

    enum Failure {
        /// The process is gone or its pipe broke: safe to retry once,
        /// because every command we send is idempotent.
        Died(String),
        Fatal(FirewallError),
    }

    impl Coprocess {
        pub(crate) fn new(spec: CoprocessSpec) -> Self {
            Coprocess {
                spec,
                running: None,
            }
        }

        /// Run one command; error with the tool's message if it failed.
        pub(crate) fn run(&mut self, command: &str) -> Result<(), FirewallError> {
            match self.try_run(command) {
                Ok(()) => Ok(()),
                Err(Failure::Fatal(e)) => Err(e),
                Err(Failure::Died(first)) => {
                    tracing::warn!(backend = self.spec.backend, "{first}; restarting it");
                    match self.try_run(command) {
                        Ok(()) => Ok(()),
                        Err(Failure::Fatal(e)) => Err(e),
                        Err(Failure::Died(what)) => Err(FirewallError::Backend {
                            backend: self.spec.backend,
                            what,
                        }),
                    }
                }
            }
        }

        fn try_run(&mut self, command: &str) -> Result<(), Failure> {
            let spec = self.spec.clone();
            if let Some(running) = &mut self.running
                && !matches!(running.child.try_wait(), Ok(None))
            {
                self.stop();
            }
            if self.running.is_none() {
                self.running = Some(start(&spec).map_err(Failure::Fatal)?);
            }
            let Some(running) = self.running.as_mut() else {
                return Err(Failure::Died(format!("`{}` did not start", spec.program)));
            };
            let request = format!("{command}\n{}\n", spec.sentinel);
            if let Err(e) = running
                .stdin
                .write_all(request.as_bytes())
                .and_then(|()| running.stdin.flush())
            {
                self.stop();
                return Err(Failure::Died(format!("writing to `{}`: {e}", spec.program)));
            }
            let mut output = Vec::new();
            loop {
                match running.lines.recv_timeout(ANSWER_TIMEOUT) {
                    Ok(line) if line.contains(spec.sentinel_marker) => break,
                    Ok(line) => {
                        let line = line.trim_end();
                        let noise = spec.noise_prefix.is_some_and(|p| line.starts_with(p));
                        if !line.trim().is_empty() && !noise {
                            output.push(line.to_owned());
                        }
                    }
                    Err(RecvTimeoutError::Timeout) => {
                        self.stop();
                        return Err(Failure::Fatal(FirewallError::Backend {
                            backend: spec.backend,
                            what: format!(
                                "`{}` did not answer `{command}` within {ANSWER_TIMEOUT:?}; restarted",
                                spec.program
                            ),
                        }));
                    }
                    Err(RecvTimeoutError::Disconnected) => {
                        self.stop();
                        return Err(Failure::Died(format!(
                            "`{}` exited while running `{command}`",
                            spec.program
                        )));
                    }
                }
            }
            if output.is_empty() {
                Ok(())
            } else {
                Err(Failure::Fatal(FirewallError::Backend {
                    backend: spec.backend,
                    what: format!("`{command}` failed: {}", output.join("\n")),
                }))
            }
        }

        fn stop(&mut self) {
            if let Some(mut running) = self.running.take() {
                drop(running.stdin);
                let _ = running.child.kill();
                let _ = running.child.wait();
            }
        }
    }

    impl Drop for Coprocess {
        fn drop(&mut self) {
            self.stop();
        }
    }

    fn start(spec: &CoprocessSpec) -> Result<Running, FirewallError> {
        let io_err = |source| FirewallError::Io {
            backend: spec.backend,
            context: format!("starting `{} {}`", spec.program, spec.args.join(" ")),
            source,
        };
        let (reader, writer) = std::io::pipe().map_err(io_err)?;
        let stdout = if spec.capture_stdout {
            Stdio::from(writer.try_clone().map_err(io_err)?)
        } else {
            Stdio::null()
        };
        let mut command = Command::new(spec.program);
        command
            .args(spec.args)
            .stdin(Stdio::piped())
            .stdout(stdout)
            .stderr(writer);
        let mut child = command.spawn().map_err(io_err)?;
        // Our copies of the write end must go, or the reader never sees EOF.
        drop(command);
        let Some(stdin) = child.stdin.take() else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io_err(std::io::Error::other("no stdin pipe")));
        };
        let (tx, lines) = mpsc::channel();
        let reader_thread = std::thread::Builder::new()
            .name(format!("{}-reader", spec.program))
            .spawn(move || {
                let mut reader = BufReader::new(reader);
                let mut buf = Vec::new();
                loop {
                    buf.clear();
                    match reader.read_until(b'\n', &mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {
                            if tx.send(String::from_utf8_lossy(&buf).into_owned()).is_err() {
                                break;
                            }
                        }
                    }
                }
            });
        if let Err(e) = reader_thread {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io_err(e));
        }
        Ok(Running {
            child,
            stdin,
            lines,
        })
    }
}
