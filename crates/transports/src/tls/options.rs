//! TLS options: asyncio's `ssl=`, `server_hostname=`,
//! `ssl_handshake_timeout=` and `ssl_shutdown_timeout=`, as one value per
//! side ([`TlsConnect`] for clients, [`TlsAccept`] for servers).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig,
    SignatureScheme,
};

use crate::error::{Error, Result};

/// asyncio's default `ssl_handshake_timeout`: 60 seconds.
pub const DEFAULT_TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(60);

/// asyncio's default `ssl_shutdown_timeout`: 30 seconds.
pub const DEFAULT_TLS_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// The crypto provider of every configuration this crate builds: `ring`.
pub fn crypto_provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// TLS for the client side of a connection (asyncio's `ssl=` on
/// `create_connection`, or `start_tls` with `server_side=False`).
///
/// The certificate the server presents must chain to the configuration's
/// roots *and* name the server: by default the host given to
/// `create_connection`, or the name set with
/// [`server_hostname`](TlsConnect::server_hostname). Hostname checking is
/// turned off only by building the options with
/// [`dangerous_no_hostname_check`](TlsConnect::dangerous_no_hostname_check);
/// an empty server name is an error, never a way to turn it off.
#[derive(Clone, Debug)]
pub struct TlsConnect {
    pub(crate) config: Arc<ClientConfig>,
    pub(crate) server_hostname: Option<String>,
    pub(crate) check_hostname: bool,
    pub(crate) handshake_timeout: Duration,
    pub(crate) shutdown_timeout: Duration,
}

impl TlsConnect {
    /// Options using `config` (a rustls client configuration: roots,
    /// client certificate, ALPN protocols, versions…).
    pub fn new(config: Arc<ClientConfig>) -> Self {
        TlsConnect {
            config,
            server_hostname: None,
            check_hostname: true,
            handshake_timeout: DEFAULT_TLS_HANDSHAKE_TIMEOUT,
            shutdown_timeout: DEFAULT_TLS_SHUTDOWN_TIMEOUT,
        }
    }

    /// asyncio's `ssl=True`: a default client configuration trusting the
    /// system's root certificates (read with `rustls-native-certs` once per
    /// process), TLS 1.2 and 1.3, the `ring` provider.
    ///
    /// # Errors
    ///
    /// [`Error::TlsConfig`] when no usable root certificate was found.
    pub fn system_roots() -> Result<Self> {
        static CONFIG: OnceLock<std::result::Result<Arc<ClientConfig>, String>> = OnceLock::new();
        let config = CONFIG.get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            let mut roots = RootCertStore::empty();
            let (added, _ignored) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                let why = found.errors.first().map(|e| format!(": {e}")).unwrap_or_default();
                return Err(format!("no system root certificates found{why}"));
            }
            client_config(roots).map_err(|e| e.to_string())
        });
        match config {
            Ok(c) => Ok(TlsConnect::new(c.clone())),
            Err(e) => Err(Error::TlsConfig(e.clone())),
        }
    }

    /// Options trusting exactly `roots` (TLS 1.2 and 1.3, `ring`).
    ///
    /// # Errors
    ///
    /// [`Error::TlsConfig`] when rustls refuses the configuration.
    pub fn with_roots(roots: RootCertStore) -> Result<Self> {
        Ok(TlsConnect::new(client_config(roots)?))
    }

    /// **Turns hostname checking off.** The certificate chain is still
    /// verified against `roots`, but a certificate for any name is
    /// accepted — asyncio's `check_hostname = False`. Anyone holding a
    /// certificate from one of `roots` can then impersonate the server.
    /// The server name, if one is known, is still sent (SNI).
    ///
    /// # Errors
    ///
    /// [`Error::TlsConfig`] when rustls refuses the roots.
    pub fn dangerous_no_hostname_check(roots: RootCertStore) -> Result<Self> {
        let provider = crypto_provider();
        let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .map_err(|e| Error::TlsConfig(e.to_string()))?;
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::TlsConfig(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyName(inner)))
            .with_no_client_auth();
        config.enable_sni = true;
        let mut opts = TlsConnect::new(Arc::new(config));
        opts.check_hostname = false;
        Ok(opts)
    }

    /// The name sent in SNI and checked against the server's certificate
    /// (asyncio's `server_hostname`), instead of the host connected to.
    /// Required when there is no host: Unix sockets, `sock=`, `start_tls`.
    pub fn server_hostname(mut self, name: impl Into<String>) -> Self {
        self.server_hostname = Some(name.into());
        self
    }

    /// How long the handshake may take (default 60 s).
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// How long to wait for the peer's close_notify after ours before
    /// aborting (default 30 s).
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// The rustls configuration.
    pub fn config(&self) -> &Arc<ClientConfig> {
        &self.config
    }

    /// The name to verify: the explicit server name, else `host`.
    pub(crate) fn server_name(&self, host: Option<&str>) -> Result<ServerName<'static>> {
        let name = match (&self.server_hostname, host) {
            (Some(n), _) => n.as_str(),
            (None, Some(h)) if !h.is_empty() => h,
            _ if !self.check_hostname => {
                return Ok(ServerName::IpAddress(std::net::IpAddr::from([0u8, 0, 0, 0]).into()));
            }
            _ => {
                return Err(Error::invalid(
                    "server_hostname is required for TLS when there is no host to check the \
                     certificate against",
                ));
            }
        };
        if name.is_empty() {
            return Err(Error::invalid(
                "server_hostname is empty; hostname checking is turned off only with \
                 TlsConnect::dangerous_no_hostname_check",
            ));
        }
        ServerName::try_from(name.to_owned())
            .map_err(|e| Error::invalid(format!("server_hostname {name:?}: {e}")))
    }
}

