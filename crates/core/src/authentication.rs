//! Who a presented API key makes the caller, and what a refused key costs: a log line, a
//! tallied audit event in the key's organisation (when it names a real one), and, once an
//! address has failed too often this minute, 429 instead of 401.

use std::net::IpAddr;
use std::time::Instant;

use secrecy::{ExposeSecret, SecretString};

use crate::audit_tally::RefusalRecord;
use crate::audit_vocabulary::AuditAction;
use crate::auth_limiter::KeyOwner;
use crate::callers::{AuthFailure, Caller, authenticate, presented_prefix, remembered};
use crate::error::CoreError;
use crate::latch::Latch;

/// The caller a presented key belongs to; `client` is the address it came from. A key this
/// replica verified before is answered from memory (the hot path, whatever the address); an
/// address over its failure limit gets nothing else, refused without a store read.
pub async fn authenticate_caller(
    latch: &Latch,
    presented: &SecretString,
    client: Option<IpAddr>,
) -> Result<Caller, CoreError> {
    if let Some(caller) = remembered(&latch.keys, presented) {
        return Ok(caller);
    }
    if let Some(client) = client
        && latch
            .auth_failures
            .over_limit(client, Instant::now())
            .is_some()
    {
        let prefix = presented_prefix(presented.expose_secret());
        let owner = prefix.and_then(|prefix| latch.auth_failures.owner_of(prefix));
        let failure = AuthFailure {
            org_id: owner.map(|owner| owner.org_id),
            key_id: owner.map(|owner| owner.key_id),
            prefix: prefix.map(str::to_string),
            reason: "address over its failure limit",
        };
        return Err(refused(latch, Some(client), failure));
    }
    match authenticate(latch.store.as_ref(), &latch.keys, presented).await? {
        Ok(caller) => Ok(caller),
        Err(failure) => Err(refused(latch, client, failure)),
    }
}

fn refused(latch: &Latch, client: Option<IpAddr>, failure: AuthFailure) -> CoreError {
    if let (Some(prefix), Some(org_id), Some(key_id)) =
        (&failure.prefix, failure.org_id, failure.key_id)
    {
        latch
            .auth_failures
            .note_owner(prefix, KeyOwner { org_id, key_id });
    }
    tracing::warn!(
        key_prefix = failure.prefix.as_deref().unwrap_or("-"),
        reason = failure.reason,
        client = %client.map(|ip| ip.to_string()).unwrap_or_else(|| "-".into()),
        "authentication failed"
    );
    latch.refusals.record(RefusalRecord {
        action: AuditAction::AuthenticationFailed,
        org_id: failure.org_id,
        key_id: failure.key_id,
        key_prefix: failure.prefix,
        client,
        reason: failure.reason,
        route: None,
        target_type: "api_key",
        target_id: failure.key_id.map(|id| id.to_string()),
    });
    if let Some(client) = client
        && let Some(retry_after) = latch.auth_failures.failed(client, Instant::now())
    {
        return CoreError::TooManyRequests {
            detail: format!(
                "too many failed authentications from this address; retry in {retry_after} seconds"
            ),
            retry_after,
        };
    }
    CoreError::Unauthorized("the API key is not valid or has been revoked".into())
}
