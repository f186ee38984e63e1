//! Project automation: `cargo xtask ci`, `cargo xtask bench`,
//! `cargo xtask soak`, `cargo xtask sanitize` and `cargo xtask package`.
//!
//! `ci` is the whole truth of the project's checks: if it passes locally,
//! CI is green. `bench` runs every benchmark (tulip beside tokio and smol in
//! the same run) and writes the table to `docs/benchmarks.md`. `soak` runs the
//! load, fault and storm scenarios (`ci` runs their short version).
//! `sanitize` runs the tests under AddressSanitizer/LeakSanitizer and Miri
//! on a nightly toolchain (not part of `ci`: it is slow). `package`,
//! one of `ci`'s steps, packages every publishable crate and builds what was
//! packaged.

mod bench;
mod ci;
mod package;
mod sanitize;
mod soak;
mod tidy;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci::run(&args[1..]),
        Some("bench") => bench::run(&args[1..]),
        Some("package") => package::run(),
        Some("soak") => soak::run(&args[1..]),
        Some("sanitize") => sanitize::run(&args[1..]),
        Some("tidy") => tidy::check(&workspace_root()).map_err(|problems| problems.join("\n")),
        _ => {
            eprintln!(
                "usage: cargo xtask <ci [--skip-examples] | bench [NAME...] | soak [--short] [NAME...] | sanitize [asan|miri] | package | tidy>"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("xtask: {msg}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root (the parent of this crate's directory).
pub(crate) fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_owned()
}

/// The target directory: `CARGO_TARGET_DIR` if set (relative to the
/// workspace root, where `cargo` runs), else `<root>/target`.
pub(crate) fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => workspace_root().join(dir),
        None => workspace_root().join("target"),
    }
}

/// Runs `cargo` with `args` in the workspace root, failing on a non-zero
/// exit.
pub(crate) fn cargo(args: &[&str], envs: &[(&str, &str)]) -> Result<(), String> {
    cargo_in(&workspace_root(), args, envs)
}

/// Runs `cargo` with `args` in `dir`, failing on a non-zero exit.
pub(crate) fn cargo_in(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    if dir == workspace_root() {
        eprintln!("xtask: $ cargo {}", args.join(" "));
    } else {
        eprintln!("xtask: $ (cd {}; cargo {})", dir.display(), args.join(" "));
    }
    let status = Command::new(&cargo)
        .args(args)
        .envs(envs.iter().copied())
        .current_dir(dir)
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`cargo {}` failed: {status}", args.join(" ")))
    }
}
