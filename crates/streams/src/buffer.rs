//! The reader's byte buffer and the parsing steps of the read methods
//! (asyncio's `readuntil` scan, `readexactly`, `read`), as pure functions
//! over the buffer so they can be tested and fuzzed without a loop.

use crate::error::{Error, Result};

/// The largest allocation an emptied buffer keeps for the next bytes.
const SPARE_MAX: usize = 256 * 1024;

/// Bytes received and not consumed yet: a `Vec` read from `start`.
///
/// Consuming advances `start`; the front is compacted only when new bytes
/// are appended, so a reader taking many small lines out of a large buffer
/// does not move the rest after each one.
#[derive(Debug, Default)]
pub(crate) struct ReadBuffer {
    data: Vec<u8>,
    start: usize,
    /// Total bytes ever consumed: a `readuntil` that waited notices when
    /// another read consumed meanwhile and rescans from the start.
    consumed_total: u64,
}

impl ReadBuffer {
    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.data[self.start..]
    }

    pub(crate) fn len(&self) -> usize {
        self.data.len() - self.start
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn consumed_total(&self) -> u64 {
        self.consumed_total
    }

    /// Appends `incoming`, leaving it empty (it keeps a spare allocation).
    /// An empty buffer swaps with it instead of copying.
    pub(crate) fn append(&mut self, incoming: &mut Vec<u8>) {
        if incoming.is_empty() {
            return;
        }
        if self.is_empty() {
            self.data.clear();
            self.start = 0;
            std::mem::swap(&mut self.data, incoming);
        } else {
            if self.start > 0 {
                self.data.drain(..self.start);
                self.start = 0;
            }
            self.data.extend_from_slice(incoming);
            incoming.clear();
        }
    }

    /// Drops the first `n` bytes (`n <= len`).
    pub(crate) fn consume(&mut self, n: usize) {
        debug_assert!(n <= self.len());
        let n = n.min(self.len());
        self.start += n;
        self.consumed_total += n as u64;
        if self.start == self.data.len() {
            self.data.clear();
            self.start = 0;
            if self.data.capacity() > SPARE_MAX {
                // A burst is over: do not keep its memory for an idle
                // connection.
                self.data = Vec::new();
            }
        }
    }

    /// Removes and returns the first `n` bytes (`n <= len`).
    ///
    /// The bytes are copied out and the buffer keeps its allocation, so a
    /// steady stream of reads allocates only the returned vectors — each
    /// freed before the next is made — instead of a fresh buffer per chunk
    /// (on a busy server the latter makes the heap grow and shrink by a
    /// batch's worth every iteration, and glibc trims and refaults it). A
    /// large buffer taken whole is handed over without a copy.
    pub(crate) fn take(&mut self, n: usize) -> Vec<u8> {
        let n = n.min(self.len());
        if n == self.len() && self.start == 0 && self.data.capacity() > SPARE_MAX {
            self.consumed_total += n as u64;
            return std::mem::take(&mut self.data);
        }
        let out = self.as_slice()[..n].to_vec();
        self.consume(n);
        out
    }

    /// Removes and returns everything.
    pub(crate) fn take_all(&mut self) -> Vec<u8> {
        self.take(self.len())
    }

    /// Copies up to `out.len()` bytes out; how many.
    pub(crate) fn copy_to(&mut self, out: &mut [u8]) -> usize {
        let n = out.len().min(self.len());
        out[..n].copy_from_slice(&self.as_slice()[..n]);
        self.consume(n);
        n
    }
}

/// Separators of a `readuntil`, validated and sorted shortest first (the
/// order asyncio 3.13 scans them in).
#[derive(Debug, Clone)]
pub(crate) struct Separators<'a> {
    seps: Vec<&'a [u8]>,
}

impl<'a> Separators<'a> {
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for an empty list or an empty separator.
    pub(crate) fn new(seps: &[&'a [u8]]) -> Result<Self> {
        if seps.is_empty() {
            return Err(Error::invalid("readuntil needs at least one separator"));
        }
        if seps.iter().any(|s| s.is_empty()) {
            return Err(Error::invalid("a separator must be at least one byte long"));
        }
        let mut seps = seps.to_vec();
        seps.sort_by_key(|s| s.len());
        Ok(Separators { seps })
    }

    fn min_len(&self) -> usize {
        self.seps[0].len()
    }

    fn max_len(&self) -> usize {
        self.seps[self.seps.len() - 1].len()
    }

    /// The match that ends first at or after `offset`: `(start, end)`. On
    /// equal ends the shorter separator wins (its start is reported).
    fn find(&self, hay: &[u8], offset: usize) -> Option<(usize, usize)> {
        let mut best: Option<(usize, usize)> = None;
        for sep in &self.seps {
            if let Some(i) = memchr::memmem::find(&hay[offset..], sep) {
                let start = offset + i;
                let end = start + sep.len();
                if best.is_none_or(|(_, e)| end < e) {
                    best = Some((start, end));
                }
            }
        }
        best
    }
}

/// The state of one `readuntil` across waits (asyncio's `offset`: how far
/// the buffer is known not to contain a separator).
#[derive(Debug)]
pub(crate) struct UntilScan<'a> {
    seps: Separators<'a>,
    offset: usize,
    seen_consumed: u64,
}

impl<'a> UntilScan<'a> {
    pub(crate) fn new(seps: Separators<'a>) -> Self {
        UntilScan { seps, offset: 0, seen_consumed: 0 }
    }

