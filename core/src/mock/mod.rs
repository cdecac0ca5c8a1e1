//! A scripted mock of the Responses WebSocket server (being written).
