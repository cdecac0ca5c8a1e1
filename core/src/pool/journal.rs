//! Journaled conversations in the pool: the write-ahead [`Record`]s of every conversation
//! opened with an id ([`Pool::open_journaled`], [`Pool::resume_conversation`]), gathered from
//! whichever connection carries it, and what happens when the driver could not store them
//! ([`Pool::journal_failed`]).
//!
//! The invariant this module keeps, with [`Pool::poll_ready`] and [`Pool::poll_transmit`]:
//! **no connection yields a byte while a record waits in the pool**, and a conversation's
//! records come out in their order wherever it moves: a connection's records are gathered
//! whenever the pool touches its client, and before a conversation's lane leaves the client
//! (parked, moved off a connection that failed). A driver that stores every record
//! [`poll_record`](Pool::poll_record) gives before it writes therefore never sends what the
//! store does not have — the same contract as [`Session::poll_record`](crate::session::Session::poll_record),
//! for many conversations at once (so one store call can carry many).

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::string::String;

use super::conversation::{Home, Turn, TurnPhase};
use super::events::{PoolError, TurnError};
use super::ids::{ConnId, ConvId, TurnId};
use super::machine::Pool;
use super::slots::LaneSlots;
use crate::persist::Record;
use crate::session::LaneTransfer;
use crate::time::Instant;

/// The pool's journaled conversations and their records not yet handed out.
#[derive(Debug, Default)]
pub(super) struct Journals {
    /// Records gathered from the clients and parked conversations, oldest first.
    records: VecDeque<Record>,
    /// Each journaled conversation by its id.
    ids: BTreeMap<String, ConvId>,
    /// Conversations whose lease another worker took: they take no more turns.
    fenced: BTreeSet<ConvId>,
}

