//! What every Latch connector implements, and the field machinery they share.
//!
//! A connector declares its fields once ([`FieldSpec`]); the JSON Schema a form renders and
//! the checks a request goes through are both derived from that one list.

mod fields;

pub use fields::{FieldError, FieldKind, FieldSpec, Fields, check_section, section_schema};

/// Operator choices that change what counts as a valid configuration.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ValidationPolicy {
    /// Accept `http://` hosts (local mock servers and demos); https only otherwise.
    pub allow_http_hosts: bool,
}

/// One upstream system Latch keeps credentials for.
pub trait Connector: Send + Sync + 'static {
    /// Stable identifier used in the API (`looker`).
    fn id(&self) -> &'static str;
    fn name(&self) -> &'static str;
    fn description(&self) -> &'static str;
    fn docs_url(&self) -> &'static str;
    /// Non-secret settings, returned in responses.
    fn config_fields(&self) -> &'static [FieldSpec];
    /// Secret settings: encrypted at rest, never returned.
    fn secret_fields(&self) -> &'static [FieldSpec];

    /// Connector-specific normalisation of a config whose fields passed the generic checks.
    fn normalize_config(&self, config: Fields) -> Result<Fields, Vec<FieldError>> {
        Ok(config)
    }

    /// Checks and normalises a config object; every problem is reported at once.
    fn validate_config(
        &self,
        config: &serde_json::Value,
        policy: ValidationPolicy,
    ) -> Result<Fields, Vec<FieldError>> {
        let fields = check_section("config", self.config_fields(), config, policy)?;
        self.normalize_config(fields)
    }

    /// Checks a secrets object; every problem is reported at once.
    fn validate_secrets(
        &self,
        secrets: &serde_json::Value,
        policy: ValidationPolicy,
    ) -> Result<Fields, Vec<FieldError>> {
        check_section("secrets", self.secret_fields(), secrets, policy)
    }
}
