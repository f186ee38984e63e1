//! `Process`: a child process with streams for its pipes (asyncio's
//! `asyncio.subprocess.Process`), made by `create_subprocess_exec` /
//! `create_subprocess_shell`.

use std::cell::RefCell;
use std::ffi::OsString;
use std::fmt;
use std::rc::Rc;

use futures_lite::future;
use loop_core::Loop;
use loop_streams::{StreamReader, StreamWriter};

use crate::error::{Error, Result};
use crate::exec;
use crate::options::SubprocessOptions;
use crate::status::ExitStatus;
use crate::stream_protocol::StreamsProtocol;
use crate::transport::SubprocessTransport;

/// A child process with async streams for its pipes (asyncio's
/// `asyncio.subprocess.Process`), made by
/// [`create_subprocess_exec`](crate::ProcessExt::create_subprocess_exec)
/// or [`create_subprocess_shell`](crate::ProcessExt::create_subprocess_shell).
///
/// [`stdin`](Process::stdin) is a [`StreamWriter`] and
/// [`stdout`](Process::stdout) / [`stderr`](Process::stderr) are
/// [`StreamReader`]s when the child was given pipes
/// ([`Stdio::Pipe`](crate::Stdio::Pipe), the default), `None` otherwise.
/// They are public fields: take one out (`proc.stdout.take()`) to hand it
/// to another task.
///
/// # Reading, writing and waiting
///
/// The child writes into a pipe of limited size (64 KiB on Linux); the
/// readers buffer up to twice their limit
/// ([`SubprocessOptions::limit`]) and then stop reading the pipe until
/// their buffer is consumed. A child whose output nobody reads therefore
/// stops — blocked in `write` — and never exits. So read what the child
/// writes while waiting for it, or use
/// [`communicate`](Process::communicate), which writes the input, reads
/// both outputs and waits, all at once.
///
/// # Dropping
///
/// Dropping a `Process` neither kills the child nor waits for it (asyncio,
/// `std` and tokio behave the same): the child runs on and the loop still
/// reaps it when it exits. The streams still held by the `Process` are
/// dropped with it, and dropping a stream closes its pipe (as dropping
/// `std::process::ChildStdout` does): the child sees EOF on stdin, and
/// `EPIPE` / `SIGPIPE` if it writes to stdout or stderr again. Call
/// [`kill`](Process::kill) first to stop the child.
pub struct Process {
    transport: Rc<SubprocessTransport>,
    /// A writer to the child's stdin, if it is a pipe. Dropping it (the
    /// last clone) closes the pipe once the bytes written are sent.
    pub stdin: Option<StreamWriter>,
    /// A reader of the child's stdout, if it is a pipe.
    pub stdout: Option<StreamReader>,
    /// A reader of the child's stderr, if it is a pipe.
    pub stderr: Option<StreamReader>,
}

/// What [`Process::communicate`] gathered: the exit status and every byte
/// the child wrote (asyncio's `(stdout_data, stderr_data)`, with
/// `returncode`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Output {
    /// How the child ended.
    pub status: ExitStatus,
    /// Everything the child wrote to stdout; empty when the `Process` held
    /// no stdout reader (not a pipe, or taken out).
    pub stdout: Vec<u8>,
    /// Everything the child wrote to stderr; empty when the `Process` held
    /// no stderr reader.
    pub stderr: Vec<u8>,
}

/// How many input bytes `communicate` hands to the stdin pipe at a time,
/// so a large input is not copied whole into the pipe's write buffer.
const INPUT_CHUNK: usize = 256 * 1024;

impl Process {
    /// The child's process id (asyncio's `pid`).
    pub fn pid(&self) -> u32 {
        self.transport.get_pid()
    }

    /// asyncio's `returncode`: `None` until the child has exited and been
    /// reaped, then its exit code, or `-signal` when a signal killed it.
    pub fn returncode(&self) -> Option<i32> {
        self.transport.get_returncode()
    }

    /// How the child ended, once it has been reaped.
    pub fn exit_status(&self) -> Option<ExitStatus> {
        self.transport.exit_status()
    }

    /// The subprocess transport underneath: its pipe transports, `close`,
    /// and a handle (`Rc`) that can signal or wait for the child from
    /// another task while [`communicate`](Process::communicate) borrows
    /// the `Process`.
    pub fn transport(&self) -> &Rc<SubprocessTransport> {
        &self.transport
    }

    /// Waits for the child to exit and returns its status (asyncio's
    /// `wait`, which returns `returncode`: that is
    /// [`ExitStatus::returncode`]).
    ///
    /// **Deadlock warning** (asyncio has the same): `wait` only waits. A
    /// child that writes more to stdout or stderr than the pipe and the
    /// reader buffer hold (see [the type's docs](Process)) blocks until
    /// someone reads, and then never exits — read its output concurrently,
    /// or use [`communicate`](Process::communicate). Likewise a child
    /// reading stdin until EOF waits for `stdin` to be closed (dropped).
    ///
    /// # Errors
    ///
    /// [`Error::Loop`] with `LoopClosed` if the loop closes first.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: it only observes.
    pub async fn wait(&self) -> Result<ExitStatus> {
        self.transport.wait().await
    }

