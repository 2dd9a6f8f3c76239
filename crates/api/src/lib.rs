//! The Latch REST API: routes, extractors, problem rendering, OpenAPI, start-up and the CLI.
//!
//! Handlers in [`routes`] are thin: they extract, call a use case of `latch-core` and render;
//! the core's errors become HTTP problems in one place ([`error`]).

pub mod auth;
pub mod cli;
pub mod connectors;
pub mod console;
pub mod entity_tags;
pub mod error;
pub mod extract;
pub mod key_files;
pub mod openapi;
mod page_headers;
pub mod refusals;
pub mod responses;
pub mod routes;
pub mod settings;
pub mod startup;
pub mod state;
pub mod telemetry;

pub use settings::{Limits, MasterKeySource, PreviousMasterKey, Settings};
pub use startup::{Application, DEV_ORG, StartupError, WorkerProcess};
