//! Knock-sequence attempts: how one source's packets advance, repeat or
//! reset a sequence (protocol.md §4), stored packed per source.

use crate::matcher::policy::{DoorIdx, UserIdx};
use postern_proto::Step;
use postern_proto::method::KnockProto;
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

/// One source's progress through one sequence, from its second knock on
/// (a first knock alone is kept as the knock, see `Attempts`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    pub target: Target,
    /// Knocks matched so far (2 or more while stored).
    pub progress: u8,
    /// When the first knock arrived: the sequence timeout runs from it.
    pub started_ms: u64,
}

/// Slots per source, shared by sequences in progress and recent first
/// knocks. A first knock is kept as the knock itself, not as the sequences
/// it may begin: a port of one user's dynamic sequence is often the first
/// port of other users' (or other steps') sequences too, and tracking each
/// candidate would let them push out the one that is really under way
/// (with two per-candidate slots, a third of the knocks of 64 users on a
/// 300-port range never opened). Every tracked source carries this many
/// slots, so they are packed.
pub const SLOTS: usize = 4;

/// A slot packed into 24 bytes: the per-source table is preallocated for
/// the worst case, so each byte here is `2 × max_sources` bytes of the
/// memory bound.
#[derive(Debug, Clone, Copy, Default)]
struct Packed {
    started_ms: u64,
    /// The dynamic sequence's step; 0 for a static one; the knock for a
    /// first knock (`encode_knock`).
    step: u64,
    door: u32,
    /// `STATIC`, `FIRST`, or the user of a dynamic sequence.
    user: u32,
}

const STATIC: u32 = u32::MAX;
const FIRST: u32 = u32::MAX - 1;

fn encode_knock(k: Knock) -> u64 {
    let proto = match k.proto {
        KnockProto::Tcp => 0u64,
        KnockProto::Udp => 1,
        KnockProto::Icmp => 2,
    };
    proto << 16 | u64::from(k.value)
}

fn decode_knock(v: u64) -> Knock {
    Knock {
        proto: match v >> 16 {
            0 => KnockProto::Tcp,
            1 => KnockProto::Udp,
            _ => KnockProto::Icmp,
        },
        value: (v & 0xffff) as u16,
    }
}

impl Packed {
    /// `None` only for indexes beyond u32 (less the two markers), which no
    /// config can reach (a door per protocol and port, users in memory).
    fn pack(a: &Attempt) -> Option<Packed> {
        let (door, user, step) = match a.target {
            Target::Static(d) => (d, None, Step(0)),
            Target::Dynamic { door, user, step } => (door, Some(user), step),
        };
        let user = match user {
            Some(u) => u32::try_from(u).ok().filter(|&u| u < FIRST)?,
            None => STATIC,
        };
        Some(Packed {
            started_ms: a.started_ms,
            step: step.0,
            door: u32::try_from(door).ok()?,
            user,
        })
    }

    fn target(&self) -> Option<Target> {
        let door = self.door as usize;
        match self.user {
            FIRST => None,
            STATIC => Some(Target::Static(door)),
            u => Some(Target::Dynamic {
                door,
                user: u as usize,
                step: Step(self.step),
            }),
        }
    }
}

/// A source's sequences in progress and recent first knocks, stored
/// inline: no allocation per source, so the per-source table's memory is
/// exactly its preallocated size.
#[derive(Debug, Clone, Copy, Default)]
pub struct Attempts {
    slots: [Packed; SLOTS],
    /// Knocks matched per slot (1 for a first knock); 0 marks a free slot.
    progress: [u8; SLOTS],
}

impl Attempts {
    pub fn is_empty(&self) -> bool {
        self.progress.iter().all(|&p| p == 0)
    }

    pub fn clear(&mut self) {
        self.progress = [0; SLOTS];
    }

    fn get(&self, slot: usize) -> Option<Attempt> {
        let progress = *self.progress.get(slot).filter(|&&p| p > 0)?;
        let p = self.slots.get(slot)?;
        Some(Attempt {
            target: p.target()?,
            progress,
            started_ms: p.started_ms,
        })
    }

    /// Forgets sequences and first knocks older than `timeout_ms`.
    pub fn expire(&mut self, now_ms: u64, timeout_ms: u64) {
        for slot in 0..SLOTS {
            if now_ms.saturating_sub(self.slots[slot].started_ms) > timeout_ms {
                self.progress[slot] = 0;
            }
        }
    }

    /// The attempt for `target`, with its slot.
    pub fn find(&self, target: Target) -> Option<(usize, Attempt)> {
        (0..SLOTS)
            .filter_map(|i| self.get(i).map(|a| (i, a)))
            .find(|(_, a)| a.target == target)
    }

