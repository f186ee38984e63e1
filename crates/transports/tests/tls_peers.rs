//! TLS against real peers: `openssl s_client` / `openssl s_server` and
//! Python's `ssl` + asyncio, each as client and as server, TLS 1.2 and
//! 1.3. Certificates are made at test time with rcgen.

mod util;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use loop_transports::{ConnectOptions, ExtraInfo, NetExt, ServerOptions};
use util::tls::{Pki, Ver};
use util::{Echo, Recorder, python, run, wait_child, wait_until, within};

/// A port that was free a moment ago (for peers that need one given).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn python_client_against_tulip_server(v: Ver, flag: &'static str, expect: &'static str) {
    run(move |lp| async move {
        let pki = Pki::localhost();
        let opts = ServerOptions::default().with_tls(Some(pki.server(v)));
        let server = lp.create_server(Echo::default, "127.0.0.1", 0, opts).await.unwrap();
        let port = server.addresses()[0].port().unwrap().to_string();
        let ca = pki.ca_pem.to_str().unwrap().to_owned();
        let child = python("tls_echo_client.py", &[&port, &ca, "50", "20000", flag]);
        let (out, status) = wait_child(&lp, child).await;
        assert!(status.success(), "python client failed: {out}");
        assert_eq!(out.trim(), format!("ok {} {expect}", 50 * 20000));
        wait_until("server idle", || server.active_connections() == 0).await;
        server.close();
    });
}

#[test]
fn python_ssl_client_tls13() {
    python_client_against_tulip_server(Ver::Both, "tls13", "TLSv1.3");
}

#[test]
fn python_ssl_client_tls12() {
    python_client_against_tulip_server(Ver::Both, "tls12", "TLSv1.2");
}

#[test]
fn tulip_client_against_python_ssl_server() {
    run(|lp| async move {
        let pki = Pki::localhost();
        let mut child = python(
            "tls_echo_server.py",
            &[pki.cert_pem.to_str().unwrap(), pki.key_pem.to_str().unwrap()],
        );
        let stdout = child.stdout.take().unwrap();
        let port: u16 = lp
            .run_in_executor(move || {
                let mut line = String::new();
                BufReader::new(stdout).read_line(&mut line).unwrap();
                line.trim().parse().unwrap()
            })
            .await
            .unwrap();
        let l2 = lp.clone();
        let opts = ConnectOptions::default()
            .with_tls(Some(pki.client(Ver::Both).server_hostname("localhost")));
        let (t, c) = lp
            .create_connection(move || Recorder::new(&l2), "127.0.0.1", port, opts)
            .await
            .unwrap();
        let msg: Vec<u8> = (0..200_000u32).map(|i| (i % 241) as u8).collect();
        t.write(&msg).unwrap();
        let log = c.borrow().log.clone();
        wait_until("echo", || Recorder::data(&log).len() >= msg.len()).await;
        assert_eq!(Recorder::data(&log), msg);
        t.close();
        let lost = c.borrow().lost.clone();
        assert_eq!(within("closed with close_notify answered", lost).await, None);
        let _ = child.kill();
        let _ = wait_child(&lp, child).await;
    });
}

fn tulip_client_against_openssl_s_server(flag: &'static str, expect: &'static str) {
    run(move |lp| async move {
        let pki = Pki::localhost();
        let port = free_port();
        let mut child = Command::new("openssl")
            .args(["s_server", "-quiet", "-naccept", "1", flag, "-accept"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("-cert")
            .arg(&pki.cert_pem)
            .arg("-key")
            .arg(&pki.key_pem)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl is installed");
        let l2 = lp.clone();
        let tls = pki.client(Ver::Both).server_hostname("localhost");
        // Wait for s_server to listen.
        let mut connected = None;
        for _ in 0..500 {
            let opts = ConnectOptions::default().with_tls(Some(tls.clone()));
            let l3 = l2.clone();
            match lp.create_connection(move || Recorder::new(&l3), "127.0.0.1", port, opts).await {
                Ok(c) => {
                    connected = Some(c);
                    break;
                }
                Err(_) => loop_core::sleep(std::time::Duration::from_millis(10)).await.unwrap(),
            }
        }
        let (t, c) = connected.expect("openssl s_server did not come up");
        assert_eq!(t.get_extra_info("ssl_protocol"), Some(ExtraInfo::Text(expect.to_owned())));
        t.write(b"hello openssl\n").unwrap();
        // s_server relays its stdin to us.
        child.stdin.as_mut().unwrap().write_all(b"hello tulip\n").unwrap();
        let log = c.borrow().log.clone();
        wait_until("data from s_server", || Recorder::data(&log) == b"hello tulip\n").await;
        t.close();
        let lost = c.borrow().lost.clone();
        within("closed", lost).await;
        drop(child.stdin.take());
        let (out, _) = wait_child(&lp, child).await;
        assert!(out.contains("hello openssl"), "s_server got: {out:?}");
    });
}

#[test]
fn openssl_s_server_tls13() {
    tulip_client_against_openssl_s_server("-tls1_3", "TLSv1.3");
}

#[test]
fn openssl_s_server_tls12() {
    tulip_client_against_openssl_s_server("-tls1_2", "TLSv1.2");
}

fn openssl_s_client_against_tulip_server(flag: &'static str, expect: &'static str) {
    run(move |lp| async move {
        let pki = Pki::localhost();
        // Echo one line, then close.
        let l2 = lp.clone();
        let opts = ServerOptions::default().with_tls(Some(pki.server(Ver::Both)));
        let server = lp
            .create_server(
                move || {
                    let mut r = Recorder::new(&l2);
                    r.on_data = Some(Box::new(|t, d| {
                        t.write(d).unwrap();
                        if d.ends_with(b"\n") {
                            t.close();
                        }
                    }));
                    r
                },
                "127.0.0.1",
                0,
                opts,
            )
            .await
            .unwrap();
        let port = server.addresses()[0].port().unwrap();
        let mut child = Command::new("openssl")
            .args([
                "s_client",
                "-ign_eof",
                "-verify_return_error",
                flag,
                "-servername",
                "localhost",
            ])
            .arg("-connect")
            .arg(format!("127.0.0.1:{port}"))
            .arg("-CAfile")
            .arg(&pki.ca_pem)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl is installed");
        child.stdin.as_mut().unwrap().write_all(b"ping over tls\n").unwrap();
        drop(child.stdin.take());
        let (out, status) = wait_child(&lp, child).await;
        assert!(status.success(), "s_client failed: {out}");
        assert!(out.contains("ping over tls"), "echo missing: {out}");
        assert!(
            out.contains(&format!("Protocol  : {expect}")) || out.contains(&format!(", {expect},")),
            "{out}"
        );
        assert!(out.contains("Verify return code: 0 (ok)"), "{out}");
        wait_until("server idle", || server.active_connections() == 0).await;
        server.close();
    });
}

#[test]
fn openssl_s_client_tls13() {
    openssl_s_client_against_tulip_server("-tls1_3", "TLSv1.3");
}

#[test]
fn openssl_s_client_tls12() {
    openssl_s_client_against_tulip_server("-tls1_2", "TLSv1.2");
}
