//! Was this computer's clock the reason a knock stayed closed?
//!
//! Every keyed method but the static sequence carries the time: an SPA
//! packet its timestamp, a dynamic sequence and a keyed SYN token their
//! time step. A server refuses a packet from a clock too far from its own
//! (posternd logs the skew; the user sees only a door that stays closed).
//! A wrong clock is the one cause of that a user can fix alone, so after a
//! time-dependent knock stays closed the engine asks a time server (SNTP)
//! how far off this computer is, and the verdict says it in words: "your
//! computer's clock is 10 minutes behind".
//!
//! The answer is only ever *reported*. SNTP is unauthenticated, so anyone
//! on the path can forge it: the worst a forged answer does here is a wrong
//! hint on a knock that had already failed. Correcting the knock's own
//! timestamp from it instead would let that attacker pick the time the
//! user's packets carry, and would hide the broken clock that fails the
//! user's other logins too.
//!
//! The decision ([`tolerance`], [`judge`], [`Span`]) is pure; the network
//! is behind [`TimeService`], so the engine's flow runs with a fake.

use postern_proto::profile::MethodSpec;
use serde::{Deserialize, Serialize};
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

/// Asked when the knock options name none. Two operators, so one being
/// down or blocked still gives an answer. They are asked only after a
/// time-dependent knock stayed closed, never on a knock that worked.
pub const DEFAULT_TIME_SERVERS: [&str; 2] = ["time.cloudflare.com", "pool.ntp.org"];

/// Wait per time server. A check runs after a knock already failed (the
/// user is waiting for the verdict), so at most two short waits.
pub const TIME_TIMEOUT: Duration = Duration::from_secs(1);

/// posternd's default `max_skew`: an SPA packet further than this from the
/// server's clock is refused.
pub const POSTERN_SPA_TOLERANCE: u64 = 60;

/// fwknopd's default `MAX_SPA_PACKET_AGE`.
pub const FWKNOP_TOLERANCE: u64 = 120;

/// How many seconds apart this method's clock and its server's may be
/// before the server refuses the knock with its default settings; `None`
/// when the method carries no time (a static sequence, the unkeyed SYN
/// token), so no clock can be why it failed.
pub fn tolerance(method: &MethodSpec) -> Option<u64> {
    match method {
        MethodSpec::StaticSequence { .. } | MethodSpec::SynToken => None,
        MethodSpec::Spa { .. } => Some(POSTERN_SPA_TOLERANCE),
        MethodSpec::Fwknop { .. } => Some(FWKNOP_TOLERANCE),
        // The server accepts the step before and after its own.
        MethodSpec::DynamicSequence { step_secs, .. }
        | MethodSpec::SynTokenKeyed { step_secs, .. } => Some(*step_secs),
    }
}

/// A time server's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeAnswer {
    /// How far this computer's clock is ahead of the server's, in
    /// milliseconds; negative when it is behind.
    pub ahead_ms: i64,
    /// The server that answered, as it was named.
    pub server: String,
}

#[derive(Debug, thiserror::Error)]
pub enum TimeError {
    #[error("no time server to ask")]
    NoServers,
    #[error("no time server answered ({0})")]
    NoAnswer(String),
}

/// Asks time servers how far off this computer's clock is. A trait so the
/// engine's flow is tested without a network, and so a program that must
/// not make the extra request passes none.
pub trait TimeService {
    /// The answer of the first of `servers` (`host` or `host:port`) that
    /// answers within `timeout`.
    fn clock_ahead(
        &mut self,
        servers: &[String],
        timeout: Duration,
    ) -> Result<TimeAnswer, TimeError>;
}

/// What the clock check found, for the verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "found", rename_all = "kebab-case")]
pub enum ClockCheck {
    /// Close enough that it cannot be why the knock failed.
    Right { ahead_secs: i64, server: String },
    /// Far enough off that the server most likely refused the knock for
    /// it: the one thing to fix first.
    Wrong { ahead_secs: i64, server: String },
    /// No time server answered (offline, UDP port 123 blocked): the clock
    /// may or may not be the reason.
    Unknown { why: String },
}

impl ClockCheck {
    /// The clock is the likely reason.
    pub fn is_wrong(&self) -> bool {
        matches!(self, ClockCheck::Wrong { .. })
    }
}

