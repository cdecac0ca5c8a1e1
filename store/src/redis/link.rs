//! [`Link`]: a [`RedisStore`](super::RedisStore)'s one connection to its server — opened
//! with timeouts, opened again after it fails, its failures sorted into the store's errors.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use redis::{Client, Connection, ConnectionAddr, ErrorKind, RedisError, ServerErrorKind};

use crate::StoreError;

/// The connection to one server; calls take turns on it.
pub(super) struct Link {
    client: Client,
    connect_timeout: Duration,
    io_timeout: Duration,
    /// `None` after a connection failed: the next call connects again.
    connection: Mutex<Option<Connection>>,
}

/// Why a call to Redis did not return a reply.
pub(super) enum Failure {
    /// The server answered with an error, or could not be reached: nothing was done.
    Refused(StoreError),
    /// The connection failed with the command sent or on its way: it may have run.
    Lost(String),
}

impl Link {
    /// A link to the server at `url`, checked with a PING.
    pub(super) fn open(
        url: &str,
        connect_timeout: Duration,
        io_timeout: Duration,
    ) -> Result<Link, StoreError> {
        let link = Link {
            client: Client::open(url).map_err(|error| refused(&error))?,
            connect_timeout,
            io_timeout,
            connection: Mutex::new(None),
        };
        link.call(|connection| redis::cmd("PING").query::<()>(connection))?;
        Ok(link)
    }

    /// The server's address (never the URL, which may hold a password).
    pub(super) fn address(&self) -> &ConnectionAddr {
        self.client.get_connection_info().addr()
    }

    /// A holder that panicked may have left a reply unread on the connection: after a
    /// poisoned lock the connection is dropped (the next call opens another).
    fn lock(&self) -> MutexGuard<'_, Option<Connection>> {
        self.connection.lock().unwrap_or_else(|poisoned| {
            self.connection.clear_poison();
            let mut slot = poisoned.into_inner();
            *slot = None;
            slot
        })
    }

    fn connect(&self) -> Result<Connection, StoreError> {
        let connection = self
            .client
            .get_connection_with_timeout(self.connect_timeout)
            .map_err(|error| self.connect_error(&error))?;
        for set in [Connection::set_read_timeout, Connection::set_write_timeout] {
            set(&connection, Some(self.io_timeout)).map_err(|error| refused(&error))?;
        }
        Ok(connection)
    }

    /// Runs `command` on the connection (opened first if there is none); a connection that
    /// fails under it is dropped.
    pub(super) fn attempt<T>(
        &self,
        command: &mut impl FnMut(&mut Connection) -> Result<T, RedisError>,
    ) -> Result<T, Failure> {
        let mut slot = self.lock();
        let connection = match &mut *slot {
            Some(connection) => connection,
            None => slot.insert(self.connect().map_err(Failure::Refused)?),
        };
        command(connection).map_err(|error| {
            if is_connection_failure(&error) {
                *slot = None;
                Failure::Lost(self.describe(&error, self.io_timeout))
            } else {
                Failure::Refused(refused(&error))
            }
        })
    }

    /// Runs a command that is safe to run twice, once more on a new connection if the first
    /// one failed under it (a server restarted since the last call, say).
    pub(super) fn call<T>(
        &self,
        mut command: impl FnMut(&mut Connection) -> Result<T, RedisError>,
    ) -> Result<T, StoreError> {
        match self.attempt(&mut command) {
            Err(Failure::Lost(_)) => self.attempt(&mut command),
            first => first,
        }
        .map_err(|failure| match failure {
            Failure::Refused(error) => error,
            Failure::Lost(why) => StoreError::Unavailable(why),
        })
    }

    fn connect_error(&self, error: &RedisError) -> StoreError {
        if error.is_io_error() {
            StoreError::Unavailable(self.describe(error, self.connect_timeout))
        } else {
            refused(error)
        }
    }

    /// A failed connection, said with the server's address and the timeout that ran out.
    fn describe(&self, error: &RedisError, timeout: Duration) -> String {
        let address = self.address();
        if error.is_timeout() {
            format!("redis at {address}: no answer within {timeout:?} ({error})")
        } else {
            format!("redis at {address}: {error}")
        }
    }
}

/// A failure of the connection itself, after which it cannot be used (a reply that did not
/// parse leaves the stream out of step), as opposed to an error the server answered with.
fn is_connection_failure(error: &RedisError) -> bool {
    error.is_io_error()
        || error.is_connection_dropped()
        || error.is_timeout()
        || error.kind() == ErrorKind::Parse
}

/// Redis's answers, sorted into the store's errors: what a caller can act on gets its own
/// variant. Nothing was written when the server refused a command.
fn refused(error: &RedisError) -> StoreError {
    let other = |kind: std::io::ErrorKind| StoreError::Io(std::io::Error::new(kind, error.clone()));
    match (error.kind(), error.code()) {
        (ErrorKind::Server(ServerErrorKind::ReadOnly), _) => {
            StoreError::ReadOnly(error.to_string())
        }
        (
            ErrorKind::Server(
                ServerErrorKind::BusyLoading
                | ServerErrorKind::TryAgain
                | ServerErrorKind::MasterDown
                | ServerErrorKind::ClusterDown,
            ),
            _,
        )
        | (_, Some("BUSY" | "NOREPLICAS")) => StoreError::Unavailable(error.to_string()),
        (_, Some("OOM")) => other(std::io::ErrorKind::StorageFull),
        (_, Some("WRONGTYPE")) => other(std::io::ErrorKind::InvalidData),
        (ErrorKind::AuthenticationFailed | ErrorKind::Server(ServerErrorKind::NoPerm), _) => {
            other(std::io::ErrorKind::PermissionDenied)
        }
        (ErrorKind::InvalidClientConfig, _) => other(std::io::ErrorKind::InvalidInput),
        _ if error.is_io_error() => StoreError::Unavailable(error.to_string()),
        _ => other(std::io::ErrorKind::Other),
    }
}
