//! Hosts and trusted signers as TOML files under the config folder:
//! `hosts/<name>.toml` (one profile each, without its secret) and
//! `signers.toml`.
//!
//! Every write is atomic — a temporary file in the same folder, fsync,
//! rename over the old file, fsync the folder — so a crash or a full disk
//! leaves either the old file or the new one, never half of each. A file
//! that does not parse is reported with its path and left alone: it may be
//! the only copy of something the user cares about.

use super::{HostStore, Signers, StoreError, slug};
use postern_proto::profile::{self, Profile};
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Environment variable that overrides the config folder (tests, portable
/// installs).
pub const CONFIG_DIR_ENV: &str = "POSTERN_CONFIG_DIR";

/// The config folder: `$POSTERN_CONFIG_DIR`, else the platform's
/// (`~/.config/postern`, `%APPDATA%\Postern\postern\config`, …).
pub fn config_dir() -> Result<PathBuf, StoreError> {
    if let Some(d) = std::env::var_os(CONFIG_DIR_ENV).filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(d));
    }
    directories::ProjectDirs::from("org", "Postern", "postern")
        .map(|p| p.config_dir().to_path_buf())
        .ok_or(StoreError::NoConfigDir)
}

/// The real [`HostStore`].
#[derive(Debug, Clone)]
pub struct FileStore {
    dir: PathBuf,
}

impl FileStore {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        FileStore { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn hosts_dir(&self) -> PathBuf {
        self.dir.join("hosts")
    }

    fn host_path(&self, name: &str) -> Result<PathBuf, StoreError> {
        Ok(self.hosts_dir().join(format!("{}.toml", slug(name)?)))
    }

