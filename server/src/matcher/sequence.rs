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
    /// Knocks matched so far (at least 1).
    pub progress: u8,
    pub started_ms: u64,
}

/// Most attempts one source may have in flight at once. A knock port of
/// one user's dynamic sequence is often the first port of other users' (or
/// other steps') sequences too, so one knock can start several attempts;
/// with many users on a narrow port range two slots lost a third of the
/// knocks (`crowded_dynamic_sequences_all_open`). Every tracked source
/// carries this many slots, so they are packed.
pub const MAX_ATTEMPTS: usize = 4;

/// An attempt packed into 24 bytes (an `Attempt` is 48): the per-source
/// table is preallocated for the worst case, so each byte here is
/// `2 × max_sources` bytes of the memory bound.
#[derive(Debug, Clone, Copy, Default)]
struct Packed {
    started_ms: u64,
    /// The dynamic sequence's step; 0 for a static one.
    step: u64,
    door: u32,
    /// `STATIC` for the door's static sequence.
    user: u32,
}

const STATIC: u32 = u32::MAX;

impl Packed {
    /// `None` only for indexes beyond u32, which no config can reach (a
    /// door per protocol and port, users that fit in memory).
    fn pack(a: &Attempt) -> Option<Packed> {
        let (door, user, step) = match a.target {
            Target::Static(d) => (d, None, Step(0)),
            Target::Dynamic { door, user, step } => (door, Some(user), step),
        };
        let user = match user {
            Some(u) => u32::try_from(u).ok().filter(|&u| u != STATIC)?,
            None => STATIC,
        };
        Some(Packed {
            started_ms: a.started_ms,
            step: step.0,
            door: u32::try_from(door).ok()?,
            user,
        })
    }

    fn target(&self) -> Target {
        let door = self.door as usize;
        match self.user {
            STATIC => Target::Static(door),
            u => Target::Dynamic {
                door,
                user: u as usize,
                step: Step(self.step),
            },
        }
    }
}

/// A source's attempts, stored inline: no allocation per source, so the
/// per-source table's memory is exactly its preallocated size.
#[derive(Debug, Clone, Copy, Default)]
pub struct Attempts {
    slots: [Packed; MAX_ATTEMPTS],
    /// Per slot; 0 marks an empty slot.
    progress: [u8; MAX_ATTEMPTS],
}

impl Attempts {
    pub fn is_empty(&self) -> bool {
        self.progress.iter().all(|&p| p == 0)
    }

    pub fn clear(&mut self) {
        self.progress = [0; MAX_ATTEMPTS];
    }

    fn get(&self, slot: usize) -> Option<Attempt> {
        let progress = *self.progress.get(slot).filter(|&&p| p > 0)?;
        let p = self.slots.get(slot)?;
        Some(Attempt {
            target: p.target(),
            progress,
            started_ms: p.started_ms,
        })
    }

    /// Drops attempts that fail `keep`.
    pub fn retain(&mut self, keep: impl Fn(&Attempt) -> bool) {
        for slot in 0..MAX_ATTEMPTS {
            if self.get(slot).is_some_and(|a| !keep(&a)) {
                self.progress[slot] = 0;
            }
        }
    }

    /// The attempt for `target`, with its slot.
    pub fn find(&self, target: Target) -> Option<(usize, Attempt)> {
        (0..MAX_ATTEMPTS)
            .filter_map(|i| self.get(i).map(|a| (i, a)))
            .find(|(_, a)| a.target == target)
    }

    /// Stores `attempt` back into `slot` after [`advance`].
    pub fn update(&mut self, slot: usize, attempt: Attempt) {
        match Packed::pack(&attempt) {
            Some(p) if slot < MAX_ATTEMPTS && attempt.progress > 0 => {
                self.slots[slot] = p;
                self.progress[slot] = attempt.progress;
            }
            _ => self.remove(slot),
        }
    }

    pub fn remove(&mut self, slot: usize) {
        if let Some(p) = self.progress.get_mut(slot) {
            *p = 0;
        }
    }

    /// Adds an attempt. When all slots are taken it replaces the one that
    /// got least far, the oldest among equals: an attempt started by a knock
    /// that also belongs to other sequences must not push out one that is
    /// two knocks from opening.
    pub fn push(&mut self, attempt: Attempt) {
        let Some(packed) = Packed::pack(&attempt) else {
            return;
        };
        let slot = self
            .progress
            .iter()
            .position(|&p| p == 0)
            .unwrap_or_else(|| {
                (0..MAX_ATTEMPTS)
                    .min_by_key(|&i| (self.progress[i], self.slots[i].started_ms))
                    .unwrap_or(0)
            });
        self.slots[slot] = packed;
        self.progress[slot] = attempt.progress.max(1);
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
        assert!(a.find(Target::Static(0)).is_none() && a.find(Target::Static(1)).is_none());
        assert!(a.find(Target::Static(5)).is_some());
        a.retain(|x| x.started_ms >= 4);
        assert!(a.find(Target::Static(3)).is_none());
        a.clear();
        assert!(a.is_empty());
    }

    #[test]
    fn a_new_attempt_never_pushes_out_one_further_along() {
        let mut a = Attempts::default();
        let ours = Target::Dynamic {
            door: 1,
            user: 7,
            step: Step(60_000_000),
        };
        a.push(Attempt {
            target: ours,
            progress: 1,
            started_ms: 0,
        });
        let (slot, mut at) = a.find(ours).expect("tracked");
        at.progress = 2;
        a.update(slot, at);
        // Later knocks that are first knocks of many other sequences.
        for i in 0..20u64 {
            a.push(Attempt {
                target: Target::Dynamic {
                    door: 1,
                    user: 100 + i as usize,
                    step: Step(60_000_000),
                },
                progress: 1,
                started_ms: 10 + i,
            });
        }
        assert_eq!(a.find(ours).map(|(_, x)| x.progress), Some(2));
        assert_eq!(std::mem::size_of::<Packed>(), 24);
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
