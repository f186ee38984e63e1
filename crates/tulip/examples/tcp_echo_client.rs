//! TCP echo client with a protocol (asyncio's "TCP Echo Client" protocol
//! example): sends a message, prints the echo, closes.
//!
//! ```text
//! cargo run -p tulip --example tcp_echo_client [ADDR] [MESSAGE]
//! ```
//!
//! `ADDR` defaults to `127.0.0.1:8888` (run `tcp_echo_server` first).
//! Exits once the whole message came back and the connection closed.

use std::net::SocketAddr;

use loop_core::{Loop, LoopFuture};
use loop_transports::{BaseProtocol, ConnectOptions, Error, NetExt, Protocol, TransportRef};

struct EchoClient {
    message: Vec<u8>,
    received: Vec<u8>,
    transport: Option<TransportRef>,
    on_con_lost: LoopFuture<()>,
}

impl BaseProtocol for EchoClient {
    fn connection_made(&mut self, transport: TransportRef) {
        transport.write(&self.message).expect("a new transport accepts data");
        println!("Data sent: {:?}", String::from_utf8_lossy(&self.message));
        self.transport = Some(transport);
    }

    fn connection_lost(&mut self, _error: Option<Error>) {
        println!("The server closed the connection");
        let _ = self.on_con_lost.set_result(());
    }
}

impl Protocol for EchoClient {
    fn data_received(&mut self, data: &[u8]) {
        println!("Data received: {:?}", String::from_utf8_lossy(data));
        self.received.extend_from_slice(data);
        if self.received.len() >= self.message.len() {
            if let Some(t) = &self.transport {
                t.close();
            }
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let addr: SocketAddr = args.next().as_deref().unwrap_or("127.0.0.1:8888").parse()?;
    let message = args.next().unwrap_or_else(|| "Hello World!".into()).into_bytes();
    let lp = Loop::new()?;
    let l = lp.clone();
    lp.run_until_complete(async move {
        let on_con_lost = l.create_future::<()>();
        let lost = on_con_lost.clone();
        let (_transport, _protocol) = l
            .create_connection(
                move || EchoClient {
                    message,
                    received: Vec::new(),
                    transport: None,
                    on_con_lost: lost,
                },
                &addr.ip().to_string(),
                addr.port(),
                ConnectOptions::default(),
            )
            .await?;
        // Wait until the protocol signals that the connection is lost.
        on_con_lost.await?;
        Ok::<(), Error>(())
    })??;
    lp.close()?;
    Ok(())
}
