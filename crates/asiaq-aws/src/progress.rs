//! Human progress messages on stderr (never stdout, which carries results).
//!
//! Long operations say what they are doing as they go; `ASIAQ_QUIET=1` silences them (tests
//! that compare stderr use it).

use std::io::Write;

/// Whether progress messages are printed.
pub fn enabled() -> bool {
    !std::env::var("ASIAQ_QUIET").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Prints one progress line on stderr.
pub fn note(message: impl AsRef<str>) {
    if enabled() {
        let stderr = std::io::stderr();
        let mut err = stderr.lock();
        let _ = writeln!(err, "{}", message.as_ref());
    }
}
