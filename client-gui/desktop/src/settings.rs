//! What the app remembers between runs besides hosts and signers (which
//! the engine's [`HostStore`](postern_client::store::HostStore) owns): the user's
//! settings and the activity log. Both are small TOML files next to the
//! hosts, written atomically through the store's
//! [`atomic_write`](postern_client::store::files::atomic_write).

use postern_client::store::StoreError;
use postern_client::store::files::{atomic_write, ensure_dir};
use postern_proto::profile::{AllowMode, IpPreference, MethodSpec, Profile, valid_host_port};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// The user's choices in the Settings dialog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Decoy packets per knock; `None` keeps each profile's own number.
    pub decoys: Option<u8>,
    pub ip: IpChoice,
    pub allow: AllowChoice,
    pub theme: ThemeChoice,
    /// STUN servers (`host:port`) for hosts whose profile names none, to
    /// find this computer's public address behind a NAT (`allow = auto`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stun: Vec<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            decoys: None,
            ip: IpChoice::Profile,
            allow: AllowChoice::Profile,
            theme: ThemeChoice::System,
            stun: Vec::new(),
        }
    }
}

/// Most STUN servers the setting holds: a profile's own limit (the engine
/// asks the first two).
pub const MAX_STUN: usize = 4;

/// The STUN servers typed in the Settings dialog: `host:port` entries
/// (`[v6]:port` for an IPv6 address) separated by commas, spaces or line
/// breaks. The error names the first bad entry, so the user knows which
/// one to fix; nothing is saved until the whole list is right.
pub fn parse_stun_list(text: &str) -> Result<Vec<String>, String> {
    let servers: Vec<String> = text
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if let Some(bad) = servers.iter().find(|s| !valid_host_port(s)) {
        return Err(format!(
            "\"{bad}\" is not HOST:PORT (for example stun.example.org:3478)"
        ));
    }
    if servers.len() > MAX_STUN {
        return Err(format!("at most {MAX_STUN} servers"));
    }
    Ok(servers)
}

/// Address family to knock over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IpChoice {
    /// Whatever the profile says.
    Profile,
    V4,
    V6,
    Both,
}

impl IpChoice {
    pub const ALL: [IpChoice; 4] = [
        IpChoice::Profile,
        IpChoice::V4,
        IpChoice::V6,
        IpChoice::Both,
    ];

    pub fn label(self) -> &'static str {
        match self {
            IpChoice::Profile => "As the profile says",
            IpChoice::V4 => "IPv4 only",
            IpChoice::V6 => "IPv6 only",
            IpChoice::Both => "Both IPv4 and IPv6",
        }
    }

    pub fn preference(self) -> Option<IpPreference> {
        match self {
            IpChoice::Profile => None,
            IpChoice::V4 => Some(IpPreference::V4),
            IpChoice::V6 => Some(IpPreference::V6),
            IpChoice::Both => Some(IpPreference::Both),
        }
    }
}

/// Which address an SPA knock asks the server to let in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "lowercase")]
pub enum AllowChoice {
    Profile,
    /// The address the knock comes from.
    Source,
    /// A fixed address.
    Explicit {
        address: String,
    },
    /// The address an https:// "what is my IP" service reports (behind NAT).
    Url {
        url: String,
    },
}

