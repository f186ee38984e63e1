//! The seed's "Set signal handlers for SIGINT and SIGTERM": the loop runs
//! until one of them arrives, then stops.
//!
//! Run with `--wait` to send the signal yourself (Ctrl-C, or
//! `kill -TERM <pid>`); without it the program sends itself SIGTERM after
//! one second, so it also terminates unattended.

use std::time::Duration;

use tulip::prelude::*;

fn ask_exit(signame: Signal, lp: &Loop) {
    println!("got signal {signame}: exit");
    lp.stop();
}

fn main() -> Result<()> {
    let wait = std::env::args().any(|a| a == "--wait");
    let lp = new_event_loop()?;
    for signame in [Signal::SIGINT, Signal::SIGTERM] {
        let l2 = lp.clone();
        lp.add_signal_handler(signame, move || ask_exit(signame, &l2))?;
    }

    println!("Event loop running forever, press Ctrl+C to interrupt.");
    println!("pid {}: send SIGINT or SIGTERM to exit.", std::process::id());
    if !wait {
        // Unattended run: play the user and send SIGTERM in a second.
        lp.call_later(Duration::from_secs(1), || {
            if let Err(err) = tulip::signals::kill(std::process::id(), Signal::SIGTERM) {
                eprintln!("cannot send SIGTERM: {err}");
            }
        })?;
    }

    lp.run_forever()?;
    // Closing the loop removes its signal handlers.
    Ok(lp.close()?)
}
