use serde::Serialize;
use serde_json::{Map, Value, json};
use url::Url;

use crate::ValidationPolicy;

/// Checked string fields of one section (`config` or `secrets`), by name.
pub type Fields = Map<String, Value>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// Free text.
    Text,
    /// An absolute https URL (http when the operator allows it), with no user info,
    /// query or fragment.
    HostUrl,
    /// Free text that is encrypted at rest and never returned.
    Secret,
}

/// One field a connector asks for, with what a form needs to show it.
#[derive(Debug, Clone, Copy)]
pub struct FieldSpec {
    pub name: &'static str,
    pub title: &'static str,
    pub help: &'static str,
    pub kind: FieldKind,
    pub max_len: usize,
    pub example: &'static str,
    /// The field decides where or to whom the secrets are sent (a host URL): changing it
    /// requires sending the secrets again, so a stored secret never goes anywhere it was
    /// not given for. Shown in the schema as `x-binds-secret`.
    pub binds_secret: bool,
}

/// A problem with one field of a request, named by its path (`config.api_host_url`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// The JSON Schema of one section, as a form renders it.
pub fn section_schema(fields: &[FieldSpec]) -> Value {
    let mut properties = Map::new();
    for spec in fields {
        let mut property = json!({
            "type": "string",
            "title": spec.title,
            "description": spec.help,
            "minLength": 1,
            "maxLength": spec.max_len,
            "pattern": field_pattern(spec.kind),
        });
        match spec.kind {
            FieldKind::Text => {
                property["examples"] = json!([spec.example]);
            }
            FieldKind::HostUrl => {
                // Not `format: uri`: the value is trimmed before it is read, so a URL with
                // surrounding spaces is accepted, which `uri` would call invalid. The pattern
                // says what is accepted (and forms know a URL field by it).
                property["examples"] = json!([spec.example]);
            }
            FieldKind::Secret => {
                property["writeOnly"] = json!(true);
                property["format"] = json!("password");
            }
        }
        if spec.binds_secret {
            property["x-binds-secret"] = json!(true);
        }
        properties.insert(spec.name.to_string(), property);
    }
    json!({
        "type": "object",
        "properties": properties,
        "required": fields.iter().map(|spec| spec.name).collect::<Vec<_>>(),
        "additionalProperties": false,
    })
}

/// A section's example for documents: each field that has one (secrets have none).
pub fn section_example(fields: &[FieldSpec]) -> Value {
    let example: Map<String, Value> = fields
        .iter()
        .filter(|spec| !spec.example.is_empty())
        .map(|spec| (spec.name.to_string(), json!(spec.example)))
        .collect();
    Value::Object(example)
}

/// White space that `str::trim` removes and that is not a control character, as the inside
/// of a regular expression's character class (every dialect reads `\uXXXX` alike).
pub const SPACE_CHARS: &str = r"\u0020\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";
/// Control characters (`char::is_control`), as the inside of a character class.
pub const CONTROL_CHARS: &str = r"\u0000-\u001F\u007F-\u009F";

/// The pattern of a field's value, as [`check_text`] checks it: something besides white
/// space, no control characters except in a secret, and a host URL in its common form (an
/// `https://` host name, a port, a path). A host URL the pattern leaves out may still be
/// accepted: an IP address, or `http://` where the server allows it (local mock servers).
pub fn field_pattern(kind: FieldKind) -> String {
    match kind {
        FieldKind::Secret => format!("[^{SPACE_CHARS}\\u0009-\\u000D\\u0085]"),
        FieldKind::Text => {
            format!("^[^{CONTROL_CHARS}]*[^{CONTROL_CHARS}{SPACE_CHARS}][^{CONTROL_CHARS}]*$")
        }
        FieldKind::HostUrl => format!(
            "^[{SPACE_CHARS}]*https://{LABEL}(?:\\.{LABEL})*(?::[0-9]{{1,4}})?(?:/[A-Za-z0-9._~/-]*)?[{SPACE_CHARS}]*$"
        ),
    }
}

