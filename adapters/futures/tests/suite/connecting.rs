//! Connecting: refused upgrades as typed errors, TLS with a private CA, the connect timeout
//! over TCP and TLS, and fresh credentials after a 401.

use std::io::Read;
use std::sync::atomic::Ordering;
use std::time::Instant as StdInstant;

use futures_core::future::BoxFuture;
use responses_ws_futures::responses_ws_core::ws::{CloseCode, HandshakeError};
use responses_ws_futures::runtime::{AsyncIo, Runtime};
use responses_ws_futures::{ConnectError, HttpFallback};
use serde_json::json;

use super::*;

on_every_runtime!(
    refused_upgrades_are_typed_errors,
    tls_with_a_private_ca,
    connect_timeout_bounds_tcp_and_tls_and_a_refusal_names_the_address,
    a_401_fetches_fresh_credentials_and_retries_exactly_once,
);

// --- Refused upgrades -------------------------------------------------------------------------

async fn refused_upgrades_are_typed_errors(rt: Rt) {
    const UNAUTHORIZED: &str = r#"{"error":{"message":"Incorrect API key provided.","type":"invalid_request_error","code":"invalid_api_key"}}"#;
    let server = Server::start(|listener| {
        let (peer, _) = Peer::accept_request(&listener);
        peer.reject(401, &[("Content-Type", "application/json")], UNAUTHORIZED);
        let (peer, _) = Peer::accept_request(&listener);
        peer.reject(429, &[("Retry-After", "7")], "slow down");
        let (peer, _) = Peer::accept_request(&listener);
        peer.reject(426, &[], "");
    });

    let error = Connection::connect(rt.config(&server.url()).api_key("sk-wrong"))
        .await
        .unwrap_err();
    let ConnectError::Handshake(_) = error.last() else {
        panic!("expected a refused upgrade, got {error:?}");
    };
    let answer = error.response().unwrap();
    assert_eq!(
        (answer.status, answer.reason.as_str()),
        (401, "Unauthorized")
    );
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert_eq!(answer.body, UNAUTHORIZED.as_bytes());
    assert!(!answer.body_truncated);
    assert!(!error.wants_http());
    assert_eq!(
        error.to_string(),
        "gave up after 1 attempt(s): WebSocket upgrade failed: server answered 401 Unauthorized"
    );
    assert!(!format!("{error:?} {error}").contains("sk-wrong"));

    let error = Connection::connect(rt.config(&server.url()))
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(429));
    assert_eq!(error.retry_after(), Some("7"));
    assert_eq!(error.response().unwrap().header("Retry-After"), Some("7"));
    assert_eq!(error.response().unwrap().body, "slow down".as_bytes());

    // Refused rather than moved to HTTP + SSE (the default after a 426).
    let config = rt.config(&server.url()).http_fallback(HttpFallback::Never);
    let error = Connection::connect(config).await.unwrap_err();
    assert!(
        matches!(error.last(), ConnectError::Handshake(HandshakeError::Rejected(r)) if r.status == 426)
    );
    assert_eq!(error.status(), Some(426));
    assert!(error.wants_http());
    assert_eq!(
        error.last().to_string(),
        "WebSocket upgrade failed: server answered 426 Upgrade Required (the server asks for plain HTTP instead of WebSocket)"
    );
    server.join();
}

// --- TLS --------------------------------------------------------------------------------------

async fn tls_with_a_private_ca(rt: Rt) {
    let responses_ws_tls::test_pki::TestPki {
        ca_pem,
        server_config,
    } = responses_ws_tls::test_pki::localhost();
    let server = Server::start(move |listener| {
        // First a client that does not trust the CA: its handshake fails.
        let tcp = accept_tcp(&listener);
        let mut tls = rustls::ServerConnection::new(server_config.clone()).unwrap();
        let mut plain = tcp.try_clone().unwrap();
        while tls.is_handshaking() {
            if tls.complete_io(&mut plain).is_err() {
                break;
            }
        }
        drop(plain);
        // Then one that does.
        let tcp = accept_tcp(&listener);
        let tls = rustls::ServerConnection::new(server_config).unwrap();
        let stream = rustls::StreamOwned::new(tls, tcp.try_clone().unwrap());
        let (mut peer, request) = Peer::over(Box::new(stream), tcp);
        let port = listener.local_addr().unwrap().port();
        assert_eq!(
            request.header("host"),
            Some(format!("localhost:{port}").as_str())
        );
        peer.upgrade();
        assert_eq!(
            peer.recv(),
            json!({"type": "response.create", "model": "m", "input": [user("Secure?")]})
        );
        peer.send_all(&[
            created(None, "resp_1"),
            completed(None, "resp_1", 1, vec![message("msg_1", "Secure.")]),
        ]);
        let closed = peer.expect_close();
        assert_eq!(closed.code, CloseCode::NORMAL);
    });
    let url = format!("wss://localhost:{}/v1/responses", server.port);

    // With the default budget: a certificate error is final.
    let config = rt.config(&url).retry(RetryPolicy::default());
    let error = Connection::connect(config).await.unwrap_err();
    assert_eq!(error.attempts(), 1, "a certificate error is not retried");
    let ConnectError::TlsHandshake { addr, source } = error.last() else {
        panic!("expected a TLS failure, got {error:?}");
    };
    assert_eq!(addr, &format!("localhost:{}", server.port));
    let cause = source
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    assert_eq!(
        cause,
        Some(&rustls::Error::InvalidCertificate(
            rustls::CertificateError::UnknownIssuer
        ))
    );

    let config = rt
        .config(&url)
        .tls(responses_ws_futures::TlsConfig::with_ca_pem(ca_pem));
    let mut conn = Connection::connect(config).await.unwrap();
    conn.create(ask("Secure?")).await.unwrap();
    let seen = events_until(&mut conn, "(default lane): completed").await;
    assert_eq!(
        seen.last().unwrap(),
        "(default lane): completed resp_1 \"Secure.\""
    );
    conn.close().await.unwrap();
    let Some(ClientEvent::Disconnected { closed }) = conn.next_event().await.unwrap() else {
        panic!("expected the close");
    };
    assert!(closed.clean);
    assert!(conn.next_event().await.unwrap().is_none());
    server.join();
}

