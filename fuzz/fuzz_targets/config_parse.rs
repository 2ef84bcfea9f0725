//! `posternd.toml` parsing and checking (`config::parse`), on any text.
//!
//! Input bytes are read as UTF-8 (lossily, like a file read would fail or
//! not). Checks: never panics; the error message renders; and a config that
//! passes every check can be turned into what the daemon runs on it — the
//! summary `posternd check` prints, the matcher's `Policy` and a `Matcher`
//! at a fixed time — without panicking, hanging or allocating without
//! bound (a checked config must never be able to take the daemon down).
#![no_main]

use libfuzzer_sys::fuzz_target;
use postern_proto::fixtures::vectors::TIMESTAMP;
use postern_server::config;
use postern_server::matcher::Matcher;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match config::parse(&text, "fuzz.toml") {
        Ok(cfg) => {
            let _ = cfg.summary();
            let mut m = Matcher::new(cfg.policy(), TIMESTAMP * 1000);
            m.handle_timeout(TIMESTAMP * 1000 + 30_000);
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(
                msg.starts_with("fuzz.toml"),
                "error without the file name: {msg}"
            );
        }
    }
});
