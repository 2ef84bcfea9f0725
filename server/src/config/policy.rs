//! `posternd.toml` → the matcher's [`Policy`]: the one place that knows
//! both, so the matcher never depends on how its policy is written down.

use super::{Config, DoorConfig, Limits as ConfigLimits, SynTokenMode, UserConfig};
use crate::matcher::{Limits, Policy, PolicyDoor, PolicyUser, SpaListen, SynToken};

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
            self.users.iter().map(user).collect(),
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

fn user(u: &UserConfig) -> PolicyUser {
    PolicyUser {
        name: u.name.clone(),
        key: u.key.clone(),
        doors: u.doors.clone(),
        sources: u.sources.clone(),
        max_duration: u.max_duration,
        require_address: u.require_address,
        // Checked by `config::load`; a config built otherwise loses only
        // the fwknop method.
        fwknop: u.fwknop_keys().ok().flatten(),
    }
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
}