/// A host name's label that no URL parser reads as part of an IP address.
const LABEL: &str = "[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?";

/// Checks one section against its field list: an object, every field present, a non-empty
/// string within its length, no unknown fields, URLs well formed. Collects every problem.
pub fn check_section(
    section: &str,
    specs: &[FieldSpec],
    value: &Value,
    policy: ValidationPolicy,
) -> Result<Fields, Vec<FieldError>> {
    let Some(object) = value.as_object() else {
        return Err(vec![FieldError::new(section, "must be a JSON object")]);
    };
    let mut errors = Vec::new();
    let mut checked = Fields::new();
    for key in object.keys() {
        if !specs.iter().any(|spec| spec.name == key) {
            errors.push(FieldError::new(
                format!("{section}.{key}"),
                format!("unknown field; expected {}", field_names(specs)),
            ));
        }
    }
    for spec in specs {
        let path = format!("{section}.{}", spec.name);
        match object.get(spec.name) {
            None | Some(Value::Null) => errors.push(FieldError::new(path, "is required")),
            Some(Value::String(text)) => match check_text(spec, text, policy) {
                Ok(text) => {
                    checked.insert(spec.name.to_string(), Value::String(text));
                }
                Err(message) => errors.push(FieldError::new(path, message)),
            },
            Some(_) => errors.push(FieldError::new(path, "must be a string")),
        }
    }
    if errors.is_empty() {
        Ok(checked)
    } else {
        Err(errors)
    }
}

/// The secret-binding fields whose checked value differs between `stored` and `changed`.
pub fn rebound_fields<'a>(
    specs: &'a [FieldSpec],
    stored: &Fields,
    changed: &Fields,
) -> Vec<&'a str> {
    specs
        .iter()
        .filter(|spec| spec.binds_secret && stored.get(spec.name) != changed.get(spec.name))
        .map(|spec| spec.name)
        .collect()
}

/// The path of the first string (key or value) in `value` that holds a NUL character, which
/// no database text column stores.
pub fn first_nul(value: &Value, path: &str) -> Option<String> {
    match value {
        Value::String(text) if text.contains('\0') => Some(path.to_string()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(index, item)| first_nul(item, &format!("{path}[{index}]"))),
        Value::Object(map) => map.iter().find_map(|(key, item)| {
            let inner = format!("{path}.{key}");
            if key.contains('\0') {
                Some(inner)
            } else {
                first_nul(item, &inner)
            }
        }),
        _ => None,
    }
}

fn field_names(specs: &[FieldSpec]) -> String {
    specs
        .iter()
        .map(|spec| format!("`{}`", spec.name))
        .collect::<Vec<_>>()
        .join(", ")
}

fn check_text(spec: &FieldSpec, text: &str, policy: ValidationPolicy) -> Result<String, String> {
    if text.trim().is_empty() {
        return Err("must not be empty".into());
    }
    let length = text.chars().count();
    if length > spec.max_len {
        return Err(format!(
            "must be at most {} characters (got {length})",
            spec.max_len
        ));
    }
    if spec.kind != FieldKind::Secret && text.chars().any(char::is_control) {
        // A URL parser would drop tabs and newlines silently; a NUL no database stores.
        return Err("must not contain control characters".into());
    }
    match spec.kind {
        // Secrets are kept byte for byte (encrypted): a trailing space may be part of one.
        FieldKind::Secret => Ok(text.to_string()),
        FieldKind::Text => Ok(text.trim().to_string()),
        FieldKind::HostUrl => check_host_url(text.trim(), policy).map(|url| url.to_string()),
    }
}

