//! The Latch REST API: routes, use cases and start-up.
//!
//! Handlers in [`routes`] are thin; the use cases ([`credentials`], [`api_keys`]) hold the
//! logic and take no actix types, so they read (and can be tested) without HTTP.

pub mod api_keys;
pub mod audit_tally;
pub mod audit_vocabulary;
pub mod auth;
pub mod auth_limiter;
pub mod broker;
pub mod catalogue;
pub mod cli;
pub mod credentials;
pub mod data_sources;
pub mod error;
pub mod extract;
pub mod input;
pub mod keyring_setup;
pub mod metrics;
pub mod openapi;
pub mod refusals;
pub mod rotation;
pub mod routes;
pub mod secrets;
pub mod settings;
pub mod slot_map;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod tokens;

pub use settings::{Limits, MasterKeySource, PreviousMasterKey, Settings};
pub use startup::{Application, DEV_ORG, StartupError};
