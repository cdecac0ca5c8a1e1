//! [`PoolDriver`]: the one future that moves every socket of a pool, spawned by the user on
//! any runtime (hyper's shape: the pool hands back the work, the user picks where it runs).
//! Inside, each connection is a [`ConnTask`] in a `FuturesUnordered`, so a readable socket
//! wakes only its own task; the core's one deadline is one timer.
//!
//! A connection task holds the lock while it reads into the core's buffer and writes what the
//! core queued (non-blocking calls), and dispatches after each read: all the events of the
//! bytes read go to their conversations, which are woken once per batch.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use futures_core::future::BoxFuture;
use futures_rustls::TlsConnector;
use futures_util::stream::{FuturesUnordered, StreamExt};
use responses_ws_core::pool::ConnId;
use responses_ws_core::ws::WsUrl;
use responses_ws_tls::TlsConfig;

use super::shared::Lock;
use crate::runtime::{AsyncIo, Runtime};
use crate::socket::{PoolWire, ReadOutcome, Socket};
use crate::timer::Timer;
use crate::transport::Dialer;
use crate::ConnectError;

/// Deadlines handled in one poll of the driver before it yields.
const TIMER_ROUNDS: usize = 8;

/// Reads one connection task makes before it lets the others run.
const READS_PER_POLL: usize = 16;

/// What opening a socket takes, for every connection of the pool.
pub(crate) struct Dialing {
    pub(crate) runtime: Arc<dyn Runtime>,
    pub(crate) url: WsUrl,
    pub(crate) tls: TlsConfig,
    pub(crate) connector: Option<TlsConnector>,
    pub(crate) timeout: Duration,
}

/// The future that drives a pool's connections: spawn it on your runtime
/// (`tokio::spawn(driver)`, `async_std::task::spawn(driver)`, `smol::spawn(driver).detach()`),
/// or use [`PoolBuilder::spawn`](super::PoolBuilder::spawn) with tokio. It ends once the pool
/// is closed ([`Pool::close`](super::Pool::close), or every handle dropped) and its
/// connections are shut. Dropping it stops the pool: waiting calls fail with
/// [`Error::DriverGone`](super::Error::DriverGone).
#[must_use = "the pool does nothing until its driver is spawned"]
pub struct PoolDriver {
    lock: Lock,
    dialing: Dialing,
    tasks: FuturesUnordered<ConnTask>,
    timer: Timer,
}

impl PoolDriver {
    pub(crate) fn new(lock: Lock, dialing: Dialing) -> PoolDriver {
        PoolDriver {
            lock,
            dialing,
            tasks: FuturesUnordered::new(),
            timer: Timer::default(),
        }
    }

    /// A task for the new connection `conn`: its socket is being opened.
    fn dial(&mut self, conn: ConnId) -> ConnTask {
        let d = &mut self.dialing;
        let dialer = Dialer::new(
            Arc::clone(&d.runtime),
            &d.url,
            &d.tls,
            &mut d.connector,
            d.timeout,
        );
        let opening = match dialer {
            Ok(dialer) => dialer.open(),
            Err(error) => Box::pin(async move { Err(error) }),
        };
        ConnTask {
            conn,
            lock: self.lock.clone(),
            state: State::Opening(opening),
        }
    }
}

impl std::fmt::Debug for PoolDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolDriver")
            .field("connections", &self.tasks.len())
            .finish_non_exhaustive()
    }
}

impl Future for PoolDriver {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        for _ in 0..TIMER_ROUNDS {
            let (dials, deadline, closed, wall) = {
                let mut shared = this.lock.lock();
                if !shared
                    .driver
                    .as_ref()
                    .is_some_and(|w| w.will_wake(cx.waker()))
                {
                    shared.driver = Some(cx.waker().clone());
                }
                let dials = std::mem::take(&mut shared.dials);
                let deadline = shared.pool.poll_timeout();
                shared.armed = deadline;
                let wall = deadline.map(|at| shared.clock.at(at));
                (dials, deadline, shared.pool.is_closed(), wall)
            };
            for conn in dials {
                let task = this.dial(conn);
                this.tasks.push(task);
            }
            while let Poll::Ready(Some(())) = this.tasks.poll_next_unpin(cx) {}
            if let (Some(at), Some(wall)) = (deadline, wall) {
                if this
                    .timer
                    .poll_until(&*this.dialing.runtime, wall, cx)
                    .is_ready()
                {
                    this.lock.with(|shared, now| {
                        shared.armed = None;
                        // The timer may round; the core must see its deadline reached.
                        shared.pool.handle_timeout(now.max(at));
                        #[cfg(feature = "tracing")]
                        shared.traces.after_timeout(&shared.pool);
                    });
                    continue;
                }
            }
            if closed && this.tasks.is_empty() {
                let closers = std::mem::take(&mut this.lock.lock().closers);
                closers.into_iter().for_each(Waker::wake);
                return Poll::Ready(());
            }
            return Poll::Pending;
        }
        // The core keeps finding its deadline due: let the runtime run others meanwhile.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl Drop for PoolDriver {
    /// Nothing moves any more: every waiter is told.
    fn drop(&mut self) {
        let mut shared = self.lock.lock();
        shared.driver_gone = true;
        let mut wakes: Vec<Waker> = std::mem::take(&mut shared.closers);
        wakes.append(&mut shared.mailboxes.take_all_wakers());
        drop(shared);
        wakes.into_iter().for_each(Waker::wake);
    }
}