fn check_host_url(text: &str, policy: ValidationPolicy) -> Result<Url, String> {
    let url = Url::parse(text)
        .map_err(|_| "must be an absolute URL such as https://example.looker.com".to_string())?;
    match url.scheme() {
        "https" => {}
        "http" if policy.allow_http_hosts => {}
        "http" => {
            return Err("must use https (plain http is not allowed on this server)".into());
        }
        _ => return Err("must be an https URL".into()),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("must name a host".into());
    }
    // A name a resolver can look up: labels of letters, digits and hyphens (an international
    // name arrives as its `xn--` form). The URL parser lets through `*` and other characters
    // no host name has.
    if let Some(url::Host::Domain(domain)) = url.host()
        && !domain.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
    {
        return Err("must name a host of letters, digits and hyphens".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not contain a user name or password".into());
    }
    if url.query().is_some() {
        return Err("must not contain a query string".into());
    }
    if url.fragment().is_some() {
        return Err("must not contain a fragment".into());
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_url_names_a_host_a_resolver_can_look_up() {
        let policy = ValidationPolicy::default();
        for good in [
            "https://acme.cloud.looker.com",
            "https://api.acme.example:8443/api/4.0",
            "https://bücher.example",
            "https://192.0.2.10",
        ] {
            assert!(check_host_url(good, policy).is_ok(), "{good}");
        }
        for bad in [
            "https://acme.looker.com*",
            "https://acme..looker.com",
            "https://acme.looker.com./",
            "https://ac$me.looker.com",
        ] {
            assert!(check_host_url(bad, policy).is_err(), "{bad}");
        }
    }

    const SPECS: &[FieldSpec] = &[
        FieldSpec {
            name: "host",
            title: "Host",
            help: "The host.",
            kind: FieldKind::HostUrl,
            max_len: 100,
            example: "https://example.com",
            binds_secret: true,
        },
        FieldSpec {
            name: "token",
            title: "Token",
            help: "The token.",
            kind: FieldKind::Secret,
            max_len: 8,
            example: "",
            binds_secret: false,
        },
    ];

    fn check(value: Value, allow_http_hosts: bool) -> Result<Fields, Vec<FieldError>> {
        check_section("s", SPECS, &value, ValidationPolicy { allow_http_hosts })
    }

    fn only_error(value: Value) -> FieldError {
        let errors = check(value, false).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        errors.into_iter().next().unwrap()
    }

    #[test]
    fn a_complete_section_passes_with_trimmed_text_and_untouched_secrets() {
        let fields = check(
            json!({"host": " https://example.com ", "token": " t "}),
            false,
        )
        .unwrap();
        assert_eq!(fields["host"], "https://example.com/");
        assert_eq!(fields["token"], " t ");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let errors = check(json!({"token": 5, "extra": 1}), false).unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["s.extra", "s.host", "s.token"]);
    }

    #[test]
    fn host_urls_must_be_absolute_https_without_user_info_query_or_fragment() {
        for (host, message) in [
            ("example.com", "must be an absolute URL"),
            ("ftp://example.com", "must be an https URL"),
            ("http://example.com", "must use https"),
            ("https://user:pw@example.com", "user name or password"),
            ("https://example.com/?a=1", "query string"),
            ("https://example.com/#top", "fragment"),
        ] {
            let error = only_error(json!({"host": host, "token": "t"}));
            assert_eq!(error.field, "s.host");
            assert!(error.message.contains(message), "{host}: {}", error.message);
        }
    }

    #[test]
    fn plain_http_passes_only_when_the_policy_allows_it() {
        assert!(check(json!({"host": "http://127.0.0.1:9000", "token": "t"}), true).is_ok());
    }

    #[test]
    fn empty_and_overlong_values_are_refused_with_their_limits() {
        let error = only_error(json!({"host": "https://example.com", "token": ""}));
        assert_eq!(error.message, "must not be empty");
        let error = only_error(json!({"host": "https://example.com", "token": "123456789"}));
        assert_eq!(error.message, "must be at most 8 characters (got 9)");
    }

    #[test]
    fn control_characters_are_refused_outside_secrets() {
        for host in [
            "https://exa\tmple.com",
            "https://example.com\u{0}",
            "https://a\nb.com",
        ] {
            let error = only_error(json!({"host": host, "token": "t"}));
            assert_eq!(
                error,
                FieldError::new("s.host", "must not contain control characters")
            );
        }
        assert!(
            check(
                json!({"host": "https://example.com", "token": "t\u{0}"}),
                false
            )
            .is_ok()
        );
    }

    #[test]
    fn a_nul_is_found_in_keys_values_and_arrays_with_its_path() {
        assert_eq!(
            first_nul(&json!({"a": {"b": "x\u{0}"}}), "config").as_deref(),
            Some("config.a.b")
        );
        assert_eq!(
            first_nul(&json!({"a": ["ok", "\u{0}"]}), "config").as_deref(),
            Some("config.a[1]")
        );
        assert_eq!(
            first_nul(&json!({"k\u{0}": 1}), "config").as_deref(),
            Some("config.k\u{0}")
        );
        assert_eq!(first_nul(&json!({"a": ["ok", 1, null]}), "config"), None);
    }

    #[test]
    fn a_section_that_is_not_an_object_is_refused() {
        assert_eq!(
            only_error(json!("x")),
            FieldError::new("s", "must be a JSON object")
        );
    }

    #[test]
    fn the_schema_lists_every_field_and_marks_secrets_write_only() {
        let schema = section_schema(SPECS);
        assert_eq!(schema["required"], json!(["host", "token"]));
        assert_eq!(schema["properties"]["token"]["writeOnly"], true);
        assert!(schema["properties"]["host"].get("format").is_none());
        assert!(
            schema["properties"]["host"]["pattern"]
                .as_str()
                .unwrap()
                .contains("https://")
        );
        assert_eq!(schema["properties"]["host"]["title"], "Host");
        assert_eq!(schema["properties"]["host"]["x-binds-secret"], true);
        assert!(
            schema["properties"]["token"]
                .get("x-binds-secret")
                .is_none()
        );
    }

    #[test]
    fn only_a_changed_secret_binding_field_counts_as_rebound() {
        let stored = check(json!({"host": "https://a.example", "token": "t"}), false).unwrap();
        let same = check(json!({"host": "https://a.example/", "token": "u"}), false).unwrap();
        let moved = check(json!({"host": "https://b.example", "token": "t"}), false).unwrap();
        assert!(rebound_fields(SPECS, &stored, &same).is_empty());
        assert_eq!(rebound_fields(SPECS, &stored, &moved), ["host"]);
    }

    #[test]
    fn each_field_pattern_accepts_what_the_field_check_accepts() {
        let policy = ValidationPolicy {
            allow_http_hosts: false,
        };
        let samples = [
            "x",
            " x ",
            "a b",
            " ",
            "\u{3000}",
            "\t",
            "\tx",
            "x\n",
            "a\u{0}b",
            "\u{85}",
            "\u{200B}",
            "https://acme.cloud.looker.com",
            " https://acme.cloud.looker.com:443/api ",
            "https://a.b-c.example/x/y_z.~",
            "http://acme.example",
            "https://",
            "https://acme.example?x=1",
            "https://user@acme.example",
            "ftp://acme.example",
            "https://acme .example",
        ];
        for kind in [FieldKind::Text, FieldKind::Secret, FieldKind::HostUrl] {
            let pattern = regex::Regex::new(&field_pattern(kind)).unwrap();
            let spec = FieldSpec {
                name: "f",
                title: "F",
                help: "",
                kind,
                max_len: 100,
                example: "",
                binds_secret: false,
            };
            for text in samples {
                let accepted = check_text(&spec, text, policy).is_ok();
                if pattern.is_match(text) {
                    assert!(accepted, "{kind:?} {text:?} matches but is refused");
                } else if kind != FieldKind::HostUrl {
                    assert!(
                        !accepted,
                        "{kind:?} {text:?} is accepted but does not match"
                    );
                }
            }
        }
    }
}
