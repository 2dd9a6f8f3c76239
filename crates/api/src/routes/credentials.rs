use actix_web::http::header::{ETAG, LOCATION};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::common::if_match;
use crate::auth::{Authenticated, Authorized, CredentialsWrite};
use crate::entity_tags::etag;
use crate::error::{ApiError, OutcomeView, Problem};
use crate::extract::JsonBody;
use crate::responses::{
    BadRequest, BodyRefused, InvalidFields, NotFound, PreconditionFailed, ScopeRefused,
};
use crate::state::AppState;
use latch_core::credentials::{
    self, CreateCredentialRequest, CredentialHealthView, CredentialList, CredentialView,
    ListCredentialsQuery, TestCredentialRequest, UpdateCredentialRequest,
};

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ValidateQuery {
    /// `false` saves without a test login (status `unverified`). Default `true`.
    pub validate: Option<bool>,
}

fn credential_response(
    mut response: actix_web::HttpResponseBuilder,
    view: CredentialView,
) -> HttpResponse {
    response
        .insert_header((ETAG, etag(view.version)))
        .json(view)
}

/// Saves a credential after a test login. The secret is encrypted and never returned.
///
/// The upstream is asked to log in first (Looker: `POST {host}/api/4.0/login`); only a
/// credential it accepts is saved, as `status: valid` with the identity it logs in as. Any
/// other outcome is refused with 422 and the outcome in the problem body; nothing is stored.
/// With `?validate=false` the credential is saved untested, as `status: unverified`.
#[utoipa::path(post, path = "/v1/credentials", operation_id = "create_credential", tag = "credentials",
    security(("api_key" = ["credentials:write"])),
    params(ValidateQuery),
    request_body(content = CreateCredentialRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Saved: `valid`, or `unverified` with `?validate=false`", body = CredentialView,
            headers(("Location" = String, description = "The new credential's URL"),
                    ("ETag" = String, description = "Its version, for `If-Match`"))),
        BodyRefused,
        ScopeRefused,
        (status = 409, description = "The name is taken in this organization", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Fields are not valid (every one listed in `errors`), or the test login failed (`type` ends in `credential_rejected`; see `outcome`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create(
    state: web::Data<AppState>,
    Authorized(caller, _): Authorized<CredentialsWrite>,
    query: web::Query<ValidateQuery>,
    body: JsonBody<CreateCredentialRequest>,
) -> Result<HttpResponse, ApiError> {
    let validate = query.validate.unwrap_or(true);
    let credential = credentials::create_credential(&state, &caller, body.0, validate).await?;
    let location = format!("/v1/credentials/{}", credential.id);
    let mut response = HttpResponse::Created();
    response.insert_header((LOCATION, location));
    Ok(credential_response(response, credential.into()))
}

/// Lists credentials, oldest first: what the "Authenticate" screen shows.
#[utoipa::path(get, path = "/v1/credentials", operation_id = "list_credentials", tag = "credentials",
    security(("api_key" = ["credentials:read"])),
    params(ListCredentialsQuery),
    responses(
        (status = 200, description = "One page of credentials", body = CredentialList),
        (status = 400, response = BadRequest),
        ScopeRefused,
    ))]
pub async fn list(
    state: web::Data<AppState>,
    Authenticated(caller): Authenticated,
    query: web::Query<ListCredentialsQuery>,
) -> Result<HttpResponse, ApiError> {
    let list = credentials::list_credentials(&state, &caller, query.into_inner()).await?;
    Ok(HttpResponse::Ok().json(list))
}

/// Reads one credential (never its secrets).
#[utoipa::path(get, path = "/v1/credentials/{id}", operation_id = "get_credential", tag = "credentials",
    security(("api_key" = ["credentials:read"])),
    params(("id" = Uuid, Path, description = "Credential id")),
    responses(
        (status = 200, description = "The credential", body = CredentialView,
            headers(("ETag" = String, description = "Its version, for `If-Match`"))),
        ScopeRefused,
        (status = 404, response = NotFound),
    ))]
pub async fn get(
    state: web::Data<AppState>,
    Authenticated(caller): Authenticated,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let credential = credentials::get_credential(&state, &caller, *id).await?;
    let view = credentials::view(&state, credential).await?;
    Ok(credential_response(HttpResponse::Ok(), view))
}

