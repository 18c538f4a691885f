//! The one integration test binary: the real server on loopback, real HTTP.

// Helpers outside `#[test]` functions may fail loudly too: a failed assumption is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod helpers;

mod admin;
mod audit;
mod auth;
mod bad_input;
mod bulk;
mod cli;
mod connections;
mod crash;
mod discovery;
mod faults;
mod filters;
mod first_connect;
mod forwarding;
mod genesys_sim;
mod groups;
mod hostile;
mod lists;
mod ops;
mod ownership;
mod patch;
mod plan;
mod replicas;
mod resilience;
mod roles;
mod sync;
mod users;