    fn signers_path(&self) -> PathBuf {
        self.dir.join("signers.toml")
    }
}

fn io_err(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> StoreError {
    let path = path.to_path_buf();
    move |cause| StoreError::Io {
        action,
        path,
        cause,
    }
}

/// Reads a file, `None` when it does not exist.
fn read_opt(path: &Path) -> Result<Option<String>, StoreError> {
    match fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| StoreError::Corrupt {
                path: path.to_path_buf(),
                message: "not UTF-8 text".to_owned(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err("read", path)(e)),
    }
}

fn load_host(path: &Path) -> Result<Option<Profile>, StoreError> {
    let Some(text) = read_opt(path)? else {
        return Ok(None);
    };
    profile::parse(&text, &path.display().to_string())
        .map(Some)
        .map_err(|e| StoreError::Corrupt {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
}

impl HostStore for FileStore {
    fn hosts(&self) -> Result<Vec<Profile>, StoreError> {
        let dir = self.hosts_dir();
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err("list", &dir)(e)),
        };
        let mut out = Vec::new();
        for entry in entries {
            let path = entry.map_err(io_err("list", &dir))?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            // Temporary files of an interrupted write start with a dot.
            if name.starts_with('.') || !name.ends_with(".toml") {
                continue;
            }
            if let Some(p) = load_host(&path)? {
                out.push(p);
            }
        }
        out.sort_by_key(|p| p.name.to_lowercase());
        Ok(out)
    }

    fn host(&self, name: &str) -> Result<Option<Profile>, StoreError> {
        if let Some(p) = load_host(&self.host_path(name)?)? {
            return Ok(Some(p));
        }
        Ok(self
            .hosts()?
            .into_iter()
            .find(|p| p.name.eq_ignore_ascii_case(name.trim())))
    }

    fn save_host(&self, profile: &Profile) -> Result<(), StoreError> {
        let path = self.host_path(&profile.name)?;
        if let Some(old) = load_host(&path)?
            && old.server_id != profile.server_id
        {
            return Err(StoreError::NameTaken {
                name: profile.name.clone(),
                existing: old.server_id.to_hex(),
            });
        }
        let mut clean = profile.clone();
        drop(clean.method.take_key());
        let body = clean.to_toml().map_err(|e| StoreError::Corrupt {
            path: path.clone(),
            message: format!("cannot write the profile as TOML: {e}"),
        })?;
        let text = format!(
            "# Saved by postern. The secret, if any, is in the OS keyring, not here.\n{body}"
        );
        ensure_dir(&self.hosts_dir())?;
        atomic_write(&path, text.as_bytes(), false)
    }

    fn remove_host(&self, name: &str) -> Result<bool, StoreError> {
        let mut path = self.host_path(name)?;
        if !path.exists() {
            let Some(p) = self.host(name)? else {
                return Ok(false);
            };
            path = self.host_path(&p.name)?;
        }
        fs::remove_file(&path).map_err(io_err("remove", &path))?;
        sync_dir(&self.hosts_dir())?;
        Ok(true)
    }

    fn signers(&self) -> Result<Signers, StoreError> {
        let path = self.signers_path();
        let Some(text) = read_opt(&path)? else {
            return Ok(Signers::default());
        };
        toml::from_str(&text).map_err(|e| StoreError::Corrupt {
            path,
            message: e.message().trim().to_owned(),
        })
    }

    fn save_signers(&self, signers: &Signers) -> Result<(), StoreError> {
        let path = self.signers_path();
        // Refuse to replace a damaged file: it is the trust record.
        self.signers()?;
        let body = toml::to_string(signers).map_err(|e| StoreError::Corrupt {
            path: path.clone(),
            message: format!("cannot write as TOML: {e}"),
        })?;
        let text =
            format!("# Administrators postern trusts, per server. Written by postern.\n{body}");
        ensure_dir(&self.dir)?;
        atomic_write(&path, text.as_bytes(), false)
    }
}

/// Creates a folder (owner-only on Unix: it lists the user's servers).
pub fn ensure_dir(dir: &Path) -> Result<(), StoreError> {
    let mut b = fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir).map_err(io_err("create folder", dir))
}

/// A new file's content, written and synced under a temporary name next to
/// its final path, not yet visible under that path.
#[derive(Debug)]
#[must_use = "a staged file only replaces the old one when committed"]
pub struct Staged {
    tmp: PathBuf,
    path: PathBuf,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Step 1 of an atomic write. `private` makes the file owner-only on Unix
/// (the secrets fallback file).
pub fn stage(path: &Path, bytes: &[u8], private: bool) -> Result<Staged, StoreError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(
        ".{name}.tmp-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, if private { 0o600 } else { 0o644 });
    #[cfg(not(unix))]
    let _ = private;
    let write = || -> std::io::Result<()> {
        let mut f = opts.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()
    };
    if let Err(e) = write() {
        let _ = fs::remove_file(&tmp);
        return Err(io_err("write", &tmp)(e));
    }
    Ok(Staged {
        tmp,
        path: path.to_path_buf(),
    })
}

impl Staged {
    /// Step 2: rename over the old file and make the rename durable.
    pub fn commit(self) -> Result<(), StoreError> {
        if let Err(e) = fs::rename(&self.tmp, &self.path) {
            let _ = fs::remove_file(&self.tmp);
            return Err(io_err("replace", &self.path)(e));
        }
        sync_dir(self.path.parent().unwrap_or(Path::new(".")))
    }

    pub fn temp_path(&self) -> &Path {
        &self.tmp
    }
}

/// Writes `bytes` to `path` atomically.
pub fn atomic_write(path: &Path, bytes: &[u8], private: bool) -> Result<(), StoreError> {
    stage(path, bytes, private)?.commit()
}

/// Makes a rename or removal in `dir` durable. Windows has no directory
/// handles to sync; NTFS journals the rename itself.
fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("sync folder", dir))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Helpers for this crate's tests.
#[cfg(test)]
pub(crate) mod tests_support {
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// A fresh, empty folder under the system temp dir.
    pub(crate) fn temp_dir(tag: &str) -> PathBuf {
        static N: AtomicU64 = AtomicU64::new(0);
        let d = std::env::temp_dir().join(format!(
            "postern-test-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("temp dir");
        d
    }
}

#[cfg(test)]
mod tests;