    /// The sequences under way (not first knocks), with their slots.
    pub fn under_way(&self) -> [Option<(usize, Attempt)>; SLOTS] {
        std::array::from_fn(|i| self.get(i).map(|a| (i, a)))
    }

    /// The recent first knocks: slot, knock, when.
    pub fn firsts(&self) -> [Option<(usize, Knock, u64)>; SLOTS] {
        std::array::from_fn(|i| {
            (self.progress[i] > 0 && self.slots[i].user == FIRST).then(|| {
                (
                    i,
                    decode_knock(self.slots[i].step),
                    self.slots[i].started_ms,
                )
            })
        })
    }

    /// Stores `attempt` back into `slot` after [`advance`].
    pub fn update(&mut self, slot: usize, attempt: Attempt) {
        match Packed::pack(&attempt) {
            Some(p) if slot < SLOTS && attempt.progress > 0 => {
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

    /// Adds a sequence in progress.
    pub fn push(&mut self, attempt: Attempt) {
        if let Some(packed) = Packed::pack(&attempt) {
            self.put(packed, attempt.progress.max(2));
        }
    }

    /// Notes a first knock. A repeat (a retransmit) keeps the first time
    /// unless `restart` (a sequence under way started over at this knock).
    pub fn push_first(&mut self, knock: Knock, now_ms: u64, restart: bool) {
        let code = encode_knock(knock);
        let known = (0..SLOTS).find(|&i| {
            self.progress[i] > 0 && self.slots[i].user == FIRST && self.slots[i].step == code
        });
        if let Some(i) = known {
            if restart {
                self.slots[i].started_ms = now_ms;
            }
        } else {
            let packed = Packed {
                started_ms: now_ms,
                step: code,
                door: 0,
                user: FIRST,
            };
            self.put(packed, 1);
        }
    }

    /// Takes a free slot, else the one that got least far, the oldest among
    /// equals: first knocks go before sequences under way.
    fn put(&mut self, packed: Packed, progress: u8) {
        let slot = self
            .progress
            .iter()
            .position(|&p| p == 0)
            .unwrap_or_else(|| {
                (0..SLOTS)
                    .min_by_key(|&i| (self.progress[i], self.slots[i].started_ms))
                    .unwrap_or(0)
            });
        self.slots[slot] = packed;
        self.progress[slot] = progress;
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
    fn slots_are_bounded_and_replace_the_oldest() {
        let mut a = Attempts::default();
        for i in 0..6u64 {
            a.push(Attempt {
                target: Target::Static(i as usize),
                progress: 2,
                started_ms: i,
            });
        }
        assert!(a.find(Target::Static(0)).is_none() && a.find(Target::Static(1)).is_none());
        assert!(a.find(Target::Static(5)).is_some());
        a.expire(10, 6);
        assert!(a.find(Target::Static(3)).is_none());
        assert!(a.find(Target::Static(4)).is_some());
        a.clear();
        assert!(a.is_empty());
    }

    #[test]
    fn first_knocks_never_push_out_a_sequence_under_way() {
        let mut a = Attempts::default();
        let ours = Target::Dynamic {
            door: 1,
            user: 7,
            step: Step(60_000_000),
        };
        a.push(Attempt {
            target: ours,
            progress: 2,
            started_ms: 0,
        });
        // Many later first knocks (of other sequences, or decoys).
        for i in 0..20u16 {
            a.push_first(k(30_000 + i), 10 + u64::from(i), false);
        }
        assert_eq!(a.find(ours).map(|(_, x)| x.progress), Some(2));
        let firsts: Vec<Knock> = a.firsts().into_iter().flatten().map(|f| f.1).collect();
        // The other slots hold the newest first knocks, the oldest went first.
        assert_eq!(firsts.len(), SLOTS - 1);
        assert!(firsts.iter().all(|f| f.value >= 30_017), "{firsts:?}");
        assert_eq!(std::mem::size_of::<Packed>(), 24);
    }

    #[test]
    fn a_repeated_first_knock_keeps_its_time_and_slot() {
        let mut a = Attempts::default();
        let udp = Knock {
            proto: KnockProto::Udp,
            value: 65_535,
        };
        a.push_first(udp, 5, false);
        a.push_first(udp, 9, false);
        let firsts: Vec<_> = a.firsts().into_iter().flatten().collect();
        assert_eq!(firsts.len(), 1);
        assert_eq!((firsts[0].1, firsts[0].2), (udp, 5));
        a.push_first(udp, 12, true);
        assert_eq!(
            a.firsts()
                .into_iter()
                .flatten()
                .map(|f| f.2)
                .collect::<Vec<_>>(),
            vec![12]
        );
        assert!(a.find(Target::Static(0)).is_none());
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
