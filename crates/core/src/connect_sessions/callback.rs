//! The end of a consent: the browser comes back with the state and a code, which Latch trades
//! for tokens and saves as a credential (or as a reconnected credential's new grant).
//!
//! A session is claimed in the store before its code is traded, so of several identical
//! callbacks (a double click, a browser's retry) exactly one makes the exchange; the others
//! are told the connection is being completed and touch nothing.

use std::time::Duration;

use chrono::{DateTime, Utc};
use latch_connector::{Fields, ValidationStatus};
use latch_store::{ConnectSession, ConnectSessionStatus, Credential, OAuthApp, now};
use latch_vault::{Purpose, RecordContext, Sealed};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::json;
use url::Url;
use uuid::Uuid;

use super::failure::CallbackError;
use super::grant::{Granted, save, save_reconnect};
use super::{audit, state_hash};
use crate::audit_vocabulary::{AuditAction, AuditOutcome};
use crate::broker::lifetime_of;
use crate::error::CoreError;
use crate::latch::Latch;
use crate::oauth_apps::{redirect_uri, shared_redirect_is_unambiguous};
use crate::secrets::open_text;

/// How long a claimed session may take to trade its code and save the credential: the code
/// exchange and the identity call (each within the egress client's 15 s), a logout when the
/// identity fails, and the save. A claim older than this belongs to a callback that died.
pub const CLAIM_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a duplicate callback waits for the one that claimed the session, so that the
/// page a double click leaves in the browser says how the connection ended.
const DUPLICATE_WAIT: Duration = Duration::from_secs(20);
const DUPLICATE_POLL: Duration = Duration::from_millis(100);

/// What the browser arrives with at the callback.
#[derive(Default, Deserialize)]
pub struct CallbackQuery {
    pub state: Option<String>,
    pub code: Option<String>,
    pub error: Option<String>,
}

/// The state is the session's capability and the code trades for tokens: neither is printed.
impl std::fmt::Debug for CallbackQuery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackQuery")
            .field("state", &self.state.as_ref().map(|_| "[REDACTED]"))
            .field("code", &self.code.as_ref().map(|_| "[REDACTED]"))
            .field("error", &self.error)
            .finish()
    }
}

/// How a callback ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackEnd {
    /// The credential was saved (or reconnected).
    Connected,
    /// Another callback of the same session is completing it.
    InProgress,
    /// Nothing was saved.
    Refused,
    /// The link names no session of this app (or no app): not one Latch issued.
    NotIssued,
}

/// Which callback address the browser came back to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackPath {
    /// `/v1/oauth/callback/{app_id}`: an app's own redirect URI.
    App(Uuid),
    /// `/v1/oauth/callback`: the one every organization shared before apps, still registered
    /// for apps made from the credentials that predate them.
    Shared,
}

/// How a callback ended, for the page or the redirect.
#[derive(Debug)]
pub struct CallbackOutcome {
    pub end: CallbackEnd,
    /// What happened, for people; holds no token.
    pub message: String,
    /// Where to send the browser (303), when the session asked to go back somewhere.
    pub return_to: Option<Url>,
}

impl CallbackOutcome {
    fn not_issued() -> Self {
        Self {
            end: CallbackEnd::NotIssued,
            message: "This link is not one Latch issued: start the connection again from where \
                      you began it."
                .into(),
            return_to: None,
        }
    }

    fn refused(message: impl Into<String>, session: Option<&ConnectSession>) -> Self {
        Self {
            end: CallbackEnd::Refused,
            message: message.into(),
            return_to: session.and_then(|session| back_to(session, "failed")),
        }
    }
}

fn back_to(session: &ConnectSession, status: &str) -> Option<Url> {
    let mut url = Url::parse(session.return_to.as_deref()?).ok()?;
    url.query_pairs_mut()
        .append_pair("connect_session", &session.id.to_string())
        .append_pair("status", status);
    Some(url)
}

