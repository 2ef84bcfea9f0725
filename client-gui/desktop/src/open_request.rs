//! What `postern-desktop FILE` does with its arguments, and the one message
//! a second launch sends to the window already open. Pure (no sockets or
//! files): [`crate::single_instance`] moves these strings.
//!
//! Why a second launch hands over at all: double-clicking a `.postern`
//! file while Postern is open must show the import in that window, not
//! start a second window with its own copy of the host list.
//!
//! The running window listens on a loopback TCP port and writes
//! `PORT TOKEN` to a file in the user's config folder (readable by that
//! user only). A request must carry the token, so another local user who
//! finds the port cannot make the window open files: they cannot read the
//! token. Loopback TCP rather than a Unix socket or a named pipe: the same
//! std-only code on Linux, macOS and Windows, and testable everywhere.

use std::ffi::OsString;
use std::path::PathBuf;

/// First line of a request; a changed format gets a new number.
pub const MAGIC: &str = "postern-open 1";
/// The running window's answer once it has queued the files.
pub const ACK: &str = "ok";
/// Most files one request may name (a multi-select in a file manager);
/// bounds what a request makes the window do.
pub const MAX_FILES: usize = 32;
/// Longest request read, in bytes.
pub const MAX_REQUEST: usize = 64 * 1024;

/// The files named on the command line. Arguments starting with `-` are
/// not files: macOS adds `-psn_…` when Finder starts an app, and the
/// program has no options of its own.
pub fn file_args(args: impl IntoIterator<Item = OsString>) -> Vec<PathBuf> {
    args.into_iter()
        .filter(|a| !a.to_string_lossy().starts_with('-'))
        .map(PathBuf::from)
        .collect()
}

/// Where the running window listens, as written to its instance file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub port: u16,
    pub token: String,
}

impl Endpoint {
    /// The instance file's text.
    pub fn render(&self) -> String {
        format!("{} {}\n", self.port, self.token)
    }

    /// Reads an instance file; `None` for anything malformed (a stale or
    /// damaged file means "no window is open").
    pub fn parse(text: &str) -> Option<Endpoint> {
        let mut words = text.split_whitespace();
        let port = words.next()?.parse().ok().filter(|p| *p != 0)?;
        let token = words.next()?.to_owned();
        if words.next().is_some() || !valid_token(&token) {
            return None;
        }
        Some(Endpoint { port, token })
    }
}

/// A token: 32 lowercase hex digits (16 random bytes).
fn valid_token(t: &str) -> bool {
    t.len() == 32
        && t.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A new token from 16 random bytes.
pub fn new_token(bytes: [u8; 16]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The request naming `paths` (absolute already: the window runs in
/// another working directory). `None` if a path is not UTF-8 or holds a
/// line break, which the line format cannot carry: that launch opens its
/// own window instead.
pub fn request(token: &str, paths: &[PathBuf]) -> Option<String> {
    let mut s = format!("{MAGIC}\n{token}\n");
    for p in paths.iter().take(MAX_FILES) {
        let p = p.to_str()?;
        if p.contains(['\n', '\r']) {
            return None;
        }
        s.push_str(p);
        s.push('\n');
    }
    Some(s)
}

/// Why the window ignored a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    NotARequest,
    WrongToken,
    TooManyFiles,
    RelativePath,
}

/// The files a request asks the window to open, if it is one and carries
/// `token`.
pub fn accept(token: &str, msg: &str) -> Result<Vec<PathBuf>, Refusal> {
    let mut lines = msg.lines();
    if lines.next() != Some(MAGIC) {
        return Err(Refusal::NotARequest);
    }
    let given = lines.next().ok_or(Refusal::NotARequest)?;
    if !same(given.as_bytes(), token.as_bytes()) {
        return Err(Refusal::WrongToken);
    }
    let paths: Vec<PathBuf> = lines.filter(|l| !l.is_empty()).map(PathBuf::from).collect();
    if paths.len() > MAX_FILES {
        return Err(Refusal::TooManyFiles);
    }
    if paths.iter().any(|p| !p.is_absolute()) {
        return Err(Refusal::RelativePath);
    }
    Ok(paths)
}

/// Equality in time independent of where the first difference is, so the
/// answer time does not give the token away byte by byte.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "00112233445566778899aabbccddeeff";

    fn abs(name: &str) -> PathBuf {
        std::env::temp_dir().join(name)
    }

    #[test]
    fn file_args_skip_options_such_as_the_macos_process_serial_number() {
        let args = ["-psn_0_12345", "a.postern", "/tmp/b.postern"].map(OsString::from);
        assert_eq!(
            file_args(args),
            vec![PathBuf::from("a.postern"), PathBuf::from("/tmp/b.postern")]
        );
    }

    #[test]
    fn endpoint_round_trips_and_rejects_damage() {
        let e = Endpoint {
            port: 40123,
            token: TOKEN.to_owned(),
        };
        assert_eq!(Endpoint::parse(&e.render()), Some(e));
        for bad in [
            "",
            "40123",
            "0 00112233445566778899aabbccddeeff",
            "70000 00112233445566778899aabbccddeeff",
            "40123 0011",
            "40123 00112233445566778899AABBCCDDEEFF",
            "40123 00112233445566778899aabbccddeeff extra",
        ] {
            assert_eq!(Endpoint::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn new_token_is_a_valid_token() {
        let t = new_token([0xab; 16]);
        assert!(valid_token(&t), "{t}");
    }

    #[test]
    fn a_request_is_accepted_with_the_token_only() {
        let paths = vec![abs("office.postern"), abs("lab.postern")];
        let msg = request(TOKEN, &paths).expect("utf-8 paths");
        assert_eq!(accept(TOKEN, &msg), Ok(paths));
        let other = "ffeeddccbbaa99887766554433221100";
        assert_eq!(accept(other, &msg), Err(Refusal::WrongToken));
        assert_eq!(accept(TOKEN, "GET / HTTP/1.1\n"), Err(Refusal::NotARequest));
        assert_eq!(accept(TOKEN, MAGIC), Err(Refusal::NotARequest));
    }

    #[test]
    fn requests_are_bounded_and_absolute() {
        let many: Vec<PathBuf> = (0..MAX_FILES + 1)
            .map(|i| abs(&format!("{i}.postern")))
            .collect();
        let mut msg = format!("{MAGIC}\n{TOKEN}\n");
        for p in &many {
            msg.push_str(&format!("{}\n", p.display()));
        }
        assert_eq!(accept(TOKEN, &msg), Err(Refusal::TooManyFiles));
        // `request` itself never sends more than MAX_FILES.
        let sent = request(TOKEN, &many).expect("utf-8 paths");
        assert_eq!(accept(TOKEN, &sent).map(|p| p.len()), Ok(MAX_FILES));
        let relative = format!("{MAGIC}\n{TOKEN}\noffice.postern\n");
        assert_eq!(accept(TOKEN, &relative), Err(Refusal::RelativePath));
    }

    #[test]
    fn a_path_with_a_line_break_is_not_sent() {
        assert_eq!(request(TOKEN, &[abs("a\nb.postern")]), None);
    }
}
