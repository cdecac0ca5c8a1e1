//! [`Connection::split`]: one connection as two halves for two tasks — a [`Sender`] for the
//! calls that send (cloneable) and an [`EventStream`] for the events (a `Stream`), as
//! tokio-tungstenite users split a socket into its sink and stream.
//!
//! The halves share the connection behind an async lock, taken by one call at a time and
//! never held by the stream while it waits; nothing is spawned, the connection still moves
//! only inside their awaits. A sender's call that drives the connection (waiting for room or
//! for a write) may read events and take over the socket's wake-up: it keeps those events for
//! the stream and wakes the stream's task when it lets go, so no event waits unseen.
//!
//! [`Sender::reunite`] (or [`EventStream::reunite`]) puts the two halves of one connection
//! back into the [`Connection`], events kept for the stream included; halves of two
//! connections, or a sender whose clones are still alive, are refused with a
//! [`ReuniteError`] that hands both halves back.

use std::fmt;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use futures_core::Stream;
use futures_util::lock::{Mutex, MutexGuard, OwnedMutexLockFuture};
use futures_util::task::AtomicWaker;
use responses_ws_core::client::ClientEvent;
use responses_ws_core::session::{Lane, RequestId};
use responses_ws_core::wire::{Input, Item, ResponseCreate, ToolOutput};

use crate::{Connection, Error};

/// The sending half of a split [`Connection`]: `create`, `fork`, `steer`, tool outputs,
/// approvals and `close`, from any task. Clones share the connection.
#[derive(Debug, Clone)]
pub struct Sender {
    conn: Arc<Mutex<Connection>>,
    events: Arc<AtomicWaker>,
}

/// The event half of a split [`Connection`]: a [`Stream`] of what
/// [`Connection::next_event`] returns, ending where it returns `None`.
pub struct EventStream {
    conn: Arc<Mutex<Connection>>,
    events: Arc<AtomicWaker>,
    /// The lock being taken, kept across polls.
    locking: Option<OwnedMutexLockFuture<Connection>>,
}

impl fmt::Debug for EventStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventStream").finish_non_exhaustive()
    }
}

/// Why [`Sender::reunite`] gave no [`Connection`]; both halves are handed back as they were.
///
/// ```
/// # use responses_ws_futures::{runtime::Smol, Config, Connection, ResponseCreate};
/// # use responses_ws_tokio::mock::{MockServer, Script};
/// # let server = MockServer::start_in_thread(Script::new().text("Hello!", 1).text("Again!", 1))?;
/// # let config = Config::new(&server.url())?.runtime(Smol);
/// # smol::block_on(async {
/// # use responses_ws_futures::ReuniteRefusal;
/// let (sender_a, events_a) = Connection::connect(config.clone()).await?.split();
/// let (sender_b, events_b) = Connection::connect(config).await?.split();
/// let refused = sender_a.reunite(events_b).unwrap_err();
/// assert_eq!(refused.reason, ReuniteRefusal::DifferentConnections);
/// // Nothing is lost: each half goes back with its own partner.
/// let a = refused.sender.reunite(events_a)?;
/// let b = refused.events.reunite(sender_b)?;
/// # let _ = (a, b);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct ReuniteError {
    /// Why.
    pub reason: ReuniteRefusal,
    /// The sending half, unchanged.
    pub sender: Sender,
    /// The event half, unchanged (events kept for it are still there).
    pub events: EventStream,
}

/// What kept two halves apart ([`ReuniteError::reason`]).
///
/// ```
/// # use responses_ws_futures::{runtime::Smol, Config, Connection, ResponseCreate};
/// # use responses_ws_tokio::mock::{MockServer, Script};
/// # let server = MockServer::start_in_thread(Script::new().text("Hello!", 1).text("Again!", 1))?;
/// # let config = Config::new(&server.url())?.runtime(Smol);
/// # smol::block_on(async {
/// # use responses_ws_futures::ReuniteRefusal;
/// let (sender, events) = Connection::connect(config).await?.split();
/// let clone = sender.clone();
/// let refused = sender.reunite(events).unwrap_err();
/// assert_eq!(refused.reason, ReuniteRefusal::SenderStillShared);
/// drop(clone);
/// let conn = refused.sender.reunite(refused.events)?;
/// # let _ = conn;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReuniteRefusal {
    /// The halves come from two different connections.
    DifferentConnections,
    /// Another clone of the sender is still alive (drop it, or let its call end, and try
    /// again).
    SenderStillShared,
}

