//! A signal storm: another thread sends SIGUSR1 and SIGUSR2 as fast as it
//! can while the loop runs a chain of timers and serves an echo client.
//! Every handler runs, the echo keeps flowing, and timers stay on time
//! (their lateness p99 is reported and bounded).

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tulip::prelude::*;
use tulip::signals::kill;

use crate::{Scale, run_bounded};

/// Timers later than this at p99 fail the scenario (the loop is otherwise
/// idle; the selector rounds timeouts up to whole milliseconds).
const MAX_P99_LATENESS: Duration = Duration::from_millis(20);

/// The pause between two signals of the storm.
const STORM_PACE: Duration = Duration::from_micros(50);

pub(crate) fn run(scale: Scale) -> Result<String, String> {
    let storm = Duration::from_secs(scale.pick(10, 2));
    run_bounded(storm + Duration::from_secs(30), async move {
        let lp = get_running_loop().map_err(|e| e.to_string())?;
        let (usr1, usr2) = (Rc::new(Cell::new(0u64)), Rc::new(Cell::new(0u64)));
        let (c1, c2) = (usr1.clone(), usr2.clone());
        lp.add_signal_handler(Signal::SIGUSR1, move || c1.set(c1.get() + 1))
            .map_err(|e| e.to_string())?;
        lp.add_signal_handler(Signal::SIGUSR2, move || c2.set(c2.get() + 1))
            .map_err(|e| e.to_string())?;

        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let (stop2, sent2) = (stop.clone(), sent.clone());
        let pid = std::process::id();
        let stormer = std::thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                let sig = if sent2.load(Ordering::Relaxed) % 2 == 0 {
                    Signal::SIGUSR1
                } else {
                    Signal::SIGUSR2
                };
                if kill(pid, sig).is_ok() {
                    sent2.fetch_add(1, Ordering::Relaxed);
                }
                // About 20,000 signals a second: a storm, yet one that leaves
                // the loop's thread time to run between deliveries.
                std::thread::sleep(STORM_PACE);
            }
        });

        // A chain of timers at random delays, each recording its lateness.
        let lateness = Rc::new(RefCell::new(Vec::new()));
        let end = Instant::now() + storm;
        let finished = lp.create_future::<()>();
        schedule_timer(&lp, SmallRng::seed_from_u64(3), lateness.clone(), end, finished.clone());

        // An echo client keeps a connection busy meanwhile.
        let (server, port) = crate::echo::echo_server(&lp).await?;
        let (reader, writer) = tulip::streams::open_connection(
            "127.0.0.1",
            port,
            tulip::streams::StreamConnectOptions::default(),
        )
        .await
        .map_err(|e| e.to_string())?;
        let mut echoes = 0u64;
        while Instant::now() < end {
            let msg = echoes.to_le_bytes();
            writer.write(&msg).map_err(|e| e.to_string())?;
            let back = reader.readexactly(8).await.map_err(|e| e.to_string())?;
            if back != msg {
                return Err(format!("echo {echoes} came back as {back:?}"));
            }
            echoes += 1;
        }
        finished.await.map_err(|e| e.to_string())?;
        stop.store(true, Ordering::Relaxed);
        stormer.join().map_err(|_| "the signal thread panicked".to_string())?;
        writer.close();
        server.close();
        server.wait_closed().await;
        // Deliveries still in flight run on the next iterations.
        sleep(Duration::from_millis(20)).await.map_err(|e| e.to_string())?;
        lp.remove_signal_handler(Signal::SIGUSR1).map_err(|e| e.to_string())?;
        lp.remove_signal_handler(Signal::SIGUSR2).map_err(|e| e.to_string())?;

        let (h1, h2) = (usr1.get(), usr2.get());
        if h1 == 0 || h2 == 0 {
            return Err(format!("handlers ran {h1} (SIGUSR1) and {h2} (SIGUSR2) times"));
        }
        let mut late = std::mem::take(&mut *lateness.borrow_mut());
        late.sort();
        let pct = |p: usize| late[(late.len() * p / 100).min(late.len() - 1)];
        let (p50, p99, max) = (pct(50), pct(99), late[late.len() - 1]);
        if p99 > MAX_P99_LATENESS {
            return Err(format!("timer lateness p99 {p99:?} (over {MAX_P99_LATENESS:?})"));
        }
        Ok(format!(
            "{} signals sent in {storm:?} ({h1} + {h2} handler runs, bursts coalesce), {echoes} echoes, {} timers: lateness p50 {p50:?}, p99 {p99:?}, max {max:?}",
            sent.load(Ordering::Relaxed),
            late.len()
        ))
    })
}

fn schedule_timer(
    lp: &Loop,
    mut rng: SmallRng,
    lateness: Rc<RefCell<Vec<Duration>>>,
    end: Instant,
    finished: LoopFuture<()>,
) {
    if Instant::now() >= end {
        let _ = finished.set_result(());
        return;
    }
    let delay = Duration::from_micros(rng.random_range(500..20_000));
    let when = lp.time() + delay;
    let l2 = lp.clone();
    let scheduled = lp.call_at(when, move || {
        lateness.borrow_mut().push(l2.time().saturating_duration_since(when));
        schedule_timer(&l2, rng, lateness, end, finished);
    });
    // Fails only on a closed loop, when the scenario is over anyway.
    drop(scheduled);
}
