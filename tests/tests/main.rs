//! Latch end to end: every suite runs against SQLite and, when `LATCH_TEST_POSTGRES_URL`
//! is set, PostgreSQL, through a real server on port 0.

mod audit;
mod authentication;
mod bad_input;
mod connect_pages;
mod connect_session_limits;
mod connect_sessions;
mod consent_claims;
mod console;
mod credentials;
mod data_sources;
mod declared_providers;
mod egress;
mod floods;
mod freshness;
mod hostile_input;
mod looker_oauth;
mod migrations;
mod names;
mod oauth_apps;
mod observability;
mod oidc_provider;
mod openapi;
mod rotation;
mod second_connector;
mod secrecy;
mod secret_binding;
mod shipped_providers;
mod slow_bodies;
mod startup;
mod store;
mod tenancy;
mod token_endpoint;
mod tokens;
mod upstream_text;
mod validation;
