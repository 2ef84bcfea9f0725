//! "Connect" after a successful knock: which program to start for RDP, SSH
//! or a web page on each OS. [`launch_command`] is pure (the OS and "is
//! this tool installed?" come in as arguments) so every case is tested on
//! any machine; [`spawn`] is the thin part that starts it.

use crate::i18n::t;
use postern_proto::method::DoorProto;
use postern_proto::profile::{Launch, Profile};
use std::net::Ipv6Addr;
use std::path::Path;

/// What to connect to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectAction {
    Rdp {
        host: String,
        port: u16,
        user: Option<String>,
    },
    Ssh {
        host: String,
        port: u16,
        user: Option<String>,
    },
    Url {
        url: String,
    },
}

impl ConnectAction {
    /// Button text: "Connect (Remote Desktop)".
    pub fn label(&self) -> String {
        match self {
            ConnectAction::Rdp { .. } => t!("program-rdp"),
            ConnectAction::Ssh { .. } => t!("program-ssh"),
            ConnectAction::Url { .. } => t!("program-url"),
        }
    }
}

/// The profile's `launch`, or a guess from its first TCP door (3389 is
/// RDP, 22 SSH, 80/443/8080/8443 a web page); `None` when there is nothing
/// sensible to start.
pub fn connect_action(p: &Profile) -> Option<ConnectAction> {
    let door = p.doors.iter().find(|d| d.proto == DoorProto::Tcp);
    let host = p.host.clone();
    match (&p.launch, door) {
        (Some(Launch::Url { url }), _) => Some(ConnectAction::Url { url: url.clone() }),
        (Some(Launch::Rdp { user }), d) => Some(ConnectAction::Rdp {
            host,
            port: d.map_or(3389, |d| d.port),
            user: user.clone(),
        }),
        (Some(Launch::Ssh { user }), d) => Some(ConnectAction::Ssh {
            host,
            port: d.map_or(22, |d| d.port),
            user: user.clone(),
        }),
        (None, Some(d)) => match d.port {
            3389 => Some(ConnectAction::Rdp {
                host,
                port: 3389,
                user: None,
            }),
            22 => Some(ConnectAction::Ssh {
                host,
                port: 22,
                user: None,
            }),
            80 | 8080 => Some(ConnectAction::Url {
                url: format!("http://{}:{}/", url_host(&host), d.port),
            }),
            443 | 8443 => Some(ConnectAction::Url {
                url: format!("https://{}:{}/", url_host(&host), d.port),
            }),
            _ => None,
        },
        (None, None) => None,
    }
}

/// The OS whose tools to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetOs {
    Windows,
    MacOs,
    /// Linux and the BSDs.
    Unix,
}

impl TargetOs {
    pub fn current() -> Self {
        if cfg!(windows) {
            TargetOs::Windows
        } else if cfg!(target_os = "macos") {
            TargetOs::MacOs
        } else {
            TargetOs::Unix
        }
    }
}

/// A program and its arguments, passed without a shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchCmd {
    pub program: String,
    pub args: Vec<String>,
}

fn cmd(program: &str, args: &[&str]) -> LaunchCmd {
    LaunchCmd {
        program: program.to_owned(),
        args: args.iter().map(|a| (*a).to_owned()).collect(),
    }
}

/// `[v6]` for URLs and `host:port` forms.
fn url_host(host: &str) -> String {
    if host.parse::<Ipv6Addr>().is_ok() {
        format!("[{host}]")
    } else {
        host.to_owned()
    }
}

/// Host names, addresses and user names go to other programs' argument
/// parsers (and, on Windows, through `cmd`): allow only what they can be.
fn safe(text: &str) -> bool {
    !text.is_empty()
        && !text.starts_with('-')
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-_:[]".contains(c))
}

fn safe_url(url: &str) -> bool {
    (url.starts_with("https://") || url.starts_with("http://"))
        && !url
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "\"'`<>|^&;$\\".contains(c))
}

/// Terminals tried on Linux, in order, with the flag that runs a command.
const TERMINALS: [(&str, &str); 7] = [
    ("x-terminal-emulator", "-e"),
    ("gnome-terminal", "--"),
    ("konsole", "-e"),
    ("xfce4-terminal", "-x"),
    ("kitty", "--"),
    ("alacritty", "-e"),
    ("xterm", "-e"),
];

