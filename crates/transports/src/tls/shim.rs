//! [`Shim`]: the protocol of the transport beneath a TLS layer, which
//! forwards every callback to the layer.

use std::rc::Rc;

use super::layer::TlsTransport;
use crate::error::Error;
use crate::protocol::{BaseProtocol, Protocol};
use crate::transport::TransportRef;

/// The protocol of the transport beneath a [`TlsTransport`]: forwards
/// every callback to the layer.
pub(crate) struct Shim(pub(crate) Rc<TlsTransport>);

impl BaseProtocol for Shim {
    fn connection_made(&mut self, transport: TransportRef) {
        if self.0.lower.borrow().is_none() {
            self.0.attach(crate::transport::lower_of(&transport));
        }
    }

    fn connection_lost(&mut self, error: Option<Error>) {
        self.0.on_lower_lost(error);
    }

    fn pause_writing(&mut self) {
        self.0.signal_app(true);
    }

    fn resume_writing(&mut self) {
        self.0.signal_app(false);
    }
}

impl Protocol for Shim {
    fn data_received(&mut self, data: &[u8]) {
        self.0.on_data(data);
    }

    fn eof_received(&mut self) -> bool {
        self.0.on_lower_eof();
        false
    }
}
