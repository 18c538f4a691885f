//! scim-bridge: a SCIM 2.0 service provider that forwards users to Genesys Cloud.
//!
//! Layers (imports point one way): `http`, `cli` -> `store` -> `scim`. See `docs/architecture.md`.

pub mod cli;
pub mod config;
pub mod genesys;
pub mod http;
pub mod scim;
pub mod store;
pub mod telemetry;
