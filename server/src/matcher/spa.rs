//! SPA verification (protocol.md §3.5), in the order of the spec: cheap
//! checks first, then crypto, then time, replay and policy.

use super::{Matcher, Method};
use postern_proto::UnixTime;
use postern_proto::method::spa::{self, SpaError};
use postern_proto::replay::spa_forget_after;
use postern_proto::wire::spa::SpaPacket;
use std::net::IpAddr;
use std::time::Duration;

impl Matcher {
    /// Handles a possible SPA datagram. Returns whether it was one (its key
    /// id was known); for ICMP, unknown payloads fall back to ICMP knocks.
    pub(super) fn handle_spa(
        &mut self,
        now_ms: u64,
        src: IpAddr,
        payload: &[u8],
        icmp: bool,
    ) -> bool {
        let pkt = match SpaPacket::new_checked(payload) {
            Ok(p) => p,
            Err(e) => {
                if !icmp {
                    self.reject(now_ms, src, None, Method::Spa, || {
                        format!("not an SPA packet: {e}")
                    });
                }
                return false;
            }
        };
        let Some(hit) = self.keyids.lookup(&pkt.key_id()) else {
            if !icmp {
                self.reject(now_ms, src, None, Method::Spa, || "unknown key id (no user of this server: wrong key, or a packet for another server)".into());
            }
            return false;
        };
        let uidx = *hit.user;
        let opened = spa::open(hit.key, &self.policy.server_id, &pkt);
        let user = self.policy.users[uidx].name.clone();
        let req = match opened {
            Ok(r) => r,
            Err(e) => {
                self.reject(now_ms, src, Some(user), Method::Spa, || e.to_string());
                return true;
            }
        };
        let now = UnixTime(now_ms / 1000);
        let max_skew = self.policy.limits.max_skew;
        if let Err(e @ SpaError::Skew { .. }) = spa::check_time(req.timestamp, now, max_skew) {
            self.reject(now_ms, src, Some(user), Method::Spa, || e.to_string());
            return true;
        }
        let u = &self.policy.users[uidx];
        if !u.source_allowed(src) {
            self.reject(now_ms, src, Some(user), Method::Spa, || {
                format!("source {src} is outside the user's allowed ranges")
            });
            return true;
        }
        let allow = spa::allowed_address(&req, src);
        if !u.source_allowed(allow) {
            self.reject(now_ms, src, Some(user), Method::Spa, || {
                format!("requested address {allow} is outside the user's allowed ranges")
            });
            return true;
        }
        let mut doors = Vec::with_capacity(req.doors.len());
        for d in &req.doors {
            let found = self
                .policy
                .doors
                .iter()
                .position(|c| c.spa && c.door() == *d)
                .filter(|&i| self.policy.user_may(uidx, i));
            match found {
                Some(i) => doors.push(i),
                None => {
                    self.reject(now_ms, src, Some(user), Method::Spa, || {
                        format!("door {d} is not open to this user by SPA")
                    });
                    return true;
                }
            }
        }
        let digest = spa::replay_digest(payload);
        let forget_after = spa_forget_after(req.timestamp, max_skew);
        if let Err(e) = self.replay.check_and_insert(digest, forget_after, now) {
            self.reject(now_ms, src, Some(user), Method::Spa, || e.to_string());
            return true;
        }
        self.replay_new.push((digest, forget_after));
        let ttl = req.duration.clamp(1, self.policy.users[uidx].max_duration);
        for i in doors {
            self.grant(
                src,
                i,
                allow,
                Duration::from_secs(u64::from(ttl)),
                Some(user.clone()),
                Method::Spa,
            );
        }
        true
    }
}
