//! `tulip::Error`: every crate's error converts into it with `?` inside one
//! async block, the original stays matchable, and `kind()` classifies it
//! whichever crate reported it.

use std::cell::RefCell;
use std::rc::Rc;

use tulip::prelude::*;
use tulip::sync::{Lock, Queue};
use tulip::transports::ConnectOptions;

/// A protocol written with prelude names only: the transports' error is
/// nameable without naming a crate.
#[derive(Default)]
struct Recorder {
    lost: Option<Option<TransportError>>,
}

impl BaseProtocol for Recorder {
    fn connection_lost(&mut self, error: Option<TransportError>) {
        self.lost = Some(error);
    }
}

impl Protocol for Recorder {}

/// A port on 127.0.0.1 that nothing listens on.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn every_crate_error_propagates_with_question_mark_in_one_block() {
    let port = closed_port();
    let out: tulip::Result<Vec<ErrorKind>> = tulip::run(async move {
        let lp = get_running_loop()?; // loop-core
        let mut kinds = Vec::new();

        // loop-transports: a refused connection keeps its errno.
        let refused: tulip::Result<()> = async {
            lp.create_connection(Recorder::default, "127.0.0.1", port, ConnectOptions::default())
                .await?;
            Ok(())
        }
        .await;
        let err = refused.unwrap_err();
        assert_eq!(err.raw_os_error(), Some(ECONNREFUSED), "{err:?}");
        assert!(matches!(err, Error::Transport(tulip::transports::Error::Connect(_))), "{err:?}");
        kinds.push(err.kind());

        // loop-sync: a queue error and a misused lock.
        let q: Queue<u8> = Queue::new(1);
        let empty: tulip::Result<u8> = async { Ok(q.get_nowait()?) }.await;
        kinds.push(empty.unwrap_err().kind());
        q.put_nowait(1)?;
        let full: tulip::Result<()> = async { Ok(q.put_nowait(2)?) }.await;
        kinds.push(full.unwrap_err().kind());
        let lock = Lock::new();
        let not_held: tulip::Result<()> = async { Ok(lock.release()?) }.await;
        assert!(matches!(not_held, Err(Error::Sync(tulip::sync::Error::NotLocked))));

        // loop-signals: an uncatchable signal.
        let kill: tulip::Result<()> = async {
            lp.add_signal_handler(Signal::SIGKILL, || {})?;
            Ok(())
        }
        .await;
        kinds.push(kill.unwrap_err().kind());

        // loop-core: a cancelled task, then a timeout.
        let t = lp.create_task(sleep(std::time::Duration::from_secs(3600)))?;
        t.cancel();
        let cancelled: tulip::Result<()> = async { Ok(t.await??) }.await;
        kinds.push(cancelled.unwrap_err().kind());
        let timed_out: tulip::Result<()> = async {
            timeout(std::time::Duration::ZERO, sleep(std::time::Duration::from_secs(3600)))
                .await??;
            Ok(())
        }
        .await;
        kinds.push(timed_out.unwrap_err().kind());
        Ok(kinds)
    })
    .and_then(|r| r);
    assert_eq!(
        out.unwrap(),
        vec![
            ErrorKind::Connect,
            ErrorKind::QueueEmpty,
            ErrorKind::QueueFull,
            ErrorKind::InvalidArgument,
            ErrorKind::Cancelled,
            ErrorKind::TimedOut,
        ]
    );
}

/// Linux's errno for a refused connection.
const ECONNREFUSED: i32 = 111;

