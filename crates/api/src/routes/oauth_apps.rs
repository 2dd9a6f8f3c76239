use actix_web::http::header::{ETAG, LOCATION};
use actix_web::{HttpRequest, HttpResponse, web};
use uuid::Uuid;

use super::common::if_match;
use crate::auth::{Admin, Authenticated, Authorized};
use crate::entity_tags::etag;
use crate::error::{ApiError, Problem};
use crate::extract::JsonBody;
use crate::responses::{
    BadRequest, BodyRefused, InvalidFields, NotFound, PreconditionFailed, ScopeRefused,
};
use crate::state::AppState;
use latch_core::oauth_apps::{
    self, CreateOAuthAppRequest, ListOAuthAppsQuery, OAuthAppList, OAuthAppView,
    UpdateOAuthAppRequest,
};

fn app_response(mut response: actix_web::HttpResponseBuilder, view: OAuthAppView) -> HttpResponse {
    response
        .insert_header((ETAG, etag(view.version)))
        .json(view)
}

/// Registers an OAuth client app of your organization (admin).
///
/// Give the answer's `redirect_uri` to the upstream's admin, who registers it for the app's
/// client (Looker: the OAuth client app's redirect URI). The upstream then sends consents
/// given through this app back to this app alone, so they can only land in your
/// organization. Connect sessions name the app (`oauth_app_id`).
#[utoipa::path(post, path = "/v1/oauth-apps", operation_id = "create_oauth_app", tag = "oauth-apps",
    security(("api_key" = ["admin"])),
    request_body(content = CreateOAuthAppRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Registered: give `redirect_uri` to the upstream's admin", body = OAuthAppView,
            headers(("Location" = String, description = "The app's URL"),
                    ("ETag" = String, description = "Its version, for `If-Match`"))),
        BodyRefused,
        ScopeRefused,
        (status = 409, description = "The name is taken in this organization", body = Problem, content_type = "application/problem+json"),
        (status = 422, response = InvalidFields),
    ))]
pub async fn create(
    state: web::Data<AppState>,
    Authorized(caller, _): Authorized<Admin>,
    body: JsonBody<CreateOAuthAppRequest>,
) -> Result<HttpResponse, ApiError> {
    let view = oauth_apps::create_oauth_app(&state, &caller, body.0).await?;
    let mut response = HttpResponse::Created();
    response.insert_header((LOCATION, format!("/v1/oauth-apps/{}", view.id)));
    Ok(app_response(response, view))
}

/// Lists the organization's OAuth apps, oldest first.
#[utoipa::path(get, path = "/v1/oauth-apps", operation_id = "list_oauth_apps", tag = "oauth-apps",
    security(("api_key" = ["credentials:read"])),
    params(ListOAuthAppsQuery),
    responses(
        (status = 200, description = "One page of apps", body = OAuthAppList),
        (status = 400, response = BadRequest),
        ScopeRefused,
    ))]
pub async fn list(
    state: web::Data<AppState>,
    Authenticated(caller): Authenticated,
    query: web::Query<ListOAuthAppsQuery>,
) -> Result<HttpResponse, ApiError> {
    let list = oauth_apps::list_oauth_apps(&state, &caller, query.into_inner()).await?;
    Ok(HttpResponse::Ok().json(list))
}

/// Reads one OAuth app.
#[utoipa::path(get, path = "/v1/oauth-apps/{id}", operation_id = "get_oauth_app", tag = "oauth-apps",
    security(("api_key" = ["credentials:read"])),
    params(("id" = Uuid, Path, description = "OAuth app id")),
    responses(
        (status = 200, description = "The app", body = OAuthAppView,
            headers(("ETag" = String, description = "Its version, for `If-Match`"))),
        ScopeRefused,
        (status = 404, response = NotFound),
    ))]
pub async fn get(
    state: web::Data<AppState>,
    Authenticated(caller): Authenticated,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let view = oauth_apps::get_oauth_app(&state, &caller, *id).await?;
    Ok(app_response(HttpResponse::Ok(), view))
}

/// Renames or describes an app, replaces its secrets, changes its settings while no
/// credential was made through it, or moves an app made from credentials that predate apps
/// to its own redirect URI (admin).
#[utoipa::path(patch, path = "/v1/oauth-apps/{id}", operation_id = "update_oauth_app", tag = "oauth-apps",
    security(("api_key" = ["admin"])),
    params(("id" = Uuid, Path, description = "OAuth app id"),
           ("If-Match" = Option<String>, Header, description = "The ETag last read, such as `\"3\"`")),
    request_body(content = UpdateOAuthAppRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Changed", body = OAuthAppView,
            headers(("ETag" = String, description = "The new version"))),
        BodyRefused,
        ScopeRefused,
        (status = 404, response = NotFound),
        (status = 409, description = "The new name is taken, credentials made through the app keep its settings (named in `detail`), or a concurrent change won", body = Problem, content_type = "application/problem+json"),
        (status = 412, response = PreconditionFailed),
        (status = 422, response = InvalidFields),
    ))]
pub async fn update(
    state: web::Data<AppState>,
    Authorized(caller, _): Authorized<Admin>,
    request: HttpRequest,
    id: web::Path<Uuid>,
    body: JsonBody<UpdateOAuthAppRequest>,
) -> Result<HttpResponse, ApiError> {
    let expected = if_match(&request)?;
    let view = oauth_apps::update_oauth_app(&state, &caller, *id, expected, body.0).await?;
    Ok(app_response(HttpResponse::Ok(), view))
}

/// Deletes an app no credential was made through, with its pending connect sessions (admin).
#[utoipa::path(delete, path = "/v1/oauth-apps/{id}", operation_id = "delete_oauth_app", tag = "oauth-apps",
    security(("api_key" = ["admin"])),
    params(("id" = Uuid, Path, description = "OAuth app id"),
           ("If-Match" = Option<String>, Header, description = "Delete only at this version")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, response = BadRequest),
        ScopeRefused,
        (status = 404, response = NotFound),
        (status = 409, description = "Credentials were made through the app (named in `detail`): delete them or reconnect them through another app first", body = Problem, content_type = "application/problem+json"),
        (status = 412, response = PreconditionFailed),
    ))]
pub async fn delete(
    state: web::Data<AppState>,
    Authorized(caller, _): Authorized<Admin>,
    request: HttpRequest,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let expected = if_match(&request)?;
    oauth_apps::delete_oauth_app(&state, &caller, *id, expected).await?;
    Ok(HttpResponse::NoContent().finish())
}
