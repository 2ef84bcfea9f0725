//! State that must survive a restart: the replay marks.
//!
//! They live in an append-only log, `state_dir/replay.state`. Each mark is
//! appended with one `write` *before* the grant that depends on it is
//! installed: once `write` returns the data is in the kernel, so a crash,
//! `kill -9` or restart of the daemon can no longer lose it. The log is
//! `fdatasync`ed within a tick (200 ms) rather than on the knock's path,
//! which would add about a millisecond per knock; only a power loss or
//! kernel crash in that window can lose a mark, and such a reboot also
//! empties the firewall. When the log holds many expired lines it is
//! rewritten atomically (temporary file, fsync, rename, fsync of the
//! directory). A damaged log stops the daemon rather than being ignored;
//! only a torn last line (a write cut by power loss) is dropped.

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

fn line(d: &Digest, t: UnixTime) -> String {
    format!("{} {}\n", hex::encode(d.0), t.0)
}

/// Reads persisted replay marks; a missing file is an empty cache.
pub fn load_replay(dir: &Path) -> Result<Vec<(Digest, UnixTime)>> {
    let path = replay_path(dir);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    // A last line without its newline is a write cut short: drop it.
    let complete = match text.rfind('\n') {
        Some(i) => &text[..=i],
        None => "",
    };
    let mut lines = complete.lines();
    if lines.next() != Some(HEADER) {
        bail!(
            "{}: not a Postern replay file (first line must be \"{HEADER}\"); move it away only if you accept that recently used knocks could be replayed",
            path.display()
        );
    }
    let mut out = Vec::new();
    for (i, l) in lines.enumerate() {
        let parse = || -> Option<(Digest, UnixTime)> {
            let (d, t) = l.split_once(' ')?;
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

/// Replaces the persisted marks atomically and durably.
pub fn save_replay(dir: &Path, entries: &[(Digest, UnixTime)]) -> Result<()> {
    let mut text = String::with_capacity(HEADER.len() + 1 + entries.len() * 44);
    text.push_str(HEADER);
    text.push('\n');
    for (d, t) in entries {
        text.push_str(&line(d, *t));
    }
    write_atomic(&replay_path(dir), text.as_bytes(), 0o600)
}

/// The open replay log.
#[derive(Debug)]
pub struct ReplayLog {
    dir: PathBuf,
    file: File,
    lines: usize,
    unsynced: bool,
}

impl ReplayLog {
    /// Loads the marks, rewrites the log compactly (dropping nothing: the
    /// caller prunes expired marks), and opens it for appending.
    pub fn open(dir: &Path) -> Result<(ReplayLog, Vec<(Digest, UnixTime)>)> {
        let entries = load_replay(dir)?;
        save_replay(dir, &entries)?;
        let log = ReplayLog::reopen(dir, entries.len())?;
        Ok((log, entries))
    }

    fn reopen(dir: &Path, lines: usize) -> Result<ReplayLog> {
        let path = replay_path(dir);
        let file = OpenOptions::new()
            .append(true)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        Ok(ReplayLog {
            dir: dir.to_owned(),
            file,
            lines,
            unsynced: false,
        })
    }

    /// Appends marks with one write. Call before installing the grants
    /// they protect.
    pub fn append(&mut self, entries: &[(Digest, UnixTime)]) -> Result<()> {
        let text: String = entries.iter().map(|(d, t)| line(d, *t)).collect();
        self.file
            .write_all(text.as_bytes())
            .with_context(|| format!("appending to {}", replay_path(&self.dir).display()))?;
        self.lines += entries.len();
        self.unsynced = true;
        Ok(())
    }

    /// Makes appended marks durable (called every tick).
    pub fn sync(&mut self) -> Result<()> {
        if self.unsynced {
            self.file.sync_data().context("syncing the replay log")?;
            self.unsynced = false;
        }
        Ok(())
    }

    /// Rewrites the log from `live` when most of its lines have expired.
    pub fn compact_if_needed(
        &mut self,
        live_len: usize,
        live: impl FnOnce() -> Vec<(Digest, UnixTime)>,
    ) -> Result<()> {
        if self.lines <= 2 * live_len + 1024 {
            return Ok(());
        }
        let entries = live();
        save_replay(&self.dir, &entries)?;
        *self = ReplayLog::reopen(&self.dir, entries.len())?;
        Ok(())
    }
}

/// Writes `bytes` to `path` so that readers see the old or the new content,
/// never a mix, even across a crash.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    write_via_temp(path, bytes, mode, true)
}

/// Like [`write_atomic`] but without syncing: for reports rewritten every
/// few seconds (`protection.status`) that a power loss may forget.
pub fn write_report(path: &Path, bytes: &[u8]) -> Result<()> {
    write_via_temp(path, bytes, 0o600, false)
}

/// Creates a fresh temporary file next to `path`, exclusively.
///
/// Attack: with a predictable name (it was `.NAME.tmp<pid>`) anyone who can
/// write to the directory — a misconfigured state or config directory —
/// plants a symlink there, and the next save truncates and overwrites the
/// file it points to with root's privileges. So the name carries 64 random
/// bits, and the file is opened with `O_CREAT | O_EXCL` (`create_new`) and
/// `O_NOFOLLOW`: an existing file or symlink of that name is never opened,
/// only refused (and another name tried).
fn create_temp(dir: &Path, name: &str, mode: u32) -> Result<(PathBuf, File)> {
    let mut last = None;
    for _ in 0..8 {
        let tmp = dir.join(format!(".{name}.{:016x}.tmp", rand::random::<u64>()));
        match open_exclusive(&tmp, mode) {
            Ok(f) => return Ok((tmp, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e).with_context(|| format!("creating {}", tmp.display())),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no temporary name")))
        .with_context(|| format!("creating a temporary file in {}", dir.display()))
}

/// `open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode)`.
fn open_exclusive(path: &Path, mode: u32) -> std::io::Result<File> {
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(mode).custom_flags(libc::O_NOFOLLOW);
    }
    #[cfg(not(unix))]
    let _ = mode;
    opts.open(path)
}

fn write_via_temp(path: &Path, bytes: &[u8], mode: u32, durable: bool) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (tmp, mut f) = create_temp(dir, &name, mode)?;
    // Windows has no file modes: a private file (keys, users, replay
    // state) gets its Administrators + SYSTEM only DACL before anything is
    // written into it, instead of whatever the folder passes on.
    #[cfg(windows)]
    if mode & 0o077 == 0
        && let Err(e) = crate::platform::windows::acl::restrict(&tmp)
    {
        drop(f);
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    let written = f
        .write_all(bytes)
        .with_context(|| format!("writing {}", tmp.display()))
        .and_then(|()| {
            if durable {
                f.sync_all()
                    .with_context(|| format!("syncing {}", tmp.display()))
            } else {
                Ok(())
            }
        })
        .and_then(|()| {
            fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))
        });
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
        return written;
    }
    #[cfg(unix)]
    if durable && let Ok(d) = File::open(dir) {
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
    fn appended_marks_survive_and_torn_last_line_is_dropped() {
        let d = tmpdir("log");
        let (mut log, none) = ReplayLog::open(&d).expect("open");
        assert!(none.is_empty());
        log.append(&[(Digest([3; 16]), UnixTime(9))])
            .expect("append");
        log.append(&[
            (Digest([4; 16]), UnixTime(10)),
            (Digest([5; 16]), UnixTime(11)),
        ])
        .expect("append");
        drop(log); // no sync: a crashed process
        assert_eq!(load_replay(&d).expect("load").len(), 3);
        let mut f = OpenOptions::new()
            .append(true)
            .open(replay_path(&d))
            .expect("open");
        f.write_all(b"0606").expect("torn write");
        assert_eq!(load_replay(&d).expect("torn tail dropped").len(), 3);
        let (mut log, back) = ReplayLog::open(&d).expect("reopen compacts");
        assert_eq!(back.len(), 3);
        log.compact_if_needed(0, Vec::new)
            .expect("nothing to do below the threshold");
        assert_eq!(load_replay(&d).expect("load").len(), 3);
        let _ = fs::remove_dir_all(&d);
    }

    #[cfg(unix)]
    #[test]
    fn saving_never_follows_a_planted_symlink() {
        let d = tmpdir("link");
        let victim = d.join("victim");
        fs::write(&victim, "precious").expect("victim");
        // The name the old code used, and a symlink where a new one lands.
        let old_tmp = d.join(format!(".{FILE}.tmp{}", std::process::id()));
        std::os::unix::fs::symlink(&victim, &old_tmp).expect("symlink");
        save_replay(&d, &[(Digest([1; 16]), UnixTime(5))]).expect("save");
        assert_eq!(fs::read_to_string(&victim).expect("read"), "precious");
        assert_eq!(load_replay(&d).expect("load").len(), 1);
        let planted = d.join("planted");
        std::os::unix::fs::symlink(&victim, &planted).expect("symlink");
        let e = open_exclusive(&planted, 0o600).expect_err("refused");
        assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read_to_string(&victim).expect("read"), "precious");
        // No temporary file is left behind.
        let left: Vec<_> = fs::read_dir(&d)
            .expect("list")
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
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
