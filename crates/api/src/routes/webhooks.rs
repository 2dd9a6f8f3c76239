use actix_web::http::header::{ETAG, LOCATION};
use actix_web::{HttpRequest, HttpResponse, web};
use uuid::Uuid;

use super::common::if_match;
use crate::auth::{Admin, Authorized};
use crate::entity_tags::etag;
use crate::error::{ApiError, Problem};
use crate::extract::JsonBody;
use crate::responses::{
    BadRequest, BodyRefused, InvalidFields, NotFound, PreconditionFailed, ScopeRefused,
};
use crate::state::AppState;
use latch_core::webhooks::{
    self, CreateWebhookRequest, DeliveryList, DeliveryView, PageQuery, UpdateWebhookRequest,
    WebhookList, WebhookView, WebhookWithSecret,
};

fn webhook_response(
    mut response: actix_web::HttpResponseBuilder,
    view: WebhookView,
) -> HttpResponse {
    response
        .insert_header((ETAG, etag(view.version)))
        .json(view)
}

/// Adds a webhook endpoint (admin). The answer holds its signing secret, shown this once.
///
/// Events are POSTed as JSON (`{"type", "timestamp", "data"}`) and signed as the Standard
/// Webhooks specification says: verify `webhook-signature` over `webhook-id`,
/// `webhook-timestamp` and the body with the secret, using any Standard Webhooks library.
/// Delivery is at least once: drop repeats by `webhook-id`.
#[utoipa::path(post, path = "/v1/webhooks", operation_id = "create_webhook", tag = "webhooks",
    security(("api_key" = ["admin"])),
    request_body(content = CreateWebhookRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Added: keep `secret`, it is not shown again", body = WebhookWithSecret,
            headers(("Location" = String, description = "The endpoint's URL"),
                    ("ETag" = String, description = "Its version, for `If-Match`"))),
        BodyRefused,
        ScopeRefused,
        (status = 422, response = InvalidFields),
    ))]
pub async fn create(
    state: web::Data<AppState>,
    Authorized(caller, _): Authorized<Admin>,
    body: JsonBody<CreateWebhookRequest>,
) -> Result<HttpResponse, ApiError> {
    let created = webhooks::create_webhook(&state, &caller, body.0).await?;
    Ok(HttpResponse::Created()
        .insert_header((LOCATION, format!("/v1/webhooks/{}", created.webhook.id)))
        .insert_header((ETAG, etag(created.webhook.version)))
        .json(created))
}

/// Lists the organization's webhook endpoints, oldest first (admin).
#[utoipa::path(get, path = "/v1/webhooks", operation_id = "list_webhooks", tag = "webhooks",
    security(("api_key" = ["admin"])),
    params(PageQuery),
    responses(
        (status = 200, description = "One page of endpoints", body = WebhookList),
        (status = 400, response = BadRequest),
        ScopeRefused,
    ))]
pub async fn list(
    state: web::Data<AppState>,
    Authorized(caller, _): Authorized<Admin>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let list = webhooks::list_webhooks(&state, &caller, query.into_inner()).await?;
    Ok(HttpResponse::Ok().json(list))
}

/// Reads one webhook endpoint (admin).
#[utoipa::path(get, path = "/v1/webhooks/{id}", operation_id = "get_webhook", tag = "webhooks",
    security(("api_key" = ["admin"])),
    params(("id" = Uuid, Path, description = "Webhook id")),
    responses(
        (status = 200, description = "The endpoint", body = WebhookView,
            headers(("ETag" = String, description = "Its version, for `If-Match`"))),
        ScopeRefused,
        (status = 404, response = NotFound),
    ))]
pub async fn get(
    state: web::Data<AppState>,
    Authorized(caller, _): Authorized<Admin>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let view = webhooks::get_webhook(&state, &caller, *id).await?;
    Ok(webhook_response(HttpResponse::Ok(), view))
}

/// Changes an endpoint's URL, description or events, or turns it off or on (admin). Turned
/// on again, it is sent what waited while it was off.
#[utoipa::path(patch, path = "/v1/webhooks/{id}", operation_id = "update_webhook", tag = "webhooks",
    security(("api_key" = ["admin"])),
    params(("id" = Uuid, Path, description = "Webhook id"),
           ("If-Match" = Option<String>, Header, description = "The ETag last read, such as `\"3\"`")),
    request_body(content = UpdateWebhookRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Changed", body = WebhookView,
            headers(("ETag" = String, description = "The new version"))),
        BodyRefused,
        ScopeRefused,
        (status = 404, response = NotFound),
        (status = 409, description = "A concurrent change won", body = Problem, content_type = "application/problem+json"),
        (status = 412, response = PreconditionFailed),
        (status = 422, response = InvalidFields),
    ))]
