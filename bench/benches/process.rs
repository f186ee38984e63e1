//! Subprocesses: spawn + wait of 1,000 `true` (one at a time, and all at
//! once), and `communicate` of 64 MiB through `cat`, for tulip's
//! `create_subprocess_exec` against tokio's `tokio::process` (current-thread
//! runtime) and `async-process` (on smol's `LocalExecutor`).
//!
//! Every case runs in its own process (the cost of spawning depends on the
//! spawner's memory map, and a reaper thread or a SIGCHLD handler left by
//! one peer must not tax the next), in interleaved rounds; each keeps its
//! best wall time and its best CPU time of the spawning process (all its
//! threads, not the children). `TULIP_BENCH_ROUNDS` sets the rounds
//! (default 3).
//!
//! The `tulip fork+exec` row is a reference, not a peer: the same spawns
//! with one signal blocked on the loop's thread, which makes tulip reset
//! the child's signal mask in a `pre_exec` hook — and std then spawns with
//! `fork` + `exec` instead of `posix_spawn`.

use std::time::{Duration, Instant};

use tulip_bench::{
    Better, Sample, Table, isolated_case, print_header, process_cpu_time, run_isolated,
};

const SPAWNS: usize = 1_000;
const COMMUNICATE_BYTES: usize = 64 * 1024 * 1024;
const ROUNDS: usize = 3;
const COMMUNICATE_RUNS: usize = 3;

/// The implementations, in table order.
const IMPLS: [&str; 4] = ["tulip", "tokio", "async-process", "tulip-fork"];

fn main() {
    if let Some(case) = isolated_case() {
        // Whatever started this process (a profiler blocks signals), each
        // case starts from an empty signal mask: the spawn path depends on it.
        nix::sys::signal::SigSet::empty().thread_set_mask().expect("empty the signal mask");
        let (what, which) = case.split_once(':').expect("case is what:which");
        let s = match what {
            "spawn" => spawn_one_at_a_time(which),
            "spawn-all" => spawn_all_at_once(which),
            "communicate" => communicate(which),
            other => panic!("unknown case {other}"),
        };
        println!("{} {}", s.wall.as_secs_f64(), s.cpu.as_secs_f64());
        return;
    }
    let rounds: usize = std::env::var("TULIP_BENCH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(ROUNDS)
        .max(1);
    print_header();
    let cases = [
        ("spawn", format!("spawn + wait {SPAWNS} `true`, one at a time")),
        ("spawn-all", format!("spawn + wait {SPAWNS} `true`, all at once")),
        ("communicate", "communicate 64 MiB through `cat`".to_owned()),
    ];
    for (what, title) in cases {
        let mut wall = [f64::INFINITY; IMPLS.len()];
        let mut cpu = [f64::INFINITY; IMPLS.len()];
        for _ in 0..rounds {
            for (i, which) in IMPLS.iter().enumerate() {
                let out = run_isolated(&format!("{what}:{which}"));
                let mut figures =
                    out.split_whitespace().map(|f| f.parse::<f64>().expect("seconds"));
                wall[i] = wall[i].min(figures.next().expect("wall"));
                cpu[i] = cpu[i].min(figures.next().expect("cpu"));
            }
        }
        for (kind, best) in [("wall", wall), ("spawner's CPU", cpu)] {
            let mut table = Table::new(format!("{title} ({kind})"), "ms", Better::Lower);
            for (which, secs) in IMPLS.iter().zip(best).take(3) {
                table.row(label(which), secs * 1e3);
            }
            table.print();
            println!(
                "| {title} ({kind}) | reference: tulip, fork+exec path (a signal blocked) | {} ms | {:.2}x the posix_spawn path |",
                fmt_ms(best[3]),
                best[3] / best[0]
            );
        }
    }
}

fn fmt_ms(secs: f64) -> String {
    let ms = secs * 1e3;
    if ms >= 100.0 { format!("{ms:.0}") } else { format!("{ms:.2}") }
}

fn label(which: &str) -> &'static str {
    match which {
        "tulip" => "tulip create_subprocess_exec",
        "tokio" => "tokio::process (current-thread)",
        "async-process" => "async-process (smol LocalExecutor)",
        other => panic!("unknown implementation {other}"),
    }
}

