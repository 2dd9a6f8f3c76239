//! What a declaration must hold beyond what its types say, checked once when it is loaded:
//! every problem is reported with the file, the field and why, and a declaration with any
//! problem is not served.
//!
//! A checked declaration becomes a [`Provider`]. Its texts and field lists live as long as
//! the process (they are leaked once at start-up), which is what the `Connector` trait's
//! `&'static` answers ask for.

use std::collections::BTreeSet;
use std::time::Duration;

use latch_connector::token_endpoint::ClientAuth;
use latch_connector::{AuthMethod, FieldKind, FieldSpec, check_pattern, matches_pattern};
use url::Url;

use crate::declaration::{Declaration, DeclaredKind, FieldDeclaration};
use crate::specs::{
    client_id_spec, client_secret_spec, issuer_spec, private_key_spec, scopes_spec, subject_spec,
};
use crate::template::UrlTemplate;

/// A problem with one declaration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderError {
    pub file: String,
    /// The key's path in the file (`oauth.token_url`, `fields[1].pattern`).
    pub field: String,
    pub why: String,
}

impl std::fmt::Display for ProviderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}: {}", self.file, self.field, self.why)
    }
}

/// The names every provider's settings and secrets already use.
pub const CLIENT_ID: &str = "client_id";
pub const SCOPES: &str = "scopes";
pub const CLIENT_SECRET: &str = "client_secret";
pub const ISSUER: &str = "issuer";
pub const SUBJECT: &str = "subject";
pub const PRIVATE_KEY: &str = "private_key";

/// A declaration that passed every rule.
#[derive(Debug)]
pub struct Provider {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub docs_url: &'static str,
    pub methods: &'static [AuthMethod],
    pub ports: &'static [u16],
    /// The settings of a client credentials credential (and the base of an app's): the
    /// declared fields, the client ID and the scopes.
    pub settings: &'static [FieldSpec],
    /// An app's settings: the same, with those the consent URL takes required.
    pub app_settings: &'static [FieldSpec],
    /// A client credentials credential's: the client's secret.
    pub secrets: &'static [FieldSpec],
    /// An app's: a confidential client's secret; none for a public client.
    pub app_secrets: &'static [FieldSpec],
    pub authorization: Option<UrlTemplate>,
    pub token: UrlTemplate,
    pub revocation: Option<UrlTemplate>,
    pub client_auth: ClientAuthRule,
    pub pkce: bool,
    pub scope_separator: &'static str,
    pub authorization_params: Vec<(String, String)>,
    pub lifetime: Option<Duration>,
    pub keep: &'static [&'static str],
    pub identity: Option<Identity>,
    pub jwt_bearer: Option<JwtBearer>,
}

/// How assertions of `jwt_bearer` are made.
#[derive(Debug)]
pub struct JwtBearer {
    /// `aud`; the token URL when `None`.
    pub audience: Option<UrlTemplate>,
    pub lifetime: Duration,
    pub scope_claim: bool,
    /// A service account credential's settings: the declared fields, its issuer, subject
    /// and scopes.
    pub settings: &'static [FieldSpec],
    /// Its private key.
    pub secrets: &'static [FieldSpec],
}

/// Assertions live at most this long, however long the provider would take them: each is
/// signed just before its one exchange.
const ASSERTION_LIFETIME: Duration = Duration::from_secs(300);

/// How the client authenticates: as declared, or as a setting of each app or credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuthRule {
    Fixed(ClientAuth),
    Field(&'static str),
}

/// RFC 7591's `token_endpoint_auth_method` names.
pub fn client_auth_named(name: &str) -> Option<ClientAuth> {
    match name {
        "client_secret_basic" => Some(ClientAuth::ClientSecretBasic),
        "client_secret_post" => Some(ClientAuth::ClientSecretPost),
        "none" => Some(ClientAuth::Public),
        _ => None,
    }
}

#[derive(Debug)]
pub struct Identity {
    pub url: UrlTemplate,
    pub label: Option<String>,
    /// Metadata name, and the JSON pointer to its value in the identity.
    pub keep: Vec<(String, String)>,
}

pub(crate) fn leak(text: String) -> &'static str {
    Box::leak(text.into_boxed_str())
}

/// Collects the problems of one file.
struct Problems<'a> {
    file: &'a str,
    found: Vec<ProviderError>,
}

