//! The rule every measurement of a credential's health follows, case by case.

use chrono::{Duration, TimeZone, Utc};
use latch_store::{Credential, CredentialStatus, HealthCause};
use serde_json::json;
use uuid::Uuid;

use super::{Finding, HealthPolicy, Observation, next_state};

fn credential(status: CredentialStatus, auth_method: &str) -> Credential {
    let at = Utc.with_ymd_and_hms(2026, 11, 1, 8, 0, 0).unwrap();
    Credential {
        id: Uuid::now_v7(),
        org_id: Uuid::now_v7(),
        connector: "looker".into(),
        auth_method: auth_method.into(),
        name: "production".into(),
        description: None,
        config: json!({}),
        secret_ct: Vec::new(),
        secret_nonce: Vec::new(),
        wrapped_dek: Vec::new(),
        kek_id: "k1".into(),
        status,
        status_detail: Some("as saved".into()),
        identity: Some(json!({"email": "ana@example.com"})),
        validated_at: Some(at),
        version: 4,
        created_at: at,
        updated_at: at,
        oauth_app_id: None,
        status_since: at,
        consecutive_failures: 0,
        last_failure: None,
        last_token_at: None,
        checked_at: None,
    }
}

fn api_key(status: CredentialStatus) -> Credential {
    credential(status, "client_credentials")
}

fn observed(finding: Finding, cause: HealthCause, credential: &Credential) -> Observation {
    Observation {
        finding,
        cause,
        at: credential.status_since + Duration::hours(6),
        audit: None,
    }
}

fn trouble(detail: &str) -> Finding {
    Finding::Transient {
        detail: detail.into(),
    }
}

const POLICY: HealthPolicy = HealthPolicy { degraded_after: 3 };

#[test]
fn transient_trouble_counts_but_leaves_the_status_until_the_threshold() {
    let mut current = api_key(CredentialStatus::Valid);
    for count in 1..=2 {
        let state = next_state(
            &current,
            &observed(trouble("HTTP 503"), HealthCause::Token, &current),
            POLICY,
        );
        assert_eq!(state.status, CredentialStatus::Valid);
        assert_eq!(state.consecutive_failures, count);
        assert_eq!(state.last_failure.as_deref(), Some("HTTP 503"));
        assert_eq!(state.status_since, current.status_since, "the status held");
        current.consecutive_failures = state.consecutive_failures;
    }
    let obs = observed(trouble("timed out"), HealthCause::Checked, &current);
    let state = next_state(&current, &obs, POLICY);
    assert_eq!(state.status, CredentialStatus::Degraded);
    assert_eq!(state.status_detail.as_deref(), Some("timed out"));
    assert_eq!(state.status_since, obs.at);
    assert_eq!(
        state.validated_at, current.validated_at,
        "trouble proves nothing"
    );
}

#[test]
fn a_success_recovers_a_degraded_credential_and_forgets_its_failures() {
    let mut current = api_key(CredentialStatus::Degraded);
    current.consecutive_failures = 5;
    current.last_failure = Some("HTTP 502".into());
    let healthy = Finding::Healthy {
        detail: None,
        identity: None,
    };
    let obs = observed(healthy, HealthCause::Token, &current);
    let state = next_state(&current, &obs, POLICY);
    assert_eq!(state.status, CredentialStatus::Valid);
    assert_eq!(state.consecutive_failures, 0);
    assert_eq!(state.last_failure, None);
    assert_eq!(state.last_token_at, Some(obs.at));
    assert_eq!(
        state.validated_at,
        Some(obs.at),
        "a token counts as a check"
    );
    assert_eq!(state.status_since, obs.at);
    assert_eq!(state.identity, current.identity, "a token names no one new");
}

#[test]
fn a_refusal_invalidates_an_api_key_and_asks_a_consent_to_connect_again() {
    let refused = Finding::Refused {
        detail: "Looker refused the client ID / secret".into(),
    };
    let key = api_key(CredentialStatus::Valid);
    let state = next_state(
        &key,
        &observed(refused.clone(), HealthCause::Validated, &key),
        POLICY,
    );
    assert_eq!(state.status, CredentialStatus::Invalid);
    assert_eq!(state.identity, None);
    assert_eq!(state.consecutive_failures, 1);

    let grant = credential(CredentialStatus::Valid, "oauth_authorization_code");
    let state = next_state(
        &grant,
        &observed(refused, HealthCause::Token, &grant),
        POLICY,
    );
    assert_eq!(state.status, CredentialStatus::ReauthorizationRequired);
}

#[test]
fn trouble_reaching_the_upstream_leaves_a_refused_credential_refused() {
    for status in [
        CredentialStatus::Invalid,
        CredentialStatus::ReauthorizationRequired,
    ] {
        let mut current = api_key(status);
        current.consecutive_failures = 7;
        let state = next_state(
            &current,
            &observed(trouble("DNS"), HealthCause::Checked, &current),
            POLICY,
        );
        assert_eq!(state.status, status);
        assert_eq!(state.status_detail, current.status_detail);
        assert_eq!(state.consecutive_failures, 8);
    }
}

#[test]
fn a_threshold_of_one_degrades_at_the_first_failure() {
    let current = api_key(CredentialStatus::Unverified);
    let policy = HealthPolicy { degraded_after: 1 };
    let state = next_state(
        &current,
        &observed(trouble("HTTP 429"), HealthCause::Validated, &current),
        policy,
    );
    assert_eq!(state.status, CredentialStatus::Degraded);
}

#[test]
fn a_test_login_that_names_the_user_keeps_the_identity_it_found() {
    let current = api_key(CredentialStatus::Unverified);
    let identity = json!({"email": "bo@example.com"});
    let healthy = Finding::Healthy {
        detail: Some("logged in as bo@example.com".into()),
        identity: Some(identity.clone()),
    };
    let state = next_state(
        &current,
        &observed(healthy, HealthCause::Validated, &current),
        POLICY,
    );
    assert_eq!(state.status, CredentialStatus::Valid);
    assert_eq!(state.identity, Some(identity));
    assert_eq!(
        state.last_token_at, None,
        "a test login's token is not kept"
    );
    assert_eq!(
        state.status_detail.as_deref(),
        Some("logged in as bo@example.com")
    );
}
