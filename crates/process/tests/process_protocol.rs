//! PR-03: the callback order — every pipe_connection_lost, then
//! process_exited, then connection_lost last, exactly once — also when a
//! grandchild keeps the pipes open past the child's exit, when the stdin
//! pipe fills, and when a callback panics.

mod util;

use std::cell::RefCell;
use std::rc::Rc;

use loop_core::ExceptionContext;
use loop_process::{ProcessExt, SubprocessOptions};
use util::{Ev, Recorder, assert_order, helper, run, within};

#[test]
fn the_order_holds_for_output_on_both_pipes() {
    run(|lp| async move {
        for _ in 0..20 {
            let (_, p) = util::run_helper(
                &lp,
                &["both", "some output", "some errors"],
                SubprocessOptions::new(),
            )
            .await;
            assert_order(&p.borrow().events, &[0, 1, 2]);
            assert_eq!(p.borrow().sequence().len(), 6);
        }
    });
}

#[test]
fn process_exited_waits_for_pipes_a_grandchild_keeps_open() {
    run(|lp| async move {
        let (factory, done) = Recorder::factory(&lp);
        // The shell leaves a grandchild `cat` holding stdin, stdout and
        // stderr, and exits at once. (An asynchronous list's stdin is
        // /dev/null unless redirected: hand it the pipe through fd 3.)
        let script = r#"exec 3<&0; "$0" cat <&3 3<&- & exit 7"#;
        let helper = helper();
        let args = [std::ffi::OsStr::new("-c"), script.as_ref(), helper.as_os_str()];
        let (t, p) =
            lp.subprocess_exec(factory, "/bin/sh", args, SubprocessOptions::new()).await.unwrap();
        // The exit is seen at once through wait() and the returncode …
        let status = within("wait", t.wait()).await.unwrap();
        assert_eq!(status.code(), Some(7));
        assert_eq!(t.get_returncode(), Some(7));
        // … but process_exited waits for the pipes: none is lost yet.
        t.get_pipe_transport(0).unwrap().write(b"late\n").unwrap();
        let p2 = p.clone();
        within("echo", async move {
            while p2.borrow().output(1) != b"late\n" {
                loop_core::sleep(std::time::Duration::from_millis(1)).await.unwrap();
            }
        })
        .await;
        assert_eq!(p.borrow().sequence(), vec![Ev::Made]);
        // EOF to the grandchild: it exits, the pipes close, and only then
        // process_exited and connection_lost come.
        t.get_pipe_transport(0).unwrap().write_eof().unwrap();
        within("connection_lost", done).await.unwrap();
        assert_order(&p.borrow().events, &[0, 1, 2]);
        assert_eq!(p.borrow().sequence()[4], Ev::Exited(Some(7)));
    });
}

#[test]
fn stdin_flow_control_reaches_the_protocol() {
    run(|lp| async move {
        let (factory, done) = Recorder::factory(&lp);
        let (t, p) =
            lp.subprocess_exec(factory, helper(), ["cat"], SubprocessOptions::new()).await.unwrap();
        let stdin = t.get_pipe_transport(0).unwrap();
        let data: Vec<u8> = (0..4 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
        stdin.write(&data).unwrap();
        let p2 = p.clone();
        within("resume_writing", async move {
            while !p2.borrow().events.contains(&Ev::Resume) {
                loop_core::sleep(std::time::Duration::from_millis(1)).await.unwrap();
            }
        })
        .await;
        stdin.write_eof().unwrap();
        within("connection_lost", done).await.unwrap();
        let p = p.borrow();
        assert_eq!(p.output(1), data);
        let flow: Vec<&Ev> =
            p.events.iter().filter(|e| matches!(e, Ev::Pause | Ev::Resume)).collect();
        assert_eq!(flow, vec![&Ev::Pause, &Ev::Resume], "{flow:?}");
        assert_order(&p.events, &[0, 1, 2]);
    });
}

#[test]
fn a_panicking_callback_is_reported_kills_the_child_and_the_order_still_holds() {
    run(|lp| async move {
        let reports = Rc::new(RefCell::new(Vec::<String>::new()));
        let r = reports.clone();
        lp.set_exception_handler(Some(Rc::new(
            move |_: &loop_core::Loop, ctx: &ExceptionContext| {
                r.borrow_mut().push(format!("{} {:?}", ctx.message, ctx.error));
            },
        )));
        let (factory, done) = Recorder::factory(&lp);
        let factory = move || Recorder { panic_on_data: true, ..factory() };
        // The child would sleep forever after its first line.
        let (t, p) = lp
            .subprocess_exec(factory, helper(), ["sleep"], SubprocessOptions::new())
            .await
            .unwrap();
        within("connection_lost", done).await.unwrap();
        assert_eq!(t.get_returncode(), Some(-9));
        assert_order(&p.borrow().events, &[0, 1, 2]);
        let reports = reports.borrow();
        assert_eq!(reports.len(), 1, "{reports:?}");
        assert!(
            reports[0].contains("pipe_data_received") && reports[0].contains("on purpose"),
            "{reports:?}"
        );
        lp.set_exception_handler(None);
    });
}
