//! PR-04: child watching — pidfd and thread-per-child watchers, 100
//! children at once, a loop on another thread, other code's children left
//! alone, children left running when the loop closes (still reaped), and
//! the child's clean signal state.

mod util;

use std::rc::Rc;

use loop_core::Loop;
use loop_process::{ChildWatcher, ProcessExt, SubprocessOptions};
use util::{Recorder, assert_order, census, check_clean, helper, pidfd_count, run, settle, within};

const KINDS: [ChildWatcher; 2] = [ChildWatcher::Pidfd, ChildWatcher::Threaded];

#[test]
fn a_hundred_children_at_once() {
    for kind in KINDS {
        run(move |lp| async move {
            lp.set_child_watcher(kind).unwrap();
            assert_eq!(lp.child_watcher(), kind);
            let mut children = Vec::new();
            for _ in 0..100 {
                let (factory, done) = Recorder::factory(&lp);
                let (t, p) = lp
                    .subprocess_exec(factory, helper(), ["cat"], SubprocessOptions::new())
                    .await
                    .unwrap();
                children.push((t, p, done));
            }
            assert_eq!(census().children.len(), 100, "all running at once");
            for (i, (t, _, _)) in children.iter().enumerate() {
                let stdin = t.get_pipe_transport(0).unwrap();
                stdin.write(format!("child {i}\n").as_bytes()).unwrap();
                stdin.write_eof().unwrap();
            }
            for (i, (t, p, done)) in children.into_iter().enumerate() {
                within("connection_lost", done).await.unwrap();
                assert_eq!(t.get_returncode(), Some(0));
                assert_eq!(p.borrow().output(1), format!("child {i}\n").as_bytes());
                assert_order(&p.borrow().events, &[0, 1, 2]);
            }
        });
    }
}

#[test]
fn the_threaded_watcher_holds_no_pidfd_and_signals_safely() {
    run(|lp| async move {
        lp.set_child_watcher(ChildWatcher::Threaded).unwrap();
        let (factory, done) = Recorder::factory(&lp);
        let (t, p) = lp
            .subprocess_exec(factory, helper(), ["sleep"], SubprocessOptions::new())
            .await
            .unwrap();
        assert_eq!(pidfd_count(), 0);
        t.terminate().unwrap();
        within("connection_lost", done).await.unwrap();
        assert_eq!(t.get_returncode(), Some(-15));
        assert_order(&p.borrow().events, &[0, 1, 2]);
        let r = t.kill();
        assert!(matches!(r, Err(loop_process::Error::ProcessLookup { .. })), "{r:?}");
    });
}

#[test]
fn a_loop_on_another_thread_watches_its_children() {
    let _serial = util::serial();
    let before = census();
    let worker = std::thread::spawn(|| {
        let lp = Loop::new().unwrap();
        let l = lp.clone();
        let code = lp
            .run_until_complete(async move {
                let (factory, done) = Recorder::factory(&l);
                let (t, _) =
                    l.subprocess_shell(factory, "exit 42", SubprocessOptions::new()).await.unwrap();
                within("connection_lost", done).await.unwrap();
                t.get_returncode()
            })
            .unwrap();
        lp.close().unwrap();
        code
    });
    assert_eq!(worker.join().unwrap(), Some(42));
    check_clean(&before);
}

#[test]
fn other_code_s_children_are_never_reaped() {
    run(|lp| async move {
        for kind in KINDS {
            lp.set_child_watcher(kind).unwrap();
            let mut theirs =
                std::process::Command::new(helper()).args(["exit", "3"]).spawn().unwrap();
            let pid = theirs.id() as i32;
            settle("the other child to exit", || util::stat(pid).is_some_and(|(s, _)| s == 'Z'));
            for _ in 0..5 {
                let (factory, done) = Recorder::factory(&lp);
                lp.subprocess_shell(factory, "exit 0", SubprocessOptions::new()).await.unwrap();
                within("connection_lost", done).await.unwrap();
            }
            // Still a zombie waiting for its owner, who gets its status.
            assert_eq!(util::stat(pid).map(|(s, _)| s), Some('Z'));
            assert_eq!(theirs.wait().unwrap().code(), Some(3));
        }
    });
}

