//! The byte stream under the core: TCP, or TLS over TCP for `wss://` ([`Transport`]), and how
//! to open one with the connect timeout and `TCP_NODELAY` ([`Dialer`]).

use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use responses_ws_tls::rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use responses_ws_adapter::ConfigParts;

use crate::ConnectError;

/// An open byte stream to the server.
#[derive(Debug)]
pub(crate) enum Transport {
    /// `ws://`.
    Plain(TcpStream),
    /// `wss://`.
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Transport {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(tcp) => Pin::new(tcp).poll_read(cx, buf),
            Transport::Tls(tls) => Pin::new(tls.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Transport {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Transport::Plain(tcp) => Pin::new(tcp).poll_write(cx, buf),
            Transport::Tls(tls) => Pin::new(tls.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Transport::Plain(tcp) => Pin::new(tcp).poll_write_vectored(cx, bufs),
            Transport::Tls(tls) => Pin::new(tls.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Transport::Plain(tcp) => tcp.is_write_vectored(),
            Transport::Tls(tls) => tls.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(tcp) => Pin::new(tcp).poll_flush(cx),
            Transport::Tls(tls) => Pin::new(tls.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(tcp) => Pin::new(tcp).poll_shutdown(cx),
            Transport::Tls(tls) => Pin::new(tls.as_mut()).poll_shutdown(cx),
        }
    }
}

/// A transport being opened, owned by the connection so that it survives cancelled calls.
pub(crate) type Dialing = Pin<Box<dyn Future<Output = Result<Transport, ConnectError>> + Send>>;

/// Opens transports to one endpoint: TCP (every resolved address in turn), `TCP_NODELAY`,
/// then TLS for `wss://`, all within the connect timeout.
#[derive(Clone)]
pub(crate) struct Dialer {
    host: String,
    port: u16,
    tls: Option<(TlsConnector, ServerName<'static>)>,
    timeout: Duration,
}

impl std::fmt::Debug for Dialer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dialer")
            .field("addr", &self.addr())
            .field("tls", &self.tls.is_some())
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Dialer {
    /// A dialer for `config`'s URL; builds the rustls configuration once for `wss://`.
    pub(crate) fn new(config: &ConfigParts) -> Result<Dialer, ConnectError> {
        let url = &config.client.url;
        let tls = if url.is_secure() {
            let client = config.tls.client_config().map_err(ConnectError::Tls)?;
            let name = responses_ws_tls::server_name(url.host()).map_err(ConnectError::Tls)?;
            Some((TlsConnector::from(Arc::clone(&client)), name))
        } else {
            None
        };
        Ok(Dialer {
            host: url.host().to_owned(),
            port: url.port(),
            tls,
            timeout: config.connect_timeout,
        })
    }

    /// Opens a transport once `at` has come (at once if it has passed).
    pub(crate) fn dial_at(&self, at: tokio::time::Instant) -> Dialing {
        let dialer = self.clone();
        Box::pin(async move {
            tokio::time::sleep_until(at).await;
            dialer.dial().await
        })
    }

    /// Opens a transport within the connect timeout.
    pub(crate) async fn dial(&self) -> Result<Transport, ConnectError> {
        match tokio::time::timeout(self.timeout, self.open()).await {
            Ok(result) => result,
            Err(_) => Err(ConnectError::Timeout {
                addr: self.addr(),
                after: self.timeout,
            }),
        }
    }

    async fn open(&self) -> Result<Transport, ConnectError> {
        let io_error = |source| ConnectError::Io {
            addr: self.addr(),
            source,
        };
        let tcp = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(io_error)?;
        tcp.set_nodelay(true).map_err(io_error)?;
        let Some((connector, name)) = &self.tls else {
            return Ok(Transport::Plain(tcp));
        };
        let tls = connector
            .connect(name.clone(), tcp)
            .await
            .map_err(|source| ConnectError::TlsHandshake {
                addr: self.addr(),
                source,
            })?;
        Ok(Transport::Tls(Box::new(tls)))
    }

    /// `host:port`, with brackets around an IPv6 literal.
    fn addr(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}
