//! A child spawned by a loop that handles signals (loop-signals) starts
//! with the default disposition of those signals and an empty mask: the
//! loop's signal handling does not leak into children.

use std::cell::RefCell;
use std::rc::Rc;

use tulip::prelude::*;
use tulip::process::SubprocessOptions;

#[derive(Default)]
struct Output(Vec<u8>, Option<LoopFuture<()>>);

impl BaseProtocol<SubprocessTransport> for Output {
    fn connection_lost(&mut self, _: Option<TransportError>) {
        if let Some(f) = self.1.take() {
            let _ = f.set_result(());
        }
    }
}

impl SubprocessProtocol for Output {
    fn pipe_data_received(&mut self, _: i32, data: &[u8]) {
        self.0.extend_from_slice(data);
    }
}

fn mask(status: &str, name: &str) -> u64 {
    let line = status.lines().find(|l| l.starts_with(name)).expect(name);
    u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap()
}

#[test]
fn signals_the_loop_handles_are_at_their_default_in_the_child() {
    let lp = Loop::new().unwrap();
    let l = lp.clone();
    let status = lp
        .run_until_complete(async move {
            l.add_signal_handler(Signal::SIGUSR1, || {}).unwrap();
            l.add_signal_handler(Signal::SIGHUP, || {}).unwrap();
            let done = l.create_future();
            let d = done.clone();
            let (_, proto): (_, Rc<RefCell<Output>>) = l
                .subprocess_exec(
                    move || Output(Vec::new(), Some(d)),
                    "cat",
                    ["/proc/self/status"],
                    SubprocessOptions::new(),
                )
                .await
                .unwrap();
            timeout(tulip_tests::EVENT_TIMEOUT, done).await.unwrap().unwrap();
            l.remove_signal_handler(Signal::SIGUSR1).unwrap();
            l.remove_signal_handler(Signal::SIGHUP).unwrap();
            String::from_utf8(proto.borrow().0.clone()).unwrap()
        })
        .unwrap();
    lp.close().unwrap();
    let bits = |sigs: &[Signal]| sigs.iter().fold(0u64, |m, s| m | 1 << (i32::from(*s) - 1));
    let loop_handled = bits(&[Signal::SIGUSR1, Signal::SIGHUP]);
    assert_eq!(mask(&status, "SigCgt:") & loop_handled, 0, "{status}");
    assert_eq!(mask(&status, "SigIgn:") & (loop_handled | bits(&[Signal::SIGPIPE])), 0, "{status}");
    assert_eq!(mask(&status, "SigBlk:"), 0, "{status}");
}
