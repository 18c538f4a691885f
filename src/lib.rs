//! scim-bridge: a SCIM 2.0 service provider that forwards users to Genesys Cloud.
//!
//! Layers (imports point one way): `http`, `cli` -> `genesys` -> `store` -> `scim`. `metrics`,
//! `signals` and `telemetry` are leaves: they import nothing of this crate, and `scim` and `store` do not use
//! them. See `docs/architecture.md`.

pub mod cli;
pub mod config;
pub mod genesys;
pub mod http;
pub mod metrics;
pub mod signals;
pub mod store;
pub mod telemetry;

/// The SCIM protocol core, a crate of its own (`crates/scim`).
pub use scim;
