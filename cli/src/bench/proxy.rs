//! The benchmark's delay proxy: a TCP relay on loopback that makes every connection through it
//! behave like one over a slower network. Each direction's bytes arrive `rtt / 2` after they
//! were sent; the uplink (client → server) carries at most `uplink_bps`; and the first uplink
//! byte cannot leave before one full RTT after the connection was accepted, which is what the
//! TCP handshake costs a real client (SYN, SYN-ACK, then data: the server sees the first
//! request byte 1.5 RTT after `connect`). It counts bytes each way and connections accepted,
//! so the benchmark can report what went over the wire (HTTP headers and WebSocket framing
//! included) and check that HTTP keep-alive held.
//!
//! Every task it starts ends on [`DelayProxy::shutdown`].

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

/// Chunks in flight per direction before the reader waits (backpressure, bounded memory).
const IN_FLIGHT_CHUNKS: usize = 1024;

/// The largest chunk read at once.
const CHUNK: usize = 64 * 1024;

/// The simulated network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Link {
    /// Round-trip time: half of it is added to each direction.
    pub(crate) rtt: Duration,
    /// Uplink rate in bits per second; `None` is unlimited.
    pub(crate) uplink_bps: Option<u64>,
}

/// What went through the proxy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ProxyTraffic {
    /// Client → server bytes.
    pub(crate) up: u64,
    /// Server → client bytes.
    pub(crate) down: u64,
    /// Connections accepted.
    pub(crate) connections: u64,
}

#[derive(Debug, Default)]
struct Counters {
    up: AtomicU64,
    down: AtomicU64,
    connections: AtomicU64,
}

/// A running proxy.
#[derive(Debug)]
pub(crate) struct DelayProxy {
    addr: SocketAddr,
    counters: Arc<Counters>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl DelayProxy {
    /// Listens on `127.0.0.1:0` and relays every connection to `upstream` over `link`.
    pub(crate) async fn start(upstream: SocketAddr, link: Link) -> io::Result<DelayProxy> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let counters = Arc::new(Counters::default());
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(accept_loop(
            listener,
            upstream,
            link,
            counters.clone(),
            stopped,
        ));
        Ok(DelayProxy {
            addr,
            counters,
            stop,
            task,
        })
    }

    /// Where clients connect.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The traffic so far.
    pub(crate) fn traffic(&self) -> ProxyTraffic {
        ProxyTraffic {
            up: self.counters.up.load(Ordering::Relaxed),
            down: self.counters.down.load(Ordering::Relaxed),
            connections: self.counters.connections.load(Ordering::Relaxed),
        }
    }

