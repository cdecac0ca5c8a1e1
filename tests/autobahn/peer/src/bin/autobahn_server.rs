//! Autobahn TestSuite server driver: an echo server on the core's server role for
//! `wstest -m fuzzingclient`, one thread per connection, bound to 127.0.0.1.
//!
//! ```text
//! cargo run --release -p responses-ws-autobahn --bin autobahn_server -- 9002
//! ```
//!
//! Every text and binary message is sent back as it came. `tests/autobahn/run.sh` runs it;
//! `tests/autobahn/check.py` judges the report.

use responses_ws_core::ws::{Config, Event};
use responses_ws_tests::driver::WsStream;
use std::io;
use std::net::{TcpListener, TcpStream};

/// Limits wide enough for case 9.* (16 MiB messages) and no keepalive pings to confuse a case.
fn config() -> Config {
    let mut config = Config::default();
    config.max_frame_payload = 64 << 20;
    config.max_message_size = 64 << 20;
    config.max_outbound_queue = 64 << 20;
    config.keepalive_interval = None;
    config
}

/// Serves one connection until it ends, echoing data messages.
fn serve(tcp: TcpStream) -> io::Result<()> {
    let mut ws = WsStream::accept(tcp, config())?;
    while let Some(event) = ws.next_event()? {
        match event {
            // The peer may have closed already: a refused echo is part of the case.
            Event::Message(message) => {
                if let Err(e) = ws.send(message) {
                    eprintln!("echo not sent: {e}");
                }
            }
            Event::Closed(closed) => {
                if let Some(error) = closed.error {
                    eprintln!("closed with {error}");
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn main() -> io::Result<()> {
    let port: u16 = match std::env::args().nth(1).map(|p| p.parse()) {
        Some(Ok(port)) => port,
        _ => {
            eprintln!("usage: autobahn_server <port>");
            std::process::exit(2);
        }
    };
    let listener = TcpListener::bind(("127.0.0.1", port))?;
    eprintln!("autobahn echo server on 127.0.0.1:{port}");
    for tcp in listener.incoming() {
        let tcp = tcp?;
        std::thread::spawn(move || {
            if let Err(e) = serve(tcp) {
                eprintln!("connection: {e}");
            }
        });
    }
    Ok(())
}
