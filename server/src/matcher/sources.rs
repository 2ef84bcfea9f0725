//! Per-source state with a hard bound on memory.
//!
//! Sources live in a hash map and in a FIFO of arrival order. Beyond
//! `capacity` the oldest source is evicted, so a flood of spoofed sources
//! costs a fixed amount of memory: it can only push out old attempts, never
//! grow the table. Idle sources are dropped by `expire_idle`.

use super::sequence::Attempt;
use postern_proto::method::sequence::Knock;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

/// Most attempts one source may have in flight (sequences for several
/// doors, dynamic steps); the oldest is dropped beyond this.
pub const MAX_ATTEMPTS: usize = 8;

#[derive(Debug, Clone, Default)]
pub struct SourceState {
    pub last_seen_ms: u64,
    /// Start of the scan-guard window and the port changes seen in it.
    pub window_start_ms: u64,
    pub changes: u32,
    /// The previous knock, to count port changes and spot duplicates.
    pub last_knock: Option<Knock>,
    /// Over the scan limit in the current window: attempts void.
    pub voided: bool,
    pub attempts: Vec<Attempt>,
}

#[derive(Debug)]
struct Entry {
    state: SourceState,
    generation: u64,
}

#[derive(Debug)]
pub struct SourceTable {
    map: HashMap<IpAddr, Entry>,
    order: VecDeque<(IpAddr, u64)>,
    capacity: usize,
    next_generation: u64,
    evicted: u64,
}

impl SourceTable {
    pub fn new(capacity: usize) -> Self {
        SourceTable {
            map: HashMap::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
            next_generation: 0,
            evicted: 0,
        }
    }

    /// The state of `src`, created (evicting the oldest source if full).
    pub fn get_or_insert(&mut self, src: IpAddr, now_ms: u64) -> &mut SourceState {
        if !self.map.contains_key(&src) {
            while self.map.len() >= self.capacity {
                let Some((old, generation)) = self.order.pop_front() else {
                    break;
                };
                if self
                    .map
                    .get(&old)
                    .is_some_and(|e| e.generation == generation)
                {
                    self.map.remove(&old);
                    self.evicted += 1;
                }
            }
            let generation = self.next_generation;
            self.next_generation += 1;
            self.order.push_back((src, generation));
            self.map.insert(
                src,
                Entry {
                    state: SourceState {
                        window_start_ms: now_ms,
                        ..SourceState::default()
                    },
                    generation,
                },
            );
        }
        // Just inserted or present.
        let e = self.map.entry(src).or_insert_with(|| Entry {
            state: SourceState::default(),
            generation: 0,
        });
        e.state.last_seen_ms = now_ms;
        &mut e.state
    }

    /// Drops sources that have been quiet for `idle_ms`, oldest first.
    pub fn expire_idle(&mut self, now_ms: u64, idle_ms: u64) {
        while let Some(&(src, generation)) = self.order.front() {
            match self.map.get(&src) {
                Some(e) if e.generation == generation => {
                    if now_ms.saturating_sub(e.state.last_seen_ms) < idle_ms {
                        break;
                    }
                    self.map.remove(&src);
                }
                _ => {}
            }
            self.order.pop_front();
        }
        if self.map.capacity() > 4 * self.map.len().max(1024) {
            self.map.shrink_to_fit();
            self.order.shrink_to_fit();
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Bytes held by the table (allocation sizes, not counting allocator
    /// overhead): what the memory bound is checked against.
    pub fn approx_bytes(&self) -> usize {
        let slot = std::mem::size_of::<(IpAddr, Entry)>() + 1;
        let attempts: usize = self
            .map
            .values()
            .map(|e| e.state.attempts.capacity() * std::mem::size_of::<Attempt>())
            .sum();
        self.map.capacity() * slot
            + self.order.capacity() * std::mem::size_of::<(IpAddr, u64)>()
            + attempts
    }

    /// Upper bound of [`approx_bytes`](Self::approx_bytes) for a capacity:
    /// hash table at most 2× (load factor), FIFO at most 2× the capacity
    /// (stale entries are popped as they reach the front), every source
    /// with a full attempt list.
    pub fn bound_bytes(capacity: usize) -> usize {
        let slot = std::mem::size_of::<(IpAddr, Entry)>() + 1;
        2 * capacity * slot
            + 2 * capacity * std::mem::size_of::<(IpAddr, u64)>()
            + capacity * MAX_ATTEMPTS * std::mem::size_of::<Attempt>()
    }
}
