//! Fuzzes the TLS adapter with a peer that sends garbage or corrupts a
//! real handshake, with the harness CI runs deterministically
//! (fuzz/harness/tls_garbage).

#![no_main]

#[path = "../harness/tls_garbage/mod.rs"]
mod tls_garbage;

/// Whether a panic is rustls 0.23's debug assertion on a bad record after
/// close_notify (rustls issue 959), which the adapter catches and turns
/// into a typed error: libFuzzer's hook would abort on it all the same.
fn upstream_assertion(info: &std::panic::PanicHookInfo<'_>) -> bool {
    let in_rustls = info
        .location()
        .is_some_and(|l| l.file().contains("rustls") && l.file().ends_with("common_state.rs"));
    let message = info.payload().downcast_ref::<&str>().copied().unwrap_or_default();
    in_rustls && message.contains("sent_fatal_alert")
}

libfuzzer_sys::fuzz_target!(
    init: {
        let abort = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !upstream_assertion(info) {
                abort(info);
            }
        }));
    },
    |data: &[u8]| {
        tls_garbage::run_bytes(data);
    }
);