impl fmt::Display for ReuniteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.reason {
            ReuniteRefusal::DifferentConnections => {
                "cannot reunite halves of two different connections"
            }
            ReuniteRefusal::SenderStillShared => {
                "cannot reunite while another clone of the sender is alive"
            }
        })
    }
}

impl std::error::Error for ReuniteError {}

impl Connection {
    /// Splits the connection into a [`Sender`] and an [`EventStream`], to send from one task
    /// and read events in another.
    ///
    /// ```no_run
    /// use futures_util::StreamExt;
    /// use responses_ws_futures::{Config, Connection, ResponseCreate};
    ///
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// let conn = Connection::connect(Config::new("ws://127.0.0.1:8080/v1/responses")?).await?;
    /// let (sender, mut events) = conn.split();
    /// let reader = async move {
    ///     while let Some(event) = events.next().await {
    ///         println!("{:?}", event?);
    ///     }
    ///     Ok::<(), responses_ws_futures::Error>(())
    /// };
    /// // `reader` can run in a task of its own; the sender goes on here.
    /// sender.create(ResponseCreate::new("gpt-5.5").input("Hi")).await?;
    /// # drop(reader);
    /// # Ok(())
    /// # }
    /// ```
    pub fn split(self) -> (Sender, EventStream) {
        let conn = Arc::new(Mutex::new(self));
        let events = Arc::new(AtomicWaker::new());
        let sender = Sender {
            conn: Arc::clone(&conn),
            events: Arc::clone(&events),
        };
        let stream = EventStream {
            conn,
            events,
            locking: None,
        };
        (sender, stream)
    }
}

