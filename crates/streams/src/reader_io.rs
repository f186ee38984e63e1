//! `futures-io` interop for the reader: `AsyncRead` and `AsyncBufRead`, so
//! codecs and other ecosystem crates read from tulip streams.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_io::{AsyncBufRead, AsyncRead};

use crate::feed::IO_TOKEN;
use crate::reader::StreamReader;

/// `poll_read` returns what is buffered, up to `buf.len()` (like
/// [`read`](StreamReader::read)); `Ok(0)` at EOF. Errors are the reader's,
/// as `io::Error`s (see [`Error`](crate::Error)'s conversion). A poll that was
/// abandoned (its future dropped mid-read) never blocks a later read.
impl AsyncRead for StreamReader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if out.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let mut token = Some(IO_TOKEN);
        let mut step = |buf: &mut crate::buffer::ReadBuffer, eof: bool, _: usize| {
            if !buf.is_empty() {
                Some(Ok(buf.copy_to(out)))
            } else if eof {
                Some(Ok(0))
            } else {
                None
            }
        };
        this.poll_step(cx, "poll_read", &mut token, &mut step).map_err(io::Error::from)
    }
}

/// `poll_fill_buf` lends the reader's own buffer (no copy); `consume`
/// takes bytes from it and resumes the transport when the buffer is back
/// at or below the limit. `fill_buf` returns an empty slice at EOF.
impl AsyncBufRead for StreamReader {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let this = self.get_mut();
        let mut token = Some(IO_TOKEN);
        let mut step = |buf: &mut crate::buffer::ReadBuffer, eof: bool, _: usize| {
            (eof || !buf.is_empty()).then_some(Ok(()))
        };
        match this.poll_step(cx, "poll_fill_buf", &mut token, &mut step) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => Poll::Ready(Err(e.into())),
            Poll::Ready(Ok(())) => Poll::Ready(Ok(this.buf_mut().as_slice())),
        }
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        let this = self.get_mut();
        let buf = this.buf_mut();
        let n = amt.min(buf.len());
        buf.consume(n);
        this.feed().consumed(n);
    }
}
