//! PR-01: spawn options (cwd, env, process group, session, OS-string
//! arguments, argv[0]), the shell, and spawn failures as typed errors with
//! errno — leaving no fd, child or zombie behind.

mod util;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use loop_process::{Error, ProcessExt, Stdio, SubprocessOptions};
use util::{Recorder, helper, run, within};

/// Runs `/bin/sh -c script` and returns (stdout, returncode).
async fn shell(lp: &loop_core::Loop, script: &str, opts: SubprocessOptions) -> (Vec<u8>, i32) {
    let (factory, done) = Recorder::factory(lp);
    let (t, p) = lp.subprocess_shell(factory, script, opts).await.unwrap();
    within("connection_lost", done).await.unwrap();
    let out = p.borrow().output(1);
    (out, t.get_returncode().unwrap())
}

#[test]
fn subprocess_shell_runs_sh_c() {
    run(|lp| async move {
        assert_eq!(
            shell(&lp, "echo a; echo b >&2; exit 4", SubprocessOptions::new()).await,
            (b"a\n".to_vec(), 4)
        );
    });
}

#[test]
fn true_and_false_give_their_codes() {
    run(|lp| async move {
        for (prog, code) in [("true", 0), ("false", 1)] {
            let (factory, done) = Recorder::factory(&lp);
            let (t, _) = lp
                .subprocess_exec(
                    factory,
                    prog,
                    std::iter::empty::<&str>(),
                    SubprocessOptions::new(),
                )
                .await
                .unwrap();
            within("connection_lost", done).await.unwrap();
            assert_eq!(t.get_returncode(), Some(code));
            assert_eq!(t.exit_status().unwrap().success(), code == 0);
        }
    });
}

#[test]
fn cwd_sets_the_working_directory() {
    run(|lp| async move {
        let (out, code) = shell(&lp, "pwd", SubprocessOptions::new().cwd("/tmp")).await;
        assert_eq!((out, code), (b"/tmp\n".to_vec(), 0));
    });
}

#[test]
fn env_set_remove_and_clear() {
    run(|lp| async move {
        let script = r#"echo "${A-unset}/${B-unset}/${HOME-unset}""#;
        let opts = SubprocessOptions::new().env("A", "1").env_remove("HOME");
        assert_eq!(shell(&lp, script, opts).await.0, b"1/unset/unset\n");
        let opts = SubprocessOptions::new().env_clear().env("B", "2");
        let (out, _) = shell(&lp, "env", opts).await;
        // sh may add PWD and the like; nothing of ours leaks through.
        let text = String::from_utf8(out).unwrap();
        assert!(text.lines().any(|l| l == "B=2"), "{text}");
        assert!(!text.lines().any(|l| l.starts_with("HOME=") || l.starts_with("PATH=/")), "{text}");
    });
}

