//! Running the firewall tools: one-shot commands for rare changes
//! (install, list, uninstall) and a long-lived coprocess for grants.

use crate::firewall::FirewallError;
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