/// The end of the browser's trip: trade the code, save the credential, close the session.
/// Anything else (an unknown, reused or expired state, a refusal, a failed exchange) leaves
/// nothing saved and says why.
pub async fn complete_callback(
    state: &Latch,
    path: CallbackPath,
    query: CallbackQuery,
) -> CallbackOutcome {
    let Some(sent_state) = query
        .state
        .filter(|text| !text.is_empty() && text.len() <= 512)
    else {
        return CallbackOutcome::refused(
            "The callback carries no state: start the connection again.",
            None,
        );
    };
    let session = match state
        .store
        .connect_session_by_state(&state_hash(&sent_state))
        .await
    {
        Ok(Some(session)) => session,
        Ok(None) => return CallbackOutcome::not_issued(),
        Err(error) => {
            tracing::error!(%error, "could not read a connect session");
            return CallbackOutcome::refused("Latch could not read the session; try again.", None);
        }
    };
    let app = match app_answering(state, path, &session).await {
        Ok(Some(app)) => app,
        Ok(None) => return CallbackOutcome::not_issued(),
        Err(error) => {
            tracing::error!(%error, "could not read an OAuth app");
            return CallbackOutcome::refused("Latch could not read the session; try again.", None);
        }
    };
    if session.status != ConnectSessionStatus::Pending {
        // A replay changes nothing, whichever way the session ended.
        return CallbackOutcome::refused(
            "This link was already used: start the connection again.",
            None,
        );
    }
    let at = now();
    if session.claimed_at.is_some_and(|claimed| stale(claimed, at)) {
        return fail(
            state,
            &session,
            "the completion of the consent was interrupted",
            stale_before(at),
        )
        .await;
    }
    if session.claimed_at.is_none() && session.expires_at <= at {
        return fail(
            state,
            &session,
            "the session expired before the consent came back",
            stale_before(at),
        )
        .await;
    }
    // One callback trades the code; identical ones (a double click, a retry) wait for it.
    match state.store.claim_connect_session(session.id, at).await {
        Ok(true) => {}
        Ok(false) => return outcome_of_claim(state, &session).await,
        Err(error) => {
            tracing::error!(%error, "could not claim a connect session");
            return CallbackOutcome::refused("Latch could not read the session; try again.", None);
        }
    }
    // From here on this callback holds the claim: every way out completes or fails it.
    if let Some(error) = query.error {
        let reason = if error == "access_denied" {
            "the consent was declined".to_string()
        } else {
            format!("the upstream answered `{}`", printable_code(&error))
        };
        return fail(state, &session, &reason, now()).await;
    }
    let Some(code) = query
        .code
        .filter(|code| !code.is_empty() && code.len() <= 2048)
    else {
        return fail(
            state,
            &session,
            "the callback carries no authorization code",
            now(),
        )
        .await;
    };
    let code = SecretString::from(code);
    match connect(state, &session, &app, &code).await {
        Ok(credential) => connected(state, &session, &credential),
        Err(reason) => fail(state, &session, &reason.to_string(), now()).await,
    }
}

/// The app of `session` if the callback came back to that app's address: its own, or the
/// shared one for an app still on it while no other organization has an app for the same
/// upstream client. Any other pairing is a link Latch did not issue.
pub(super) async fn app_answering(
    state: &Latch,
    path: CallbackPath,
    session: &ConnectSession,
) -> Result<Option<OAuthApp>, CoreError> {
    let Some(app_id) = session.oauth_app_id else {
        return Ok(None);
    };
    let Some(app) = state.store.get_oauth_app(session.org_id, app_id).await? else {
        return Ok(None);
    };
    match path {
        CallbackPath::App(id) => Ok((id == app.id && !app.shared_redirect).then_some(app)),
        CallbackPath::Shared if !app.shared_redirect => Ok(None),
        CallbackPath::Shared => {
            let flow = state
                .catalogue
                .get(&app.connector)
                .and_then(|connector| connector.oauth());
            match flow {
                Some(flow) if shared_redirect_is_unambiguous(state, &app, flow).await? => {
                    Ok(Some(app))
                }
                _ => Ok(None),
            }
        }
    }
}

/// The page (or the way back) of a session whose credential was saved.
fn connected(state: &Latch, session: &ConnectSession, credential: &Credential) -> CallbackOutcome {
    // Who the consent acts for, as the connector reads its identity.
    let who = state
        .catalogue
        .get(&credential.connector)
        .zip(credential.identity.as_ref())
        .and_then(|(connector, identity)| connector.identity_label(identity))
        .unwrap_or_else(|| "the approving user".into());
    CallbackOutcome {
        end: CallbackEnd::Connected,
        message: format!(
            "{} is connected as {who}; you can close this window.",
            credential.name,
        ),
        return_to: back_to(session, "completed"),
    }
}

/// Whether a claim made at `claimed` has outlived the exchange's time-out at `at`.
pub(super) fn stale(claimed: DateTime<Utc>, at: DateTime<Utc>) -> bool {
    claimed <= stale_before(at)
}

/// Claims made at or before this instant have outlived the exchange's time-out.
pub(super) fn stale_before(at: DateTime<Utc>) -> DateTime<Utc> {
    at - chrono::Duration::from_std(CLAIM_TIMEOUT).unwrap_or_default()
}

