//! `cargo xtask bench`: runs the benchmarks and writes `docs/benchmarks.md`.
//!
//! Each benchmark binary of the `tulip-bench` package prints Markdown table
//! rows (tulip beside its peers, measured in the same run, with the ratio
//! against the faster peer). This collects them under one header with the
//! date and the machine, and writes the file.

use std::fmt::Write as _;
use std::process::Command;

use crate::workspace_root;

/// The benchmark binaries, in report order.
const BENCHES: &[(&str, &str)] = &[
    ("core", "Loop core: callbacks, tasks, timers, cross-thread"),
    ("sync", "Synchronization primitives"),
    ("tcp", "TCP and UDP echo"),
    ("scale", "Scale: 1,000 to 10,000 connections"),
    ("streams", "TCP echo with streams"),
    ("tls", "TLS echo and handshakes"),
    ("process", "Subprocesses: spawn + wait, communicate"),
];

/// How the figures are taken, printed under the header.
const METHOD: &str = "How: the call_soon, task and timer rows run each implementation in its \
own process (1M live tasks leave a heap that would flatter or burden whoever runs next); the \
echo rows pin the single-threaded server to CPU 0 and the load generator to CPU 1 and keep \
each implementation's best of three interleaved rounds (unpinned, every implementation, the \
hand-written floor included, swung between two regimes); the wake-up latency rows pool three \
interleaved rounds of 2,000 samples, each implementation in its own process; the subprocess \
rows run every case in its own process, in interleaved rounds, and keep the best wall time and \
the best CPU time of the spawning process (children excluded).\n";

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let selected: Vec<&(&str, &str)> =
        BENCHES.iter().filter(|(n, _)| args.is_empty() || args.iter().any(|a| a == n)).collect();
    let mut doc = String::new();
    let _ = writeln!(doc, "# Benchmarks\n");
    let _ = writeln!(doc, "Written by `cargo xtask bench` on {} — {}.\n", today(), machine());
    let _ = writeln!(
        doc,
        "Every table compares tulip with its peers measured in the same run, on the same \
         machine. The last column is tulip's figure against the best peer's, oriented so that \
         above 1.00x means tulip is better. Rows named `floor` are reference points, not peers.\n"
    );
    let _ = writeln!(doc, "{METHOD}");
    for (name, title) in selected {
        let out = bench_output(name)?;
        let _ = writeln!(doc, "## {title}\n");
        let _ = writeln!(doc, "{}", out.trim());
        let _ = writeln!(doc);
        print!("{out}");
    }
    let path = workspace_root().join("docs/benchmarks.md");
    if args.is_empty() {
        std::fs::write(&path, doc).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        eprintln!("xtask: wrote {}", path.display());
    } else {
        eprintln!("xtask: a subset was run; docs/benchmarks.md left unchanged");
    }
    Ok(())
}

fn bench_output(name: &str) -> Result<String, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    eprintln!("xtask: $ cargo bench -p tulip-bench --bench {name}");
    let out = Command::new(cargo)
        .args(["bench", "-p", "tulip-bench", "--bench", name])
        .current_dir(workspace_root())
        .output()
        .map_err(|e| format!("cannot run cargo bench: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "benchmark {name} failed: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn today() -> String {
    Command::new("date")
        .arg("+%Y-%m-%d")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown date".into())
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    format!("{cpu}, {cores} cores, Linux {kernel}")
}
