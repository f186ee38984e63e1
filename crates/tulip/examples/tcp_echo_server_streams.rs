//! TCP echo server with streams (asyncio's "TCP echo server using streams"
//! example): each client gets a reader and a writer, and every byte it
//! sends comes straight back.
//!
//! ```text
//! cargo run -p tulip --example tcp_echo_server_streams [ADDR] [--once]
//! ```
//!
//! `ADDR` defaults to `127.0.0.1:8888` (`127.0.0.1:0` picks a free port).
//! The server prints `Serving on <addr>` once bound. With `--once` it exits
//! after its first connection closes; otherwise it serves until SIGINT or
//! SIGTERM, which close the server and end the program cleanly.

use std::cell::Cell;
use std::net::SocketAddr;
use std::rc::Rc;

use tulip::prelude::*;
use tulip::streams::{StreamReader, StreamServerOptions, StreamWriter};

/// Echoes until the client closes: read up to 256 KiB, write it back, wait
/// while the client is slow to read.
async fn handle_echo(reader: StreamReader, writer: StreamWriter) -> tulip::streams::Result<()> {
    if let Some(peer) = writer.transport().peername() {
        println!("Connection from {peer}");
    }
    loop {
        let data = reader.read(256 * 1024).await?;
        if data.is_empty() {
            break;
        }
        writer.write(&data)?;
        writer.drain().await?;
    }
    writer.close();
    writer.wait_closed().await
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
            })?;
        }
        let finished = Rc::new(Cell::new(false));
        let d = done.clone();
        let server = start_server(
            move |reader, writer| {
                let (d, finished) = (d.clone(), finished.clone());
                async move {
                    let outcome = handle_echo(reader, writer).await;
                    if let Err(e) = &outcome {
                        println!("Connection lost: {e}");
                    }
                    if once && !finished.replace(true) {
                        let _ = d.set_result(());
                    }
                }
            },
            addr.ip().to_string().as_str(),
            addr.port(),
            StreamServerOptions::default(),
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
