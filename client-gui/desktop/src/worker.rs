//! Knocks run on a worker thread and report over a channel (STYLE.md
//! rule 9); the window never blocks on the network.
//!
//! The engine is reached through [`KnockService`] so tests drive the real
//! UI against a scripted fake. The real service wraps the engine's I/O
//! traits so that Cancel takes effect between packets, during pauses and
//! while waiting for the door: [`EngineService`].

use postern_client::engine::clock::SntpTimeService;
use postern_client::engine::resolve::HttpsAddressService;
use postern_client::engine::transmit::{PacketSink, SendError, Sleeper, SocketSink};
use postern_client::engine::verify::{DoorProbe, TcpProbe};
use postern_client::engine::{self, FailureKind, Io, KnockEvent, KnockOptions, KnockReport};
use postern_proto::UserKey;
use postern_proto::plan::Wire;
use postern_proto::profile::Profile;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

/// Everything one knock needs.
#[derive(Debug, Clone)]
pub struct KnockJob {
    pub profile: Profile,
    pub key: Option<UserKey>,
    pub opts: KnockOptions,
}

/// A knock that failed: the engine's sentence, and its kind for the plain
/// words and the suggestion the host card shows first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnockFailure {
    pub kind: FailureKind,
    pub message: String,
}

impl From<String> for KnockFailure {
    fn from(message: String) -> Self {
        KnockFailure {
            kind: FailureKind::Other,
            message,
        }
    }
}

impl From<&str> for KnockFailure {
    fn from(message: &str) -> Self {
        message.to_owned().into()
    }
}

/// The knock engine as the app sees it.
pub trait KnockService: Send + Sync {
    /// Knocks and verifies. Should return soon after `cancel` becomes true
    /// (the app ignores whatever it returns then).
    fn knock(
        &self,
        job: &KnockJob,
        cancel: &AtomicBool,
        progress: &mut dyn FnMut(KnockEvent),
    ) -> Result<KnockReport, KnockFailure>;
}

/// Wakes the UI (egui's `request_repaint`) after a message was sent.
pub type Waker = Arc<dyn Fn() + Send + Sync>;

/// A message from a knock worker.
#[derive(Debug, Clone)]
pub struct WorkerMsg {
    pub run: u64,
    pub event: WorkerEvent,
}

#[derive(Debug, Clone)]
pub enum WorkerEvent {
    Progress(KnockEvent),
    Finished(Result<KnockReport, KnockFailure>),
}

/// Starts a knock on its own thread.
pub fn spawn_knock(
    service: Arc<dyn KnockService>,
    job: KnockJob,
    run: u64,
    cancel: Arc<AtomicBool>,
    tx: Sender<WorkerMsg>,
    wake: Waker,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name(format!("postern-knock-{run}"))
        .spawn(move || {
            let mut progress = |ev: KnockEvent| {
                if !cancel.load(Ordering::Relaxed) {
                    let _ = tx.send(WorkerMsg {
                        run,
                        event: WorkerEvent::Progress(ev),
                    });
                    wake();
                }
            };
            let result = service.knock(&job, &cancel, &mut progress);
            let _ = tx.send(WorkerMsg {
                run,
                event: WorkerEvent::Finished(result),
            });
            wake();
        })
        .map(drop)
}

/// The real engine, with sockets, cancellable.
#[derive(Debug, Default, Clone, Copy)]
pub struct EngineService;

impl KnockService for EngineService {
    fn knock(
        &self,
        job: &KnockJob,
        cancel: &AtomicBool,
        progress: &mut dyn FnMut(KnockEvent),
    ) -> Result<KnockReport, KnockFailure> {
        let mut sink = CancelSink {
            inner: SocketSink::default(),
            cancel,
        };
        let mut sleeper = CancelSleeper { cancel };
        let mut probe = CancelProbe {
            inner: TcpProbe::default(),
            cancel,
        };
        let mut rng = rand::rng();
        let mut io = Io {
            sink: &mut sink,
            sleeper: &mut sleeper,
            probe: &mut probe,
            now: &engine::unix_now,
            rng: &mut rng,
            addresses: Some(&mut HttpsAddressService),
            time: Some(&mut SntpTimeService),
        };
        engine::knock(&job.profile, job.key.as_ref(), &job.opts, &mut io, progress).map_err(|e| {
            KnockFailure {
                kind: e.kind(),
                message: e.to_string(),
            }
        })
    }
}