impl Sender {
    /// Puts this sender and `events`, the halves of one [`split`](Connection::split), back
    /// into their [`Connection`]; events that sender calls kept for the stream come out of
    /// the connection next. Refused, with both halves handed back, when they come from two
    /// connections or another clone of this sender is alive.
    ///
    /// ```
    /// # use responses_ws_futures::{runtime::Smol, Config, Connection, ResponseCreate};
    /// # use responses_ws_tokio::mock::{MockServer, Script};
    /// # let server = MockServer::start_in_thread(Script::new().text("Hello!", 1).text("Again!", 1))?;
    /// # let config = Config::new(&server.url())?.runtime(Smol);
    /// # smol::block_on(async {
    /// let conn = Connection::connect(config).await?;
    /// let (sender, mut events) = conn.split();
    /// sender.create(ResponseCreate::new("gpt-5.5").input("Hi")).await?;
    /// let mut conn = sender.reunite(events)?;
    /// // The first response's events come from the connection now, then the next turn.
    /// # while conn.next_event().await?.is_some_and(|event| !matches!(event, responses_ws_futures::ClientEvent::Session(responses_ws_futures::SessionEvent::Completed { .. }))) {}
    /// let response = conn.run_tool_loop(ResponseCreate::new("gpt-5.5").input("More"), |_| async { String::new() }).await?;
    /// assert_eq!(response.all_output_text(), "Again!");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reunite(self, events: EventStream) -> Result<Connection, ReuniteError> {
        if !Arc::ptr_eq(&self.conn, &events.conn) {
            return Err(ReuniteError {
                reason: ReuniteRefusal::DifferentConnections,
                sender: self,
                events,
            });
        }
        let Sender {
            conn,
            events: waker,
        } = self;
        // A lock the stream was waiting for holds a reference: give it up first.
        drop(events);
        match Arc::try_unwrap(conn) {
            Ok(conn) => Ok(conn.into_inner()),
            Err(conn) => Err(ReuniteError {
                reason: ReuniteRefusal::SenderStillShared,
                sender: Sender {
                    conn: Arc::clone(&conn),
                    events: Arc::clone(&waker),
                },
                events: EventStream {
                    conn,
                    events: waker,
                    locking: None,
                },
            }),
        }
    }

    /// The connection, for one call; the stream's task is woken when it is let go.
    async fn turn(&self) -> Turn<'_> {
        Turn {
            conn: self.conn.lock().await,
            events: &self.events,
        }
    }

    /// See [`Connection::create`].
    pub async fn create(&self, request: ResponseCreate) -> Result<RequestId, Error> {
        self.turn().await.create(request).await
    }

    /// See [`Connection::fork`].
    pub async fn fork(&self, from: &Lane, request: ResponseCreate) -> Result<RequestId, Error> {
        self.turn().await.fork(from, request).await
    }

    /// See [`Connection::submit_tool_output`].
    pub async fn submit_tool_output(
        &self,
        lane: &Lane,
        call_id: &str,
        output: impl Into<ToolOutput>,
    ) -> Result<(), Error> {
        let output = output.into();
        self.turn()
            .await
            .submit_tool_output(lane, call_id, output)
            .await
    }

    /// See [`Connection::submit_approval`].
    pub async fn submit_approval(
        &self,
        lane: &Lane,
        request_id: &str,
        approve: bool,
        reason: Option<String>,
    ) -> Result<(), Error> {
        let mut conn = self.turn().await;
        conn.submit_approval(lane, request_id, approve, reason)
            .await
    }

    /// See [`Connection::steer`].
    pub async fn steer(&self, lane: &Lane, input: impl Into<Input>) -> Result<(), Error> {
        let input = input.into();
        self.turn().await.steer(lane, input).await
    }

    /// See [`Connection::inject`].
    pub async fn inject(&self, lane: &Lane, input: Vec<Item>) -> Result<(), Error> {
        self.turn().await.inject(lane, input).await
    }

    /// See [`Connection::close`]: the stream then ends once it has handed out every event.
    pub async fn close(&self) -> Result<(), Error> {
        self.turn().await.close().await
    }
}

/// A sender's hold on the connection; letting go wakes the stream's task, whose wake-up the
/// call may have taken over and for which it may have kept events.
struct Turn<'a> {
    conn: MutexGuard<'a, Connection>,
    events: &'a AtomicWaker,
}

impl Deref for Turn<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        &self.conn
    }
}

impl DerefMut for Turn<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.events.wake();
    }
}

impl EventStream {
    /// [`Sender::reunite`] from the other side: `sender` and this stream back into their
    /// [`Connection`].
    ///
    /// ```
    /// # use responses_ws_futures::{runtime::Smol, Config, Connection, ResponseCreate};
    /// # use responses_ws_tokio::mock::{MockServer, Script};
    /// # let server = MockServer::start_in_thread(Script::new().text("Hello!", 1).text("Again!", 1))?;
    /// # let config = Config::new(&server.url())?.runtime(Smol);
    /// # smol::block_on(async {
    /// let (sender, events) = Connection::connect(config).await?.split();
    /// let conn = events.reunite(sender)?;
    /// assert!(conn.is_open());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reunite(self, sender: Sender) -> Result<Connection, ReuniteError> {
        sender.reunite(self)
    }
}

impl Stream for EventStream {
    type Item = Result<ClientEvent, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        this.events.register(cx.waker());
        let conn = &this.conn;
        let locking = this
            .locking
            .get_or_insert_with(|| Arc::clone(conn).lock_owned());
        let mut conn = ready!(Pin::new(locking).poll(cx));
        this.locking = None;
        // The lock is let go on return, `Pending` included: the sender is never kept out.
        conn.poll_next_event(cx).map(Result::transpose)
    }
}