/// The command that connects, or a sentence saying what is missing.
pub fn launch_command(
    os: TargetOs,
    action: &ConnectAction,
    has_tool: &dyn Fn(&str) -> bool,
) -> Result<LaunchCmd, String> {
    match action {
        ConnectAction::Url { url } => {
            if !safe_url(url) {
                return Err(t!("launch-bad-url", url = url.as_str()));
            }
            match os {
                TargetOs::Windows => Ok(cmd("rundll32", &["url.dll,FileProtocolHandler", url])),
                TargetOs::MacOs => Ok(cmd("open", &[url])),
                TargetOs::Unix if has_tool("xdg-open") => Ok(cmd("xdg-open", &[url])),
                TargetOs::Unix => Err(t!("launch-no-browser", url = url.as_str())),
            }
        }
        ConnectAction::Rdp { host, port, user } => {
            if !safe(host) || user.as_deref().is_some_and(|u| !safe(u)) {
                return Err(t!("launch-bad-chars"));
            }
            let target = format!("{}:{port}", url_host(host));
            match os {
                TargetOs::Windows => Ok(cmd("mstsc", &[&format!("/v:{target}")])),
                TargetOs::MacOs => {
                    let mut u = format!("rdp://full%20address=s:{target}");
                    if let Some(user) = user {
                        u.push_str(&format!("&username=s:{user}"));
                    }
                    Ok(cmd("open", &[&u]))
                }
                TargetOs::Unix => {
                    for prog in ["xfreerdp3", "xfreerdp", "wlfreerdp"] {
                        if has_tool(prog) {
                            let mut c = cmd(prog, &[&format!("/v:{target}")]);
                            if let Some(user) = user {
                                c.args.push(format!("/u:{user}"));
                            }
                            return Ok(c);
                        }
                    }
                    if has_tool("remmina") {
                        let who = user.as_ref().map_or(String::new(), |u| format!("{u}@"));
                        return Ok(cmd("remmina", &["-c", &format!("rdp://{who}{target}")]));
                    }
                    Err(t!("launch-no-rdp", target = target))
                }
            }
        }
        ConnectAction::Ssh { host, port, user } => {
            if !safe(host) || user.as_deref().is_some_and(|u| !safe(u)) {
                return Err(t!("launch-bad-chars"));
            }
            let dest = match user {
                Some(u) => format!("{u}@{host}"),
                None => host.clone(),
            };
            let port = port.to_string();
            match os {
                TargetOs::Windows => Ok(cmd(
                    "cmd",
                    &["/C", "start", "Postern SSH", "ssh", "-p", &port, &dest],
                )),
                TargetOs::MacOs => {
                    let who = user.as_ref().map_or(String::new(), |u| format!("{u}@"));
                    Ok(cmd(
                        "open",
                        &[&format!("ssh://{who}{}:{port}", url_host(host))],
                    ))
                }
                TargetOs::Unix => {
                    let Some((term, flag)) = TERMINALS.iter().find(|(t, _)| has_tool(t)) else {
                        return Err(t!(
                            "launch-no-terminal",
                            port = port.as_str(),
                            dest = dest.as_str()
                        ));
                    };
                    Ok(cmd(term, &[flag, "ssh", "-p", &port, &dest]))
                }
            }
        }
    }
}

/// Whether `program` is an executable file on `PATH`.
pub fn on_path(program: &str) -> bool {
    let Some(path) = std::env::var_os("PATH") else {
        return false;
    };
    std::env::split_paths(&path).any(|dir| {
        let p = dir.join(program);
        is_executable(&p) || (cfg!(windows) && is_executable(&p.with_extension("exe")))
    })
}

fn is_executable(p: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        p.is_file()
    }
}

/// Starts the program (not waiting for it); the child is kept so the
/// keep-alive can see whether it still runs. Errors are sentences.
pub fn spawn(c: &LaunchCmd) -> Result<std::process::Child, String> {
    std::process::Command::new(&c.program)
        .args(&c.args)
        .stdin(std::process::Stdio::null())
        .spawn()
        .map_err(|e| {
            t!(
                "launch-cannot-start",
                program = c.program.as_str(),
                error = e.to_string()
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rdp(host: &str) -> ConnectAction {
        ConnectAction::Rdp {
            host: host.into(),
            port: 3389,
            user: None,
        }
    }

    #[test]
    fn rdp_per_os() {
        let none = |_: &str| false;
        let c = launch_command(TargetOs::Windows, &rdp("office.example"), &none).unwrap();
        assert_eq!(c, cmd("mstsc", &["/v:office.example:3389"]));
        let c = launch_command(TargetOs::MacOs, &rdp("fd00::1"), &none).unwrap();
        assert_eq!(c, cmd("open", &["rdp://full%20address=s:[fd00::1]:3389"]));
        let e = launch_command(TargetOs::Unix, &rdp("h"), &none).unwrap_err();
        assert!(e.contains("Install Remmina or FreeRDP"), "{e}");
        let c = launch_command(TargetOs::Unix, &rdp("h"), &|t| t == "remmina").unwrap();
        assert_eq!(c, cmd("remmina", &["-c", "rdp://h:3389"]));
        let c = launch_command(TargetOs::Unix, &rdp("h"), &|t| t == "xfreerdp").unwrap();
        assert_eq!(c, cmd("xfreerdp", &["/v:h:3389"]));
    }

    #[test]
    fn ssh_and_url() {
        let ssh = ConnectAction::Ssh {
            host: "192.0.2.1".into(),
            port: 2222,
            user: Some("ann".into()),
        };
        let c = launch_command(TargetOs::Unix, &ssh, &|t| t == "xterm").unwrap();
        assert_eq!(
            c,
            cmd("xterm", &["-e", "ssh", "-p", "2222", "ann@192.0.2.1"])
        );
        let e = launch_command(TargetOs::Unix, &ssh, &|_| false).unwrap_err();
        assert!(e.contains("ssh -p 2222 ann@192.0.2.1"), "{e}");
        let c = launch_command(TargetOs::MacOs, &ssh, &|_| false).unwrap();
        assert_eq!(c, cmd("open", &["ssh://ann@192.0.2.1:2222"]));
        let url = ConnectAction::Url {
            url: "https://intranet.example/".into(),
        };
        let c = launch_command(TargetOs::Unix, &url, &|t| t == "xdg-open").unwrap();
        assert_eq!(c, cmd("xdg-open", &["https://intranet.example/"]));
        let bad = ConnectAction::Url {
            url: "https://x/\" & calc".into(),
        };
        assert!(launch_command(TargetOs::Windows, &bad, &|_| true).is_err());
        assert!(launch_command(TargetOs::Unix, &rdp("-oProxyCommand=x"), &|_| true).is_err());
    }
}
