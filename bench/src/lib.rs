//! Shared measurement and reporting helpers for tulip's benchmarks.
//!
//! Every benchmark prints tulip's figure beside its peers' (tokio's
//! current-thread runtime, smol's `async-executor`) measured in the same run,
//! and the ratio against the faster peer. `cargo xtask bench` runs them all.

use std::time::{Duration, Instant};

/// CPU time (user + system) consumed by this process so far.
pub fn process_cpu_time() -> Duration {
    let ts = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// CPU time (user + system) consumed by another process, read from `/proc`.
///
/// Returns `None` when the process is gone or `/proc` is unreadable.
pub fn pid_cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may contain spaces) start after ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the full line: 12 and 13 here.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    let hz = rustix::param::clock_ticks_per_second();
    Some(Duration::from_nanos(ticks * 1_000_000_000 / hz))
}

/// Pins the calling thread (and the threads it starts afterwards) to `cpu`,
/// when the machine has more than one CPU. Benchmarks with a server and a
/// load generator pin them to different CPUs: otherwise the scheduler's
/// placement changes how many syscalls each message takes, and single runs
/// become bimodal.
pub fn pin_to_cpu(cpu: usize) {
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    if cpus < 2 {
        return;
    }
    let mut set = rustix::thread::CpuSet::new();
    set.set(cpu % cpus);
    // Pinning is an optimisation of the measurement; if the OS refuses it,
    // the benchmark still runs.
    let _ = rustix::thread::sched_setaffinity(None, &set);
}

/// Peak resident set size of this process in KiB (`VmHWM`).
pub fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// One measurement: wall time and CPU time of a closure.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// Wall-clock time.
    pub wall: Duration,
    /// CPU time (user + system) of this process.
    pub cpu: Duration,
}

/// Runs `f` once and measures it.
pub fn measure(f: impl FnOnce()) -> Sample {
    let c0 = process_cpu_time();
    let t0 = Instant::now();
    f();
    Sample { wall: t0.elapsed(), cpu: process_cpu_time() - c0 }
}

/// Runs `f` `runs` times and keeps the fastest wall time (and its CPU time).
pub fn best_of(runs: usize, mut f: impl FnMut()) -> Sample {
    (0..runs.max(1)).map(|_| measure(&mut f)).min_by_key(|s| s.wall).expect("at least one run")
}

/// Whether a larger figure is better (throughput) or a smaller one (cost).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    /// Throughput-like figures: higher wins.
    Higher,
    /// Cost-like figures (time, memory): lower wins.
    Lower,
}

/// A table of one benchmark's results, printed with ratios against peers.
///
/// Rows whose name starts with `tulip` are ours; rows starting with `floor`
/// are reference points that are not peers; every other row is a peer.
#[derive(Debug)]
pub struct Table {
    title: String,
    unit: String,
    better: Better,
    rows: Vec<(String, f64)>,
}

impl Table {
    /// A new table; `unit` labels the figures.
    pub fn new(title: impl Into<String>, unit: impl Into<String>, better: Better) -> Self {
        Self { title: title.into(), unit: unit.into(), better, rows: Vec::new() }
    }

    /// Adds one implementation's figure.
    pub fn row(&mut self, name: impl Into<String>, value: f64) -> &mut Self {
        self.rows.push((name.into(), value));
        self
    }

    /// The ratio of tulip's figure to the best peer's, oriented so that
    /// > 1.0 means tulip wins.
    pub fn ratio(&self) -> Option<f64> {
        let ours = self.rows.iter().find(|(n, _)| n.starts_with("tulip"))?.1;
        let peers =
            self.rows.iter().filter(|(n, _)| !n.starts_with("tulip") && !n.starts_with("floor"));
        let best = match self.better {
            Better::Higher => peers.map(|r| r.1).fold(f64::NAN, f64::max),
            Better::Lower => peers.map(|r| r.1).fold(f64::NAN, f64::min),
        };
        if best.is_nan() || ours == 0.0 || best == 0.0 {
            return None;
        }
        Some(match self.better {
            Better::Higher => ours / best,
            Better::Lower => best / ours,
        })
    }

    /// Prints the table as Markdown rows: `| benchmark | impl | figure | ratio |`.
    pub fn print(&self) {
        let ratio = self.ratio().map(|r| format!("{r:.2}x")).unwrap_or_else(|| "-".into());
        for (name, value) in &self.rows {
            let r = if name.starts_with("tulip") { ratio.as_str() } else { "" };
            println!("| {} | {} | {} {} | {} |", self.title, name, fmt_value(*value), self.unit, r);
        }
    }
}

fn fmt_value(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.4}")
    }
}

/// Prints the Markdown header the tables' rows go under.
pub fn print_header() {
    println!("| benchmark | implementation | figure | tulip vs best peer |");
    println!("|---|---|---|---|");
}

/// The case this process was started for by [`run_isolated`], if any: the
/// caller should run only that case, print its figures and exit.
pub fn isolated_case() -> Option<String> {
    std::env::var("TULIP_BENCH_CASE").ok()
}

/// Runs this benchmark binary again in a child process for one case (so peak
/// memory and CPU time are measured per implementation) and returns the
/// child's stdout.
///
/// # Panics
///
/// Panics if the child cannot be spawned or fails: a benchmark that cannot
/// run has no figure to report.
pub fn run_isolated(case: &str) -> String {
    let exe = std::env::current_exe().expect("current exe");
    let out = std::process::Command::new(exe)
        .env("TULIP_BENCH_CASE", case)
        .arg("--bench")
        .output()
        .expect("spawn isolated benchmark case");
    assert!(out.status.success(), "case {case} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A benchmark server: this benchmark binary re-executed with `envs` (which
/// name the implementation to serve), which prints its port on its first
/// stdout line and serves until killed (on drop).
#[derive(Debug)]
pub struct ServerProc {
    child: std::process::Child,
    /// The port the server announced.
    pub port: u16,
}

impl ServerProc {
    /// Starts the server and waits for its port.
    ///
    /// # Panics
    ///
    /// Panics if it cannot be started or announces no port: a benchmark
    /// without its server has no figure to report.
    pub fn spawn(envs: &[(&str, &std::ffi::OsStr)]) -> ServerProc {
        use std::io::BufRead;
        let exe = std::env::current_exe().expect("current exe");
        let mut child = std::process::Command::new(exe)
            .envs(envs.iter().copied())
            .arg("--bench")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .expect("spawn server");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.as_mut().expect("piped stdout"))
            .read_line(&mut line)
            .expect("read the server's port");
        let port = line.trim().parse().unwrap_or_else(|_| panic!("server {envs:?} said {line:?}"));
        ServerProc { child, port }
    }

    /// The server's CPU time so far.
    ///
    /// # Panics
    ///
    /// Panics if the server died.
    pub fn cpu(&self) -> Duration {
        pid_cpu_time(self.child.id()).expect("server alive")
    }

    /// The server's resident set size in KiB (`VmRSS`).
    ///
    /// # Panics
    ///
    /// Panics if the server died.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("server alive");
        status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .expect("VmRSS in /proc/<pid>/status")
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Raises this process' soft `RLIMIT_NOFILE` to its hard limit (children
/// inherit it) and returns the new soft limit.
pub fn raise_fd_limit() -> u64 {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let lim = getrlimit(Resource::Nofile);
    let raised = Rlimit { current: lim.maximum, maximum: lim.maximum };
    match setrlimit(Resource::Nofile, raised) {
        Ok(()) => lim.maximum.unwrap_or(u64::MAX),
        Err(_) => lim.current.unwrap_or(u64::MAX),
    }
}
