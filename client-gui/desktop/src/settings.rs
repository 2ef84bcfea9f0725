//! What the app remembers between runs besides hosts and signers (which
//! the engine's [`HostStore`](postern_client::store::HostStore) owns): the user's
//! settings and the activity log. Both are small TOML files next to the
//! hosts, written atomically through the store's
//! [`atomic_write`](postern_client::store::files::atomic_write).

use crate::i18n::LanguageChoice;
use crate::i18n::t;
use postern_client::engine::FailureKind;
use postern_client::engine::clock::ClockCheck;
use postern_client::store::StoreError;
use postern_client::store::files::{atomic_write, ensure_dir};
use postern_proto::profile::{AllowMode, IpPreference, MethodSpec, Profile, valid_host_port};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
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
    /// The window's language; files written before it existed follow the
    /// system (the struct's `serde(default)`).
    pub language: LanguageChoice,
    /// STUN servers (`host:port`) for hosts whose profile names none, to
    /// find this computer's public address behind a NAT (`allow = auto`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stun: Vec<String>,
    /// Hosts whose door is knocked again before the grant ends while the
    /// connection the app started runs ([`crate::keepalive`]); off unless
    /// the user turns it on for a host.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub keep_open: BTreeSet<String>,
    /// After a knock that carries the time stays closed, ask a public time
    /// server whether this computer's clock is why (engine/clock.rs). On
    /// unless turned off: the answer is the one failure a user fixes alone.
    pub check_clock: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            decoys: None,
            ip: IpChoice::Profile,
            allow: AllowChoice::Profile,
            theme: ThemeChoice::System,
            language: LanguageChoice::System,
            stun: Vec::new(),
            keep_open: BTreeSet::new(),
            check_clock: true,
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
        return Err(t!("stun-not-host-port", entry = bad.as_str()));
    }
    if servers.len() > MAX_STUN {
        return Err(t!("stun-too-many", max = MAX_STUN));
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

    pub fn label(self) -> String {
        match self {
            IpChoice::Profile => t!("ip-profile"),
            IpChoice::V4 => t!("ip-v4"),
            IpChoice::V6 => t!("ip-v6"),
            IpChoice::Both => t!("ip-both"),
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
    pub fn label(&self) -> String {
        match self {
            AllowChoice::Profile => t!("allow-profile"),
            AllowChoice::Source => t!("allow-source"),
            AllowChoice::Explicit { .. } => t!("allow-explicit"),
            AllowChoice::Url { .. } => t!("allow-url"),
        }
    }

    /// What is wrong with the value, in words; `None` when fine.
    pub fn problem(&self) -> Option<String> {
        match self {
            AllowChoice::Explicit { address } if address.trim().parse::<IpAddr>().is_err() => {
                Some(t!("allow-explicit-problem"))
            }
            AllowChoice::Url { url } if !url.trim().starts_with("https://") => {
                Some(t!("allow-url-problem"))
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

    pub fn label(self) -> String {
        match self {
            ThemeChoice::System => t!("theme-system"),
            ThemeChoice::Light => t!("theme-light"),
            ThemeChoice::Dark => t!("theme-dark"),
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
        /// Whether this computer's clock is why (engine/clock.rs); logs
        /// written before the check existed have none.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        clock: Option<ClockCheck>,
    },
    /// The port answered before the knock was sent; nothing shows the
    /// knock opened it.
    AnsweredBeforeKnock,
    /// Sent; the profile has no TCP door to check.
    Sent {
        packets: usize,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bound: Option<String>,
    },
    Failed {
        message: String,
        /// For the plain sentence and the suggestion; logs written before
        /// it existed read as `Other`.
        #[serde(default)]
        kind: FailureKind,
    },
    Cancelled,
}

impl Outcome {
    /// Connecting now is worth trying (the launcher may start).
    pub fn can_connect(&self) -> bool {
        matches!(self, Outcome::Open { .. } | Outcome::AnsweredBeforeKnock)
    }

    /// The result in plain words.
    pub fn message(&self) -> String {
        let yes_no = |b: bool| if b { "yes" } else { "no" };
        // "none" selects the variant without an address in the .ftl.
        let address = |bound: &Option<String>| bound.clone().unwrap_or_else(|| "none".to_owned());
        match self {
            Outcome::Open {
                ms,
                reknocked,
                bound,
            } => t!(
                "outcome-open",
                ms = *ms,
                reknocked = yes_no(*reknocked),
                address = address(bound)
            ),
            Outcome::StillClosed {
                reknocked,
                clock: Some(ClockCheck::Wrong { ahead_secs, .. }),
            } => t!(
                "outcome-still-closed-clock-wrong",
                reknocked = yes_no(*reknocked),
                clock = crate::status::clock_words(*ahead_secs)
            ),
            Outcome::StillClosed { reknocked, .. } => {
                t!("outcome-still-closed", reknocked = yes_no(*reknocked))
            }
            Outcome::AnsweredBeforeKnock => t!("outcome-answered-before"),
            Outcome::Sent { packets, bound } => {
                t!("outcome-sent", packets = *packets, address = address(bound))
            }
            Outcome::Failed { message, .. } => t!("outcome-failed", message = message.as_str()),
            Outcome::Cancelled => t!("outcome-cancelled"),
        }
    }
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

    /// Settings files written before the Language choice existed load,
    /// following the system; the choice is saved and read back.
    #[test]
    fn language_is_optional_and_saved() {
        let old: Settings =
            toml::from_str("ip = \"v4\"\ntheme = \"dark\"\n[allow]\nmode = \"source\"\n").unwrap();
        assert_eq!(old.language, LanguageChoice::System);
        assert_eq!(old.theme, ThemeChoice::Dark);
        let es = Settings {
            language: LanguageChoice::Spanish,
            ..Settings::default()
        };
        let text = toml::to_string(&es).unwrap();
        assert!(text.contains("language = \"es\""), "{text}");
        assert_eq!(toml::from_str::<Settings>(&text).unwrap(), es);
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
