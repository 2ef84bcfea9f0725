//! Per-source state with a hard bound on memory.
//!
//! Sources live in a hash map and in a FIFO of arrival order. Beyond
//! `capacity` the oldest source is evicted, so a flood of spoofed sources
//! costs a fixed amount of memory: it can only push out old attempts, never
//! grow the table. Idle sources are dropped by `expire_idle`.

use super::scan::ScanWindow;
use super::sequence::Attempts;
use std::collections::{HashMap, VecDeque, hash_map};
use std::net::IpAddr;

/// Bits of an IPv6 prefix one party is assumed to hold: a /64 is what an
/// ISP hands a single customer line, and any host can pick addresses in it.
pub const V6_PREFIX_BITS: u8 = 64;
/// Bits of an IPv4 prefix one party may be assumed to control: a /24 is
/// the smallest block routed on the internet.
pub const V4_PREFIX_BITS: u8 = 24;

/// The network `addr` belongs to for per-network limits (its /64 or /24),
/// as the network address: limits per single address are worthless
/// against a sender who can rotate addresses within its own network.
pub fn prefix_of(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let bits = u32::from(a) & (u32::MAX << (32 - u32::from(V4_PREFIX_BITS)));
            IpAddr::V4(bits.into())
        }
        IpAddr::V6(a) => {
            let bits = u128::from(a) & (u128::MAX << (128 - u32::from(V6_PREFIX_BITS)));
            IpAddr::V6(bits.into())
        }
    }
}

/// What is known about one source; each job owns its part.
#[derive(Debug, Clone, Default)]
pub struct SourceState {
    pub last_seen_ms: u64,
    /// The scan guard's.
    pub scan: ScanWindow,
    /// The sequence engine's.
    pub attempts: Attempts,
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
    /// Allocates the whole table up front. Eviction leaves tombstones, and
    /// the hash table only cleans them in place while it is at most half
    /// full, so it is sized at twice the capacity: then it never grows (and
    /// never holds two allocations during a rehash) however long a flood
    /// lasts. Untouched slots cost address space, not resident memory.
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        SourceTable {
            map: HashMap::with_capacity(2 * (capacity + 1)),
            order: VecDeque::with_capacity(capacity + 1),
            capacity,
            next_generation: 0,
            evicted: 0,
        }
    }

    /// The state of `src`, created (evicting the oldest source if full).
    pub fn get_or_insert(&mut self, src: IpAddr, now_ms: u64) -> &mut SourceState {
        // Set, and used below, only when `src` is new.
        let mut generation = 0;
        if !self.map.contains_key(&src) {
            while self.map.len() >= self.capacity {
                let Some((old, generation)) = self.order.pop_front() else {
                    break;
                };
                if let hash_map::Entry::Occupied(e) = self.map.entry(old)
                    && e.get().generation == generation
                {
                    e.remove();
                    self.evicted += 1;
                }
            }
            generation = self.next_generation;
            self.next_generation += 1;
            self.order.push_back((src, generation));
        }
        let e = self.map.entry(src).or_insert_with(|| Entry {
            state: SourceState {
                scan: ScanWindow::starting(now_ms),
                ..SourceState::default()
            },
            generation,
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
    }

    /// After a policy change: drops every attempt (its door and user
    /// indexes may mean others now) but keeps the scan-guard windows, and
    /// applies a new capacity, evicting the oldest sources beyond it.
    pub fn reload(&mut self, capacity: usize) {
        let capacity = capacity.max(1);
        if capacity != self.capacity {
            let mut t = SourceTable::new(capacity);
            t.evicted = self.evicted;
            for (src, generation) in std::mem::take(&mut self.order) {
                match self.map.get(&src) {
                    Some(e) if e.generation == generation => {}
                    _ => continue,
                }
                if let Some(e) = self.map.remove(&src) {
                    let seen = e.state.last_seen_ms;
                    *t.get_or_insert(src, seen) = e.state;
                }
            }
            *self = t;
        }
        for e in self.map.values_mut() {
            e.state.attempts.clear();
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

    /// Bytes the table has allocated: what the memory bound is checked
    /// against.
    pub fn approx_bytes(&self) -> usize {
        let slot = std::mem::size_of::<(IpAddr, Entry)>() + 1;
        self.map.capacity().div_ceil(7) * 8 * slot
            + self.order.capacity() * std::mem::size_of::<(IpAddr, u64)>()
    }

    /// Upper bound of [`approx_bytes`](Self::approx_bytes) for a capacity:
    /// the hash table's buckets (the power of two that holds twice the
    /// capacity at a load of 7/8) plus the FIFO. Attempts are stored inline,
    /// so nothing else grows per source.
    pub fn bound_bytes(capacity: usize) -> usize {
        let slot = std::mem::size_of::<(IpAddr, Entry)>() + 1;
        let buckets = (2 * (capacity.max(1) + 1) * 8)
            .div_ceil(7)
            .next_power_of_two();
        buckets * slot + (capacity + 1).next_power_of_two() * std::mem::size_of::<(IpAddr, u64)>()
    }
}
