//! PR-02: the subprocess transport — pid, returncode convention, pipe
//! transports, signals (through the pidfd; refused once reaped), close
//! with a running child, wait.

mod util;

use std::time::Duration;

use loop_process::{Error, ExitStatus, ProcessExt, SubprocessOptions};
use util::{Ev, Recorder, assert_order, helper, pidfd_count, run, within};

/// Spawns `helper args` and waits for its "ready" line.
async fn ready_helper(
    lp: &loop_core::Loop,
    args: &[&str],
) -> (
    std::rc::Rc<loop_process::SubprocessTransport>,
    std::rc::Rc<std::cell::RefCell<Recorder>>,
    loop_core::LoopFuture<()>,
) {
    let (factory, done) = Recorder::factory(lp);
    let (t, p) =
        lp.subprocess_exec(factory, helper(), args, SubprocessOptions::new()).await.unwrap();
    let p2 = p.clone();
    within("ready", async move {
        while p2.borrow().output(1) != b"ready\n" {
            loop_core::sleep(Duration::from_millis(1)).await.unwrap();
        }
    })
    .await;
    (t, p, done)
}

#[test]
fn returncode_is_none_while_running_then_minus_the_signal() {
    run(|lp| async move {
        let (t, p, done) = ready_helper(&lp, &["sleep"]).await;
        assert_eq!(t.get_returncode(), None);
        assert!(std::path::Path::new(&format!("/proc/{}", t.get_pid())).exists());
        t.kill().unwrap();
        within("connection_lost", done).await.unwrap();
        assert_eq!(t.get_returncode(), Some(-9));
        assert_eq!(t.exit_status(), Some(ExitStatus::Signaled { signal: 9, core_dumped: false }));
        assert_order(&p.borrow().events, &[0, 1, 2]);
        assert_eq!(p.borrow().sequence()[4], Ev::Exited(Some(-9)));
    });
}

#[test]
fn terminate_and_send_signal() {
    run(|lp| async move {
        let (t, _, done) = ready_helper(&lp, &["sleep"]).await;
        t.terminate().unwrap();
        within("connection_lost", done).await.unwrap();
        assert_eq!(t.get_returncode(), Some(-15));

        let (t, _, done) = ready_helper(&lp, &["sleep"]).await;
        t.send_signal(nix::libc::SIGUSR1).unwrap();
        within("connection_lost", done).await.unwrap();
        assert_eq!(t.get_returncode(), Some(-nix::libc::SIGUSR1));
    });
}

#[test]
fn a_child_that_ignores_sigterm_survives_it_until_killed() {
    run(|lp| async move {
        let (t, _, done) = ready_helper(&lp, &["ignore-term"]).await;
        t.terminate().unwrap();
        // The exit must not come: this wait is meant to time out.
        let r = loop_core::timeout(Duration::from_millis(200), t.wait()).await;
        assert!(matches!(r, Err(loop_core::Error::TimedOut { .. })), "{r:?}");
        assert_eq!(t.get_returncode(), None);
        t.kill().unwrap();
        within("connection_lost", done).await.unwrap();
        assert_eq!(t.get_returncode(), Some(-9));
    });
}

#[test]
fn signals_after_the_child_was_reaped_are_refused_and_send_nothing() {
    run(|lp| async move {
        let (factory, done) = Recorder::factory(&lp);
        let (t, _) =
            lp.subprocess_exec(factory, "true", [""; 0], SubprocessOptions::new()).await.unwrap();
        within("connection_lost", done).await.unwrap();
        let pid = t.get_pid();
        for r in [t.send_signal(nix::libc::SIGTERM), t.terminate(), t.kill()] {
            assert!(matches!(r, Err(Error::ProcessLookup { pid: p }) if p == pid), "{r:?}");
        }
        // The pidfd was closed at reaping: there is nothing left to signal
        // through, and no pid is used.
        assert_eq!(pidfd_count(), 0);
    });
}

