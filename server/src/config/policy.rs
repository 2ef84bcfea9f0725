//! `posternd.toml` → the matcher's [`Policy`]: the one place that knows
//! both, so the matcher never depends on how its policy is written down.

use super::{Config, DoorConfig, Limits as ConfigLimits, SynTokenMode, UserConfig};
use crate::matcher::{
    KeyEnd, Limits, Policy, PolicyDoor, PolicyUser, SpaListen, Standing, SynToken,
};

impl Config {
    /// The matcher's view of this (checked) config.
    pub fn policy(&self) -> Policy {
        let policy = Policy::new(
            self.server.server_id,
            SpaListen {
                port: self.spa.port,
                icmp: self.spa.icmp,
            },
            limits(&self.limits),
            self.doors.iter().map(door).collect(),
            self.users.iter().flat_map(user).collect(),
        );
        policy.with_fwknop_port(self.fwknop.port)
    }
}

fn limits(l: &ConfigLimits) -> Limits {
    Limits {
        max_sources: l.max_sources,
        seq_timeout: l.seq_timeout,
        scan_limit: l.scan_limit,
        scan_window: l.scan_window,
        max_skew: l.max_skew,
        replay_capacity: l.replay_capacity,
        log_rate: l.log_rate,
        max_grants: l.max_grants,
        max_unauth_grants: l.max_unauth_grants,
        unauth_grant_rate: l.unauth_grant_rate,
        user_max_grants: l.user_max_grants,
        user_replay_quota: l.user_replay_quota,
        source_must_match: l.source_must_match,
        syn_guesses_per_source: l.syn_guesses_per_source,
        syn_guesses_per_network: l.syn_guesses_per_network,
    }
}

fn door(d: &DoorConfig) -> PolicyDoor {
    PolicyDoor {
        name: d.name.clone(),
        door: d.door(),
        duration: d.duration,
        sequence: d.sequence.as_ref().map(|s| s.0.clone()),
        dynamic: d.dynamic.map(|dy| dy.params()),
        spa: d.spa,
        spa_max_duration: d.spa_max_duration,
        syn_token: d.syn_token.map(|t| match t {
            SynTokenMode::Static => SynToken::Static,
            SynTokenMode::Keyed => SynToken::Keyed,
        }),
        syn_step_secs: d.syn_step_secs,
    }
}

/// The matcher's entries for one user: the current key, and during a
/// rotation's grace period the previous key as a second entry under the
/// same name (after the first, so lookups by name find the current one).
/// Both entries share the name, hence the user's grant and replay quotas
/// and their grants across a reload; each ends on its own.
fn user(u: &UserConfig) -> Vec<PolicyUser> {
    let expires = u.expires.map(|w| (w.0, KeyEnd::Expires));
    let current = PolicyUser {
        name: u.name.clone(),
        key: u.key.clone(),
        doors: u.doors.clone(),
        sources: u.sources.clone(),
        max_duration: u.max_duration,
        require_address: u.require_address,
        // Checked by `config::load`; a config built otherwise loses only
        // the fwknop method.
        fwknop: u.fwknop_keys().ok().flatten(),
        standing: Standing {
            disabled: u.disabled,
            ends: expires,
        },
    };
    let previous = u
        .previous_key
        .as_ref()
        .zip(u.previous_key_until)
        .map(|(key, until)| {
            let rotated = (until.0, KeyEnd::RotatedOut);
            PolicyUser {
                key: key.clone(),
                // fwknop keys are not rotated by `user rotate`: only the
                // current entry carries them.
                fwknop: None,
                standing: Standing {
                    disabled: u.disabled,
                    // Whichever comes first ends the old key.
                    ends: Some(expires.map_or(rotated, |e| e.min(rotated))),
                },
                ..current.clone()
            }
        });
    std::iter::once(current).chain(previous).collect()
}

#[cfg(test)]
mod tests {
    use crate::matcher::tests::fixture;

    /// The matcher's tests build their policy by hand; this config says
    /// the same in `posternd.toml`, so the conversion must give exactly it.
    #[test]
    fn the_sample_config_converts_to_the_matchers_test_policy() {
        let cfg = crate::config::parse(&fixture::config_text(), "test.toml").expect("valid config");
        let p = cfg.policy();
        let want = fixture::policy();
        assert_eq!(p.doors(), want.doors());
        assert_eq!(p.users(), want.users());
        assert_eq!(p.limits(), want.limits());
        assert_eq!(p.spa(), want.spa());
        assert!(p.server_id() == want.server_id());
    }

    /// A rotated user is two matcher entries under one name: the new key
    /// (ending with the user's expiry) and the old one, ending at the
    /// earlier of its grace and the expiry.
    #[test]
    fn a_rotated_user_keeps_the_old_key_until_its_grace_ends() {
        use crate::matcher::{KeyEnd, Standing};
        use postern_proto::UnixTime;
        let text = fixture::config_text().replace(
            "[[user]]\nname = \"alice\"",
            "[[user]]\nname = \"alice\"\nexpires = 2027-01-01T00:00:00Z\n\
             previous_key = \"BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\"\n\
             previous_key_until = 2026-12-01T00:00:00Z",
        );
        let cfg = crate::config::parse(&text, "t.toml").expect("valid config");
        let p = cfg.policy();
        let users = p.users();
        assert_eq!(users.len(), 2);
        assert!(users.iter().all(|u| u.name == "alice"));
        assert_eq!(
            users[0].standing,
            Standing {
                disabled: false,
                ends: Some((UnixTime(1_798_761_600), KeyEnd::Expires))
            }
        );
        assert_eq!(
            users[1].standing.ends,
            Some((UnixTime(1_796_083_200), KeyEnd::RotatedOut))
        );
        assert_eq!(p.user_index("alice"), Some(0), "the current key first");
        // The old key alone, without its end, is refused.
        let half = text.replace("previous_key_until = 2026-12-01T00:00:00Z", "");
        let e = crate::config::parse(&half, "t.toml")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("previous_key and previous_key_until go together"),
            "{e}"
        );
    }
}
