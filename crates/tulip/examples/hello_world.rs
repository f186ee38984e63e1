//! The seed's "Hello World with call_soon()": schedule a callback, then stop.

use tulip::prelude::*;

fn hello_world(lp: &Loop) {
    println!("Hello World");
    lp.stop();
}

fn main() -> Result<()> {
    let lp = new_event_loop()?;
    let l2 = lp.clone();
    // Schedule a call to hello_world().
    lp.call_soon(move || hello_world(&l2))?;
    // Blocking call interrupted by lp.stop().
    lp.run_forever()?;
    Ok(lp.close()?)
}
