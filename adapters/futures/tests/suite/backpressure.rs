//! Backpressure: a slow consumer holds the server back, writes cancelled half-way are
//! finished (vectored), and a flood while a write waits is read no further than the
//! set-aside limit.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Poll;

use futures_io::{AsyncRead, AsyncWrite};
use responses_ws_futures::responses_ws_core::ws;
use responses_ws_futures::runtime::AsyncIo;
use serde_json::{json, Value};

use super::*;

on_every_runtime!(
    slow_consumer_stops_reading_the_socket,
    cancelled_partial_writes_are_finished_and_go_out_vectored,
    a_flood_while_a_write_waits_is_read_no_further_than_the_set_aside_limit,
);

// --- Backpressure -----------------------------------------------------------------------------

async fn slow_consumer_stops_reading_the_socket(rt: Rt) {
    const DELTAS: u64 = 4096;
    const CHUNK: usize = 8 << 10;
    let written = counter();
    let server_written = written.clone();
    let server = Server::start(move |listener| {
        let (mut peer, _) = Peer::accept(&listener);
        peer.written = server_written;
        peer.recv();
        peer.send(&created(None, "resp_1"));
        let text = "x".repeat(CHUNK);
        for seq in 1..=DELTAS {
            peer.send(&delta(None, "msg_1", seq, &text));
        }
        peer.send(&completed(
            None,
            "resp_1",
            DELTAS + 1,
            vec![message("msg_1", "flood")],
        ));
        peer.expect_close();
    });
    // Uncompressed: the flood must fill TCP's buffers, which permessage-deflate would shrink
    // to almost nothing.
    let config = rt.config(&server.url()).deflate(false);
    let mut conn = Connection::connect(config).await.unwrap();
    conn.create(ask("Flood me.")).await.unwrap();
    events_until(&mut conn, "(default lane): delta").await;

    // The application stops consuming: nothing more is read, and once TCP's buffers are full
    // the server is held back, however much it has left to send.
    let received = conn.client().expect("WebSocket mode").byte_counts().1;
    assert!(
        received < 128 << 10,
        "only what one event needed plus one read: {received}"
    );
    // The server writes until TCP's buffers (which the kernel grows for a while) are full,
    // then stops: its count stands still for 300 ms.
    let (mut held, mut still) = (written.load(Ordering::SeqCst), 0);
    for _ in 0..50 {
        rt.sleep(Duration::from_millis(100)).await;
        let now = written.load(Ordering::SeqCst);
        still = if now == held { still + 1 } else { 0 };
        held = now;
        if still == 3 {
            break;
        }
    }
    assert_eq!(still, 3, "the server is held back (it wrote {held} bytes)");
    assert_eq!(
        conn.client().expect("WebSocket mode").byte_counts().1,
        received,
        "no read without a consumer"
    );
    let total = (DELTAS as usize) * CHUNK;
    assert!(
        held < total / 2,
        "most of the flood is still at the server: {held}"
    );

    // Consuming again drains everything, in order and whole.
    let (mut deltas, mut bytes) = (1, CHUNK);
    let response = loop {
        match session(conn.next_event().await.unwrap().unwrap()) {
            Some(SessionEvent::Stream { event, .. }) => {
                if let EventKind::OutputTextDelta(delta) = &event.decoded().kind {
                    deltas += 1;
                    bytes += delta.delta.len();
                }
            }
            Some(SessionEvent::Completed { response, .. }) => break response,
            _ => {}
        }
    };
    assert_eq!((deltas, bytes), (DELTAS, total));
    assert_eq!(
        (response.id.as_str(), response.all_output_text()),
        ("resp_1", "flood".into())
    );
    assert!(written.load(Ordering::SeqCst) > total);
    conn.close().await.unwrap();
    server.join();
}

// --- Partial writes ---------------------------------------------------------------------------

/// A stream that takes at most 7 bytes per write, and answers every other write `Pending`;
/// it records the most slices a vectored write was handed.
struct Trickle {
    inner: Box<dyn AsyncIo>,
    pending_next: bool,
    most_slices: Arc<AtomicUsize>,
}

impl Trickle {
    fn poll_trickle(
        &mut self,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.pending_next = !self.pending_next;
        if !self.pending_next {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let n = buf.len().min(7);
        std::pin::Pin::new(&mut self.inner).poll_write(cx, &buf[..n])
    }
}

impl AsyncRead for Trickle {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut [u8],
    ) -> Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Trickle {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.get_mut().poll_trickle(cx, buf)
    }

    fn poll_write_vectored(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let slices = bufs.iter().filter(|b| !b.is_empty()).count();
        this.most_slices.fetch_max(slices, Ordering::SeqCst);
        let first = bufs
            .iter()
            .find(|b| !b.is_empty())
            .map_or(&[][..], |b| &**b);
        this.poll_trickle(cx, first)
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_close(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().inner).poll_close(cx)
    }
}