#[test]
fn cancellation_is_one_kind_whichever_crate_reports_it() {
    let from_core = Error::from(tulip::event_loop::Error::cancelled());
    let from_transports = Error::from(TransportError::Cancelled);
    let through_transports =
        Error::from(TransportError::Loop(tulip::event_loop::Error::cancelled()));
    for e in [&from_core, &from_transports, &through_transports] {
        assert!(e.is_cancelled(), "{e:?}");
        assert!(matches!(e, Error::Loop(tulip::event_loop::Error::Cancelled { .. })), "{e:?}");
    }
    // A cancellation's message survives a trip through the transports'
    // error.
    let core = tulip::event_loop::Error::cancelled_with("bye");
    let through = Error::from(TransportError::from(core));
    assert!(through.is_cancelled(), "{through:?}");
    match &through {
        Error::Loop(e) => assert_eq!(e.cancel_message(), Some("bye")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_crate_error_that_travels_through_a_loop_future_comes_back_as_itself() {
    let lp = Loop::new().unwrap();
    let fut = lp.create_future::<()>();
    let original = Error::from(TransportError::Closed);
    // Into the loop's error (what a future carries) ...
    fut.set_exception(original.into()).unwrap();
    let l2 = lp.clone();
    let seen = lp
        .run_until_complete(async move {
            let r: tulip::Result<()> = async { Ok(fut.await?) }.await;
            drop(l2);
            r
        })
        .unwrap();
    // ... and back: the transports' variant, not an opaque failure.
    let err = seen.unwrap_err();
    assert!(matches!(err, Error::Transport(TransportError::Closed)), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::Closed);
    // A sync error the same way.
    let back =
        Error::from(tulip::event_loop::Error::from(Error::from(tulip::sync::Error::BrokenBarrier)));
    assert_eq!(back.kind(), ErrorKind::BrokenBarrier);
    lp.close().unwrap();
}

#[test]
fn an_os_error_keeps_its_errno_through_every_conversion() {
    let io = std::io::Error::from_raw_os_error(104); // ECONNRESET
    let e = Error::from(TransportError::from(io));
    assert_eq!(e.kind(), ErrorKind::Os);
    assert_eq!(e.raw_os_error(), Some(104));
    let core: tulip::event_loop::Error = e.clone().into();
    assert_eq!(Error::from(core).raw_os_error(), Some(104));
}

#[test]
fn protocol_callbacks_receive_an_error_that_converts() {
    let rec = Rc::new(RefCell::new(Recorder::default()));
    rec.borrow_mut().connection_lost(Some(TransportError::Closed));
    let lost = rec.borrow_mut().lost.take().flatten().unwrap();
    let e: Error = lost.into();
    assert_eq!(e.kind(), ErrorKind::Closed);
}

#[test]
fn tls_failures_are_one_kind_and_tls_timeouts_are_timeouts() {
    assert_eq!(Error::from(TransportError::TlsHandshakeEof).kind(), ErrorKind::Tls);
    let bad_cert =
        TransportError::TlsHandshake(tulip::transports::rustls::Error::InvalidCertificate(
            tulip::transports::rustls::CertificateError::UnknownIssuer,
        ));
    assert_eq!(Error::from(bad_cert).kind(), ErrorKind::Tls);
    let slow = TransportError::TlsHandshakeTimeout(std::time::Duration::from_secs(60));
    assert!(Error::from(slow).is_timed_out());
    let config = TransportError::TlsConfig("no roots".into());
    assert_eq!(Error::from(config).kind(), ErrorKind::InvalidArgument);
}

#[test]
fn subprocess_errors_convert_and_keep_their_errno() {
    let err: Error = tulip::run(async {
        let lp = get_running_loop()?;
        let spawned = lp
            .subprocess_exec(
                || NoOutput,
                "/nonexistent/tulip-no-such-program",
                Vec::<String>::new(),
                tulip::process::SubprocessOptions::new(),
            )
            .await;
        Ok::<_, Error>(spawned.map(drop).unwrap_err().into())
    })
    .unwrap()
    .unwrap();
    assert_eq!(err.kind(), ErrorKind::Os, "{err:?}");
    assert_eq!(err.raw_os_error(), Some(2), "ENOENT: {err:?}");
    assert!(matches!(err, Error::Process(tulip::process::Error::ProgramNotFound { .. })));
    let gone = Error::from(tulip::process::Error::ProcessLookup { pid: 1 });
    assert_eq!(gone.kind(), ErrorKind::ProcessLookup);
}

#[test]
fn process_errors_convert_too() {
    let err: Error = tulip::run(async {
        let lp = get_running_loop()?;
        let opts = tulip::process::SubprocessOptions::new().stdin(tulip::process::Stdio::DevNull);
        let mut proc = lp.create_subprocess_exec("true", Vec::<String>::new(), opts).await?;
        let refused = proc.communicate(Some(b"input")).await.unwrap_err();
        proc.communicate(None).await?;
        Ok::<_, Error>(refused.into())
    })
    .unwrap()
    .unwrap();
    assert!(matches!(err, Error::Process(tulip::process::Error::NoPipe { fd: 0 })), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    // A reader's error reaches users as the streams' error.
    let overrun =
        tulip::process::Error::Stream(tulip::streams::Error::LimitOverrun { consumed: 3 });
    let err = Error::from(overrun);
    assert!(matches!(err, Error::Streams(tulip::streams::Error::LimitOverrun { .. })), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::LimitOverrun);
}

struct NoOutput;
impl BaseProtocol<SubprocessTransport> for NoOutput {}
impl SubprocessProtocol for NoOutput {}
