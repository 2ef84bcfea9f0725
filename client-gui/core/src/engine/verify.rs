//! Did the door open? A TCP connect to the first TCP door, retried until it
//! answers or a deadline passes (DESIGN.md §5), and the verdict in words a
//! non-technical user can act on.

use super::orchestrate;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// Default time the door gets to open after the last knock packet.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(3);

/// How long the door gets to answer *before* the knock is sent. A door that
/// answers a connect then was open already: it is not protected, a grant
/// from an earlier knock is still running, or a proxy on the way (common
/// in offices and hotels) accepts every connection itself. Reporting
/// "opened after 2 ms" then would be a lie that hides the first two. A
/// closed Postern door drops SYNs, so this wait is paid in full on every
/// verified knock; 250 ms is unnoticeable next to the click that started
/// it and covers the round trip of any ordinary path. On a longer path
/// (satellite) the check misses an open door and the verdict falls back to
/// "open after N ms", as without it — never to a false "already open".
pub const BEFORE_KNOCK_WAIT: Duration = Duration::from_millis(250);

/// Waits for a TCP door. A trait so the engine's re-knock logic can be
/// tested without a network.
pub trait DoorProbe {
    /// Returns how long after the call the door accepted a connection, or
    /// `None` when it still refused (or stayed silent) at `deadline`. An
    /// error means the probe could not run at all (no sockets or timers
    /// left to this process).
    fn wait_open(
        &mut self,
        addr: SocketAddr,
        deadline: Duration,
    ) -> std::io::Result<Option<Duration>>;
}

/// The real probe: overlapping `connect()` attempts.
///
/// A firewall that drops (rather than refuses) SYNs to a closed door makes
/// a single attempt hang until the kernel's first retransmit (1 s), so one
/// attempt at a time would report the opening late. Instead a fresh
/// attempt starts every `interval` (stretching as time goes on), each with
/// the deadline as its timeout, and the first one that connects wins; the
/// others are dropped then (their half-open connections closed). A slow
/// path (long round-trip) still succeeds because no attempt is cut short
/// before the deadline. The attempts are tasks on a current-thread tokio
/// runtime that lives for this one call (orchestrate.rs says why).
#[derive(Debug, Clone, Copy)]
pub struct TcpProbe {
    /// Pause between attempt starts at first.
    pub interval: Duration,
    /// Upper bound on attempts, so a dead host costs a bounded number of
    /// sockets and SYNs.
    pub max_attempts: u32,
}

impl Default for TcpProbe {
    fn default() -> Self {
        TcpProbe {
            interval: Duration::from_millis(10),
            max_attempts: 48,
        }
    }
}

impl DoorProbe for TcpProbe {
    fn wait_open(
        &mut self,
        addr: SocketAddr,
        deadline: Duration,
    ) -> std::io::Result<Option<Duration>> {
        orchestrate::block_on(self.race(addr, deadline))
    }
}

impl TcpProbe {
    /// The attempts, started one after the other and raced.
    async fn race(self, addr: SocketAddr, deadline: Duration) -> Option<Duration> {
        let start = Instant::now();
        let end = start + deadline;
        let mut attempts = JoinSet::new();
        let mut started = 0;
        let mut next = start;
        loop {
            let now = Instant::now();
            if now >= end {
                return None;
            }
            if now >= next && started < self.max_attempts {
                started += 1;
                attempts.spawn(async move {
                    matches!(
                        tokio::time::timeout_at(end, TcpStream::connect(addr)).await,
                        Ok(Ok(_))
                    )
                });
                // Every 10 ms for the first 100 ms, then an eighth of the
                // time waited so far: fine-grained early, cheap later.
                next = now + self.interval.max((now - start) / 8);
            }
            let wake = if started < self.max_attempts {
                next.min(end)
            } else {
                end
            };
            tokio::select! {
                Some(done) = attempts.join_next() => {
                    if matches!(done, Ok(true)) {
                        return Some(start.elapsed());
                    }
                }
                () = tokio::time::sleep_until(wake) => {}
            }
        }
    }
}

