//! Logging: one line per decision, stable enough for fail2ban.
//!
//! Text lines look like
//!
//! ```text
//! 2026-11-25T12:00:00.123Z  INFO postern::decision: rejected src=198.18.0.9 user=- method=spa evidence=forgeable reason="not a Postern packet"
//! 2026-11-25T12:00:00.123Z  INFO postern::decision: rejected src=198.18.0.2 user=alice method=spa evidence=post-tag reason="clock skew +312 s exceeds the allowed 60 s"
//! 2026-11-25T12:00:01.456Z  INFO postern::decision: accepted src=198.18.0.2 user=alice method=spa reason="opened 22/tcp for 198.18.0.2 for 30 s"
//! ```
//!
//! `evidence=` says what a rejection proves about its sender
//! ([`Evidence`]): `forgeable` lines (junk, scans, unknown keys) can carry
//! any spoofed source, so banning on them lets anyone lock out any address;
//! fail2ban must match only `evidence=post-tag`
//! (`installers/linux/fail2ban/filter.d/posternd.conf`, docs/admin.md).
//! With `--log-format json` every line is a JSON object with the same fields.
//! Logs go to stderr, which systemd's journal and Windows services capture.

#[cfg(doc)]
use crate::matcher::Evidence;
use crate::matcher::{Decision, Event};
use tracing_subscriber::EnvFilter;

/// Output format of the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Installs the global subscriber. `RUST_LOG` can raise or lower levels
/// (default `info`).
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// Logs one matcher event. Grants are logged by whoever carries them out,
/// as `Grant::decision`, once the door is open.
pub fn event(e: &Event) {
    match e {
        Event::Decision(d) => decision(d),
        Event::Suppressed { count, window_secs } => tracing::info!(
            target: "postern::decision",
            count,
            window_secs,
            "suppressed {count} rejection lines in the last {window_secs} s (rate limit)"
        ),
        Event::Revoke(r) => tracing::info!(
            target: "postern::decision",
            src = %r.source,
            user = r.user.as_deref().unwrap_or("-"),
            why = %r.why,
            "closed {} for {} ({})", r.door, r.source, r.why
        ),
        Event::Grant(_) => {}
    }
}

pub fn decision(d: &Decision) {
    let user = d.user.as_deref().unwrap_or("-");
    if d.accepted {
        tracing::info!(target: "postern::decision", src = %d.source, user, method = %d.method, reason = d.reason.as_str(), "accepted");
    } else {
        tracing::info!(target: "postern::decision", src = %d.source, user, method = %d.method, evidence = %d.evidence(), reason = d.reason.as_str(), "rejected");
    }
}
