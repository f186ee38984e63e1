//! TCP echo server with a protocol (asyncio's "TCP Echo Server" protocol
//! example): every byte received is written straight back.
//!
//! ```text
//! cargo run -p tulip --example tcp_echo_server [ADDR] [--once]
//! ```
//!
//! `ADDR` defaults to `127.0.0.1:8888`. The server runs on one thread and
//! prints the address it bound. With `--once` it exits after its first
//! connection closes (handy for scripts); otherwise it serves until SIGINT
//! or SIGTERM, which close the server and end the program cleanly.

use std::cell::Cell;
use std::net::SocketAddr;
use std::rc::Rc;

use loop_core::Loop;
use loop_transports::{BaseProtocol, Error, NetExt, Protocol, ServerOptions, TransportRef};
use tulip::prelude::{Signal, SignalExt};

struct EchoServer {
    transport: Option<TransportRef>,
    on_lost: Option<Rc<dyn Fn()>>,
}

impl BaseProtocol for EchoServer {
    fn connection_made(&mut self, transport: TransportRef) {
        if let Some(peer) = transport.peername() {
            println!("Connection from {peer}");
        }
        self.transport = Some(transport);
    }

    fn connection_lost(&mut self, error: Option<Error>) {
        if let Some(e) = error {
            println!("Connection lost: {e}");
        }
        if let Some(f) = &self.on_lost {
            f();
        }
    }
}

impl Protocol for EchoServer {
    fn data_received(&mut self, data: &[u8]) {
        if let Some(t) = &self.transport {
            // A write only fails once the transport is closing.
            let _ = t.write(data);
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut addr: SocketAddr = "127.0.0.1:8888".parse()?;
    let mut once = false;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--once" => once = true,
            a => addr = a.parse().map_err(|e| format!("bad address {a:?}: {e}"))?,
        }
    }
    let lp = Loop::new()?;
    let l = lp.clone();
    lp.run_until_complete(async move {
        // Resolved by SIGINT/SIGTERM, or by the first connection's end
        // with `--once`.
        let done = l.create_future::<()>();
        for sig in [Signal::SIGINT, Signal::SIGTERM] {
            let d = done.clone();
            l.add_signal_handler(sig, move || {
                println!("got {sig}: closing the server");
                let _ = d.set_result(());
            })
            .map_err(loop_core::Error::from)?;
        }
        let d = done.clone();
        let on_lost: Option<Rc<dyn Fn()>> = once.then(|| {
            let fired = Rc::new(Cell::new(false));
            Rc::new(move || {
                if !fired.replace(true) {
                    let _ = d.set_result(());
                }
            }) as Rc<dyn Fn()>
        });
        let server = l
            .create_server(
                move || EchoServer { transport: None, on_lost: on_lost.clone() },
                addr.ip().to_string().as_str(),
                addr.port(),
                ServerOptions::default(),
            )
            .await?;
        for a in server.addresses() {
            println!("Serving on {a}");
        }
        done.await?;
        server.close();
        Ok::<(), Error>(())
    })??;
    lp.close()?;
    Ok(())
}
