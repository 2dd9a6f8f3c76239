//! The store's SQL by table group, each a macro instantiated per backend by
//! [`crate::sql_store::impl_store`].

pub(crate) mod api_keys;
pub(crate) mod audit;
pub(crate) mod changes;
pub(crate) mod connect_sessions;
pub(crate) mod credentials;
pub(crate) mod data_sources;
pub(crate) mod health;
pub(crate) mod names;
pub(crate) mod oauth_apps;
pub(crate) mod organizations;
pub(crate) mod tokens;
pub(crate) mod webhooks;
