//! Hostile spawn input (issue 13, "Bad input"): user and group ids that
//! exist nowhere, a process group that cannot be joined, an empty program,
//! argument lists over the kernel's limits, descriptors of the wrong kind
//! as stdio, pipe numbers that name no pipe, and a reader limit of
//! `usize::MAX`. Each is a typed error carrying the errno, or a defined
//! outcome — never a panic or a hang, and `util::run` checks that no fd,
//! child or zombie is left. NULs, `=` in names, bad working directories,
//! negative process groups and missing programs are pinned in
//! `process_spawn.rs`.

mod util;

use std::fs::File;
use std::os::fd::OwnedFd;

use loop_process::{Error, ProcessExt, Stdio, SubprocessOptions};
use nix::libc;
use util::{Recorder, helper, run, within};

/// Spawns `true` with `opts`; the error it fails with.
async fn spawn_err(lp: &loop_core::Loop, program: &str, opts: SubprocessOptions) -> Error {
    let (factory, _) = Recorder::factory(lp);
    match lp.subprocess_exec(factory, program, ["x"], opts).await {
        Ok((t, _)) => panic!("{program} started as pid {}", t.get_pid()),
        Err(e) => e,
    }
}

#[test]
fn ids_that_cannot_be_taken_are_spawn_errors_with_errno() {
    run(|lp| async move {
        // (uid_t)-1 and (gid_t)-1 mean "unchanged" to set*id(2)'s callers
        // and are refused by setuid/setgid: EINVAL, for root too.
        let err = spawn_err(&lp, "true", SubprocessOptions::new().uid(u32::MAX)).await;
        assert!(matches!(err, Error::Spawn { .. }), "{err:?}");
        assert_eq!(err.raw_os_error(), Some(libc::EINVAL), "{err:?}");
        let err = spawn_err(&lp, "true", SubprocessOptions::new().gid(u32::MAX)).await;
        assert!(matches!(err, Error::Spawn { .. }), "{err:?}");
        assert_eq!(err.raw_os_error(), Some(libc::EINVAL), "{err:?}");
        // A process group of another session (or none at all): EPERM.
        let err = spawn_err(&lp, "true", SubprocessOptions::new().process_group(i32::MAX)).await;
        assert!(matches!(err, Error::Spawn { .. }), "{err:?}");
        assert_eq!(err.raw_os_error(), Some(libc::EPERM), "{err:?}");
    });
}

#[test]
fn an_empty_program_is_program_not_found() {
    run(|lp| async move {
        let err = spawn_err(&lp, "", SubprocessOptions::new()).await;
        assert!(matches!(err, Error::ProgramNotFound { .. }), "{err:?}");
        assert_eq!(err.raw_os_error(), Some(libc::ENOENT));
    });
}

#[test]
fn argument_lists_over_the_kernel_limits_are_e2big() {
    run(|lp| async move {
        // One argument over MAX_ARG_STRLEN (32 pages).
        let long = "x".repeat(256 * 1024);
        let (factory, _) = Recorder::factory(&lp);
        let err = lp
            .subprocess_exec(factory, "true", [long.as_str()], SubprocessOptions::new())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Spawn { .. }), "{err:?}");
        assert_eq!(err.raw_os_error(), Some(libc::E2BIG), "{err:?}");
        // Many short ones, together over ARG_MAX (a quarter of the stack
        // limit, 2 MiB by default; 64 MiB is over it for any stack limit
        // up to 256 MiB).
        let many = vec!["y".repeat(1023); 64 * 1024];
        let (factory, _) = Recorder::factory(&lp);
        let err =
            lp.subprocess_exec(factory, "true", &many, SubprocessOptions::new()).await.unwrap_err();
        assert!(matches!(err, Error::Spawn { .. }), "{err:?}");
        assert_eq!(err.raw_os_error(), Some(libc::E2BIG), "{err:?}");
    });
}

#[test]
fn descriptors_of_the_wrong_kind_as_stdio_reach_the_child_as_they_are() {
    run(|lp| async move {
        // A directory as stdin, a read-only file as stdout, the read end of
        // a pipe as stderr: the child starts (asyncio hands any fd over as
        // it is) and meets the errors itself; the parent's copies close.
        let dir: OwnedFd = File::open(std::env::temp_dir()).unwrap().into();
        let ro: OwnedFd = File::open("/dev/null").unwrap().into();
        let (pipe_r, pipe_w) = rustix::pipe::pipe().unwrap();
        let opts = SubprocessOptions::new()
            .stdin(Stdio::Fd(dir))
            .stdout(Stdio::Fd(ro))
            .stderr(Stdio::Fd(pipe_r));
        let (factory, done) = Recorder::factory(&lp);
        let (t, _) = lp
            .subprocess_shell(factory, "read x; echo out; echo err >&2; exit 3", opts)
            .await
            .unwrap();
        within("connection_lost", done).await.unwrap();
        assert_eq!(t.get_returncode(), Some(3));
        for fd in [-1, 0, 1, 2, 3, i32::MAX, i32::MIN] {
            assert!(t.get_pipe_transport(fd).is_none(), "fd {fd}: no pipe");
        }
        drop(pipe_w);
    });
}

#[test]
fn pipe_numbers_that_name_no_pipe_are_none() {
    run(|lp| async move {
        let (factory, done) = Recorder::factory(&lp);
        let (t, _) =
            lp.subprocess_exec(factory, "true", ["x"], SubprocessOptions::new()).await.unwrap();
        for fd in [-1, 3, 255, i32::MAX, i32::MIN] {
            assert!(t.get_pipe_transport(fd).is_none(), "fd {fd}");
        }
        assert!((0..3).all(|fd| t.get_pipe_transport(fd).is_some()));
        within("connection_lost", done).await.unwrap();
    });
}

/// A reader limit of `usize::MAX` used to overflow the pause threshold in
/// the first `data_received` (a panic that closed the pipe).
#[test]
fn a_usize_max_reader_limit_carries_the_output() {
    run(|lp| async move {
        let opts = SubprocessOptions::new().limit(usize::MAX);
        let mut proc =
            lp.create_subprocess_exec(helper(), ["both", "out\n", "err\n"], opts).await.unwrap();
        let out = within("communicate", proc.communicate(None)).await.unwrap();
        assert_eq!(out.stdout, b"out\n");
        assert_eq!(out.stderr, b"err\n");
        assert!(out.status.success());
    });
}
