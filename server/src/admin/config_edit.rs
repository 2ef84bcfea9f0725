//! The one way `posternd user …` changes `posternd.toml`: edit the
//! document with a format-preserving TOML editor (`toml_edit`), so the
//! administrator's comments, order and spacing survive; check the whole
//! result with the real config parser; write it atomically with the
//! file's own permissions. A config that is already broken is refused
//! with the parser's message and left as it is: an edit must not bury
//! the administrator's mistake under ours.

use crate::config::{self, Config};
use crate::state::write_atomic;
use anyhow::{Context, Result, bail};
use postern_proto::UnixTime;
use std::path::Path;
use toml_edit::{ArrayOfTables, DocumentMut, Item, Table, value};

/// Reads the config at `path`, lets `edit` change it, validates the
/// result and writes it over the file (temp file + rename, same mode).
/// Nothing is written when `edit` fails or the result is not valid.
pub fn edit<T>(
    path: &Path,
    edit: impl FnOnce(&mut DocumentMut, &Config) -> Result<T>,
) -> Result<T> {
    edit_then(path, edit, |_| Ok(()))
}

/// [`edit`], and `before_write` once the result validated but before the
/// config is written: e.g. the new user's profile, so that neither a
/// refused edit leaves a profile behind nor a written config names a key
/// whose profile could not be written.
pub fn edit_then<T>(
    path: &Path,
    edit: impl FnOnce(&mut DocumentMut, &Config) -> Result<T>,
    before_write: impl FnOnce(&T) -> Result<()>,
) -> Result<T> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {shown}"))?;
    let cfg = config::parse(&text, &shown)
        .context("the config is not valid; fix it first (nothing was changed)")?;
    let mut doc: DocumentMut = text
        .parse()
        .with_context(|| format!("{shown}: not TOML (nothing was changed)"))?;
    let out = edit(&mut doc, &cfg)?;
    let new = doc.to_string();
    config::parse(&new, &shown)
        .context("the edited config did not validate; nothing was changed")?;
    before_write(&out)?;
    write_atomic(path, new.as_bytes(), mode_of(path))?;
    Ok(out)
}

/// The permission bits to keep: the config holds users' keys, so a file
/// whose mode cannot be read is written owner-only.
fn mode_of(path: &Path) -> u32 {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).map_or(0o600, |m| m.permissions().mode() & 0o7777)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        0o600
    }
}

fn users(doc: &mut DocumentMut) -> Option<&mut ArrayOfTables> {
    doc.get_mut("user").and_then(Item::as_array_of_tables_mut)
}

/// The `[[user]]` table called `name`.
pub fn user<'a>(doc: &'a mut DocumentMut, name: &str) -> Result<&'a mut Table> {
    users(doc)
        .and_then(|a| {
            a.iter_mut()
                .find(|t| t.get("name").and_then(Item::as_str) == Some(name))
        })
        .with_context(|| format!("no user named {name:?} in the config"))
}

/// Removes the `[[user]]` table called `name`, with the comment lines
/// written just above it (they are part of its header).
pub fn remove_user(doc: &mut DocumentMut, name: &str) -> Result<()> {
    let Some(all) = users(doc) else {
        bail!("no user named {name:?} in the config");
    };
    let Some(i) = all
        .iter()
        .position(|t| t.get("name").and_then(Item::as_str) == Some(name))
    else {
        bail!("no user named {name:?} in the config");
    };
    all.remove(i);
    if all.is_empty() {
        doc.remove("user");
    }
    Ok(())
}

/// Appends a `[[user]]` table at the end of the file.
pub fn push_user(doc: &mut DocumentMut, mut table: Table) {
    table.decor_mut().set_prefix("\n");
    match users(doc) {
        Some(a) => a.push(table),
        None => {
            let mut a = ArrayOfTables::new();
            a.push(table);
            doc.insert("user", Item::ArrayOfTables(a));
        }
    }
}

/// Sets `key` to a TOML date-time (`2026-12-13T00:00:00Z`).
pub fn set_time(t: &mut Table, key: &str, at: UnixTime) -> Result<()> {
    let dt: toml_edit::Datetime = crate::when::rfc3339(at)
        .parse()
        .context("formatting a date (a bug)")?;
    t[key] = value(dt);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    pub const CONFIG: &str = r#"# Postern on the office gateway.
[server]
server_id = "00112233445566778899aabbccddeeff"
interfaces = ["veth0"]   # the outside link

[[door]]
name = "ssh"
proto = "tcp"
port = 22
spa = true

# Alice: sales laptop.
[[user]]
name = "alice"
key = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
doors = ["ssh"]

# Bob: the build robot, keep it.
[[user]]
name = "bob"
key = "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI="
doors = ["ssh"]   # only ssh
"#;

    pub fn file(tag: &str, text: &str) -> (std::path::PathBuf, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("postern-edit-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("posternd.toml");
        std::fs::write(&path, text).expect("write");
        (dir, path)
    }

    #[test]
    fn an_edit_keeps_comments_and_other_entries_and_the_mode() {
        let (dir, path) = file("keep", CONFIG);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).expect("mode");
        }
        edit(&path, |doc, _| {
            user(doc, "alice")?["disabled"] = value(true);
            Ok(())
        })
        .expect("edit");
        let new = std::fs::read_to_string(&path).expect("read");
        assert_eq!(
            new,
            CONFIG.replace(
                "doors = [\"ssh\"]\n\n# Bob",
                "doors = [\"ssh\"]\ndisabled = true\n\n# Bob"
            )
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o640);
        }
        // No temporary file is left next to it.
        let names: Vec<_> = std::fs::read_dir(&dir)
            .expect("dir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, ["posternd.toml"]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_broken_config_is_refused_with_the_parsers_error_and_left_alone() {
        let broken = CONFIG.replace("port = 22", "port = 0");
        let (dir, path) = file("broken", &broken);
        let e = edit(&path, |doc, _| {
            user(doc, "alice")?["disabled"] = value(true);
            Ok(())
        })
        .unwrap_err();
        let e = format!("{e:#}");
        assert!(
            e.starts_with("the config is not valid; fix it first"),
            "{e}"
        );
        assert!(e.contains("port must be 1 to 65535"), "{e}");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), broken);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_edit_the_parser_refuses_writes_nothing() {
        let (dir, path) = file("invalid", CONFIG);
        let e = edit(&path, |doc, _| {
            user(doc, "alice")?["doors"] = value(toml_edit::Array::from_iter(["rdp"]));
            Ok(())
        })
        .unwrap_err();
        let e = format!("{e:#}");
        assert!(e.contains("did not validate; nothing was changed"), "{e}");
        assert!(e.contains("no door named \"rdp\""), "{e}");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), CONFIG);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
