//! PR-01: every stdio mode (pipe, inherit, devnull, an existing fd,
//! stderr → stdout), with real children.

mod util;

use std::io::Read;
use std::os::fd::AsRawFd;

use loop_process::{ProcessExt, Stdio, SubprocessOptions};
use util::{Ev, Recorder, assert_order, helper, run, run_helper, within};

fn pattern(n: usize) -> Vec<u8> {
    b"0123456789".iter().copied().cycle().take(n).collect()
}

#[test]
fn stdout_pipe_delivers_every_byte_and_the_exit_code() {
    run(|lp| async move {
        let (t, p) = run_helper(&lp, &["write", "300000", "3"], SubprocessOptions::new()).await;
        let p = p.borrow();
        assert_eq!(p.output(1), pattern(300_000));
        assert!(p.output(2).is_empty());
        assert_eq!(t.get_returncode(), Some(3));
        assert_order(&p.events, &[0, 1, 2]);
    });
}

#[test]
fn stdin_pipe_reaches_the_child() {
    run(|lp| async move {
        let (factory, done) = Recorder::factory(&lp);
        let (t, p) =
            lp.subprocess_exec(factory, helper(), ["cat"], SubprocessOptions::new()).await.unwrap();
        let stdin = t.get_pipe_transport(0).expect("stdin pipe");
        stdin.write(b"hello ").unwrap();
        stdin.writelines(&[b"child", b"\n"]).unwrap();
        stdin.write_eof().unwrap();
        within("connection_lost", done).await.unwrap();
        assert_eq!(p.borrow().output(1), b"hello child\n");
        assert_eq!(t.get_returncode(), Some(0));
        assert_order(&p.borrow().events, &[0, 1, 2]);
    });
}

#[test]
fn stderr_is_its_own_pipe_by_default() {
    run(|lp| async move {
        let (_, p) = run_helper(&lp, &["both", "out", "err"], SubprocessOptions::new()).await;
        assert_eq!(p.borrow().output(1), b"out");
        assert_eq!(p.borrow().output(2), b"err");
    });
}

#[test]
fn stderr_to_stdout_shares_the_stdout_pipe() {
    run(|lp| async move {
        let opts = SubprocessOptions::new().stderr(Stdio::Stdout);
        let (t, p) = run_helper(&lp, &["both", "out", "err"], opts).await;
        assert_eq!(p.borrow().output(1), b"outerr");
        assert!(t.get_pipe_transport(2).is_none());
        assert_order(&p.borrow().events, &[0, 1]);
    });
}

#[test]
fn devnull_gives_eof_and_swallows_output() {
    run(|lp| async move {
        let opts = SubprocessOptions::new().stdin(Stdio::DevNull);
        let (t, p) = run_helper(&lp, &["cat"], opts).await;
        assert!(t.get_pipe_transport(0).is_none());
        assert!(p.borrow().output(1).is_empty());
        assert_eq!(t.get_returncode(), Some(0));
        assert_order(&p.borrow().events, &[1, 2]);

        let opts = SubprocessOptions::new().stdout(Stdio::DevNull).stderr(Stdio::DevNull);
        let (t, p) = run_helper(&lp, &["both", "out", "err"], opts).await;
        assert!(t.get_pipe_transport(1).is_none() && t.get_pipe_transport(2).is_none());
        assert_eq!(t.get_returncode(), Some(0));
        assert_order(&p.borrow().events, &[0]);
    });
}

#[test]
fn stderr_to_stdout_follows_devnull() {
    run(|lp| async move {
        let opts = SubprocessOptions::new().stdout(Stdio::DevNull).stderr(Stdio::Stdout);
        let (t, p) = run_helper(&lp, &["both", "out", "err"], opts).await;
        assert_eq!(t.get_returncode(), Some(0));
        assert_order(&p.borrow().events, &[0]);
    });
}

#[test]
fn an_existing_fd_is_given_to_the_child_and_the_parent_copy_closed() {
    run(|lp| async move {
        let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
        let opts = SubprocessOptions::new().stdout(Stdio::Fd(w)).stderr(Stdio::Stdout);
        let (t, p) = run_helper(&lp, &["both", "out", "err"], opts).await;
        assert_eq!(t.get_returncode(), Some(0));
        assert_order(&p.borrow().events, &[0]);
        // EOF proves no copy of the write end is left open here.
        let mut got = Vec::new();
        std::fs::File::from(r).read_to_end(&mut got).unwrap();
        assert_eq!(got, b"outerr");
    });
}

#[test]
fn an_existing_fd_as_stdin() {
    run(|lp| async move {
        let file = std::fs::File::open("/proc/self/cmdline").unwrap();
        let expected = std::fs::read("/proc/self/cmdline").unwrap();
        let opts = SubprocessOptions::new().stdin(Stdio::Fd(file.into()));
        let (_, p) = run_helper(&lp, &["cat"], opts).await;
        // The file was opened here, so it reads as this process's cmdline,
        // even from the child.
        assert_eq!(p.borrow().output(1), expected);
    });
}

#[test]
fn inherit_shares_the_parents_stream() {
    run(|lp| async move {
        let (factory, done) = Recorder::factory(&lp);
        let opts = SubprocessOptions::new().stderr(Stdio::Inherit);
        let (t, _) = lp.subprocess_exec(factory, helper(), ["sleep"], opts).await.unwrap();
        let pid = t.get_pid();
        let theirs = std::fs::read_link(format!("/proc/{pid}/fd/2")).unwrap();
        let ours =
            std::fs::read_link(format!("/proc/self/fd/{}", std::io::stderr().as_raw_fd())).unwrap();
        assert_eq!(theirs, ours);
        assert!(t.get_pipe_transport(2).is_none());
        t.kill().unwrap();
        within("connection_lost", done).await.unwrap();
        assert_eq!(t.get_returncode(), Some(-9));
    });
}

#[test]
fn stdout_cannot_be_redirected_to_stdout() {
    run(|lp| async move {
        let (factory, _) = Recorder::factory(&lp);
        let opts = SubprocessOptions::new().stdout(Stdio::Stdout);
        let err = lp.subprocess_exec(factory, helper(), ["exit", "0"], opts).await.unwrap_err();
        assert!(matches!(err, loop_process::Error::InvalidArgument(_)), "{err:?}");
        let (factory, _) = Recorder::factory(&lp);
        let opts = SubprocessOptions::new().stdin(Stdio::Stdout);
        let err = lp.subprocess_exec(factory, helper(), ["exit", "0"], opts).await.unwrap_err();
        assert!(matches!(err, loop_process::Error::InvalidArgument(_)), "{err:?}");
    });
}

#[test]
fn output_written_before_connection_made_is_delivered_after_it() {
    run(|lp| async move {
        let (_, p) = run_helper(&lp, &["write", "10", "0"], SubprocessOptions::new()).await;
        let events = &p.borrow().events;
        assert_eq!(events[0], Ev::Made);
        assert_eq!(p.borrow().output(1), b"0123456789");
    });
}
