//! PR-05: the high-level `Process` — streams for the pipes, pid,
//! returncode, wait, communicate (large input and output on both pipes
//! without deadlock), signals, typed errors — with real children.

mod util;

use std::time::Duration;

use loop_process::{ChildWatcher, Error, ExitStatus, ProcessExt, Stdio, SubprocessOptions};
use util::{helper, run, within};

const MIB: usize = 1024 * 1024;

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

/// `sh -c` that writes `n` bytes of `e` to stderr, then copies stdin to
/// stdout: while it fills stderr it reads nothing, so a `communicate` that
/// did not read stderr while feeding stdin would deadlock.
fn err_then_cat(n: usize) -> String {
    format!("head -c {n} /dev/zero | tr '\\0' e >&2; exec cat")
}

#[test]
fn communicate_moves_16_mib_each_way_through_cat_while_stderr_gets_16_mib() {
    run(|lp| async move {
        let input = pattern(16 * MIB);
        let mut proc = lp
            .create_subprocess_shell(err_then_cat(16 * MIB), SubprocessOptions::new())
            .await
            .unwrap();
        let out = within("communicate", proc.communicate(Some(&input))).await.unwrap();
        assert_eq!(out.status, ExitStatus::Exited(0));
        assert!(out.stdout == input, "stdout differs ({} bytes)", out.stdout.len());
        assert_eq!(out.stderr.len(), 16 * MIB);
        assert!(out.stderr.iter().all(|b| *b == b'e'));
        assert!(proc.stdin.is_none(), "communicate closes and drops stdin");
        assert!(proc.stdout.as_ref().unwrap().at_eof());
        assert_eq!(proc.returncode(), Some(0));
    });
}

#[test]
fn communicate_with_python_reading_everything_before_writing_both_pipes() {
    run(|lp| async move {
        let input = pattern(8 * MIB);
        let script = "import sys\n\
                      d = sys.stdin.buffer.read()\n\
                      sys.stdout.buffer.write(d)\n\
                      sys.stdout.flush()\n\
                      sys.stderr.buffer.write(d[::-1])\n\
                      sys.exit(5)\n";
        let mut proc = lp
            .create_subprocess_exec("python3", ["-c", script], SubprocessOptions::new())
            .await
            .unwrap();
        let out = within("communicate", proc.communicate(Some(&input))).await.unwrap();
        assert_eq!(out.status.code(), Some(5));
        assert!(out.stdout == input, "stdout differs ({} bytes)", out.stdout.len());
        let reversed: Vec<u8> = input.iter().rev().copied().collect();
        assert!(out.stderr == reversed, "stderr differs ({} bytes)", out.stderr.len());
    });
}

#[test]
fn communicate_without_input_closes_stdin_and_collects_both_outputs() {
    run(|lp| async move {
        // `cat` ends only when its stdin is closed.
        let mut proc = lp
            .create_subprocess_exec("cat", Vec::<&str>::new(), SubprocessOptions::new())
            .await
            .unwrap();
        let out = within("communicate", proc.communicate(None)).await.unwrap();
        assert_eq!((out.stdout.as_slice(), out.stderr.as_slice()), (&b""[..], &b""[..]));
        assert!(out.status.success());

        let mut proc = lp
            .create_subprocess_shell("echo out; echo err >&2; exit 4", SubprocessOptions::new())
            .await
            .unwrap();
        let out = within("communicate", proc.communicate(None)).await.unwrap();
        assert_eq!(out.stdout, b"out\n");
        assert_eq!(out.stderr, b"err\n");
        assert_eq!(out.status, ExitStatus::Exited(4));
        assert_eq!(proc.returncode(), Some(4));
    });
}

