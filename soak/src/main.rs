//! `tulip-soak`: load, fault and storm scenarios for tulip, each bounded in
//! time and count, on 127.0.0.1 only. `cargo xtask soak` runs them at full
//! size; `cargo xtask ci` runs `--short` (under a minute in all).
//!
//! Every scenario runs on its own loop, through `tulip::run` (so leftover
//! tasks are cancelled and the executor joined), and must leave the process
//! as it found it: fds, threads, children and zombies back to the baseline,
//! RSS within a stated tolerance. Each prints what it checked; the last line
//! is `N passed, N failed`.

mod cancel;
mod echo;
mod emfile;
mod faults;
mod process;
mod resources;
mod signals;
mod tls;

use std::time::{Duration, Instant};

use resources::Snapshot;

/// How big the scenarios are.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Scale {
    pub(crate) short: bool,
}

impl Scale {
    /// `full` at full size, `short` in the short run.
    pub(crate) fn pick<T>(self, full: T, short: T) -> T {
        if self.short { short } else { full }
    }
}

/// A scenario: its name, the RSS growth it may leave behind (allocator
/// caches), and the body, which returns a one-line summary of what it
/// checked or what went wrong.
struct Scenario {
    name: &'static str,
    rss_tolerance_mib: u64,
    run: fn(Scale) -> Result<String, String>,
}

const SCENARIOS: &[Scenario] = &[
    Scenario { name: "echo", rss_tolerance_mib: 256, run: echo::run },
    Scenario { name: "faults", rss_tolerance_mib: 128, run: faults::run },
    Scenario { name: "cancel", rss_tolerance_mib: 64, run: cancel::run },
    Scenario { name: "signals", rss_tolerance_mib: 32, run: signals::run },
    Scenario { name: "process", rss_tolerance_mib: 32, run: process::run },
    Scenario { name: "emfile", rss_tolerance_mib: 32, run: emfile::run },
    Scenario { name: "tls", rss_tolerance_mib: 64, run: tls::run },
];

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let scale = Scale { short: args.iter().any(|a| a == "--short") };
    let only: Vec<&str> =
        args.iter().filter(|a| !a.starts_with("--")).map(String::as_str).collect();
    if let Some(bad) = only.iter().find(|n| !SCENARIOS.iter().any(|s| s.name == **n)) {
        eprintln!(
            "tulip-soak: no scenario {bad:?}; scenarios: echo faults cancel signals process emfile tls"
        );
        return std::process::ExitCode::from(2);
    }
    raise_fd_limit();
    let (mut passed, mut failed) = (0, 0);
    for s in SCENARIOS.iter().filter(|s| only.is_empty() || only.contains(&s.name)) {
        let base = Snapshot::take();
        let t0 = Instant::now();
        let outcome = (s.run)(scale);
        let after = settle(&base);
        let leaks = after.leaks_since(&base, s.rss_tolerance_mib * 1024);
        let secs = t0.elapsed().as_secs_f64();
        match (&outcome, leaks.is_empty()) {
            (Ok(summary), true) => {
                passed += 1;
                println!("soak {:8} ok   {secs:6.1} s  {summary}", s.name);
            }
            (Ok(summary), false) => {
                failed += 1;
                println!(
                    "soak {:8} FAIL {secs:6.1} s  {summary}; LEAKED: {}",
                    s.name,
                    leaks.join(", ")
                );
            }
            (Err(why), _) => {
                failed += 1;
                println!("soak {:8} FAIL {secs:6.1} s  {why}", s.name);
            }
        }
        println!("     before: {base}\n     after:  {after}");
    }
    println!("{passed} passed, {failed} failed");
    if failed == 0 { std::process::ExitCode::SUCCESS } else { std::process::ExitCode::FAILURE }
}

/// A snapshot once the scenario's last threads (joined executor workers
/// exit a moment after they report) and children are gone: waits up to two
/// seconds for the counts to come back, then takes what it sees.
fn settle(base: &Snapshot) -> Snapshot {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let now = Snapshot::take();
        let back = now.fds <= base.fds
            && now.threads <= base.threads
            && now.children <= base.children
            && now.zombies <= base.zombies;
        if back || Instant::now() >= deadline {
            return now;
        }
        std::thread::yield_now();
    }
}

/// Raises the soft fd limit to the hard one: the echo scenario holds 20,000
/// sockets (both ends of 10,000 connections).
fn raise_fd_limit() {
    let lim = rustix::process::getrlimit(rustix::process::Resource::Nofile);
    let raised = rustix::process::Rlimit { current: lim.maximum, maximum: lim.maximum };
    let _ = rustix::process::setrlimit(rustix::process::Resource::Nofile, raised);
}

/// Waits (polling every 10 ms) until `cond` holds; fails naming `what`
/// after `limit`.
pub(crate) async fn wait_until(
    what: &str,
    limit: Duration,
    mut cond: impl FnMut() -> bool,
) -> Result<(), String> {
    let deadline = Instant::now() + limit;
    while !cond() {
        if Instant::now() >= deadline {
            return Err(format!("{what}: not within {limit:?}"));
        }
        tulip::sleep(Duration::from_millis(10)).await.map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Runs `body` on a new loop through `tulip::run`, failing it after
/// `limit`, and flattens the errors into a message.
pub(crate) fn run_bounded<F, T>(limit: Duration, body: F) -> Result<T, String>
where
    F: std::future::Future<Output = Result<T, String>> + 'static,
    T: 'static,
{
    match tulip::run(async move { tulip::prelude::timeout(limit, body).await }) {
        Ok(Ok(Ok(v))) => Ok(v),
        Ok(Ok(Err(why))) => Err(why),
        Ok(Err(e)) => Err(format!("did not finish within {limit:?} ({e})")),
        Err(e) => Err(format!("the loop failed: {e}")),
    }
}
