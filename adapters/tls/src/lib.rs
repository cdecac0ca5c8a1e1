//! # responses-ws-tls
//!
//! The one place where the responses-ws adapters build their rustls client configuration:
//! which roots to trust (the webpki roots by default, the platform's with the `native-roots`
//! feature, or your own CA), and which crypto provider to use — chosen explicitly (`ring` by
//! default, `aws-lc-rs` by feature), never taken from a process-wide default.
//!
//! ```
//! use responses_ws_tls::TlsConfig;
//!
//! let tls = TlsConfig::default(); // webpki roots, ring
//! let config = tls.client_config().unwrap();
//! assert_eq!(config.alpn_protocols, Vec::<Vec<u8>>::new()); // plain HTTP/1.1 upgrade
//!
//! // A private CA (PEM), e.g. for a test server.
//! let custom = TlsConfig::with_ca_pem("not a certificate");
//! assert!(custom.client_config().is_err());
//! ```

use std::fmt;
use std::sync::Arc;

#[cfg(not(any(feature = "ring", feature = "aws-lc-rs")))]
compile_error!(
    "responses-ws-tls needs a crypto provider: enable the `ring` or the `aws-lc-rs` feature"
);

use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};

pub use rustls;

#[cfg(feature = "test-pki")]
pub mod test_pki;

/// Which certificate authorities to trust.
///
/// ```
/// # use responses_ws_tls::{Roots, TlsConfig, TlsError};
/// // A private CA's certificates, already in DER form.
/// # let der = responses_ws_tls::rustls::pki_types::CertificateDer::from(Vec::new());
/// let mut tls = TlsConfig::default();
/// tls.roots = Roots::Der(vec![der]);
/// // An empty certificate is refused when the configuration is built, not at connect time.
/// assert!(matches!(tls.client_config(), Err(TlsError::BadCertificate(_))));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub enum Roots {
    /// Mozilla's roots, compiled in (the `webpki-roots` crate).
    #[default]
    WebPki,
    /// The platform's certificate store (feature `native-roots`).
    #[cfg(feature = "native-roots")]
    Native,
    /// Only the CA certificates of this PEM text (a private or test CA).
    Pem(Vec<u8>),
    /// Only these CA certificates (DER).
    Der(Vec<CertificateDer<'static>>),
}

/// Which crypto implementation rustls uses.
///
/// ```
/// # use responses_ws_tls::{Provider, TlsConfig};
/// let mut tls = TlsConfig::default();
/// tls.provider = Provider::default();
/// assert!(tls.client_config().is_ok());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Provider {
    /// `ring` (feature `ring`, the default).
    #[cfg(feature = "ring")]
    Ring,
    /// `aws-lc-rs` (feature `aws-lc-rs`).
    #[cfg(feature = "aws-lc-rs")]
    AwsLcRs,
}

impl Default for Provider {
    fn default() -> Self {
        #[cfg(feature = "ring")]
        return Provider::Ring;
        #[cfg(all(not(feature = "ring"), feature = "aws-lc-rs"))]
        return Provider::AwsLcRs;
    }
}

impl Provider {
    fn crypto(self) -> CryptoProvider {
        match self {
            #[cfg(feature = "ring")]
            Provider::Ring => rustls::crypto::ring::default_provider(),
            #[cfg(feature = "aws-lc-rs")]
            Provider::AwsLcRs => rustls::crypto::aws_lc_rs::default_provider(),
        }
    }
}

/// TLS settings of a `wss://` connection.
///
/// ```
/// # use responses_ws_tls::{Roots, TlsConfig};
/// let tls = TlsConfig::default();
/// assert!(matches!(tls.roots, Roots::WebPki));
/// let config = tls.client_config()?;
/// assert!(!config.alpn_protocols.iter().any(|protocol| protocol == b"h2"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct TlsConfig {
    /// The trusted roots.
    pub roots: Roots,
    /// The crypto provider.
    pub provider: Provider,
}

/// Why a TLS configuration could not be built.
///
/// ```
/// # use responses_ws_tls::{TlsConfig, TlsError};
/// let error = TlsConfig::with_ca_pem("").client_config().unwrap_err();
/// assert!(matches!(error, TlsError::NoCertificates));
/// assert_eq!(error.to_string(), "the PEM text holds no certificate");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum TlsError {
    /// The PEM text holds no usable certificate.
    NoCertificates,
    /// A certificate could not be read or added.
    BadCertificate(String),
    /// The platform's store could not be read.
    NativeRoots(String),
    /// rustls refused the configuration.
    Rustls(rustls::Error),
    /// The host is not a valid TLS server name.
    InvalidServerName(String),
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::NoCertificates => f.write_str("the PEM text holds no certificate"),
            TlsError::BadCertificate(why) => write!(f, "bad CA certificate: {why}"),
            TlsError::NativeRoots(why) => {
                write!(f, "cannot read the platform's certificates: {why}")
            }
            TlsError::Rustls(error) => write!(f, "TLS configuration refused: {error}"),
            TlsError::InvalidServerName(host) => {
                write!(f, "{host:?} is not a valid TLS server name")
            }
        }
    }
}

