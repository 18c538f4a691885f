//! A faithful stand-in for Genesys Cloud's public API (OAuth, SCIM v2, Platform users).
