//! Denied authorizations in the audit trail: a key without the scope a route needs (403), a
//! job key reaching past its data source, and ids of another organisation's records asked
//! for (404, which tells the caller nothing). Tallied like issuances, off the response path.

use std::net::IpAddr;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};
use latch_store::OwnedTable;
use uuid::Uuid;

use latch_core::audit_tally::RefusalRecord;
use latch_core::audit_vocabulary::AuditAction;

use crate::auth::{bearer_token, is_job_route};
use crate::state::AppState;

/// Looks at a response: a 403 or a 404 answered to an authenticated caller is tallied.
pub fn note_refusal(request: &HttpRequest, status: StatusCode) {
    if status != StatusCode::FORBIDDEN && status != StatusCode::NOT_FOUND {
        return;
    }
    let Some(state) = request.app_data::<web::Data<AppState>>().cloned() else {
        return;
    };
    let Some(caller) = bearer_token(request).and_then(|key| state.keys.caller_of(key)) else {
        return;
    };
    let route = request.match_pattern();
    let client = request.peer_addr().map(|address| address.ip());
    let target = route.as_deref().and_then(|route| {
        let id: Uuid = request.match_info().get("id")?.parse().ok()?;
        Some((owned_table(route)?, id))
    });
    let denied = |reason: &'static str, target: Option<(OwnedTable, Uuid)>| RefusalRecord {
        action: AuditAction::AuthorizationDenied,
        org_id: Some(caller.org_id),
        key_id: Some(caller.key_id),
        key_prefix: None,
        client,
        reason,
        route: route.clone(),
        target_type: target.map_or("route", |(table, _)| target_type(table)),
        target_id: target.map(|(_, id)| id.to_string()),
    };
    if status == StatusCode::FORBIDDEN {
        state.refusals.record(denied("missing scope", target));
        return;
    }
    if let Some(bound) = caller.data_source_id {
        let own_token_route =
            route.as_deref().is_some_and(is_job_route) && target.is_some_and(|(_, id)| id == bound);
        if !own_token_route {
            state
                .refusals
                .record(denied("job key outside its data source", target));
        }
        return;
    }
    let Some((table, id)) = target else {
        return;
    };
    let probe = denied("another organization's id", target);
    tokio::spawn(async move {
        match state.store.owner_org(table, id).await {
            Ok(Some(owner)) if owner != caller.org_id => {
                state.refusals.record(probed(owner, client, &probe));
                state.refusals.record(probe);
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "could not check the owner of a missed id"),
        }
    });
}

/// What the owner of a probed record hears: that one of its ids was asked for from another
/// organisation, and from where; not which key, which belongs to the other organisation.
fn probed(owner: Uuid, client: Option<IpAddr>, probe: &RefusalRecord) -> RefusalRecord {
    RefusalRecord {
        org_id: Some(owner),
        key_id: None,
        reason: "asked for from another organization",
        client,
        ..probe.clone()
    }
}

fn owned_table(route: &str) -> Option<OwnedTable> {
    let rest = route.strip_prefix("/v1/")?;
    let collection = rest.split('/').next()?;
    match collection {
        "credentials" => Some(OwnedTable::Credentials),
        "data-sources" | "data-destinations" => Some(OwnedTable::DataSources),
        "api-keys" => Some(OwnedTable::ApiKeys),
        "oauth-apps" => Some(OwnedTable::OAuthApps),
        _ => None,
    }
}

fn target_type(table: OwnedTable) -> &'static str {
    match table {
        OwnedTable::Credentials => "credential",
        OwnedTable::DataSources => "data_source",
        OwnedTable::ApiKeys => "api_key",
        OwnedTable::OAuthApps => "oauth_app",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_with_an_id_name_the_table_the_id_belongs_to() {
        assert_eq!(
            owned_table("/v1/credentials/{id}/token"),
            Some(OwnedTable::Credentials)
        );
        assert_eq!(
            owned_table("/v1/data-destinations/{id}"),
            Some(OwnedTable::DataSources)
        );
        assert_eq!(owned_table("/v1/api-keys/{id}"), Some(OwnedTable::ApiKeys));
        assert_eq!(owned_table("/v1/connectors/{id}"), None);
        assert_eq!(owned_table("/healthz"), None);
    }
}
