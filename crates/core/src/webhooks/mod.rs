//! Webhooks: endpoints of an organization (admin-managed) that hear, signed as the Standard
//! Webhooks specification says, when a credential is made, deleted, breaks or mends, and when a
//! consent ends. The store writes each event into an outbox in the transaction of the change
//! that causes it ([`latch_store::outbox`]); the delivery loop ([`crate::worker::deliveries`])
//! sends it, at least once. The request and response types are in [`types`].

pub mod delivery;
pub mod signing;
mod types;

pub use types::*;

use latch_connector::FieldError;
use latch_connector::egress::HTTPS_PORTS;
use latch_store::outbox::EVENT_TYPES;
use latch_store::{
    Delivery, DeliveryAttempt, NewAuditEvent, NewWebhook, StoreError, Webhook, WebhookChanges,
};
use latch_vault::ExposeSecret;
use serde_json::{Value, json};
use url::Url;
use uuid::Uuid;
use validator::Validate;

use self::signing::{SigningSecrets, new_secret};
use crate::audit_vocabulary::{AuditAction, AuditOutcome};
use crate::callers::{Caller, Scope};
use crate::error::CoreError;
use crate::input::{field_errors, one_more, paginate};
use crate::latch::Latch;

fn not_found() -> CoreError {
    CoreError::no_such("webhook")
}

fn audit(caller: &Caller, action: AuditAction, id: Uuid, detail: Value) -> NewAuditEvent {
    NewAuditEvent {
        org_id: Some(caller.org_id),
        actor_key_id: Some(caller.key_id),
        action: action.into(),
        target_type: "webhook".into(),
        target_id: Some(id.to_string()),
        outcome: AuditOutcome::Success.into(),
        detail,
    }
}

pub(crate) fn view(webhook: &Webhook) -> WebhookView {
    WebhookView {
        id: webhook.id,
        url: webhook.url.clone(),
        description: webhook.description.clone(),
        events: webhook.event_types(),
        enabled: webhook.enabled,
        disabled_reason: webhook.disabled_reason.clone(),
        failing_since: webhook.failing_since,
        previous_secret_expires_at: webhook
            .previous_secret_until
            .filter(|until| *until > latch_store::now()),
        created_at: webhook.created_at,
        updated_at: webhook.updated_at,
        version: webhook.version,
    }
}

/// An endpoint's URL, checked against the egress policy connectors go through: https (http
/// only where the operator allows it), the https port or one the operator added, and no
/// address that is not public. Names are resolved, and checked again, at each delivery.
fn checked_url(state: &Latch, url: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    let parsed = match Url::parse(url) {
        Ok(parsed) => parsed,
        Err(error) => {
            errors.push(FieldError::new("url", format!("is not a URL: {error}")));
            return None;
        }
    };
    if !parsed.username().is_empty() || parsed.password().is_some() {
        errors.push(FieldError::new(
            "url",
            "must not carry a user name or password: events are signed instead",
        ));
        return None;
    }
    if let Err(error) = state.egress.policy().check_url(&parsed, HTTPS_PORTS) {
        errors.push(FieldError::new("url", format!("cannot be called: {error}")));
        return None;
    }
    Some(parsed.to_string())
}

/// The event types an endpoint hears, checked: `null` (or left out) is every one.
fn checked_events(
    events: Option<&Value>,
    errors: &mut Vec<FieldError>,
) -> Option<Option<Vec<String>>> {
    let list = match events {
        None | Some(Value::Null) => return Some(None),
        Some(Value::Array(list)) => list,
        Some(_) => {
            errors.push(FieldError::new(
                "events",
                "must be a list of event types, or null for every one",
            ));
            return None;
        }
    };
    if list.is_empty() {
        errors.push(FieldError::new(
            "events",
            "must name at least one event type; null hears every one",
        ));
        return None;
    }
    let mut chosen: Vec<String> = Vec::new();
    let mut bad = false;
    for (index, item) in list.iter().enumerate() {
        match item.as_str() {
            Some(name) if EVENT_TYPES.contains(&name) => {
                if !chosen.iter().any(|known| known == name) {
                    chosen.push(name.to_string());
                }
            }
            _ => {
                bad = true;
                errors.push(FieldError::new(
                    format!("events[{index}]"),
                    format!("is not an event type; one of: {}", EVENT_TYPES.join(", ")),
                ));
            }
        }
    }
    (!bad).then_some(Some(chosen))
}

async fn webhook_of(state: &Latch, caller: &Caller, id: Uuid) -> Result<Webhook, CoreError> {
    state
        .store
        .get_webhook(caller.org_id, id)
        .await?
        .ok_or_else(not_found)
}

/// Seals `secrets` under a fresh data key bound to the endpoint.
fn seal(
    state: &Latch,
    org_id: Uuid,
    id: Uuid,
    secrets: &SigningSecrets,
) -> Result<latch_store::SealedAppSecrets, CoreError> {
    state.secrets.seal_record(org_id, id, &secrets.to_fields())
}