#[test]
fn closing_the_loop_leaves_children_running_and_they_are_still_reaped() {
    let _serial = util::serial();
    for kind in KINDS {
        let before = census();
        let lp = Loop::new().unwrap();
        let l = lp.clone();
        let t = lp
            .run_until_complete(async move {
                l.set_child_watcher(kind).unwrap();
                let (factory, _done) = Recorder::factory(&l);
                let (t, p) = l
                    .subprocess_exec(factory, helper(), ["sleep"], SubprocessOptions::new())
                    .await
                    .unwrap();
                // Past its one write: closing the loop closes the pipes, and
                // a write after that would end the helper (EPIPE).
                within("ready", async move {
                    while p.borrow().output(1) != b"ready\n" {
                        loop_core::sleep(std::time::Duration::from_millis(1)).await.unwrap();
                    }
                })
                .await;
                t
            })
            .unwrap();
        let pid = t.get_pid() as i32;
        lp.close().unwrap();
        // Not killed by the close: still our running child.
        let (state, ppid) = util::stat(pid).unwrap();
        assert_ne!(state, 'Z', "{kind:?}");
        assert_eq!(ppid, std::process::id() as i32);
        // Its transport can still signal it (through the pidfd, or the pid
        // while unreaped) …
        t.kill().unwrap();
        // … and a thread reaps it: no zombie, no fd left.
        drop(t);
        check_clean(&before);
        assert!(util::stat(pid).is_none(), "{kind:?}: child {pid} still there");
    }
}

#[test]
fn closing_the_loop_reaps_children_that_already_exited() {
    let _serial = util::serial();
    for kind in KINDS {
        let before = census();
        let lp = Loop::new().unwrap();
        let l = lp.clone();
        let t: Rc<loop_process::SubprocessTransport> = lp
            .run_until_complete(async move {
                l.set_child_watcher(kind).unwrap();
                let (factory, _done) = Recorder::factory(&l);
                let (t, p) = l
                    .subprocess_exec(factory, helper(), ["sleep"], SubprocessOptions::new())
                    .await
                    .unwrap();
                // Past its one write: closing the loop closes the pipes, and
                // a write after that would end the helper (EPIPE).
                within("ready", async move {
                    while p.borrow().output(1) != b"ready\n" {
                        loop_core::sleep(std::time::Duration::from_millis(1)).await.unwrap();
                    }
                })
                .await;
                t
            })
            .unwrap();
        let pid = t.get_pid() as i32;
        // It dies while the loop is not running: nobody has reaped it.
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::SIGKILL).unwrap();
        settle("the child to exit", || util::stat(pid).is_some_and(|(s, _)| s == 'Z'));
        lp.close().unwrap();
        drop(t);
        check_clean(&before);
    }
}

#[test]
fn the_child_starts_with_an_empty_signal_mask() {
    run(|lp| async move {
        use nix::sys::signal::{SigSet, SigmaskHow, Signal, pthread_sigmask};
        let mut blocked = SigSet::empty();
        blocked.add(Signal::SIGUSR2);
        blocked.add(Signal::SIGTERM);
        let mut old = SigSet::empty();
        pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&blocked), Some(&mut old)).unwrap();
        let (factory, done) = Recorder::factory(&lp);
        let spawned =
            lp.subprocess_exec(factory, helper(), ["sigmask"], SubprocessOptions::new()).await;
        pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&old), None).unwrap();
        let (_, p) = spawned.unwrap();
        within("connection_lost", done).await.unwrap();
        let out = String::from_utf8(p.borrow().output(1)).unwrap();
        let field = |name: &str| {
            let line = out.lines().find(|l| l.starts_with(name)).unwrap();
            u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap()
        };
        assert_eq!(field("SigBlk:"), 0, "{out}");
    });
}

#[test]
fn the_child_gets_sigpipe_back_at_its_default() {
    run(|lp| async move {
        // This test program ignores SIGPIPE (every Rust program does), and
        // an ignored signal stays ignored across exec unless reset. (`cat`
        // rather than the helper: the helper, a Rust program, ignores it
        // again itself.)
        let (factory, done) = Recorder::factory(&lp);
        let (_, p) = lp
            .subprocess_exec(factory, "cat", ["/proc/self/status"], SubprocessOptions::new())
            .await
            .unwrap();
        within("connection_lost", done).await.unwrap();
        let out = String::from_utf8(p.borrow().output(1)).unwrap();
        let line = out.lines().find(|l| l.starts_with("SigIgn:")).unwrap();
        let ignored = u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap();
        assert_eq!(ignored & (1u64 << (nix::libc::SIGPIPE - 1)), 0, "{out}");
    });
}
