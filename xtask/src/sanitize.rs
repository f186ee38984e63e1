//! `cargo xtask sanitize [asan|miri]`: the test suite under
//! AddressSanitizer (LeakSanitizer included), and Miri over the code whose
//! logic it can run: loop-sync, loop-core's timer heap, task slab and raw
//! task code, and loop-core's tests of tasks, futures and helpers. With no
//! argument, both.
//!
//! Both need a nightly toolchain. It is taken from rustup (installed with
//! `rustup toolchain install nightly --profile minimal -c miri,rust-src` if
//! missing); where that is impossible the run says `skipped: <why>` and
//! exits successfully, so a machine without nightly is told, not failed.
//! Not part of `ci`: it takes tens of minutes on a small machine.
//!
//! * **ASan**: `-Zsanitizer=address` with the standard library rebuilt and
//!   instrumented (`-Zbuild-std`, as rustc's documentation recommends: the
//!   prebuilt std's own memory accesses would go unchecked; it costs a few
//!   minutes of build once), for the host target only so that build scripts
//!   and proc-macros run uninstrumented, in `target/sanitize` so that the
//!   normal build stays warm. Every library, binary and integration test of the
//!   workspace runs (LeakSanitizer reports at each test binary's exit,
//!   ignoring only the deliberate leaks of [`LSAN_SUPPRESSIONS`]); doctests
//!   do not (rustdoc builds them against the uninstrumented std).
//! * **Miri**: [`MIRI_RUNS`], with [`MIRIFLAGS`] (strict provenance on top
//!   of Miri's default Stacked Borrows and leak checks).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{target_dir, workspace_root};

/// The toolchain both checks run on.
const TOOLCHAIN: &str = "nightly";

/// Hosts where rustc's AddressSanitizer, and LeakSanitizer with it, works.
const ASAN_HOSTS: &[&str] = &["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu"];

/// `RUSTFLAGS` of the ASan build: frame pointers give ASan's reports (it
/// unwinds on every allocation) whole stacks cheaply.
const ASAN_RUSTFLAGS: &str = "-Zsanitizer=address -Cforce-frame-pointers=yes";

/// Cargo settings of the ASan build: line tables are all a report's stacks
/// need (file and line of every frame), and incremental state is of little
/// use to an occasional run. With full debug info and incremental state
/// `target/sanitize` took 9.4 GB; with these, 3.1 GB.
const ASAN_CARGO_ENV: &[(&str, &str)] =
    &[("CARGO_PROFILE_DEV_DEBUG", "line-tables-only"), ("CARGO_INCREMENTAL", "0")];

/// `ASAN_OPTIONS` of the ASan run: leaks are reported at each test binary's
/// exit (the default on Linux, stated here so a changed default cannot turn
/// it off), and stack use after return is checked too.
const ASAN_OPTIONS: &str = "detect_leaks=1:detect_stack_use_after_return=1";

/// Workspace packages the ASan run leaves out, and why.
const ASAN_EXCLUDED_PACKAGES: &[(&str, &str)] = &[
    ("tulip-bench", "benchmarks only, no tests; it would build tokio and smol for nothing"),
    ("tulip-soak", "a binary with no tests; `cargo xtask soak` runs its scenarios"),
];

/// Leaks LeakSanitizer is told to ignore (a function on the allocation's
/// stack, for a `leak:` suppression), and why each is deliberate.
const LSAN_SUPPRESSIONS: &[(&str, &str)] = &[(
    "keep_handled",
    "loop-signals' tests leak a loop with no-op handlers on purpose (`mem::forget`), so that \
     a signal still on its way when a test removes its handler cannot kill the test process",
)];

/// What Miri runs: a label, and the arguments after `cargo miri test`.
/// Doctests are left out (`--lib --tests`, `--test`): they repeat the
/// integration tests' paths at many times their cost under the interpreter.
const MIRI_RUNS: &[(&str, &[&str])] = &[
    ("loop-sync (unit and integration tests)", &["-p", "loop-sync", "--lib", "--tests"]),
    (
        "loop-core unit tests (timer heap, task slab, raw task waker and polling, handles)",
        &["-p", "loop-core", "--lib"],
    ),
    ("loop-core integration tests of tasks, futures and helpers", MIRI_CORE_TESTS),
];