/// Renames, describes, reconfigures or rotates the secret of a credential.
///
/// A change of `config` or `secrets` is tested by a login first, as on creation, and refused
/// with 422 (nothing changed) when the upstream does not accept it; with `?validate=false` it
/// is saved untested and `status` goes back to `unverified`. With `If-Match` the change
/// applies only to that version.
///
/// A stored secret is only sent to the host it was saved for: a change of a config field the
/// connector's schema marks `x-binds-secret` (Looker: `api_host_url`) must carry `secrets`
/// too, or it is refused with 422 naming each secret field, before any upstream call.
#[utoipa::path(patch, path = "/v1/credentials/{id}", operation_id = "update_credential", tag = "credentials",
    security(("api_key" = ["credentials:write"])),
    params(("id" = Uuid, Path, description = "Credential id"),
           ("If-Match" = Option<String>, Header, description = "The ETag last read, such as `\"3\"`"),
           ValidateQuery),
    request_body(content = UpdateCredentialRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Changed", body = CredentialView,
            headers(("ETag" = String, description = "The new version"))),
        BodyRefused,
        ScopeRefused,
        (status = 404, response = NotFound),
        (status = 409, description = "The new name is taken, or a concurrent change won", body = Problem, content_type = "application/problem+json"),
        (status = 412, response = PreconditionFailed),
        (status = 422, description = "Fields are not valid (every one listed in `errors`; a new host without `secrets` names each secret field), or the test login of the new settings failed (see `outcome`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn update(
    state: web::Data<AppState>,
    Authorized(caller, _): Authorized<CredentialsWrite>,
    request: HttpRequest,
    id: web::Path<Uuid>,
    query: web::Query<ValidateQuery>,
    body: JsonBody<UpdateCredentialRequest>,
) -> Result<HttpResponse, ApiError> {
    let expected = if_match(&request)?;
    let validate = query.validate.unwrap_or(true);
    let credential =
        credentials::update_credential(&state, &caller, *id, expected, body.0, validate).await?;
    let view = credentials::view(&state, credential).await?;
    Ok(credential_response(HttpResponse::Ok(), view))
}

/// Deletes a credential and its encrypted secret.
#[utoipa::path(delete, path = "/v1/credentials/{id}", operation_id = "delete_credential", tag = "credentials",
    security(("api_key" = ["credentials:write"])),
    params(("id" = Uuid, Path, description = "Credential id"),
           ("If-Match" = Option<String>, Header, description = "Delete only at this version")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, response = BadRequest),
        ScopeRefused,
        (status = 404, response = NotFound),
        (status = 409, description = "Data sources or destinations use it (`in_use`): `used_by` lists them; point them to another credential or delete them first", body = Problem, content_type = "application/problem+json"),
        (status = 412, response = PreconditionFailed),
    ))]
pub async fn delete(
    state: web::Data<AppState>,
    Authenticated(caller): Authenticated,
    request: HttpRequest,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let expected = if_match(&request)?;
    credentials::delete_credential(&state, &caller, *id, expected).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Tests a saved credential by a login now, and stores what it found.
///
/// `status`, `status_detail`, `identity` and `validated_at` are updated whatever the outcome:
/// a credential Looker now refuses becomes `invalid`; one Looker cannot be reached for turns
/// `degraded` after `LATCH_HEALTH_DEGRADED_AFTER` failures in a row. This is health, not an
/// edit: `version` and the ETag stay, and so does the token jobs are handed.
#[utoipa::path(post, path = "/v1/credentials/{id}/validate", operation_id = "validate_credential", tag = "credentials",
    security(("api_key" = ["credentials:write"])),
    params(("id" = Uuid, Path, description = "Credential id")),
    responses(
        (status = 200, description = "Tested; the credential with its new status", body = CredentialView,
            headers(("ETag" = String, description = "Its version, unchanged by the test"))),
        ScopeRefused,
        (status = 404, response = NotFound),
        (status = 409, description = "The credential changed during the test; retry", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn validate(
    state: web::Data<AppState>,
    Authenticated(caller): Authenticated,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let credential = credentials::validate_credential(&state, &caller, *id).await?;
    let view = credentials::view(&state, credential).await?;
    Ok(credential_response(HttpResponse::Ok(), view))
}

/// A credential's health: its status, since when, its failures in a row, its last token and
/// its latest status changes (newest first), each with what measured it.
#[utoipa::path(get, path = "/v1/credentials/{id}/health", operation_id = "get_credential_health", tag = "credentials",
    security(("api_key" = ["credentials:read"])),
    params(("id" = Uuid, Path, description = "Credential id")),
    responses(
        (status = 200, description = "Its health", body = CredentialHealthView),
        ScopeRefused,
        (status = 404, response = NotFound),
    ))]
pub async fn health(
    state: web::Data<AppState>,
    Authenticated(caller): Authenticated,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let health = credentials::credential_health(&state, &caller, *id).await?;
    Ok(HttpResponse::Ok().json(health))
}

/// Tests an unsaved credential by a login (the form's "Test" button). Nothing is stored.
#[utoipa::path(post, path = "/v1/credentials/test", operation_id = "test_credential", tag = "credentials",
    security(("api_key" = ["credentials:write"])),
    request_body(content = TestCredentialRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The outcome of the test login, whatever it is", body = OutcomeView),
        BodyRefused,
        ScopeRefused,
        (status = 422, response = InvalidFields),
    ))]
pub async fn test(
    state: web::Data<AppState>,
    Authorized(caller, _): Authorized<CredentialsWrite>,
    body: JsonBody<TestCredentialRequest>,
) -> Result<HttpResponse, ApiError> {
    let outcome = credentials::test_credential(&state, &caller, body.0).await?;
    Ok(HttpResponse::Ok().json(outcome))
}
