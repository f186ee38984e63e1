//! `futures-io` interop for the writer: `AsyncWrite`, with backpressure
//! (`poll_write` waits as `drain` does), `poll_flush` = `drain`, and
//! `poll_close` = `close` + `wait_closed`.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_io::AsyncWrite;

use crate::writer::StreamWriter;

/// `poll_write` first waits like [`drain`](StreamWriter::drain) (so a
/// `copy` into a slow peer is paced by flow control instead of growing the
/// buffer without bound), then writes the whole slice. `poll_flush` is
/// `drain`: it does not wait for the transport's buffer to empty, only for
/// writing to be resumed. `poll_close` closes the transport and waits for
/// the connection to end. Errors are the writer's, as `io::Error`s (a
/// closed transport is `BrokenPipe`, a lost connection `ConnectionReset`).
impl AsyncWrite for StreamWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let mut st = this.io_write;
        let ready = this.poll_drain(cx, &mut st);
        this.io_write = if ready.is_pending() { st } else { Default::default() };
        match ready {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => Poll::Ready(Err(e.into())),
            Poll::Ready(Ok(())) => {
                Poll::Ready(this.write(buf).map(|()| buf.len()).map_err(Into::into))
            }
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        if total == 0 {
            return Poll::Ready(Ok(0));
        }
        let mut st = this.io_write;
        let ready = this.poll_drain(cx, &mut st);
        this.io_write = if ready.is_pending() { st } else { Default::default() };
        match ready {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => Poll::Ready(Err(e.into())),
            Poll::Ready(Ok(())) => {
                let slices: Vec<&[u8]> = bufs.iter().map(|b| &**b).collect();
                Poll::Ready(this.writelines(&slices).map(|()| total).map_err(Into::into))
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let mut st = this.io_flush;
        let ready = this.poll_drain(cx, &mut st);
        this.io_flush = if ready.is_pending() { st } else { Default::default() };
        ready.map_err(Into::into)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_close_io(cx).map_err(Into::into)
    }
}
