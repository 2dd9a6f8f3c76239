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
pub mod webhooks;

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};

use self::common::resource;
use crate::error::ApiError;
use latch_core::CoreError;

/// Every route, once: what the router registers (in this order, the order it tries them),
/// the `Allow` each resource answers a 405 with, and the operations of the OpenAPI document
/// ([`RoutesDoc`], from each handler's `#[utoipa::path]`) all come from this one table. A
/// unit test holds each handler's documented path and method to its row.
macro_rules! routes {
    ($($path:literal => [$($method:ident $($handler:ident)::+),+ $(,)?],)+) => {
        /// Registers every route (the spec and Swagger UI are registered beside them, at
        /// start-up).
        pub fn configure(config: &mut web::ServiceConfig) {
            $(
                let allow = concat!($(stringify!($method), ", ",)+).trim_end_matches(", ");
                config.service(
                    resource($path, allow)
                        $(.route(web::route().method(Method::$method).to($($handler)::+)))+,
                );
            )+
        }

        /// `(path, method)` of every route, as registered.
        pub const ROUTES: &[(&str, &str)] = &[$($(($path, stringify!($method)),)+)+];

        /// The operations of every route.
        #[derive(utoipa::OpenApi)]
        #[openapi(paths($($($($handler)::+,)+)+))]
        pub struct RoutesDoc;
    };
}

// After the three probes (compared as text), the token routes, which jobs call all day,
// come before every other pattern with an id (matched by regex).
routes! {
    "/healthz" => [GET health::healthz],
    "/readyz" => [GET health::readyz],
    "/metrics" => [GET health::metrics],
    "/v1/credentials/{id}/token" => [POST tokens::issue],
    "/v1/data-sources/{id}/token" => [POST data_sources::sources::token],
    "/v1/data-destinations/{id}/token" => [POST data_sources::destinations::token],
    "/v1/me" => [GET api_keys::me],
    "/v1/connectors" => [GET connectors::list],
    "/v1/connectors/{id}" => [GET connectors::get],
    "/v1/credentials" => [POST credentials::create, GET credentials::list],
    // Before `/v1/credentials/{id}`, which would take `test` for an id.
    "/v1/credentials/test" => [POST credentials::test],
    "/v1/credentials/{id}/validate" => [POST credentials::validate],
    "/v1/credentials/{id}/health" => [GET credentials::health],
    "/v1/credentials/{id}/reconnect" => [POST connect_sessions::reconnect],
    "/v1/credentials/{id}" => [
        GET credentials::get,
        PATCH credentials::update,
        DELETE credentials::delete,
    ],
    "/v1/api-keys" => [POST api_keys::create, GET api_keys::list],
    "/v1/api-keys/{id}" => [DELETE api_keys::revoke],
    "/v1/audit-events" => [GET audit::list],
    "/v1/connect-sessions" => [POST connect_sessions::create],
    "/v1/connect-sessions/{id}" => [GET connect_sessions::get],
    "/v1/connect-sessions/{id}/cancel" => [POST connect_sessions::cancel],
    "/v1/connect" => [GET connect_sessions::connect_page],
    "/v1/oauth-apps" => [POST oauth_apps::create, GET oauth_apps::list],
    "/v1/oauth-apps/{id}" => [
        GET oauth_apps::get,
        PATCH oauth_apps::update,
        DELETE oauth_apps::delete,
    ],
    "/v1/webhooks" => [POST webhooks::create, GET webhooks::list],
    "/v1/webhooks/{id}" => [
        GET webhooks::get,
        PATCH webhooks::update,
        DELETE webhooks::delete,
    ],
    "/v1/webhooks/{id}/rotate-secret" => [POST webhooks::rotate_secret],
    "/v1/webhooks/{id}/test" => [POST webhooks::test],
    "/v1/webhooks/{id}/deliveries" => [GET webhooks::deliveries],
    "/v1/webhooks/{id}/deliveries/{delivery_id}/retry" => [POST webhooks::retry],
    "/v1/oauth/callback" => [GET connect_sessions::shared_callback],
    "/v1/oauth/callback/{app_id}" => [GET connect_sessions::callback],
    "/v1/data-sources" => [
        POST data_sources::sources::create,
        GET data_sources::sources::list,
    ],
    "/v1/data-sources/{id}" => [
        GET data_sources::sources::get,
        PATCH data_sources::sources::update,
        DELETE data_sources::sources::delete,
    ],
    "/v1/data-sources/{id}/job-keys" => [
        POST data_sources::sources::create_job_key,
        GET data_sources::sources::list_job_keys,
    ],
    "/v1/data-sources/{id}/job-keys/{key_id}" => [DELETE data_sources::sources::revoke_job_key],
    "/v1/data-destinations" => [
        POST data_sources::destinations::create,
        GET data_sources::destinations::list,
    ],
    "/v1/data-destinations/{id}" => [
        GET data_sources::destinations::get,
        PATCH data_sources::destinations::update,
        DELETE data_sources::destinations::delete,
    ],
    "/v1/data-destinations/{id}/job-keys" => [
        POST data_sources::destinations::create_job_key,
        GET data_sources::destinations::list_job_keys,
    ],
    "/v1/data-destinations/{id}/job-keys/{key_id}" => [
        DELETE data_sources::destinations::revoke_job_key,
    ],
}

/// Any path nothing else matched.
pub async fn not_found(request: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::Core(CoreError::NotFound(format!(
        "no route {} {}",
        request.method(),
        request.path()
    ))))
}

#[cfg(test)]
mod tests {
    use utoipa::OpenApi;

    use super::*;

    #[test]
    fn every_route_is_documented_at_its_path_with_its_method_and_nothing_else_is() {
        let document = RoutesDoc::openapi();
        let mut documented: Vec<(String, String)> = Vec::new();
        let paths = serde_json::to_value(&document.paths).unwrap();
        for (path, item) in paths.as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                documented.push((path.clone(), method.to_uppercase()));
            }
        }
        let mut registered: Vec<(String, String)> = ROUTES
            .iter()
            .map(|(path, method)| (path.to_string(), method.to_string()))
            .collect();
        documented.sort();
        registered.sort();
        assert_eq!(documented, registered);
    }
}
