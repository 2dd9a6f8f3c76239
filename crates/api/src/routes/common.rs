//! What every route shares: a resource that answers 405 to other methods, and `If-Match`.

use actix_web::{HttpRequest, HttpResponse, Resource, web};

use crate::entity_tags::parse_if_match;
use crate::error::ApiError;

pub(crate) fn resource(path: &str) -> Resource {
    web::resource(path).default_service(web::to(method_not_allowed))
}

async fn method_not_allowed(request: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed(format!(
        "{} is not allowed on {}",
        request.method(),
        request.path()
    )))
}

/// The `If-Match` header as a version, when sent.
pub(crate) fn if_match(request: &HttpRequest) -> Result<Option<i64>, ApiError> {
    match request.headers().get(actix_web::http::header::IF_MATCH) {
        None => Ok(None),
        Some(value) => parse_if_match(value.to_str().unwrap_or_default()),
    }
}
