//! The source of masking keys and handshake nonces: a small xoshiro256** generator seeded by
//! the driver (adapters seed it from the operating system). The core never reads entropy itself.
//!
//! Masking keys only need to be unpredictable to scripts that cannot see the seed (RFC 6455 §10.3
//! guards intermediaries against chosen-ciphertext tricks); a generator seeded from 256 bits of OS
//! entropy serves that and costs a few nanoseconds a frame instead of a system call.

/// A seeded generator of mask keys and nonces.
#[derive(Clone)]
pub(crate) struct MaskRng {
    s: [u64; 4],
}

impl core::fmt::Debug for MaskRng {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("MaskRng(..)")
    }
}

impl MaskRng {
    /// A generator seeded with 32 bytes; an all-zero seed is replaced by a fixed nonzero state.
    pub(crate) fn new(seed: [u8; 32]) -> Self {
        let mut s = [0u64; 4];
        for (word, chunk) in s.iter_mut().zip(seed.chunks_exact(8)) {
            let mut b = [0u8; 8];
            b.copy_from_slice(chunk);
            *word = u64::from_le_bytes(b);
        }
        if s == [0; 4] {
            s = [
                0x9E37_79B9_7F4A_7C15,
                0xBF58_476D_1CE4_E5B9,
                0x94D0_49BB_1331_11EB,
                0x2545_F491_4F6C_DD1D,
            ];
        }
        MaskRng { s }
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// A fresh masking key.
    pub(crate) fn mask_key(&mut self) -> [u8; 4] {
        (self.next_u64() as u32).to_ne_bytes()
    }

    /// A fresh 16-byte nonce.
    pub(crate) fn nonce(&mut self) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&self.next_u64().to_le_bytes());
        out[8..].copy_from_slice(&self.next_u64().to_le_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn different_seeds_give_different_keys_and_zero_seed_still_works() {
        let mut a = MaskRng::new([1; 32]);
        let mut b = MaskRng::new([2; 32]);
        assert_ne!(a.nonce(), b.nonce());
        let mut z = MaskRng::new([0; 32]);
        let keys: alloc::vec::Vec<[u8; 4]> = (0..4).map(|_| z.mask_key()).collect();
        assert!(keys.windows(2).all(|w| w[0] != w[1]));
    }
}
