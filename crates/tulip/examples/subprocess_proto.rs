//! The seed's "loop.subprocess_exec() and SubprocessProtocol" example: read
//! a child's output through a subprocess protocol and wait for its exit.
//! (asyncio's example runs Python to print the date; this one runs `date`.)

use tulip::prelude::*;
use tulip::process::{Stdio, SubprocessOptions};

/// Collects the child's output; resolves `exit_future` when it exits.
struct DateProtocol {
    exit_future: LoopFuture<()>,
    output: Vec<u8>,
}

impl BaseProtocol<SubprocessTransport> for DateProtocol {}

impl SubprocessProtocol for DateProtocol {
    fn pipe_data_received(&mut self, _fd: i32, data: &[u8]) {
        self.output.extend_from_slice(data);
    }

    fn process_exited(&mut self) {
        let _ = self.exit_future.set_result(());
    }
}

async fn get_date() -> tulip::Result<String> {
    let lp = get_running_loop()?;
    let exit_future = lp.create_future();

    // Create the subprocess controlled by DateProtocol; redirect the
    // standard output into a pipe (the default), inherit stdin and stderr.
    let ef = exit_future.clone();
    let (transport, protocol) = lp
        .subprocess_exec(
            move || DateProtocol { exit_future: ef, output: Vec::new() },
            "date",
            ["+%Y-%m-%d %H:%M:%S"],
            SubprocessOptions::new().stdin(Stdio::Inherit).stderr(Stdio::Inherit),
        )
        .await?;

    // Wait for the subprocess exit using the process_exited() method of
    // the protocol.
    exit_future.await?;

    // Close the pipes.
    transport.close();

    // Read the output which was collected by the pipe_data_received()
    // method of the protocol.
    let data = protocol.borrow().output.clone();
    Ok(String::from_utf8_lossy(&data).trim_end().to_owned())
}

fn main() -> tulip::Result<()> {
    let date = tulip::run(get_date())??;
    println!("Current date: {date}");
    Ok(())
}
