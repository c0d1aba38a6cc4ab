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

/// Prints one warning on stderr, even when progress is silenced: a warning is something the
/// operator may need to act on (a resource left in place, say).
pub fn warn(message: impl AsRef<str>) {
    let stderr = std::io::stderr();
    let mut err = stderr.lock();
    let _ = writeln!(err, "warning: {}", message.as_ref());
}
