//! Unix-socket echo: a server and a client in one process, over a socket
//! file in the temp directory. Terminates by itself.
//!
//! ```text
//! cargo run -p tulip --example unix_echo
//! ```

use loop_core::{Loop, LoopFuture};
use loop_transports::{
    BaseProtocol, Error, NetExt, Protocol, TransportRef, UnixAddress, UnixServerOptions,
};

#[derive(Default)]
struct Echo(Option<TransportRef>);

impl BaseProtocol for Echo {
    fn connection_made(&mut self, transport: TransportRef) {
        self.0 = Some(transport);
    }
}

impl Protocol for Echo {
    fn data_received(&mut self, data: &[u8]) {
        let _ = self.0.as_ref().expect("connected").write(data);
    }
}

struct Client {
    message: &'static [u8],
    received: Vec<u8>,
    transport: Option<TransportRef>,
    done: LoopFuture<Vec<u8>>,
}

impl BaseProtocol for Client {
    fn connection_made(&mut self, transport: TransportRef) {
        transport.write(self.message).expect("a new transport accepts data");
        self.transport = Some(transport);
    }

    fn connection_lost(&mut self, _error: Option<Error>) {
        let _ = self.done.set_result(std::mem::take(&mut self.received));
    }
}

impl Protocol for Client {
    fn data_received(&mut self, data: &[u8]) {
        self.received.extend_from_slice(data);
        if self.received.len() == self.message.len() {
            if let Some(t) = &self.transport {
                t.close();
            }
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::temp_dir().join(format!("tulip-unix-echo-{}.sock", std::process::id()));
    let lp = Loop::new()?;
    let l = lp.clone();
    let p = path.clone();
    let echoed = lp.run_until_complete(async move {
        let server = l
            .create_unix_server(
                Echo::default,
                Some(UnixAddress::path(&p)),
                UnixServerOptions::default(),
            )
            .await?;
        println!("Serving on {}", p.display());
        let done = l.create_future::<Vec<u8>>();
        let d = done.clone();
        l.create_unix_connection(
            move || Client {
                message: b"Hello over Unix!",
                received: Vec::new(),
                transport: None,
                done: d,
            },
            Some(UnixAddress::path(&p)),
            None,
        )
        .await?;
        let echoed = done.await?;
        server.close();
        Ok::<_, Error>(echoed)
    })??;
    println!("Received: {:?}", String::from_utf8_lossy(&echoed));
    assert!(!path.exists(), "the server removed its socket file");
    lp.close()?;
    Ok(())
}
