//! The seed's "Display the current date with call_later()": print the time
//! every second, five times, then stop.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tulip::prelude::*;

fn display_date(lp: Loop, remaining: u32) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    println!("{}.{:03} seconds since the epoch", now.as_secs(), now.subsec_millis());
    if remaining > 1 {
        let next = lp.clone();
        if lp.call_later(Duration::from_secs(1), move || display_date(next, remaining - 1)).is_err()
        {
            lp.stop();
        }
    } else {
        lp.stop();
    }
}

fn main() -> Result<()> {
    let lp = new_event_loop()?;
    let l2 = lp.clone();
    // Schedule the first call to display_date().
    lp.call_soon(move || display_date(l2, 5))?;
    // Blocking call interrupted by lp.stop().
    lp.run_forever()?;
    Ok(lp.close()?)
}
