//! `StreamReaderProtocol`: the protocol between a transport and a
//! reader/writer pair (asyncio's `StreamReaderProtocol`): it feeds received
//! bytes, EOF and errors to the reader and flow-control callbacks to the
//! writer.

use std::fmt;
use std::rc::Rc;

use loop_core::WeakLoop;
use loop_transports::{BaseProtocol, Protocol, TransportRef};

use crate::client::{self, ClientHandler};
use crate::error::Error;
use crate::feed::Feed;
use crate::flow::Flow;
use crate::reader::StreamReader;
use crate::writer::StreamWriter;

/// A [`Protocol`] that feeds a [`StreamReader`] and tells a
/// [`StreamWriter`] when to wait.
///
/// The factories use it; use it directly to put streams over a transport
/// made some other way:
///
/// ```
/// # use loop_streams::{StreamReader, StreamReaderProtocol, StreamWriter};
/// # use loop_transports::TransportRef;
/// # async fn demo(lp: loop_core::Loop) -> loop_streams::Result<()> {
/// use loop_transports::NetExt;
/// let reader = StreamReader::new();
/// let proto = StreamReaderProtocol::new(Some(&reader));
/// let (transport, proto) = lp
///     .create_connection(move || proto, "127.0.0.1", 8888, Default::default())
///     .await?;
/// let writer = StreamWriter::new(transport, &proto.borrow());
/// # let _ = (reader, writer); Ok(()) }
/// ```
///
/// # Callbacks
///
/// `connection_made` sets the reader's transport (so the reader can pause
/// it); `data_received` feeds the reader; `eof_received` feeds EOF and
/// keeps the transport open (the writer may still write: a half-closed
/// connection); `connection_lost` feeds EOF — or stores the error as the
/// reader's exception — and ends every `drain` and `wait_closed`.
pub struct StreamReaderProtocol {
    feed: Option<Rc<Feed>>,
    flow: Rc<Flow>,
    client: Option<ClientHook>,
}

/// A server connection's reader, waiting for `connection_made`, and the
/// callback that gets it.
struct ClientHook {
    lp: WeakLoop,
    reader: StreamReader,
    handler: ClientHandler,
}

impl StreamReaderProtocol {
    /// A protocol feeding `reader` (or none: a write-only stream).
    pub fn new(reader: Option<&StreamReader>) -> Self {
        StreamReaderProtocol {
            feed: reader.map(|r| r.feed().clone()),
            flow: Rc::default(),
            client: None,
        }
    }

    /// A server connection's protocol: on `connection_made` it makes the
    /// writer and runs `handler` with the pair.
    pub(crate) fn for_client(lp: WeakLoop, reader: StreamReader, handler: ClientHandler) -> Self {
        StreamReaderProtocol {
            feed: Some(reader.feed().clone()),
            flow: Rc::default(),
            client: Some(ClientHook { lp, reader, handler }),
        }
    }

    pub(crate) fn feed(&self) -> Option<&Rc<Feed>> {
        self.feed.as_ref()
    }

    pub(crate) fn flow(&self) -> &Rc<Flow> {
        &self.flow
    }
}

impl BaseProtocol for StreamReaderProtocol {
    fn connection_made(&mut self, transport: TransportRef) {
        if let Some(feed) = &self.feed {
            if let Err(e) = feed.set_transport(transport.clone()) {
                tracing::warn!(target: "tulip", "StreamReaderProtocol: {e}");
            }
        }
        if let Some(hook) = self.client.take() {
            let mut reader = hook.reader;
            let writer = StreamWriter::new(transport.clone(), self);
            reader.set_guard(writer.link());
            client::start(&hook.lp, &hook.handler, reader, writer, &transport);
        }
    }

    fn connection_lost(&mut self, error: Option<loop_transports::Error>) {
        if let Some(feed) = &self.feed {
            match &error {
                None => feed.feed_eof(),
                Some(e) => feed.set_exception(Error::Transport(e.clone())),
            }
            feed.detach_transport();
        }
        self.flow.connection_lost(error);
    }

    fn pause_writing(&mut self) {
        self.flow.pause_writing();
    }

    fn resume_writing(&mut self) {
        self.flow.resume_writing();
    }
}

impl Protocol for StreamReaderProtocol {
    fn data_received(&mut self, data: &[u8]) {
        if let Some(feed) = &self.feed {
            // The transport sends no data after EOF; a reader fed EOF by
            // hand just ignores what follows.
            let _ = feed.feed_data(data);
        }
    }

    fn eof_received(&mut self) -> bool {
        if let Some(feed) = &self.feed {
            feed.feed_eof();
        }
        true
    }
}

impl fmt::Debug for StreamReaderProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamReaderProtocol")
            .field("has_reader", &self.feed.is_some())
            .field("paused", &self.flow.is_paused())
            .field("lost", &self.flow.lost().is_some())
            .finish()
    }
}