/// The endpoint's signing secrets, opened.
pub fn open_secrets(state: &Latch, webhook: &Webhook) -> Result<SigningSecrets, CoreError> {
    let fields = state
        .secrets
        .open_record(webhook.org_id, webhook.id, &webhook.sealed())?;
    SigningSecrets::from_fields(&fields)
}

pub async fn create_webhook(
    state: &Latch,
    caller: &Caller,
    request: CreateWebhookRequest,
) -> Result<WebhookWithSecret, CoreError> {
    caller.require(Scope::Admin)?;
    let mut errors = field_errors(request.validate());
    let url = request
        .url
        .as_deref()
        .filter(|_| errors.iter().all(|error| error.field != "url"))
        .and_then(|url| checked_url(state, url, &mut errors));
    let events = checked_events(request.events.as_ref(), &mut errors);
    let (Some(url), Some(events), true) = (url, events, errors.is_empty()) else {
        return Err(CoreError::Validation(errors));
    };
    let id = Uuid::now_v7();
    let secret = new_secret()?;
    let secrets = SigningSecrets {
        current: secret.clone(),
        previous: None,
    };
    let new = NewWebhook {
        id,
        org_id: caller.org_id,
        url: url.clone(),
        description: request.description.filter(|text| !text.is_empty()),
        events: events.clone(),
        secrets: seal(state, caller.org_id, id, &secrets)?,
    };
    let event = audit(
        caller,
        AuditAction::WebhookCreated,
        id,
        json!({"url": url, "events": events}),
    );
    let webhook = state.store.insert_webhook(&new, &event).await?;
    Ok(WebhookWithSecret {
        webhook: view(&webhook),
        secret: secret.expose_secret().to_string(),
    })
}

pub async fn get_webhook(
    state: &Latch,
    caller: &Caller,
    id: Uuid,
) -> Result<WebhookView, CoreError> {
    caller.require(Scope::Admin)?;
    Ok(view(&webhook_of(state, caller, id).await?))
}

pub async fn list_webhooks(
    state: &Latch,
    caller: &Caller,
    query: PageQuery,
) -> Result<WebhookList, CoreError> {
    caller.require(Scope::Admin)?;
    let page = crate::input::page(query.limit.as_deref(), query.cursor.as_deref())?;
    let rows = state
        .store
        .list_webhooks(caller.org_id, one_more(page))
        .await?;
    let (rows, next_cursor) = paginate(rows, page, |webhook| webhook.id);
    Ok(WebhookList {
        items: rows.iter().map(view).collect(),
        next_cursor,
    })
}

fn changes_of(webhook: &Webhook) -> WebhookChanges {
    WebhookChanges {
        url: webhook.url.clone(),
        description: webhook.description.clone(),
        events: webhook.event_types(),
        enabled: webhook.enabled,
        secrets: None,
    }
}

async fn write_changes(
    state: &Latch,
    caller: &Caller,
    current: &Webhook,
    if_match: Option<i64>,
    changes: &WebhookChanges,
    event: &NewAuditEvent,
) -> Result<Webhook, CoreError> {
    match state
        .store
        .update_webhook(caller.org_id, current.id, current.version, changes, event)
        .await
    {
        Ok(webhook) => Ok(webhook),
        Err(StoreError::NotFound) => Err(not_found()),
        Err(StoreError::VersionMismatch { current }) => {
            Err(CoreError::changed_meanwhile("webhook", current, if_match))
        }
        Err(error) => Err(error.into()),
    }
}

pub async fn update_webhook(
    state: &Latch,
    caller: &Caller,
    id: Uuid,
    if_match: Option<i64>,
    request: UpdateWebhookRequest,
) -> Result<WebhookView, CoreError> {
    caller.require(Scope::Admin)?;
    let current = webhook_of(state, caller, id).await?;
    CoreError::check_version("webhook", current.version, if_match)?;
    let mut errors = field_errors(request.validate());
    let mut changes = changes_of(&current);
    let mut changed = Vec::new();
    if let Some(url) = request.url.as_deref()
        && errors.iter().all(|error| error.field != "url")
        && let Some(url) = checked_url(state, url, &mut errors)
    {
        changes.url = url;
        changed.push("url");
    }
    if let Some(description) = request.description {
        changes.description = Some(description).filter(|text| !text.is_empty());
        changed.push("description");
    }
    if request.events.is_some()
        && let Some(events) = checked_events(request.events.as_ref(), &mut errors)
    {
        changes.events = events;
        changed.push("events");
    }
    if let Some(enabled) = request.enabled {
        changes.enabled = enabled;
        changed.push("enabled");
    }
    if !errors.is_empty() {
        return Err(CoreError::Validation(errors));
    }
    if changed.is_empty() {
        return Err(CoreError::invalid_field(
            "body",
            "send at least one of `url`, `description`, `events`, `enabled`",
        ));
    }
    let event = audit(
        caller,
        AuditAction::WebhookUpdated,
        id,
        json!({"changed": changed, "from_version": current.version, "url": changes.url,
               "events": changes.events, "enabled": changes.enabled}),
    );
    let webhook = write_changes(state, caller, &current, if_match, &changes, &event).await?;
    Ok(view(&webhook))
}

