//! A provider's declaration file, as written: the TOML the file holds, read into these types
//! with every unknown key refused. [`crate::rules`] checks what serde cannot.

use std::collections::BTreeMap;

use serde::Deserialize;

/// One provider, one file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Declaration {
    /// The connector's id in the API (`hubspot`).
    pub id: String,
    pub name: String,
    pub description: String,
    /// The provider's own documentation of its OAuth endpoints.
    pub docs_url: String,
    /// Of `oauth_authorization_code`, `oauth_client_credentials`, `jwt_bearer`.
    pub auth_methods: Vec<String>,
    /// The ports its endpoints answer on; 443 when left out.
    #[serde(default)]
    pub ports: Vec<u16>,
    /// The settings its URLs take (`{tenant}`, `{subdomain}`), besides the client ID and the
    /// scopes every provider has.
    #[serde(default)]
    pub fields: Vec<FieldDeclaration>,
    pub oauth: OAuthDeclaration,
    /// How a token says whom it acts for; without it a consent reads "connected".
    pub identity: Option<IdentityDeclaration>,
    /// The assertions of `jwt_bearer` (RFC 7523).
    pub jwt_bearer: Option<JwtBearerDeclaration>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtBearerDeclaration {
    /// The assertion's `aud`; the token URL when left out.
    pub audience: Option<String>,
    /// The longest an assertion may live, `iat` to `exp`, as the provider allows it.
    pub max_lifetime_seconds: u64,
    /// The scopes go in the assertion's `scope` claim (Google) rather than nowhere.
    #[serde(default)]
    pub scope_claim: bool,
    /// The scopes a service account's credential asks for unless it names its own, when they
    /// differ from `oauth.scopes`; `[]`: none.
    pub scopes: Option<Vec<String>>,
    /// How the form names the assertion's `iss` where "Service account" is not the
    /// provider's word (Salesforce's "Consumer key").
    pub issuer_title: Option<String>,
    pub issuer_help: Option<String>,
    /// How the form names the assertion's `sub`, and whether the provider requires one
    /// (Salesforce: the username the app acts as).
    pub subject_title: Option<String>,
    pub subject_help: Option<String>,
    #[serde(default)]
    pub subject_required: bool,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeclaredKind {
    /// Text, checked by `pattern` or `choices` when it goes into a URL.
    #[default]
    Text,
    /// A whole https URL (the generic provider's endpoints).
    Url,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldDeclaration {
    pub name: String,
    pub title: String,
    pub help: String,
    #[serde(default)]
    pub kind: DeclaredKind,
    /// Anchored (`^…$`); required for text that goes into a URL, unless `choices` is given.
    pub pattern: Option<String>,
    #[serde(default)]
    pub choices: Vec<String>,
    /// Taken when the field is not sent.
    pub default: Option<String>,
    /// May be left out with no default (an endpoint the provider may not have).
    #[serde(default)]
    pub optional: bool,
    pub example: Option<String>,
    pub max_length: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthDeclaration {
    /// Where a person consents; required with `oauth_authorization_code`.
    pub authorization_url: Option<String>,
    pub token_url: String,
    /// An RFC 7009 endpoint: the grant is revoked there when its credential is deleted.
    pub revocation_url: Option<String>,
    /// `client_secret_basic`, `client_secret_post`, `none` (a public client, which PKCE
    /// alone proves), or `{field}`: a field whose choices are among those (the generic
    /// provider's admin picks how the client is registered).
    pub client_auth: String,
    /// Send an S256 code challenge with the consent and the verifier with the code.
    #[serde(default)]
    pub pkce: bool,
    /// Scopes asked for unless an app or credential names its own.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// The scopes a credential of the client credentials grant asks for unless it names its
    /// own, when they differ from `scopes` (Microsoft's `.default`); `[]`: none.
    pub client_credentials_scopes: Option<Vec<String>>,
    /// Between scopes in the `scope` parameter; a space (RFC 6749 §3.3) when left out.
    pub scope_separator: Option<String>,
    /// Extra parameters of the consent URL (Google's `access_type = "offline"`).
    #[serde(default)]
    pub authorization_params: BTreeMap<String, String>,
    /// How long a token lives when the answer has no `expires_in`.
    pub token_lifetime_seconds: Option<u64>,
    /// Non-secret fields of the token answer handed to jobs with each token.
    #[serde(default)]
    pub keep: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityDeclaration {
    /// A `GET` with the access token as a bearer token.
    pub url: String,
    /// A JSON pointer (RFC 6901) to the name shown as "connected as".
    pub label: Option<String>,
    /// Values of the identity jobs need, by metadata name: JSON pointers (Xero's tenant id).
    #[serde(default)]
    pub keep: BTreeMap<String, String>,
}
