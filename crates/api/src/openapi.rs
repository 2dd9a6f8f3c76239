//! The OpenAPI document, generated from the route and schema annotations.

pub(crate) mod exact;

use latch_core::catalogue::Catalogue;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::{responses, routes};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Latch",
        description = "Credential registry and token broker for data connectors.\n\n\
            Save connector credentials (the secret is encrypted and never shown again) after a \
            real test login, list them for selection, and manage the API keys that use them. Every error is \
            `application/problem+json` (RFC 9457); field problems are listed in `errors`.\n\n\
            Authenticate with `Authorization: Bearer latch_...`. Every answer carries \
            `X-Request-Id`, which the server's log lines for that request carry too; send one \
            (1 to 128 letters, digits, `-`, `_`, `.`) to have yours used.",
        license(name = "Apache-2.0"),
    ),
    components(schemas(latch_core::audit_trail::AuditOrder, latch_core::credentials::CredentialSort), responses(
        responses::BadRequest,
        responses::Unauthenticated,
        responses::Forbidden,
        responses::NotFound,
        responses::PreconditionFailed,
        responses::PayloadTooLarge,
        responses::RequestTimeout,
        responses::UnsupportedMediaType,
        responses::InvalidFields,
        responses::TooManyFailures,
        responses::UpstreamUnavailable,
    )),
    modifiers(&BearerApiKey),
    tags(
        (name = "credentials", description = "Saved connector credentials"),
        (name = "tokens", description = "Fresh upstream access tokens for jobs"),
        (name = "data-sources", description = "Data sources: each selects a saved credential; job keys get its tokens"),
        (name = "data-destinations", description = "Data destinations: each selects a saved credential; job keys get its tokens"),
        (name = "connectors", description = "What credentials can be saved for, with form schemas"),
        (name = "oauth-apps", description = "OAuth client apps of the organization, through which consents are given (admin writes)"),
        (name = "webhooks", description = "Signed events (Standard Webhooks) when credentials are made, deleted, break or mend, and when consents end (admin)"),
        (name = "api-keys", description = "Keys that call this API (admin)"),
        (name = "audit", description = "Who changed what (admin)"),
        (name = "operations", description = "Liveness, readiness and metrics"),
    )
)]
pub struct ApiDoc;

struct BearerApiKey;

impl Modify for BearerApiKey {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let mut scheme = Http::new(HttpAuthScheme::Bearer);
        scheme.bearer_format = Some("latch_<prefix>_<secret>".into());
        scheme.description = Some(
            "An API key from `latch api-key create` or `POST /v1/api-keys`. Scopes: `admin`, \
             `credentials:read`, `credentials:write`, `tokens:issue`. Each operation's security \
             requirement names the scope it needs; `admin` holds every scope."
                .into(),
        );
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme("api_key", SecurityScheme::Http(scheme));
    }
}

/// The document of a server offering `catalogue`'s connectors: the Rust types' schemas made
/// exact ([`exact`]), with each connector's forms.
pub fn document(catalogue: &Catalogue) -> utoipa::openapi::OpenApi {
    let mut document = ApiDoc::openapi();
    document.merge(routes::RoutesDoc::openapi());
    exact::apply(&mut document, catalogue);
    document
}

/// The spec as committed in `openapi/openapi.json`: the built-in connectors'.
pub fn spec_json() -> String {
    let mut json = document(&crate::connectors::builtin())
        .to_pretty_json()
        .expect("the OpenAPI document serialises");
    json.push('\n');
    json
}
