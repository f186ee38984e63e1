//! A `TransportRef` can be printed and knows its loop (stream and datagram
//! transports alike).

mod util;

use loop_transports::{
    BaseProtocol, DatagramOptions, DatagramProtocol, DatagramTransport, Endpoint, NetExt,
};
use util::{close, recording_server, run};

#[test]
fn a_stream_transport_is_debug_and_knows_its_loop() {
    run(|lp| async move {
        let (server, port, _conns) = recording_server(&lp, |_| {}).await;
        let (t, _p) = util::connect_recorder(&lp, port).await;
        assert!(t.get_loop().ptr_eq(&lp));
        let shown = format!("{t:?}");
        assert!(shown.contains("fd"), "{shown}");
        close(&t);
        server.close();
        server.wait_closed().await;
    });
}

#[test]
fn a_datagram_transport_is_debug_and_knows_its_loop() {
    run(|lp| async move {
        struct Quiet;
        impl BaseProtocol<dyn DatagramTransport> for Quiet {}
        impl DatagramProtocol for Quiet {}
        let (t, _p) = lp
            .create_datagram_endpoint(
                || Quiet,
                DatagramOptions::default().with_local_addr(Some(Endpoint::inet("127.0.0.1", 0))),
            )
            .await
            .unwrap();
        assert!(t.get_loop().ptr_eq(&lp));
        assert!(!format!("{t:?}").is_empty());
        t.abort();
    });
}
