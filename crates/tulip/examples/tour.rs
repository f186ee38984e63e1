//! A guided tour of tulip: each step shows one piece of asyncio's model and
//! prints what happened. Exits by itself in a few seconds.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use tulip::prelude::*;

/// Echoes every byte back (the server side of the TCP step).
struct Echo(Option<TransportRef>);

impl BaseProtocol for Echo {
    fn connection_made(&mut self, transport: TransportRef) {
        self.0 = Some(transport);
    }
}

impl Protocol for Echo {
    fn data_received(&mut self, data: &[u8]) {
        if let Some(t) = &self.0 {
            let _ = t.write(data);
        }
    }
}

/// Sends a greeting and resolves `reply` with what comes back.
struct Greeter {
    reply: LoopFuture<String>,
}

impl BaseProtocol for Greeter {
    fn connection_made(&mut self, transport: TransportRef) {
        // Two writes in one batch leave in one syscall (coalesced).
        let _ = transport.write(b"hello, ");
        let _ = transport.write(b"tulip");
    }
}

impl Protocol for Greeter {
    fn data_received(&mut self, data: &[u8]) {
        let _ = self.reply.set_result(String::from_utf8_lossy(data).into_owned());
    }
}

fn step(title: &str) {
    println!("\n== {title}");
}