#[test]
fn communicate_with_input_but_no_stdin_pipe_is_a_typed_error_and_changes_nothing() {
    run(|lp| async move {
        let opts = SubprocessOptions::new().stdin(Stdio::DevNull);
        let mut proc = lp.create_subprocess_exec(helper(), ["both", "o", "e"], opts).await.unwrap();
        assert!(proc.stdin.is_none());
        let err = proc.communicate(Some(b"lost")).await.unwrap_err();
        assert!(matches!(err, Error::NoPipe { fd: 0 }), "{err:?}");
        assert!(err.to_string().contains("stdin"), "{err}");
        // Nothing was read: a communicate without input still gets it all.
        let out = within("communicate", proc.communicate(None)).await.unwrap();
        assert_eq!((out.stdout, out.stderr), (b"o".to_vec(), b"e".to_vec()));

        // A stdin taken out of the Process counts as no pipe too.
        let mut proc =
            lp.create_subprocess_exec(helper(), ["cat"], SubprocessOptions::new()).await.unwrap();
        let stdin = proc.stdin.take().unwrap();
        let err = proc.communicate(Some(b"x")).await.unwrap_err();
        assert!(matches!(err, Error::NoPipe { fd: 0 }), "{err:?}");
        stdin.write(b"by hand").unwrap();
        drop(stdin);
        let out = within("communicate", proc.communicate(None)).await.unwrap();
        assert_eq!(out.stdout, b"by hand");
    });
}

#[test]
fn communicate_ignores_a_child_that_exits_without_reading_its_input() {
    run(|lp| async move {
        let mut proc = lp
            .create_subprocess_exec(helper(), ["exit", "9"], SubprocessOptions::new())
            .await
            .unwrap();
        let input = pattern(4 * MIB);
        let out = within("communicate", proc.communicate(Some(&input))).await.unwrap();
        assert_eq!(out.status, ExitStatus::Exited(9));
    });
}

#[test]
fn streams_that_are_not_pipes_are_none_and_communicate_returns_empty_for_them() {
    run(|lp| async move {
        let opts = SubprocessOptions::new().stdout(Stdio::DevNull);
        let mut proc = lp.create_subprocess_exec(helper(), ["both", "o", "e"], opts).await.unwrap();
        assert!(proc.stdout.is_none() && proc.stdin.is_some() && proc.stderr.is_some());
        let out = within("communicate", proc.communicate(None)).await.unwrap();
        assert_eq!((out.stdout, out.stderr), (Vec::new(), b"e".to_vec()));

        let opts = SubprocessOptions::new().stderr(Stdio::Stdout);
        let mut proc = lp.create_subprocess_exec(helper(), ["both", "o", "e"], opts).await.unwrap();
        assert!(proc.stderr.is_none() && proc.stdout.is_some());
        let out = within("communicate", proc.communicate(None)).await.unwrap();
        assert_eq!((out.stdout, out.stderr), (b"oe".to_vec(), Vec::new()));
    });
}

#[test]
fn stdin_and_stdout_are_streams_line_by_line() {
    run(|lp| async move {
        let mut proc =
            lp.create_subprocess_exec(helper(), ["cat"], SubprocessOptions::new()).await.unwrap();
        let (stdin, stdout) = (proc.stdin.take().unwrap(), proc.stdout.take().unwrap());
        for line in [&b"first\n"[..], b"second\n"] {
            stdin.write(line).unwrap();
            stdin.drain().await.unwrap();
            assert_eq!(within("readline", stdout.readline()).await.unwrap(), line);
        }
        assert_eq!(proc.returncode(), None);
        stdin.close();
        assert_eq!(within("readline", stdout.readline()).await.unwrap(), b"");
        assert!(stdout.at_eof());
        assert_eq!(within("wait", proc.wait()).await.unwrap(), ExitStatus::Exited(0));
    });
}

#[test]
fn pid_and_returncode_follow_the_child() {
    run(|lp| async move {
        let proc =
            lp.create_subprocess_exec(helper(), ["sleep"], SubprocessOptions::new()).await.unwrap();
        let pid = proc.pid();
        assert_eq!(pid, proc.transport().get_pid());
        let stat = util::stat(pid as i32).expect("the child is in /proc");
        assert_eq!(stat.1, std::process::id() as i32, "our child");
        assert_eq!(proc.returncode(), None);
        assert_eq!(proc.exit_status(), None);
        assert_eq!(proc.stdout.as_ref().unwrap().readline().await.unwrap(), b"ready\n");
        proc.kill().unwrap();
        assert_eq!(within("wait", proc.wait()).await.unwrap().returncode(), -9);
        assert_eq!(proc.returncode(), Some(-9));
        assert_eq!(
            proc.exit_status(),
            Some(ExitStatus::Signaled { signal: 9, core_dumped: false })
        );
    });
}

