//! The settings and secrets every declared provider has, beside the fields its file
//! declares: the client ID and the scopes, a client's secret, and a service account's issuer,
//! subject and private key.

use latch_connector::{FieldKind, FieldSpec};

use crate::declaration::JwtBearerDeclaration;
use crate::rules::{CLIENT_ID, CLIENT_SECRET, ISSUER, PRIVATE_KEY, SCOPES, SUBJECT, leak};

pub(crate) fn client_id_spec() -> FieldSpec {
    FieldSpec {
        name: CLIENT_ID,
        title: "Client ID",
        help: "The client ID the provider gave the OAuth client (app) when it was registered.",
        kind: FieldKind::Text,
        max_len: 512,
        example: "latch-client",
        // The client ID names the client the secret belongs to.
        binds_secret: true,
        pattern: None,
        choices: &[],
        default: None,
        optional: false,
    }
}

pub(crate) fn scopes_spec(scopes: &[String], separator: &str) -> FieldSpec {
    let default = (!scopes.is_empty()).then(|| leak(scopes.join(separator)));
    FieldSpec {
        name: SCOPES,
        title: "Scopes",
        help: leak(format!(
            "The scopes to ask for, separated by `{separator}`. Left out: {}.",
            default.map_or("none".to_string(), |scopes| format!("`{scopes}`"))
        )),
        kind: FieldKind::Text,
        max_len: 2048,
        example: default.unwrap_or(""),
        binds_secret: false,
        pattern: None,
        choices: &[],
        default,
        optional: true,
    }
}

/// The assertion's `iss`, named as the declaration says or as a service account.
pub(crate) fn issuer_spec(declared: &JwtBearerDeclaration) -> FieldSpec {
    FieldSpec {
        name: ISSUER,
        title: declared.issuer_title.clone().map_or("Service account", leak),
        help: declared.issuer_help.clone().map_or(
            "The service account that signs the assertions (its `iss`): its email or client ID, as the provider names it.",
            leak,
        ),
        kind: FieldKind::Text,
        max_len: 512,
        example: "exports@acme-project.iam.gserviceaccount.com",
        // The issuer names whose key signs: a new one needs its own key.
        binds_secret: true,
        pattern: None,
        choices: &[],
        default: None,
        optional: false,
    }
}

/// The assertion's `sub`: optional unless the declaration requires it.
pub(crate) fn subject_spec(declared: &JwtBearerDeclaration) -> FieldSpec {
    FieldSpec {
        name: SUBJECT,
        title: declared.subject_title.clone().map_or("Acting for", leak),
        help: declared.subject_help.clone().map_or(
            "Optional: the user the service account acts for (its `sub`), where the provider allows it.",
            leak,
        ),
        kind: FieldKind::Text,
        max_len: 512,
        example: "ada@acme.example",
        binds_secret: false,
        pattern: None,
        choices: &[],
        default: None,
        optional: !declared.subject_required,
    }
}

pub(crate) fn private_key_spec() -> FieldSpec {
    FieldSpec {
        name: PRIVATE_KEY,
        title: "Private key",
        help: "The service account's RSA private key in PKCS#8 PEM (-----BEGIN PRIVATE KEY-----). Latch encrypts it and never shows it again.",
        kind: FieldKind::Secret,
        max_len: 8192,
        example: "",
        binds_secret: false,
        pattern: None,
        choices: &[],
        default: None,
        optional: false,
    }
}

pub(crate) fn client_secret_spec() -> FieldSpec {
    FieldSpec {
        name: CLIENT_SECRET,
        title: "Client Secret",
        help: "The OAuth client's secret. Latch encrypts it and never shows it again.",
        kind: FieldKind::Secret,
        max_len: 2048,
        example: "",
        binds_secret: false,
        pattern: None,
        choices: &[],
        default: None,
        optional: false,
    }
}
