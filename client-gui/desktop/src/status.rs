//! What a host card says about its door, in words a person acts on: one
//! sentence, a tone (colour), and at most one suggestion. Pure: the card,
//! the tests and a screen reader all read the same [`CardStatus`].
//!
//! The countdown counts from when the knock finished, with the duration the
//! profile asks for. The server may grant less (an administrator's
//! `max_duration`), never more, so the countdown can end late only by the
//! verification's few milliseconds; connections made while it runs stay up
//! after it ends (DESIGN.md §5: established connections survive a grant).

use super::settings::{ActivityEntry, Outcome};
use super::state::Phase;
use crate::i18n::t;
use postern_client::engine::FailureKind;
use postern_client::engine::clock::{ClockCheck, Span};
use postern_proto::method::DoorProto;
use postern_proto::profile::Profile;

/// The colour family of a status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Neutral,
    Busy,
    Good,
    Warning,
    Bad,
}

/// The door as the card shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardStatus {
    /// Never knocked from this computer.
    NotOpenedYet,
    /// A knock is running.
    Opening(Phase),
    /// Open for new connections for this many more seconds.
    OpenFor {
        seconds: u64,
    },
    /// The grant has run out.
    ClosedAgain,
    /// The knock went out; the port answered before it, too.
    AnsweredBeforeKnock,
    /// Knock sent; the profile has no TCP door to check.
    Sent,
    /// The server did not open. `clock_right`: a time server confirmed
    /// this computer's clock, so the suggestion leaves the clock out.
    DidNotOpen {
        clock_right: bool,
    },
    /// The server did not open, and this computer's clock is this many
    /// seconds ahead (negative: behind) of a time server's: the likely
    /// reason, and one the user can fix.
    ClockWrong {
        ahead_secs: i64,
    },
    /// The knock could not be made.
    Failed(FailureKind),
    Cancelled,
}

impl CardStatus {
    /// The status of `profile`'s door at `now` (Unix seconds), given the
    /// running knock's phase and the host's newest log entry.
    pub fn of(
        profile: &Profile,
        running: Option<Phase>,
        last: Option<&ActivityEntry>,
        now: u64,
    ) -> Self {
        if let Some(phase) = running {
            return CardStatus::Opening(phase);
        }
        let Some(last) = last else {
            return CardStatus::NotOpenedYet;
        };
        match last.outcome {
            Outcome::Open { .. } => {
                let left = grant_seconds(profile).saturating_sub(now.saturating_sub(last.at));
                if left > 0 {
                    CardStatus::OpenFor { seconds: left }
                } else {
                    CardStatus::ClosedAgain
                }
            }
            Outcome::AnsweredBeforeKnock => CardStatus::AnsweredBeforeKnock,
            Outcome::Sent { .. } => CardStatus::Sent,
            Outcome::StillClosed { ref clock, .. } => match clock {
                Some(ClockCheck::Wrong { ahead_secs, .. }) => CardStatus::ClockWrong {
                    ahead_secs: *ahead_secs,
                },
                Some(ClockCheck::Right { .. }) => CardStatus::DidNotOpen { clock_right: true },
                Some(ClockCheck::Unknown { .. }) | None => {
                    CardStatus::DidNotOpen { clock_right: false }
                }
            },
            Outcome::Failed { kind, .. } => CardStatus::Failed(kind),
            Outcome::Cancelled => CardStatus::Cancelled,
        }
    }

    /// The one sentence.
    pub fn text(&self) -> String {
        match self {
            CardStatus::NotOpenedYet => t!("status-closed"),
            CardStatus::Opening(phase) => phase.message(),
            CardStatus::OpenFor { seconds } => {
                t!("status-open-for", duration = duration_words(*seconds))
            }
            CardStatus::ClosedAgain => t!("status-closed-again"),
            CardStatus::AnsweredBeforeKnock => t!("status-answered-before"),
            CardStatus::Sent => t!("status-sent"),
            CardStatus::DidNotOpen { .. } => t!("status-did-not-open"),
            CardStatus::ClockWrong { ahead_secs } => {
                t!("status-clock-wrong", clock = clock_words(*ahead_secs))
            }
            CardStatus::Failed(kind) => match kind {
                FailureKind::Offline => t!("status-offline"),
                FailureKind::NameNotFound => t!("status-name-not-found"),
                FailureKind::OwnAddressUnknown => t!("status-own-address-unknown"),
                FailureKind::NeedsPermission => t!("status-needs-permission"),
                FailureKind::ProfileProblem => t!("status-profile-problem"),
                FailureKind::Other => t!("status-other"),
            },
            CardStatus::Cancelled => t!("status-cancelled"),
        }
    }

