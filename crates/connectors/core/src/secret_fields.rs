use serde_json::Value;
use zeroize::Zeroize;

use crate::Fields;

/// A credential's secret fields in clear, for the moment a connector needs them. The strings
/// are wiped on drop, and nothing prints them.
pub struct SecretFields(Fields);

impl SecretFields {
    pub fn new(fields: Fields) -> Self {
        Self(fields)
    }

    /// The text of one secret field, when present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(Value::as_str)
    }

    pub fn as_fields(&self) -> &Fields {
        &self.0
    }
}

impl Drop for SecretFields {
    fn drop(&mut self) {
        for value in self.0.values_mut() {
            if let Value::String(text) = value {
                text.zeroize();
            }
        }
    }
}

impl std::fmt::Debug for SecretFields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()?;
        f.write_str(" [REDACTED]")
    }
}
