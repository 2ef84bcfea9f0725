//! `posternd import-knockd`: knockd.conf → Postern `[[door]]` entries.
//!
//! knockd opens doors by running shell commands; Postern opens them in its
//! own firewall table. The protected port is read from the command's
//! `--dport N` (and `-p tcp|udp`); a door whose command names no port is
//! reported and skipped. Closing sections (`-D`) are dropped: Postern
//! closes by ttl.

use anyhow::{Context, Result, bail};
use postern_proto::method::sequence::Sequence;
use std::path::Path;

/// `posternd import-knockd FILE [--append]`: the converted doors as TOML,
/// or (with `append`) added to the config at `config_path` after the
/// whole result has been validated; nothing changes if it does not.
pub fn import(config_path: &Path, file: &Path, append: bool) -> Result<String> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let doors = convert(&text, &file.display().to_string())?;
    let toml = to_toml(&doors);
    if !append {
        return Ok(toml);
    }
    super::append_validated(config_path, &toml, "doors")?;
    let added = doors
        .iter()
        .filter(|d| matches!(d, Converted::Door { .. }))
        .count();
    Ok(format!(
        "appended {added} door(s) to {}\nrun `posternd reload` to apply them\n",
        config_path.display()
    ))
}

/// One converted door, or a section that could not be converted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Converted {
    Door {
        name: String,
        sequence: Sequence,
        proto: &'static str,
        port: u16,
        duration: u32,
        notes: Vec<String>,
    },
    Skipped {
        name: String,
        why: String,
    },
}

#[derive(Debug, Default)]
struct Section {
    name: String,
    line: usize,
    keys: Vec<(String, String)>,
}

impl Section {
    fn get(&self, k: &str) -> Option<&str> {
        self.keys
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.as_str())
    }
}

/// Parses knockd.conf text. Errors name the line.
pub fn convert(text: &str, source: &str) -> Result<Vec<Converted>> {
    let mut sections: Vec<Section> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix('[') {
            let Some(name) = name.strip_suffix(']') else {
                bail!("{source}:{}: a section header must end with ']'", i + 1);
            };
            sections.push(Section {
                name: name.trim().to_owned(),
                line: i + 1,
                keys: Vec::new(),
            });
            continue;
        }
        let Some(sec) = sections.last_mut() else {
            bail!("{source}:{}: setting outside of a [section]", i + 1);
        };
        let (k, v) = line.split_once('=').unwrap_or((line, ""));
        sec.keys.push((k.trim().to_owned(), v.trim().to_owned()));
    }
    let mut out = Vec::new();
    for s in sections
        .iter()
        .filter(|s| !s.name.eq_ignore_ascii_case("options"))
    {
        let name: String = s
            .name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let Some(seq_text) = s.get("sequence") else {
            out.push(Converted::Skipped {
                name,
                why: if s.get("one_time_sequences").is_some() {
                    "one_time_sequences files are not supported; use a dynamic sequence or SPA"
                        .into()
                } else {
                    format!("{source}:{}: no sequence", s.line)
                },
            });
            continue;
        };
        let sequence = match Sequence::parse(seq_text) {
            Ok(seq) => seq,
            Err(e) => bail!("{source}:{}: sequence: {e}", s.line),
        };
        let command = s
            .get("start_command")
            .or_else(|| s.get("command"))
            .unwrap_or("");
        if command.contains(" -D ") || command.contains(" delete ") {
            out.push(Converted::Skipped {
                name,
                why: "closing section: Postern closes doors by their ttl".into(),
            });
            continue;
        }
        let Some(port) = dport(command) else {
            out.push(Converted::Skipped {
                name,
                why: format!(
                    "{source}:{}: cannot find the protected port (--dport N) in the command",
                    s.line
                ),
            });
            continue;
        };
        let proto = if command.contains("-p udp") {
            "udp"
        } else {
            "tcp"
        };
        let duration = s
            .get("cmd_timeout")
            .and_then(|v| v.parse().ok())
            .unwrap_or(30);
        let mut notes = Vec::new();
        if let Some(t) = s.get("seq_timeout") {
            notes.push(format!(
                "knockd seq_timeout = {t}: Postern's is global ([limits] seq_timeout)"
            ));
        }
        if let Some(f) = s.get("tcpflags")
            && !f.eq_ignore_ascii_case("syn")
        {
            notes.push(format!("tcpflags = {f}: Postern counts TCP SYNs only"));
        }
        out.push(Converted::Door {
            name,
            sequence,
            proto,
            port,
            duration,
            notes,
        });
    }
    Ok(out)
}

fn dport(cmd: &str) -> Option<u16> {
    let mut words = cmd.split_whitespace();
    while let Some(w) = words.next() {
        if w == "--dport" || w == "--destination-port" || w == "dport" {
            return words.next()?.parse().ok();
        }
    }
    None
}