    /// What to do about it, when there is something to do.
    pub fn suggestion(&self) -> Option<String> {
        Some(match self {
            CardStatus::NotOpenedYet | CardStatus::Opening(_) | CardStatus::Cancelled => {
                return None;
            }
            CardStatus::OpenFor { .. } => return None,
            CardStatus::ClosedAgain => t!("hint-closed-again"),
            CardStatus::AnsweredBeforeKnock => t!("hint-answered-before"),
            CardStatus::Sent => t!("hint-sent"),
            CardStatus::DidNotOpen { clock_right: false } => t!("hint-did-not-open"),
            CardStatus::DidNotOpen { clock_right: true } => t!("hint-did-not-open-clock-right"),
            CardStatus::ClockWrong { .. } => t!("hint-clock-wrong"),
            CardStatus::Failed(kind) => match kind {
                FailureKind::Offline => t!("hint-offline"),
                FailureKind::NameNotFound => t!("hint-name-not-found"),
                FailureKind::OwnAddressUnknown => t!("hint-own-address-unknown"),
                FailureKind::NeedsPermission => t!("hint-needs-permission"),
                FailureKind::ProfileProblem => t!("hint-profile-problem"),
                FailureKind::Other => t!("hint-other"),
            },
        })
    }

    pub fn tone(&self) -> Tone {
        match self {
            CardStatus::NotOpenedYet | CardStatus::ClosedAgain | CardStatus::Cancelled => {
                Tone::Neutral
            }
            CardStatus::Opening(_) => Tone::Busy,
            CardStatus::OpenFor { .. } | CardStatus::Sent => Tone::Good,
            CardStatus::AnsweredBeforeKnock => Tone::Warning,
            CardStatus::DidNotOpen { .. }
            | CardStatus::ClockWrong { .. }
            | CardStatus::Failed(_) => Tone::Bad,
        }
    }

    /// The door is open now: "Connect" starts the program without another
    /// knock.
    pub fn is_open_now(&self) -> bool {
        matches!(self, CardStatus::OpenFor { .. })
    }
}

/// How long a grant lasts: the first TCP door's duration (the one the app
/// connects to), else the longest door's.
pub fn grant_seconds(profile: &Profile) -> u64 {
    let tcp = profile.doors.iter().find(|d| d.proto == DoorProto::Tcp);
    let secs = match tcp {
        Some(d) => d.duration,
        None => profile.doors.iter().map(|d| d.duration).max().unwrap_or(0),
    };
    u64::from(secs)
}

/// "10 minutes behind", "45 seconds ahead": how far off this computer's
/// clock is, rounded to the unit a person would use ([`Span`]).
pub fn clock_words(ahead_secs: i64) -> String {
    let way = if ahead_secs > 0 { "ahead" } else { "behind" };
    let (unit, n) = match Span::of(ahead_secs.unsigned_abs()) {
        Span::Seconds(n) => ("seconds", n),
        Span::Minutes(n) => ("minutes", n),
        Span::Hours(n) => ("hours", n),
        Span::Days(n) => ("days", n),
    };
    t!("clock-off", n = n, unit = unit, way = way)
}