/// Where a connection's socket stands.
enum State {
    /// TCP (and TLS) being opened.
    Opening(BoxFuture<'static, Result<Box<dyn AsyncIo>, ConnectError>>),
    /// Attached: the upgrade, then frames.
    Up(Socket),
}

/// One connection of the pool: opens its socket, then moves bytes between it and the core
/// until the core closes the connection.
struct ConnTask {
    conn: ConnId,
    lock: Lock,
    state: State,
}

impl Future for ConnTask {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let conn = this.conn;
        if let State::Opening(opening) = &mut this.state {
            match opening.as_mut().poll(cx) {
                Poll::Pending => {
                    // Bytes for it wait in the core until the socket is up.
                    let mut shared = this.lock.lock();
                    match shared.conns.get_mut(&conn) {
                        Some(slot) if !slot.closed => {
                            // A close while the socket opens must end the wait.
                            slot.waker = Some(cx.waker().clone());
                            return Poll::Pending;
                        }
                        _ => {
                            shared.conns.remove(&conn);
                            return Poll::Ready(());
                        }
                    }
                }
                Poll::Ready(Ok(io)) => this.state = State::Up(Socket::new(io)),
                Poll::Ready(Err(error)) => {
                    this.lock.with(|shared, now| {
                        shared.pool.dial_failed(conn, error.failure(), now);
                        shared.conns.remove(&conn);
                    });
                    return Poll::Ready(());
                }
            }
        }
        let State::Up(socket) = &mut this.state else {
            unreachable!("opened above")
        };
        let mut wakes = Vec::new();
        let poll = {
            let mut guard = this.lock.lock();
            let shared = &mut *guard;
            let poll = move_bytes(conn, socket, shared, cx, &mut wakes);
            if poll.is_ready() {
                shared.conns.remove(&conn);
            } else if let Some(slot) = shared.conns.get_mut(&conn) {
                if !slot.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                    slot.waker = Some(cx.waker().clone());
                }
            }
            poll
        };
        wakes.into_iter().for_each(Waker::wake);
        poll
    }
}

/// Writes what the core queued for `conn` and reads what its socket has, dispatching after
/// each read, until the socket would block; `Ready` once the core closed the connection and
/// the socket was shut.
fn move_bytes(
    conn: ConnId,
    socket: &mut Socket,
    shared: &mut super::shared::Shared,
    cx: &mut Context<'_>,
    wakes: &mut Vec<Waker>,
) -> Poll<()> {
    let clock = shared.clock.clone();
    let now = &|| clock.now();
    let mut reads = 0;
    loop {
        let mut wire = PoolWire {
            pool: &mut shared.pool,
            conn,
        };
        if let Poll::Ready(Err(_broken)) = socket.poll_write_all(&mut wire, cx) {
            shared.pool.handle_eof(conn, now());
            shared.dispatch(wakes);
        }
        if shared.conns.get(&conn).is_none_or(|slot| slot.closed) {
            // The core is done with it; what it sent last went out above, as far as the
            // peer took it.
            let _ = socket.poll_shutdown(cx);
            return Poll::Ready(());
        }
        if socket.read_closed() {
            // The core heard the end of file; its Close follows.
            return Poll::Pending;
        }
        if reads == READS_PER_POLL {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let mut wire = PoolWire {
            pool: &mut shared.pool,
            conn,
        };
        match socket.poll_read(&mut wire, now, cx) {
            Poll::Ready(ReadOutcome::Data | ReadOutcome::Ended) => {
                reads += 1;
                shared.dispatch(wakes);
            }
            Poll::Pending => return Poll::Pending,
        }
    }
}