    /// Sends `input` to the child's stdin and closes it, reads stdout and
    /// stderr to EOF, and waits for the child to exit (asyncio's
    /// `communicate`). The three run concurrently, so no amount of input
    /// or output can deadlock them.
    ///
    /// `input` needs a stdin pipe; without input, stdin (if held) is just
    /// closed. A child that exits (or closes its stdin) before reading all
    /// the input is not an error: the rest is dropped, as in asyncio.
    /// Afterwards [`stdin`](Process::stdin) is `None` and the readers are
    /// at EOF.
    ///
    /// # Errors
    ///
    /// [`Error::NoPipe`] (`fd` 0) for `Some(input)` when the `Process`
    /// holds no stdin writer — checked first, so nothing happened;
    /// the error a reader or the stdin pipe failed with
    /// ([`Error::Transport`], [`Error::Stream`]);
    /// [`Error::Loop`] if the loop closes first.
    ///
    /// # Cancel safety
    ///
    /// Not cancel-safe for the input: dropping the future drops the stdin
    /// writer, which closes the pipe after sending what was already handed
    /// to it (some prefix of `input`). The output is safe: what was read
    /// stays in the readers, and a later read or `communicate` returns it.
    pub async fn communicate(&mut self, input: Option<&[u8]>) -> Result<Output> {
        if input.is_some() && self.stdin.is_none() {
            return Err(Error::NoPipe { fd: 0 });
        }
        let stdin = self.stdin.take();
        let feed = async move {
            match stdin {
                Some(w) => feed_stdin(w, input.unwrap_or_default()).await,
                None => Ok(()),
            }
        };
        let out = read_to_eof(self.stdout.as_ref());
        let err = read_to_eof(self.stderr.as_ref());
        let ((), (stdout, stderr)) = future::try_zip(feed, future::try_zip(out, err)).await?;
        let status = self.wait().await?;
        Ok(Output { status, stdout, stderr })
    }

    /// Sends signal `signum` to the child (asyncio's `send_signal`).
    ///
    /// # Errors
    ///
    /// [`Error::ProcessLookup`] once the child has been reaped (nothing is
    /// sent, so no recycled pid is hit); [`Error::InvalidArgument`] for a
    /// number that is no signal; [`Error::Io`] if the OS refuses.
    pub fn send_signal(&self, signum: impl Into<i32>) -> Result<()> {
        self.transport.send_signal(signum)
    }

    /// Sends `SIGTERM` (asyncio's `terminate`).
    ///
    /// # Errors
    ///
    /// As [`send_signal`](Process::send_signal).
    pub fn terminate(&self) -> Result<()> {
        self.transport.terminate()
    }

    /// Sends `SIGKILL` (asyncio's `kill`).
    ///
    /// # Errors
    ///
    /// As [`send_signal`](Process::send_signal).
    pub fn kill(&self) -> Result<()> {
        self.transport.kill()
    }
}

/// Writes `input` to the child's stdin in chunks, waiting for the pipe to
/// drain between them, then closes it. A child that stopped reading is not
/// an error (asyncio ignores `BrokenPipeError` and `ConnectionResetError`
/// here).
async fn feed_stdin(stdin: StreamWriter, input: &[u8]) -> Result<()> {
    for chunk in input.chunks(INPUT_CHUNK) {
        let sent = match stdin.write(chunk) {
            Ok(()) => stdin.drain().await,
            Err(e) => Err(e),
        };
        match sent {
            Ok(()) => {}
            Err(e) if reader_gone(&e) => break,
            Err(e) => return Err(e.into()),
        }
    }
    stdin.close();
    Ok(())
}

/// Whether a stdin failure only says that the child stopped reading.
fn reader_gone(err: &loop_streams::Error) -> bool {
    use loop_transports::Error as T;
    match err {
        loop_streams::Error::ConnectionLost => true,
        loop_streams::Error::Transport(T::Closed) => true,
        loop_streams::Error::Transport(e) => matches!(
            e.kind(),
            Some(std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset)
        ),
        _ => false,
    }
}

async fn read_to_eof(reader: Option<&StreamReader>) -> Result<Vec<u8>> {
    match reader {
        Some(r) => Ok(r.read_to_eof().await?),
        None => Ok(Vec::new()),
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // A reader dropped here can never be read again: close its pipe so
        // a child still writing gets EPIPE instead of blocking forever.
        // (The stdin writer closes its pipe itself when dropped.)
        for (fd, reader) in [(1, &self.stdout), (2, &self.stderr)] {
            if reader.is_some() {
                if let Some(pipe) = self.transport.get_pipe_transport(fd) {
                    pipe.close();
                }
            }
        }
    }
}

impl fmt::Debug for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Process")
            .field("pid", &self.pid())
            .field("returncode", &self.returncode())
            .field("stdin", &self.stdin.is_some())
            .field("stdout", &self.stdout.is_some())
            .field("stderr", &self.stderr.is_some())
            .finish()
    }
}

/// Spawns `program` with `args` and wraps it in a [`Process`].
pub(crate) async fn create(
    lp: Loop,
    program: OsString,
    args: Vec<OsString>,
    opts: SubprocessOptions,
) -> Result<Process> {
    if opts.limit == 0 {
        return Err(Error::invalid("the readers' buffer limit (SubprocessOptions::limit) is 0"));
    }
    let (stdout, stderr) =
        (StreamReader::with_limit(opts.limit)?, StreamReader::with_limit(opts.limit)?);
    let proto = StreamsProtocol::new(&stdout, &stderr);
    let (transport, proto): (_, Rc<RefCell<StreamsProtocol>>) =
        exec::subprocess_exec(lp, move || proto, program, args, opts).await?;
    let proto = proto.borrow();
    Ok(Process {
        stdin: proto.stdin_writer(&transport),
        stdout: proto.has_pipe(1).then_some(stdout),
        stderr: proto.has_pipe(2).then_some(stderr),
        transport,
    })
}
