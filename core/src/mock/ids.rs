//! Deterministic ids: `resp_…`, `msg_…`, `fc_…`, `call_…`, `rs_…`, `steer_…`, made of the
//! connection index and a counter, shaped like the real ones (prefix, `_`, 32 hex digits). Ids
//! of different connections never collide, so an id from one connection is unknown on another.

use alloc::format;
use alloc::string::String;

/// Hands out ids for one connection.
#[derive(Debug, Clone)]
pub(crate) struct IdGen {
    scope: u32,
    next: u64,
}

impl IdGen {
    /// Ids for connection `scope`.
    pub(crate) fn new(scope: u32) -> Self {
        IdGen { scope, next: 1 }
    }

    /// The next id with this prefix, e.g. `resp_00000000000000000000000000000001`.
    pub(crate) fn next(&mut self, prefix: &str) -> String {
        let id = format!("{prefix}_{:08x}{:024x}", self.scope, self.next);
        self.next += 1;
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_counted_and_scoped() {
        let mut ids = IdGen::new(0x2a);
        assert_eq!(ids.next("resp"), "resp_0000002a000000000000000000000001");
        assert_eq!(ids.next("msg"), "msg_0000002a000000000000000000000002");
        assert_ne!(IdGen::new(1).next("resp"), IdGen::new(2).next("resp"));
    }
}