impl Pool {
    /// A new conversation journaled as `conversation` (an id unique in the store, e.g. a
    /// UUID): every state change a resumed worker needs comes out of
    /// [`poll_record`](Self::poll_record), starting with `Opened`, before the bytes it
    /// describes. Refused when a conversation of the pool has that id already
    /// ([`PoolError::AlreadyOpen`]) or beyond [`PoolConfig::max_conversations`](super::PoolConfig::max_conversations).
    ///
    /// ```
    /// use responses_ws_core::client::ClientConfig;
    /// use responses_ws_core::persist::Entry;
    /// use responses_ws_core::pool::{Pool, PoolConfig};
    /// use responses_ws_core::ws::WsUrl;
    ///
    /// let url = WsUrl::parse("ws://127.0.0.1:8080/v1/responses")?;
    /// let mut pool = Pool::new(PoolConfig::new(ClientConfig::new(url)), [7; 32]);
    /// let agent = pool.open_journaled("conv-1")?;
    /// let opened = pool.poll_record().unwrap();
    /// assert_eq!((opened.conversation.as_str(), opened.seq), ("conv-1", 0));
    /// assert!(matches!(opened.entry, Entry::Opened { .. }));
    /// assert!(pool.open_journaled("conv-1").is_err());
    /// assert_eq!(pool.journaled_as(agent), Some("conv-1"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open_journaled(&mut self, conversation: &str) -> Result<ConvId, PoolError> {
        self.adopt(LaneTransfer::journaled(conversation))
    }

    /// A conversation that continues `transfer`: a saved context, or one rebuilt from its
    /// records (`LaneTransfer::from(replay(&records)?)`), journaled on under its id. When it
    /// owes work (a request, or tool calls to answer) its turn resumes at once, ahead of
    /// waiting turns, like a turn that moved off a failed connection: the [`TurnId`] is
    /// returned, its calls without an output take
    /// [`submit_tool_output`](Self::submit_tool_output), and the request goes out with the
    /// full context. Refused as [`open_journaled`](Self::open_journaled) is.
    pub fn resume_conversation(
        &mut self,
        transfer: LaneTransfer,
        now: Instant,
    ) -> Result<(ConvId, Option<TurnId>), PoolError> {
        let owes = !transfer.is_idle();
        let conv = self.adopt(transfer)?;
        if !owes {
            return Ok((conv, None));
        }
        let turn = self.next_turn_id();
        let entry = self.convs.get_mut(&conv).expect("just opened");
        entry.turn = Some(Turn::new(turn, TurnPhase::Resuming));
        self.totals.turns_in_flight += 1;
        self.admission.resume(conv);
        self.admit(now);
        Ok((conv, Some(turn)))
    }

    /// A new conversation holding `transfer`, registered under its journal's id.
    fn adopt(&mut self, mut transfer: LaneTransfer) -> Result<ConvId, PoolError> {
        let id = transfer.journaled_as().map(String::from);
        if let Some(id) = &id {
            if self.journals.ids.contains_key(id) {
                return Err(PoolError::AlreadyOpen(id.clone()));
            }
        }
        let conv = self.open_conversation()?;
        self.journals
            .records
            .extend(core::iter::from_fn(|| transfer.poll_record()));
        let entry = self.convs.get_mut(&conv).expect("just opened");
        entry.home = Home::Parked(Box::new(transfer));
        if let Some(id) = id {
            self.journals.ids.insert(id, conv);
        }
        Ok(conv)
    }

    /// The conversation journaled as `id`, if the pool has it.
    pub fn journaled(&self, id: &str) -> Option<ConvId> {
        self.journals.ids.get(id).copied()
    }

    /// The id `conv` is journaled under, if it is.
    pub fn journaled_as(&self, conv: ConvId) -> Option<&str> {
        let (id, _) = self.journals.ids.iter().find(|(_, &c)| c == conv)?;
        Some(id)
    }

    /// The next write-ahead record of a journaled conversation, whichever connection
    /// carries it. Drain them after every input, store them, then write: no connection is
    /// [ready](Self::poll_ready) and none yields bytes while one waits here.
    pub fn poll_record(&mut self) -> Option<Record> {
        self.journals.records.pop_front()
    }

    /// The driver could not store the records of `conversation` (a journaled id) that
    /// [`poll_record`](Self::poll_record) gave since the last success: nothing of them may go
    /// out. Whatever of the conversation waits to be sent is dropped — its lane taken off
    /// its connection, or, when a request of it is on its way there, that connection
    /// dropped first (its other conversations move to other connections as after any
    /// connection failure, losing nothing) — and its turn ends with
    /// [`TurnError::NotDurable`]. Its context stays: the driver keeps the unstored records
    /// and writes them before the conversation's next ones.
    ///
    /// `fenced`: another worker holds the conversation's lease; it takes no more turns here
    /// ([`PoolError::Fenced`]) and is forgotten once its handle closes it.
    pub fn journal_failed(
        &mut self,
        conversation: &str,
        fenced: bool,
        reason: String,
        now: Instant,
    ) {
        let Some(&conv) = self.journals.ids.get(conversation) else {
            return;
        };
        if fenced {
            self.journals.fenced.insert(conv);
        }
        // The turn ends with this cause before its connection may be dropped under it
        // (below), which would end it as interrupted and hide why.
        let turn = (self.convs.get(&conv).and_then(|c| c.turn.as_ref())).map(|t| (t.phase, t.id));
        match turn {
            Some((TurnPhase::Resuming, _)) => self.admission.withdraw(conv),
            Some((TurnPhase::Waiting, turn)) => {
                self.admission.cancel(turn);
            }
            _ => {}
        }
        self.end_turn(conv, Some(TurnError::NotDurable { fenced, reason }));
        if let Some(Home::Placed { conn, slot }) = self.convs.get(&conv).map(|c| &c.home) {
            let (conn, slot) = (*conn, *slot);
            self.unseat(conv, conn, slot, now);
        }
        if let Some(Home::Parked(transfer)) = self.convs.get_mut(&conv).map(|c| &mut c.home) {
            transfer.drop_queued();
        }
        self.admit(now);
    }

    /// Takes `conv` off lane `slot` of `conn` into the pool. A lane with a request on its
    /// way cannot leave its session: then the connection is dropped (its frames with it;
    /// over HTTP every socket of the HTTP connection), which parks every conversation on
    /// it, this one included.
    fn unseat(&mut self, conv: ConvId, conn: ConnId, slot: usize, now: Instant) {
        self.gather(conn);
        let Some(member) = self.members.get_mut(&conn) else {
            return;
        };
        match member.link.export_lane(&LaneSlots::lane(slot)) {
            Ok(transfer) => {
                member.slots.set_busy(slot, false, now);
                member.slots.vacate(slot);
                self.timers.mark(conn);
                if let Some(entry) = self.convs.get_mut(&conv) {
                    entry.home = Home::Parked(Box::new(transfer));
                }
            }
            Err(_) => {
                member.drop_transport(now);
                self.drain_client(conn, now);
            }
        }
    }

    /// Refuses a turn of a conversation whose lease another worker took.
    pub(super) fn check_fenced(&self, conv: ConvId) -> Result<(), PoolError> {
        match self.journals.fenced.contains(&conv) {
            true => Err(PoolError::Fenced(conv)),
            false => Ok(()),
        }
    }

    /// `conv` leaves the pool: its id may be opened again.
    pub(super) fn forget_journal(&mut self, conv: ConvId) {
        self.journals.fenced.remove(&conv);
        self.journals.ids.retain(|_, c| *c != conv);
    }

    /// Moves the records `conn`'s client has into the pool's queue, in order.
    pub(super) fn gather(&mut self, conn: ConnId) {
        if let Some(member) = self.members.get_mut(&conn) {
            let link = &mut member.link;
            self.journals
                .records
                .extend(core::iter::from_fn(|| link.poll_record()));
        }
    }

    /// Moves the records of `conv`'s parked context (tool outputs it accepted) into the
    /// pool's queue.
    pub(super) fn gather_parked(&mut self, conv: ConvId) {
        if let Some(Home::Parked(transfer)) = self.convs.get_mut(&conv).map(|c| &mut c.home) {
            self.journals
                .records
                .extend(core::iter::from_fn(|| transfer.poll_record()));
        }
    }

    /// Whether records wait to be handed out (no connection writes meanwhile).
    pub(super) fn holds_records(&self) -> bool {
        !self.journals.records.is_empty()
    }
}
