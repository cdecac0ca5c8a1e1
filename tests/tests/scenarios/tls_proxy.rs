//! A TLS-terminating proxy in front of the mock server, with a certificate authority made by
//! rcgen at test time: the `wss://` variants of the scenarios go through it.

use std::net::SocketAddr;
use std::thread::JoinHandle;

use responses_ws_tls::{test_pki, TlsConfig};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio_rustls::TlsAcceptor;

/// The proxy: a thread with its own runtime, stopped and joined on drop.
pub(crate) struct TlsProxy {
    pub(crate) port: u16,
    /// The CA that signed the proxy's `localhost` certificate, as the client must trust it.
    pub(crate) ca_pem: String,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl TlsProxy {
    /// Listens on 127.0.0.1 and forwards every decrypted connection to `backend`.
    pub(crate) fn start(backend: SocketAddr) -> TlsProxy {
        let test_pki::TestPki {
            ca_pem,
            server_config: config,
        } = test_pki::localhost();
        let acceptor = TlsAcceptor::from(config);
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = oneshot::channel();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                port_tx.send(listener.local_addr().unwrap().port()).unwrap();
                tokio::select! {
                    _ = stopped => {}
                    _ = accept_loop(listener, acceptor, backend) => {}
                }
            });
        });
        let port = port_rx.recv().expect("the proxy listens");
        TlsProxy {
            port,
            ca_pem,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// The client's TLS settings: trust the test CA only.
    pub(crate) fn tls(&self) -> TlsConfig {
        TlsConfig::with_ca_pem(self.ca_pem.clone())
    }

    /// The proxied endpoint.
    pub(crate) fn url(&self) -> String {
        format!("wss://localhost:{}/v1/responses", self.port)
    }
}

impl Drop for TlsProxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn accept_loop(listener: TcpListener, acceptor: TlsAcceptor, backend: SocketAddr) {
    let mut tasks = tokio::task::JoinSet::new();
    while let Ok((socket, _)) = listener.accept().await {
        let acceptor = acceptor.clone();
        tasks.spawn(async move {
            let Ok(mut tls) = acceptor.accept(socket).await else {
                return;
            };
            let Ok(mut plain) = TcpStream::connect(backend).await else {
                return;
            };
            let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
        });
    }
}