/// What verification found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Verdict {
    /// The door answered this long after the (last) knock.
    Open { after: Duration, reknocked: bool },
    /// It did not answer before the deadline, even after a re-knock when
    /// one was made.
    StillClosed { reknocked: bool },
    /// The door answered before anything was sent, so nothing shows that
    /// the knock opened it (see [`BEFORE_KNOCK_WAIT`]). The knock was still
    /// sent: the answer may come from a proxy, and the real door behind it
    /// still needs the knock.
    AnsweredBeforeKnock,
    /// The profile has no TCP door, so there is nothing to connect to.
    NoTcpDoor,
}

impl Verdict {
    /// The door opened after the knock.
    pub fn is_open(&self) -> bool {
        matches!(self, Verdict::Open { .. })
    }

    /// Connecting now is worth trying: the door opened, or it was answering
    /// all along.
    pub fn can_connect(&self) -> bool {
        matches!(self, Verdict::Open { .. } | Verdict::AnsweredBeforeKnock)
    }

    /// The verdict in plain words.
    pub fn message(&self) -> String {
        match self {
            Verdict::Open { after, reknocked } => {
                let again = if *reknocked {
                    " (after a second knock)"
                } else {
                    ""
                };
                format!("open after {} ms{again}", after.as_millis())
            }
            Verdict::StillClosed { reknocked } => {
                let again = if *reknocked {
                    ", also after a second knock"
                } else {
                    ""
                };
                format!(
                    "still closed{again} — check that your clock is right and your profile is current"
                )
            }
            Verdict::AnsweredBeforeKnock => ANSWERED_BEFORE_KNOCK.to_owned(),
            Verdict::NoTcpDoor => "sent; this profile has no TCP port to check".to_owned(),
        }
    }
}

/// [`Verdict::AnsweredBeforeKnock`] in words: what it means and what to do.
pub const ANSWERED_BEFORE_KNOCK: &str = "knocked, but the port was already answering before the knock, \
so this cannot tell whether the knock worked: it may still be open from your last knock, \
the port may not be protected, or a proxy on your network answers every connection \
(if connecting fails, try another network)";

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn messages_are_plain_words() {
        let open = Verdict::Open {
            after: Duration::from_millis(38),
            reknocked: false,
        };
        assert_eq!(open.message(), "open after 38 ms");
        assert_eq!(
            Verdict::StillClosed { reknocked: false }.message(),
            "still closed — check that your clock is right and your profile is current"
        );
        assert!(
            Verdict::StillClosed { reknocked: true }
                .message()
                .contains("also after a second knock")
        );
    }

    #[test]
    fn probe_sees_an_open_port_and_gives_up_on_a_closed_one() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let mut p = TcpProbe::default();
        assert!(p.wait_open(addr, Duration::from_secs(1)).unwrap().is_some());
        drop(l);
        let t = std::time::Instant::now();
        assert_eq!(p.wait_open(addr, Duration::from_millis(200)).unwrap(), None);
        assert!(t.elapsed() < Duration::from_secs(2));
    }

    /// A door that opens while the probe waits is seen soon after: the
    /// attempts keep coming (every 10 ms at first, then an eighth of the
    /// time waited), and the refused ones before it do not end the wait.
    #[test]
    fn probe_sees_a_door_that_opens_while_it_waits() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        let opener = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(150));
            TcpListener::bind(addr)
        });
        let seen = TcpProbe::default()
            .wait_open(addr, Duration::from_secs(3))
            .unwrap();
        let _listener = opener.join().unwrap().expect("the port is free again");
        let after = seen.expect("the door opened at 150 ms");
        assert!(after >= Duration::from_millis(140), "{after:?}");
        assert!(after < Duration::from_millis(800), "{after:?}");
    }
}