// ----- tulip -----

mod tulip_cases {
    use super::{Sample, Stopwatch};

    use tulip::prelude::*;
    use tulip::process::{Stdio, SubprocessOptions};

    fn quiet() -> SubprocessOptions {
        SubprocessOptions::new().stdin(Stdio::DevNull).stdout(Stdio::DevNull).stderr(Stdio::DevNull)
    }

    /// Runs `f` on a new loop; with `fork_path`, the loop's thread blocks
    /// `SIGUSR2` first, which sends tulip's spawns down the `pre_exec`
    /// (fork + exec) path.
    fn on_loop<F, Fut>(fork_path: bool, f: F) -> Sample
    where
        F: FnOnce(Loop) -> Fut,
        Fut: std::future::Future<Output = Sample> + 'static,
    {
        if fork_path {
            super::block_sigusr2();
        }
        let lp = Loop::new().unwrap();
        let d = lp.run_until_complete(f(lp.clone())).unwrap();
        lp.close().unwrap();
        d
    }

    pub(super) fn spawn_one_at_a_time(fork_path: bool) -> Sample {
        on_loop(fork_path, |lp| async move {
            let run = |lp: Loop| async move {
                let proc = lp.create_subprocess_exec("true", [""; 0], quiet()).await.unwrap();
                assert!(proc.wait().await.unwrap().success());
            };
            run(lp.clone()).await;
            let t0 = Stopwatch::start();
            for _ in 0..super::SPAWNS {
                run(lp.clone()).await;
            }
            t0.stop()
        })
    }

    pub(super) fn spawn_all_at_once(fork_path: bool) -> Sample {
        on_loop(fork_path, |lp| async move {
            let t0 = Stopwatch::start();
            let mut procs = Vec::with_capacity(super::SPAWNS);
            for _ in 0..super::SPAWNS {
                procs.push(lp.create_subprocess_exec("true", [""; 0], quiet()).await.unwrap());
            }
            for proc in &procs {
                assert!(proc.wait().await.unwrap().success());
            }
            t0.stop()
        })
    }

    pub(super) fn communicate(fork_path: bool) -> Sample {
        let input = super::input();
        on_loop(fork_path, |lp| async move {
            let t0 = Stopwatch::start();
            let mut proc =
                lp.create_subprocess_exec("cat", [""; 0], SubprocessOptions::new()).await.unwrap();
            let out = proc.communicate(Some(&input)).await.unwrap();
            let d = t0.stop();
            assert!(out.status.success() && out.stdout == input);
            d
        })
    }
}

// ----- tokio::process on the current-thread runtime -----

mod tokio_cases {
    use super::{Sample, Stopwatch};
    use std::process::Stdio;

    use tokio::io::AsyncWriteExt;
    use tokio::process::Command;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        tokio::task::LocalSet::new().block_on(&rt, f)
    }

    fn quiet() -> Command {
        let mut cmd = Command::new("true");
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        cmd
    }

    pub(super) fn spawn_one_at_a_time() -> Sample {
        block_on(async {
            assert!(quiet().status().await.unwrap().success());
            let t0 = Stopwatch::start();
            for _ in 0..super::SPAWNS {
                assert!(quiet().status().await.unwrap().success());
            }
            t0.stop()
        })
    }

    pub(super) fn spawn_all_at_once() -> Sample {
        block_on(async {
            let t0 = Stopwatch::start();
            let mut children: Vec<_> =
                (0..super::SPAWNS).map(|_| quiet().spawn().unwrap()).collect();
            for child in &mut children {
                assert!(child.wait().await.unwrap().success());
            }
            t0.stop()
        })
    }

    pub(super) fn communicate() -> Sample {
        let input = super::input();
        let input2 = input.clone();
        block_on(async move {
            let t0 = Stopwatch::start();
            let mut child = Command::new("cat")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let mut stdin = child.stdin.take().unwrap();
            let writer = tokio::task::spawn_local(async move {
                stdin.write_all(&input2).await.unwrap();
            });
            let out = child.wait_with_output().await.unwrap();
            writer.await.unwrap();
            let d = t0.stop();
            assert!(out.status.success() && out.stdout == input);
            d
        })
    }
}

