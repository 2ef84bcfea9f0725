//! The capture threads: one per interface, each reading its packet source
//! and feeding frames straight into the shared [`Daemon`] — the hot path,
//! kept off the async runtime (see the module documentation of `daemon`).

use super::{Clock, Shared, lock};
use crate::capture::pacing::WakePacer;
use crate::capture::{FilterSpec, PacketSource};
use crate::platform::Platform;
use anyhow::{Context, Result, anyhow};
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Instant;
use tokio::sync::mpsc::UnboundedSender;

/// Opens a source per interface; fails on the first that cannot be opened
/// (the error names it), so the daemon never runs half-deaf.
pub(super) fn open(
    platform: &dyn Platform,
    interfaces: &[String],
    spec: &FilterSpec,
) -> Result<Vec<Box<dyn PacketSource + Send>>> {
    interfaces
        .iter()
        .map(|i| platform.open_capture(i, spec))
        .collect()
}

struct Running {
    interface: String,
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

/// Which captures a new config needs opened and which closed.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Change {
    pub open: Vec<String>,
    pub close: Vec<String>,
}

impl Change {
    pub fn is_empty(&self) -> bool {
        self.open.is_empty() && self.close.is_empty()
    }
}

/// The running capture threads.
pub(super) struct Captures {
    spec: FilterSpec,
    running: Vec<Running>,
    /// Threads told to stop by a reload; joined at shutdown.
    retired: Vec<JoinHandle<()>>,
    shared: Arc<Shared>,
    clock: Arc<dyn Clock>,
    failures: UnboundedSender<anyhow::Error>,
}

impl Captures {
    pub fn new(
        spec: FilterSpec,
        shared: Arc<Shared>,
        clock: Arc<dyn Clock>,
        failures: UnboundedSender<anyhow::Error>,
    ) -> Self {
        Captures {
            spec,
            running: Vec::new(),
            retired: Vec::new(),
            shared,
            clock,
            failures,
        }
    }

    pub fn interfaces(&self) -> Vec<String> {
        self.running.iter().map(|r| r.interface.clone()).collect()
    }

    /// What moving to `interfaces` with `spec` takes: a changed filter
    /// re-opens every capture; otherwise only added and removed interfaces
    /// change, so the others never miss a frame.
    pub fn change(&self, interfaces: &[String], spec: &FilterSpec) -> Change {
        let current = self.interfaces();
        if *spec != self.spec {
            return Change {
                open: interfaces.to_vec(),
                close: current,
            };
        }
        Change {
            open: interfaces
                .iter()
                .filter(|i| !current.contains(i))
                .cloned()
                .collect(),
            close: current
                .into_iter()
                .filter(|i| !interfaces.contains(i))
                .collect(),
        }
    }

    /// Stops the captures `change` closes and starts `opened` (the sources
    /// for `change.open`, in order).
    pub fn apply(
        &mut self,
        change: &Change,
        opened: Vec<Box<dyn PacketSource + Send>>,
        spec: FilterSpec,
    ) {
        let (closing, staying): (Vec<_>, Vec<_>) = std::mem::take(&mut self.running)
            .into_iter()
            .partition(|r| change.close.contains(&r.interface));
        self.running = staying;
        for r in closing {
            r.stop.store(true, Ordering::Relaxed);
            self.retired.push(r.thread);
        }
        self.spec = spec;
        for source in opened {
            self.spawn(source);
        }
    }

    pub fn spawn(&mut self, source: Box<dyn PacketSource + Send>) {
        let interface = source.name().to_owned();
        let stop = Arc::new(AtomicBool::new(false));
        let (shared, clock, failures) = (
            Arc::clone(&self.shared),
            Arc::clone(&self.clock),
            self.failures.clone(),
        );
        let flag = Arc::clone(&stop);
        let name = interface.clone();
        let thread = std::thread::spawn(move || {
            if let Err(e) = capture_loop(source, &shared, clock.as_ref(), &flag)
                && !flag.load(Ordering::Relaxed)
            {
                let _ = failures.send(anyhow!(e).context(format!("capture on {name} failed")));
            }
        });
        self.running.push(Running {
            interface,
            stop,
            thread,
        });
    }

    /// Stops and joins every capture thread.
    pub fn stop_all(&mut self) -> Result<()> {
        for r in &self.running {
            r.stop.store(true, Ordering::Relaxed);
        }
        let threads = self
            .running
            .drain(..)
            .map(|r| r.thread)
            .chain(self.retired.drain(..));
        let mut result = Ok(());
        for t in threads {
            if t.join().is_err() {
                result = Err(anyhow!("a capture thread panicked"));
            }
        }
        result.context("stopping the captures")
    }
}

/// Reads frames until `stop`, handing each to the daemon under its lock.
fn capture_loop(
    mut source: Box<dyn PacketSource + Send>,
    shared: &Shared,
    clock: &dyn Clock,
    stop: &AtomicBool,
) -> io::Result<()> {
    let mut buf = vec![0u8; 2048];
    let mut pacer = WakePacer::new();
    while !stop.load(Ordering::Relaxed) {
        // Under a flood, drain without waiting and nap in between rather
        // than be woken for every frame (capture::pacing).
        let got = if pacer.busy() {
            source.try_next_frame(&mut buf)
        } else {
            source.next_frame(&mut buf)
        };
        match got {
            Ok(Some((link, len))) => {
                let now = clock.now_ms();
                let frame = &buf[..len.min(buf.len())];
                if lock(&shared.daemon).on_frame(link, frame, now) {
                    shared.wake.notify_one();
                }
                pacer.frame(Instant::now());
            }
            Ok(None) => {
                if let Some(nap) = pacer.empty(Instant::now()) {
                    std::thread::sleep(nap);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
