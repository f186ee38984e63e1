//! `cargo xtask ci`: format check, tidy, clippy, tests, docs, packaging,
//! examples.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{cargo, workspace_root};

/// Examples that finish by themselves, run to completion by `ci`. Examples
/// that serve until interrupted (`tcp_echo_server`,
/// `tcp_echo_server_streams`) are only built.
const TERMINATING_EXAMPLES: &[&str] = &[
    "hello_world",
    "display_date",
    "watch_fd",
    "signals",
    "udp_echo",
    "unix_echo",
    "porting_kv",
    "tcp_echo_client_streams",
    "tour",
    "tls_echo_client",
    "starttls",
    "starttls_streams",
    "subprocess_proto",
    "subprocess_communicate",
    "per_core_echo",
];

/// Terminating examples run once more with arguments, for a mode their
/// default run does not cover.
const EXAMPLE_VARIANTS: &[(&str, &[&str])] = &[("per_core_echo", &["--shared", "--loops", "3"])];

/// How long one example may run before it counts as hung.
const EXAMPLE_TIMEOUT: Duration = Duration::from_secs(120);

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let skip_examples = args.iter().any(|a| a == "--skip-examples");
    let started = Instant::now();
    cargo(&["fmt", "--all", "--check"], &[])?;
    crate::tidy::check(&workspace_root()).map_err(|p| format!("tidy:\n{}", p.join("\n")))?;
    cargo(
        &["clippy", "--workspace", "--all-targets", "--all-features", "--", "-D", "warnings"],
        &[],
    )?;
    cargo(&["test", "--workspace", "--all-features", "--no-fail-fast"], &[])?;
    cargo(
        &["doc", "--workspace", "--no-deps", "--all-features"],
        &[("RUSTDOCFLAGS", "-D warnings")],
    )?;
    crate::package::run()?;
    crate::soak::run(&["--short".to_string()])?;
    if !skip_examples {
        cargo(&["build", "--release", "-p", "tulip", "--examples"], &[])?;
        for name in TERMINATING_EXAMPLES {
            run_example(name, &[])?;
        }
        for (name, args) in EXAMPLE_VARIANTS {
            run_example(name, args)?;
        }
    }
    eprintln!("xtask: ci passed in {:.0?}", started.elapsed());
    Ok(())
}

/// Runs a built example with `args`, failing if it exits non-zero or
/// hangs.
fn run_example(name: &str, args: &[&str]) -> Result<(), String> {
    let exe = crate::target_dir().join("release/examples").join(name);
    eprintln!("xtask: $ {} {}", exe.display(), args.join(" "));
    let mut child = Command::new(&exe)
        .args(args)
        .stdin(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run example {name}: {e}"))?;
    let deadline = Instant::now() + EXAMPLE_TIMEOUT;
    loop {
        match child.try_wait().map_err(|e| e.to_string())? {
            Some(status) if status.success() => return Ok(()),
            Some(status) => return Err(format!("example {name} failed: {status}")),
            None if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("example {name} did not finish in {EXAMPLE_TIMEOUT:?}"));
            }
            // Polling a child's exit status; there is no event to wait on
            // with a timeout in std.
            None => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}
