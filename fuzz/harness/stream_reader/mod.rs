//! A fuzz harness for the stream reader's parsing (ST-02), shared by the
//! cargo-fuzz target `stream_reader` (fuzz/) and the deterministic proptest
//! run (tests/tests/fuzz_stream_reader.rs). Two checks:
//!
//! * [`run_bytes`]: arbitrary bytes decode into a script of feeds, EOF, an
//!   exception, reads started in two slots, polls and drops. Nothing may
//!   panic or hang, only one read waits at a time, no byte is lost or
//!   invented (every fed byte is returned, discarded by a too-long line,
//!   or still buffered — dropping pending reads included), and read flow
//!   control pauses and resumes in pairs.
//! * [`model_bytes`]: arbitrary bytes decode into data, a chunking of it, a
//!   limit and reads (readline / readuntil / readexactly); the reader fed
//!   the chunks must give what a reference computed over the whole input
//!   gives ([`model`]).

#![allow(dead_code, unreachable_pub)]

#[path = "../cursor.rs"]
mod cursor;

/// The recording transport of the stream tests.
#[path = "../../../crates/streams/tests/util/fake.rs"]
mod fake;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use loop_streams::{Error, Result, StreamReader};

use self::cursor::Cursor;
use self::fake::Fake;

type Read<'a> = Pin<Box<dyn Future<Output = Result<Vec<u8>>> + 'a>>;

/// Bytes the feeds draw from: separators are frequent.
const ALPHABET: &[u8] = b"ab\n;\r";

/// Up to `max - 1` bytes of [`ALPHABET`].
fn text(c: &mut Cursor<'_>, max: u8) -> Vec<u8> {
    let n = c.byte() % max;
    (0..n).map(|_| ALPHABET[usize::from(c.byte()) % ALPHABET.len()]).collect()
}

/// What the script observed, for the accounting check.
#[derive(Default)]
struct Tally {
    fed: usize,
    returned: usize,
    discarded: usize,
}

impl Tally {
    fn outcome(&mut self, r: &Result<Vec<u8>>, other_pending: bool) {
        match r {
            Ok(v) => self.returned += v.len(),
            Err(Error::IncompleteRead { partial, .. }) => self.returned += partial.len(),
            Err(Error::LineTooLong { discarded }) => self.discarded += discarded,
            Err(Error::ConcurrentRead { .. }) => {
                assert!(other_pending, "ConcurrentRead without another pending read");
            }
            Err(Error::LimitOverrun { .. } | Error::InvalidArgument(_) | Error::ConnectionLost) => {
            }
            Err(e) => panic!("unexpected error {e:?}"),
        }
    }
}

fn start<'a>(r: &'a StreamReader, c: &mut Cursor<'_>, sep_store: &'a [Vec<u8>]) -> Read<'a> {
    match c.byte() % 6 {
        0 => Box::pin(r.readline()),
        1 => {
            let seps: Vec<&[u8]> = sep_store.iter().map(Vec::as_slice).collect();
            Box::pin(async move { r.readuntil_any(&seps).await })
        }
        2 => {
            let n = usize::from(c.byte() % 40);
            Box::pin(r.readexactly(n))
        }
        3 => {
            let n = usize::from(c.byte() % 20);
            Box::pin(r.read(n))
        }
        4 => Box::pin(r.read_to_eof()),
        _ => Box::pin(r.readuntil(b";")),
    }
}

fn poll(slot: &mut Option<Read<'_>>, cx: &mut Context<'_>) -> Option<Result<Vec<u8>>> {
    let fut = slot.as_mut()?;
    match fut.as_mut().poll(cx) {
        Poll::Ready(r) => {
            *slot = None;
            Some(r)
        }
        Poll::Pending => None,
    }
}

