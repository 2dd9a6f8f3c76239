//! HTTP routes: thin handlers that extract, call a use case and render.

pub mod api_keys;
pub mod audit;
mod common;
pub mod connect_sessions;
pub mod connectors;
pub mod credentials;
pub mod data_sources;
pub mod docs;
pub mod health;
pub mod oauth_apps;
pub mod tokens;

use actix_web::{HttpRequest, HttpResponse, web};

use self::common::resource;
use crate::error::ApiError;
use latch_core::CoreError;

/// Registers every route (the spec and Swagger UI are registered beside them, at start-up).
pub fn configure(config: &mut web::ServiceConfig) {
    // The router tries routes in the order they are registered, comparing fixed paths as
    // text and matching a pattern with an id by regex: after the three probes (text), the
    // token routes, which jobs call all day, come before every other pattern.
    config
        .service(resource("/healthz", "GET").route(web::get().to(health::healthz)))
        .service(resource("/readyz", "GET").route(web::get().to(health::readyz)))
        .service(resource("/metrics", "GET").route(web::get().to(health::metrics)))
        .service(
            resource("/v1/credentials/{id}/token", "POST").route(web::post().to(tokens::issue)),
        )
        .configure(data_sources::sources::configure_token)
        .configure(data_sources::destinations::configure_token)
        .service(resource("/v1/me", "GET").route(web::get().to(api_keys::me)))
        .service(resource("/v1/connectors", "GET").route(web::get().to(connectors::list)))
        .service(resource("/v1/connectors/{id}", "GET").route(web::get().to(connectors::get)))
        .service(
            resource("/v1/credentials", "POST, GET")
                .route(web::post().to(credentials::create))
                .route(web::get().to(credentials::list)),
        )
        // Before `/v1/credentials/{id}`, which would take `test` for an id.
        .service(resource("/v1/credentials/test", "POST").route(web::post().to(credentials::test)))
        .service(
            resource("/v1/credentials/{id}/validate", "POST")
                .route(web::post().to(credentials::validate)),
        )
        .service(
            resource("/v1/credentials/{id}/reconnect", "POST")
                .route(web::post().to(connect_sessions::reconnect)),
        )
        .service(
            resource("/v1/credentials/{id}", "GET, PATCH, DELETE")
                .route(web::get().to(credentials::get))
                .route(web::patch().to(credentials::update))
                .route(web::delete().to(credentials::delete)),
        )
        .service(
            resource("/v1/api-keys", "POST, GET")
                .route(web::post().to(api_keys::create))
                .route(web::get().to(api_keys::list)),
        )
        .service(resource("/v1/api-keys/{id}", "DELETE").route(web::delete().to(api_keys::revoke)))
        .service(resource("/v1/audit-events", "GET").route(web::get().to(audit::list)))
        .service(
            resource("/v1/connect-sessions", "POST")
                .route(web::post().to(connect_sessions::create)),
        )
        .service(
            resource("/v1/connect-sessions/{id}", "GET")
                .route(web::get().to(connect_sessions::get)),
        )
        .service(
            resource("/v1/connect-sessions/{id}/cancel", "POST")
                .route(web::post().to(connect_sessions::cancel)),
        )
        .service(
            resource("/v1/connect", "GET").route(web::get().to(connect_sessions::connect_page)),
        )
        .service(
            resource("/v1/oauth-apps", "POST, GET")
                .route(web::post().to(oauth_apps::create))
                .route(web::get().to(oauth_apps::list)),
        )
        .service(
            resource("/v1/oauth-apps/{id}", "GET, PATCH, DELETE")
                .route(web::get().to(oauth_apps::get))
                .route(web::patch().to(oauth_apps::update))
                .route(web::delete().to(oauth_apps::delete)),
        )
        .service(
            resource("/v1/oauth/callback", "GET")
                .route(web::get().to(connect_sessions::shared_callback)),
        )
        .service(
            resource("/v1/oauth/callback/{app_id}", "GET")
                .route(web::get().to(connect_sessions::callback)),
        )
        .configure(data_sources::sources::configure)
        .configure(data_sources::destinations::configure);
}

/// Any path nothing else matched.
pub async fn not_found(request: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::Core(CoreError::NotFound(format!(
        "no route {} {}",
        request.method(),
        request.path()
    ))))
}