#[test]
fn each_running_child_holds_one_pidfd_until_reaped() {
    run(|lp| async move {
        assert_eq!(pidfd_count(), 0);
        let (a, _, done_a) = ready_helper(&lp, &["sleep"]).await;
        let (b, _, done_b) = ready_helper(&lp, &["sleep"]).await;
        assert_eq!(pidfd_count(), 2, "signals go through a pidfd per child");
        a.kill().unwrap();
        within("a", done_a).await.unwrap();
        assert_eq!(pidfd_count(), 1);
        b.kill().unwrap();
        within("b", done_b).await.unwrap();
        assert_eq!(pidfd_count(), 0);
    });
}

#[test]
fn invalid_signal_numbers_are_invalid_argument() {
    run(|lp| async move {
        let (t, _, done) = ready_helper(&lp, &["sleep"]).await;
        for sig in [0, -1, 65, 1000] {
            let r = t.send_signal(sig);
            assert!(matches!(r, Err(Error::InvalidArgument(_))), "{sig}: {r:?}");
        }
        assert_eq!(t.get_returncode(), None);
        t.kill().unwrap();
        within("connection_lost", done).await.unwrap();
    });
}

#[test]
fn close_kills_a_running_child_and_closes_every_pipe() {
    run(|lp| async move {
        let (t, p, done) = ready_helper(&lp, &["sleep"]).await;
        let pipes: Vec<_> = (0..3).map(|fd| t.get_pipe_transport(fd).unwrap()).collect();
        assert!(pipes.iter().all(|p| !p.is_closing()));
        t.close();
        assert!(t.is_closing());
        assert!(pipes.iter().all(|p| p.is_closing()), "close closes every pipe at once");
        t.close();
        within("connection_lost", done).await.unwrap();
        assert_eq!(t.get_returncode(), Some(-9));
        // After connection_lost the transport lets go of its pipes.
        assert!((0..3).all(|fd| t.get_pipe_transport(fd).is_none()));
        assert_order(&p.borrow().events, &[0, 1, 2]);
    });
}

#[test]
fn close_after_exit_kills_nothing() {
    run(|lp| async move {
        let (factory, done) = Recorder::factory(&lp);
        let (t, p) = lp
            .subprocess_exec(factory, helper(), ["exit", "5"], SubprocessOptions::new())
            .await
            .unwrap();
        t.wait().await.unwrap();
        t.close();
        within("connection_lost", done).await.unwrap();
        assert_eq!(t.get_returncode(), Some(5));
        assert_order(&p.borrow().events, &[0, 1, 2]);
    });
}

#[test]
fn pipe_transports_are_there_for_0_1_2_only() {
    run(|lp| async move {
        let (t, _, done) = ready_helper(&lp, &["sleep"]).await;
        for fd in 0..3 {
            assert!(t.get_pipe_transport(fd).is_some(), "{fd}");
        }
        for fd in [-1, 3, 100] {
            assert!(t.get_pipe_transport(fd).is_none(), "{fd}");
        }
        t.kill().unwrap();
        within("connection_lost", done).await.unwrap();
    });
}

#[test]
fn wait_resolves_for_every_waiter_with_the_status() {
    run(|lp| async move {
        let (t, _, done) = ready_helper(&lp, &["sleep"]).await;
        let (t1, t2) = (t.clone(), t.clone());
        let w1 = lp.create_task(async move { t1.wait().await }).unwrap();
        let w2 = lp.create_task(async move { t2.wait().await }).unwrap();
        t.kill().unwrap();
        let s1 = within("wait 1", w1).await.unwrap().unwrap();
        let s2 = within("wait 2", w2).await.unwrap().unwrap();
        assert_eq!((s1.returncode(), s2.returncode()), (-9, -9));
        within("connection_lost", done).await.unwrap();
        assert_eq!(t.wait().await.unwrap().signal(), Some(9));
    });
}
