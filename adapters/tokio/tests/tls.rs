//! `wss://` against a TLS server whose certificate comes from a CA made at test time with
//! rcgen: trusted through `TlsConfig::with_ca_pem`, refused with the default roots.

mod common;

use common::{describe, Server, Turn};
use responses_ws_tls::test_pki;
use responses_ws_tokio::{
    ClientEvent, Config, ConnectError, Connection, ResponseCreate, SessionEvent, TlsConfig,
};
use tokio_rustls::TlsAcceptor;

#[tokio::test]
async fn wss_with_a_private_ca_carries_a_turn() {
    let test_pki::TestPki {
        ca_pem,
        server_config,
    } = test_pki::localhost();
    let server = Server::builder(|_, _| Turn::text(None, "resp_tls", &["Secure", " hello"]))
        .tls(TlsAcceptor::from(server_config))
        .start()
        .await;
    let url = format!("wss://localhost:{}/v1/responses", server.addr.port());

    // The default roots do not know the test CA.
    let error = Connection::connect(Config::new(&url).unwrap())
        .await
        .unwrap_err();
    assert_eq!(error.attempts(), 1, "a certificate error is not retried");
    match error.last() {
        ConnectError::TlsHandshake { addr, source } => {
            assert_eq!(addr, &format!("localhost:{}", server.addr.port()));
            assert!(source.to_string().contains("UnknownIssuer"), "{source}");
        }
        other => panic!("expected a TLS failure, got {other:?}"),
    }

    let config = Config::new(&url)
        .unwrap()
        .tls(TlsConfig::with_ca_pem(ca_pem));
    let mut conn = Connection::connect(config).await.unwrap();
    conn.create(ResponseCreate {
        model: Some("m".into()),
        input: Some("Hi".into()),
        ..Default::default()
    })
    .await
    .unwrap();
    let mut seen = Vec::new();
    loop {
        let event = conn.next_event().await.unwrap().unwrap();
        let done = matches!(event, ClientEvent::Session(SessionEvent::Completed { .. }));
        seen.push(describe(&event));
        if done {
            break;
        }
    }
    assert_eq!(
        seen,
        [
            "- started resp_tls",
            "- response.created",
            "- delta Secure",
            "- delta  hello",
            "- response.completed",
            "- completed resp_tls \"Secure hello\"",
        ]
    );
    conn.close().await.unwrap();
    assert!(
        matches!(conn.next_event().await.unwrap(), Some(ClientEvent::Disconnected { closed }) if closed.clean)
    );
    assert!(conn.next_event().await.unwrap().is_none());
    server
        .wait_for("the server's close", |s| !s.closes().is_empty())
        .await;
    assert_eq!(server.closes()[0].1.code.0, 1000);
}
