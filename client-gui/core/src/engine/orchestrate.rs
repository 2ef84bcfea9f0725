//! The engine's waiting on several things at once, on tokio.
//!
//! Two steps of a knock wait on the network with more than one thing in
//! flight: verification (overlapping `connect()` attempts to the door, each
//! with its own timeout, the first to connect wins; see [`super::verify`])
//! and, for `allow.mode = "url"`, the two address lookups (the host's
//! name and the "what is my address" HTTPS service, which do not depend on
//! each other; see [`super::resolve`]). That is orchestration — timers,
//! races, cancelling what lost — which is what an async runtime is for:
//! before tokio each connect attempt was a thread of its own that lived on
//! until its timeout even after another had won, and the lookups ran one
//! after the other.
//!
//! What stays off the runtime, on purpose:
//! - the packet transmitter ([`super::transmit`]): a knock is a handful of
//!   datagrams or SYNs sent back to back, with at most millisecond pauses;
//!   a blocking socket and `thread::sleep` send the first packet sooner
//!   than any runtime could be set up, and that start-up is most of a
//!   script's knock → open latency (docs/benchmarks.md);
//! - the plain lookup of a knock without `allow.mode = "url"`: one
//!   blocking `getaddrinfo` (none at all for a literal address), nothing to
//!   wait on beside it.
//!
//! So the runtime is made only by the code paths that need one, for as
//! long as they need it: a current-thread runtime per step (creating one is
//! an epoll instance and a timer wheel: 30 µs median here), never at
//! start-up. `postern knock FILE` without `--verify` creates none. Blocking
//! calls that have no async form (ureq's HTTPS request, `getaddrinfo`) run
//! on the runtime's blocking threads through `spawn_blocking`.

use std::future::Future;

/// Runs `work` to completion on a fresh current-thread runtime, then drops
/// the runtime without waiting for blocking calls whose answers are no
/// longer wanted (a lookup that lost a race ends by its own timeout).
pub(crate) fn block_on<F: Future>(work: F) -> std::io::Result<F::Output> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()?;
    let out = rt.block_on(work);
    rt.shutdown_background();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn timers_and_blocking_work_run_side_by_side() {
        let t = Instant::now();
        let (slept, blocked) = block_on(async {
            let blocking = tokio::task::spawn_blocking(|| {
                std::thread::sleep(Duration::from_millis(150));
                7
            });
            let timer = tokio::time::sleep(Duration::from_millis(150));
            let (_, b) = tokio::join!(timer, blocking);
            ((), b.ok())
        })
        .unwrap();
        assert_eq!((slept, blocked), ((), Some(7)));
        let took = t.elapsed();
        assert!(took >= Duration::from_millis(150), "{took:?}");
        assert!(
            took < Duration::from_millis(280),
            "ran one after the other: {took:?}"
        );
    }

    #[test]
    fn an_abandoned_blocking_call_does_not_hold_the_caller() {
        let t = Instant::now();
        let first = block_on(async {
            let _slow = tokio::task::spawn_blocking(|| std::thread::sleep(Duration::from_secs(2)));
            "done"
        })
        .unwrap();
        assert_eq!(first, "done");
        assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    }
}