/// loop-core's integration tests that run whole under Miri, on Miri's epoll
/// and eventfd shims: the loop, its tasks, futures and task helpers. The
/// others need what Miri does not model and are left out: level-triggered
/// epoll on a user fd (`core_exceptions`, `core_lifecycle`,
/// `core_threadsafe`, `core_timers`), socket `ioctl`s (`core_fd`), signals
/// (`core_eintr`), `ppoll` (`core_driver_seam`), `/proc` and the file
/// system (`core_debug`, `core_executor`, `core_fd_leaks`), or thousands of
/// loops (`core_limits`, hours under the interpreter).
const MIRI_CORE_TESTS: &[&str] = &[
    "-p",
    "loop-core",
    "--test=core_call_soon",
    "--test=core_extensions",
    "--test=core_future",
    "--test=core_policy",
    "--test=core_run",
    "--test=core_runner",
    "--test=core_task_cancel",
    "--test=core_tasks",
    "--test=core_threadsafe_fifo",
    "--test=helpers_as_completed",
    "--test=helpers_gather",
    "--test=helpers_shield",
    "--test=helpers_task_group",
    "--test=helpers_timeout",
    "--test=helpers_wait",
    "--test=smoke",
];

/// `MIRIFLAGS` of the Miri runs.
const MIRIFLAGS: &str = "-Zmiri-strict-provenance";

/// Environment the outer `cargo xtask` may have set that would point the
/// nightly cargo at the stable toolchain or override the flags set here.
const CLEARED_ENV: &[&str] = &[
    "CARGO",
    "RUSTC",
    "RUSTDOC",
    "RUSTC_WRAPPER",
    "RUSTUP_TOOLCHAIN",
    "RUSTFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "RUSTDOCFLAGS",
];

/// How one check ended.
enum Outcome {
    Passed(Duration),
    Failed(Duration, String),
    Skipped(String),
}

/// Runs the checks `args` name (both when empty) and prints what ran, how
/// long it took and how it ended; fails if a check failed (not if it was
/// skipped).
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let (asan, miri) = parse(args)?;
    let started = Instant::now();
    let mut report: Vec<(String, Outcome)> = Vec::new();
    match nightly() {
        Err(why) => {
            let skipped = |what: &str| (what.to_string(), Outcome::Skipped(why.clone()));
            if asan {
                report.push(skipped("AddressSanitizer + LeakSanitizer"));
            }
            if miri {
                report.push(skipped("Miri"));
            }
        }
        Ok(version) => {
            eprintln!("xtask: sanitize: using {version}");
            if asan {
                report.push(("AddressSanitizer + LeakSanitizer".into(), run_asan()));
            }
            if miri {
                report.extend(run_miri());
            }
        }
    }
    summarize(&report, started.elapsed())
}

/// Which checks to run: `(asan, miri)`.
fn parse(args: &[String]) -> Result<(bool, bool), String> {
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        [] => Ok((true, true)),
        ["asan"] => Ok((true, false)),
        ["miri"] => Ok((false, true)),
        _ => Err(format!("usage: cargo xtask sanitize [asan|miri] (got {args:?})")),
    }
}

/// Prints what ran and how it ended; fails if any check failed.
fn summarize(report: &[(String, Outcome)], total: Duration) -> Result<(), String> {
    eprintln!("xtask: sanitize summary ({}):", minutes(total));
    let mut failed = Vec::new();
    for (what, outcome) in report {
        match outcome {
            Outcome::Passed(took) => eprintln!("  passed  {what} ({})", minutes(*took)),
            Outcome::Failed(took, why) => {
                eprintln!("  FAILED  {what} ({}): {why}", minutes(*took));
                failed.push(what.as_str());
            }
            Outcome::Skipped(why) => eprintln!("  skipped {what}: {why}"),
        }
    }
    if failed.is_empty() {
        let all_skipped = report.iter().all(|(_, o)| matches!(o, Outcome::Skipped(_)));
        let verdict = if all_skipped { "nothing ran (see skipped above)" } else { "passed" };
        eprintln!("xtask: sanitize: {verdict}");
        Ok(())
    } else {
        Err(format!("sanitize: failed: {}", failed.join("; ")))
    }
}

