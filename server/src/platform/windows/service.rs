//! `posternd service install|uninstall|start|stop`, and the service
//! itself: `posternd --config C run --service`, started by the service
//! control manager, runs the same daemon as `posternd run` with stop and
//! reload coming from the SCM ([`super::control`]).
//!
//! Recovery: restart after [`RESTART_DELAY`] on every failure, also when
//! the daemon exits with an error (not only on a crash). A restarted
//! service sweeps every stale rule of its group before anything else
//! (`super::sweep_stale`), which bounds how long a killed daemon's doors
//! stay open (docs/admin.md, "Crash bound").

use super::{control, eventlog, paths};
use crate::daemon::{self, SystemClock};
use crate::platform::windows_errors::{self, Op};
use crate::platform::windows_service_spec::{
    DESCRIPTION, DISPLAY_NAME, FAILURE_RESET, RESTART_ACTIONS, RESTART_DELAY, SERVICE_NAME,
    ScmRequest, launch_arguments,
};
use anyhow::{Context, Result, anyhow};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use windows_service::service::{
    ServiceAccess, ServiceAction, ServiceActionType, ServiceControl, ServiceControlAccept,
    ServiceDependency, ServiceErrorControl, ServiceExitCode, ServiceFailureActions,
    ServiceFailureResetPeriod, ServiceInfo, ServiceStartType, ServiceState, ServiceStatus,
    ServiceType,
};
use windows_service::service_control_handler::{self, ServiceControlHandlerResult};
use windows_service::service_manager::{ServiceManager, ServiceManagerAccess};
use windows_service::{define_windows_service, service_dispatcher};

/// The service error as one line an admin can act on, when it has one.
fn explain(e: windows_service::Error, doing: &str) -> anyhow::Error {
    let code = match &e {
        windows_service::Error::Winapi(io) => io.raw_os_error().map(|c| c as u32),
        _ => None,
    };
    // The crate's own text for an API error is only "IO error in winapi
    // call"; the system's text says which.
    let detail = match &e {
        windows_service::Error::Winapi(io) => io.to_string(),
        other => other.to_string(),
    };
    match code.and_then(|c| windows_errors::explain(Op::Service, c)) {
        Some(advice) => anyhow!("{advice} ({doing}: {detail})"),
        None => anyhow!("{doing}: {detail}"),
    }
}

fn manager(access: ServiceManagerAccess) -> Result<ServiceManager> {
    ServiceManager::local_computer(None::<&str>, access)
        .map_err(|e| explain(e, "opening the service control manager"))
}

/// Registers the service (automatic start, LocalSystem, after the firewall
/// services) with restart-after-a-second recovery.
pub fn install(config: &Path) -> Result<String> {
    let m = manager(ServiceManagerAccess::CONNECT | ServiceManagerAccess::CREATE_SERVICE)?;
    let exe = std::env::current_exe().context("locating posternd.exe")?;
    let config = std::path::absolute(config).unwrap_or_else(|_| config.to_path_buf());
    let info = ServiceInfo {
        name: OsString::from(SERVICE_NAME),
        display_name: OsString::from(DISPLAY_NAME),
        service_type: ServiceType::OWN_PROCESS,
        start_type: ServiceStartType::AutoStart,
        error_control: ServiceErrorControl::Normal,
        executable_path: exe,
        launch_arguments: launch_arguments(&config.to_string_lossy())
            .into_iter()
            .map(OsString::from)
            .collect(),
        dependencies: vec![
            ServiceDependency::Service(OsString::from("BFE")),
            ServiceDependency::Service(OsString::from("mpssvc")),
        ],
        account_name: None,
        account_password: None,
    };
    let service = m
        .create_service(
            &info,
            ServiceAccess::CHANGE_CONFIG | ServiceAccess::START | ServiceAccess::DELETE,
        )
        .map_err(|e| explain(e, "creating the posternd service"))?;
    let _ = service.set_description(DESCRIPTION);
    // Without its restart-on-failure recovery the service would not be
    // fail-closed after a crash: no half-installed service.
    if let Err(e) = set_recovery(&service) {
        let _ = service.delete();
        return Err(e.context("the service was not installed"));
    }
    Ok(format!(
        "installed service {SERVICE_NAME} (automatic start, restarts 1 s after a failure) for {}; \
         start it with `posternd service start`\n",
        config.display()
    ))
}

/// Restart after [`RESTART_DELAY`] on every failure, crash or error exit.
fn set_recovery(service: &windows_service::service::Service) -> Result<()> {
    let restart = ServiceAction {
        action_type: ServiceActionType::Restart,
        delay: RESTART_DELAY,
    };
    service
        .update_failure_actions(ServiceFailureActions {
            reset_period: ServiceFailureResetPeriod::After(FAILURE_RESET),
            reboot_msg: None,
            command: None,
            actions: Some(vec![restart; RESTART_ACTIONS]),
        })
        .map_err(|e| explain(e, "setting the service's recovery"))?;
    service
        .set_failure_actions_on_non_crash_failures(true)
        .map_err(|e| explain(e, "setting the service's recovery"))?;
    Ok(())
}

/// Stops (if running) and deletes the service; its rules go with the stop.
pub fn uninstall() -> Result<String> {
    let m = manager(ServiceManagerAccess::CONNECT)?;
    let s = m
        .open_service(
            SERVICE_NAME,
            ServiceAccess::QUERY_STATUS | ServiceAccess::STOP | ServiceAccess::DELETE,
        )
        .map_err(|e| explain(e, "opening the posternd service"))?;
    if s.query_status()
        .is_ok_and(|st| st.current_state != ServiceState::Stopped)
    {
        let _ = s.stop();
        wait_for(&s, ServiceState::Stopped);
    }
    s.delete()
        .map_err(|e| explain(e, "deleting the posternd service"))?;
    Ok(format!("removed service {SERVICE_NAME}\n"))
}

