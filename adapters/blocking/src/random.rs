//! Randomness from the OS (`getrandom`): the core's 32-byte seed (WebSocket key and masks)
//! and the jitter of the reconnect backoff.

/// 32 random bytes for [`Client::connect`](responses_ws_core::client::Client::connect).
pub(crate) fn seed() -> std::io::Result<[u8; 32]> {
    let mut seed = [0; 32];
    getrandom::fill(&mut seed)?;
    Ok(seed)
}

/// A number in `0.0..1.0` for the backoff jitter; the middle, 0.5, if the OS has none to give
/// (jitter is not worth failing a reconnect for).
pub(crate) fn unit() -> f64 {
    match getrandom::u64() {
        // 53 random bits: every value exactly representable, strictly below 1.
        Ok(bits) => (bits >> 11) as f64 / (1u64 << 53) as f64,
        Err(_) => 0.5,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn unit_is_in_range_and_seeds_differ() {
        for _ in 0..1000 {
            let x = super::unit();
            assert!((0.0..1.0).contains(&x), "{x}");
        }
        assert_ne!(super::seed().unwrap(), super::seed().unwrap());
    }
}
