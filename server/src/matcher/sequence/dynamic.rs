//! The dynamic sequences expected now: per (door, user, step) the knocks,
//! and the reverse index from a knock to the sequences it belongs to.
//! Rebuilt when a dynamic door's time step changes.

use crate::matcher::policy::{DoorIdx, Policy, UserIdx};
use postern_proto::method::sequence::Knock;
use postern_proto::{Step, UnixTime};
use std::collections::HashMap;

#[derive(Debug, Default)]
pub struct DynamicTable {
    /// The current step of each dynamic door (in `Policy::dynamic_doors`
    /// order): the table is rebuilt when one moves.
    steps: Vec<Step>,
    pub seqs: HashMap<(DoorIdx, UserIdx, Step), Vec<Knock>>,
    pub by_knock: HashMap<Knock, Vec<(DoorIdx, UserIdx, Step)>>,
}

impl DynamicTable {
    /// Brings the table to `now`: each user's sequence for the step before,
    /// at and after now (clock drift), for every dynamic door.
    pub fn refresh(&mut self, policy: &Policy, now: UnixTime) {
        let steps: Vec<Step> = policy
            .dynamic_doors
            .iter()
            .filter_map(|&d| policy.doors[d].dynamic.map(|dy| now.step(dy.step_secs)))
            .collect();
        if steps == self.steps {
            return;
        }
        let mut t = DynamicTable {
            steps,
            ..DynamicTable::default()
        };
        for (&d, &center) in policy.dynamic_doors.iter().zip(&t.steps) {
            let Some(params) = policy.doors[d].dynamic else {
                continue;
            };
            for &u in &policy.door_users[d] {
                let key = &policy.users[u].key;
                for step in center.around(1) {
                    let seq = params.sequence_for(key, &policy.server_id, step).0;
                    for k in &seq {
                        t.by_knock.entry(*k).or_default().push((d, u, step));
                    }
                    t.seqs.insert((d, u, step), seq);
                }
            }
        }
        *self = t;
    }
}
