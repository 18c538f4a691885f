//! Genesys Cloud: the pure SCIM → Genesys mapping, the simulator that stands in for Genesys in
//! tests and on the embedded default, and (issue 4) the client and the durable outbox.
//!
//! Imports point one way: `http`, `cli` -> `genesys` -> `store` -> `scim`. `mapping` does no IO.

pub mod api;
pub mod client;
pub mod forwarding;
pub mod mapping;
pub mod outbox;
pub mod plan;
pub mod reconcile;
pub mod role_status;

/// The Genesys simulator, a crate of its own (`crates/genesys-sim`) that shares no code with the bridge.
pub use genesys_sim as simulator;
