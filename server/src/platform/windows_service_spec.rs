//! The Windows service's fixed facts and decisions, kept pure so they are
//! tested on Linux: its name and command line, the recovery actions that
//! restart a crashed service after a second (the fail-closed bound, see
//! docs/admin.md), which service control requests become which daemon
//! [`Control`], and how `posternd reload` reaches the daemon.
//!
//! Reload path: a named event, `Global\posternd-reload-<pid>`, created by
//! the running daemon with a DACL for Administrators and SYSTEM only;
//! `posternd reload` opens it (by the pid in the state directory's pid
//! file) and sets it. Chosen over a service custom control code because it
//! works the same for `posternd run` in a console (no SCM there) and needs
//! no service handle; the SCM's own "parameters changed" control
//! (`SERVICE_CONTROL_PARAMCHANGE`, `sc control posternd paramchange`) is
//! accepted as well.

use super::Control;
use std::time::Duration;

/// Service name (`sc query posternd`).
pub const SERVICE_NAME: &str = "posternd";
pub const DISPLAY_NAME: &str = "Postern knock server";
pub const DESCRIPTION: &str = "Opens protected ports (Remote Desktop) in Windows Firewall for \
     correct knocks, for a limited time; keeps them closed otherwise.";

/// Restart delay after a crash. A restarted service removes every stale
/// rule of its group before anything else, so this (plus start-up) bounds
/// how long a crashed daemon's doors stay open.
pub const RESTART_DELAY: Duration = Duration::from_secs(1);
/// The failure count resets after a day without failures.
pub const FAILURE_RESET: Duration = Duration::from_secs(24 * 3600);
/// Restart actions: the SCM repeats the last for every later failure, so
/// the service is restarted after every crash, not only the first three.
pub const RESTART_ACTIONS: usize = 3;

/// What the service runs: `posternd --config <config> run --service`.
pub fn launch_arguments(config: &str) -> Vec<String> {
    vec![
        "--config".to_owned(),
        config.to_owned(),
        "run".to_owned(),
        "--service".to_owned(),
    ]
}

/// A request from the service control manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScmRequest {
    Stop,
    Shutdown,
    Preshutdown,
    ParamChange,
    Interrogate,
    Other,
}

/// What the daemon does for a service control request. Stop, shutdown
/// and pre-shutdown all stop (removing every grant rule: fail-closed);
/// "parameters changed" reloads; the rest is answered by the handler.
pub fn control_for(req: ScmRequest) -> Option<Control> {
    match req {
        ScmRequest::Stop | ScmRequest::Shutdown | ScmRequest::Preshutdown => Some(Control::Stop),
        ScmRequest::ParamChange => Some(Control::Reload),
        ScmRequest::Interrogate | ScmRequest::Other => None,
    }
}

/// The named event the daemon with process id `pid` waits on for reloads.
pub fn reload_event_name(pid: u32) -> String {
    format!("Global\\posternd-reload-{pid}")
}

/// Security descriptor (SDDL) of everything Postern writes under
/// `%ProgramData%\Postern` and of the reload event: protected (no
/// inherited entries), full control for SYSTEM and Administrators, nobody
/// else.
pub const ADMIN_ONLY_SDDL: &str = "D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)";
/// The same for the reload event (generic all).
pub const EVENT_SDDL: &str = "D:P(A;;GA;;;SY)(A;;GA;;;BA)";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_requests_stop_and_paramchange_reloads() {
        for r in [
            ScmRequest::Stop,
            ScmRequest::Shutdown,
            ScmRequest::Preshutdown,
        ] {
            assert_eq!(control_for(r), Some(Control::Stop), "{r:?}");
        }
        assert_eq!(control_for(ScmRequest::ParamChange), Some(Control::Reload));
        assert_eq!(control_for(ScmRequest::Interrogate), None);
        assert_eq!(control_for(ScmRequest::Other), None);
    }

    #[test]
    fn the_service_runs_the_daemon_with_its_config_and_restarts_within_a_second() {
        assert_eq!(
            launch_arguments(r"C:\ProgramData\Postern\posternd.toml"),
            [
                "--config",
                r"C:\ProgramData\Postern\posternd.toml",
                "run",
                "--service"
            ]
        );
        assert!(RESTART_DELAY <= Duration::from_secs(1));
        const { assert!(RESTART_ACTIONS >= 1) };
        assert_eq!(reload_event_name(4242), r"Global\posternd-reload-4242");
        // Nobody but SYSTEM and Administrators, and no inherited entries.
        assert!(ADMIN_ONLY_SDDL.starts_with("D:P"));
        assert_eq!(ADMIN_ONLY_SDDL.matches("(A;").count(), 2);
    }
}
