//! How application writes become TLS records: the writes of one loop
//! iteration are coalesced into one record, and `close()` right after them
//! sends them before its close_notify. A raw client on a thread reads the
//! records off the socket (headers and sizes) before decrypting them.

mod util;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

use loop_transports::rustls::{ClientConnection, pki_types::ServerName};
use loop_transports::{BaseProtocol, NetExt, Protocol, ServerOptions, TlsAccept, TransportRef};
use util::tls::{Pki, Ver};
use util::{run, wait_until};

/// Answers any data with three writes and a writelines, then closes.
struct ThreeWrites(Option<TransportRef>);

impl BaseProtocol for ThreeWrites {
    fn connection_made(&mut self, t: TransportRef) {
        self.0 = Some(t);
    }
}

impl Protocol for ThreeWrites {
    fn data_received(&mut self, _: &[u8]) {
        let t = self.0.as_ref().unwrap();
        t.write(b"one").unwrap();
        t.write(b"two").unwrap();
        t.writelines(&[b"thr", b"ee"]).unwrap();
        t.close();
    }
}

/// TLS 1.3 record overhead with AES-GCM or ChaCha20: the inner content
/// type byte and the 16-byte tag.
const TLS13_OVERHEAD: usize = 17;

/// Reads one record: (outer content type, payload).
fn read_record(sock: &mut TcpStream) -> (u8, Vec<u8>) {
    let mut header = [0u8; 5];
    sock.read_exact(&mut header).unwrap();
    let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
    let mut body = vec![0u8; len];
    sock.read_exact(&mut body).unwrap();
    (header[0], [&header[..], &body].concat())
}

#[test]
fn writes_of_one_iteration_become_one_record_and_precede_close_notify() {
    run(|lp| async move {
        let pki = Pki::localhost();
        // No session tickets: nothing but our records after the handshake.
        let mut config = (*pki.server_config(Ver::V13, &[])).clone();
        config.send_tls13_tickets = 0;
        let opts = ServerOptions::default().with_tls(Some(TlsAccept::new(Arc::new(config))));
        let server = lp.create_server(|| ThreeWrites(None), "127.0.0.1", 0, opts).await.unwrap();
        let port = server.addresses()[0].port().unwrap();
        let client_config = pki.client_config(Ver::V13, &[]);
        let job = lp.run_in_executor(move || {
            let mut sock = TcpStream::connect(("127.0.0.1", port)).unwrap();
            sock.set_read_timeout(Some(util::TIMEOUT)).unwrap();
            let name = ServerName::try_from("localhost").unwrap();
            let mut conn = ClientConnection::new(client_config, name).unwrap();
            while conn.is_handshaking() {
                conn.complete_io(&mut sock).unwrap();
            }
            conn.writer().write_all(b"go").unwrap();
            while conn.wants_write() {
                conn.write_tls(&mut sock).unwrap();
            }
            // One application-data record for the four writes, then the
            // (encrypted) close_notify alert: the two records' sizes.
            let (t1, r1) = read_record(&mut sock);
            let (t2, r2) = read_record(&mut sock);
            let sizes = [r1.len() - 5 - TLS13_OVERHEAD, r2.len() - 5 - TLS13_OVERHEAD];
            assert_eq!((t1, t2), (23, 23), "TLS 1.3 records are application_data outside");
            assert_eq!(
                sizes,
                [11, 2],
                "one record for the writes of one iteration, then the alert"
            );
            let mut raw = &[r1, r2].concat()[..];
            while !raw.is_empty() {
                conn.read_tls(&mut raw).unwrap();
            }
            conn.process_new_packets().unwrap();
            let mut plain = Vec::new();
            // Ok(0) at close_notify; an error if it was missing.
            conn.reader().read_to_end(&mut plain).unwrap();
            conn.send_close_notify();
            while conn.wants_write() {
                conn.write_tls(&mut sock).unwrap();
            }
            plain
        });
        assert_eq!(job.await.unwrap(), b"onetwothree");
        wait_until("server idle", || server.active_connections() == 0).await;
        server.close();
    });
}
