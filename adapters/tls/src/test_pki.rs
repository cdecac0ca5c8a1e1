//! A private PKI for tests (feature `test-pki`): a CA made at run time and a `localhost`
//! server certificate it signed, with the rustls server configuration that presents it. Tests
//! of `wss://` trust the CA with [`TlsConfig::with_ca_pem`](crate::TlsConfig::with_ca_pem) and
//! check that the default roots refuse it. Never for production: the keys live in memory and
//! nothing revokes them.

use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::ServerConfig;

use crate::TlsConfig;

/// A CA and a server configuration with a `localhost` certificate it signed.
///
/// ```
/// use std::sync::Arc;
/// use responses_ws_tls::rustls::{ClientConnection, ServerConnection};
/// use responses_ws_tls::{server_name, test_pki, TlsConfig};
///
/// // A whole TLS handshake in memory: the client trusts the test CA and accepts `localhost`.
/// let pki = test_pki::localhost();
/// let client_config = TlsConfig::with_ca_pem(pki.ca_pem.clone()).client_config()?;
/// let mut client = ClientConnection::new(client_config, server_name("localhost")?)?;
/// let mut server = ServerConnection::new(Arc::clone(&pki.server_config))?;
/// while client.is_handshaking() || server.is_handshaking() {
///     let mut wire = Vec::new();
///     client.write_tls(&mut wire)?;
///     server.read_tls(&mut wire.as_slice())?;
///     server.process_new_packets()?;
///     wire.clear();
///     server.write_tls(&mut wire)?;
///     client.read_tls(&mut wire.as_slice())?;
///     client.process_new_packets()?;
/// }
/// assert!(client.peer_certificates().is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct TestPki {
    /// The CA's certificate, PEM: what a client must trust.
    pub ca_pem: String,
    /// A rustls server configuration presenting the `localhost` certificate, with the crypto
    /// provider the client side uses (whichever feature chose it).
    pub server_config: Arc<ServerConfig>,
}

/// Makes a new CA and a `localhost` certificate.
///
/// # Panics
///
/// When rcgen or rustls cannot make them (not expected on any supported platform); this is
/// test support, where a panic is the report.
///
/// ```
/// use responses_ws_tls::{test_pki, TlsConfig};
///
/// let pki = test_pki::localhost();
/// assert!(TlsConfig::with_ca_pem(pki.ca_pem).client_config().is_ok());
/// ```
pub fn localhost() -> TestPki {
    let ca_key = KeyPair::generate().expect("a CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "responses-ws test CA");
    let ca = ca_params.self_signed(&ca_key).expect("a CA certificate");

    let leaf_key = KeyPair::generate().expect("a server key");
    let leaf = CertificateParams::new(vec!["localhost".to_owned()])
        .expect("server parameters")
        .signed_by(&leaf_key, &ca, &ca_key)
        .expect("a server certificate");

    let provider = Arc::clone(
        TlsConfig::default()
            .client_config()
            .expect("the default client configuration")
            .crypto_provider(),
    );
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let server_config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("the provider's protocol versions")
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone()], key)
        .expect("the server certificate and key");
    TestPki {
        ca_pem: ca.pem(),
        server_config: Arc::new(server_config),
    }
}
