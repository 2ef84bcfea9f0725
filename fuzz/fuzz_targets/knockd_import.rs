//! `posternd import-knockd`: `knockd::convert` and `to_toml` on any text.
//!
//! Input bytes are read as UTF-8 (lossily). Checks: never panics; errors
//! name the file; and what `to_toml` prints is valid TOML (the admin pastes
//! it into posternd.toml, so it must at least be readable as TOML).
#![no_main]

use libfuzzer_sys::fuzz_target;
use postern_server::admin::knockd;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match knockd::convert(&text, "knockd.conf") {
        Ok(doors) => {
            let out = knockd::to_toml(&doors);
            if let Err(e) = out.parse::<toml::Table>() {
                panic!("to_toml printed invalid TOML: {e}\n{out}");
            }
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(
                msg.starts_with("knockd.conf:"),
                "error without the file name: {msg}"
            );
        }
    }
});