#[test]
fn terminate_send_signal_and_signals_after_exit() {
    run(|lp| async move {
        let proc =
            lp.create_subprocess_exec(helper(), ["sleep"], SubprocessOptions::new()).await.unwrap();
        proc.stdout.as_ref().unwrap().readline().await.unwrap();
        proc.terminate().unwrap();
        assert_eq!(within("wait", proc.wait()).await.unwrap().signal(), Some(15));
        // Reaped: refused, nothing sent.
        for sent in [proc.terminate(), proc.kill(), proc.send_signal(nix::libc::SIGUSR1)] {
            assert!(matches!(sent, Err(Error::ProcessLookup { pid }) if pid == proc.pid()));
        }

        let proc =
            lp.create_subprocess_exec(helper(), ["sleep"], SubprocessOptions::new()).await.unwrap();
        proc.stdout.as_ref().unwrap().readline().await.unwrap();
        let err = proc.send_signal(0x7fff).unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
        proc.send_signal(nix::libc::SIGUSR1).unwrap();
        assert_eq!(within("wait", proc.wait()).await.unwrap().returncode(), -nix::libc::SIGUSR1);

        let proc = lp
            .create_subprocess_exec(helper(), ["ignore-term"], SubprocessOptions::new())
            .await
            .unwrap();
        proc.stdout.as_ref().unwrap().readline().await.unwrap();
        proc.terminate().unwrap();
        let ignored = loop_core::timeout(Duration::from_millis(200), proc.wait()).await;
        assert!(ignored.is_err(), "SIGTERM is ignored: {ignored:?}");
        proc.kill().unwrap();
        assert_eq!(within("wait", proc.wait()).await.unwrap().returncode(), -9);
    });
}

#[test]
fn wait_with_unread_output_blocks_until_someone_reads() {
    run(|lp| async move {
        // 4 MiB is far more than the pipe (64 KiB) and the reader's buffer
        // (2 × limit) hold: the child blocks in write.
        let opts = SubprocessOptions::new().limit(16 * 1024);
        let proc =
            lp.create_subprocess_exec(helper(), ["write", "4194304", "0"], opts).await.unwrap();
        let blocked = loop_core::timeout(Duration::from_millis(300), proc.wait()).await;
        assert!(blocked.is_err(), "the child cannot finish while nobody reads: {blocked:?}");
        assert_eq!(proc.returncode(), None);
        let out = within("read", proc.stdout.as_ref().unwrap().read_to_eof()).await.unwrap();
        assert_eq!(out.len(), 4 * MIB);
        assert_eq!(within("wait", proc.wait()).await.unwrap(), ExitStatus::Exited(0));
    });
}

#[test]
fn stdin_flow_control_and_loss_reach_the_writer() {
    run(|lp| async move {
        // The helper's `sleep` never reads stdin: the pipe fills, drain waits.
        let proc =
            lp.create_subprocess_exec(helper(), ["sleep"], SubprocessOptions::new()).await.unwrap();
        let stdin = proc.stdin.clone().unwrap();
        stdin.write(&pattern(MIB)).unwrap();
        let waited = loop_core::timeout(Duration::from_millis(200), stdin.drain()).await;
        assert!(waited.is_err(), "drain returned while the pipe is full: {waited:?}");
        proc.kill().unwrap();
        let err = within("drain", stdin.drain()).await.unwrap_err();
        assert!(
            matches!(err, loop_streams::Error::ConnectionLost | loop_streams::Error::Transport(_)),
            "{err:?}"
        );
        within("wait", proc.wait()).await.unwrap();
    });
}