impl Problems<'_> {
    fn add(&mut self, field: impl Into<String>, why: impl Into<String>) {
        self.found.push(ProviderError {
            file: self.file.to_string(),
            field: field.into(),
            why: why.into(),
        });
    }
}

fn is_name(text: &str, max: usize) -> bool {
    let mut bytes = text.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && text.len() <= max
}

fn is_https(text: &str) -> bool {
    Url::parse(text).is_ok_and(|url| url.scheme() == "https" && url.host_str().is_some())
}

/// Checks `declaration`, read from `file`.
pub fn check(file: &str, declaration: Declaration) -> Result<Provider, Vec<ProviderError>> {
    let mut problems = Problems {
        file,
        found: Vec::new(),
    };
    let problems_ref = &mut problems;
    if !is_name(&declaration.id, 32) {
        problems_ref.add(
            "id",
            "must be 1 to 32 lower-case letters, digits and `_`, starting with a letter",
        );
    }
    for (key, text, max) in [
        ("name", &declaration.name, 64),
        ("description", &declaration.description, 500),
    ] {
        if text.trim().is_empty() || text.chars().count() > max {
            problems_ref.add(key, format!("must be 1 to {max} characters"));
        }
    }
    if !is_https(&declaration.docs_url) {
        problems_ref.add("docs_url", "must be an https URL");
    }
    let methods = methods(problems_ref, &declaration.auth_methods);
    let consent = methods.contains(&AuthMethod::OauthAuthorizationCode);
    let ports = if declaration.ports.is_empty() {
        vec![443]
    } else {
        declaration.ports.clone()
    };
    if ports.contains(&0) {
        problems_ref.add("ports", "must be ports from 1 to 65535");
    }

    let oauth = &declaration.oauth;
    let client_auth = client_auth(problems_ref, &oauth.client_auth, &declaration.fields);
    let public = client_auth == ClientAuthRule::Fixed(ClientAuth::Public);
    if public {
        if methods.contains(&AuthMethod::OauthClientCredentials) {
            problems_ref.add(
                "oauth.client_auth",
                "`none` (a public client) cannot use oauth_client_credentials, which needs a \
                 client secret",
            );
        }
        if !oauth.pkce {
            problems_ref.add(
                "oauth.pkce",
                "must be true for a public client (`client_auth = \"none\"`): nothing else \
                 proves the code exchange",
            );
        }
    }

    let fields = field_specs(problems_ref, &declaration.fields);
    let template = |problems: &mut Problems, key: &str, text: &str| -> Option<UrlTemplate> {
        match UrlTemplate::parse(text) {
            Ok(template) => {
                check_template(problems, key, &template, &declaration.fields);
                Some(template)
            }
            Err(why) => {
                problems.add(key, why);
                None
            }
        }
    };
    let authorization = match (&oauth.authorization_url, consent) {
        (Some(url), true) => template(problems_ref, "oauth.authorization_url", url),
        (None, true) => {
            problems_ref.add(
                "oauth.authorization_url",
                "is required with oauth_authorization_code",
            );
            None
        }
        (Some(_), false) => {
            problems_ref.add(
                "oauth.authorization_url",
                "is only for oauth_authorization_code, which auth_methods does not list",
            );
            None
        }
        (None, false) => None,
    };
    let token = template(problems_ref, "oauth.token_url", &oauth.token_url);
    let revocation = oauth
        .revocation_url
        .as_deref()
        .and_then(|url| template(problems_ref, "oauth.revocation_url", url));
    let identity = declaration.identity.as_ref().and_then(|identity| {
        if let Some(label) = &identity.label
            && !label.starts_with('/')
        {
            problems_ref.add(
                "identity.label",
                "must be a JSON pointer (RFC 6901), starting with `/`",
            );
        }
        for (name, pointer) in &identity.keep {
            if !is_name(name, 64) || oauth.keep.contains(name) {
                problems_ref.add(
                    format!("identity.keep.{name}"),
                    "must be a metadata name of lower-case letters, digits and `_` that \
                     `oauth.keep` does not take already",
                );
            }
            if !pointer.starts_with('/') {
                problems_ref.add(
                    format!("identity.keep.{name}"),
                    "must be a JSON pointer (RFC 6901), starting with `/`",
                );
            }
        }
        Some(Identity {
            url: template(problems_ref, "identity.url", &identity.url)?,
            label: identity.label.clone(),
            keep: identity.keep.clone().into_iter().collect(),
        })
    });
    let separator = oauth.scope_separator.clone().unwrap_or_else(|| " ".into());
    if separator.is_empty() || separator.chars().count() > 3 {
        problems_ref.add("oauth.scope_separator", "must be 1 to 3 characters");
    }
    for (index, scope) in oauth.scopes.iter().enumerate() {
        if scope.is_empty() || scope.contains(&separator) || scope.chars().any(char::is_control) {
            problems_ref.add(
                format!("oauth.scopes[{index}]"),
                "must be a scope: not empty, without the separator or control characters",
            );
        }
    }
    for key in oauth.authorization_params.keys() {
        const OURS: [&str; 7] = [
            "response_type",
            "client_id",
            "redirect_uri",
            "scope",
            "state",
            "code_challenge",
            "code_challenge_method",
        ];
        if OURS.contains(&key.as_str()) {
            problems_ref.add(
                format!("oauth.authorization_params.{key}"),
                "is set by Latch itself",
            );
        }
    }
    if oauth.token_lifetime_seconds == Some(0) {
        problems_ref.add("oauth.token_lifetime_seconds", "must be at least 1");
    }
    for (index, name) in oauth.keep.iter().enumerate() {
        const SECRET: [&str; 3] = ["access_token", "refresh_token", "id_token"];
        if SECRET.contains(&name.as_str()) || name.is_empty() {
            problems_ref.add(
                format!("oauth.keep[{index}]"),
                "must name a non-secret field of the token answer",
            );
        }
    }

    let jwt = methods.contains(&AuthMethod::JwtBearer);
    let jwt_bearer = match (&declaration.jwt_bearer, jwt) {
        (Some(declared), true) => {
            if declared.max_lifetime_seconds == 0 {
                problems_ref.add("jwt_bearer.max_lifetime_seconds", "must be at least 1");
            }
            let audience = declared
                .audience
                .as_deref()
                .and_then(|url| template(problems_ref, "jwt_bearer.audience", url));
            let mut settings = fields.clone();
            settings.push(issuer_spec(declared));
            settings.push(subject_spec(declared));
            let scopes = declared.scopes.as_ref().unwrap_or(&oauth.scopes);
            settings.push(scopes_spec(scopes, &separator));
            Some(JwtBearer {
                audience,
                lifetime: ASSERTION_LIFETIME
                    .min(Duration::from_secs(declared.max_lifetime_seconds)),
                scope_claim: declared.scope_claim,
                settings: Box::leak(settings.into_boxed_slice()),
                secrets: Box::leak(vec![private_key_spec()].into_boxed_slice()),
            })
        }
        (None, true) => {
            problems_ref.add("jwt_bearer", "is required with the jwt_bearer method");
            None
        }
        (Some(_), false) => {
            problems_ref.add(
                "jwt_bearer",
                "is only for jwt_bearer, which auth_methods does not list",
            );
            None
        }
        (None, false) => None,
    };
    let app_secret_fields: Vec<FieldSpec> = match public {
        true => Vec::new(),
        false => vec![client_secret_spec()],
    };
    let mut app_config_fields = fields.clone();
    app_config_fields.push(client_id_spec());
    app_config_fields.push(scopes_spec(&oauth.scopes, &separator));
    // The settings and secrets of a client credentials credential (those of a service
    // account's are the JWT bearer method's, above).
    let mut config_fields = fields;
    config_fields.push(client_id_spec());
    let typed_scopes = oauth
        .client_credentials_scopes
        .as_ref()
        .unwrap_or(&oauth.scopes);
    config_fields.push(scopes_spec(typed_scopes, &separator));
    let secret_fields = app_secret_fields.clone();

    if !problems.found.is_empty() {
        return Err(problems.found);
    }
    let Some(token) = token else {
        unreachable!("a token URL that is no template is a reported problem");
    };
    let consent_takes: Vec<String> = authorization
        .iter()
        .flat_map(|template| template.fields())
        .map(str::to_string)
        .collect();
    let app_config_fields: Vec<FieldSpec> = app_config_fields
        .iter()
        .map(
            |spec| match consent_takes.iter().any(|name| name == spec.name) {
                true => FieldSpec {
                    optional: false,
                    ..*spec
                },
                false => *spec,
            },
        )
        .collect();
    Ok(Provider {
        id: leak(declaration.id),
        name: leak(declaration.name),
        description: leak(declaration.description),
        docs_url: leak(declaration.docs_url),
        methods: Box::leak(methods.into_boxed_slice()),
        ports: Box::leak(ports.into_boxed_slice()),
        settings: Box::leak(config_fields.into_boxed_slice()),
        app_settings: Box::leak(app_config_fields.into_boxed_slice()),
        secrets: Box::leak(secret_fields.into_boxed_slice()),
        app_secrets: Box::leak(app_secret_fields.into_boxed_slice()),
        authorization,
        token,
        revocation,
        client_auth,
        pkce: declaration.oauth.pkce,
        scope_separator: leak(separator),
        authorization_params: declaration.oauth.authorization_params.into_iter().collect(),
        lifetime: declaration
            .oauth
            .token_lifetime_seconds
            .map(Duration::from_secs),
        keep: Box::leak(
            declaration
                .oauth
                .keep
                .into_iter()
                .map(leak)
                .collect::<Vec<_>>()
                .into_boxed_slice(),
        ),
        identity,
        jwt_bearer,
    })
}

