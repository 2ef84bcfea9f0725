//! State that must survive a restart: the replay cache.
//!
//! Written atomically (temporary file, fsync, rename, fsync of the
//! directory) before any grant that depends on it is installed, so neither a
//! crash nor a restart can make a used SPA packet or burned step valid again.
//! A damaged file stops the daemon rather than being ignored.

use anyhow::{Context, Result, bail};
use postern_proto::UnixTime;
use postern_proto::replay::Digest;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

const HEADER: &str = "postern-replay v1";
const FILE: &str = "replay.state";

/// Creates the state directory (mode 0700) if needed.
pub fn ensure_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir)
        .with_context(|| format!("creating state directory {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
            .with_context(|| format!("setting mode 0700 on {}", dir.display()))?;
    }
    Ok(())
}

pub fn replay_path(dir: &Path) -> PathBuf {
    dir.join(FILE)
}

/// Reads persisted replay entries; a missing file is an empty cache.
pub fn load_replay(dir: &Path) -> Result<Vec<(Digest, UnixTime)>> {
    let path = replay_path(dir);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let mut lines = text.lines();
    if lines.next() != Some(HEADER) {
        bail!(
            "{}: not a Postern replay file (first line must be \"{HEADER}\"); move it away only if you accept that recently used knocks could be replayed",
            path.display()
        );
    }
    let mut out = Vec::new();
    for (i, line) in lines.enumerate() {
        let parse = || -> Option<(Digest, UnixTime)> {
            let (d, t) = line.split_once(' ')?;
            let bytes: [u8; 16] = hex::decode(d).ok()?.try_into().ok()?;
            Some((Digest(bytes), UnixTime(t.parse().ok()?)))
        };
        match parse() {
            Some(e) => out.push(e),
            None => bail!("{}:{}: damaged replay entry", path.display(), i + 2),
        }
    }
    Ok(out)
}

/// Replaces the persisted replay entries atomically.
pub fn save_replay(dir: &Path, entries: &[(Digest, UnixTime)]) -> Result<()> {
    let mut text = String::with_capacity(HEADER.len() + 1 + entries.len() * 44);
    text.push_str(HEADER);
    text.push('\n');
    for (d, t) in entries {
        text.push_str(&hex::encode(d.0));
        text.push(' ');
        text.push_str(&t.0.to_string());
        text.push('\n');
    }
    write_atomic(&replay_path(dir), text.as_bytes(), 0o600)
}

/// Writes `bytes` to `path` so that readers see the old or the new content,
/// never a mix, even across a crash.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    {
        let mut opts = OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(mode);
        }
        #[cfg(not(unix))]
        let _ = mode;
        let mut f = opts
            .open(&tmp)
            .with_context(|| format!("creating {}", tmp.display()))?;
        f.write_all(bytes)
            .with_context(|| format!("writing {}", tmp.display()))?;
        f.sync_all()
            .with_context(|| format!("syncing {}", tmp.display()))?;
    }
    fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))?;
    #[cfg(unix)]
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("postern-state-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        ensure_dir(&d).expect("dir");
        d
    }

    #[test]
    fn round_trip_and_missing_file() {
        let d = tmpdir("rt");
        assert!(load_replay(&d).expect("empty").is_empty());
        let e = vec![
            (Digest([1; 16]), UnixTime(5)),
            (Digest([2; 16]), UnixTime(6)),
        ];
        save_replay(&d, &e).expect("save");
        assert_eq!(load_replay(&d).expect("load"), e);
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn damaged_file_is_an_error_not_an_empty_cache() {
        let d = tmpdir("bad");
        fs::write(replay_path(&d), "postern-replay v1\nzz 5\n").expect("write");
        let e = load_replay(&d).unwrap_err().to_string();
        assert!(e.contains("replay.state:2: damaged"), "{e}");
        fs::write(replay_path(&d), "garbage").expect("write");
        assert!(load_replay(&d).is_err());
        let _ = fs::remove_dir_all(&d);
    }
}