// ----- async-process on smol's LocalExecutor -----

mod async_process_cases {
    use super::{Sample, Stopwatch};

    use async_process::{Command, Stdio};
    use futures_lite::AsyncWriteExt;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        let ex = async_executor::LocalExecutor::new();
        async_io::block_on(ex.run(f))
    }

    fn quiet() -> Command {
        let mut cmd = Command::new("true");
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        cmd
    }

    pub(super) fn spawn_one_at_a_time() -> Sample {
        block_on(async {
            assert!(quiet().status().await.unwrap().success());
            let t0 = Stopwatch::start();
            for _ in 0..super::SPAWNS {
                assert!(quiet().status().await.unwrap().success());
            }
            t0.stop()
        })
    }

    pub(super) fn spawn_all_at_once() -> Sample {
        block_on(async {
            let t0 = Stopwatch::start();
            let mut children: Vec<_> =
                (0..super::SPAWNS).map(|_| quiet().spawn().unwrap()).collect();
            for child in &mut children {
                assert!(child.status().await.unwrap().success());
            }
            t0.stop()
        })
    }

    pub(super) fn communicate() -> Sample {
        let input = super::input();
        let input2 = input.clone();
        let ex = async_executor::LocalExecutor::new();
        async_io::block_on(ex.run(async {
            let t0 = Stopwatch::start();
            let mut child = Command::new("cat")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let mut stdin = child.stdin.take().unwrap();
            let writer = ex.spawn(async move {
                stdin.write_all(&input2).await.unwrap();
                stdin.close().await.unwrap();
            });
            let out = child.output().await.unwrap();
            writer.await;
            let d = t0.stop();
            assert!(out.status.success() && out.stdout == input);
            d
        }))
    }
}

fn spawn_one_at_a_time(which: &str) -> Sample {
    match which {
        "tulip" => tulip_cases::spawn_one_at_a_time(false),
        "tulip-fork" => tulip_cases::spawn_one_at_a_time(true),
        "tokio" => tokio_cases::spawn_one_at_a_time(),
        "async-process" => async_process_cases::spawn_one_at_a_time(),
        other => panic!("unknown implementation {other}"),
    }
}

fn spawn_all_at_once(which: &str) -> Sample {
    match which {
        "tulip" => tulip_cases::spawn_all_at_once(false),
        "tulip-fork" => tulip_cases::spawn_all_at_once(true),
        "tokio" => tokio_cases::spawn_all_at_once(),
        "async-process" => async_process_cases::spawn_all_at_once(),
        other => panic!("unknown implementation {other}"),
    }
}

/// The best of [`COMMUNICATE_RUNS`] runs: one takes a tenth of a second, and
/// the noise of a shared machine is larger than that.
fn communicate(which: &str) -> Sample {
    let once = || match which {
        "tulip" => tulip_cases::communicate(false),
        "tulip-fork" => tulip_cases::communicate(true),
        "tokio" => tokio_cases::communicate(),
        "async-process" => async_process_cases::communicate(),
        other => panic!("unknown implementation {other}"),
    };
    (0..COMMUNICATE_RUNS).map(|_| once()).min_by_key(|s| s.wall).expect("runs")
}

/// Wall and CPU time of the spawning process (all its threads, not its
/// children) over one timed region.
struct Stopwatch {
    wall: Instant,
    cpu: Duration,
}

impl Stopwatch {
    fn start() -> Self {
        Stopwatch { wall: Instant::now(), cpu: process_cpu_time() }
    }

    fn stop(&self) -> Sample {
        Sample { wall: self.wall.elapsed(), cpu: process_cpu_time() - self.cpu }
    }
}

/// The 64 MiB sent through `cat`: a pattern, so a lost or reordered chunk
/// shows.
fn input() -> Vec<u8> {
    (0..COMMUNICATE_BYTES).map(|i| (i % 251) as u8).collect()
}

/// Blocks `SIGUSR2` on the calling thread (and the threads it starts).
fn block_sigusr2() {
    use nix::sys::signal::{SigSet, SigmaskHow, Signal, pthread_sigmask};
    let mut set = SigSet::empty();
    set.add(Signal::SIGUSR2);
    pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), None).expect("block SIGUSR2");
}
