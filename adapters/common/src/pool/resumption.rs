//! [`Resumption`]: what a pool's `resume` hands back, one type for the async pool and its
//! blocking face, each with its own conversation and turn handles.

use crate::Start;

/// A durable conversation taken over by a pool's `resume`; `C` and `T` are that pool's
/// `Conversation` and `Turn`.
///
/// ```
/// use responses_ws_adapter::pool::Resumption;
/// use responses_ws_adapter::Start;
///
/// // A conversation the store did not have: nothing owed, nothing rebuilt.
/// let resumed = Resumption::new("conversation", None::<u32>, Start::New);
/// let resumed = resumed.map(str::len, |turn| turn + 1);
/// assert_eq!((resumed.conversation, resumed.turn, resumed.start), (12, None, Start::New));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct Resumption<C, T> {
    /// The conversation, journaled on under its id.
    pub conversation: C,
    /// Its turn, when it owed work (a request, or tool calls to answer): it resumed at
    /// once. Answer [`Resumed::rerun`](crate::Resumed::rerun) with the conversation's
    /// `submit_tool_output`, then read the turn.
    pub turn: Option<T>,
    /// What the store held: nothing ([`Start::New`]), or what was rebuilt.
    pub start: Start,
}

impl<C, T> Resumption<C, T> {
    /// The resumption of `conversation`.
    ///
    /// ```
    /// use responses_ws_adapter::pool::Resumption;
    /// use responses_ws_adapter::Start;
    ///
    /// let resumed = Resumption::new("conversation", Some("turn"), Start::New);
    /// assert_eq!(resumed.turn, Some("turn"));
    /// ```
    pub fn new(conversation: C, turn: Option<T>, start: Start) -> Resumption<C, T> {
        Resumption {
            conversation,
            turn,
            start,
        }
    }

    /// The same resumption with other handles (the blocking pool's over the async pool's).
    ///
    /// ```
    /// use responses_ws_adapter::pool::Resumption;
    /// use responses_ws_adapter::Start;
    ///
    /// let resumed = Resumption::new(7, Some(8), Start::New).map(|c| c * 2, |t| t * 3);
    /// assert_eq!((resumed.conversation, resumed.turn), (14, Some(24)));
    /// ```
    pub fn map<C2, T2>(
        self,
        conversation: impl FnOnce(C) -> C2,
        turn: impl FnOnce(T) -> T2,
    ) -> Resumption<C2, T2> {
        Resumption {
            conversation: conversation(self.conversation),
            turn: self.turn.map(turn),
            start: self.start,
        }
    }
}
