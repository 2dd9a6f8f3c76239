use actix_web::{HttpResponse, web};
use latch_core::audit_trail::{AuditEventList, AuditQuery, list_audit_events};

use crate::auth::Authenticated;
use crate::error::ApiError;
use crate::responses::{BadRequest, ScopeRefused};
use crate::state::AppState;

/// The organization's audit trail, oldest first unless `order=newest`, filtered by action
/// and target when asked.
#[utoipa::path(get, path = "/v1/audit-events", operation_id = "list_audit_events", tag = "audit",
    security(("api_key" = ["admin"])),
    params(AuditQuery),
    responses(
        (status = 200, description = "One page of events", body = AuditEventList),
        (status = 400, response = BadRequest),
        ScopeRefused,
    ))]
pub async fn list(
    state: web::Data<AppState>,
    Authenticated(caller): Authenticated,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(list_audit_events(&state, &caller, &query).await?))
}
