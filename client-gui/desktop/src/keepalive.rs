//! "Keep the door open while connected" (issue #18 item 7, off by
//! default, per host): while a connection the app started is still
//! running, knock again shortly before the grant ends, so a Remote Desktop
//! session that drops and reconnects (a new TCP connection) finds the door
//! open. Established connections never need this: they survive the end of
//! a grant (DESIGN.md §5).
//!
//! The schedule is pure ([`reknock_at`]); the one outside fact, "is the
//! program still running?", comes through [`Session`].

/// A program started by "Connect", as far as the app can follow it.
pub trait Session {
    /// Whether it still runs. A launcher that hands off to another process
    /// and exits (`open` on macOS, `cmd /C start`, some terminals) reads as
    /// ended at once, so the keep-alive stops instead of knocking forever.
    fn running(&mut self) -> bool;
}

impl Session for std::process::Child {
    fn running(&mut self) -> bool {
        matches!(self.try_wait(), Ok(None))
    }
}

/// When to knock again for a grant of `grant` seconds that opened at
/// `opened_at` (Unix seconds): `margin` seconds before it ends, where the
/// margin is a quarter of the grant, at least 2 s and at most 10 s. A
/// knock and its verification take well under a second on any ordinary
/// path and a re-knock is tried once more after its deadline (3 s), so
/// 10 s keeps the door open without a gap; a quarter of a short grant
/// stops a 4 s door from being knocked every second.
pub fn reknock_at(opened_at: u64, grant: u64) -> u64 {
    let margin = (grant / 4).clamp(2, 10);
    opened_at + grant.saturating_sub(margin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reknock_comes_before_the_end_with_a_bounded_margin() {
        assert_eq!(reknock_at(1000, 30), 1023, "30 s door: 7 s before");
        assert_eq!(
            reknock_at(1000, 3600),
            1000 + 3590,
            "long door: 10 s before"
        );
        assert_eq!(reknock_at(1000, 4), 1002, "short door: 2 s before");
        assert_eq!(reknock_at(1000, 1), 1000, "never after the opening");
    }
}
