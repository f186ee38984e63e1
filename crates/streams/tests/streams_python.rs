//! tulip streams against Python's own asyncio streams, in both directions:
//! a tulip client driving an `asyncio.start_server` server, and an
//! `asyncio.open_connection` client driving a tulip `start_server` server
//! (the protocol is described in tests/peers/stream_server.py).

mod util;

use loop_streams::{
    Error, StreamConnectOptions, StreamReader, StreamServerOptions, StreamWriter, open_connection,
    start_server,
};
use util::{python, read_line, run, wait_child, within};

fn summary(data: &[u8]) -> Vec<u8> {
    let sum = data.iter().map(|&b| u64::from(b)).sum::<u64>() % (1 << 32);
    format!("{} {}\n", data.len(), sum).into_bytes()
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

/// The tulip side of the server role.
async fn serve(r: StreamReader, w: StreamWriter) -> loop_streams::Result<()> {
    loop {
        let line = r.readline().await?;
        if line.is_empty() {
            break;
        }
        let line = line.trim_ascii();
        let (cmd, arg) = match line.iter().position(|&b| b == b' ') {
            Some(i) => (&line[..i], &line[i + 1..]),
            None => (line, &b""[..]),
        };
        let number = || -> loop_streams::Result<usize> {
            std::str::from_utf8(arg)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| Error::InvalidArgument("not a number".into()))
        };
        match cmd {
            b"LINE" => w.writelines(&[&arg.to_ascii_uppercase(), b"\n"])?,
            b"BLOB" => w.write(&summary(&r.readexactly(number()?).await?))?,
            b"SEND" => w.write(&pattern(number()?))?,
            b"UNTIL" => w.write(b"part1\r\npart2|part3;")?,
            b"SINK" => {
                w.write(&summary(&r.read_to_eof().await?))?;
                break;
            }
            b"BYE" => {
                w.write(b"bye\n")?;
                break;
            }
            _ => w.write(b"unknown command\n")?,
        }
        w.drain().await?;
    }
    w.drain().await?;
    w.close();
    w.wait_closed().await
}

#[test]
fn tulip_client_against_python_asyncio_streams_server() {
    run(|lp| async move {
        let mut child = python("stream_server.py", &["2"]);
        let (port, _stdout) = read_line(&lp, child.stdout.take().unwrap()).await;
        let port: u16 = port.parse().unwrap();

        let (r, w) =
            open_connection("127.0.0.1", port, StreamConnectOptions::default()).await.unwrap();
        w.write(b"LINE hello python\n").unwrap();
        w.drain().await.unwrap();
        assert_eq!(within("LINE", r.readline()).await.unwrap(), b"HELLO PYTHON\n");

        let blob: Vec<u8> = (0..3_000_000u32).map(|i| (i * 13 % 256) as u8).collect();
        w.write(format!("BLOB {}\n", blob.len()).as_bytes()).unwrap();
        w.write(&blob).unwrap();
        within("drain the blob", w.drain()).await.unwrap();
        assert_eq!(within("BLOB", r.readline()).await.unwrap(), summary(&blob));

        w.write(b"SEND 2000000\n").unwrap();
        let got = within("SEND", r.readexactly(2_000_000)).await.unwrap();
        assert!(got == pattern(2_000_000));

        w.write(b"UNTIL\n").unwrap();
        assert_eq!(within("until", r.readuntil_any(&[b"\r\n", b"|"])).await.unwrap(), b"part1\r\n");
        assert_eq!(within("until", r.readuntil_any(&[b";", b"|"])).await.unwrap(), b"part2|");
        assert_eq!(within("until", r.readuntil(b";")).await.unwrap(), b"part3;");

        w.write(b"BYE\n").unwrap();
        assert_eq!(within("BYE", r.readline()).await.unwrap(), b"bye\n");
        assert_eq!(within("EOF", r.read(100)).await.unwrap(), b"");
        assert!(r.at_eof());
        w.close();
        within("closed", w.wait_closed()).await.unwrap();

        // Second connection: a half-close. Python reads to EOF, replies.
        let (r, w) = open_connection("127.0.0.1", port, Default::default()).await.unwrap();
        let tail = vec![b'y'; 200_000];
        w.writelines(&[b"SINK\n", &tail]).unwrap();
        w.write_eof().unwrap();
        assert_eq!(within("SINK", r.readline()).await.unwrap(), summary(&tail));
        assert_eq!(within("EOF", r.read_to_eof()).await.unwrap(), b"");
        w.close();

        let (out, status) = wait_child(&lp, child).await;
        assert!(status.success(), "python server failed: {out}");
    });
}

#[test]
fn python_asyncio_client_against_tulip_streams_server() {
    run(|lp| async move {
        // A small limit: the 3 MB blob crosses 2 × limit many times, so the
        // server's reader pauses and resumes the socket under Python's
        // drain().
        let server =
            start_server(serve, "127.0.0.1", 0, StreamServerOptions::default().with_limit(1024))
                .await
                .unwrap();
        let port = server.addresses()[0].port().unwrap().to_string();
        let child = python("stream_client.py", &[&port]);
        let (out, status) = wait_child(&lp, child).await;
        assert!(status.success(), "python client failed: {out}");
        assert_eq!(out.trim(), "ok");
        server.close();
        within("server closed", server.wait_closed()).await;
    });
}