fn minutes(d: Duration) -> String {
    let s = d.as_secs();
    format!("{}m{:02}s", s / 60, s % 60)
}

/// Makes sure the nightly toolchain and its `miri` and `rust-src`
/// components are there, installing what is missing. Returns the nightly
/// rustc's version, or why the checks must be skipped.
fn nightly() -> Result<String, String> {
    if !succeeds(&["--version"], Quiet::Yes) {
        return Err("rustup is not installed (both checks need a nightly toolchain)".into());
    }
    if !succeeds(&["run", TOOLCHAIN, "rustc", "--version"], Quiet::Yes) {
        eprintln!("xtask: sanitize: no {TOOLCHAIN} toolchain; installing it with rustup");
        let install =
            ["toolchain", "install", TOOLCHAIN, "--profile", "minimal", "-c", "miri,rust-src"];
        if !succeeds(&install, Quiet::No) {
            return Err(format!(
                "no {TOOLCHAIN} toolchain, and `rustup {}` failed",
                install.join(" ")
            ));
        }
    }
    let installed = output(&["component", "list", "--installed", "--toolchain", TOOLCHAIN])
        .map_err(|e| format!("cannot list the {TOOLCHAIN} toolchain's components: {e}"))?;
    let missing: Vec<&str> = ["miri", "rust-src"]
        .into_iter()
        .filter(|c| !installed.lines().any(|l| l == *c || l.starts_with(&format!("{c}-"))))
        .collect();
    if !missing.is_empty() {
        let mut add = vec!["component", "add", "--toolchain", TOOLCHAIN];
        add.extend(&missing);
        if !succeeds(&add, Quiet::No) {
            return Err(format!(
                "the {TOOLCHAIN} toolchain lacks {} and `rustup {}` failed",
                missing.join(" and "),
                add.join(" ")
            ));
        }
    }
    output(&["run", TOOLCHAIN, "rustc", "--version"]).map(|v| v.trim().to_string())
}

/// The nightly compiler's host target.
fn host() -> Result<String, String> {
    let info = output(&["run", TOOLCHAIN, "rustc", "-vV"])?;
    info.lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(str::to_string)
        .ok_or_else(|| "`rustc -vV` names no host".into())
}

fn run_asan() -> Outcome {
    let host = match host() {
        Ok(h) => h,
        Err(e) => return Outcome::Skipped(format!("cannot tell the host target: {e}")),
    };
    if !ASAN_HOSTS.contains(&host.as_str()) {
        return Outcome::Skipped(format!(
            "rustc's AddressSanitizer does not support {host} (only {})",
            ASAN_HOSTS.join(", ")
        ));
    }
    let dir: PathBuf = target_dir().join("sanitize");
    let dir = dir.to_string_lossy().into_owned();
    let mut args = vec![
        "test",
        "-Zbuild-std",
        "--target",
        &host,
        "--target-dir",
        &dir,
        "--workspace",
        "--all-features",
        "--lib",
        "--bins",
        "--tests",
        "--no-fail-fast",
    ];
    for (package, why) in ASAN_EXCLUDED_PACKAGES {
        eprintln!("xtask: sanitize: asan leaves out {package}: {why}");
        args.extend(["--exclude", package]);
    }
    let suppressions = match write_suppressions(&dir) {
        Ok(path) => path,
        Err(e) => return Outcome::Failed(Duration::ZERO, e),
    };
    let lsan_options = format!("suppressions={suppressions}:print_suppressions=1");
    let mut envs = vec![
        ("RUSTFLAGS", ASAN_RUSTFLAGS),
        ("ASAN_OPTIONS", ASAN_OPTIONS),
        ("LSAN_OPTIONS", &lsan_options),
    ];
    envs.extend_from_slice(ASAN_CARGO_ENV);
    timed(|| nightly_cargo(&args, &envs))
}

