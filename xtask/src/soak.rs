//! `cargo xtask soak [--short] [SCENARIO...]`: the load, fault and storm
//! scenarios of the `tulip-soak` package, built in release mode. `ci` runs
//! the short version (under a minute).

use crate::cargo;

/// Builds and runs `tulip-soak` with `args` (`--short`, scenario names).
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let mut cmd = vec!["run", "--release", "--quiet", "-p", "tulip-soak", "--"];
    cmd.extend(args.iter().map(String::as_str));
    cargo(&cmd, &[]).map_err(|e| format!("soak: {e}"))
}