impl std::error::Error for TlsError {}

impl TlsConfig {
    /// Trusts only the CA certificates of `pem`.
    ///
    /// ```
    /// # use responses_ws_tls::{Roots, TlsConfig};
    /// let tls = TlsConfig::with_ca_pem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
    /// assert!(matches!(tls.roots, Roots::Pem(_)));
    /// assert!(tls.client_config().is_err()); // not a certificate
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_ca_pem(pem: impl Into<Vec<u8>>) -> Self {
        TlsConfig {
            roots: Roots::Pem(pem.into()),
            ..TlsConfig::default()
        }
    }

    /// The rustls client configuration: certificates verified against the roots, TLS 1.2 and
    /// 1.3 with the chosen provider's safe defaults.
    ///
    /// ```
    /// # use responses_ws_tls::TlsConfig;
    /// let config = TlsConfig::default().client_config()?;
    /// assert!(config.alpn_protocols.is_empty()); // a plain HTTP/1.1 upgrade
    /// assert!(config.enable_sni);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn client_config(&self) -> Result<Arc<ClientConfig>, TlsError> {
        let roots = self.root_store()?;
        let config = ClientConfig::builder_with_provider(Arc::new(self.provider.crypto()))
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Rustls)?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Arc::new(config))
    }

    fn root_store(&self) -> Result<RootCertStore, TlsError> {
        let mut store = RootCertStore::empty();
        match &self.roots {
            Roots::WebPki => store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
            #[cfg(feature = "native-roots")]
            Roots::Native => {
                let found = rustls_native_certs::load_native_certs();
                if found.certs.is_empty() {
                    let why = found
                        .errors
                        .first()
                        .map(ToString::to_string)
                        .unwrap_or_default();
                    return Err(TlsError::NativeRoots(why));
                }
                store.add_parsable_certificates(found.certs);
            }
            Roots::Pem(pem) => {
                let certs = CertificateDer::pem_slice_iter(pem)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| TlsError::BadCertificate(e.to_string()))?;
                add_all(&mut store, certs)?;
            }
            Roots::Der(certs) => add_all(&mut store, certs.clone())?,
        }
        Ok(store)
    }
}

fn add_all(store: &mut RootCertStore, certs: Vec<CertificateDer<'static>>) -> Result<(), TlsError> {
    if certs.is_empty() {
        return Err(TlsError::NoCertificates);
    }
    for cert in certs {
        store
            .add(cert)
            .map_err(|e| TlsError::BadCertificate(e.to_string()))?;
    }
    Ok(())
}

/// The TLS server name of a URL's host (a DNS name or an IP literal, brackets removed).
///
/// ```
/// # use responses_ws_tls::server_name;
/// use responses_ws_tls::rustls::pki_types::ServerName;
/// assert!(matches!(server_name("api.openai.com")?, ServerName::DnsName(_)));
/// assert!(matches!(server_name("[::1]")?, ServerName::IpAddress(_)));
/// assert!(server_name("not a host!").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn server_name(host: &str) -> Result<ServerName<'static>, TlsError> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_owned()).map_err(|_| TlsError::InvalidServerName(host.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_names_accept_dns_names_and_ip_literals() {
        assert!(matches!(
            server_name("api.openai.com").unwrap(),
            ServerName::DnsName(_)
        ));
        assert!(matches!(
            server_name("[::1]").unwrap(),
            ServerName::IpAddress(_)
        ));
        assert!(matches!(
            server_name("127.0.0.1").unwrap(),
            ServerName::IpAddress(_)
        ));
        assert!(server_name("bad host").is_err());
    }

    #[test]
    fn empty_or_garbage_pem_is_refused() {
        assert!(matches!(
            TlsConfig::with_ca_pem("").client_config(),
            Err(TlsError::NoCertificates)
        ));
        let garbage = "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n";
        assert!(TlsConfig::with_ca_pem(garbage).client_config().is_err());
    }

    #[test]
    fn webpki_roots_build_a_configuration() {
        assert!(TlsConfig::default().client_config().is_ok());
    }
}
