//! The thin I/O around [`crate::open_request`]: a launch with files first
//! tries to hand them to the window already open ([`hand_over`]); the
//! window listens for such launches ([`listen`]) and queues what they send.
//!
//! The instance file (`window.addr` in the config folder) holds the port
//! and token; it is written with mode 0600 (on Windows the config folder
//! is the user's own). A file left by a window that crashed is harmless:
//! connecting fails and the launch opens its own window, which replaces it.

use crate::open_request::{self, ACK, Endpoint, MAX_REQUEST};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The instance file's name in the config folder.
pub const INSTANCE_FILE: &str = "window.addr";
/// How long a launch waits for the open window to answer, and how long the
/// window waits for a request's bytes.
const TIMEOUT: Duration = Duration::from_secs(2);

/// Sends `paths` (made absolute here) to the window that `dir`'s instance
/// file names. True only once that window has confirmed it queued them.
pub fn hand_over(dir: &Path, paths: &[PathBuf]) -> bool {
    let Some(ep) = std::fs::read_to_string(dir.join(INSTANCE_FILE))
        .ok()
        .and_then(|t| Endpoint::parse(&t))
    else {
        return false;
    };
    let abs: Vec<PathBuf> = paths
        .iter()
        .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.clone()))
        .collect();
    let Some(msg) = open_request::request(&ep.token, &abs) else {
        return false;
    };
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, ep.port));
    let send = || -> std::io::Result<bool> {
        let mut s = TcpStream::connect_timeout(&addr, TIMEOUT)?;
        s.set_read_timeout(Some(TIMEOUT))?;
        s.set_write_timeout(Some(TIMEOUT))?;
        s.write_all(msg.as_bytes())?;
        s.shutdown(std::net::Shutdown::Write)?;
        let mut answer = String::new();
        BufReader::new(s).read_line(&mut answer)?;
        Ok(answer.trim_end() == ACK)
    };
    send().unwrap_or(false)
}

type Wake = Arc<dyn Fn() + Send + Sync>;

/// The open window's end: files later launches handed over, and the
/// instance file, removed again when this is dropped.
pub struct Listener {
    files: Receiver<PathBuf>,
    waker: Arc<Mutex<Option<Wake>>>,
    instance_file: PathBuf,
    written: String,
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener")
            .field("instance_file", &self.instance_file)
            .finish_non_exhaustive()
    }
}

impl Listener {
    /// Called (from the listening thread) after files arrived: the window
    /// sets its repaint here, so an idle window wakes only then.
    pub fn set_waker(&self, wake: Wake) {
        if let Ok(mut w) = self.waker.lock() {
            *w = Some(wake);
        }
    }

    pub fn has_waker(&self) -> bool {
        self.waker.lock().map(|w| w.is_some()).unwrap_or(true)
    }

    /// Files received since the last call.
    pub fn received(&self) -> Vec<PathBuf> {
        self.files.try_iter().collect()
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        // Only our own: a window started later may have replaced it.
        if std::fs::read_to_string(&self.instance_file).ok().as_deref() == Some(&self.written) {
            let _ = std::fs::remove_file(&self.instance_file);
        }
    }
}

/// Listens on a loopback port and records it in `dir`'s instance file.
pub fn listen(dir: &Path) -> std::io::Result<Listener> {
    let socket = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    let ep = Endpoint {
        port: socket.local_addr()?.port(),
        token: open_request::new_token(rand::random()),
    };
    std::fs::create_dir_all(dir)?;
    let instance_file = dir.join(INSTANCE_FILE);
    let written = ep.render();
    write_private(&instance_file, &written)?;
    let (tx, files) = mpsc::channel();
    let waker: Arc<Mutex<Option<Wake>>> = Arc::new(Mutex::new(None));
    let thread_waker = waker.clone();
    std::thread::Builder::new()
        .name("postern-open-files".into())
        .spawn(move || {
            for conn in socket.incoming() {
                let Ok(conn) = conn else { continue };
                let Some(paths) = serve(conn, &ep.token) else {
                    continue;
                };
                let mut gone = false;
                for p in paths {
                    gone |= tx.send(p).is_err();
                }
                if gone {
                    return; // the window is closed
                }
                if let Some(w) = thread_waker.lock().ok().and_then(|w| w.clone()) {
                    w();
                }
            }
        })?;
    Ok(Listener {
        files,
        waker,
        instance_file,
        written,
    })
}