    /// One step of asyncio's `readuntil` loop: `Some` when done (the chunk
    /// with its separator, [`Error::LimitOverrun`] leaving the data, or
    /// [`Error::IncompleteRead`] at EOF taking it), `None` to wait for more.
    pub(crate) fn step(
        &mut self,
        buf: &mut ReadBuffer,
        eof: bool,
        limit: usize,
    ) -> Option<Result<Vec<u8>>> {
        if buf.consumed_total() != self.seen_consumed {
            // Another read consumed while this one waited: positions moved.
            self.seen_consumed = buf.consumed_total();
            self.offset = 0;
        }
        let buflen = buf.len();
        if buflen >= self.offset + self.seps.min_len() {
            if let Some((start, end)) = self.seps.find(buf.as_slice(), self.offset) {
                if start > limit {
                    return Some(Err(Error::LimitOverrun { consumed: start }));
                }
                let chunk = buf.take(end);
                self.seen_consumed = buf.consumed_total();
                return Some(Ok(chunk));
            }
            self.offset = (buflen + 1).saturating_sub(self.seps.max_len());
            if self.offset > limit {
                return Some(Err(Error::LimitOverrun { consumed: self.offset }));
            }
        }
        // A separator may complete in the last chunk even after EOF: the
        // buffer is scanned before EOF is looked at.
        if eof {
            let partial = buf.take_all();
            self.seen_consumed = buf.consumed_total();
            return Some(Err(Error::IncompleteRead { partial, expected: None }));
        }
        None
    }
}

/// One step of `readline`: `readuntil(b"\n")`, with asyncio's handling of
/// its errors (a partial line at EOF is returned; a line over the limit is
/// dropped — up to its newline if buffered, else the whole buffer).
pub(crate) fn line_step(
    scan: &mut UntilScan<'_>,
    buf: &mut ReadBuffer,
    eof: bool,
    limit: usize,
) -> Option<Result<Vec<u8>>> {
    Some(match scan.step(buf, eof, limit)? {
        Ok(line) => Ok(line),
        Err(Error::IncompleteRead { partial, .. }) => Ok(partial),
        Err(Error::LimitOverrun { consumed }) => {
            let discarded =
                if buf.as_slice().get(consumed) == Some(&b'\n') { consumed + 1 } else { buf.len() };
            buf.consume(discarded);
            Err(Error::LineTooLong { discarded })
        }
        Err(e) => Err(e),
    })
}

/// One step of `readexactly(n)` (`n > 0`).
pub(crate) fn exactly_step(buf: &mut ReadBuffer, eof: bool, n: usize) -> Option<Result<Vec<u8>>> {
    if buf.len() >= n {
        Some(Ok(buf.take(n)))
    } else if eof {
        Some(Err(Error::IncompleteRead { partial: buf.take_all(), expected: Some(n) }))
    } else {
        None
    }
}

/// One step of `read(n)` (`n > 0`): whatever is buffered, up to `n`; empty
/// at EOF.
pub(crate) fn read_step(buf: &mut ReadBuffer, eof: bool, n: usize) -> Option<Result<Vec<u8>>> {
    if !buf.is_empty() {
        Some(Ok(buf.take(n)))
    } else if eof {
        Some(Ok(Vec::new()))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buf(bytes: &[u8]) -> ReadBuffer {
        let mut b = ReadBuffer::default();
        b.append(&mut bytes.to_vec());
        b
    }

    #[test]
    fn append_swaps_into_an_empty_buffer_and_compacts_otherwise() {
        let mut b = buf(b"hello");
        b.consume(2);
        let mut more = b"!!".to_vec();
        b.append(&mut more);
        assert!(more.is_empty());
        assert_eq!(b.as_slice(), b"llo!!");
        assert_eq!(b.take(3), b"llo");
        assert_eq!(b.take_all(), b"!!");
        assert!(b.is_empty());
        assert_eq!(b.consumed_total(), 7);
    }

    #[test]
    fn shortest_match_wins_and_ties_report_the_shorter_separator() {
        let s = Separators::new(&[b"Z", b"XY"]).unwrap();
        assert_eq!(s.find(b"aaXYbbZ", 0), Some((2, 4)));
        let s = Separators::new(&[b"cd", b"bcd", b"d"]).unwrap();
        assert_eq!(s.find(b"abcd", 0), Some((3, 4)));
    }

    #[test]
    fn bad_separators_are_invalid_arguments() {
        assert!(matches!(Separators::new(&[]), Err(Error::InvalidArgument(_))));
        assert!(matches!(Separators::new(&[b"a", b""]), Err(Error::InvalidArgument(_))));
    }

    #[test]
    fn overrun_offsets_match_asyncio() {
        // asyncio: limit 3, b"abcdef" then readuntil(b"\n") → consumed 6.
        let mut b = buf(b"abcdef");
        let mut scan = UntilScan::new(Separators::new(&[b"\n"]).unwrap());
        assert!(matches!(
            scan.step(&mut b, false, 3),
            Some(Err(Error::LimitOverrun { consumed: 6 }))
        ));
        // readuntil(b"ef") → found at 4 > 3.
        let mut scan = UntilScan::new(Separators::new(&[b"ef"]).unwrap());
        assert!(matches!(
            scan.step(&mut b, false, 3),
            Some(Err(Error::LimitOverrun { consumed: 4 }))
        ));
        assert_eq!(b.len(), 6, "the data stays in the buffer");
    }
}
