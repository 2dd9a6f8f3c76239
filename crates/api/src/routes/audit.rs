use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use latch_store::AuditEvent;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::api_keys::PageQuery;
use crate::auth::Authenticated;
use crate::error::ApiError;
use crate::responses::{BadRequest, ScopeRefused};
use crate::state::AppState;
use latch_core::audit_vocabulary::{AuditAction, AuditOutcome};
use latch_core::callers::Scope;
use latch_core::input::{one_more, page, paginate};

/// Something that happened, who did it and how it ended. Never holds a secret or token.
#[derive(Serialize, ToSchema)]
pub struct AuditEventView {
    pub id: Uuid,
    pub at: DateTime<Utc>,
    /// The API key that acted, when one did.
    pub actor_key_id: Option<Uuid>,
    #[schema(value_type = AuditAction, example = "credential.created")]
    pub action: String,
    #[schema(example = "credential")]
    pub target_type: String,
    pub target_id: Option<String>,
    #[schema(value_type = AuditOutcome, example = "success")]
    pub outcome: String,
    #[schema(value_type = Object)]
    pub detail: Value,
}

impl From<AuditEvent> for AuditEventView {
    fn from(event: AuditEvent) -> Self {
        Self {
            id: event.id,
            at: event.at,
            actor_key_id: event.actor_key_id,
            action: event.action,
            target_type: event.target_type,
            target_id: event.target_id,
            outcome: event.outcome,
            detail: event.detail,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AuditEventList {
    pub items: Vec<AuditEventView>,
    pub next_cursor: Option<String>,
}

/// The organization's audit trail, oldest first.
#[utoipa::path(get, path = "/v1/audit-events", tag = "audit",
    security(("api_key" = ["admin"])),
    params(PageQuery),
    responses(
        (status = 200, description = "One page of events", body = AuditEventList),
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
        .list_audit_events(caller.org_id, one_more(page))
        .await?;
    let (rows, next_cursor) = paginate(rows, page, |event| event.id);
    Ok(HttpResponse::Ok().json(AuditEventList {
        items: rows.into_iter().map(AuditEventView::from).collect(),
        next_cursor,
    }))
}
