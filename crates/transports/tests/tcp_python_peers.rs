//! tulip servers and clients against Python's own asyncio (real peers).

mod util;

use std::io::{BufRead, BufReader};

use loop_transports::{NetExt, ServerOptions};
use util::{Echo, Recorder, python, run, wait_child, wait_until, within};

#[test]
fn python_asyncio_client_against_tulip_echo_server() {
    run(|lp| async move {
        let server = lp.create_server(Echo::default, "127.0.0.1", 0, ServerOptions::default());
        let server = server.await.unwrap();
        let port = server.addresses()[0].port().unwrap().to_string();
        // 200 messages of 10 KiB, each echoed and checked by the peer.
        let child = python("echo_client.py", &[&port, "200", "10240"]);
        let (out, status) = wait_child(&lp, child).await;
        assert!(status.success(), "python client failed: {out}");
        assert_eq!(out.trim(), format!("ok {}", 200 * 10240));
        server.close();
        server.wait_closed().await;
    });
}

#[test]
fn python_asyncio_client_over_ipv6() {
    run(|lp| async move {
        let server = lp.create_server(Echo::default, "::1", 0, ServerOptions::default());
        let server = server.await.unwrap();
        let port = server.addresses()[0].port().unwrap().to_string();
        let child = python("echo_client.py", &[&port, "3", "100000", "::1"]);
        let (out, status) = wait_child(&lp, child).await;
        assert!(status.success(), "python client failed: {out}");
        assert_eq!(out.trim(), format!("ok {}", 300000));
        server.close();
    });
}

#[test]
fn tulip_client_against_python_asyncio_echo_server() {
    run(|lp| async move {
        let mut child = python("echo_server.py", &[]);
        let stdout = child.stdout.take().unwrap();
        // Read the port off the loop thread.
        let port: u16 = lp
            .run_in_executor(move || {
                let mut line = String::new();
                BufReader::new(stdout).read_line(&mut line).unwrap();
                line.trim().parse().unwrap()
            })
            .await
            .unwrap();
        let (t, client) = util::connect_recorder(&lp, port).await;
        let msg: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
        // Two writes in one batch, then half-close: the Python peer echoes
        // and half-closes back.
        t.write(&msg[..1000]).unwrap();
        t.write(&msg[1000..]).unwrap();
        t.write_eof().unwrap();
        let lost = client.borrow().lost.clone();
        assert_eq!(within("connection lost", lost).await, None);
        assert_eq!(Recorder::data(&client.borrow().log), msg);
        assert!(client.borrow().log.borrow().contains(&util::Ev::Eof));
        let (_, status) = wait_child(&lp, child).await;
        assert!(status.success());
        wait_until("closed", || t.is_closing()).await;
    });
}