/// What a duplicate callback answers: it waits (touching nothing) for the callback that
/// claimed the session, then says how the connection ended, or that it is still being
/// completed.
async fn outcome_of_claim(state: &Latch, session: &ConnectSession) -> CallbackOutcome {
    let deadline = tokio::time::Instant::now() + DUPLICATE_WAIT;
    loop {
        let now_seen = match state
            .store
            .get_connect_session(session.org_id, session.id)
            .await
        {
            Ok(Some(now_seen)) => now_seen,
            Ok(None) => break,
            Err(error) => {
                tracing::error!(%error, "could not read a connect session");
                break;
            }
        };
        match (now_seen.status, now_seen.credential_id) {
            (ConnectSessionStatus::Completed, Some(credential_id)) => {
                if let Ok(Some(credential)) = state
                    .store
                    .get_credential(now_seen.org_id, credential_id)
                    .await
                {
                    return connected(state, &now_seen, &credential);
                }
                break;
            }
            (ConnectSessionStatus::Completed, None) => break,
            (ConnectSessionStatus::Failed, _) => {
                return CallbackOutcome::refused(
                    format!(
                        "The connection failed: {}. Nothing was saved.",
                        now_seen.error.as_deref().unwrap_or("no reason was kept")
                    ),
                    Some(&now_seen),
                );
            }
            (ConnectSessionStatus::Pending, _) => {}
        }
        if tokio::time::Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(DUPLICATE_POLL).await;
    }
    CallbackOutcome {
        end: CallbackEnd::InProgress,
        message: "This connection is being completed: follow it where you started it.".into(),
        return_to: None,
    }
}

/// An OAuth error code as sent, kept to what such codes are made of.
fn printable_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(64)
        .collect()
}

/// Fails the session with `reason`, unless a callback claimed it after `claimed_before`.
async fn fail(
    state: &Latch,
    session: &ConnectSession,
    reason: &str,
    claimed_before: DateTime<Utc>,
) -> CallbackOutcome {
    let mut event = audit(
        session.org_id,
        None,
        AuditAction::ConnectSessionFailed,
        session.id,
        json!({"reason": reason}),
    );
    event.outcome = AuditOutcome::Failure.into();
    if let Err(error) = state
        .store
        .fail_connect_session(session.id, reason, claimed_before, &event)
        .await
    {
        tracing::error!(%error, "could not mark a connect session failed");
    }
    CallbackOutcome::refused(
        format!("The connection failed: {reason}. Nothing was saved."),
        Some(session),
    )
}

/// Trades the code, reads the identity and saves the credential with its tokens.
async fn connect(
    state: &Latch,
    session: &ConnectSession,
    app: &OAuthApp,
    code: &SecretString,
) -> Result<Credential, CallbackError> {
    let connector = state
        .catalogue
        .get(&session.connector)
        .ok_or(CallbackError::ConnectorGone)?;
    let flow = connector.oauth().ok_or(CallbackError::NoConsent)?;
    let config: Fields = session.config.as_object().cloned().unwrap_or_default();
    let verifier = open_verifier(state, session).map_err(|_| CallbackError::SessionUnreadable)?;
    let secrets = state.secrets.open_app(app).map_err(|error| {
        tracing::error!(%error, "could not open an OAuth app's secrets");
        CallbackError::Unsealed
    })?;
    let egress = state.egress.for_ports(connector.ports());
    let grant = flow
        .exchange_code(
            &egress,
            &config,
            &secrets,
            code,
            &verifier,
            &redirect_uri(state, app),
        )
        .await
        .map_err(|error| CallbackError::Upstream(error.detail))?;
    // A grant Latch cannot keep (no lifetime, no identity) is ended upstream at once.
    let lifetime = match lifetime_of(connector, &grant.access) {
        Ok(lifetime) => lifetime,
        Err(error) => {
            flow.logout(&egress, &config, &secrets, &grant.access.token)
                .await;
            return Err(CallbackError::Upstream(error.detail));
        }
    };
    let outcome = flow.identify(&egress, &config, &grant.access.token).await;
    if outcome.status != ValidationStatus::Valid {
        flow.logout(&egress, &config, &secrets, &grant.access.token)
            .await;
        return Err(CallbackError::Upstream(outcome.detail));
    }
    // What the identity names that jobs need (Xero's tenant id) goes with every token.
    let mut grant = grant;
    if let Some(identity) = &outcome.identity {
        let named = connector.identity_metadata(identity);
        grant.access.metadata.extend(named);
    }
    let grant = Granted { grant, lifetime };
    let saved = match session.credential_id {
        Some(credential_id) => {
            save_reconnect(
                state,
                session,
                credential_id,
                &grant,
                &outcome.detail,
                outcome.identity,
            )
            .await
        }
        None => save(state, session, &grant, &outcome.detail, outcome.identity).await,
    };
    if saved.is_err() {
        // Nothing keeps these tokens: end the grant rather than leave it open upstream.
        flow.logout(&egress, &config, &secrets, &grant.grant.access.token)
            .await;
    }
    saved
}

pub(super) fn open_verifier(
    state: &Latch,
    session: &ConnectSession,
) -> Result<SecretString, CoreError> {
    let context = RecordContext::new(session.org_id, session.id);
    let data_key = state
        .secrets
        .data_key(&context, &session.kek_id, &session.wrapped_dek)?;
    let sealed = Sealed {
        nonce: session.verifier_nonce.clone(),
        ciphertext: session.verifier_ct.clone(),
    };
    open_text(&data_key, &context, Purpose::Verifier, &sealed)
}