/// Writes [`LSAN_SUPPRESSIONS`] as a suppressions file in `dir`; returns
/// its path.
fn write_suppressions(dir: &str) -> Result<String, String> {
    let mut text = String::new();
    for (function, why) in LSAN_SUPPRESSIONS {
        eprintln!("xtask: sanitize: LeakSanitizer ignores leaks from {function}: {why}");
        text.push_str(&format!("# {why}\nleak:{function}\n"));
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {dir}: {e}"))?;
    let path = PathBuf::from(dir).join("lsan-suppressions.txt");
    std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path.to_string_lossy().into_owned())
}

fn run_miri() -> Vec<(String, Outcome)> {
    let mut out = Vec::new();
    for (label, targets) in MIRI_RUNS {
        let mut args = vec!["miri", "test", "--no-fail-fast"];
        args.extend_from_slice(targets);
        let outcome = timed(|| nightly_cargo(&args, &[("MIRIFLAGS", MIRIFLAGS)]));
        out.push((format!("Miri: {label}"), outcome));
    }
    out
}

fn timed(f: impl FnOnce() -> Result<(), String>) -> Outcome {
    let started = Instant::now();
    match f() {
        Ok(()) => Outcome::Passed(started.elapsed()),
        Err(e) => Outcome::Failed(started.elapsed(), e),
    }
}

/// Runs the nightly toolchain's `cargo` with `args` in the workspace root.
fn nightly_cargo(args: &[&str], envs: &[(&str, &str)]) -> Result<(), String> {
    let shown: Vec<String> = envs.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    eprintln!("xtask: $ {} cargo +{TOOLCHAIN} {}", shown.join(" "), args.join(" "));
    let mut cmd = Command::new("rustup");
    cmd.args(["run", TOOLCHAIN, "cargo"]).args(args).current_dir(workspace_root());
    for var in CLEARED_ENV {
        cmd.env_remove(var);
    }
    let status =
        cmd.envs(envs.iter().copied()).status().map_err(|e| format!("cannot run rustup: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`cargo {}` failed: {status}", args[0..2].join(" ")))
    }
}

/// Whether a command's output is shown.
#[derive(PartialEq)]
enum Quiet {
    /// A probe: its output would only confuse.
    Yes,
    /// An install: show its progress and errors.
    No,
}

/// Whether `rustup args` runs and succeeds.
fn succeeds(args: &[&str], quiet: Quiet) -> bool {
    let mut cmd = Command::new("rustup");
    cmd.args(args);
    if quiet == Quiet::Yes {
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
    } else {
        eprintln!("xtask: $ rustup {}", args.join(" "));
    }
    cmd.status().is_ok_and(|s| s.success())
}

/// The standard output of `rustup args`, if it succeeds.
fn output(args: &[&str]) -> Result<String, String> {
    let out = Command::new("rustup")
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run rustup: {e}"))?;
    if !out.status.success() {
        return Err(format!("`rustup {}` failed: {}", args.join(" "), out.status));
    }
    String::from_utf8(out.stdout).map_err(|e| format!("`rustup {}`: {e}", args.join(" ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn arguments_choose_the_checks() {
        assert_eq!(parse(&[]), Ok((true, true)));
        assert_eq!(parse(&strings(&["asan"])), Ok((true, false)));
        assert_eq!(parse(&strings(&["miri"])), Ok((false, true)));
        assert!(parse(&strings(&["tsan"])).is_err());
        assert!(parse(&strings(&["asan", "miri"])).is_err());
    }

    #[test]
    fn a_failed_check_fails_the_run_and_a_skipped_one_does_not() {
        let secs = Duration::from_secs;
        let skipped = ("Miri".to_string(), Outcome::Skipped("no nightly".into()));
        let passed = ("ASan".to_string(), Outcome::Passed(secs(61)));
        let failed = ("ASan".to_string(), Outcome::Failed(secs(5), "`cargo test` failed".into()));
        assert!(summarize(&[skipped], secs(1)).is_ok());
        let skipped = ("Miri".to_string(), Outcome::Skipped("no nightly".into()));
        assert!(summarize(&[passed, skipped], secs(1)).is_ok());
        let err = summarize(&[failed], secs(1)).unwrap_err();
        assert!(err.contains("ASan"), "{err}");
        assert_eq!(minutes(secs(61)), "1m01s");
    }
}
