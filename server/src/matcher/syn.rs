//! SYN tokens (protocol.md §5): the seed's static form and the keyed form.

use super::{Matcher, Method};
use postern_proto::UnixTime;
use postern_proto::method::syn_token;
use postern_proto::replay::{Digest, step_forget_after};
use std::net::IpAddr;
use std::time::Duration;
use subtle::ConstantTimeEq;

impl Matcher {
    /// Returns whether the SYN was a valid token (and so not a sequence
    /// knock).
    pub(super) fn handle_syn_token(
        &mut self,
        now_ms: u64,
        src: IpAddr,
        dst_port: u16,
        seq: u32,
    ) -> bool {
        if let Some(target) = syn_token::static_target(dst_port, seq)
            && let Some(&door) = self.policy.static_syn_ports.get(&target)
        {
            // Subject to the scan guard like any constant knock.
            let l = self.policy.limits;
            let st = self.sources.get_or_insert(src, now_ms);
            if st.voided
                && now_ms.saturating_sub(st.window_start_ms) < l.scan_window.saturating_mul(1000)
            {
                return true;
            }
            self.grant(
                src,
                door,
                src,
                Duration::from_secs(syn_token::STATIC_TTL_SECS),
                None,
                Method::SynToken,
            );
            return true;
        }
        let Some(&door) = self.policy.keyed_syn_ports.get(&dst_port) else {
            return false;
        };
        let n_users = self.policy.door_users[door].len();
        if !self.work.take(now_ms, (n_users * 3) as f64) {
            // Over the work budget: treat as an ordinary SYN.
            self.suppressed += 1;
            return false;
        }
        let now = UnixTime(now_ms / 1000);
        for i in 0..n_users {
            let user = &self.policy.users[self.policy.door_users[door][i]];
            let step_secs = postern_proto::time::DEFAULT_STEP_SECS;
            let center = now.step(step_secs);
            for step in center.around(1) {
                let want =
                    syn_token::keyed_token(&user.key, &self.policy.server_id, step, dst_port, src);
                if !bool::from(want.to_be_bytes().ct_eq(&seq.to_be_bytes())) {
                    continue;
                }
                let name = user.name.clone();
                if !user.source_allowed(src) {
                    self.reject(now_ms, src, Some(name), Method::SynTokenKeyed, || {
                        format!("source {src} is outside the user's allowed ranges")
                    });
                    return true;
                }
                let max = user.max_duration;
                let mark = Digest::of_step("syn", &name, step, &dst_port.to_be_bytes());
                let until = step_forget_after(step, step_secs, 1);
                if let Err(e) = self.replay.check_and_insert(mark, until, now) {
                    self.reject(now_ms, src, Some(name), Method::SynTokenKeyed, || {
                        format!("step {}: {e}", step.0)
                    });
                    return true;
                }
                self.replay_new.push((mark, until));
                let ttl = self.policy.doors[door].duration.min(max);
                self.grant(
                    src,
                    door,
                    src,
                    Duration::from_secs(u64::from(ttl)),
                    Some(name),
                    Method::SynTokenKeyed,
                );
                return true;
            }
        }
        false
    }
}