/// One connection: read the request (bounded in size and time), answer
/// [`ACK`] if it is valid.
fn serve(conn: TcpStream, token: &str) -> Option<Vec<PathBuf>> {
    conn.set_read_timeout(Some(TIMEOUT)).ok()?;
    conn.set_write_timeout(Some(TIMEOUT)).ok()?;
    let mut buf = Vec::new();
    (&conn)
        .take(MAX_REQUEST as u64)
        .read_to_end(&mut buf)
        .ok()?;
    let paths = open_request::accept(token, std::str::from_utf8(&buf).ok()?).ok()?;
    (&conn).write_all(format!("{ACK}\n").as_bytes()).ok()?;
    Some(paths)
}

/// Writes `text` to `path` through a temporary file, readable by the user
/// only (the token must not be readable by others).
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(&tmp)?;
    f.write_all(text.as_bytes())?;
    drop(f);
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Instant;

    fn temp_dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("postern-single-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    fn wait_for(l: &Listener, n: usize) -> Vec<PathBuf> {
        let start = Instant::now();
        let mut got = Vec::new();
        while got.len() < n && start.elapsed() < Duration::from_secs(10) {
            got.extend(l.received());
            std::thread::sleep(Duration::from_millis(10));
        }
        got
    }

    #[test]
    fn a_second_launch_hands_its_files_to_the_open_window_and_wakes_it() {
        let dir = temp_dir("handover");
        let l = listen(&dir).expect("listen");
        let woken = Arc::new(AtomicUsize::new(0));
        let w = woken.clone();
        l.set_waker(Arc::new(move || {
            w.fetch_add(1, Ordering::Relaxed);
        }));
        let file = dir.join("office.postern");
        assert!(hand_over(&dir, std::slice::from_ref(&file)));
        assert_eq!(wait_for(&l, 1), vec![file]);
        assert_eq!(woken.load(Ordering::Relaxed), 1);
        drop(l);
        assert!(!dir.join(INSTANCE_FILE).exists(), "the instance file stays");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[cfg(unix)]
    #[test]
    fn the_instance_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = temp_dir("private");
        let _l = listen(&dir).expect("listen");
        let mode = std::fs::metadata(dir.join(INSTANCE_FILE))
            .expect("instance file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn without_an_open_window_nothing_is_handed_over() {
        let dir = temp_dir("none");
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("x.postern");
        assert!(!hand_over(&dir, std::slice::from_ref(&file)));
        // A stale file from a crashed window: nobody listens on its port.
        let stale = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
        let port = stale.local_addr().expect("addr").port();
        drop(stale);
        let ep = Endpoint {
            port,
            token: open_request::new_token([7; 16]),
        };
        std::fs::write(dir.join(INSTANCE_FILE), ep.render()).expect("write");
        assert!(!hand_over(&dir, &[file]));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_request_with_the_wrong_token_opens_nothing() {
        let dir = temp_dir("token");
        let l = listen(&dir).expect("listen");
        let text = std::fs::read_to_string(dir.join(INSTANCE_FILE)).expect("read");
        let mut ep = Endpoint::parse(&text).expect("endpoint");
        ep.token = open_request::new_token([9; 16]);
        std::fs::write(dir.join(INSTANCE_FILE), ep.render()).expect("write");
        assert!(!hand_over(&dir, &[dir.join("x.postern")]));
        // hand_over returns once the window has closed the connection.
        assert!(l.received().is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
