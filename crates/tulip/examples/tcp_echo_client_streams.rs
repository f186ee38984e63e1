//! TCP echo client with streams (asyncio's "TCP echo client using
//! streams" example): sends a message, reads the echo, closes.
//!
//! ```text
//! cargo run -p tulip --example tcp_echo_client_streams [ADDR] [MESSAGE]
//! ```
//!
//! With `ADDR` (say `127.0.0.1:8888`, where `tcp_echo_server_streams`
//! listens) it talks to that server. Without it, it first starts a streams
//! echo server of its own on a free port of 127.0.0.1, so it runs anywhere
//! and ends by itself.

use std::net::SocketAddr;

use tulip::prelude::*;
use tulip::streams::{StreamConnectOptions, StreamReader, StreamWriter};

async fn tcp_echo_client(addr: SocketAddr, message: &str) -> Result<()> {
    let (reader, writer) =
        open_connection(&addr.ip().to_string(), addr.port(), StreamConnectOptions::default())
            .await?;
    println!("Send: {message:?}");
    writer.write(message.as_bytes())?;
    writer.drain().await?;

    // The echo may come back in pieces: read exactly what was sent.
    let data = reader.readexactly(message.len()).await?;
    println!("Received: {:?}", String::from_utf8_lossy(&data));

    println!("Close the connection");
    writer.close();
    writer.wait_closed().await?;
    Ok(())
}

/// The server side when no address is given: echo until EOF.
async fn echo(reader: StreamReader, writer: StreamWriter) -> tulip::streams::Result<()> {
    loop {
        let data = reader.read(64 * 1024).await?;
        if data.is_empty() {
            break;
        }
        writer.write(&data)?;
        writer.drain().await?;
    }
    writer.close();
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let addr: Option<SocketAddr> = args.next().map(|a| a.parse()).transpose()?;
    let message = args.next().unwrap_or_else(|| "Hello World!".into());
    tulip::run(async move {
        let server = match addr {
            Some(_) => None,
            None => Some(start_server(echo, "127.0.0.1", 0, Default::default()).await?),
        };
        let addr = match (&server, addr) {
            (_, Some(a)) => a,
            (Some(s), None) => s.addresses()[0].as_inet().expect("an internet address"),
            (None, None) => unreachable!("a server is started when no address is given"),
        };
        tcp_echo_client(addr, &message).await?;
        if let Some(server) = server {
            server.close();
            server.wait_closed().await;
        }
        Ok::<(), Error>(())
    })??;
    Ok(())
}
