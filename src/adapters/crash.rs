//! Crash points for tests of crash paths: the process kills itself at an awkward instant.

/// `RETAILGEN_TEST_CRASH_AT=<point>:N` kills the process with SIGKILL the N-th time it passes
/// `<point>`: `run_recorded` (start-up: once the run is numbered and recorded, before anything
/// is generated), `after_commit` / `after_relay` (the committing publisher: right after the N-th
/// commit, before or after its records went out), `sim_sent` (the POS simulator: right after
/// handing its N-th transaction to the producer, unacknowledged) and `sim_committed` (right
/// after its N-th commit of input offsets).
const CRASH_AT: &str = "RETAILGEN_TEST_CRASH_AT";

pub fn crash_point() -> Option<(String, u64)> {
    let v = std::env::var(CRASH_AT).ok()?;
    let (at, n) = v.split_once(':')?;
    Some((at.to_owned(), n.parse().ok()?))
}

pub fn crash_if(point: &Option<(String, u64)>, at: &str, commits: u64) {
    if point
        .as_ref()
        .is_some_and(|(p, n)| p == at && *n == commits)
    {
        // SAFETY: raising a signal on our own process has no memory-safety preconditions.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
}
