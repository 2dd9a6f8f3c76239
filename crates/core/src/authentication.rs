//! Who a presented API key makes the caller, and what a refused key costs: a log line, a
//! tallied audit event in the key's organisation (when it names a real one), and, once an
//! address has failed too often this minute, 429 instead of 401.

use std::net::IpAddr;
use std::time::Instant;

use secrecy::SecretString;

use crate::audit_tally::RefusalRecord;
use crate::audit_vocabulary::AuditAction;
use crate::callers::{AuthFailure, Caller, authenticate};
use crate::error::CoreError;
use crate::latch::Latch;

/// The caller a presented key belongs to; `client` is the address it came from.
pub async fn authenticate_caller(
    latch: &Latch,
    presented: &SecretString,
    client: Option<IpAddr>,
) -> Result<Caller, CoreError> {
    match authenticate(latch.store.as_ref(), &latch.keys, presented).await? {
        Ok(caller) => Ok(caller),
        Err(failure) => Err(refused(latch, client, failure)),
    }
}

fn refused(latch: &Latch, client: Option<IpAddr>, failure: AuthFailure) -> CoreError {
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
