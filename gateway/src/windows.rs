//! The Windows service: `mikrobill-gateway service install --config FILE` registers it (started
//! automatically, as LocalService), `service uninstall` removes it, and the Service Control
//! Manager runs `mikrobill-gateway service run --config FILE`, which serves until the SCM says
//! stop (then the requests in flight finish, as on SIGTERM).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;
use tokio::sync::watch;
use windows_service::service::{
    ServiceAccess, ServiceControl, ServiceControlAccept, ServiceErrorControl, ServiceExitCode,
    ServiceInfo, ServiceStartType, ServiceState, ServiceStatus, ServiceType,
};
use windows_service::service_control_handler::{self, ServiceControlHandlerResult};
use windows_service::service_manager::{ServiceManager, ServiceManagerAccess};
use windows_service::{define_windows_service, service_dispatcher};

use crate::server;

pub const SERVICE_NAME: &str = "mikrobill-gateway";
const DISPLAY_NAME: &str = "MikroBILL API gateway";
/// The least-privileged built-in account that may use the network.
const ACCOUNT: &str = r"NT AUTHORITY\LocalService";

/// The config the dispatcher's entry point serves (it receives no arguments of ours).
static CONFIG: OnceLock<PathBuf> = OnceLock::new();

pub fn install(config: &Path) -> Result<(), String> {
    let config =
        std::fs::canonicalize(config).map_err(|e| format!("config {}: {e}", config.display()))?;
    let exe = std::env::current_exe().map_err(|e| format!("this program's path: {e}"))?;
    let manager = ServiceManager::local_computer(
        None::<&str>,
        ServiceManagerAccess::CONNECT | ServiceManagerAccess::CREATE_SERVICE,
    )
    .map_err(|e| format!("cannot open the service manager (run as Administrator): {e}"))?;
    let info = ServiceInfo {
        name: OsString::from(SERVICE_NAME),
        display_name: OsString::from(DISPLAY_NAME),
        service_type: ServiceType::OWN_PROCESS,
        start_type: ServiceStartType::AutoStart,
        error_control: ServiceErrorControl::Normal,
        executable_path: exe,
        launch_arguments: vec![
            OsString::from("service"),
            OsString::from("run"),
            OsString::from("--config"),
            config.into_os_string(),
        ],
        dependencies: vec![],
        account_name: Some(OsString::from(ACCOUNT)),
        account_password: None,
    };
    let service = manager
        .create_service(&info, ServiceAccess::CHANGE_CONFIG)
        .map_err(|e| format!("cannot create the service: {e}"))?;
    service
        .set_description("The MikroBILL core's API over HTTPS with scoped tokens")
        .map_err(|e| format!("cannot describe the service: {e}"))?;
    Ok(())
}

pub fn uninstall() -> Result<(), String> {
    let manager = ServiceManager::local_computer(None::<&str>, ServiceManagerAccess::CONNECT)
        .map_err(|e| format!("cannot open the service manager (run as Administrator): {e}"))?;
    let service = manager
        .open_service(
            SERVICE_NAME,
            ServiceAccess::QUERY_STATUS | ServiceAccess::STOP | ServiceAccess::DELETE,
        )
        .map_err(|e| format!("cannot open the service: {e}"))?;
    if let Ok(status) = service.query_status() {
        if status.current_state != ServiceState::Stopped {
            let _ = service.stop();
        }
    }
    service
        .delete()
        .map_err(|e| format!("cannot delete the service: {e}"))
}

/// Hands this process to the Service Control Manager, which calls `service_main`.
pub fn run(config: &Path) -> Result<(), String> {
    let _ = CONFIG.set(config.to_path_buf());
    service_dispatcher::start(SERVICE_NAME, ffi_service_main).map_err(|e| {
        format!("not started by the service manager ({e}); use `serve` to run in a console")
    })
}

define_windows_service!(ffi_service_main, service_main);

fn service_main(_arguments: Vec<OsString>) {
    let (stop_tx, stop) = watch::channel(false);
    let handler = move |control| match control {
        ServiceControl::Stop | ServiceControl::Shutdown => {
            let _ = stop_tx.send(true);
            ServiceControlHandlerResult::NoError
        }
        ServiceControl::Interrogate => ServiceControlHandlerResult::NoError,
        _ => ServiceControlHandlerResult::NotImplemented,
    };
    let Ok(status) = service_control_handler::register(SERVICE_NAME, handler) else {
        return;
    };
    let report = |state, exit: u32| {
        let _ = status.set_service_status(ServiceStatus {
            service_type: ServiceType::OWN_PROCESS,
            current_state: state,
            controls_accepted: if state == ServiceState::Running {
                ServiceControlAccept::STOP | ServiceControlAccept::SHUTDOWN
            } else {
                ServiceControlAccept::empty()
            },
            exit_code: ServiceExitCode::Win32(exit),
            checkpoint: 0,
            wait_hint: Duration::from_secs(45),
            process_id: None,
        });
    };
    report(ServiceState::Running, 0);
    let Some(config) = CONFIG.get().cloned() else {
        report(ServiceState::Stopped, 1);
        return;
    };
    let result = server::run(server::Options {
        config_path: config,
        allow_plain_http_on_non_loopback: false,
        stop: Some(stop),
    });
    // The event log is the only place a service's failure shows; the exit code says it failed
    // (ERROR_SERVICE_SPECIFIC_ERROR would need a code table: 1 = see `check --config`).
    report(ServiceState::Stopped, u32::from(result.is_err()));
}
