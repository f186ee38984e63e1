//! A cancellation storm: workers connect, send a tagged payload and read the
//! echo back — over raw sockets (`sock_connect` / `sock_sendall` /
//! `sock_recv`) and over streams — with every step under a random, short
//! timeout. A cancelled step drops its socket, so fd numbers are closed and
//! reused by other workers all the time. A registration that outlived its fd
//! would deliver a wake-up or bytes to the wrong operation: every completed
//! read is checked against its own connection's tag.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rustix::net::{AddressFamily, SocketFlags, SocketType};
use tulip::prelude::*;
use tulip::streams::StreamConnectOptions;

use crate::echo::echo_server;
use crate::{Scale, run_bounded};

#[derive(Default)]
struct Tally {
    completed: Cell<u64>,
    cancelled: Cell<u64>,
}

/// The payload of operation `tag`: the tag's bytes, repeated.
fn payload(tag: u64, len: usize) -> Vec<u8> {
    tag.to_le_bytes().iter().copied().cycle().take(len).collect()
}

/// Checks that `got`, read at `offset` of operation `tag`'s echo, is that
/// operation's own bytes.
fn check(tag: u64, offset: usize, got: &[u8]) -> Result<(), String> {
    let want = tag.to_le_bytes();
    if got.iter().enumerate().any(|(i, b)| *b != want[(offset + i) % 8]) {
        return Err(format!("operation {tag} read bytes that are not its own: misrouted data"));
    }
    Ok(())
}

/// A random timeout: often shorter than the step takes, so steps are
/// cancelled at every point.
fn short(rng: &mut SmallRng) -> Duration {
    Duration::from_micros(rng.random_range(0..3000))
}

/// One round trip over a raw non-blocking socket; `Ok(false)` when a step
/// timed out (the socket is dropped then).
async fn raw_round(lp: &Loop, port: u16, tag: u64, rng: &mut SmallRng) -> Result<bool, String> {
    let sock = rustix::net::socket_with(
        AddressFamily::INET,
        SocketType::STREAM,
        SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
        None,
    )
    .map_err(|e| e.to_string())?;
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    match timeout(short(rng), lp.sock_connect(&sock, addr)).await {
        Ok(r) => r.map_err(|e| format!("connect: {e}"))?,
        Err(_) => return Ok(false),
    }
    let len = rng.random_range(1..=65_536);
    let data = payload(tag, len);
    match timeout(short(rng), lp.sock_sendall(&sock, &data)).await {
        Ok(r) => r.map_err(|e| format!("send: {e}"))?,
        Err(_) => return Ok(false),
    }
    let mut got = Vec::with_capacity(len);
    while got.len() < len {
        match timeout(short(rng), lp.sock_recv(&sock, len - got.len())).await {
            Ok(r) => {
                let chunk = r.map_err(|e| format!("recv: {e}"))?;
                if chunk.is_empty() {
                    return Err(format!("operation {tag}: EOF after {} of {len} bytes", got.len()));
                }
                check(tag, got.len(), &chunk)?;
                got.extend_from_slice(&chunk);
            }
            Err(_) => return Ok(false),
        }
    }
    Ok(true)
}

/// One round trip over streams; `Ok(false)` when a step timed out.
async fn stream_round(port: u16, tag: u64, rng: &mut SmallRng) -> Result<bool, String> {
    let opened = timeout(
        short(rng),
        tulip::streams::open_connection("127.0.0.1", port, StreamConnectOptions::default()),
    )
    .await;
    let (reader, writer) = match opened {
        Ok(r) => r.map_err(|e| format!("open_connection: {e}"))?,
        Err(_) => return Ok(false),
    };
    let len = rng.random_range(1..=65_536);
    writer.write(&payload(tag, len)).map_err(|e| e.to_string())?;
    match timeout(short(rng), reader.readexactly(len)).await {
        Ok(r) => check(tag, 0, &r.map_err(|e| format!("readexactly: {e}"))?)?,
        Err(_) => return Ok(false),
    }
    writer.close();
    Ok(true)
}

pub(crate) fn run(scale: Scale) -> Result<String, String> {
    let workers: u64 = scale.pick(64, 16);
    let per_worker: u64 = scale.pick(2000, 150);
    run_bounded(Duration::from_secs(scale.pick(300, 40)), async move {
        let lp = get_running_loop().map_err(|e| e.to_string())?;
        let (server, port) = echo_server(&lp).await?;
        let tally = Rc::new(Tally::default());
        let mut tasks = Vec::new();
        for w in 0..workers {
            let (lp2, tally) = (lp.clone(), tally.clone());
            tasks.push(
                lp.create_task(async move {
                    let mut rng = SmallRng::seed_from_u64(w);
                    for i in 0..per_worker {
                        let tag = (w << 32) | i;
                        let done = if i % 2 == 0 {
                            raw_round(&lp2, port, tag, &mut rng).await?
                        } else {
                            stream_round(port, tag, &mut rng).await?
                        };
                        let counter = if done { &tally.completed } else { &tally.cancelled };
                        counter.set(counter.get() + 1);
                    }
                    Ok::<(), String>(())
                })
                .map_err(|e| e.to_string())?,
            );
        }
        for t in tasks {
            t.await.map_err(|e| e.to_string())??;
        }
        server.close();
        server.wait_closed().await;
        let (done, cancelled) = (tally.completed.get(), tally.cancelled.get());
        if done == 0 || cancelled == 0 {
            return Err(format!(
                "{done} completed, {cancelled} cancelled: the storm did not exercise both"
            ));
        }
        Ok(format!(
            "{} operations on raw sockets and streams: {done} completed and checked, {cancelled} cancelled mid-way (fds closed and reused), no byte misrouted",
            done + cancelled
        ))
    })
}