/// Runs one script. Panics when a check fails.
pub fn run_bytes(data: &[u8]) {
    let mut c = Cursor::new(data);
    let limit = usize::from(c.byte() % 16) + 1;
    let reader = StreamReader::with_limit(limit).unwrap();
    let (fake, transport) = Fake::new();
    reader.set_transport(transport).unwrap();
    // Separators for readuntil_any (possibly an invalid, empty one).
    let seps: Vec<Vec<u8>> = (0..c.byte() % 3).map(|_| text(&mut c, 3)).collect();
    let mut tally = Tally::default();
    let mut eof = false;
    let mut failed = false;
    let mut cx = Context::from_waker(Waker::noop());
    {
        let mut slots: [Option<Read<'_>>; 2] = [None, None];
        let mut steps = 0;
        while let Some(b) = c.next() {
            steps += 1;
            if steps > 400 {
                break;
            }
            let i = usize::from(b & 1);
            match (b >> 1) % 8 {
                0 | 1 => {
                    let chunk = text(&mut c, 24);
                    let r = reader.feed_data(&chunk);
                    if eof {
                        assert!(matches!(r, Err(Error::InvalidState(_))));
                    } else {
                        r.unwrap();
                        tally.fed += chunk.len();
                    }
                }
                2 => {
                    if c.byte() & 3 == 0 {
                        reader.feed_eof();
                        eof = true;
                    }
                }
                3 => {
                    if c.byte() == 0 {
                        reader.set_exception(Error::ConnectionLost);
                        failed = true;
                    }
                }
                4 | 5 => {
                    if slots[i].is_none() {
                        slots[i] = Some(start(&reader, &mut c, &seps));
                        let other = slots[1 - i].is_some();
                        if let Some(r) = poll(&mut slots[i], &mut cx) {
                            check_failed(&r, failed);
                            tally.outcome(&r, other);
                        }
                    }
                }
                6 => {
                    let other = slots[1 - i].is_some();
                    if let Some(r) = poll(&mut slots[i], &mut cx) {
                        check_failed(&r, failed);
                        tally.outcome(&r, other);
                    }
                }
                _ => slots[i] = None,
            }
            check_flow(&fake, limit);
        }
        // No hang: after EOF every pending read completes.
        reader.feed_eof();
        for i in 0..2 {
            if slots[i].is_some() {
                let other = slots[1 - i].is_some();
                let r = poll(&mut slots[i], &mut cx).expect("a read still pending after EOF");
                check_failed(&r, failed);
                tally.outcome(&r, other);
            }
        }
    }
    check_flow(&fake, limit);
    if !failed {
        let mut rest = std::pin::pin!(reader.read_to_eof());
        let Poll::Ready(rest) = rest.as_mut().poll(&mut cx) else {
            panic!("read_to_eof pending after EOF")
        };
        let rest = rest.unwrap();
        assert_eq!(
            tally.fed,
            tally.returned + tally.discarded + rest.len(),
            "bytes were lost or invented"
        );
        assert!(reader.at_eof());
    }
}

fn check_failed(r: &Result<Vec<u8>>, failed: bool) {
    if failed {
        assert!(
            matches!(r, Err(Error::ConnectionLost | Error::InvalidArgument(_))),
            "a read after set_exception returned {r:?}"
        );
    }
}

/// Pauses and resumes alternate, starting with a pause.
fn check_flow(fake: &Fake, _limit: usize) {
    for (i, what) in fake.log().iter().enumerate() {
        assert_eq!(*what, if i % 2 == 0 { "pause" } else { "resume" }, "{:?}", fake.log());
    }
}

/// The reference model: the reads of `ops` over `data` with every byte
/// and EOF already there, computed directly from asyncio's definitions.
#[derive(Clone, Debug)]
pub enum Op {
    Line,
    Until(Vec<Vec<u8>>),
    Exactly(usize),
}

/// An outcome reduced to what chunking cannot change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Data(Vec<u8>),
    Incomplete(Vec<u8>, Option<usize>),
    Overrun,
    TooLong,
    Other(String),
}

