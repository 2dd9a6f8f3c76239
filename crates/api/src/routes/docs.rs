//! The served OpenAPI document and Swagger UI, from the binary. `/docs` shares its origin with
//! the console, which keeps its API key in `sessionStorage`, so its pages carry a policy of
//! their own: nothing from elsewhere, never in a frame, no opener.

use std::sync::Arc;

use actix_web::http::header::{CACHE_CONTROL, CONTENT_ENCODING, LOCATION};
use actix_web::{HttpResponse, web};
use utoipa_swagger_ui::Config;

use super::common::resource;
use crate::error::ApiError;
use crate::page_headers::secure_page;
use latch_core::CoreError;

/// What Swagger UI needs and no more: its own files, its element styles and its icons drawn as
/// `data:` images; the document from this origin. No validator badge (it would load an image
/// from elsewhere).
const DOCS_POLICY: &str = "default-src 'none'; script-src 'self'; \
                           style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
                           connect-src 'self'; form-action 'none'; base-uri 'none'; \
                           frame-ancestors 'none'";

struct Docs {
    /// The document, serialised once.
    document: web::Bytes,
    swagger: Arc<Config<'static>>,
}

/// Registers `/openapi.json` (`document`, built once before the workers start) and `/docs`.
pub fn configure(config: &mut web::ServiceConfig, document: web::Bytes) {
    let docs = web::Data::new(Docs {
        document,
        swagger: Arc::new(Config::from("/openapi.json").validator_url("none")),
    });
    config
        .app_data(docs)
        .service(resource("/openapi.json", "GET").route(web::get().to(openapi_json)))
        .service(resource("/docs", "GET").route(web::get().to(docs_root)))
        .service(resource("/docs/{file:.*}", "GET").route(web::get().to(docs_file)));
}

async fn openapi_json(docs: web::Data<Docs>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(docs.document.clone())
}

async fn docs_root() -> HttpResponse {
    HttpResponse::MovedPermanently()
        .insert_header((LOCATION, "/docs/"))
        .finish()
}

async fn docs_file(
    docs: web::Data<Docs>,
    file: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let served = utoipa_swagger_ui::serve(&file, docs.swagger.clone())
        .map_err(|error| ApiError::Core(CoreError::Internal(format!("Swagger UI: {error}"))))?
        .ok_or_else(|| {
            ApiError::Core(CoreError::NotFound(format!(
                "no file {file} in the API reference"
            )))
        })?;
    let mut response = HttpResponse::Ok();
    secure_page(&mut response, DOCS_POLICY)
        .content_type(served.content_type)
        .insert_header((CACHE_CONTROL, "no-cache"));
    if served.gzpipped {
        response.insert_header((CONTENT_ENCODING, "gzip"));
    }
    Ok(response.body(served.bytes.into_owned()))
}