fn client_auth(problems: &mut Problems, text: &str, fields: &[FieldDeclaration]) -> ClientAuthRule {
    const KEY: &str = "oauth.client_auth";
    if let Some(method) = client_auth_named(text) {
        return ClientAuthRule::Fixed(method);
    }
    let named = text
        .strip_prefix('{')
        .and_then(|rest| rest.strip_suffix('}'))
        .and_then(|name| fields.iter().find(|field| field.name == name));
    match named {
        Some(field)
            if !field.choices.is_empty()
                && field.choices.iter().all(|choice| {
                    matches!(
                        client_auth_named(choice),
                        Some(ClientAuth::ClientSecretBasic | ClientAuth::ClientSecretPost)
                    )
                }) =>
        {
            ClientAuthRule::Field(leak(field.name.clone()))
        }
        Some(_) => {
            problems.add(
                KEY,
                "names a field whose choices must be `client_secret_basic` and/or \
                 `client_secret_post`",
            );
            ClientAuthRule::Fixed(ClientAuth::ClientSecretBasic)
        }
        None => {
            problems.add(
                KEY,
                "must be `client_secret_basic`, `client_secret_post`, `none`, or `{field}` \
                 naming a declared field with those choices",
            );
            ClientAuthRule::Fixed(ClientAuth::ClientSecretBasic)
        }
    }
}

