//! `wss://` over loopback: a CA and a server certificate for `localhost` made by rcgen at test
//! time, the server side with rustls; the client trusts the CA through `TlsConfig`.

mod support;

use std::net::TcpListener;
use std::thread;

use responses_ws_blocking::responses_ws_core::ws::CloseCode;
use responses_ws_blocking::responses_ws_tls::rustls::{self, ServerConnection, StreamOwned};
use responses_ws_blocking::{Config, ConnectError, Connection, ResponseCreate, TlsConfig};
use responses_ws_tls::test_pki;
use serde_json::json;
use support::*;

fn wss_listen() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, format!("wss://localhost:{port}/v1/responses"))
}

#[test]
fn a_turn_over_wss_with_a_private_ca() {
    let test_pki::TestPki {
        ca_pem,
        server_config,
    } = test_pki::localhost();
    let (listener, url) = wss_listen();
    let server = thread::spawn(move || {
        let tcp = accept_tcp(&listener);
        let tls = ServerConnection::new(server_config).unwrap();
        let (mut peer, request) = Peer::accept(StreamOwned::new(tls, tcp));
        assert_eq!(request.path, "/v1/responses");
        let create = peer.recv();
        peer.send_all(&[
            created("resp_1"),
            completed(
                "resp_1",
                &format!("[{}]", message("msg_1", "Secure hello.")),
            ),
        ]);
        (create, peer.expect_closed().code)
    });

    let config = Config::new(&url)
        .unwrap()
        .tls(TlsConfig::with_ca_pem(ca_pem));
    let mut conn = Connection::connect(config).unwrap();
    conn.create(ResponseCreate {
        model: Some("m".into()),
        input: Some("Hello over TLS.".into()),
        ..Default::default()
    })
    .unwrap();
    let mut last = String::new();
    while !last.starts_with("completed") {
        last = summary(&conn.next_event().unwrap().unwrap());
    }
    assert_eq!(last, "completed - #0 resp_1 \"Secure hello.\"");
    conn.close().unwrap();

    let (create, code) = server.join().unwrap();
    assert_eq!(
        create,
        json!({"type": "response.create", "model": "m",
               "input": [{"type": "message", "role": "user", "content": "Hello over TLS."}]})
    );
    assert_eq!(code, CloseCode::NORMAL);
}

#[test]
fn the_default_roots_refuse_a_private_ca() {
    let server_config = test_pki::localhost().server_config;
    let (listener, url) = wss_listen();
    let server = thread::spawn(move || {
        let mut tcp = accept_tcp(&listener);
        let mut tls = ServerConnection::new(server_config).unwrap();
        // The client aborts the handshake with an alert.
        while tls.is_handshaking() {
            if tls.complete_io(&mut tcp).is_err() {
                return;
            }
        }
        panic!("the handshake succeeded with an untrusted CA");
    });

    let error = Connection::connect(Config::new(&url).unwrap()).unwrap_err();
    assert_eq!(error.attempts(), 1, "a certificate error is not retried");
    match error.last() {
        ConnectError::TlsHandshake { addr, source } => {
            assert_eq!(addr, &listener_addr(&url));
            let rustls_error = source
                .get_ref()
                .and_then(|e| e.downcast_ref::<rustls::Error>())
                .expect("the rustls error is the source");
            assert_eq!(
                rustls_error,
                &rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)
            );
        }
        other => panic!("expected a TLS handshake failure, got {other:?}"),
    }
    server.join().unwrap();
}

/// The `host:port` of `url`, as errors name it.
fn listener_addr(url: &str) -> String {
    let port = url.rsplit(':').next().unwrap().split('/').next().unwrap();
    format!("localhost:{port}")
}
