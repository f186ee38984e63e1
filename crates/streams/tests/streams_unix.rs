//! The Unix-socket factories (ST-01): `open_unix_connection` and
//! `start_unix_server`, by path, abstract name and existing socket.

mod util;

use std::os::fd::OwnedFd;

use loop_streams::{
    Error, StreamReader, StreamWriter, UnixStreamConnectOptions, UnixStreamServerOptions,
    open_unix_connection, start_unix_server,
};
use loop_transports::UnixAddress;
use util::{run, within};

fn temp_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("tulip-streams-{}-{name}.sock", std::process::id()))
}

/// Upper-cases each line.
async fn shout(r: StreamReader, w: StreamWriter) -> loop_streams::Result<()> {
    loop {
        let line = r.readline().await?;
        if line.is_empty() {
            w.close();
            return Ok(());
        }
        w.write(&line.to_ascii_uppercase())?;
        w.drain().await?;
    }
}

#[test]
fn a_path_server_and_client_talk_and_the_socket_file_goes_with_the_server() {
    let path = temp_path("path");
    run(|_lp| {
        let path = path.clone();
        async move {
            let server = start_unix_server(
                shout,
                UnixAddress::path(&path),
                UnixStreamServerOptions::default().with_limit(16),
            )
            .await
            .unwrap();
            let (r, w) =
                open_unix_connection(UnixAddress::path(&path), UnixStreamConnectOptions::default())
                    .await
                    .unwrap();
            w.write(b"hello unix\n").unwrap();
            assert_eq!(within("reply", r.readline()).await.unwrap(), b"HELLO UNIX\n");
            // The server's limit (16) applies to its reader.
            w.write(b"a line much longer than sixteen bytes\n").unwrap();
            w.write_eof().unwrap();
            assert_eq!(within("EOF", r.read_to_eof()).await.unwrap(), b"");
            w.close();
            server.close();
            within("server closed", server.wait_closed()).await;
            assert!(!path.exists());
        }
    });
}

#[test]
fn abstract_names_and_existing_sockets_work() {
    run(|_lp| async move {
        let name = format!("tulip-streams-{}", std::process::id());
        let server = start_unix_server(
            shout,
            UnixAddress::abstract_name(&name),
            UnixStreamServerOptions::default(),
        )
        .await
        .unwrap();
        let (r, w) = open_unix_connection(
            UnixAddress::abstract_name(&name),
            UnixStreamConnectOptions::default(),
        )
        .await
        .unwrap();
        w.write(b"abstract\n").unwrap();
        assert_eq!(within("reply", r.readline()).await.unwrap(), b"ABSTRACT\n");
        w.close();

        // A connected socket pair: one end through the factory, the other
        // read directly.
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let (r, w) = open_unix_connection(
            None,
            UnixStreamConnectOptions::default().with_sock(OwnedFd::from(a)),
        )
        .await
        .unwrap();
        std::io::Write::write_all(&mut &b, b"from the pair\n").unwrap();
        assert_eq!(within("line", r.readline()).await.unwrap(), b"from the pair\n");
        w.close();
        within("closed", w.wait_closed()).await.unwrap();
        drop(b);
        server.close();
    });
}

#[test]
fn bad_unix_arguments_get_typed_errors() {
    run(|_lp| async move {
        let r = open_unix_connection(None, UnixStreamConnectOptions::default()).await;
        assert!(matches!(r, Err(Error::Transport(loop_transports::Error::InvalidArgument(_)))));
        let r = open_unix_connection(
            UnixAddress::path(temp_path("missing")),
            UnixStreamConnectOptions::default(),
        )
        .await;
        assert!(matches!(r, Err(Error::Transport(_))), "{r:?}");
        let r = open_unix_connection(
            UnixAddress::path(temp_path("x")),
            UnixStreamConnectOptions::default().with_limit(0),
        )
        .await;
        assert!(matches!(r, Err(Error::InvalidArgument(_))));
        let s = start_unix_server(
            shout,
            UnixAddress::path(temp_path("y")),
            UnixStreamServerOptions::default().with_limit(0),
        )
        .await;
        assert!(matches!(s, Err(Error::InvalidArgument(_))));
    });
}