async fn cancelled_partial_writes_are_finished_and_go_out_vectored(rt: Rt) {
    let long = "a long question ".repeat(40);
    let expected = long.clone();
    let server = Server::start(move |listener| {
        let (mut peer, _) = Peer::accept(&listener);
        for lane in ["a", "b"] {
            assert_eq!(
                peer.recv(),
                json!({"type": "response.create", "stream_id": lane, "model": "m", "input": [user(&expected)]})
            );
        }
        for lane in ["a", "b"] {
            peer.send_all(&[
                created(Some(lane), &format!("resp_{lane}")),
                completed(
                    Some(lane),
                    &format!("resp_{lane}"),
                    1,
                    vec![message("msg", lane)],
                ),
            ]);
        }
        peer.expect_close();
    });
    let tcp = rt.tcp(server.port).await;
    let most_slices = Arc::new(AtomicUsize::new(0));
    let stream = Trickle {
        inner: tcp,
        pending_next: false,
        most_slices: most_slices.clone(),
    };
    let mut conn = Connection::from_stream(stream, rt.config(&server.url()))
        .await
        .unwrap();

    // Each create is abandoned after its first poll, its frame partly written at most.
    for lane in ["a", "b"] {
        let create = Box::pin(conn.create(ask_on(lane, &long)));
        let polled_once = futures_util::future::select(create, std::future::ready(())).await;
        assert!(
            matches!(polled_once, futures_util::future::Either::Right(_)),
            "the stream could not take the frame at once"
        );
    }
    assert_eq!(conn.session().in_flight(), 2);
    // Driving on finishes both frames, byte for byte, in order.
    let mut done = Vec::new();
    while done.len() < 2 {
        if let Some(SessionEvent::Completed { lane, .. }) =
            session(conn.next_event().await.unwrap().unwrap())
        {
            done.push(lane.to_string());
        }
    }
    assert_eq!(done, ["a", "b"]);
    assert!(
        most_slices.load(Ordering::SeqCst) >= 2,
        "several queued chunks go out in one vectored write"
    );
    conn.close().await.unwrap();
    server.join();
}

// --- A flood while a write waits --------------------------------------------------------------

async fn a_flood_while_a_write_waits_is_read_no_further_than_the_set_aside_limit(rt: Rt) {
    const DELTAS: u64 = 20_000;
    // The first request gets a flood; the server reads nothing more and answers no ping.
    let flood: Vec<Value> = std::iter::once(created(Some("talk"), "resp_flood"))
        .chain((1..=DELTAS).map(|seq| delta(Some("talk"), "msg", seq, &"w".repeat(64))))
        .collect();
    let (finished, server_waits) = std::sync::mpsc::channel::<()>();
    let server = Server::start(move |listener| {
        let (mut peer, _) = Peer::accept(&listener);
        peer.recv();
        for event in &flood {
            if !peer.try_send(event) {
                break;
            }
        }
        // Holds the connection open, reading nothing, until the test is over.
        let _ = server_waits.recv_timeout(PATIENCE);
    });
    let mut ws = ws::Config::default();
    ws.max_outbound_queue = 1 << 20;
    ws.keepalive_interval = Some(Duration::from_millis(200));
    ws.pong_timeout = Duration::from_millis(200);
    // Uncompressed: the flood and the filler must fill the sockets, which permessage-deflate
    // would shrink to almost nothing.
    ws.deflate = ws::DeflateConfig::disabled();
    let mut conn = Connection::connect(rt.config(&server.url()).ws(ws))
        .await
        .unwrap();
    conn.create(ask_on("talk", "Flood me.")).await.unwrap();
    // This write waits (the server reads nothing) while the flood arrives, and nobody takes
    // events meanwhile; it ends when the keepalive finds the server deaf.
    let filler = "x".repeat(8 << 20);
    let create = Box::pin(conn.create(ask_on("filler", &filler)));
    let limit = Box::pin(rt.sleep(Duration::from_secs(10)));
    match futures_util::future::select(create, limit).await {
        futures_util::future::Either::Left((created, _)) => created.unwrap(),
        futures_util::future::Either::Right(_) => panic!("the keepalive did not end the wait"),
    };
    let mut deltas = 0;
    while let Ok(Some(event)) = conn.next_event().await {
        if let Some(SessionEvent::Stream { event, .. }) = session(event) {
            deltas += usize::from(matches!(
                event.decoded().kind,
                EventKind::OutputTextDelta(_)
            ));
        }
    }
    // What was set aside (the start and `response.created` among them), plus what one read
    // buffer held when reading stopped.
    let read = deltas + 2;
    assert!(
        (responses_ws_futures::MAX_SET_ASIDE_EVENTS..3_000).contains(&read),
        "{deltas} deltas of {DELTAS} were read while nobody took events"
    );
    drop(finished);
    server.join();
}