pub async fn delete_webhook(
    state: &Latch,
    caller: &Caller,
    id: Uuid,
    if_match: Option<i64>,
) -> Result<(), CoreError> {
    caller.require(Scope::Admin)?;
    let event = audit(caller, AuditAction::WebhookDeleted, id, json!({}));
    match state
        .store
        .delete_webhook(caller.org_id, id, if_match, &event)
        .await
    {
        Ok(()) => Ok(()),
        Err(StoreError::NotFound) => Err(not_found()),
        Err(StoreError::VersionMismatch { current }) => {
            Err(CoreError::stale_version("webhook", current))
        }
        Err(error) => Err(error.into()),
    }
}

/// A new signing secret; the one before keeps signing beside it for the overlap (a day), so
/// receivers can move to the new one without missing an event.
pub async fn rotate_secret(
    state: &Latch,
    caller: &Caller,
    id: Uuid,
    if_match: Option<i64>,
) -> Result<WebhookWithSecret, CoreError> {
    caller.require(Scope::Admin)?;
    let current = webhook_of(state, caller, id).await?;
    CoreError::check_version("webhook", current.version, if_match)?;
    let old = open_secrets(state, &current)?;
    let secret = new_secret()?;
    let until = latch_store::now()
        + chrono::Duration::from_std(state.worker.webhooks.secret_overlap).unwrap_or_default();
    let secrets = SigningSecrets {
        current: secret.clone(),
        previous: Some(old.current),
    };
    let mut changes = changes_of(&current);
    changes.secrets = Some((seal(state, caller.org_id, id, &secrets)?, Some(until)));
    let event = audit(
        caller,
        AuditAction::WebhookSecretRotated,
        id,
        json!({"previous_secret_expires_at": until}),
    );
    let webhook = write_changes(state, caller, &current, if_match, &changes, &event).await?;
    Ok(WebhookWithSecret {
        webhook: view(&webhook),
        secret: secret.expose_secret().to_string(),
    })
}

fn delivery_view(delivery: Delivery, attempts: &[DeliveryAttempt]) -> DeliveryView {
    DeliveryView {
        attempts: attempts
            .iter()
            .filter(|attempt| attempt.delivery_id == delivery.id)
            .map(|attempt| DeliveryAttemptView {
                at: attempt.at,
                status_code: attempt.status_code,
                latency_ms: attempt.latency_ms,
                error: attempt.error.clone(),
                next_attempt_at: attempt.next_attempt_at,
            })
            .collect(),
        payload: serde_json::from_str(&delivery.payload).unwrap_or(Value::Null),
        id: delivery.id,
        event_id: delivery.event_id,
        event_type: delivery.event_type,
        state: delivery.state,
        next_attempt_at: delivery.next_attempt_at,
        created_at: delivery.created_at,
        finished_at: delivery.finished_at,
    }
}

/// Queues a `webhook.test` event for this endpoint alone (even when it is turned off, it is
/// sent once it is on again).
pub async fn test_webhook(
    state: &Latch,
    caller: &Caller,
    id: Uuid,
) -> Result<DeliveryView, CoreError> {
    caller.require(Scope::Admin)?;
    let webhook = webhook_of(state, caller, id).await?;
    let event = audit(caller, AuditAction::WebhookTested, id, json!({}));
    let delivery = state.store.queue_test_event(&webhook, &event).await?;
    Ok(delivery_view(delivery, &[]))
}

pub async fn list_deliveries(
    state: &Latch,
    caller: &Caller,
    id: Uuid,
    query: PageQuery,
) -> Result<DeliveryList, CoreError> {
    caller.require(Scope::Admin)?;
    webhook_of(state, caller, id).await?;
    let page = crate::input::page(query.limit.as_deref(), query.cursor.as_deref())?;
    let rows = state
        .store
        .list_deliveries(caller.org_id, id, one_more(page))
        .await?;
    let (rows, next_cursor) = paginate(rows, page, |delivery| delivery.id);
    let attempts = match (rows.last(), rows.first()) {
        (Some(first), Some(last)) => {
            state
                .store
                .delivery_attempts(caller.org_id, id, first.id, last.id)
                .await?
        }
        _ => Vec::new(),
    };
    Ok(DeliveryList {
        items: rows
            .into_iter()
            .map(|delivery| delivery_view(delivery, &attempts))
            .collect(),
        next_cursor,
    })
}

/// Makes a delivery due at once, whatever became of it, with a whole horizon of retries.
pub async fn retry_delivery(
    state: &Latch,
    caller: &Caller,
    id: Uuid,
    delivery_id: Uuid,
) -> Result<DeliveryView, CoreError> {
    caller.require(Scope::Admin)?;
    webhook_of(state, caller, id).await?;
    let event = audit(
        caller,
        AuditAction::WebhookDeliveryRetried,
        id,
        json!({"delivery_id": delivery_id}),
    );
    match state
        .store
        .retry_delivery(caller.org_id, id, delivery_id, latch_store::now(), &event)
        .await
    {
        Ok(delivery) => Ok(delivery_view(delivery, &[])),
        Err(StoreError::NotFound) => Err(CoreError::no_such("delivery")),
        Err(error) => Err(error.into()),
    }
}
