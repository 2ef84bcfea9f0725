//! Knock-sequence attempts: how one source's packets advance, repeat or
//! reset a sequence (protocol.md §4).

use super::policy::{DoorIdx, UserIdx};
use postern_proto::Step;
use postern_proto::method::sequence::Knock;

/// What a sequence attempt is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The door's static sequence.
    Static(DoorIdx),
    /// A user's dynamic sequence for one step.
    Dynamic {
        door: DoorIdx,
        user: UserIdx,
        step: Step,
    },
}

/// One source's progress through one sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    pub target: Target,
    /// Knocks matched so far.
    pub progress: u8,
    pub started_ms: u64,
}

/// Most attempts one source may have in flight at once (two doors, or a
/// dynamic sequence across a step change); a third replaces the oldest.
/// Kept small because every tracked source carries this many slots.
pub const MAX_ATTEMPTS: usize = 2;

/// A source's attempts, stored inline: no allocation per source, so the
/// per-source table's memory is exactly its preallocated size.
#[derive(Debug, Clone, Copy, Default)]
pub struct Attempts([Option<Attempt>; MAX_ATTEMPTS]);

impl Attempts {
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(Option::is_none)
    }

    pub fn clear(&mut self) {
        self.0 = [None; MAX_ATTEMPTS];
    }

    /// Drops attempts that fail `keep`.
    pub fn retain(&mut self, keep: impl Fn(&Attempt) -> bool) {
        for slot in &mut self.0 {
            if slot.as_ref().is_some_and(|a| !keep(a)) {
                *slot = None;
            }
        }
    }

    /// The attempt for `target`, with its slot.
    pub fn find_mut(&mut self, target: Target) -> Option<(usize, &mut Attempt)> {
        self.0
            .iter_mut()
            .enumerate()
            .find_map(|(i, s)| s.as_mut().filter(|a| a.target == target).map(|a| (i, a)))
    }

    pub fn remove(&mut self, slot: usize) {
        if let Some(s) = self.0.get_mut(slot) {
            *s = None;
        }
    }

    /// Adds an attempt, replacing the oldest when all slots are taken.
    pub fn push(&mut self, attempt: Attempt) {
        let slot = self.0.iter().position(Option::is_none).unwrap_or_else(|| {
            self.0
                .iter()
                .enumerate()
                .min_by_key(|(_, s)| s.map_or(0, |a| a.started_ms))
                .map_or(0, |(i, _)| i)
        });
        self.0[slot] = Some(attempt);
    }
}

/// What a knock did to an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Matched the next knock; the sequence is not finished.
    Advanced,
    /// Matched the last knock.
    Completed,
    /// Repeated the previous knock (a SYN retransmit): no change.
    Duplicate,
    /// A knock of this sequence out of order: the attempt starts over
    /// (at 1 if it was the first knock).
    Reset { restarted: bool },
}

/// Applies `knock` to `attempt` of `seq`. The caller made sure the knock
/// belongs to `seq` and that the attempt has not timed out.
pub fn advance(attempt: &mut Attempt, seq: &[Knock], knock: Knock, now_ms: u64) -> Outcome {
    let p = usize::from(attempt.progress);
    if seq.get(p) == Some(&knock) {
        attempt.progress += 1;
        if usize::from(attempt.progress) == seq.len() {
            return Outcome::Completed;
        }
        return Outcome::Advanced;
    }
    if p > 0 && seq.get(p - 1) == Some(&knock) {
        return Outcome::Duplicate;
    }
    let restarted = seq.first() == Some(&knock);
    attempt.progress = u8::from(restarted);
    attempt.started_ms = now_ms;
    Outcome::Reset { restarted }
}

#[cfg(test)]
mod tests {
    use super::*;
    use postern_proto::method::KnockProto;
    use postern_proto::method::sequence::Sequence;

    fn k(v: u16) -> Knock {
        Knock {
            proto: KnockProto::Tcp,
            value: v,
        }
    }

    #[test]
    fn attempts_are_bounded_and_replace_the_oldest() {
        let mut a = Attempts::default();
        for i in 0..6u64 {
            a.push(Attempt {
                target: Target::Static(i as usize),
                progress: 1,
                started_ms: i,
            });
        }
        assert!(a.find_mut(Target::Static(0)).is_none() && a.find_mut(Target::Static(1)).is_none());
        assert!(a.find_mut(Target::Static(5)).is_some());
        a.retain(|x| x.started_ms >= 4);
        assert!(a.find_mut(Target::Static(3)).is_none());
        a.clear();
        assert!(a.is_empty());
    }

    #[test]
    fn advance_duplicate_reset() {
        let seq = Sequence::parse("7000,8000,9000").expect("valid").0;
        let mut a = Attempt {
            target: Target::Static(0),
            progress: 0,
            started_ms: 0,
        };
        assert_eq!(advance(&mut a, &seq, k(7000), 0), Outcome::Advanced);
        assert_eq!(advance(&mut a, &seq, k(7000), 1), Outcome::Duplicate);
        assert_eq!(advance(&mut a, &seq, k(8000), 2), Outcome::Advanced);
        assert_eq!(advance(&mut a, &seq, k(8000), 3), Outcome::Duplicate);
        assert_eq!(advance(&mut a, &seq, k(9000), 4), Outcome::Completed);
        let mut b = Attempt {
            target: Target::Static(0),
            progress: 2,
            started_ms: 0,
        };
        assert_eq!(
            advance(&mut b, &seq, k(7000), 5),
            Outcome::Reset { restarted: true }
        );
        assert_eq!(b.progress, 1);
        let mut c = Attempt {
            target: Target::Static(0),
            progress: 1,
            started_ms: 0,
        };
        assert_eq!(
            advance(&mut c, &seq, k(9000), 5),
            Outcome::Reset { restarted: false }
        );
        assert_eq!(c.progress, 0);
    }
}
