//! What every request handler shares: the core, as one value behind `web::Data`.

pub type AppState = latch_core::Latch;
