//! [`Mailboxes`]: what a pool driver keeps per conversation between the core's pool and the
//! agents — the running turn's events, whether it got a lane, how it ended — and
//! [`Mailboxes::dispatch`], which drains the core's outputs after an input: session events to
//! their conversation, each waiting conversation's wake handle once per batch however many
//! events it got, dials, closes and connections with bytes to write to the driver (`W`, the
//! wake handle, is the async pool's `Waker`).

use std::collections::{HashMap, VecDeque};

use responses_ws_core::pool::{ConnId, ConvId, Pool, PoolEvent, TurnError, TurnId};
use responses_ws_core::session::SessionEvent;
use responses_ws_core::Instant;

/// The conversations' mailboxes; `W` wakes a waiting agent.
///
/// ```
/// # use responses_ws_adapter::pool::mailboxes::{Admission, Dispatched, Mailboxes};
/// # use responses_ws_core::client::ClientConfig;
/// # use responses_ws_core::pool::{Pool, PoolConfig};
/// # use responses_ws_core::wire::ResponseCreate;
/// # use responses_ws_core::ws::WsUrl;
/// # use responses_ws_core::Instant;
/// # let mut pool = Pool::new(PoolConfig::new(ClientConfig::new(WsUrl::parse("ws://127.0.0.1/v1/responses")?)), [1; 32]);
/// // The wake handle of this example is the agent's name.
/// let mut mailboxes: Mailboxes<&str> = Mailboxes::default();
/// let conv = pool.open_conversation()?;
/// let turn = pool.turn(conv, ResponseCreate::new("gpt-5.5").input("Hi"), Instant::ZERO)?;
/// mailboxes.start(conv, turn);
/// assert!(matches!(mailboxes.admission(conv, turn, || "agent-1"), Admission::Waiting));
/// let mut out = Dispatched::default();
/// mailboxes.dispatch(&mut pool, &mut out, |_, _| {});
/// // The pool dialed a connection and gave the turn a lane on it: its agent is woken.
/// assert_eq!(out.wake, ["agent-1"]);
/// assert!(matches!(mailboxes.admission(conv, turn, || "agent-1"), Admission::Admitted));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Mailboxes<W> {
    convs: HashMap<ConvId, Mailbox<W>>,
}

impl<W> Default for Mailboxes<W> {
    fn default() -> Self {
        Mailboxes {
            convs: HashMap::new(),
        }
    }
}

/// One conversation's mailbox.
#[derive(Debug)]
struct Mailbox<W> {
    turn: Option<TurnSlot<W>>,
    /// Every handle of the conversation was dropped during a turn: it is closed when the
    /// turn ends.
    orphan: bool,
}

impl<W> Default for Mailbox<W> {
    fn default() -> Self {
        Mailbox {
            turn: None,
            orphan: false,
        }
    }
}

/// The current turn of a conversation, as its waiter sees it.
///
/// Invariant: `events` only grows while somebody listens (`detached` is false); `ended` is set
/// once, by the core's `TurnEnded`.
#[derive(Debug)]
struct TurnSlot<W> {
    id: TurnId,
    admitted: bool,
    events: VecDeque<SessionEvent>,
    ended: Option<Result<(), TurnError>>,
    waker: Option<W>,
    /// Nobody listens any more: events are dropped and the slot goes at the turn's end.
    detached: bool,
}