impl Outcome {
    pub fn of(r: Result<Vec<u8>>) -> Outcome {
        match r {
            Ok(v) => Outcome::Data(v),
            Err(Error::IncompleteRead { partial, expected }) => {
                Outcome::Incomplete(partial, expected)
            }
            Err(Error::LimitOverrun { .. }) => Outcome::Overrun,
            Err(Error::LineTooLong { .. }) => Outcome::TooLong,
            Err(e) => Outcome::Other(e.to_string()),
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn model_until(rest: &mut &[u8], seps: &[Vec<u8>], limit: usize) -> Outcome {
    let mut sorted: Vec<&Vec<u8>> = seps.iter().collect();
    sorted.sort_by_key(|s| s.len());
    let mut best: Option<(usize, usize)> = None;
    for s in &sorted {
        let found = find(rest, s).filter(|&i| best.is_none_or(|(_, e)| i + s.len() < e));
        if let Some(i) = found {
            best = Some((i, i + s.len()));
        }
    }
    match best {
        Some((s, _)) if s > limit => Outcome::Overrun,
        Some((_, e)) => {
            let out = rest[..e].to_vec();
            *rest = &rest[e..];
            Outcome::Data(out)
        }
        None => {
            let max = sorted.last().map_or(1, |s| s.len());
            if (rest.len() + 1).saturating_sub(max) > limit {
                Outcome::Overrun
            } else {
                let out = rest.to_vec();
                *rest = &[];
                Outcome::Incomplete(out, None)
            }
        }
    }
}

/// The model's outcomes; it stops after a too-long line (what asyncio
/// drops then depends on how much had arrived).
pub fn model(data: &[u8], limit: usize, ops: &[Op]) -> Vec<Outcome> {
    let mut rest = data;
    let mut out = Vec::new();
    for op in ops {
        let o = match op {
            Op::Line => match model_until(&mut rest, &[b"\n".to_vec()], limit) {
                Outcome::Incomplete(partial, _) => Outcome::Data(partial),
                Outcome::Overrun => Outcome::TooLong,
                o => o,
            },
            Op::Until(seps) => model_until(&mut rest, seps, limit),
            Op::Exactly(0) => Outcome::Data(Vec::new()),
            Op::Exactly(n) if rest.len() >= *n => {
                let o = Outcome::Data(rest[..*n].to_vec());
                rest = &rest[*n..];
                o
            }
            Op::Exactly(n) => {
                let o = Outcome::Incomplete(rest.to_vec(), Some(*n));
                rest = &[];
                o
            }
        };
        let stop = o == Outcome::TooLong;
        out.push(o);
        if stop {
            break;
        }
    }
    out
}

/// The same reads on a real reader fed `data` in the pieces `cuts` makes,
/// a piece at a time whenever a read waits, then EOF.
pub fn chunked(data: &[u8], cuts: &[usize], limit: usize, ops: &[Op]) -> Vec<Outcome> {
    let reader = StreamReader::with_limit(limit).unwrap();
    let mut pieces = Vec::new();
    let mut at = 0;
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
    cuts.sort_unstable();
    for c in cuts.into_iter().chain([data.len()]) {
        pieces.push(&data[at..c.max(at)]);
        at = c.max(at);
    }
    let mut pieces = pieces.into_iter();
    let mut cx = Context::from_waker(Waker::noop());
    let mut out = Vec::new();
    for op in ops {
        let mut fut: Read<'_> = match op {
            Op::Line => Box::pin(reader.readline()),
            Op::Until(seps) => {
                let seps: Vec<&[u8]> = seps.iter().map(Vec::as_slice).collect();
                let reader = &reader;
                Box::pin(async move { reader.readuntil_any(&seps).await })
            }
            Op::Exactly(n) => Box::pin(reader.readexactly(*n)),
        };
        let r = loop {
            if let Poll::Ready(r) = fut.as_mut().poll(&mut cx) {
                break r;
            }
            match pieces.next() {
                Some(p) => reader.feed_data(p).unwrap(),
                None => reader.feed_eof(),
            }
        };
        let o = Outcome::of(r);
        let stop = o == Outcome::TooLong;
        out.push(o);
        if stop {
            break;
        }
    }
    out
}

/// Decodes a limit, reads (readline / readuntil / readexactly), a
/// chunking and data (the rest of the bytes) from `bytes`, and checks that
/// the reader fed the chunks agrees with [`model`]. Panics when not.
pub fn model_bytes(bytes: &[u8]) {
    let mut c = Cursor::new(bytes);
    let limit = usize::from(c.byte() % 48) + 1;
    let ops: Vec<Op> = (0..c.byte() % 25)
        .filter_map(|_| match c.byte() % 8 {
            0..=2 => Some(Op::Line),
            3..=5 => {
                let seps: Vec<Vec<u8>> = (0..c.byte() % 3 + 1)
                    .map(|_| text(&mut c, 4))
                    .filter(|s| !s.is_empty())
                    .collect();
                // readuntil_any refuses an empty list: not a read to model.
                (!seps.is_empty()).then_some(Op::Until(seps))
            }
            _ => Some(Op::Exactly(usize::from(c.byte() % 30))),
        })
        .collect();
    let cuts: Vec<usize> = (0..c.byte() % 40).map(|_| usize::from(c.byte())).collect();
    let mut data = Vec::new();
    while let Some(b) = c.next() {
        data.push(ALPHABET[usize::from(b) % ALPHABET.len()]);
    }
    let want = model(&data, limit, &ops);
    let got = chunked(&data, &cuts, limit, &ops);
    assert_eq!(got, want, "data {data:?}, cuts {cuts:?}, limit {limit}, reads {ops:?}");
}
