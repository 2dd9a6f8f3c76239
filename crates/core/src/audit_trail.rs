//! Reading the audit trail: an organization's events, filtered and paged.

use chrono::{DateTime, Utc};
use latch_store::{AuditEvent, AuditFilter};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::audit_vocabulary::{AuditAction, AuditOutcome};
use crate::callers::{Caller, Scope};
use crate::error::CoreError;
use crate::input::{one_more, page, paginate};
use crate::latch::Latch;

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

/// Which events, in which order, one page at a time.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Page size, 1 to 200 (default 50).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 200)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page (of the same filters and order).
    pub cursor: Option<String>,
    /// Only this action, such as `credential.created`.
    #[param(value_type = Option<AuditAction>)]
    pub action: Option<String>,
    /// Only events about this kind of target, such as `credential` or `data_source`.
    #[param(min_length = 1, max_length = 64)]
    pub target_type: Option<String>,
    /// Only events about this target: its id (an API key: its prefix).
    #[param(min_length = 1, max_length = 128)]
    pub target_id: Option<String>,
    /// `oldest` first (the default) or `newest` first.
    #[param(value_type = Option<AuditOrder>)]
    pub order: Option<String>,
}

/// The order of the audit trail.
#[derive(ToSchema)]
pub enum AuditOrder {
    #[schema(rename = "oldest")]
    Oldest,
    #[schema(rename = "newest")]
    Newest,
}

impl AuditQuery {
    fn filter(&self) -> Result<AuditFilter, CoreError> {
        let action = match self.action.as_deref() {
            None => None,
            Some(text) => Some(
                AuditAction::ALL
                    .iter()
                    .find(|action| action.as_str() == text)
                    .ok_or_else(|| {
                        CoreError::bad_request(
                            "action",
                            format!(
                                "is not an action; expected one of {}",
                                AuditAction::ALL
                                    .iter()
                                    .map(|action| action.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        )
                    })?
                    .as_str()
                    .to_string(),
            ),
        };
        let order = match self.order.as_deref() {
            None | Some("oldest") => AuditOrder::Oldest,
            Some("newest") => AuditOrder::Newest,
            Some(_) => {
                return Err(CoreError::bad_request(
                    "order",
                    "is not an order; expected `oldest` or `newest`",
                ));
            }
        };
        let bounded = |name: &str, value: &Option<String>, max: usize| match value {
            Some(text) if text.is_empty() || text.chars().count() > max => Err(
                CoreError::bad_request(name, format!("must be 1 to {max} characters")),
            ),
            other => Ok(other.clone()),
        };
        Ok(AuditFilter {
            action,
            target_type: bounded("target_type", &self.target_type, 64)?,
            target_id: bounded("target_id", &self.target_id, 128)?,
            newest_first: matches!(order, AuditOrder::Newest),
        })
    }
}

/// One page of the caller's organization's audit trail (scope `admin`).
pub async fn list_audit_events(
    state: &Latch,
    caller: &Caller,
    query: &AuditQuery,
) -> Result<AuditEventList, CoreError> {
    caller.require(Scope::Admin)?;
    let filter = query.filter()?;
    let page = page(query.limit.as_deref(), query.cursor.as_deref())?;
    let rows = state
        .store
        .list_audit_events(caller.org_id, &filter, one_more(page))
        .await?;
    let (rows, next_cursor) = paginate(rows, page, |event| event.id);
    Ok(AuditEventList {
        items: rows.into_iter().map(AuditEventView::from).collect(),
        next_cursor,
    })
}
