//! From a stored SCIM user or group to the Genesys Cloud request (pure: values in, values out).