/// "28 s", "2 min 5 s", "1 h 3 min".
pub fn duration_words(seconds: u64) -> String {
    let (h, min, s) = (seconds / 3600, seconds % 3600 / 60, seconds % 60);
    match seconds {
        0..=59 => t!("duration-s", s = s),
        60..=3599 if s == 0 => t!("duration-min", min = min),
        60..=3599 => t!("duration-min-s", min = min, s = s),
        _ if min == 0 => t!("duration-h", h = h),
        _ => t!("duration-h-min", h = h, min = min),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(duration: u32) -> Profile {
        postern_proto::profile::parse(
            &format!(
                "version = 1\nname = \"Lab\"\nhost = \"198.18.0.1\"\n\
                 server_id = \"00112233445566778899aabbccddeeff\"\n\
                 [[door]]\nproto = \"tcp\"\nport = 22\nduration = {duration}\n\
                 [method]\nkind = \"static-sequence\"\nsequence = \"7000,8000,9000\"\n"
            ),
            "test",
        )
        .unwrap()
    }

    fn entry(at: u64, outcome: Outcome) -> ActivityEntry {
        ActivityEntry {
            at,
            host: "Lab".into(),
            outcome,
        }
    }

    #[test]
    fn countdown_runs_from_the_open_to_the_door_duration() {
        let p = profile(30);
        let open = entry(
            1000,
            Outcome::Open {
                ms: 3,
                reknocked: false,
                bound: None,
            },
        );
        let at = |now| CardStatus::of(&p, None, Some(&open), now);
        assert_eq!(at(1000), CardStatus::OpenFor { seconds: 30 });
        assert_eq!(at(1002).text(), "Open for you for 28 s — connect now");
        assert!(at(1029).is_open_now());
        assert_eq!(at(1030), CardStatus::ClosedAgain);
        assert_eq!(at(5000).tone(), Tone::Neutral);
        assert!(at(1030).suggestion().unwrap().contains("stay up"));
        // A clock that went backwards shows the whole duration, not more.
        assert_eq!(at(900), CardStatus::OpenFor { seconds: 30 });
    }

    #[test]
    fn every_failure_has_plain_words_and_one_suggestion() {
        let p = profile(30);
        let kinds = FailureKind::ALL;
        let mut texts = std::collections::BTreeSet::new();
        for kind in kinds {
            let e = entry(
                1,
                Outcome::Failed {
                    message: "technical detail".into(),
                    kind,
                },
            );
            let s = CardStatus::of(&p, None, Some(&e), 2);
            assert_eq!(s.tone(), Tone::Bad);
            assert!(!s.text().contains("technical"), "{s:?}");
            assert!(s.suggestion().is_some(), "{kind:?}");
            texts.insert(s.text());
        }
        assert_eq!(texts.len(), kinds.len(), "each kind reads differently");
        let closed = entry(
            1,
            Outcome::StillClosed {
                reknocked: true,
                clock: None,
            },
        );
        let s = CardStatus::of(&p, None, Some(&closed), 2);
        assert_eq!(s.text(), "The server did not open");
        assert!(s.suggestion().unwrap().contains("clock is right"));
    }

    /// A closed door with the clock checked: a wrong clock is the headline
    /// with how far off it is and how to fix it; a right one is left out
    /// of the suggestion.
    #[test]
    fn a_wrong_clock_is_named_with_how_far_off_it_is() {
        let p = profile(30);
        let closed = |clock| {
            entry(
                1,
                Outcome::StillClosed {
                    reknocked: true,
                    clock,
                },
            )
        };
        let wrong = closed(Some(ClockCheck::Wrong {
            ahead_secs: -600,
            server: "time.example".into(),
        }));
        let s = CardStatus::of(&p, None, Some(&wrong), 2);
        assert_eq!(s, CardStatus::ClockWrong { ahead_secs: -600 });
        assert_eq!(s.text(), "Your computer's clock is 10 minutes behind");
        assert_eq!(s.tone(), Tone::Bad);
        let hint = s.suggestion().unwrap_or_default();
        assert!(hint.contains("Set the right date and time"), "{hint}");
        assert!(
            wrong.outcome.message().contains("10 minutes behind"),
            "{}",
            wrong.outcome.message()
        );

        let right = closed(Some(ClockCheck::Right {
            ahead_secs: 1,
            server: "time.example".into(),
        }));
        let s = CardStatus::of(&p, None, Some(&right), 2);
        assert_eq!(s.text(), "The server did not open");
        let hint = s.suggestion().unwrap_or_default();
        assert!(hint.contains("Your clock is right"), "{hint}");
        assert!(!hint.contains("clock is right, then"), "{hint}");

        assert_eq!(clock_words(45), "45 seconds ahead");
        assert_eq!(clock_words(-1), "1 second behind");
        assert_eq!(clock_words(3 * 3600), "3 hours ahead");
        assert_eq!(clock_words(-86_400 * 2), "2 days behind");
    }

    #[test]
    fn running_knock_wins_and_never_knocked_is_closed() {
        let p = profile(30);
        assert_eq!(CardStatus::of(&p, None, None, 5).text(), "Closed");
        let s = CardStatus::of(&p, Some(Phase::Verifying), None, 5);
        assert_eq!(s.tone(), Tone::Busy);
        assert_eq!(s.text(), "Verifying that the port opened…");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration_words(28), "28 s");
        assert_eq!(duration_words(120), "2 min");
        assert_eq!(duration_words(125), "2 min 5 s");
        assert_eq!(duration_words(3600), "1 h");
        assert_eq!(duration_words(3780), "1 h 3 min");
    }
}
