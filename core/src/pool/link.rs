//! [`Link`]: what carries the conversations of one member of the pool — a WebSocket
//! [`Client`] on one socket, or an [`HttpClient`] with a socket per request in flight — behind
//! the calls the pool makes of either. The pool's decisions stay in the pool; this file only
//! says how each transport takes them.
//!
//! Invariant: an HTTP link's `sockets` holds exactly the client's open sockets, each with
//! the [`ConnId`] the driver knows it by (from its `Dial` to its `Close`).

use alloc::collections::BTreeMap;
use alloc::string::String;

use super::ids::ConnId;
use crate::client::{Client, ClientEvent};
use crate::http_client::{HttpClient, HttpClientEvent, SocketId, Transport};
use crate::persist::Record;
use crate::session::{Lane, LaneTransfer, Refused, RequestId, Session, SessionError};
use crate::time::Instant;
use crate::wire::{Input, ResponseCreate, ToolOutput};

/// A member's transport.
// Members are boxed: the variants' sizes cost nothing per member beyond the larger one.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(crate) enum Link {
    /// WebSocket mode: the member is one socket, named by the member's own id.
    Ws(Client),
    /// HTTP + SSE: each request on a socket of its own.
    Http(HttpLink),
}

/// An [`HttpClient`] and the driver's names of its sockets.
#[derive(Debug)]
pub(crate) struct HttpLink {
    pub(crate) client: HttpClient,
    pub(crate) sockets: BTreeMap<SocketId, ConnId>,
}

/// What a link reports.
pub(crate) enum LinkEvent {
    Ws(ClientEvent),
    Http(HttpClientEvent),
}

impl Link {
    /// Which transport this is.
    pub(crate) fn transport(&self) -> Transport {
        match self {
            Link::Ws(_) => Transport::WebSocket,
            Link::Http(_) => Transport::Http,
        }
    }

    /// The WebSocket client, on WebSocket mode.
    pub(crate) fn ws_mut(&mut self) -> Option<&mut Client> {
        match self {
            Link::Ws(client) => Some(client),
            Link::Http(_) => None,
        }
    }

    /// The HTTP side, over HTTP.
    pub(crate) fn http_mut(&mut self) -> Option<&mut HttpLink> {
        match self {
            Link::Ws(_) => None,
            Link::Http(http) => Some(http),
        }
    }

    pub(crate) fn session(&self) -> &Session {
        match self {
            Link::Ws(client) => client.session(),
            Link::Http(http) => http.client.session(),
        }
    }

    pub(crate) fn poll_event(&mut self) -> Option<LinkEvent> {
        match self {
            Link::Ws(client) => client.poll_event().map(LinkEvent::Ws),
            Link::Http(http) => http.client.poll_event().map(LinkEvent::Http),
        }
    }

    pub(crate) fn poll_record(&mut self) -> Option<Record> {
        match self {
            Link::Ws(client) => client.poll_record(),
            Link::Http(http) => http.client.poll_record(),
        }
    }

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        match self {
            Link::Ws(client) => client.poll_timeout(),
            Link::Http(http) => http.client.poll_timeout(),
        }
    }

    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        match self {
            Link::Ws(client) => client.handle_timeout(now),
            Link::Http(http) => http.client.handle_timeout(now),
        }
    }

    /// Whether a request fits in what waits to be written (over HTTP each request has a
    /// socket of its own: always).
    pub(crate) fn has_room(&self) -> bool {
        match self {
            Link::Ws(client) => client.has_room(),
            Link::Http(_) => true,
        }
    }

    /// Gives back what the link can rebuild once no conversation uses it.
    pub(crate) fn release_idle_memory(&mut self) {
        match self {
            Link::Ws(client) => client.release_idle_memory(),
            // Its idle sockets' buffers are the driver's; the session keeps nothing extra.
            Link::Http(_) => {}
        }
    }

    pub(crate) fn create(
        &mut self,
        request: ResponseCreate,
    ) -> Result<RequestId, Refused<ResponseCreate>> {
        match self {
            Link::Ws(client) => client.create(request),
            Link::Http(http) => http.client.create(request),
        }
    }

    pub(crate) fn export_lane(&mut self, lane: &Lane) -> Result<LaneTransfer, SessionError> {
        match self {
            Link::Ws(client) => client.export_lane(lane),
            Link::Http(http) => http.client.export_lane(lane),
        }
    }

    pub(crate) fn import_lane(
        &mut self,
        lane: &Lane,
        transfer: LaneTransfer,
    ) -> Result<(), Refused<LaneTransfer>> {
        match self {
            Link::Ws(client) => client.import_lane(lane, transfer),
            Link::Http(http) => http.client.import_lane(lane, transfer),
        }
    }

    pub(crate) fn submit_tool_output(
        &mut self,
        lane: &Lane,
        call_id: &str,
        output: ToolOutput,
    ) -> Result<(), SessionError> {
        match self {
            Link::Ws(client) => client.submit_tool_output(lane, call_id, output),
            Link::Http(http) => http.client.submit_tool_output(lane, call_id, output),
        }
    }

    pub(crate) fn submit_approval(
        &mut self,
        lane: &Lane,
        request_id: &str,
        approve: bool,
        reason: Option<String>,
    ) -> Result<(), SessionError> {
        match self {
            Link::Ws(client) => client.submit_approval(lane, request_id, approve, reason),
            Link::Http(http) => http
                .client
                .submit_approval(lane, request_id, approve, reason),
        }
    }

    /// Steers `lane`'s running response (WebSocket mode's alone: over HTTP the input is
    /// handed back).
    pub(crate) fn steer(&mut self, lane: &Lane, input: Input) -> Result<(), Refused<Input>> {
        match self {
            Link::Ws(client) => client.steer(lane, input),
            Link::Http(http) => http.client.steer(lane, input),
        }
    }

    /// Ends the link under its conversations, as a lost connection: every lane comes to
    /// rest (unstarted requests wait to go out elsewhere), so every lane can be exported.
    /// A WebSocket client hears an end of file (and reports `Disconnected`); an HTTP client
    /// closes every socket.
    pub(crate) fn drop_transport(&mut self, now: Instant) {
        match self {
            Link::Ws(client) => client.handle_eof(now),
            Link::Http(http) => http.client.disconnect(now),
        }
    }
}
