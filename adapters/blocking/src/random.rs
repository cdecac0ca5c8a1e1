//! Randomness from the OS (`getrandom`): the core's 32-byte seed (WebSocket key and masks)
//! (the jitter of the retry backoff comes from the core, which mixes this seed in).

/// 32 random bytes for [`Client::connect`](responses_ws_core::client::Client::connect).
pub(crate) fn seed() -> std::io::Result<[u8; 32]> {
    let mut seed = [0; 32];
    getrandom::fill(&mut seed)?;
    Ok(seed)
}

#[cfg(test)]
mod tests {
    #[test]
    fn seeds_differ() {
        assert_ne!(super::seed().unwrap(), super::seed().unwrap());
    }
}
