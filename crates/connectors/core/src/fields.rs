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
    /// Text only: the whole value must match this (anchored, `^…$`) expression, written in
    /// the syntax ECMA-262 and the `regex` crate read alike; the value is taken as sent, not
    /// trimmed. What keeps a value that goes into a URL (a tenant, a subdomain) from naming
    /// another host.
    pub pattern: Option<&'static str>,
    /// Text only: when not empty, the only values accepted, as sent.
    pub choices: &'static [&'static str],
    /// The value taken when the field is not sent.
    pub default: Option<&'static str>,
    /// The field may be left out even with no default (an endpoint a provider may lack).
    pub optional: bool,
}

impl FieldSpec {
    /// Whether a request may leave the field out.
    pub fn is_optional(&self) -> bool {
        self.optional || self.default.is_some()
    }
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
            "pattern": spec.pattern.map_or_else(|| field_pattern(spec.kind), str::to_string),
        });
        if !spec.choices.is_empty() {
            property["enum"] = json!(spec.choices);
        }
        if let Some(default) = spec.default {
            property["default"] = json!(default);
        }
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
        // JSON objects have no order; a form asks in this one.
        "x-order": fields.iter().map(|spec| spec.name).collect::<Vec<_>>(),
        "required": fields
            .iter()
            .filter(|spec| !spec.is_optional())
            .map(|spec| spec.name)
            .collect::<Vec<_>>(),
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
            None => match spec.default {
                Some(default) => {
                    checked.insert(spec.name.to_string(), Value::String(default.into()));
                }
                None if spec.optional => {}
                None => errors.push(FieldError::new(path, "is required")),
            },
            Some(Value::Null) => errors.push(FieldError::new(
                path,
                if spec.is_optional() {
                    "must be a string, or left out for its default"
                } else {
                    "is required"
                },
            )),
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
    if !spec.choices.is_empty() {
        return match spec.choices.contains(&text) {
            true => Ok(text.to_string()),
            false => Err(format!("must be one of {}", quoted(spec.choices))),
        };
    }
    if let Some(pattern) = spec.pattern {
        return match matches_pattern(pattern, text) {
            true => Ok(text.to_string()),
            false => Err(format!("must match {pattern}")),
        };
    }
    match spec.kind {
        // Secrets are kept byte for byte (encrypted): a trailing space may be part of one.
        FieldKind::Secret => Ok(text.to_string()),
        FieldKind::Text => Ok(text.trim().to_string()),
        FieldKind::HostUrl => check_host_url(text.trim(), policy).map(|url| url.to_string()),
    }
}

fn quoted(values: &[&str]) -> String {
    values
        .iter()
        .map(|value| format!("`{value}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether `text` matches `pattern` whole. A pattern that does not compile matches nothing:
/// declarations are checked when they are loaded ([`check_pattern`]), so this is a fault of
/// the program, refused rather than let through.
pub fn matches_pattern(pattern: &str, text: &str) -> bool {
    regex::Regex::new(pattern).is_ok_and(|expression| {
        expression
            .find(text)
            .is_some_and(|found| found.start() == 0 && found.end() == text.len())
    })
}

/// Why a field's declared pattern cannot be used: it must compile, be anchored at both ends
/// (a schema's `pattern` matches anywhere otherwise) and stay within what ECMA-262 reads the
/// same way (no look-around or `(?` flags but `(?:`, no `\p` classes).
pub fn check_pattern(pattern: &str) -> Result<(), String> {
    if !pattern.starts_with('^') || !pattern.ends_with('$') || pattern.ends_with("\\$") {
        return Err("must be anchored: start with `^` and end with `$`".into());
    }
    if pattern.replace("(?:", "").contains("(?")
        || pattern.contains("\\p")
        || pattern.contains("\\P")
    {
        return Err(
            "must use only syntax ECMA-262 reads alike: no `(?` groups but `(?:`, no `\\p` classes"
                .into(),
        );
    }
    regex::Regex::new(pattern)
        .map(|_| ())
        .map_err(|_| "is not a valid regular expression".into())
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
#[path = "fields_tests.rs"]
mod tests;
