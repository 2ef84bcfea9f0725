//! Where Postern keeps its files on Windows: `%ProgramData%\Postern`
//! (config, admin key, replay state, log, the record of disabled rules),
//! readable only by Administrators and SYSTEM (see [`super::acl`]).

use std::path::PathBuf;

/// `%ProgramData%\Postern` (`C:\ProgramData\Postern` if the variable is
/// missing).
pub fn data_dir() -> PathBuf {
    let base = std::env::var_os("ProgramData")
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from(r"C:\ProgramData"), PathBuf::from);
    base.join("Postern")
}

pub fn default_config() -> PathBuf {
    data_dir().join("posternd.toml")
}

pub fn default_state_dir() -> PathBuf {
    data_dir().join("state")
}

pub fn log_file() -> PathBuf {
    data_dir().join("posternd.log")
}

pub fn disabled_rules_record() -> PathBuf {
    data_dir().join(crate::firewall::winfw_rules::RECORD_FILE)
}