fn methods(problems: &mut Problems, names: &[String]) -> Vec<AuthMethod> {
    const OFFERED: [AuthMethod; 3] = [
        AuthMethod::OauthAuthorizationCode,
        AuthMethod::OauthClientCredentials,
        AuthMethod::JwtBearer,
    ];
    let mut methods = Vec::new();
    for (index, name) in names.iter().enumerate() {
        match AuthMethod::from_name(name) {
            Some(method) if OFFERED.contains(&method) => {
                if methods.contains(&method) {
                    problems.add(format!("auth_methods[{index}]"), "is listed twice");
                }
                methods.push(method);
            }
            _ => problems.add(
                format!("auth_methods[{index}]"),
                format!(
                    "`{name}` is not a method a declared provider offers; expected \
                     `oauth_authorization_code`, `oauth_client_credentials` or `jwt_bearer`"
                ),
            ),
        }
    }
    if names.is_empty() {
        problems.add("auth_methods", "must list at least one method");
    }
    methods
}

/// Every field's own rules, and its spec.
fn field_specs(problems: &mut Problems, fields: &[FieldDeclaration]) -> Vec<FieldSpec> {
    let mut seen = BTreeSet::new();
    let mut specs = Vec::new();
    for (index, field) in fields.iter().enumerate() {
        let at = |key: &str| format!("fields[{index}].{key}");
        if !is_name(&field.name, 64) {
            problems.add(
                at("name"),
                "must be 1 to 64 lower-case letters, digits and `_`, starting with a letter",
            );
        } else if [
            CLIENT_ID,
            SCOPES,
            CLIENT_SECRET,
            ISSUER,
            SUBJECT,
            PRIVATE_KEY,
        ]
        .contains(&field.name.as_str())
        {
            problems.add(
                at("name"),
                format!("`{}` is a setting every provider has already", field.name),
            );
        } else if !seen.insert(field.name.as_str()) {
            problems.add(at("name"), format!("`{}` is declared twice", field.name));
        }
        if field.title.trim().is_empty() || field.help.trim().is_empty() {
            problems.add(at("title"), "a field needs a title and help for its form");
        }
        if let Some(pattern) = &field.pattern
            && let Err(why) = check_pattern(pattern)
        {
            problems.add(at("pattern"), why);
        }
        if field.kind == DeclaredKind::Url && (field.pattern.is_some() || !field.choices.is_empty())
        {
            problems.add(
                at("kind"),
                "a URL field is checked as an https URL: it takes no pattern or choices",
            );
        }
        if field.pattern.is_some() && !field.choices.is_empty() {
            problems.add(at("choices"), "give a pattern or choices, not both");
        }
        if let Some(default) = &field.default {
            let spec_ok = (field.choices.is_empty() || field.choices.contains(default))
                && field
                    .pattern
                    .as_deref()
                    .is_none_or(|pattern| matches_pattern(pattern, default));
            if !spec_ok || field.kind == DeclaredKind::Url {
                problems.add(
                    at("default"),
                    "must be one of the choices or match the pattern (URL fields take none)",
                );
            }
        }
        let max_len = field.max_length.unwrap_or(256);
        if !(1..=4096).contains(&max_len) {
            problems.add(at("max_length"), "must be from 1 to 4096");
        }
        specs.push(FieldSpec {
            name: leak(field.name.clone()),
            title: leak(field.title.clone()),
            help: leak(field.help.clone()),
            kind: match field.kind {
                DeclaredKind::Text => FieldKind::Text,
                DeclaredKind::Url => FieldKind::HostUrl,
            },
            max_len,
            example: leak(
                field
                    .example
                    .clone()
                    .or_else(|| field.default.clone())
                    .unwrap_or_default(),
            ),
            // Every declared field goes into a URL that the client's secret or a consent's
            // code goes to.
            binds_secret: true,
            pattern: field.pattern.clone().map(leak),
            choices: Box::leak(
                field
                    .choices
                    .iter()
                    .cloned()
                    .map(leak)
                    .collect::<Vec<_>>()
                    .into_boxed_slice(),
            ),
            default: field.default.clone().map(leak),
            optional: field.optional,
        });
    }
    specs
}