#[test]
fn arguments_are_os_strings() {
    run(|lp| async move {
        let raw = OsStr::from_bytes(b"caf\xe9 \xff\x01 \"'$x");
        let (factory, done) = Recorder::factory(&lp);
        let args = [OsStr::new("-c"), OsStr::new(r#"printf %s "$1""#), OsStr::new("sh"), raw];
        let (t, p) =
            lp.subprocess_exec(factory, "/bin/sh", args, SubprocessOptions::new()).await.unwrap();
        within("connection_lost", done).await.unwrap();
        assert_eq!(t.get_returncode(), Some(0));
        assert_eq!(p.borrow().output(1), raw.as_bytes());
    });
}

#[test]
fn arg0_replaces_argv0() {
    run(|lp| async move {
        let (factory, done) = Recorder::factory(&lp);
        let opts = SubprocessOptions::new().arg0("renamed");
        let args = ["-c", "cat /proc/$$/cmdline"];
        let (_, p) = lp.subprocess_exec(factory, "/bin/sh", args, opts).await.unwrap();
        within("connection_lost", done).await.unwrap();
        assert!(p.borrow().output(1).starts_with(b"renamed\0-c\0"));
    });
}

#[test]
fn process_group_and_new_session() {
    run(|lp| async move {
        let me = std::process::id() as i64;
        let my_pgrp = util::stat_field(me as i32, 5).unwrap();
        let my_sid = util::stat_field(me as i32, 6).unwrap();
        for (opts, new_group, new_session) in [
            (SubprocessOptions::new(), false, false),
            (SubprocessOptions::new().process_group(0), true, false),
            (SubprocessOptions::new().new_session(), true, true),
        ] {
            let (factory, done) = Recorder::factory(&lp);
            let (t, _) = lp.subprocess_exec(factory, helper(), ["sleep"], opts).await.unwrap();
            let pid = t.get_pid() as i32;
            let pgrp = util::stat_field(pid, 5).unwrap();
            let sid = util::stat_field(pid, 6).unwrap();
            assert_eq!(pgrp == i64::from(pid), new_group);
            assert_eq!(pgrp == my_pgrp, !new_group);
            assert_eq!(sid == i64::from(pid), new_session);
            assert_eq!(sid == my_sid, !new_session);
            t.kill().unwrap();
            within("connection_lost", done).await.unwrap();
        }
        let (factory, _) = Recorder::factory(&lp);
        let opts = SubprocessOptions::new().process_group(0).new_session();
        let err = lp.subprocess_exec(factory, helper(), ["sleep"], opts).await.unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
    });
}

#[test]
fn a_missing_program_is_program_not_found_with_enoent() {
    run(|lp| async move {
        for prog in ["/nonexistent/tulip-no-such-program", "tulip-no-such-program-on-path"] {
            let (factory, _) = Recorder::factory(&lp);
            let err = lp
                .subprocess_exec(factory, prog, ["x"], SubprocessOptions::new())
                .await
                .unwrap_err();
            assert!(
                matches!(&err, Error::ProgramNotFound { program, .. } if program == prog),
                "{err:?}"
            );
            assert_eq!(err.raw_os_error(), Some(nix::libc::ENOENT));
        }
    });
}

#[test]
fn a_bad_cwd_is_a_cwd_error_with_errno() {
    run(|lp| async move {
        for dir in ["/nonexistent/dir", "/etc/passwd"] {
            let (factory, _) = Recorder::factory(&lp);
            let opts = SubprocessOptions::new().cwd(dir);
            let err = lp.subprocess_exec(factory, "true", ["x"], opts).await.unwrap_err();
            assert!(matches!(&err, Error::Cwd { cwd, .. } if cwd.as_os_str() == dir), "{err:?}");
            let errno = err.raw_os_error().unwrap();
            assert!([nix::libc::ENOENT, nix::libc::ENOTDIR].contains(&errno), "{err:?}");
        }
    });
}

#[test]
fn a_failed_exec_is_a_spawn_error_with_errno() {
    run(|lp| async move {
        let dir = std::env::temp_dir().join(format!("tulip-process-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("not-executable");
        std::fs::write(&file, "#!/bin/sh\necho hi\n").unwrap();
        for prog in [file.as_os_str(), dir.as_os_str()] {
            let (factory, _) = Recorder::factory(&lp);
            let err = lp
                .subprocess_exec(factory, prog, ["x"], SubprocessOptions::new())
                .await
                .unwrap_err();
            assert!(matches!(err, Error::Spawn { .. }), "{err:?}");
            assert_eq!(err.raw_os_error(), Some(nix::libc::EACCES), "{err:?}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    });
}

#[test]
fn malformed_input_is_invalid_argument() {
    run(|lp| async move {
        let cases: Vec<(SubprocessOptions, &[u8])> = vec![
            (SubprocessOptions::new(), b"a\0b"),
            (SubprocessOptions::new().env("A=B", "1"), b"x"),
            (SubprocessOptions::new().env("", "1"), b"x"),
            (SubprocessOptions::new().env("A", "1\0x"), b"x"),
            (SubprocessOptions::new().cwd("/tmp\0x"), b"x"),
            (SubprocessOptions::new().process_group(-3), b"x"),
        ];
        for (opts, arg) in cases {
            let (factory, _) = Recorder::factory(&lp);
            let err = lp
                .subprocess_exec(factory, "true", [OsStr::from_bytes(arg)], opts)
                .await
                .unwrap_err();
            assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
        }
        let (factory, _) = Recorder::factory(&lp);
        let err = lp
            .subprocess_exec(factory, "tr\0ue", ["x"], SubprocessOptions::new())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
    });
}

#[test]
fn a_failed_spawn_closes_an_fd_it_was_given() {
    run(|lp| async move {
        let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
        let (factory, _) = Recorder::factory(&lp);
        let opts = SubprocessOptions::new().stdout(Stdio::Fd(w));
        let err = lp.subprocess_exec(factory, "/nonexistent/x", ["x"], opts).await.unwrap_err();
        assert!(matches!(err, Error::ProgramNotFound { .. }), "{err:?}");
        let mut buf = [0u8; 1];
        assert_eq!(rustix::io::read(&r, &mut buf).unwrap(), 0, "write end still open");
    });
}

#[test]
fn spawning_on_a_closed_loop_fails() {
    let lp = loop_core::Loop::new().unwrap();
    let runner = loop_core::Loop::new().unwrap();
    lp.close().unwrap();
    let l = lp.clone();
    let err = runner
        .run_until_complete(async move {
            let (factory, _) = Recorder::factory(&l);
            l.subprocess_exec(factory, "true", ["x"], SubprocessOptions::new()).await.unwrap_err()
        })
        .unwrap();
    assert!(matches!(err, Error::Loop(loop_core::Error::LoopClosed)), "{err:?}");
    runner.close().unwrap();
}

#[test]
fn a_dropped_spawn_future_kills_the_child() {
    run(|lp| async move {
        let before = util::census().children.len();
        let (factory, _) = Recorder::factory(&lp);
        let fut = lp.subprocess_exec(factory, helper(), ["sleep"], SubprocessOptions::new());
        // The first poll spawns the child and starts connecting its pipes;
        // then the future is dropped. `run` checks the child is reaped.
        assert!(futures_lite::future::poll_once(fut).await.is_none());
        assert_eq!(util::census().children.len(), before + 1, "the child was spawned");
    });
}
