//! The Looker connector: API host, client ID and client secret of a Looker API key.

use latch_connector::{Connector, FieldError, FieldKind, FieldSpec, Fields};
use serde_json::Value;
use url::Url;

pub struct Looker;

const CONFIG_FIELDS: &[FieldSpec] = &[
    FieldSpec {
        name: "api_host_url",
        title: "API host URL",
        help: "The address of your Looker instance, such as https://acme.cloud.looker.com. \
               Older instances answer on port 19999: include it when yours does.",
        kind: FieldKind::HostUrl,
        max_len: 2048,
        example: "https://acme.cloud.looker.com",
    },
    FieldSpec {
        name: "client_id",
        title: "Client ID",
        help: "The client ID of a Looker API key (Admin > Users > Edit Keys).",
        kind: FieldKind::Text,
        max_len: 256,
        example: "AbCdEfGh12345678",
    },
];

const SECRET_FIELDS: &[FieldSpec] = &[FieldSpec {
    name: "client_secret",
    title: "Client secret",
    help: "The client secret shown once when the API key was created. Latch encrypts it \
           and never shows it again.",
    kind: FieldKind::Secret,
    max_len: 1024,
    example: "",
}];

impl Connector for Looker {
    fn id(&self) -> &'static str {
        "looker"
    }

    fn name(&self) -> &'static str {
        "Looker"
    }

    fn description(&self) -> &'static str {
        "Google Looker business intelligence, through its API 4.0 with an API key \
         (client ID and client secret)."
    }

    fn docs_url(&self) -> &'static str {
        "https://cloud.google.com/looker/docs/api-auth"
    }

    fn config_fields(&self) -> &'static [FieldSpec] {
        CONFIG_FIELDS
    }

    fn secret_fields(&self) -> &'static [FieldSpec] {
        SECRET_FIELDS
    }

    /// Looker hosts are pasted in many forms (`/`, `/api/4.0`, a browser path): keep only
    /// scheme, host and port, which is all the API needs.
    fn normalize_config(&self, mut config: Fields) -> Result<Fields, Vec<FieldError>> {
        if let Some(Value::String(host)) = config.get("api_host_url") {
            let origin = api_origin(host).ok_or_else(|| {
                vec![FieldError::new(
                    "config.api_host_url",
                    "must be an absolute URL such as https://acme.cloud.looker.com",
                )]
            })?;
            config.insert("api_host_url".into(), Value::String(origin));
        }
        Ok(config)
    }
}

/// `https://acme.cloud.looker.com:19999/api/4.0/` → `https://acme.cloud.looker.com:19999`.
pub fn api_origin(host: &str) -> Option<String> {
    let url = Url::parse(host).ok()?;
    url.host_str()?;
    Some(url.origin().ascii_serialization())
}

#[cfg(test)]
mod tests {
    use latch_connector::ValidationPolicy;
    use serde_json::json;

    use super::*;

    fn normalized(host: &str) -> String {
        let config = json!({"api_host_url": host, "client_id": "id"});
        Looker
            .validate_config(&config, ValidationPolicy::default())
            .unwrap()["api_host_url"]
            .as_str()
            .unwrap()
            .to_string()
    }

    #[test]
    fn host_forms_seen_in_the_wild_normalise_to_scheme_host_and_port() {
        assert_eq!(
            normalized("https://acme.cloud.looker.com"),
            "https://acme.cloud.looker.com"
        );
        assert_eq!(
            normalized("https://acme.cloud.looker.com/"),
            "https://acme.cloud.looker.com"
        );
        assert_eq!(
            normalized("https://acme.api.looker.com/api/4.0"),
            "https://acme.api.looker.com"
        );
        assert_eq!(
            normalized("https://Looker.Acme.com:19999/api/4.0/"),
            "https://looker.acme.com:19999"
        );
        assert_eq!(
            normalized("https://acme.cloud.looker.com:443/"),
            "https://acme.cloud.looker.com"
        );
    }

    #[test]
    fn the_client_secret_is_a_write_only_secret_field() {
        let schema = latch_connector::section_schema(Looker.secret_fields());
        assert_eq!(schema["properties"]["client_secret"]["writeOnly"], true);
        assert_eq!(schema["properties"]["client_secret"]["maxLength"], 1024);
    }
}
