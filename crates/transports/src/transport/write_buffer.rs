//! The write buffer: bytes accepted by `write` and not yet taken by the
//! socket. One growable allocation, reused for the transport's lifetime.

/// Compact (move the unsent tail to the front) once the sent prefix is at
/// least this large and at least half the buffer.
const COMPACT_MIN: usize = 64 * 1024;

/// A byte queue: appends at the end, consumes from the front.
#[derive(Debug, Default)]
pub(crate) struct WriteBuffer {
    buf: Vec<u8>,
    start: usize,
}

impl WriteBuffer {
    pub(crate) fn len(&self) -> usize {
        self.buf.len() - self.start
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The unsent bytes.
    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    pub(crate) fn extend(&mut self, data: &[u8]) {
        if self.start > 0 && self.start == self.buf.len() {
            self.clear();
        }
        self.buf.extend_from_slice(data);
    }

    /// Drops the first `n` unsent bytes (they were sent).
    pub(crate) fn consume(&mut self, n: usize) {
        debug_assert!(n <= self.len());
        self.start += n;
        if self.start == self.buf.len() {
            self.clear();
        } else if self.start >= COMPACT_MIN && self.start * 2 >= self.buf.len() {
            self.buf.drain(..self.start);
            self.start = 0;
        }
    }

    /// Drops everything, keeping the allocation (unless it grew huge).
    pub(crate) fn clear(&mut self) {
        self.buf.clear();
        self.start = 0;
        if self.buf.capacity() > 4 * 1024 * 1024 {
            self.buf.shrink_to(64 * 1024);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_consume_compact() {
        let mut b = WriteBuffer::default();
        b.extend(b"hello ");
        b.extend(b"world");
        assert_eq!(b.as_slice(), b"hello world");
        b.consume(6);
        assert_eq!(b.as_slice(), b"world");
        b.extend(b"!");
        assert_eq!(b.as_slice(), b"world!");
        b.consume(6);
        assert!(b.is_empty());
        let big = vec![7u8; 200 * 1024];
        b.extend(&big);
        b.consume(150 * 1024);
        assert_eq!(b.len(), 50 * 1024);
        assert_eq!(b.start, 0, "compacted");
    }
}