    /// Stops accepting, ends every relayed connection and waits for all its tasks.
    pub(crate) async fn shutdown(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

async fn accept_loop(
    listener: TcpListener,
    upstream: SocketAddr,
    link: Link,
    counters: Arc<Counters>,
    mut stopped: oneshot::Receiver<()>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stopped => break,
            accepted = listener.accept() => {
                let Ok((client, _)) = accepted else { continue };
                counters.connections.fetch_add(1, Ordering::Relaxed);
                connections.spawn(relay(client, upstream, link, counters.clone()));
            }
            // Reap finished relays so the set does not grow.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.shutdown().await;
}

/// Relays one connection until both directions have ended.
async fn relay(client: TcpStream, upstream: SocketAddr, link: Link, counters: Arc<Counters>) {
    let accepted = Instant::now();
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let half = link.rtt / 2;
    let up = Direction {
        // The TCP handshake: nothing leaves the client before one RTT.
        not_before: accepted + link.rtt,
        delay: half,
        bits_per_second: link.uplink_bps,
    };
    let down = Direction {
        not_before: accepted,
        delay: half,
        bits_per_second: None,
    };
    tokio::join!(
        pipe(client_read, server_write, up, &counters.up),
        pipe(server_read, client_write, down, &counters.down),
    );
}

/// How one direction delays its bytes.
#[derive(Debug, Clone, Copy)]
struct Direction {
    not_before: Instant,
    delay: Duration,
    bits_per_second: Option<u64>,
}

/// Reads `from`, writes each chunk to `to` at its arrival time, then ends `to`.
async fn pipe(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    direction: Direction,
    counter: &AtomicU64,
) {
    let (sender, mut receiver) = mpsc::channel::<(Instant, Vec<u8>)>(IN_FLIGHT_CHUNKS);
    let reader = async move {
        let mut link_free = direction.not_before;
        loop {
            let mut chunk = vec![0u8; CHUNK];
            let n = from.read(&mut chunk).await.unwrap_or(0);
            chunk.truncate(n);
            counter.fetch_add(n as u64, Ordering::Relaxed);
            let ready = Instant::now().max(direction.not_before);
            let sent = match direction.bits_per_second {
                Some(bps) if bps > 0 => {
                    let start = ready.max(link_free);
                    let nanos = (n as u128 * 8 * 1_000_000_000) / u128::from(bps);
                    link_free =
                        start + Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX));
                    link_free
                }
                _ => ready,
            };
            // An empty chunk is the end of the stream; it is delivered in order too.
            if sender.send((sent + direction.delay, chunk)).await.is_err() || n == 0 {
                return;
            }
        }
    };
    let writer = async move {
        while let Some((at, chunk)) = receiver.recv().await {
            // The timer has millisecond ticks: a chunk already due is not held for one.
            if at > Instant::now() {
                tokio::time::sleep_until(at).await;
            }
            if chunk.is_empty() || to.write_all(&chunk).await.is_err() {
                break;
            }
        }
        // The other side sees the end (or the failure) of this direction.
        let _ = to.shutdown().await;
        // Stop the reader: it gets an error on its next send.
        drop(receiver);
    };
    tokio::join!(reader, writer);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An echo server that answers each read with the same bytes.
    async fn echo() -> (SocketAddr, JoinHandle<()>) {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 1 << 16];
            loop {
                let n = stream.read(&mut buf).await.unwrap_or(0);
                if n == 0 || stream.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        });
        (addr, task)
    }

    #[tokio::test]
    async fn the_first_exchange_costs_two_rtts_and_later_ones_one() {
        let (upstream, server) = echo().await;
        let rtt = Duration::from_millis(40);
        let proxy = DelayProxy::start(
            upstream,
            Link {
                rtt,
                uplink_bps: None,
            },
        )
        .await
        .unwrap();
        let started = Instant::now();
        let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
        let mut buf = [0u8; 5];
        stream.write_all(b"hello").await.unwrap();
        stream.read_exact(&mut buf).await.unwrap();
        let first = started.elapsed();
        // Handshake (1 RTT) + the exchange (1 RTT). Lower bounds only: timers never fire
        // early, but a loaded machine may be late.
        assert!(first >= rtt * 2, "{first:?}");
        let again = Instant::now();
        stream.write_all(b"world").await.unwrap();
        stream.read_exact(&mut buf).await.unwrap();
        let second = again.elapsed();
        assert!(second >= rtt, "{second:?}");
        assert_eq!(&buf, b"world");
        drop(stream);
        let traffic = proxy.traffic();
        assert_eq!((traffic.up, traffic.down, traffic.connections), (10, 10, 1));
        proxy.shutdown().await;
        server.await.unwrap();
    }

    #[tokio::test]
    async fn the_uplink_is_rate_limited() {
        let (upstream, server) = echo().await;
        let proxy = DelayProxy::start(
            upstream,
            Link {
                rtt: Duration::ZERO,
                // 100 kB at 8 Mbit/s: 100 ms.
                uplink_bps: Some(8_000_000),
            },
        )
        .await
        .unwrap();
        let stream = TcpStream::connect(proxy.addr()).await.unwrap();
        let (mut read, mut write) = stream.into_split();
        let started = Instant::now();
        let sender = tokio::spawn(async move {
            write.write_all(&vec![7u8; 100_000]).await.unwrap();
            write
        });
        let mut buf = vec![0u8; 100_000];
        read.read_exact(&mut buf).await.unwrap();
        let elapsed = started.elapsed();
        assert!(elapsed >= Duration::from_millis(99), "{elapsed:?}");
        drop(sender.await.unwrap());
        drop(read);
        proxy.shutdown().await;
        server.await.unwrap();
    }
}
