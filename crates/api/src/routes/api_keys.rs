use actix_web::http::header::CACHE_CONTROL;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::{Admin, Authenticated, Authorized};
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::responses::{
    BadRequest, BodyRefused, InvalidFields, KeyRefused, NotFound, ScopeRefused,
};
use crate::state::AppState;
use latch_core::api_keys::{self, ApiKeyView, CreateApiKeyRequest, CreatedApiKey};
use latch_core::callers::Scope;
use latch_core::input::{one_more, page, paginate};

#[derive(Serialize, ToSchema)]
pub struct ApiKeyList {
    pub items: Vec<ApiKeyView>,
    pub next_cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page size, 1 to 200 (default 50).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 200)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Creates an API key. The key is in this response only.
#[utoipa::path(post, path = "/v1/api-keys", operation_id = "create_api_key", tag = "api-keys",
    security(("api_key" = ["admin"])),
    request_body(content = CreateApiKeyRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Created; store `key` now", body = CreatedApiKey,
            headers(("Cache-Control" = String, description = "`no-store`"))),
        BodyRefused,
        ScopeRefused,
        (status = 422, response = InvalidFields),
    ))]
pub async fn create(
    state: web::Data<AppState>,
    Authorized(caller, _): Authorized<Admin>,
    body: JsonBody<CreateApiKeyRequest>,
) -> Result<HttpResponse, ApiError> {
    let created = api_keys::create_api_key(state.store.as_ref(), &caller, body.0).await?;
    Ok(HttpResponse::Created()
        .insert_header((CACHE_CONTROL, "no-store"))
        .json(created))
}

/// Lists the organization's API keys (never the keys themselves).
#[utoipa::path(get, path = "/v1/api-keys", operation_id = "list_api_keys", tag = "api-keys",
    security(("api_key" = ["admin"])),
    params(PageQuery),
    responses(
        (status = 200, description = "One page of keys", body = ApiKeyList),
        (status = 400, response = BadRequest),
        ScopeRefused,
    ))]
pub async fn list(
    state: web::Data<AppState>,
    Authenticated(caller): Authenticated,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::Admin)?;
    let page = page(query.limit.as_deref(), query.cursor.as_deref())?;
    let rows = state
        .store
        .list_api_keys(caller.org_id, one_more(page))
        .await?;
    let (rows, next_cursor) = paginate(rows, page, |key| key.id);
    Ok(HttpResponse::Ok().json(ApiKeyList {
        items: rows.into_iter().map(ApiKeyView::from).collect(),
        next_cursor,
    }))
}

/// Revokes an API key at once.
#[utoipa::path(delete, path = "/v1/api-keys/{id}", operation_id = "revoke_api_key", tag = "api-keys",
    security(("api_key" = ["admin"])),
    params(("id" = Uuid, Path, description = "API key id")),
    responses(
        (status = 204, description = "Revoked"),
        ScopeRefused,
        (status = 404, response = NotFound),
    ))]
pub async fn revoke(
    state: web::Data<AppState>,
    Authenticated(caller): Authenticated,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    api_keys::revoke_api_key(&state, &caller, *id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The key a request was made with, as the console needs it: what it may do.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "key_id": "019a8f0e-5b7c-7d3e-9a41-6c2f8e1d4b20",
    "organization_id": "019a8f0e-4a6b-7c2d-8e3f-5a4b3c2d1e0f",
    "scopes": ["credentials:read", "credentials:write"]
}))]
pub struct WhoAmI {
    pub key_id: Uuid,
    pub organization_id: Uuid,
    pub scopes: Vec<Scope>,
    /// A job key's data source or destination: the only token route it may call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_source_id: Option<Uuid>,
}

/// Who is calling: the key's id, organization and scopes (`admin` holds every scope).
#[utoipa::path(get, path = "/v1/me", operation_id = "who_am_i", tag = "api-keys",
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The calling key", body = WhoAmI,
            headers(("Cache-Control" = String, description = "`no-store`"))),
        KeyRefused,
    ))]
pub async fn me(Authenticated(caller): Authenticated) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, "no-store"))
        .json(WhoAmI {
            key_id: caller.key_id,
            organization_id: caller.org_id,
            scopes: caller.scopes.to_vec(),
            data_source_id: caller.data_source_id,
        })
}