fn wait_for(s: &windows_service::service::Service, state: ServiceState) -> bool {
    for _ in 0..100 {
        if s.query_status().is_ok_and(|st| st.current_state == state) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

pub fn start() -> Result<String> {
    let m = manager(ServiceManagerAccess::CONNECT)?;
    let s = m
        .open_service(
            SERVICE_NAME,
            ServiceAccess::START | ServiceAccess::QUERY_STATUS,
        )
        .map_err(|e| explain(e, "opening the posternd service"))?;
    s.start::<&str>(&[])
        .map_err(|e| explain(e, "starting the posternd service"))?;
    if wait_for(&s, ServiceState::Running) {
        Ok(format!("service {SERVICE_NAME} is running\n"))
    } else {
        Err(anyhow!(
            "service {SERVICE_NAME} did not reach Running within 10 s: see {} and the Application event log",
            paths::log_file().display()
        ))
    }
}

pub fn stop() -> Result<String> {
    let m = manager(ServiceManagerAccess::CONNECT)?;
    let s = m
        .open_service(
            SERVICE_NAME,
            ServiceAccess::STOP | ServiceAccess::QUERY_STATUS,
        )
        .map_err(|e| explain(e, "opening the posternd service"))?;
    s.stop()
        .map_err(|e| explain(e, "stopping the posternd service"))?;
    wait_for(&s, ServiceState::Stopped);
    Ok(format!(
        "service {SERVICE_NAME} stopped; its rules are removed and the doors closed\n"
    ))
}

/// The config the service runs with, handed from `run_service` to the
/// service main function (which the SCM calls with its own arguments).
static CONFIG: OnceLock<PathBuf> = OnceLock::new();

define_windows_service!(ffi_service_main, service_main);

/// `posternd run --service`: hands this thread to the SCM dispatcher,
/// which calls [`service_main`] on another thread.
pub fn run_service(config: &Path) -> Result<()> {
    let _ = CONFIG.set(config.to_path_buf());
    init_file_log();
    service_dispatcher::start(SERVICE_NAME, ffi_service_main)
        .map_err(|e| explain(e, "connecting to the service control manager"))
}

/// Logs of the service go to `%ProgramData%\Postern\posternd.log`.
fn init_file_log() {
    let path = paths::log_file();
    let _ = super::acl::create_restricted_dir(&paths::data_dir());
    let Ok(file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
    else {
        return;
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(Mutex::new(file))
        .with_ansi(false)
        .try_init();
}

fn service_main(_args: Vec<OsString>) {
    let handler = |event| match event {
        ServiceControl::Stop => {
            control::scm_request(ScmRequest::Stop);
            ServiceControlHandlerResult::NoError
        }
        ServiceControl::Shutdown => {
            control::scm_request(ScmRequest::Shutdown);
            ServiceControlHandlerResult::NoError
        }
        ServiceControl::Preshutdown => {
            control::scm_request(ScmRequest::Preshutdown);
            ServiceControlHandlerResult::NoError
        }
        ServiceControl::ParamChange => {
            control::scm_request(ScmRequest::ParamChange);
            ServiceControlHandlerResult::NoError
        }
        ServiceControl::Interrogate => ServiceControlHandlerResult::NoError,
        _ => ServiceControlHandlerResult::NotImplemented,
    };
    let Ok(status) = service_control_handler::register(SERVICE_NAME, handler) else {
        eventlog::error("posternd could not register with the service control manager");
        return;
    };
    let report = |state, exit| {
        let _ = status.set_service_status(ServiceStatus {
            service_type: ServiceType::OWN_PROCESS,
            current_state: state,
            controls_accepted: if state == ServiceState::Running {
                ServiceControlAccept::STOP
                    | ServiceControlAccept::SHUTDOWN
                    | ServiceControlAccept::PARAM_CHANGE
            } else {
                ServiceControlAccept::empty()
            },
            exit_code: exit,
            checkpoint: 0,
            wait_hint: Duration::from_secs(10),
            process_id: None,
        });
    };
    report(ServiceState::Running, ServiceExitCode::Win32(0));
    let config = CONFIG.get().cloned().unwrap_or_else(paths::default_config);
    eventlog::info(&format!("posternd started with {}", config.display()));
    let result = super::sweep_stale()
        .context("removing stale rules")
        .and_then(|n| {
            if n > 0 {
                tracing::warn!("removed {n} stale Postern rule(s) left by an earlier run");
            }
            // Started at boot also before `posternd init` wrote a config:
            // wait for one rather than fail, which the recovery would turn
            // into a restart (and two event log entries) every second.
            daemon::run_when_configured(
                &config,
                crate::platform::native(),
                Arc::new(SystemClock),
                &|level, text| {
                    if level == tracing::Level::ERROR {
                        eventlog::error(text);
                    } else {
                        eventlog::info(text);
                    }
                },
            )
        });
    match result {
        Ok(()) => {
            eventlog::info("posternd stopped; its rules are removed");
            report(ServiceState::Stopped, ServiceExitCode::Win32(0));
        }
        Err(e) => {
            tracing::error!("posternd failed: {e:#}");
            eventlog::error(&format!("posternd failed: {e:#}"));
            // A non-zero exit makes the SCM apply the recovery (restart).
            report(ServiceState::Stopped, ServiceExitCode::ServiceSpecific(1));
        }
    }
}
