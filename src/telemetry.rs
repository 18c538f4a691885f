//! Logging: `tracing` with a `RUST_LOG` filter, human-readable by default, JSON on request.
//! Never log tokens, secrets, bodies, e-mail addresses or phone numbers.

use tracing_subscriber::EnvFilter;

/// Install the global subscriber once. `json` selects the JSON format.
pub fn init(json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    // A second init (tests) keeps the first subscriber.
    let _ = if json { builder.json().try_init() } else { builder.try_init() };
}
