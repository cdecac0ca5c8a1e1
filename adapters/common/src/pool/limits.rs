//! A pool builder's starting limits ([`limits_for`]) and its limit setters, written once for
//! the async (`responses-ws-futures`) and the blocking (`responses-ws-blocking`)
//! `PoolBuilder`: one `pub fn` per field of [`PoolConfig`] that a user sets, each with an
//! example that runs as a doc test of the crate that expands it.

use responses_ws_core::pool::PoolConfig;

use crate::ConfigParts;

/// The pool's configuration for connections made with `parts`, its limits at their
/// defaults: the client, and the transport the [`Config`](crate::Config) chose — the one to
/// start on, whether an upgrade refused with `426` moves the pool to HTTP + SSE
/// (`http_fallback`; [`HttpFallback::Never`](responses_ws_core::client::HttpFallback::Never)
/// keeps it on WebSocket mode), and when WebSocket mode is tried again (`reprobe_after`).
///
/// ```
/// use std::time::Duration;
/// use responses_ws_adapter::pool::limits_for;
/// use responses_ws_adapter::{Config, Transport};
///
/// let config: Config = Config::new("ws://127.0.0.1:8080/v1/responses")?
///     .transport(Transport::Http)
///     .reprobe_after(Duration::from_secs(60));
/// let limits = limits_for(&config.into_parts());
/// assert_eq!(limits.transport, Transport::Http);
/// assert_eq!(limits.reprobe_after, Duration::from_secs(60));
/// assert_eq!(limits.max_connections, 16);
/// # Ok::<(), responses_ws_adapter::ConnectError>(())
/// ```
pub fn limits_for<X>(parts: &ConfigParts<X>) -> PoolConfig {
    let mut limits = PoolConfig::new(parts.client.clone());
    limits.client.http_fallback = parts.http_fallback;
    limits.transport = parts.transport;
    limits.reprobe_after = parts.reprobe_after;
    limits
}

/// Expands, inside `impl PoolBuilder` of the crate named by `$krate` (its path as a string),
/// to the setters of every limit. The builder must have a `limits: PoolConfig` field, or,
/// with `inner` after the crate's name, an `inner` builder whose setters it calls (the
/// blocking builder wraps the async one).
#[doc(hidden)]
#[macro_export]
macro_rules! pool_limit_setters {
    (@set limits, $this:tt, $name:ident, $value:tt) => {
        $this.limits.$name = $value;
    };
    (@set inner, $this:tt, $name:ident, $value:tt) => {
        $this.inner = $this.inner.$name($value);
    };
    ($krate:literal) => {
        $crate::pool_limit_setters!($krate, limits);
    };
    ($krate:literal, $how:ident) => {
        $crate::pool_limit_setters! { $krate, $how;
            /// Connections at once, in every state (default 16).
            max_connections: usize = 4;
            /// Turns running at once on one connection (default 16, the server's in-flight limit).
            max_turns_per_connection: usize = 8;
            /// Lanes (`stream_id`s) a connection uses over its life (default 32, the server's limit).
            lanes_per_connection: usize = 16;
            /// Conversations open at once (default 10 000).
            max_conversations: usize = 500;
            /// Turns waiting for a lane (default 1024); one more is refused as overloaded.
            max_waiting: usize = 4096;
            /// How long a turn may wait for a lane (default 60 s).
            max_wait: Duration = Duration::from_secs(30);
            /// Connections opening at once (default 4).
            max_opening: usize = 2;
            /// The shortest time between two dials (default 50 ms).
            dial_interval: Duration = Duration::from_millis(200);
            /// Age at which a connection stops taking turns and is replaced (default 50 min).
            rotate_after: Duration = Duration::from_secs(30 * 60);
            /// An open connection with no turn for this long is closed (default 5 min).
            idle_ttl: Duration = Duration::from_secs(60);
            /// The pool's backoff after a refused or failed upgrade (429, 503 …).
            upgrade_backoff: RetryPolicy = RetryPolicy::default().with_max_attempts(3);
        }
    };
    ($krate:literal, $how:ident; $($(#[$doc:meta])* $name:ident: $ty:ty = $example:expr;)*) => {
        $(
            $(#[$doc])*
            ///
            #[doc = concat!(
                "```\n",
                "# use std::time::Duration;\n",
                "# use responses_ws_core::retry::RetryPolicy;\n",
                "use ", $krate, "::{pool::Pool, Config};\n\n",
                "let builder = Pool::builder(Config::new(\"ws://127.0.0.1:8080/v1/responses\")?)\n",
                "    .", stringify!($name), "(", stringify!($example), ");\n",
                "assert_eq!(builder.limits().", stringify!($name), ", ", stringify!($example), ");\n",
                "# Ok::<(), Box<dyn std::error::Error>>(())\n",
                "```",
            )]
            pub fn $name(mut self, value: $ty) -> Self {
                $crate::pool_limit_setters!(@set $how, self, $name, value);
                self
            }
        )*
    };
}
