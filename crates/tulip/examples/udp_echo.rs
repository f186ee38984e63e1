//! UDP echo server and client in one process (asyncio's "UDP Echo Server"
//! and "UDP Echo Client" protocol examples). Terminates by itself.
//!
//! ```text
//! cargo run -p tulip --example udp_echo
//! ```

use loop_core::{Loop, LoopFuture};
use loop_transports::{
    Address, BaseProtocol, DatagramOptions, DatagramProtocol, DatagramTransport,
    DatagramTransportRef, Endpoint, Error, NetExt,
};

/// Echoes every datagram back to its sender.
#[derive(Default)]
struct EchoServer(Option<DatagramTransportRef>);

impl BaseProtocol<dyn DatagramTransport> for EchoServer {
    fn connection_made(&mut self, transport: DatagramTransportRef) {
        self.0 = Some(transport);
    }
}

impl DatagramProtocol for EchoServer {
    fn datagram_received(&mut self, data: &[u8], addr: Address) {
        println!("Received {:?} from {addr}", String::from_utf8_lossy(data));
        println!("Send {:?} to {addr}", String::from_utf8_lossy(data));
        let _ = self.0.as_ref().expect("connected").sendto(data, Some(&addr));
    }
}

/// Sends one message, prints the echo, closes.
struct EchoClient {
    message: &'static [u8],
    transport: Option<DatagramTransportRef>,
    on_con_lost: LoopFuture<()>,
}

impl BaseProtocol<dyn DatagramTransport> for EchoClient {
    fn connection_made(&mut self, transport: DatagramTransportRef) {
        println!("Send: {:?}", String::from_utf8_lossy(self.message));
        transport.sendto(self.message, None).expect("a new endpoint accepts data");
        self.transport = Some(transport);
    }

    fn connection_lost(&mut self, _error: Option<Error>) {
        println!("Connection closed");
        let _ = self.on_con_lost.set_result(());
    }
}

impl DatagramProtocol for EchoClient {
    fn datagram_received(&mut self, data: &[u8], _addr: Address) {
        println!("Received: {:?}", String::from_utf8_lossy(data));
        println!("Close the socket");
        if let Some(t) = &self.transport {
            t.close();
        }
    }

    fn error_received(&mut self, error: Error) {
        println!("Error received: {error}");
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let lp = Loop::new()?;
    let l = lp.clone();
    lp.run_until_complete(async move {
        println!("Starting UDP server");
        let (server, _) = l
            .create_datagram_endpoint(
                EchoServer::default,
                DatagramOptions::default().with_local_addr(Some(Endpoint::inet("127.0.0.1", 0))),
            )
            .await?;
        let port = server.sockname().and_then(|a| a.port()).expect("bound");
        let on_con_lost = l.create_future::<()>();
        let lost = on_con_lost.clone();
        let (_client, _) = l
            .create_datagram_endpoint(
                move || EchoClient { message: b"Hello World!", transport: None, on_con_lost: lost },
                DatagramOptions::default()
                    .with_remote_addr(Some(Endpoint::inet("127.0.0.1", port))),
            )
            .await?;
        on_con_lost.await?;
        server.close();
        Ok::<(), Error>(())
    })??;
    lp.close()?;
    Ok(())
}
