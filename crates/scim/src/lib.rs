//! The SCIM 2.0 protocol core (RFC 7643, RFC 7644): schemas, resources, filters, PATCH,
//! list queries and errors. Pure functions over `serde_json` values.
//!
//! Must not import: actix, diesel, reqwest, tokio, or any other part of this crate.

pub mod bulk;
pub mod error;
pub mod filter;
pub mod json;
pub mod list;
pub mod patch;
pub mod projection;
pub mod resource;
pub mod schema;

pub use error::{ScimError, ScimType};