/// What a dispatch asks of the driver, besides the agents it wakes.
///
/// ```
/// # use responses_ws_adapter::pool::mailboxes::{Dispatched, Mailboxes};
/// # use responses_ws_core::client::ClientConfig;
/// # use responses_ws_core::pool::{Pool, PoolConfig};
/// # use responses_ws_core::wire::ResponseCreate;
/// # use responses_ws_core::ws::WsUrl;
/// # use responses_ws_core::Instant;
/// # let mut pool = Pool::new(PoolConfig::new(ClientConfig::new(WsUrl::parse("ws://127.0.0.1/v1/responses")?)), [1; 32]);
/// // The wake handle of this example is the agent's name.
/// let mut mailboxes: Mailboxes<&str> = Mailboxes::default();
/// let conv = pool.open_conversation()?;
/// let turn = pool.turn(conv, ResponseCreate::new("gpt-5.5").input("Hi"), Instant::ZERO)?;
/// mailboxes.start(conv, turn);
/// let mut out = Dispatched::default();
/// mailboxes.dispatch(&mut pool, &mut out, |_, _| {});
/// assert_eq!(out.dial.len(), 1); // the turn needs a connection: the driver opens one
/// assert!(out.wake.is_empty()); // nobody has news yet
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Dispatched<W> {
    /// Wake handles of the agents with news, each once.
    pub wake: Vec<W>,
    /// Connections to open (the core's `Dial`).
    pub dial: Vec<ConnId>,
    /// Connections to shut (the core's `Close`).
    pub close: Vec<ConnId>,
    /// Connections with bytes to write.
    pub ready: Vec<ConnId>,
}

impl<W> Default for Dispatched<W> {
    fn default() -> Self {
        Dispatched {
            wake: Vec::new(),
            dial: Vec::new(),
            close: Vec::new(),
            ready: Vec::new(),
        }
    }
}

/// Where a waiting turn stands ([`Mailboxes::admission`]).
///
/// ```
/// # use responses_ws_adapter::pool::mailboxes::{Admission, Mailboxes};
/// # use responses_ws_core::client::ClientConfig;
/// # use responses_ws_core::pool::{Pool, PoolConfig};
/// # use responses_ws_core::wire::ResponseCreate;
/// # use responses_ws_core::ws::WsUrl;
/// # use responses_ws_core::Instant;
/// # let mut pool = Pool::new(PoolConfig::new(ClientConfig::new(WsUrl::parse("ws://127.0.0.1/v1/responses")?)), [1; 32]);
/// // The wake handle of this example is the agent's name.
/// let mut mailboxes: Mailboxes<&str> = Mailboxes::default();
/// let conv = pool.open_conversation()?;
/// let turn = pool.turn(conv, ResponseCreate::new("gpt-5.5").input("Hi"), Instant::ZERO)?;
/// mailboxes.start(conv, turn);
/// assert!(matches!(mailboxes.admission(conv, turn, || "agent-1"), Admission::Waiting));
/// assert!(matches!(mailboxes.admission(conv, responses_ws_core::pool::TurnId(99), || "agent-1"), Admission::Gone));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Admission {
    /// It has a lane: its events follow.
    Admitted,
    /// It ended before it got one (waited too long, the pool closed).
    Ended(Result<(), TurnError>),
    /// Still waiting; the wake handle was kept.
    Waiting,
    /// The pool forgot it.
    Gone,
}

/// What a turn's listener gets next ([`Mailboxes::take_events`]).
///
/// ```
/// # use std::collections::VecDeque;
/// # use responses_ws_adapter::pool::mailboxes::{Mailboxes, Next};
/// # use responses_ws_core::client::ClientConfig;
/// # use responses_ws_core::pool::{Pool, PoolConfig};
/// # use responses_ws_core::wire::ResponseCreate;
/// # use responses_ws_core::ws::WsUrl;
/// # use responses_ws_core::Instant;
/// # let mut pool = Pool::new(PoolConfig::new(ClientConfig::new(WsUrl::parse("ws://127.0.0.1/v1/responses")?)), [1; 32]);
/// // The wake handle of this example is the agent's name.
/// let mut mailboxes: Mailboxes<&str> = Mailboxes::default();
/// let conv = pool.open_conversation()?;
/// let turn = pool.turn(conv, ResponseCreate::new("gpt-5.5").input("Hi"), Instant::ZERO)?;
/// mailboxes.start(conv, turn);
/// let mut batch = VecDeque::new();
/// assert!(matches!(mailboxes.take_events(conv, turn, &mut batch, |waker| *waker = Some("agent-1")), Next::Waiting));
/// pool.cancel_turn(turn);
/// mailboxes.cancelled(conv, turn);
/// assert!(matches!(mailboxes.take_events(conv, turn, &mut batch, |_| {}), Next::Gone));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Next {
    /// Events were moved to the listener's batch.
    Events,
    /// The turn is over; its slot is gone.
    Ended(Result<(), TurnError>),
    /// Nothing yet; the wake handle was kept.
    Waiting,
    /// The pool forgot it.
    Gone,
}

