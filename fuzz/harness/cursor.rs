//! Decoding fuzz input: a cursor over the bytes that turns them into
//! choices. Reads past the end give zeros, so every input decodes to a
//! script, and a short input is a short script.

/// The bytes not yet decoded.
#[derive(Debug)]
pub struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    /// A cursor at the start of `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Cursor(data)
    }

    /// The next byte, or `None` at the end.
    pub fn next(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    /// The next byte, 0 at the end.
    pub fn byte(&mut self) -> u8 {
        self.next().unwrap_or(0)
    }

    /// The next two bytes, little-endian.
    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte(), self.byte()])
    }

    /// One of `choices`.
    pub fn pick<T: Copy>(&mut self, choices: &[T]) -> T {
        choices[usize::from(self.byte()) % choices.len()]
    }

    /// Up to `max` raw bytes (a length byte, then the bytes).
    pub fn bytes(&mut self, max: usize) -> Vec<u8> {
        let n = usize::from(self.byte()) % (max + 1);
        (0..n).map(|_| self.byte()).collect()
    }

    /// Whether every byte was decoded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
