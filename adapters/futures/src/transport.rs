//! Opening the byte stream of a connection: TCP through the [`Runtime`], then TLS with
//! futures-rustls for `wss://`, all within the connect timeout. The WebSocket upgrade is the
//! core's business and comes after.

use std::sync::Arc;
use std::time::Duration;

use futures_core::future::BoxFuture;
use futures_rustls::pki_types::ServerName;
use futures_rustls::TlsConnector;
use futures_util::future::{select, Either};
use responses_ws_core::ws::WsUrl;
use responses_ws_tls::TlsConfig;

use crate::runtime::{AsyncIo, Runtime};
use crate::ConnectError;

/// What opening a stream takes, owned, so the future it makes can outlive the caller's borrow.
pub(crate) struct Dialer {
    runtime: Arc<dyn Runtime>,
    host: String,
    port: u16,
    tls: Option<(TlsConnector, ServerName<'static>)>,
    timeout: Duration,
}

impl Dialer {
    /// A dialer for `url`; for `wss://` the TLS connector of `tls` (built once and cached in
    /// `connector`).
    pub(crate) fn new(
        runtime: Arc<dyn Runtime>,
        url: &WsUrl,
        tls: &TlsConfig,
        connector: &mut Option<TlsConnector>,
        timeout: Duration,
    ) -> Result<Dialer, ConnectError> {
        let tls = if url.is_secure() {
            let connector = match connector {
                Some(connector) => connector.clone(),
                None => {
                    let config = tls.client_config().map_err(ConnectError::Tls)?;
                    connector.insert(TlsConnector::from(config)).clone()
                }
            };
            let name = responses_ws_tls::server_name(url.host()).map_err(ConnectError::Tls)?;
            Some((connector, name))
        } else {
            None
        };
        Ok(Dialer {
            runtime,
            host: url.host().to_owned(),
            port: url.port(),
            tls,
            timeout,
        })
    }

    /// `host:port`, with brackets around an IPv6 literal.
    fn addr(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// Connects (TCP, then TLS if asked) within the timeout.
    pub(crate) fn open(self) -> BoxFuture<'static, Result<Box<dyn AsyncIo>, ConnectError>> {
        Box::pin(async move {
            let addr = self.addr();
            let deadline = self.runtime.now() + self.timeout;
            let timer = self.runtime.sleep_until(deadline);
            let timeout = self.timeout;
            let work = Box::pin(self.connect(addr.clone()));
            match select(work, timer).await {
                Either::Left((result, _)) => result,
                Either::Right(((), _)) => Err(ConnectError::Timeout {
                    addr,
                    after: timeout,
                }),
            }
        })
    }

    async fn connect(self, addr: String) -> Result<Box<dyn AsyncIo>, ConnectError> {
        let tcp = self
            .runtime
            .connect(self.host, self.port)
            .await
            .map_err(|source| ConnectError::Io {
                addr: addr.clone(),
                source,
            })?;
        match self.tls {
            None => Ok(tcp),
            Some((connector, name)) => {
                let stream = connector
                    .connect(name, tcp)
                    .await
                    .map_err(|source| ConnectError::TlsHandshake { addr, source })?;
                Ok(Box::new(stream))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    #[derive(Debug)]
    struct NoRuntime;

    impl Runtime for NoRuntime {
        fn connect(&self, _: String, _: u16) -> BoxFuture<'static, io::Result<Box<dyn AsyncIo>>> {
            Box::pin(async { Err(io::ErrorKind::Unsupported.into()) })
        }
        fn sleep_until(&self, _: std::time::Instant) -> BoxFuture<'static, ()> {
            Box::pin(std::future::pending())
        }
    }

    fn dialer(url: &str, tls: &TlsConfig) -> Result<Dialer, ConnectError> {
        let url = WsUrl::parse(url).unwrap();
        let timeout = Duration::from_secs(1);
        Dialer::new(Arc::new(NoRuntime), &url, tls, &mut None, timeout)
    }

    #[test]
    fn addresses_bracket_ipv6_literals() {
        let tls = TlsConfig::default();
        assert_eq!(dialer("ws://[::1]:9/", &tls).unwrap().addr(), "[::1]:9");
        assert_eq!(
            dialer("ws://localhost/", &tls).unwrap().addr(),
            "localhost:80"
        );
        let secure = dialer("wss://api.openai.com/v1/responses", &tls).unwrap();
        assert_eq!(secure.addr(), "api.openai.com:443");
        assert!(secure.tls.is_some());
    }

    #[test]
    fn a_bad_ca_fails_before_connecting_and_only_for_wss() {
        let tls = TlsConfig::with_ca_pem("not a certificate");
        assert!(matches!(
            dialer("wss://localhost/", &tls),
            Err(ConnectError::Tls(_))
        ));
        assert!(dialer("ws://localhost/", &tls).is_ok());
    }
}
