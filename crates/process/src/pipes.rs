//! The protocols of a child's pipe transports: they forward what each pipe
//! reports to the subprocess transport, tagged with the pipe's fd (asyncio's
//! `ReadSubprocessPipeProto` / `WriteSubprocessPipeProto`).

use std::rc::Rc;

use loop_transports::{BaseProtocol, Protocol, TransportRef};

use crate::transport::SubprocessTransport;

/// The protocol of the stdout or stderr pipe.
#[derive(Debug)]
pub(crate) struct ReadPipeProtocol {
    pub(crate) fd: i32,
    pub(crate) owner: Rc<SubprocessTransport>,
}

impl BaseProtocol for ReadPipeProtocol {
    fn connection_made(&mut self, _: TransportRef) {}

    fn connection_lost(&mut self, error: Option<loop_transports::Error>) {
        self.owner.on_pipe_lost(self.fd, error);
    }
}

impl Protocol for ReadPipeProtocol {
    fn data_received(&mut self, data: &[u8]) {
        self.owner.on_pipe_data(self.fd, data);
    }
}

/// The protocol of the stdin pipe.
#[derive(Debug)]
pub(crate) struct WritePipeProtocol {
    pub(crate) owner: Rc<SubprocessTransport>,
}

impl BaseProtocol for WritePipeProtocol {
    fn connection_made(&mut self, _: TransportRef) {}

    fn connection_lost(&mut self, error: Option<loop_transports::Error>) {
        self.owner.on_pipe_lost(0, error);
    }

    fn pause_writing(&mut self) {
        self.owner.on_stdin_flow(true);
    }

    fn resume_writing(&mut self) {
        self.owner.on_stdin_flow(false);
    }
}

impl Protocol for WritePipeProtocol {}
