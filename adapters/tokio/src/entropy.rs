//! Randomness from the OS (`getrandom`): the core's 32-byte seed for each connection (the
//! `Sec-WebSocket-Key` and the masks) and the jitter of reconnect delays.

use std::io;

/// 32 random bytes for [`Client::connect`](responses_ws_core::client::Client::connect).
pub(crate) fn seed() -> io::Result<[u8; 32]> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed)?;
    Ok(seed)
}

/// A random number in `0.0..1.0` for the reconnect jitter; 0.5 if the OS cannot give one
/// (the delay then sits in the middle of its range, which is harmless).
pub(crate) fn unit() -> f64 {
    let mut bytes = [0u8; 8];
    match getrandom::fill(&mut bytes) {
        // 53 random bits: every value is exact in an f64 and below 1.0.
        Ok(()) => (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64,
        Err(_) => 0.5,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn jitter_is_in_the_unit_interval() {
        for _ in 0..1000 {
            let x = super::unit();
            assert!((0.0..1.0).contains(&x), "{x}");
        }
    }
}
