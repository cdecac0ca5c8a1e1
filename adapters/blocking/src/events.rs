//! [`Events`]: a connection's events as an [`Iterator`], for `for` loops and adapters, and
//! [`Connection::events`], which makes it (here, so that this module depends on the
//! connection and not the other way round).

use responses_ws_core::client::ClientEvent;

use crate::connection::Connection;
use crate::Error;

/// The events of a [`Connection`], from [`Connection::events`]: each item is what
/// [`Connection::next_event`] returns, and the iterator ends where it returns `None`.
///
/// ```no_run
/// use responses_ws_blocking::{ClientEvent, Config, Connection, SessionEvent};
///
/// let mut conn = Connection::connect(Config::new("ws://127.0.0.1:8080/v1/responses")?)?;
/// let texts: Vec<String> = conn
///     .events()
///     .filter_map(Result::ok)
///     .filter_map(|event| match event {
///         ClientEvent::Session(SessionEvent::Completed { response, .. }) => {
///             Some(response.all_output_text())
///         }
///         _ => None,
///     })
///     .take(1)
///     .collect();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Events<'a> {
    conn: &'a mut Connection,
}

impl Connection {
    /// The events as an iterator of `Result`s; it ends where [`next_event`](Self::next_event)
    /// returns `None`.
    pub fn events(&mut self) -> Events<'_> {
        Events { conn: self }
    }
}

impl Iterator for Events<'_> {
    type Item = Result<ClientEvent, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        self.conn.next_event().transpose()
    }
}
