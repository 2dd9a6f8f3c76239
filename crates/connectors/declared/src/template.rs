//! URL templates: `https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token`, or a URL
//! that starts with one setting (`{token_url}` for the generic provider, `{base_url}/token`).
//!
//! A setting that starts a template is a URL the field checks saved as one (https, a host,
//! no user, query or fragment), so what follows it can only add to its path. A value that goes
//! inside a template was checked against its field's pattern or choices when it was saved;
//! rendering checks again that it holds none of the characters that end a host or a path
//! segment, so no value can point a URL at another host, whatever the pattern says.

use latch_connector::{Fields, UpstreamError};
use serde_json::Value;
use url::Url;

/// Characters a value inside a template never holds: they would end the host, the segment,
/// or start user info, a port, a query or a fragment.
const FORBIDDEN: &[char] = &['/', '\\', '?', '#', '@', ':', '%', '[', ']', '{', '}'];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Field(String),
}

#[derive(Debug, Clone)]
pub struct UrlTemplate {
    parts: Vec<Part>,
}

impl UrlTemplate {
    /// Splits a template into text and `{field}` parts; `Err` says why it cannot be one.
    pub fn parse(template: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_string()));
            }
            let after = &rest[open + 1..];
            let close = after
                .find('}')
                .ok_or_else(|| "has a `{` with no `}`".to_string())?;
            let name = &after[..close];
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
                return Err(format!(
                    "names `{{{name}}}`: a field name is lower-case letters and `_`"
                ));
            }
            parts.push(Part::Field(name.to_string()));
            rest = &after[close + 1..];
        }
        if rest.contains('}') {
            return Err("has a `}` with no `{`".into());
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        let template = Self { parts };
        match template.parts.as_slice() {
            [Part::Field(_)] => {}
            [Part::Field(_), Part::Text(text), ..] if text.starts_with('/') => {}
            [Part::Field(_), ..] => {
                return Err(
                    "must go on with a path (`/…`) after the URL field it starts with".into(),
                );
            }
            _ if template.starts_with_https() => {}
            _ => return Err("must start with `https://` or a URL field (`{name}`)".into()),
        }
        Ok(template)
    }

    /// The field the template starts with: a whole URL its text adds a path to.
    pub fn leading_field(&self) -> Option<&str> {
        match self.parts.first() {
            Some(Part::Field(name)) => Some(name),
            _ => None,
        }
    }

    fn starts_with_https(&self) -> bool {
        matches!(self.parts.first(), Some(Part::Text(text)) if text.starts_with("https://"))
    }

    /// The fields the template takes.
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|part| match part {
            Part::Field(name) => Some(name.as_str()),
            Part::Text(_) => None,
        })
    }

    /// The URL for `config`'s values.
    pub fn render(&self, config: &Fields) -> Result<Url, UpstreamError> {
        let value = |name: &str| {
            config
                .get(name)
                .and_then(Value::as_str)
                .filter(|value| !value.is_empty())
                .ok_or_else(|| UpstreamError::error(format!("the setting `{name}` is missing")))
        };
        let text = {
            {
                let mut text = String::new();
                for (index, part) in self.parts.iter().enumerate() {
                    match part {
                        Part::Text(literal) => text.push_str(literal),
                        // A URL the field checked; the template's path goes on from it.
                        Part::Field(name) if index == 0 && self.parts.len() > 1 => {
                            text.push_str(value(name)?.trim_end_matches('/'))
                        }
                        Part::Field(name) if index == 0 => text.push_str(value(name)?),
                        Part::Field(name) => {
                            let value = value(name)?;
                            if value.contains(FORBIDDEN) || value.chars().any(char::is_whitespace) {
                                return Err(UpstreamError::error(format!(
                                    "the setting `{name}` holds a character a URL part cannot"
                                )));
                            }
                            text.push_str(value);
                        }
                    }
                }
                text
            }
        };
        Url::parse(&text)
            .map_err(|_| UpstreamError::error("the settings do not make a valid URL".to_string()))
    }

    /// `None` when the template starts with a field the settings leave out (an optional
    /// endpoint).
    pub fn render_if_set(&self, config: &Fields) -> Result<Option<Url>, UpstreamError> {
        if let Some(name) = self.leading_field()
            && config
                .get(name)
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
        {
            return Ok(None);
        }
        self.render(config).map(Some)
    }

    /// The template with each field's example in place: what a check at load time parses.
    pub fn sample(&self, example: impl Fn(&str) -> String) -> String {
        self.parts
            .iter()
            .map(|part| match part {
                Part::Text(text) => text.clone(),
                Part::Field(name) => example(name),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(value: Value) -> Fields {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn a_template_puts_each_value_in_its_place() {
        let template =
            UrlTemplate::parse("https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token")
                .unwrap();
        assert_eq!(template.fields().collect::<Vec<_>>(), ["tenant"]);
        let url = template
            .render(&config(json!({"tenant": "contoso.onmicrosoft.com"})))
            .unwrap();
        assert_eq!(
            url.as_str(),
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
        );
    }

    #[test]
    fn a_value_that_would_move_the_host_or_the_path_is_refused() {
        let template = UrlTemplate::parse("https://{subdomain}.zendesk.com/oauth/tokens").unwrap();
        for bad in [
            "evil.example/",
            "evil.example#",
            "evil.example?",
            "user@evil.example",
            "evil.example:8443",
            "evil%2eexample",
            "a b",
        ] {
            let error = template
                .render(&config(json!({ "subdomain": bad })))
                .unwrap_err();
            assert!(error.detail.contains("subdomain"), "{bad}: {error:?}");
        }
        assert_eq!(
            template
                .render(&config(json!({"subdomain": "acme"})))
                .unwrap()
                .host_str(),
            Some("acme.zendesk.com")
        );
    }

    #[test]
    fn a_whole_url_field_is_taken_as_it_was_checked() {
        let template = UrlTemplate::parse("{token_url}").unwrap();
        assert_eq!(template.leading_field(), Some("token_url"));
        let url = template
            .render(&config(json!({"token_url": "https://idp.example/token"})))
            .unwrap();
        assert_eq!(url.as_str(), "https://idp.example/token");
        let template = UrlTemplate::parse("{base_url}/oauth/token").unwrap();
        for base in ["https://idp.example", "https://idp.example/"] {
            let url = template
                .render(&config(json!({ "base_url": base })))
                .unwrap();
            assert_eq!(url.as_str(), "https://idp.example/oauth/token");
        }
    }

    #[test]
    fn templates_that_are_not_https_urls_or_name_bad_fields_are_refused() {
        for (bad, why) in [
            ("http://idp.example/token", "https://"),
            ("https://idp.example/{Tenant}", "lower-case"),
            ("https://idp.example/{tenant", "no `}`"),
            ("https://idp.example/tenant}", "no `{`"),
            ("{host}token", "path"),
            ("idp.example/{tenant}", "https://"),
        ] {
            let error = UrlTemplate::parse(bad).unwrap_err();
            assert!(error.contains(why), "{bad}: {error}");
        }
    }

    #[test]
    fn a_missing_value_names_its_setting() {
        let template = UrlTemplate::parse("https://idp.example/{tenant}/token").unwrap();
        let error = template.render(&Fields::new()).unwrap_err();
        assert!(error.detail.contains("`tenant`"), "{error:?}");
    }
}
