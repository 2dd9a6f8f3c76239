//! An https front for a plain-http test server under every host name: a certificate
//! authority made for this run only signs, at the first handshake that asks for a name (SNI),
//! a certificate for that name; every connection is then forwarded byte for byte to the
//! server behind.
//!
//! The contract run puts mock-looker behind it, with [`crate::dns_catch_all`] resolving every
//! name to 127.0.0.1 and the server trusting the authority through `SSL_CERT_FILE`: whatever
//! Looker host a request names, a Looker answers there.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

pub struct TlsFront {
    /// The authority's certificate (PEM): what a client must trust to call the front.
    pub authority_pem: String,
    accepting: Vec<JoinHandle<()>>,
}

impl TlsFront {
    /// Listens on each of `listen` and forwards to `behind`.
    pub async fn start(listen: &[SocketAddr], behind: SocketAddr) -> Self {
        latch_connector::egress::install_crypto_provider();
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("parameters");
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        let authority = CertifiedIssuer::self_signed(params, KeyPair::generate().expect("a key"))
            .expect("the authority's certificate");
        let authority_pem = authority.pem();
        let config = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(CertificatePerName {
                authority,
                minted: Mutex::new(HashMap::new()),
            }));
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let mut accepting = Vec::new();
        for address in listen {
            let listener = TcpListener::bind(address)
                .await
                .unwrap_or_else(|error| panic!("the TLS front listens on {address}: {error}"));
            accepting.push(tokio::spawn(forward(listener, acceptor.clone(), behind)));
        }
        Self {
            authority_pem,
            accepting,
        }
    }
}

async fn forward(listener: TcpListener, acceptor: TlsAcceptor, behind: SocketAddr) {
    while let Ok((client, _)) = listener.accept().await {
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            // A handshake the client abandons, or a server that hung up, ends only this
            // connection.
            let Ok(mut client) = acceptor.accept(client).await else {
                return;
            };
            let Ok(mut upstream) = TcpStream::connect(behind).await else {
                return;
            };
            let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
        });
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        for task in &self.accepting {
            task.abort();
        }
    }
}

/// Signs a certificate for each name a client asks for, once.
struct CertificatePerName {
    authority: CertifiedIssuer<'static, KeyPair>,
    minted: Mutex<HashMap<String, Arc<CertifiedKey>>>,
}

impl CertificatePerName {
    fn mint(&self, name: &str) -> Option<Arc<CertifiedKey>> {
        let key = KeyPair::generate().ok()?;
        let certificate = CertificateParams::new(vec![name.to_string()])
            .ok()?
            .signed_by(&key, &self.authority)
            .ok()?;
        let private = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let signing = rustls::crypto::ring::sign::any_supported_type(&private).ok()?;
        Some(Arc::new(CertifiedKey::new(
            vec![certificate.der().clone(), self.authority.der().clone()],
            signing,
        )))
    }
}

impl ResolvesServerCert for CertificatePerName {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let name = hello.server_name()?.to_ascii_lowercase();
        let mut minted = self.minted.lock().unwrap();
        if let Some(known) = minted.get(&name) {
            return Some(known.clone());
        }
        let fresh = self.mint(&name)?;
        minted.insert(name, fresh.clone());
        Some(fresh)
    }
}

impl fmt::Debug for CertificatePerName {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("CertificatePerName")
    }
}
