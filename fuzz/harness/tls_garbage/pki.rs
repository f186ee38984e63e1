//! Certificates and rustls configurations for the TLS harness, made once
//! per process: a CA and a leaf for `localhost`, and client and server
//! configurations per protocol-version choice. Session resumption and
//! tickets are off, so one input behaves the same whatever ran before it.

use std::sync::{Arc, OnceLock};

use loop_transports::rustls::client::Resumption;
use loop_transports::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use loop_transports::rustls::server::NoServerSessionStorage;
use loop_transports::rustls::{self, ClientConfig, RootCertStore, ServerConfig};
use loop_transports::tls::crypto_provider;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};

/// The name the leaf certificate is for.
pub const SERVER_NAME: &str = "localhost";

/// Which TLS versions a configuration allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ver {
    Both,
    V12,
    V13,
}

impl Ver {
    /// Whether two configurations share a version.
    pub fn meets(self, other: Ver) -> bool {
        self == Ver::Both || other == Ver::Both || self == other
    }

    fn index(self) -> usize {
        match self {
            Ver::Both => 0,
            Ver::V12 => 1,
            Ver::V13 => 2,
        }
    }

    fn versions(self) -> &'static [&'static rustls::SupportedProtocolVersion] {
        static BOTH: [&rustls::SupportedProtocolVersion; 2] =
            [&rustls::version::TLS13, &rustls::version::TLS12];
        static V12: [&rustls::SupportedProtocolVersion; 1] = [&rustls::version::TLS12];
        static V13: [&rustls::SupportedProtocolVersion; 1] = [&rustls::version::TLS13];
        match self {
            Ver::Both => &BOTH,
            Ver::V12 => &V12,
            Ver::V13 => &V13,
        }
    }
}

struct Pki {
    ca: CertificateDer<'static>,
    leaf: CertificateDer<'static>,
    key: Vec<u8>,
}

fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(rcgen::DnType::CommonName, "tulip fuzz CA");
        let ca_key = KeyPair::generate().expect("a CA key");
        let ca = ca_params.self_signed(&ca_key).expect("a CA certificate");
        let issuer = Issuer::new(ca_params, ca_key);
        let leaf_params =
            CertificateParams::new(vec![SERVER_NAME.to_owned()]).expect("leaf parameters");
        let leaf_key = KeyPair::generate().expect("a leaf key");
        let leaf = leaf_params.signed_by(&leaf_key, &issuer).expect("a leaf certificate");
        Pki { ca: ca.der().clone(), leaf: leaf.der().clone(), key: leaf_key.serialize_der() }
    })
}

/// A client configuration trusting the CA.
pub fn client_config(v: Ver) -> Arc<ClientConfig> {
    static CONFIGS: OnceLock<[Arc<ClientConfig>; 3]> = OnceLock::new();
    let configs = CONFIGS.get_or_init(|| {
        [Ver::Both, Ver::V12, Ver::V13].map(|v| {
            let mut roots = RootCertStore::empty();
            roots.add(pki().ca.clone()).expect("the CA is a valid root");
            let mut c = ClientConfig::builder_with_provider(crypto_provider())
                .with_protocol_versions(v.versions())
                .expect("supported versions")
                .with_root_certificates(roots)
                .with_no_client_auth();
            c.resumption = Resumption::disabled();
            Arc::new(c)
        })
    });
    configs[v.index()].clone()
}

/// A server configuration serving the leaf.
pub fn server_config(v: Ver) -> Arc<ServerConfig> {
    static CONFIGS: OnceLock<[Arc<ServerConfig>; 3]> = OnceLock::new();
    let configs = CONFIGS.get_or_init(|| {
        [Ver::Both, Ver::V12, Ver::V13].map(|v| {
            let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki().key.clone()));
            let mut c = ServerConfig::builder_with_provider(crypto_provider())
                .with_protocol_versions(v.versions())
                .expect("supported versions")
                .with_no_client_auth()
                .with_single_cert(vec![pki().leaf.clone()], key)
                .expect("the leaf and its key match");
            c.session_storage = Arc::new(NoServerSessionStorage {});
            c.send_tls13_tickets = 0;
            Arc::new(c)
        })
    });
    configs[v.index()].clone()
}