pub async fn update(
    state: web::Data<AppState>,
    Authorized(caller, _): Authorized<Admin>,
    request: HttpRequest,
    id: web::Path<Uuid>,
    body: JsonBody<UpdateWebhookRequest>,
) -> Result<HttpResponse, ApiError> {
    let expected = if_match(&request)?;
    let view = webhooks::update_webhook(&state, &caller, *id, expected, body.0).await?;
    Ok(webhook_response(HttpResponse::Ok(), view))
}

/// Deletes an endpoint with its deliveries (admin).
#[utoipa::path(delete, path = "/v1/webhooks/{id}", operation_id = "delete_webhook", tag = "webhooks",
    security(("api_key" = ["admin"])),
    params(("id" = Uuid, Path, description = "Webhook id"),
           ("If-Match" = Option<String>, Header, description = "Delete only at this version")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, response = BadRequest),
        ScopeRefused,
        (status = 404, response = NotFound),
        (status = 412, response = PreconditionFailed),
    ))]
pub async fn delete(
    state: web::Data<AppState>,
    Authorized(caller, _): Authorized<Admin>,
    request: HttpRequest,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let expected = if_match(&request)?;
    webhooks::delete_webhook(&state, &caller, *id, expected).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Makes a new signing secret, shown this once (admin). For the next 24 hours every event is
/// signed with both, so receivers move to the new one without missing an event.
#[utoipa::path(post, path = "/v1/webhooks/{id}/rotate-secret", operation_id = "rotate_webhook_secret", tag = "webhooks",
    security(("api_key" = ["admin"])),
    params(("id" = Uuid, Path, description = "Webhook id"),
           ("If-Match" = Option<String>, Header, description = "Rotate only at this version")),
    responses(
        (status = 200, description = "Rotated: keep `secret`, it is not shown again", body = WebhookWithSecret,
            headers(("ETag" = String, description = "The new version"))),
        (status = 400, response = BadRequest),
        ScopeRefused,
        (status = 404, response = NotFound),
        (status = 409, description = "A concurrent change won", body = Problem, content_type = "application/problem+json"),
        (status = 412, response = PreconditionFailed),
    ))]
pub async fn rotate_secret(
    state: web::Data<AppState>,
    Authorized(caller, _): Authorized<Admin>,
    request: HttpRequest,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let expected = if_match(&request)?;
    let rotated = webhooks::rotate_secret(&state, &caller, *id, expected).await?;
    Ok(HttpResponse::Ok()
        .insert_header((ETAG, etag(rotated.webhook.version)))
        .json(rotated))
}

/// Sends the endpoint a `webhook.test` event (admin); its delivery shows under
/// `/deliveries`.
#[utoipa::path(post, path = "/v1/webhooks/{id}/test", operation_id = "test_webhook", tag = "webhooks",
    security(("api_key" = ["admin"])),
    params(("id" = Uuid, Path, description = "Webhook id")),
    responses(
        (status = 202, description = "Queued: sent within a second or so", body = DeliveryView),
        ScopeRefused,
        (status = 404, response = NotFound),
    ))]
pub async fn test(
    state: web::Data<AppState>,
    Authorized(caller, _): Authorized<Admin>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let delivery = webhooks::test_webhook(&state, &caller, *id).await?;
    Ok(HttpResponse::Accepted().json(delivery))
}

/// Lists the endpoint's deliveries, newest first, each with every attempt: the endpoint's
/// answer, how long it took and when the next try is due (admin).
#[utoipa::path(get, path = "/v1/webhooks/{id}/deliveries", operation_id = "list_webhook_deliveries", tag = "webhooks",
    security(("api_key" = ["admin"])),
    params(("id" = Uuid, Path, description = "Webhook id"), PageQuery),
    responses(
        (status = 200, description = "One page of deliveries", body = DeliveryList),
        (status = 400, response = BadRequest),
        ScopeRefused,
        (status = 404, response = NotFound),
    ))]
pub async fn deliveries(
    state: web::Data<AppState>,
    Authorized(caller, _): Authorized<Admin>,
    id: web::Path<Uuid>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let list = webhooks::list_deliveries(&state, &caller, *id, query.into_inner()).await?;
    Ok(HttpResponse::Ok().json(list))
}

/// Sends a delivery again at once, whatever became of it, with a new horizon of retries
/// (admin).
#[utoipa::path(post, path = "/v1/webhooks/{id}/deliveries/{delivery_id}/retry", operation_id = "retry_webhook_delivery", tag = "webhooks",
    security(("api_key" = ["admin"])),
    params(("id" = Uuid, Path, description = "Webhook id"),
           ("delivery_id" = Uuid, Path, description = "Delivery id")),
    responses(
        (status = 202, description = "Due again", body = DeliveryView),
        ScopeRefused,
        (status = 404, response = NotFound),
    ))]
pub async fn retry(
    state: web::Data<AppState>,
    Authorized(caller, _): Authorized<Admin>,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (id, delivery_id) = path.into_inner();
    let delivery = webhooks::retry_delivery(&state, &caller, id, delivery_id).await?;
    Ok(HttpResponse::Accepted().json(delivery))
}