/// The verdict on an answer, for a method that accepts `tolerance` seconds.
///
/// Wrong from half the tolerance on, not from the tolerance itself: the
/// tolerance is the server's *default*, an administrator may set it
/// tighter, and the packet's travel time counts too. Within half, the
/// clock is not the problem and the verdict must not send the user to fix
/// it.
pub fn judge(answer: TimeAnswer, tolerance: u64) -> ClockCheck {
    let ahead_secs = round_to_secs(answer.ahead_ms);
    let half_ms = i128::from(tolerance) * 500;
    if i128::from(answer.ahead_ms).abs() >= half_ms {
        ClockCheck::Wrong {
            ahead_secs,
            server: answer.server,
        }
    } else {
        ClockCheck::Right {
            ahead_secs,
            server: answer.server,
        }
    }
}

fn round_to_secs(ms: i64) -> i64 {
    let secs = ms / 1000;
    let rest = ms % 1000;
    if rest >= 500 {
        secs + 1
    } else if rest <= -500 {
        secs - 1
    } else {
        secs
    }
}

/// An amount of time as a person says it: "45 seconds", "10 minutes",
/// "3 hours", "2 days", rounded to the unit. The words are the front
/// end's (they are translated); this picks the unit and the number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    Seconds(u64),
    Minutes(u64),
    Hours(u64),
    Days(u64),
}

impl Span {
    /// Below 90 s in seconds, below 90 min in minutes, below 36 h in hours,
    /// else days: the unit never shows a number under 1 or a needlessly
    /// long one ("5400 seconds").
    pub fn of(secs: u64) -> Span {
        let round = |unit: u64| secs.saturating_add(unit / 2) / unit;
        match secs {
            0..90 => Span::Seconds(secs),
            90..5_400 => Span::Minutes(round(60)),
            5_400..129_600 => Span::Hours(round(3_600)),
            _ => Span::Days(round(86_400)),
        }
    }

    /// The number, whatever the unit.
    pub fn count(self) -> u64 {
        match self {
            Span::Seconds(n) | Span::Minutes(n) | Span::Hours(n) | Span::Days(n) => n,
        }
    }
}

impl std::fmt::Display for ClockCheck {
    /// The technical line (logs, `Details`); front ends word the verdict
    /// themselves.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClockCheck::Right { ahead_secs, server } => {
                write!(f, "clock {ahead_secs:+} s from {server}: right")
            }
            ClockCheck::Wrong { ahead_secs, server } => {
                write!(f, "clock {ahead_secs:+} s from {server}: wrong")
            }
            ClockCheck::Unknown { why } => write!(f, "clock not checked: {why}"),
        }
    }
}

/// Answers a time-server answer can hold at most, so that a hostile one
/// (SNTP timestamps reach 136 years either way) cannot overflow the
/// arithmetic or the words: beyond ten years it is shown as ten years.
const MAX_AHEAD_MS: f64 = 10.0 * 365.0 * 86_400_000.0;

/// The real service: SNTP (RFC 4330) through the `rsntp` crate, one server
/// after the other. rsntp connects its socket (only the asked address can
/// answer) and checks that the reply echoes the request's transmit time,
/// so a blind spoofer must guess it.
#[derive(Debug, Default, Clone, Copy)]
pub struct SntpTimeService;

impl TimeService for SntpTimeService {
    fn clock_ahead(
        &mut self,
        servers: &[String],
        timeout: Duration,
    ) -> Result<TimeAnswer, TimeError> {
        if servers.is_empty() {
            return Err(TimeError::NoServers);
        }
        let mut why = Vec::new();
        for server in servers {
            match ask(server, timeout) {
                Ok(ahead_ms) => {
                    return Ok(TimeAnswer {
                        ahead_ms,
                        server: server.clone(),
                    });
                }
                Err(e) => why.push(format!("{server}: {e}")),
            }
        }
        Err(TimeError::NoAnswer(why.join("; ")))
    }
}

fn ask(server: &str, timeout: Duration) -> Result<i64, String> {
    let addr = server_addr(server)?;
    let bind: SocketAddr = if addr.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        ([0u16; 8], 0).into()
    };
    let config = rsntp::Config::default().bind_address(bind).timeout(timeout);
    let result = rsntp::SntpClient::with_config(config)
        .synchronize(addr)
        .map_err(|e| e.to_string())?;
    // rsntp's offset is the server's clock minus ours.
    let behind = result.clock_offset().as_secs_f64() * 1000.0;
    if !behind.is_finite() {
        return Err("unusable answer".into());
    }
    #[allow(clippy::cast_possible_truncation)] // clamped just before
    Ok((-behind).clamp(-MAX_AHEAD_MS, MAX_AHEAD_MS) as i64)
}

