//! The seed's "Watch a file descriptor for read events": wait until a
//! socket pair receives data with `add_reader`, then stop.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;

use tulip::prelude::*;

fn main() -> Result<()> {
    let lp = new_event_loop()?;
    // Create a pair of connected sockets.
    let (mut wsock, rsock) = UnixStream::pair()?;
    rsock.set_nonblocking(true)?;
    let rsock = std::rc::Rc::new(rsock);

    // Register the open socket to wait for data.
    let (l2, r2) = (lp.clone(), rsock.clone());
    lp.add_reader(&*rsock, move || {
        let mut buf = [0u8; 100];
        let n = (&*r2).read(&mut buf).unwrap_or(0);
        println!("Received: {}", String::from_utf8_lossy(&buf[..n]));
        // We are done: unregister the file descriptor, then stop the loop.
        let _ = l2.remove_reader(&*r2);
        l2.stop();
    })?;

    // Simulate the reception of data from the network.
    lp.call_soon(move || {
        let _ = wsock.write_all(b"abc");
    })?;

    // Run the event loop.
    lp.run_forever()?;
    // We are done: close sockets and the event loop.
    Ok(lp.close()?)
}