#[test]
fn the_limit_reaches_the_readers_and_zero_is_refused() {
    run(|lp| async move {
        let opts = SubprocessOptions::new().limit(4);
        let mut proc =
            lp.create_subprocess_exec(helper(), ["both", "toolong\n", ""], opts).await.unwrap();
        let stdout = proc.stdout.take().unwrap();
        assert_eq!(stdout.limit(), 4);
        let err = stdout.readline().await.unwrap_err();
        assert!(matches!(err, loop_streams::Error::LineTooLong { .. }), "{err:?}");
        within("communicate", proc.communicate(None)).await.unwrap();

        let err = lp
            .create_subprocess_exec(helper(), ["exit", "0"], SubprocessOptions::new().limit(0))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
    });
}

#[test]
fn a_missing_program_is_a_typed_error_with_nothing_left_behind() {
    run(|lp| async move {
        let err = lp
            .create_subprocess_exec("/nonexistent/tulip-program", ["x"], SubprocessOptions::new())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::ProgramNotFound { .. }), "{err:?}");
        assert_eq!(err.raw_os_error(), Some(nix::libc::ENOENT));
    });
}

#[test]
fn dropping_a_process_leaves_the_child_running_but_closes_its_unread_pipes() {
    run(|lp| async move {
        // Dropped unread: `head` gets SIGPIPE at its next write instead of
        // blocking forever on a full pipe.
        let proc = lp
            .create_subprocess_exec(
                "head",
                ["-c", "100000000", "/dev/zero"],
                SubprocessOptions::new(),
            )
            .await
            .unwrap();
        let t = proc.transport().clone();
        drop(proc);
        assert_eq!(within("wait", t.wait()).await.unwrap().signal(), Some(nix::libc::SIGPIPE));

        // Dropped while it sleeps: it keeps running until killed.
        let proc =
            lp.create_subprocess_exec(helper(), ["sleep"], SubprocessOptions::new()).await.unwrap();
        proc.stdout.as_ref().unwrap().readline().await.unwrap();
        let t = proc.transport().clone();
        drop(proc);
        let still = loop_core::timeout(Duration::from_millis(100), t.wait()).await;
        assert!(still.is_err(), "the child was stopped: {still:?}");
        assert_eq!(util::stat(t.get_pid() as i32).map(|s| s.0), Some('S'));
        t.kill().unwrap();
        assert_eq!(within("wait", t.wait()).await.unwrap().returncode(), -9);
    });
}

#[test]
fn a_cancelled_communicate_keeps_the_output_read_so_far() {
    run(|lp| async move {
        let mut proc =
            lp.create_subprocess_exec(helper(), ["sleep"], SubprocessOptions::new()).await.unwrap();
        let t = proc.transport().clone();
        let cut = loop_core::timeout(Duration::from_millis(200), proc.communicate(None)).await;
        assert!(cut.is_err(), "the child never exits by itself: {cut:?}");
        t.kill().unwrap();
        let out = within("communicate", proc.communicate(None)).await.unwrap();
        assert_eq!(out.stdout, b"ready\n");
        assert_eq!(out.status.returncode(), -9);
    });
}

#[test]
fn fifty_processes_communicate_at_once_with_either_watcher() {
    for watcher in [ChildWatcher::Pidfd, ChildWatcher::Threaded] {
        run(move |lp| async move {
            lp.set_child_watcher(watcher).unwrap();
            let mut tasks = Vec::new();
            for i in 0..50usize {
                let l = lp.clone();
                tasks.push(
                    lp.create_task(async move {
                        let mut proc = l
                            .create_subprocess_exec(helper(), ["cat"], SubprocessOptions::new())
                            .await?;
                        let input = pattern(64 * 1024 + i);
                        let out = proc.communicate(Some(&input)).await?;
                        assert_eq!(out.stdout, input);
                        Ok::<_, Error>(out.status)
                    })
                    .unwrap(),
                );
            }
            for task in tasks {
                let status = within("task", task).await.unwrap().unwrap();
                assert!(status.success());
            }
        });
    }
}