fn main() -> Result<()> {
    let started = Instant::now();
    let lp = new_event_loop()?;

    step("callbacks run in FIFO order, on the next iteration");
    let log = Rc::new(RefCell::new(Vec::new()));
    for i in 1..=3 {
        let log = log.clone();
        lp.call_soon(move || log.borrow_mut().push(i))?;
    }
    let l2 = lp.clone();
    lp.call_soon(move || l2.stop())?;
    lp.run_forever()?;
    println!("ran callbacks {:?}", log.borrow());

    step("timers fire in deadline order, never early");
    let t0 = lp.time();
    let order = Rc::new(RefCell::new(Vec::new()));
    for ms in [30u64, 10, 20] {
        let order = order.clone();
        let lp2 = lp.clone();
        lp.call_later(Duration::from_millis(ms), move || {
            order.borrow_mut().push((ms, lp2.time() - t0));
        })?;
    }
    let l2 = lp.clone();
    lp.call_later(Duration::from_millis(40), move || l2.stop())?;
    lp.run_forever()?;
    for (ms, at) in order.borrow().iter() {
        println!("timer for {ms} ms fired after {:.1} ms", at.as_secs_f64() * 1e3);
    }

    step("tasks: futures driven by the loop, cancellable");
    let l2 = lp.clone();
    let total = lp.run_until_complete(async move {
        let workers: Vec<_> = (1..=3u64)
            .map(|i| {
                l2.create_named_task(format!("worker-{i}"), async move {
                    sleep(Duration::from_millis(10 * i)).await?;
                    Ok::<_, Error>(i * 10)
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let sleeper = l2.create_task(sleep(Duration::from_secs(3600)))?;
        println!("{} tasks pending", l2.all_tasks().len());
        sleeper.cancel();
        println!("cancelled sleeper: {:?}", sleeper.await.err());
        let mut sum = 0;
        for w in workers {
            sum += w.await??;
        }
        Ok::<_, Error>(sum)
    })??;
    println!("workers returned {total} in total");

    step("a loop future set by a callback");
    let fut = lp.create_future::<&'static str>();
    let f2 = fut.clone();
    lp.call_later(Duration::from_millis(5), move || {
        let _ = f2.set_result("set by a timer");
    })?;
    println!("future resolved: {}", lp.run_until_complete(fut)??);

    step("blocking work in the executor does not block the loop");
    let l2 = lp.clone();
    let (answer, ticks) = lp.run_until_complete(async move {
        let ticks = Rc::new(RefCell::new(0));
        let t2 = ticks.clone();
        let ticker = l2.create_task(async move {
            loop {
                sleep(Duration::from_millis(5)).await?;
                *t2.borrow_mut() += 1;
            }
            #[allow(unreachable_code)]
            Ok::<(), Error>(())
        })?;
        let answer = l2
            .run_in_executor(|| {
                std::thread::sleep(Duration::from_millis(60));
                6 * 7
            })
            .await?;
        ticker.cancel();
        let ticks = *ticks.borrow();
        Ok::<_, Error>((answer, ticks))
    })??;
    println!("executor answered {answer}; the loop ticked {ticks} times meanwhile");

    step("loop-sync: a bounded queue between tasks, a lock around a shared log");
    let l2 = lp.clone();
    let (consumed, log_len) = lp.run_until_complete(async move {
        let queue = Rc::new(tulip::sync::Queue::new(2));
        let lock = Rc::new(tulip::sync::Lock::new());
        let shared_log = Rc::new(RefCell::new(Vec::new()));
        let (q, lk, lg) = (queue.clone(), lock.clone(), shared_log.clone());
        let consumer = l2.create_task(async move {
            let mut sum = 0;
            while let Ok(item) = q.get().await {
                let _held = lk.acquire().await;
                lg.borrow_mut().push(format!("consumed {item}"));
                sum += item;
                q.task_done().ok();
            }
            sum
        })?;
        for item in 1..=5 {
            // put() waits whenever the queue already holds two items.
            queue.put(item).await?;
            let _held = lock.acquire().await;
            shared_log.borrow_mut().push(format!("produced {item}"));
        }
        queue.join().await;
        queue.shutdown();
        let sum = consumer.await?;
        let n = shared_log.borrow().len();
        Ok::<_, Error>((sum, n))
    })??;
    println!("consumer summed {consumed}; {log_len} log lines written under the lock");

    step("another thread wakes the blocked loop with call_soon_threadsafe");
    let remote = lp.remote();
    let worker = std::thread::spawn(move || {
        let sender = format!("{:?}", std::thread::current().id());
        remote.call_soon_threadsafe(move || {
            println!(
                "callback sent by thread {sender} ran on the loop's thread {:?}",
                std::thread::current().id()
            );
            if let Ok(lp) = get_running_loop() {
                lp.stop();
            }
        })
    });
    // Nothing is scheduled: the loop blocks in epoll until the thread calls.
    lp.run_forever()?;
    worker.join().map_err(|_| Error::failed("the worker thread panicked"))??;

    step("signals: a SIGUSR1 handler runs as an ordinary loop callback");
    let l2 = lp.clone();
    lp.add_signal_handler(Signal::SIGUSR1, move || {
        println!("SIGUSR1 handled on the loop (running: {})", l2.is_running());
        l2.stop();
    })?;
    tulip::signals::kill(std::process::id(), Signal::SIGUSR1)?;
    // Nothing else is scheduled: the signal itself wakes the loop.
    lp.run_forever()?;
    lp.remove_signal_handler(Signal::SIGUSR1)?;

    step("transports: a TCP echo server and a client protocol on 127.0.0.1");
    let l2 = lp.clone();
    let (addr, reply) = lp.run_until_complete(async move {
        let server = l2.create_server(|| Echo(None), "127.0.0.1", 0, Default::default()).await?;
        let addr = match server.addresses().first() {
            Some(tulip::transports::Address::Inet(a)) => *a,
            _ => return Err(tulip::transports::Error::InvalidState("no address".into())),
        };
        let reply = l2.create_future::<String>();
        let r2 = reply.clone();
        let (client, _proto) = l2
            .create_connection(
                move || Greeter { reply: r2 },
                &addr.ip().to_string(),
                addr.port(),
                Default::default(),
            )
            .await?;
        let text = reply.await?;
        client.close();
        server.close();
        Ok((addr, text))
    })??;
    println!("server on {addr} echoed {reply:?}");

    step("streams: start_server / open_connection, readline, write, drain");
    let lines = lp.run_until_complete(async move {
        // A line-upper-casing server: one task per client, reading lines.
        let server = start_server(
            |reader, writer| async move {
                loop {
                    let line = reader.readline().await?;
                    if line.is_empty() {
                        break; // EOF
                    }
                    writer.write(&line.to_ascii_uppercase())?;
                    writer.drain().await?;
                }
                writer.close();
                Ok::<(), tulip::streams::Error>(())
            },
            "127.0.0.1",
            0,
            Default::default(),
        )
        .await?;
        let port = server.addresses()[0].port().unwrap_or_default();
        let (reader, writer) = open_connection("127.0.0.1", port, Default::default()).await?;
        writer.writelines(&[b"first line\n", b"second ", b"line\n"])?;
        writer.write_eof()?;
        let mut lines = Vec::new();
        loop {
            let line = reader.readline().await?;
            if line.is_empty() {
                break;
            }
            lines.push(String::from_utf8_lossy(&line).trim_end().to_owned());
        }
        writer.close();
        writer.wait_closed().await?;
        server.close();
        Ok::<_, Error>(lines)
    })??;
    println!("the server upper-cased {lines:?}");

    step("a panic in a callback is reported and the loop keeps running");
    let l2 = lp.clone();
    lp.call_soon(|| panic!("this callback fails"))?;
    lp.call_soon(move || {
        println!("…and the next callback still ran");
        l2.stop();
    })?;
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    lp.set_exception_handler(Some(Rc::new(|_, ctx| println!("exception handler got: {ctx}"))));
    lp.run_forever()?;
    std::panic::set_hook(hook);

    lp.close()?;
    println!("\ntour finished in {:.2} s", started.elapsed().as_secs_f64());
    Ok(())
}