/// A template's fields are declared; the one it may start with is a URL field, and each
/// that sits inside the URL is held to a pattern or choices.
fn check_template(
    problems: &mut Problems,
    key: &str,
    template: &UrlTemplate,
    fields: &[FieldDeclaration],
) {
    let leading = template.leading_field();
    for (index, name) in template.fields().enumerate() {
        let Some(field) = fields.iter().find(|field| field.name == name) else {
            problems.add(
                key,
                format!("takes `{{{name}}}`, which `fields` does not declare"),
            );
            continue;
        };
        let starts = index == 0 && leading == Some(name);
        match (starts, field.kind) {
            (true, DeclaredKind::Url) => {}
            (true, DeclaredKind::Text) => problems.add(
                key,
                format!("starts with `{{{name}}}`, which must then be a `url` field"),
            ),
            (false, DeclaredKind::Url) => problems.add(
                key,
                format!(
                    "takes the URL field `{{{name}}}` inside a URL; a URL field only starts one"
                ),
            ),
            (false, DeclaredKind::Text) if field.pattern.is_none() && field.choices.is_empty() => {
                problems.add(
                    key,
                    format!(
                        "takes `{{{name}}}` inside a URL, so that field needs a `pattern` or \
                         `choices` that keep it from naming another host"
                    ),
                )
            }
            (false, DeclaredKind::Text) => {}
        }
    }
    let sample = template.sample(|name| {
        fields
            .iter()
            .find(|field| field.name == name)
            .and_then(|field| field.example.clone().or_else(|| field.default.clone()))
            .unwrap_or_else(|| "example".into())
    });
    if leading.is_none() && !is_https(&sample) {
        problems.add(
            key,
            format!("does not make an https URL with the fields' examples (`{sample}`)"),
        );
    }
}
