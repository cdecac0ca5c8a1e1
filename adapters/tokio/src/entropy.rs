//! Randomness from the OS (`getrandom`): the core's 32-byte seed for each connection (the
//! `Sec-WebSocket-Key`, the masks and the jitter of retry delays).

use std::io;

/// 32 random bytes for [`Client::connect`](responses_ws_core::client::Client::connect).
pub(crate) fn seed() -> io::Result<[u8; 32]> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed)?;
    Ok(seed)
}