/// The converted doors as config text, skipped sections as comments.
pub fn to_toml(doors: &[Converted]) -> String {
    let mut s = String::from("# Converted from knockd.conf by `posternd import-knockd`.\n");
    for c in doors {
        match c {
            Converted::Door {
                name,
                sequence,
                proto,
                port,
                duration,
                notes,
            } => {
                s.push_str(&format!(
                    "\n[[door]]\nname = \"{name}\"\nproto = \"{proto}\"\nport = {port}\nduration = {duration}\nsequence = \"{sequence}\"\n"
                ));
                for n in notes {
                    s.push_str(&format!("# note: {}\n", super::comment_text(n)));
                }
            }
            Converted::Skipped { name, why } => s.push_str(&format!(
                "\n# skipped [{name}]: {}\n",
                super::comment_text(why)
            )),
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const KNOCKD: &str = r#"
[options]
    UseSyslog

[openSSH]
    sequence    = 7000,8000,9000
    seq_timeout = 5
    command     = /sbin/iptables -A INPUT -s %IP% -p tcp --dport 22 -j ACCEPT
    tcpflags    = syn

[closeSSH]
    sequence    = 9000,8000,7000
    seq_timeout = 5
    command     = /sbin/iptables -D INPUT -s %IP% -p tcp --dport 22 -j ACCEPT

[opencloseDNS]
    sequence      = 2222:udp,3333:tcp,4444:udp
    start_command = /sbin/iptables -A INPUT -s %IP% -p udp --dport 53 -j ACCEPT
    cmd_timeout   = 10
    stop_command  = /sbin/iptables -D INPUT -s %IP% -p udp --dport 53 -j ACCEPT
"#;

    #[test]
    fn converts_doors_and_explains_skips() {
        let c = convert(KNOCKD, "knockd.conf").expect("parses");
        assert_eq!(c.len(), 3);
        let Converted::Door {
            port: 22,
            proto: "tcp",
            duration: 30,
            ..
        } = &c[0]
        else {
            panic!("{c:?}")
        };
        assert!(matches!(&c[1], Converted::Skipped { why, .. } if why.contains("closing")));
        let Converted::Door {
            port: 53,
            proto: "udp",
            duration: 10,
            sequence,
            ..
        } = &c[2]
        else {
            panic!("{c:?}")
        };
        assert_eq!(sequence.to_string(), "2222:udp,3333:tcp,4444:udp");
        let toml = to_toml(&c);
        // The output is valid config once a [server] section is in front.
        let full = format!(
            "[server]\nserver_id = \"00112233445566778899aabbccddeeff\"\ninterfaces = [\"eth0\"]\n{toml}"
        );
        crate::config::parse(&full, "converted").expect("valid config");
    }

    #[test]
    fn control_characters_do_not_break_the_toml() {
        // Found by fuzz/fuzz_targets/knockd_import.rs: a control character
        // in a value copied into a note made the output invalid TOML.
        let text = include_str!("../../../fuzz/regressions/knockd_import/control_char_in_note");
        let out = to_toml(&convert(text, "knockd.conf").expect("parses"));
        assert!(out.contains("# note: tcpflags = \u{fffd}"), "{out}");
        out.parse::<toml::Table>().expect("valid TOML");
    }

    #[test]
    fn bad_input_names_the_line() {
        let e = convert("[a\nsequence = 1", "k.conf")
            .unwrap_err()
            .to_string();
        assert_eq!(e, "k.conf:1: a section header must end with ']'");
        let e = convert("[a]\nsequence = 1,x", "k.conf")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("k.conf:1: sequence: knock 2"), "{e}");
    }

    #[test]
    fn import_appends_only_a_config_that_still_validates() {
        let dir = std::env::temp_dir().join(format!("postern-import-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let (cfg, knockd) = (dir.join("posternd.toml"), dir.join("knockd.conf"));
        let base =
            "[server]\nserver_id = \"00112233445566778899aabbccddeeff\"\ninterfaces = [\"eth0\"]\n";
        std::fs::write(&cfg, base).expect("config");
        std::fs::write(&knockd, KNOCKD).expect("knockd.conf");
        // Without --append: the doors are only shown.
        let shown = import(&cfg, &knockd, false).expect("import");
        assert!(shown.contains("[[door]]"), "{shown}");
        assert_eq!(std::fs::read_to_string(&cfg).expect("config"), base);
        // With it: appended, and the admin is told to reload.
        let said = import(&cfg, &knockd, true).expect("append");
        assert!(said.starts_with("appended 2 door(s) to "), "{said}");
        assert!(said.contains("posternd reload"), "{said}");
        let after = std::fs::read_to_string(&cfg).expect("config");
        crate::config::parse(&after, "after").expect("still valid");
        // Appending the same doors again would duplicate their names:
        // refused, and the file is left as it was.
        let e = format!("{:#}", import(&cfg, &knockd, true).unwrap_err());
        assert!(e.contains("nothing was changed"), "{e}");
        assert_eq!(std::fs::read_to_string(&cfg).expect("config"), after);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