/// Refuses to send once cancelled, which stops the engine's loop.
#[derive(Debug)]
pub struct CancelSink<'a, S> {
    pub inner: S,
    pub cancel: &'a AtomicBool,
}

impl<S: PacketSink> PacketSink for CancelSink<'_, S> {
    fn send(&mut self, wire: &Wire, dest: IpAddr) -> Result<(), SendError> {
        if self.cancel.load(Ordering::Relaxed) {
            return Err(SendError::Io {
                what: "cancelled",
                dest: SocketAddr::new(dest, 0),
                cause: std::io::Error::new(std::io::ErrorKind::Interrupted, "cancelled"),
            });
        }
        self.inner.send(wire, dest)
    }
}

/// Sleeps in short slices and stops early once cancelled.
#[derive(Debug)]
pub struct CancelSleeper<'a> {
    pub cancel: &'a AtomicBool,
}

const SLICE: Duration = Duration::from_millis(20);

impl Sleeper for CancelSleeper<'_> {
    fn sleep(&mut self, d: Duration) {
        let end = Instant::now() + d;
        while !self.cancel.load(Ordering::Relaxed) {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            std::thread::sleep(left.min(SLICE));
        }
    }
}

/// Waits for the door in slices of a quarter second, checking for Cancel
/// between them.
#[derive(Debug)]
pub struct CancelProbe<'a, P> {
    pub inner: P,
    pub cancel: &'a AtomicBool,
}

impl<P: DoorProbe> DoorProbe for CancelProbe<'_, P> {
    fn wait_open(
        &mut self,
        addr: SocketAddr,
        deadline: Duration,
    ) -> std::io::Result<Option<Duration>> {
        let start = Instant::now();
        loop {
            if self.cancel.load(Ordering::Relaxed) {
                return Ok(None);
            }
            let Some(left) = deadline
                .checked_sub(start.elapsed())
                .filter(|l| !l.is_zero())
            else {
                return Ok(None);
            };
            let chunk_start = start.elapsed();
            if let Some(after) = self
                .inner
                .wait_open(addr, left.min(Duration::from_millis(250)))?
            {
                return Ok(Some(chunk_start + after));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Never;
    impl DoorProbe for Never {
        fn wait_open(&mut self, _: SocketAddr, d: Duration) -> std::io::Result<Option<Duration>> {
            std::thread::sleep(d);
            Ok(None)
        }
    }

    #[test]
    fn cancel_stops_sleep_and_probe_early() {
        let cancel = AtomicBool::new(true);
        let t = Instant::now();
        CancelSleeper { cancel: &cancel }.sleep(Duration::from_secs(5));
        let mut p = CancelProbe {
            inner: Never,
            cancel: &cancel,
        };
        assert_eq!(
            p.wait_open("127.0.0.1:9".parse().unwrap(), Duration::from_secs(5))
                .unwrap(),
            None
        );
        assert!(t.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn cancelled_sink_refuses() {
        struct Ok_;
        impl PacketSink for Ok_ {
            fn send(&mut self, _: &Wire, _: IpAddr) -> Result<(), SendError> {
                Ok(())
            }
        }
        let cancel = AtomicBool::new(false);
        let mut s = CancelSink {
            inner: Ok_,
            cancel: &cancel,
        };
        let w = Wire::TcpSyn { port: 7000 };
        let dest: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(s.send(&w, dest).is_ok());
        cancel.store(true, Ordering::Relaxed);
        assert!(s.send(&w, dest).is_err());
    }
}
