//! A per-loop resolver: the `getaddrinfo` behind every name a loop's
//! transports resolve, replaceable per loop (a cache, a DNS client of your
//! own, a fake in tests).

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use loop_core::{Loop, LoopExtension};

use crate::dns::{AddrInfo, AddrInfoHints};
use crate::error::Result;

/// The future a [`Resolver`] returns.
pub type ResolveFuture = Pin<Box<dyn Future<Output = Result<Vec<AddrInfo>>>>>;

/// Resolves names for one loop (asyncio's `loop.getaddrinfo`, which a loop
/// subclass may override).
///
/// Installed with [`NetExt::set_resolver`](crate::NetExt::set_resolver),
/// it answers [`NetExt::getaddrinfo`](crate::NetExt::getaddrinfo) and every
/// name `create_connection`, `create_server`, `create_datagram_endpoint`
/// and `sock_connect` resolve. Literal addresses (`"127.0.0.1"`, `"::1"`)
/// never reach it, as in asyncio. Without one, the system's `getaddrinfo`
/// runs on the loop's default executor.
pub trait Resolver {
    /// Resolves `host` (`None`: the wildcard, with `AI_PASSIVE`) and `port`
    /// as `getaddrinfo` would, honouring `hints` (family, socket type,
    /// flags). An empty answer is reported to the caller as "no address".
    fn getaddrinfo(
        &self,
        lp: &Loop,
        host: Option<String>,
        port: u16,
        hints: AddrInfoHints,
    ) -> ResolveFuture;
}

/// The loop's extension slot holding its resolver.
pub(crate) struct ResolverSlot(pub(crate) Rc<dyn Resolver>);

impl LoopExtension for ResolverSlot {}

/// The resolver installed on `lp`, if any.
pub(crate) fn installed(lp: &Loop) -> Option<Rc<dyn Resolver>> {
    lp.extension::<ResolverSlot>().map(|slot| slot.0.clone())
}