// --- Connect timeout --------------------------------------------------------------------------

/// A runtime whose connects never finish (a black-holed address), with a real timer.
#[derive(Debug)]
struct BlackHole(Rt);

impl Runtime for BlackHole {
    fn connect(
        &self,
        _host: String,
        _port: u16,
    ) -> BoxFuture<'static, std::io::Result<Box<dyn AsyncIo>>> {
        Box::pin(std::future::pending())
    }

    fn sleep_until(&self, deadline: StdInstant) -> BoxFuture<'static, ()> {
        let rt = self.0;
        Box::pin(async move {
            rt.sleep(deadline.saturating_duration_since(StdInstant::now()))
                .await
        })
    }
}

async fn connect_timeout_bounds_tcp_and_tls_and_a_refusal_names_the_address(rt: Rt) {
    // A TCP connect that never finishes.
    let config = rt
        .config("ws://192.0.2.1:8080/v1/responses")
        .runtime(BlackHole(rt))
        .connect_timeout(Duration::from_millis(50));
    let started = StdInstant::now();
    let error = Connection::connect(config).await.unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(50));
    let ConnectError::Timeout { addr, after } = error.last() else {
        panic!("expected a timeout, got {error:?}");
    };
    assert_eq!(
        (addr.as_str(), *after),
        ("192.0.2.1:8080", Duration::from_millis(50))
    );
    assert_eq!(
        error.last().to_string(),
        "connecting to 192.0.2.1:8080 timed out after 50ms"
    );

    // A server that takes the TCP connection and never answers the TLS client hello.
    let server = Server::start(|listener| {
        let _ = accept_tcp(&listener).read_to_end(&mut Vec::new());
    });
    let config = rt
        .config(&format!("wss://localhost:{}/v1/responses", server.port))
        .connect_timeout(Duration::from_millis(200));
    let error = Connection::connect(config).await.unwrap_err();
    let ConnectError::Timeout { addr, after } = error.last() else {
        panic!("expected a timeout, got {error:?}");
    };
    let expected = format!("localhost:{}", server.port);
    assert_eq!((addr, *after), (&expected, Duration::from_millis(200)));
    server.join();

    // Nothing listens: the OS error comes with the address.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let config = rt.config(&format!("ws://127.0.0.1:{port}/v1/responses"));
    let error = Connection::connect(config).await.unwrap_err();
    let ConnectError::Io { addr, source } = error.last() else {
        panic!("expected an IO error, got {error:?}");
    };
    assert_eq!(
        (addr.clone(), source.kind()),
        (
            format!("127.0.0.1:{port}"),
            std::io::ErrorKind::ConnectionRefused
        )
    );
}

// --- Fresh credentials ------------------------------------------------------------------------

async fn a_401_fetches_fresh_credentials_and_retries_exactly_once(rt: Rt) {
    const UNAUTHORIZED: &str = r#"{"error":{"code":"invalid_api_key"}}"#;
    // Refused once, then accepted: the fresh key gets in.
    let server = Server::start(|listener| {
        let (peer, request) = Peer::accept_request(&listener);
        assert_eq!(request.header("authorization"), Some("Bearer sk-stale"));
        peer.reject(401, &[], UNAUTHORIZED);
        let (mut peer, request) = Peer::accept_request(&listener);
        assert_eq!(request.header("authorization"), Some("Bearer sk-fresh"));
        peer.upgrade();
        peer.expect_close();
    });
    let fetched = counter();
    let counted = fetched.clone();
    let config = rt
        .config(&server.url())
        .retry(RetryPolicy::default())
        .api_key("sk-stale")
        .credentials(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            Some("sk-fresh".into())
        });
    let mut conn = Connection::connect(config).await.unwrap();
    assert_eq!(fetched.load(Ordering::SeqCst), 1);
    conn.close().await.unwrap();
    server.join();

    // Refused every time: one fresh attempt, then the 401 is final.
    let server = Server::start(|listener| {
        for _ in 0..2 {
            let (peer, _) = Peer::accept_request(&listener);
            peer.reject(401, &[], UNAUTHORIZED);
        }
    });
    let config = rt
        .config(&server.url())
        .retry(RetryPolicy::default())
        .credentials(|| Some("sk-still-wrong".into()));
    let error = Connection::connect(config).await.unwrap_err();
    assert_eq!(
        (error.attempts(), error.status()),
        (2, Some(401)),
        "exactly one retry"
    );
    server.join();
}
