//! Test certificates made at test time with rcgen, and TLS options built
//! from them.

use std::path::PathBuf;
use std::sync::Arc;

use loop_transports::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use loop_transports::rustls::{self, ClientConfig, RootCertStore, ServerConfig};
use loop_transports::tls::crypto_provider;
use loop_transports::{TlsAccept, TlsConnect};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};

/// A CA and a leaf certificate it signed for `localhost` and 127.0.0.1,
/// also written as PEM files for external peers.
pub struct Pki {
    pub ca: CertificateDer<'static>,
    pub leaf: CertificateDer<'static>,
    pub key: Vec<u8>,
    pub ca_pem: PathBuf,
    pub cert_pem: PathBuf,
    pub key_pem: PathBuf,
}

/// Which TLS versions a configuration allows.
#[derive(Clone, Copy, Debug)]
pub enum Ver {
    Both,
    V12,
    V13,
}

fn versions(v: Ver) -> &'static [&'static rustls::SupportedProtocolVersion] {
    static BOTH: [&rustls::SupportedProtocolVersion; 2] =
        [&rustls::version::TLS13, &rustls::version::TLS12];
    static V12: [&rustls::SupportedProtocolVersion; 1] = [&rustls::version::TLS12];
    static V13: [&rustls::SupportedProtocolVersion; 1] = [&rustls::version::TLS13];
    match v {
        Ver::Both => &BOTH,
        Ver::V12 => &V12,
        Ver::V13 => &V13,
    }
}

impl Pki {
    /// A fresh CA and leaf for `names`.
    pub fn new(names: &[&str]) -> Pki {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(rcgen::DnType::CommonName, format!("tulip test CA {n}"));
        let ca_key = KeyPair::generate().unwrap();
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let names: Vec<String> = names.iter().map(|s| (*s).to_owned()).collect();
        let leaf_params = CertificateParams::new(names).unwrap();
        let leaf_key = KeyPair::generate().unwrap();
        let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();
        let dir =
            std::env::temp_dir().join(format!("tulip-streams-tls-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (ca_pem, cert_pem, key_pem) =
            (dir.join("ca.pem"), dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&ca_pem, ca_cert.pem()).unwrap();
        std::fs::write(&cert_pem, leaf.pem()).unwrap();
        std::fs::write(&key_pem, leaf_key.serialize_pem()).unwrap();
        Pki {
            ca: ca_cert.der().clone(),
            leaf: leaf.der().clone(),
            key: leaf_key.serialize_der(),
            ca_pem,
            cert_pem,
            key_pem,
        }
    }

    /// For `localhost` and 127.0.0.1.
    pub fn localhost() -> Pki {
        Pki::new(&["localhost", "127.0.0.1"])
    }

    pub fn roots(&self) -> RootCertStore {
        let mut roots = RootCertStore::empty();
        roots.add(self.ca.clone()).unwrap();
        roots
    }

    pub fn server_config(&self, v: Ver, alpn: &[&[u8]]) -> Arc<ServerConfig> {
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.clone()));
        let mut c = ServerConfig::builder_with_provider(crypto_provider())
            .with_protocol_versions(versions(v))
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![self.leaf.clone()], key)
            .unwrap();
        c.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Arc::new(c)
    }

    pub fn server(&self, v: Ver) -> TlsAccept {
        TlsAccept::new(self.server_config(v, &[]))
    }

    pub fn client_config(&self, v: Ver, alpn: &[&[u8]]) -> Arc<ClientConfig> {
        let mut c = ClientConfig::builder_with_provider(crypto_provider())
            .with_protocol_versions(versions(v))
            .unwrap()
            .with_root_certificates(self.roots())
            .with_no_client_auth();
        c.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Arc::new(c)
    }

    pub fn client(&self, v: Ver) -> TlsConnect {
        TlsConnect::new(self.client_config(v, &[]))
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        if let Some(dir) = self.ca_pem.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