impl AllowChoice {
    pub fn label(&self) -> &'static str {
        match self {
            AllowChoice::Profile => "As the profile says",
            AllowChoice::Source => "The address I knock from",
            AllowChoice::Explicit { .. } => "A fixed address",
            AllowChoice::Url { .. } => "Ask a web service (behind NAT)",
        }
    }

    /// What is wrong with the value, in words; `None` when fine.
    pub fn problem(&self) -> Option<String> {
        match self {
            AllowChoice::Explicit { address } if address.trim().parse::<IpAddr>().is_err() => {
                Some("enter an IPv4 or IPv6 address, e.g. 203.0.113.7".to_owned())
            }
            AllowChoice::Url { url } if !url.trim().starts_with("https://") => {
                Some("the service must be an https:// address".to_owned())
            }
            _ => None,
        }
    }

    /// Applies the choice to a profile about to be knocked. Only SPA (and
    /// fwknop's, which names an address the same way) can ask for an
    /// address other than the packet's source, so other methods keep theirs.
    pub fn apply(&self, profile: &mut Profile) {
        let names_address = matches!(
            profile.method,
            MethodSpec::Spa { .. } | MethodSpec::Fwknop { .. }
        );
        if !names_address || self.problem().is_some() {
            return;
        }
        match self {
            AllowChoice::Profile => {}
            AllowChoice::Source => profile.allow = AllowMode::Source,
            AllowChoice::Explicit { address } => {
                if let Ok(address) = address.trim().parse() {
                    profile.allow = AllowMode::Explicit { address };
                }
            }
            AllowChoice::Url { url } => {
                // The user's own service: the public roots, no pinned CA.
                profile.allow = AllowMode::Url {
                    url: url.trim().to_owned(),
                    url_ca: None,
                }
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ThemeChoice {
    System,
    Light,
    Dark,
}

impl ThemeChoice {
    pub const ALL: [ThemeChoice; 3] = [ThemeChoice::System, ThemeChoice::Light, ThemeChoice::Dark];

    pub fn label(self) -> &'static str {
        match self {
            ThemeChoice::System => "Follow the system",
            ThemeChoice::Light => "Light",
            ThemeChoice::Dark => "Dark",
        }
    }
}

/// One finished knock, as the activity log and the host cards show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivityEntry {
    /// Unix seconds.
    pub at: u64,
    pub host: String,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum Outcome {
    Open {
        ms: u64,
        reknocked: bool,
        /// The address the knock named and how it was found.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bound: Option<String>,
    },
    StillClosed {
        reknocked: bool,
    },
    /// Sent; the profile has no TCP door to check.
    Sent {
        packets: usize,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bound: Option<String>,
    },
    Failed {
        message: String,
    },
    Cancelled,
}

impl Outcome {
    pub fn is_open(&self) -> bool {
        matches!(self, Outcome::Open { .. })
    }

    /// The result in plain words.
    pub fn message(&self) -> String {
        match self {
            Outcome::Open {
                ms,
                reknocked,
                bound,
            } => {
                let again = if *reknocked {
                    " (after a second knock)"
                } else {
                    ""
                };
                format!("Open after {ms} ms{again}{}", for_address(bound.as_deref()))
            }
            Outcome::StillClosed { reknocked } => {
                let again = if *reknocked {
                    ", even after a second knock"
                } else {
                    ""
                };
                format!(
                    "Still closed{again}. Check that this computer's clock is right and that \
                     the profile is current; then knock again or ask your administrator"
                )
            }
            Outcome::Sent { packets, bound } => {
                format!(
                    "Sent {packets} packets{}; this host has no TCP port to check",
                    for_address(bound.as_deref())
                )
            }
            Outcome::Failed { message } => format!("Failed: {message}"),
            Outcome::Cancelled => "Cancelled".to_owned(),
        }
    }
}

/// " for 198.51.100.7 (public address reported by STUN (…))": which
/// address the door was asked to open for, and how it was found.
fn for_address(bound: Option<&str>) -> String {
    bound.map_or_else(String::new, |b| format!(" for {b}"))
}

/// Longest activity log kept on disk.
pub const MAX_LOG: usize = 200;

/// Where settings and the activity log live.
pub trait SettingsStore {
    fn load_settings(&self) -> Result<Settings, StoreError>;
    fn save_settings(&self, s: &Settings) -> Result<(), StoreError>;
    fn load_log(&self) -> Result<Vec<ActivityEntry>, StoreError>;
    fn save_log(&self, log: &[ActivityEntry]) -> Result<(), StoreError>;
}

/// `gui-settings.toml` and `activity.toml` in the config folder.
#[derive(Debug, Clone)]
pub struct FileSettings {
    dir: PathBuf,
}

#[derive(Default, Serialize, Deserialize)]
struct LogFile {
    #[serde(default, rename = "entry")]
    entries: Vec<ActivityEntry>,
}

impl FileSettings {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        FileSettings { dir: dir.into() }
    }

    fn read<T: for<'de> Deserialize<'de> + Default>(&self, name: &str) -> Result<T, StoreError> {
        let path = self.dir.join(name);
        match std::fs::read_to_string(&path) {
            Ok(text) => toml::from_str(&text).map_err(|e| StoreError::Corrupt {
                path,
                message: e.message().trim().to_owned(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(T::default()),
            Err(cause) => Err(StoreError::Io {
                action: "read",
                path,
                cause,
            }),
        }
    }

    fn write<T: Serialize>(&self, name: &str, header: &str, value: &T) -> Result<(), StoreError> {
        let path = self.dir.join(name);
        let body = toml::to_string(value).map_err(|e| StoreError::Corrupt {
            path: path.clone(),
            message: format!("cannot write as TOML: {e}"),
        })?;
        ensure_dir(&self.dir)?;
        atomic_write(&path, format!("{header}\n{body}").as_bytes(), false)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl SettingsStore for FileSettings {
    fn load_settings(&self) -> Result<Settings, StoreError> {
        self.read("gui-settings.toml")
    }

    fn save_settings(&self, s: &Settings) -> Result<(), StoreError> {
        self.write(
            "gui-settings.toml",
            "# Settings of the Postern window. Written by postern.",
            s,
        )
    }

    fn load_log(&self) -> Result<Vec<ActivityEntry>, StoreError> {
        Ok(self.read::<LogFile>("activity.toml")?.entries)
    }

    fn save_log(&self, log: &[ActivityEntry]) -> Result<(), StoreError> {
        let start = log.len().saturating_sub(MAX_LOG);
        let file = LogFile {
            entries: log[start..].to_vec(),
        };
        self.write(
            "activity.toml",
            "# The last knocks, newest last. Written by postern.",
            &file,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stun_list_takes_commas_spaces_and_lines() {
        let got =
            parse_stun_list(" stun.example.org:3478,198.18.0.9:3478\n[fd00::9]:3478 ").unwrap();
        assert_eq!(
            got,
            ["stun.example.org:3478", "198.18.0.9:3478", "[fd00::9]:3478"]
        );
        assert_eq!(parse_stun_list("  ").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn stun_list_names_the_bad_entry() {
        let e = parse_stun_list("stun.example.org:3478, 198.18.0.9").unwrap_err();
        assert!(e.starts_with("\"198.18.0.9\" is not HOST:PORT"), "{e}");
        let e = parse_stun_list("a:1 b:0").unwrap_err();
        assert!(e.contains("\"b:0\""), "{e}");
        let e = parse_stun_list("a:1 b:1 c:1 d:1 e:1").unwrap_err();
        assert_eq!(e, "at most 4 servers");
    }
}
