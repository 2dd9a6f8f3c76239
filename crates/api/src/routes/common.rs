//! What every route shares: a resource that answers 405 with `Allow` to other methods, and
//! `If-Match`.

use actix_web::{HttpRequest, HttpResponse, Resource, web};

use crate::entity_tags::parse_if_match;
use crate::error::ApiError;

/// A resource answering `allow` (such as `"GET, POST"`), and 405 naming them to any other
/// method. `routes::configure` computes each `allow` from the route table.
pub(crate) fn resource(path: &str, allow: &'static str) -> Resource {
    web::resource(path).default_service(web::to(move |request: HttpRequest| {
        method_not_allowed(request, allow)
    }))
}

async fn method_not_allowed(
    request: HttpRequest,
    allow: &'static str,
) -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed {
        detail: format!(
            "{} is not allowed on {}; use {allow}",
            request.method(),
            request.path()
        ),
        allow,
    })
}

/// The `If-Match` header as a version, when sent.
pub(crate) fn if_match(request: &HttpRequest) -> Result<Option<i64>, ApiError> {
    match request.headers().get(actix_web::http::header::IF_MATCH) {
        None => Ok(None),
        Some(value) => parse_if_match(value.to_str().unwrap_or_default()),
    }
}