/// TLS for the server side of a connection (asyncio's `ssl=` on
/// `create_server`, `connect_accepted_socket`, or `start_tls` with
/// `server_side=True`).
#[derive(Clone, Debug)]
pub struct TlsAccept {
    pub(crate) config: Arc<ServerConfig>,
    pub(crate) handshake_timeout: Duration,
    pub(crate) shutdown_timeout: Duration,
}

impl TlsAccept {
    /// Options using `config` (a rustls server configuration: certificate
    /// chain and key, client authentication, ALPN protocols…).
    pub fn new(config: Arc<ServerConfig>) -> Self {
        TlsAccept {
            config,
            handshake_timeout: DEFAULT_TLS_HANDSHAKE_TIMEOUT,
            shutdown_timeout: DEFAULT_TLS_SHUTDOWN_TIMEOUT,
        }
    }

    /// Options serving `chain` (leaf first) with `key`, no client
    /// authentication, TLS 1.2 and 1.3, the `ring` provider.
    ///
    /// # Errors
    ///
    /// [`Error::TlsConfig`] when the key does not fit the certificate or
    /// is not supported.
    pub fn with_single_cert(
        chain: Vec<CertificateDer<'static>>,
        key: rustls::pki_types::PrivateKeyDer<'static>,
    ) -> Result<Self> {
        let config = ServerConfig::builder_with_provider(crypto_provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::TlsConfig(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| Error::TlsConfig(e.to_string()))?;
        Ok(TlsAccept::new(Arc::new(config)))
    }

    /// How long the handshake may take (default 60 s).
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// How long to wait for the peer's close_notify after ours before
    /// aborting (default 30 s).
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// The rustls configuration.
    pub fn config(&self) -> &Arc<ServerConfig> {
        &self.config
    }
}

/// Which side of the handshake [`start_tls`](crate::NetExt::start_tls)
/// plays (asyncio's `server_side`).
#[derive(Clone, Debug)]
pub enum TlsRole {
    /// The client side.
    Client(TlsConnect),
    /// The server side.
    Server(TlsAccept),
}

impl From<TlsConnect> for TlsRole {
    fn from(c: TlsConnect) -> Self {
        TlsRole::Client(c)
    }
}

impl From<TlsAccept> for TlsRole {
    fn from(a: TlsAccept) -> Self {
        TlsRole::Server(a)
    }
}

fn client_config(roots: RootCertStore) -> Result<Arc<ClientConfig>> {
    let config = ClientConfig::builder_with_provider(crypto_provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::TlsConfig(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Verifies the chain with webpki but accepts a certificate for any name.
#[derive(Debug)]
struct AnyName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        // webpki checks the name last, after the chain: a name error means
        // the chain verified.
        match self.0.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}