/// `host`, `host:port`, `[v6]:port` or an address → the first address, port
/// 123 unless named.
fn server_addr(server: &str) -> Result<SocketAddr, String> {
    let with_port = if server.parse::<std::net::IpAddr>().is_ok() {
        // A bare IPv6 address has colons of its own.
        SocketAddr::new(server.parse().map_err(|_| "bad address")?, 123).to_string()
    } else if server.rsplit_once(':').is_some_and(|(h, p)| {
        !h.is_empty() && !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())
    }) {
        server.to_owned()
    } else {
        format!("{server}:123")
    };
    with_port
        .to_socket_addrs()
        .map_err(|e| format!("cannot look up: {e}"))?
        .next()
        .ok_or_else(|| "no address".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn answer(ahead_ms: i64) -> TimeAnswer {
        TimeAnswer {
            ahead_ms,
            server: "t".into(),
        }
    }

    #[test]
    fn half_the_tolerance_divides_right_from_wrong() {
        assert!(!judge(answer(29_499), 60).is_wrong());
        assert!(judge(answer(30_000), 60).is_wrong());
        assert!(judge(answer(-30_000), 60).is_wrong());
        assert!(!judge(answer(-29_000), 60).is_wrong());
        assert_eq!(
            judge(answer(-600_400), 60),
            ClockCheck::Wrong {
                ahead_secs: -600,
                server: "t".into()
            }
        );
        assert_eq!(
            judge(answer(1_500), 60),
            ClockCheck::Right {
                ahead_secs: 2,
                server: "t".into()
            }
        );
    }

    #[test]
    fn only_methods_that_carry_the_time_are_checked() {
        let spa: MethodSpec = toml::from_str("kind = \"spa\"\nuser = \"u\"\nport = 62201")
            .expect("spa method parses");
        assert_eq!(tolerance(&spa), Some(POSTERN_SPA_TOLERANCE));
        assert_eq!(tolerance(&MethodSpec::SynToken), None);
        let keyed: MethodSpec =
            toml::from_str("kind = \"syn-token-keyed\"\nuser = \"u\"\nstep_secs = 30")
                .expect("keyed parses");
        assert_eq!(tolerance(&keyed), Some(30));
    }

    #[test]
    fn spans_read_as_people_say_them() {
        assert_eq!(Span::of(45), Span::Seconds(45));
        assert_eq!(Span::of(89), Span::Seconds(89));
        assert_eq!(Span::of(90), Span::Minutes(2));
        assert_eq!(Span::of(600), Span::Minutes(10));
        assert_eq!(Span::of(3_600), Span::Minutes(60));
        assert_eq!(Span::of(5_400), Span::Hours(2));
        assert_eq!(Span::of(86_400), Span::Hours(24));
        assert_eq!(Span::of(2 * 86_400), Span::Days(2));
        assert_eq!(Span::of(u64::MAX).count(), u64::MAX / 86_400);
    }

    #[test]
    fn server_names_get_the_ntp_port() {
        assert_eq!(
            server_addr("198.18.0.1").expect("v4"),
            "198.18.0.1:123".parse().expect("addr")
        );
        assert_eq!(
            server_addr("198.18.0.1:1123").expect("v4 port"),
            "198.18.0.1:1123".parse().expect("addr")
        );
        assert_eq!(
            server_addr("fd00::1").expect("v6"),
            "[fd00::1]:123".parse().expect("addr")
        );
        assert_eq!(
            server_addr("[fd00::1]:1123").expect("v6 port"),
            "[fd00::1]:1123".parse().expect("addr")
        );
    }

    #[test]
    fn no_server_is_an_error_not_a_wait() {
        let e = SntpTimeService
            .clock_ahead(&[], TIME_TIMEOUT)
            .expect_err("nothing to ask");
        assert!(matches!(e, TimeError::NoServers));
    }

    proptest! {
        /// Whatever a (hostile) server answers, the verdict is one of the
        /// two, the seconds round the milliseconds, and the span's number
        /// is never zero for a wrong clock.
        #[test]
        fn any_answer_gets_a_sane_verdict(ms in -(MAX_AHEAD_MS as i64)..=(MAX_AHEAD_MS as i64), tol in 5u64..=3600) {
            let v = judge(answer(ms), tol);
            let (ClockCheck::Right { ahead_secs, .. } | ClockCheck::Wrong { ahead_secs, .. }) = &v else {
                panic!("judge gave {v:?}");
            };
            prop_assert!((ahead_secs * 1000 - ms).abs() <= 500);
            if v.is_wrong() {
                prop_assert!(Span::of(ahead_secs.unsigned_abs()).count() > 0);
            }
        }
    }
}