impl<W> Mailboxes<W> {
    /// `conv` starts `turn` (just taken by the core).
    ///
    /// ```
    /// # use responses_ws_adapter::pool::mailboxes::{Admission, Mailboxes};
    /// # use responses_ws_core::client::ClientConfig;
    /// # use responses_ws_core::pool::{Pool, PoolConfig};
    /// # use responses_ws_core::wire::ResponseCreate;
    /// # use responses_ws_core::ws::WsUrl;
    /// # use responses_ws_core::Instant;
    /// # let mut pool = Pool::new(PoolConfig::new(ClientConfig::new(WsUrl::parse("ws://127.0.0.1/v1/responses")?)), [1; 32]);
    /// // The wake handle of this example is the agent's name.
    /// let mut mailboxes: Mailboxes<&str> = Mailboxes::default();
    /// let conv = pool.open_conversation()?;
    /// let turn = pool.turn(conv, ResponseCreate::new("gpt-5.5").input("Hi"), Instant::ZERO)?;
    /// mailboxes.start(conv, turn);
    /// assert!(matches!(mailboxes.admission(conv, turn, || "agent-1"), Admission::Waiting));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn start(&mut self, conv: ConvId, turn: TurnId) {
        self.convs.entry(conv).or_default().turn = Some(TurnSlot {
            id: turn,
            admitted: false,
            events: VecDeque::new(),
            ended: None,
            waker: None,
            detached: false,
        });
    }

    fn slot(&mut self, conv: ConvId, turn: TurnId) -> Option<&mut TurnSlot<W>> {
        self.convs
            .get_mut(&conv)?
            .turn
            .as_mut()
            .filter(|slot| slot.id == turn)
    }

    /// Forgets `conv`'s slot of `turn`.
    fn drop_turn(&mut self, conv: ConvId, turn: TurnId) {
        if let Some(entry) = self.convs.get_mut(&conv) {
            if entry.turn.as_ref().is_some_and(|slot| slot.id == turn) {
                entry.turn = None;
            }
        }
    }

    /// Whether `turn` of `conv` has its lane; keeps `waker` (made only when needed) while it
    /// waits.
    ///
    /// ```
    /// # use responses_ws_adapter::pool::mailboxes::{Admission, Dispatched, Mailboxes};
    /// # use responses_ws_core::client::ClientConfig;
    /// # use responses_ws_core::pool::{Pool, PoolConfig};
    /// # use responses_ws_core::wire::ResponseCreate;
    /// # use responses_ws_core::ws::WsUrl;
    /// # use responses_ws_core::Instant;
    /// # let mut pool = Pool::new(PoolConfig::new(ClientConfig::new(WsUrl::parse("ws://127.0.0.1/v1/responses")?)), [1; 32]);
    /// // The wake handle of this example is the agent's name.
    /// let mut mailboxes: Mailboxes<&str> = Mailboxes::default();
    /// let conv = pool.open_conversation()?;
    /// let turn = pool.turn(conv, ResponseCreate::new("gpt-5.5").input("Hi"), Instant::ZERO)?;
    /// mailboxes.start(conv, turn);
    /// assert!(matches!(mailboxes.admission(conv, turn, || "agent-1"), Admission::Waiting));
    /// mailboxes.dispatch(&mut pool, &mut Dispatched::default(), |_, _| {});
    /// assert!(matches!(mailboxes.admission(conv, turn, || "agent-1"), Admission::Admitted));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn admission(
        &mut self,
        conv: ConvId,
        turn: TurnId,
        waker: impl FnOnce() -> W,
    ) -> Admission {
        let Some(slot) = self.slot(conv, turn) else {
            return Admission::Gone;
        };
        if slot.admitted {
            return Admission::Admitted;
        }
        if let Some(result) = slot.ended.take() {
            self.drop_turn(conv, turn);
            return Admission::Ended(result);
        }
        slot.waker = Some(waker());
        Admission::Waiting
    }

    /// Moves `turn`'s events to `batch` (one swap, however many), or says it is over; keeps
    /// `waker` while nothing is there.
    ///
    /// ```
    /// # use std::collections::VecDeque;
    /// # use responses_ws_adapter::pool::mailboxes::{Mailboxes, Next};
    /// # use responses_ws_core::client::ClientConfig;
    /// # use responses_ws_core::pool::{Pool, PoolConfig};
    /// # use responses_ws_core::wire::ResponseCreate;
    /// # use responses_ws_core::ws::WsUrl;
    /// # use responses_ws_core::Instant;
    /// # let mut pool = Pool::new(PoolConfig::new(ClientConfig::new(WsUrl::parse("ws://127.0.0.1/v1/responses")?)), [1; 32]);
    /// // The wake handle of this example is the agent's name.
    /// let mut mailboxes: Mailboxes<&str> = Mailboxes::default();
    /// let conv = pool.open_conversation()?;
    /// let turn = pool.turn(conv, ResponseCreate::new("gpt-5.5").input("Hi"), Instant::ZERO)?;
    /// mailboxes.start(conv, turn);
    /// let mut batch = VecDeque::new();
    /// let next = mailboxes.take_events(conv, turn, &mut batch, |waker| *waker = Some("agent-1"));
    /// assert!(matches!(next, Next::Waiting) && batch.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn take_events(
        &mut self,
        conv: ConvId,
        turn: TurnId,
        batch: &mut VecDeque<SessionEvent>,
        waker: impl FnOnce(&mut Option<W>),
    ) -> Next {
        let Some(slot) = self.slot(conv, turn) else {
            return Next::Gone;
        };
        std::mem::swap(&mut slot.events, batch);
        if !batch.is_empty() {
            return Next::Events;
        }
        if let Some(result) = slot.ended.take() {
            self.drop_turn(conv, turn);
            return Next::Ended(result);
        }
        waker(&mut slot.waker);
        Next::Waiting
    }

    /// Nobody listens to `turn` any more (its waiter or listener was dropped): its events
    /// are dropped, its slot goes at its end.
    ///
    /// ```
    /// # use responses_ws_adapter::pool::mailboxes::{Admission, Dispatched, Mailboxes};
    /// # use responses_ws_core::client::ClientConfig;
    /// # use responses_ws_core::pool::{Pool, PoolConfig};
    /// # use responses_ws_core::wire::ResponseCreate;
    /// # use responses_ws_core::ws::WsUrl;
    /// # use responses_ws_core::Instant;
    /// # let mut pool = Pool::new(PoolConfig::new(ClientConfig::new(WsUrl::parse("ws://127.0.0.1/v1/responses")?)), [1; 32]);
    /// // The wake handle of this example is the agent's name.
    /// let mut mailboxes: Mailboxes<&str> = Mailboxes::default();
    /// let conv = pool.open_conversation()?;
    /// let turn = pool.turn(conv, ResponseCreate::new("gpt-5.5").input("Hi"), Instant::ZERO)?;
    /// mailboxes.start(conv, turn);
    /// assert!(matches!(mailboxes.admission(conv, turn, || "agent-1"), Admission::Waiting));
    /// mailboxes.detach(conv, turn); // the agent stopped listening
    /// pool.close(Instant::ZERO);
    /// let mut out = Dispatched::default();
    /// mailboxes.dispatch(&mut pool, &mut out, |_, _| {});
    /// assert!(out.wake.is_empty()); // nobody to wake
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn detach(&mut self, conv: ConvId, turn: TurnId) {
        let ended = match self.slot(conv, turn) {
            Some(slot) => {
                slot.detached = true;
                slot.events.clear();
                slot.waker = None;
                slot.ended.is_some()
            }
            None => false,
        };
        if ended {
            self.drop_turn(conv, turn);
        }
    }

    /// A waiting `turn` was taken out of the core's queue: its slot goes.
    ///
    /// ```
    /// # use responses_ws_adapter::pool::mailboxes::{Admission, Mailboxes};
    /// # use responses_ws_core::client::ClientConfig;
    /// # use responses_ws_core::pool::{Pool, PoolConfig};
    /// # use responses_ws_core::wire::ResponseCreate;
    /// # use responses_ws_core::ws::WsUrl;
    /// # use responses_ws_core::Instant;
    /// # let mut pool = Pool::new(PoolConfig::new(ClientConfig::new(WsUrl::parse("ws://127.0.0.1/v1/responses")?)), [1; 32]);
    /// // The wake handle of this example is the agent's name.
    /// let mut mailboxes: Mailboxes<&str> = Mailboxes::default();
    /// let conv = pool.open_conversation()?;
    /// let turn = pool.turn(conv, ResponseCreate::new("gpt-5.5").input("Hi"), Instant::ZERO)?;
    /// mailboxes.start(conv, turn);
    /// pool.cancel_turn(turn); // taken out of the queue before it got a lane
    /// mailboxes.cancelled(conv, turn);
    /// assert!(matches!(mailboxes.admission(conv, turn, || "agent-1"), Admission::Gone));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn cancelled(&mut self, conv: ConvId, turn: TurnId) {
        self.drop_turn(conv, turn);
    }

    /// The last handle of `conv` is gone: it closes now, or when its turn ends.
    ///
    /// ```
    /// # use responses_ws_adapter::pool::mailboxes::Mailboxes;
    /// # use responses_ws_core::client::ClientConfig;
    /// # use responses_ws_core::pool::{Pool, PoolConfig};
    /// # use responses_ws_core::wire::ResponseCreate;
    /// # use responses_ws_core::ws::WsUrl;
    /// # use responses_ws_core::Instant;
    /// # let mut pool = Pool::new(PoolConfig::new(ClientConfig::new(WsUrl::parse("ws://127.0.0.1/v1/responses")?)), [1; 32]);
    /// // The wake handle of this example is the agent's name.
    /// let mut mailboxes: Mailboxes<&str> = Mailboxes::default();
    /// let conv = pool.open_conversation()?;
    /// let turn = pool.turn(conv, ResponseCreate::new("gpt-5.5").input("Hi"), Instant::ZERO)?;
    /// mailboxes.start(conv, turn);
    /// // Dropped while its turn runs: the conversation closes only at the turn's end.
    /// mailboxes.release(&mut pool, conv, Instant::ZERO);
    /// assert_eq!(pool.stats().conversations, 1);
    /// // Without a turn it closes at once.
    /// let idle = pool.open_conversation()?;
    /// mailboxes.release(&mut pool, idle, Instant::ZERO);
    /// assert_eq!(pool.stats().conversations, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn release(&mut self, pool: &mut Pool, conv: ConvId, now: Instant) {
        match pool.close_conversation(conv) {
            Ok(()) => {
                self.convs.remove(&conv);
            }
            Err(_) => {
                let entry = self.convs.entry(conv).or_default();
                entry.orphan = true;
                let turn = entry.turn.as_mut().map(|slot| {
                    slot.detached = true;
                    slot.events.clear();
                    slot.id
                });
                // Nobody will answer its tool calls: the turn ends once nothing of it is in
                // flight, and the conversation closes then.
                if let Some(turn) = turn {
                    pool.detach_turn(conv, turn, now);
                }
            }
        }
    }

    /// Every wake handle kept (the driver is gone: the waiters must hear it).
    ///
    /// ```
    /// # use responses_ws_adapter::pool::mailboxes::{Admission, Mailboxes};
    /// # use responses_ws_core::client::ClientConfig;
    /// # use responses_ws_core::pool::{Pool, PoolConfig};
    /// # use responses_ws_core::wire::ResponseCreate;
    /// # use responses_ws_core::ws::WsUrl;
    /// # use responses_ws_core::Instant;
    /// # let mut pool = Pool::new(PoolConfig::new(ClientConfig::new(WsUrl::parse("ws://127.0.0.1/v1/responses")?)), [1; 32]);
    /// // The wake handle of this example is the agent's name.
    /// let mut mailboxes: Mailboxes<&str> = Mailboxes::default();
    /// let conv = pool.open_conversation()?;
    /// let turn = pool.turn(conv, ResponseCreate::new("gpt-5.5").input("Hi"), Instant::ZERO)?;
    /// mailboxes.start(conv, turn);
    /// assert!(matches!(mailboxes.admission(conv, turn, || "agent-1"), Admission::Waiting));
    /// // The driver stopped: every waiting agent must hear it.
    /// assert_eq!(mailboxes.take_all_wakers(), ["agent-1"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn take_all_wakers(&mut self) -> Vec<W> {
        self.convs
            .values_mut()
            .filter_map(|entry| entry.turn.as_mut()?.waker.take())
            .collect()
    }

    /// Drains the core's events and ready connections after an input into the mailboxes and
    /// `out`; `observe` sees every event first (for tracing).
    ///
    /// ```
    /// # use responses_ws_adapter::pool::mailboxes::{Dispatched, Mailboxes};
    /// # use responses_ws_core::client::ClientConfig;
    /// # use responses_ws_core::pool::{Pool, PoolConfig};
    /// # use responses_ws_core::wire::ResponseCreate;
    /// # use responses_ws_core::ws::WsUrl;
    /// # use responses_ws_core::Instant;
    /// # let mut pool = Pool::new(PoolConfig::new(ClientConfig::new(WsUrl::parse("ws://127.0.0.1/v1/responses")?)), [1; 32]);
    /// // The wake handle of this example is the agent's name.
    /// let mut mailboxes: Mailboxes<&str> = Mailboxes::default();
    /// let conv = pool.open_conversation()?;
    /// let turn = pool.turn(conv, ResponseCreate::new("gpt-5.5").input("Hi"), Instant::ZERO)?;
    /// mailboxes.start(conv, turn);
    /// let mut out = Dispatched::default();
    /// let mut seen = 0;
    /// mailboxes.dispatch(&mut pool, &mut out, |_event, _pool| seen += 1);
    /// assert!(seen > 0);
    /// assert_eq!(out.dial.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn dispatch(
        &mut self,
        pool: &mut Pool,
        out: &mut Dispatched<W>,
        mut observe: impl FnMut(&PoolEvent, &Pool),
    ) {
        while let Some(event) = pool.poll_event() {
            observe(&event, pool);
            match event {
                PoolEvent::Dial { conn } => out.dial.push(conn),
                PoolEvent::Close { conn } => out.close.push(conn),
                PoolEvent::TurnAdmitted { conv, turn, .. } => {
                    if let Some(slot) = self.slot(conv, turn) {
                        slot.admitted = true;
                        out.wake.extend(slot.waker.take());
                    }
                }
                PoolEvent::Conversation { conv, turn, event } => {
                    if let Some(slot) = self.slot(conv, turn).filter(|slot| !slot.detached) {
                        slot.events.push_back(event);
                        out.wake.extend(slot.waker.take());
                    }
                }
                PoolEvent::TurnEnded { conv, turn, result } => {
                    self.on_ended(pool, conv, turn, result, out)
                }
                _ => {}
            }
        }
        while let Some(conn) = pool.poll_ready() {
            out.ready.push(conn);
        }
    }

    fn on_ended(
        &mut self,
        pool: &mut Pool,
        conv: ConvId,
        turn: TurnId,
        result: Result<(), TurnError>,
        out: &mut Dispatched<W>,
    ) {
        let Some(entry) = self.convs.get_mut(&conv) else {
            return;
        };
        match &mut entry.turn {
            Some(slot) if slot.id == turn && !slot.detached => {
                slot.ended = Some(result);
                out.wake.extend(slot.waker.take());
            }
            Some(slot) if slot.id == turn => entry.turn = None,
            _ => {}
        }
        if entry.orphan {
            self.convs.remove(&conv);
            // The turn is over: the conversation has none now.
            let _ = pool.close_conversation(conv);
        }
    }
}
