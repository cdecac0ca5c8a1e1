//! [`LaneSlots`]: the lanes of one connection and the conversation each one holds. A lane
//! is *busy* while its conversation has a turn running; an idle lane keeps the conversation
//! that used it last, so that its next turn chains from the server's cache, until a turn of
//! another conversation needs the lane (least recently used first).

use alloc::format;
use alloc::vec::Vec;

use super::ids::ConvId;
use crate::session::Lane;
use crate::time::Instant;

/// The prefix of the pool's lane names: lane `i` is `pool-<i>`.
const PREFIX: &str = "pool-";

/// One lane of a connection.
#[derive(Debug, Clone, Default)]
struct Slot {
    conv: Option<ConvId>,
    busy: bool,
    /// When its last turn ended (or began): the least recent idle lane is taken first.
    used_at: Instant,
}

/// The lanes of one connection, allocated as conversations take them (an idle connection
/// whose conversations all left holds none).
///
/// Invariants: a busy slot holds a conversation; `busy` counts the busy slots; a
/// conversation holds at most one slot; `slots.len() <= lanes`, and the last slot is
/// occupied (empty slots at the end are dropped, so the lanes in use are the first ones).
#[derive(Debug)]
pub(crate) struct LaneSlots {
    slots: Vec<Slot>,
    lanes: usize,
    busy: usize,
}

impl LaneSlots {
    pub(crate) fn new(lanes: usize) -> Self {
        LaneSlots {
            slots: Vec::new(),
            lanes,
            busy: 0,
        }
    }

    /// The lane of slot `index`.
    pub(crate) fn lane(index: usize) -> Lane {
        Lane::Named(format!("{PREFIX}{index}").into())
    }

    /// The slot of a lane of the pool.
    pub(crate) fn index_of(lane: &Lane) -> Option<usize> {
        lane.stream_id()?.strip_prefix(PREFIX)?.parse().ok()
    }

    /// Whether no conversation holds a lane here.
    pub(crate) fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Busy slots.
    pub(crate) fn busy(&self) -> usize {
        self.busy
    }

    /// The conversation in slot `index`.
    pub(crate) fn conv(&self, index: usize) -> Option<ConvId> {
        self.slots.get(index).and_then(|slot| slot.conv)
    }

    /// The slot to give a new conversation: an empty one (a lane not used yet last), else
    /// the least recently used idle one (its conversation must be moved out first). `None`
    /// when every slot is busy.
    pub(crate) fn vacancy(&self) -> Option<usize> {
        let empty = self.slots.iter().position(|slot| slot.conv.is_none());
        let unused = (self.slots.len() < self.lanes).then_some(self.slots.len());
        empty.or(unused).or_else(|| {
            self.slots
                .iter()
                .enumerate()
                .filter(|(_, slot)| !slot.busy)
                .min_by_key(|(_, slot)| slot.used_at)
                .map(|(index, _)| index)
        })
    }

    /// `conv` takes the empty slot `index` (one of [`vacancy`](Self::vacancy)), idle.
    pub(crate) fn seat(&mut self, index: usize, conv: ConvId, now: Instant) {
        if index == self.slots.len() {
            self.slots.push(Slot::default());
        }
        let slot = &mut self.slots[index];
        debug_assert!(slot.conv.is_none(), "the slot was vacated first");
        *slot = Slot {
            conv: Some(conv),
            busy: false,
            used_at: now,
        };
    }

    /// Slot `index` starts or ends a turn.
    pub(crate) fn set_busy(&mut self, index: usize, busy: bool, now: Instant) {
        let Some(slot) = self.slots.get_mut(index) else {
            return;
        };
        if slot.conv.is_some() && slot.busy != busy {
            slot.busy = busy;
            slot.used_at = now;
            if busy {
                self.busy += 1;
            } else {
                self.busy -= 1;
            }
        }
    }

    /// Empties slot `index`, returning its conversation.
    pub(crate) fn vacate(&mut self, index: usize) -> Option<ConvId> {
        let slot = core::mem::take(self.slots.get_mut(index)?);
        if slot.busy {
            self.busy -= 1;
        }
        while self.slots.last().is_some_and(|slot| slot.conv.is_none()) {
            self.slots.pop();
        }
        if self.slots.is_empty() {
            // Every conversation left: the connection holds no lane table while idle.
            self.slots = Vec::new();
        }
        slot.conv
    }

    /// Every occupied slot: its index, conversation and whether it is busy.
    pub(crate) fn occupied(&self) -> impl Iterator<Item = (usize, ConvId, bool)> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(index, slot)| slot.conv.map(|conv| (index, conv, slot.busy)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::time::Duration;

    fn at(secs: u64) -> Instant {
        Instant::from_elapsed(Duration::from_secs(secs))
    }

    #[test]
    fn lane_names_round_trip() {
        assert_eq!(LaneSlots::lane(7).stream_id(), Some("pool-7"));
        assert_eq!(LaneSlots::index_of(&LaneSlots::lane(31)), Some(31));
        assert_eq!(LaneSlots::index_of(&Lane::Default), None);
        assert_eq!(LaneSlots::index_of(&Lane::named("other").unwrap()), None);
    }

    #[test]
    fn empty_slots_first_then_the_least_recently_used_idle_one() {
        let mut slots = LaneSlots::new(2);
        slots.seat(0, ConvId(1), at(0));
        slots.set_busy(0, true, at(1));
        assert_eq!(slots.vacancy(), Some(1));
        slots.seat(1, ConvId(2), at(2));
        slots.set_busy(0, false, at(5));
        assert_eq!(slots.busy(), 0);
        assert_eq!(slots.vacancy(), Some(1), "conv 2 was used before conv 1");
        slots.set_busy(0, true, at(6));
        slots.set_busy(1, true, at(6));
        assert_eq!(slots.vacancy(), None, "every lane busy");
        assert_eq!(slots.vacate(1), Some(ConvId(2)));
        assert_eq!(slots.busy(), 1);
    }

    #[test]
    fn lanes_are_allocated_as_taken_and_released_when_every_conversation_left() {
        let mut slots = LaneSlots::new(32);
        assert_eq!(
            slots.slots.capacity(),
            0,
            "nothing before the first conversation"
        );
        assert_eq!(slots.vacancy(), Some(0));
        slots.seat(0, ConvId(1), at(0));
        assert_eq!(slots.vacancy(), Some(1));
        slots.seat(1, ConvId(2), at(1));
        assert_eq!(slots.vacate(0), Some(ConvId(1)));
        assert_eq!(slots.vacancy(), Some(0), "a hole is filled first");
        assert_eq!(slots.occupied().count(), 1);
        assert_eq!(slots.vacate(1), Some(ConvId(2)));
        assert_eq!(
            slots.slots.capacity(),
            0,
            "an idle connection holds no lane table"
        );
        assert_eq!(slots.vacate(5), None, "a slot never taken");
    }
}
