//! Latch's use cases and token broker, with no HTTP: what a credential registry and token
//! broker does, whoever asks. The HTTP API (`latch-api`) extracts, calls these and renders.
//!
//! Modules hold one thing each; none imports one that imports it back (the graph is in
//! `docs/ARCHITECTURE.md`).

pub mod api_keys;
pub mod audit_tally;
pub mod audit_trail;
pub mod audit_vocabulary;
pub mod auth_limiter;
pub mod authentication;
pub mod broker;
pub mod callers;
pub mod catalogue;
pub mod census;
pub mod change_feed;
pub mod connect_sessions;
pub mod credentials;
pub mod data_sources;
pub mod error;
pub mod health;
pub mod input;
pub mod keyring;
pub mod latch;
pub mod metrics;
pub mod oauth_apps;
pub mod oauth_settings;
pub mod rewrap;
pub mod secrets;
pub mod slot_map;
pub mod source_cache;
pub mod tokens;
pub mod webhook_settings;
pub mod webhooks;
pub mod worker;
pub mod worker_settings;

pub use error::CoreError;
pub use latch::Latch;
