//! Connect sessions: a credential made by a person approving Latch on the upstream's OAuth
//! consent screen (authorization code with PKCE), from the consent URL to the callback.
//!
//! The `state` in the consent URL is the only capability the callback needs: 256 random
//! bits, stored as a SHA-256 hash, good once. The PKCE verifier is sealed under the session's
//! own data key. No token is ever put in a URL, a page or a log.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use latch_connector::oauth::{OAUTH_AUTHORIZATION_CODE, OAuthFlow, OAuthGrant};
use latch_connector::pkce::Pkce;
use latch_connector::{
    Connector, FieldError, Fields, SecretFields, ValidationStatus, check_section,
};
use latch_store::{
    ConnectSession, ConnectSessionStatus, Credential, CredentialStatus, NewAuditEvent,
    NewConnectSession, NewCredential, NewGrantTokens, StoreError, now,
};
use latch_vault::{DataKey, Purpose, RecordContext, Sealed, WrappedKey};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use url::Url;
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use crate::audit_vocabulary::{AuditAction, AuditOutcome};
use crate::callers::{Caller, Scope};
use crate::error::CoreError;
use crate::input::{field_errors, trimmed};
use crate::latch::Latch;
use crate::secrets::{open_text, seal_secrets, seal_text};

/// How long a person has to approve Latch once the consent URL is handed out.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(10 * 60);

#[derive(Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "name": "Looker production",
    "description": "Connected by the analytics team",
    "connector": "looker",
    "auth_method": "oauth_authorization_code",
    "config": {
        "api_host_url": "https://acme.cloud.looker.com",
        "ui_host_url": "https://acme.cloud.looker.com",
        "client_id": "latch-production"
    },
    "return_to": "https://console.example.com/credentials"
}))]
pub struct CreateConnectSessionRequest {
    /// The name the credential gets; unique in your organization.
    #[serde(default, deserialize_with = "trimmed")]
    #[validate(
        required(message = "is required"),
        length(min = 1, max = 128, message = "must be 1 to 128 characters"),
        custom(function = "crate::input::printable")
    )]
    #[schema(value_type = String, required = true, nullable = false, min_length = 1, max_length = 128)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "trimmed")]
    #[validate(
        length(max = 1000, message = "must be at most 1000 characters"),
        custom(function = "crate::input::printable")
    )]
    #[schema(max_length = 1000)]
    pub description: Option<String>,
    #[schema(value_type = String, required = true, nullable = false)]
    pub connector: Option<String>,
    /// `oauth_authorization_code`.
    #[schema(value_type = String, required = true, nullable = false, example = "oauth_authorization_code")]
    pub auth_method: Option<String>,
    /// The auth method's `config_schema` from `GET /v1/connectors/{id}`.
    #[schema(value_type = Object, required = true, nullable = false)]
    pub config: Option<Value>,
    /// Where the browser is sent back to (303) once the consent is done: an address on
    /// Latch's own origin or one of `LATCH_CONSOLE_ORIGINS`. Without it, the callback shows
    /// a page saying what happened. The document a server serves at `/openapi.json` gives
    /// these origins as this field's `pattern`.
    #[serde(default, deserialize_with = "trimmed")]
    #[schema(max_length = 2048)]
    pub return_to: Option<String>,
}

/// A new connect session: send the person's browser to `authorization_url`.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "id": "019a8f0e-5b7c-7d3e-9a41-6c2f8e1d4b20",
    "status": "pending",
    "authorization_url": "https://acme.cloud.looker.com/auth?response_type=code&client_id=latch-production&redirect_uri=https%3A%2F%2Flatch.example.com%2Fv1%2Foauth%2Fcallback&scope=cors_api&state=...&code_challenge=...&code_challenge_method=S256",
    "expires_at": "2026-11-24T10:10:00Z"
}))]
pub struct ConnectSessionCreated {
    pub id: Uuid,
    #[schema(example = "pending")]
    pub status: &'static str,
    pub authorization_url: String,
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for ConnectSessionCreated {
    // The URL carries the state, the callback's only capability.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectSessionCreated")
            .field("id", &self.id)
            .field("authorization_url", &"[REDACTED]")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Where a connect session stands.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "019a8f0e-5b7c-7d3e-9a41-6c2f8e1d4b20",
    "status": "completed",
    "credential_id": "019a8f0e-6c1d-7a2b-8e3f-1d2c3b4a5f60"
}))]
pub struct ConnectSessionView {
    pub id: Uuid,
    /// `pending`, `completed`, `failed` or `expired`.
    #[schema(example = "completed")]
    pub status: &'static str,
    /// The credential saved (or reconnected), once completed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential_id: Option<Uuid>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub expires_at: DateTime<Utc>,
}

impl ConnectSessionView {
    fn new(session: &ConnectSession, at: DateTime<Utc>) -> Self {
        let status = match session.status {
            ConnectSessionStatus::Pending if session.expires_at <= at => "expired",
            other => other.as_str(),
        };
        Self {
            id: session.id,
            status,
            credential_id: session
                .credential_id
                .filter(|_| session.status == ConnectSessionStatus::Completed),
            error: session.error.clone(),
            expires_at: session.expires_at,
        }
    }
}

fn audit(
    org_id: Uuid,
    actor: Option<Uuid>,
    action: AuditAction,
    id: Uuid,
    detail: Value,
) -> NewAuditEvent {
    NewAuditEvent {
        org_id: Some(org_id),
        actor_key_id: actor,
        action: action.into(),
        target_type: "connect_session".into(),
        target_id: Some(id.to_string()),
        outcome: AuditOutcome::Success.into(),
        detail,
    }
}

fn state_hash(state: &str) -> Vec<u8> {
    Sha256::digest(state.as_bytes()).to_vec()
}

/// The OAuth side of a connector, or a field error saying it has none.
fn oauth_of<'a>(
    state: &'a Latch,
    connector: Option<&str>,
    auth_method: Option<&str>,
    errors: &mut Vec<FieldError>,
) -> Option<(&'a dyn Connector, &'a dyn OAuthFlow)> {
    let Some(auth_method) = auth_method else {
        errors.push(FieldError::new("auth_method", "is required"));
        state.catalogue.named(connector, errors);
        return None;
    };
    let connector = state.catalogue.named(connector, errors)?;
    match auth_method {
        OAUTH_AUTHORIZATION_CODE => match connector.oauth() {
            Some(flow) => return Some((connector, flow)),
            None => errors.push(FieldError::new(
                "auth_method",
                format!("the {} connector offers no OAuth consent", connector.id()),
            )),
        },
        _ => errors.push(FieldError::new(
            "auth_method",
            format!("a connect session is for `{OAUTH_AUTHORIZATION_CODE}`"),
        )),
    }
    None
}

/// Checks `return_to`: an absolute http(s) URL on an allowed origin.
fn checked_return_to(
    state: &Latch,
    return_to: Option<String>,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    let text = return_to.filter(|text| !text.is_empty())?;
    let allowed = url_on_origins(&text, &state.oauth.allowed_origins);
    if allowed.is_none() {
        errors.push(FieldError::new(
            "return_to",
            "must be an address on Latch's own origin or one of LATCH_CONSOLE_ORIGINS",
        ));
    }
    allowed.map(|url| url.to_string())
}

/// `text` as a URL when it is an http(s) address on one of `origins`.
fn url_on_origins(text: &str, origins: &[String]) -> Option<Url> {
    Url::parse(text).ok().filter(|url| {
        matches!(url.scheme(), "http" | "https")
            && text.chars().count() <= 2048
            && origins.contains(&url.origin().ascii_serialization())
    })
}

/// Starts a consent: stores the session and answers the URL to send the browser to.
pub async fn create_connect_session(
    state: &Latch,
    caller: &Caller,
    request: CreateConnectSessionRequest,
) -> Result<ConnectSessionCreated, CoreError> {
    caller.require(Scope::CredentialsWrite)?;
    let mut errors = field_errors(request.validate());
    let flow = oauth_of(
        state,
        request.connector.as_deref(),
        request.auth_method.as_deref(),
        &mut errors,
    );
    let config = match (&flow, &request.config) {
        (_, None) => {
            errors.push(FieldError::new("config", "is required"));
            None
        }
        (None, Some(_)) => None,
        (Some((_, flow)), Some(config)) => {
            match check_section("config", flow.config_fields(), config, state.policy)
                .and_then(|fields| flow.normalize_config(fields))
            {
                Ok(fields) => Some(fields),
                Err(mut problems) => {
                    errors.append(&mut problems);
                    None
                }
            }
        }
    };
    let return_to = checked_return_to(state, request.return_to, &mut errors);
    let (Some(name), Some((connector, flow)), Some(config), true) =
        (request.name, flow, config, errors.is_empty())
    else {
        return Err(CoreError::Validation(errors));
    };

    let started = start(
        state,
        caller,
        Start {
            connector,
            flow,
            name: &name,
            description: request.description.filter(|text| !text.is_empty()),
            config,
            return_to,
            credential_id: None,
        },
    )
    .await?;
    Ok(started)
}

/// What a new session is about.
struct Start<'a> {
    connector: &'a dyn Connector,
    flow: &'a dyn OAuthFlow,
    name: &'a str,
    description: Option<String>,
    config: Fields,
    return_to: Option<String>,
    /// A reconnect's credential.
    credential_id: Option<Uuid>,
}

/// Stores a session and answers the URL to send the browser to.
async fn start(
    state: &Latch,
    caller: &Caller,
    what: Start<'_>,
) -> Result<ConnectSessionCreated, CoreError> {
    let Start {
        connector,
        flow,
        name,
        description,
        config,
        return_to,
        credential_id,
    } = what;
    let id = Uuid::now_v7();
    let mut random = [0u8; 32];
    getrandom::fill(&mut random).map_err(CoreError::internal)?;
    let session_state = URL_SAFE_NO_PAD.encode(random);
    random.fill(0);
    let pkce = Pkce::generate().map_err(CoreError::internal)?;
    let url = flow
        .authorization_url(
            &config,
            &state.oauth.redirect_uri,
            &session_state,
            &pkce.challenge,
        )
        .map_err(|error| CoreError::invalid_field("config", error.detail))?;

    let context = RecordContext::new(caller.org_id, id);
    let (data_key, wrapped) = state
        .keyring
        .generate_data_key(&context)
        .map_err(CoreError::internal)?;
    let sealed = seal_text(&data_key, &context, Purpose::Verifier, &pkce.verifier)?;
    let expires_at = now() + chrono::Duration::from_std(SESSION_LIFETIME).unwrap_or_default();
    let new = NewConnectSession {
        id,
        org_id: caller.org_id,
        connector: connector.id().to_string(),
        auth_method: OAUTH_AUTHORIZATION_CODE.into(),
        name: name.to_string(),
        description,
        config: Value::Object(config),
        return_to,
        state_hash: state_hash(&session_state),
        verifier_ct: sealed.ciphertext,
        verifier_nonce: sealed.nonce,
        wrapped_dek: wrapped.bytes,
        kek_id: wrapped.kek_id,
        credential_id,
        expires_at,
    };
    let event = audit(
        caller.org_id,
        Some(caller.key_id),
        AuditAction::ConnectSessionCreated,
        id,
        json!({
            "name": name,
            "connector": connector.id(),
            "auth_method": OAUTH_AUTHORIZATION_CODE,
            "reconnects": credential_id,
        }),
    );
    let session = state.store.insert_connect_session(&new, &event).await?;
    Ok(ConnectSessionCreated {
        id: session.id,
        status: "pending",
        authorization_url: url.to_string(),
        expires_at: session.expires_at,
    })
}

/// Where one of the caller's sessions stands.
pub async fn get_connect_session(
    state: &Latch,
    caller: &Caller,
    id: Uuid,
) -> Result<ConnectSessionView, CoreError> {
    caller.require(Scope::CredentialsRead)?;
    let session = state
        .store
        .get_connect_session(caller.org_id, id)
        .await?
        .ok_or_else(|| {
            CoreError::NotFound("no such connect session in your organization".into())
        })?;
    Ok(ConnectSessionView::new(&session, now()))
}

/// What a reconnect may change: settings that take effect once the new consent completes.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"return_to": "https://console.example.com/credentials"}))]
pub struct ReconnectRequest {
    /// Keys sent replace the stored ones, once the new consent completes.
    #[schema(value_type = Option<Object>)]
    pub config: Option<Value>,
    /// As for `POST /v1/connect-sessions`.
    #[serde(default, deserialize_with = "trimmed")]
    #[schema(max_length = 2048)]
    pub return_to: Option<String>,
}

/// A connect session for an OAuth credential: its completion replaces the grant of the same
/// credential id, so what selects it keeps working.
pub async fn reconnect_credential(
    state: &Latch,
    caller: &Caller,
    id: Uuid,
    request: ReconnectRequest,
) -> Result<ConnectSessionCreated, CoreError> {
    caller.require(Scope::CredentialsWrite)?;
    let credential = state
        .store
        .get_credential(caller.org_id, id)
        .await?
        .ok_or_else(|| {
            CoreError::NotFound("no credential with this id in your organization".into())
        })?;
    if credential.auth_method != OAUTH_AUTHORIZATION_CODE {
        return Err(CoreError::Conflict(
            "this credential was made from an API key's client ID and secret, not by consent: \
             rotate its secret instead"
                .into(),
        ));
    }
    let mut errors = Vec::new();
    let flow = oauth_of(
        state,
        Some(&credential.connector),
        Some(OAUTH_AUTHORIZATION_CODE),
        &mut errors,
    );
    let mut config = credential.config.as_object().cloned().unwrap_or_default();
    match request.config {
        None => {}
        Some(Value::Object(changes)) => config.extend(changes),
        Some(_) => errors.push(FieldError::new("config", "must be a JSON object")),
    }
    let config = flow.and_then(|(_, flow)| {
        check_section(
            "config",
            flow.config_fields(),
            &Value::Object(config),
            state.policy,
        )
        .and_then(|fields| flow.normalize_config(fields))
        .map_err(|mut problems| errors.append(&mut problems))
        .ok()
    });
    let return_to = checked_return_to(state, request.return_to, &mut errors);
    let (Some((connector, flow)), Some(config), true) = (flow, config, errors.is_empty()) else {
        return Err(CoreError::Validation(errors));
    };
    start(
        state,
        caller,
        Start {
            connector,
            flow,
            name: &credential.name,
            description: credential.description.clone(),
            config,
            return_to,
            credential_id: Some(credential.id),
        },
    )
    .await
}

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

/// How a callback ended, for the page or the redirect.
#[derive(Debug)]
pub struct CallbackOutcome {
    pub completed: bool,
    /// What happened, for people; holds no token.
    pub message: String,
    /// Where to send the browser (303), when the session asked to go back somewhere.
    pub return_to: Option<Url>,
}

impl CallbackOutcome {
    fn refused(message: impl Into<String>, session: Option<&ConnectSession>) -> Self {
        Self {
            completed: false,
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
pub async fn complete_callback(state: &Latch, query: CallbackQuery) -> CallbackOutcome {
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
        Ok(None) => {
            return CallbackOutcome::refused(
                "This link is unknown: start the connection again.",
                None,
            );
        }
        Err(error) => {
            tracing::error!(%error, "could not read a connect session");
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
    if session.expires_at <= now() {
        return fail(
            state,
            &session,
            "the session expired before the consent came back",
        )
        .await;
    }
    if let Some(error) = query.error {
        let reason = if error == "access_denied" {
            "the consent was declined".to_string()
        } else {
            format!("the upstream answered `{}`", printable_code(&error))
        };
        return fail(state, &session, &reason).await;
    }
    let Some(code) = query
        .code
        .filter(|code| !code.is_empty() && code.len() <= 2048)
    else {
        return fail(
            state,
            &session,
            "the callback carries no authorization code",
        )
        .await;
    };
    let code = SecretString::from(code);
    match connect(state, &session, &code).await {
        Ok(credential) => CallbackOutcome {
            completed: true,
            message: format!(
                "{} is connected as {}; you can close this window.",
                credential.name,
                credential
                    .identity
                    .as_ref()
                    .and_then(|identity| identity["display_name"]
                        .as_str()
                        .or(identity["email"].as_str()))
                    .unwrap_or("the approving user")
            ),
            return_to: back_to(&session, "completed"),
        },
        Err(reason) => fail(state, &session, &reason).await,
    }
}

/// An OAuth error code as sent, kept to what such codes are made of.
fn printable_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(64)
        .collect()
}

async fn fail(state: &Latch, session: &ConnectSession, reason: &str) -> CallbackOutcome {
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
        .fail_connect_session(session.id, reason, &event)
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
    code: &SecretString,
) -> Result<Credential, String> {
    let connector = state
        .catalogue
        .get(&session.connector)
        .ok_or("the connector is no longer offered")?;
    let flow = connector
        .oauth()
        .ok_or("the connector no longer offers OAuth")?;
    let config: Fields = session.config.as_object().cloned().unwrap_or_default();
    let verifier = open_verifier(state, session).map_err(|_| "the session could not be opened")?;
    let grant = flow
        .exchange_code(
            &state.egress,
            &config,
            code,
            &verifier,
            &state.oauth.redirect_uri,
        )
        .await
        .map_err(|error| error.detail)?;
    let outcome = flow
        .identify(&state.egress, &config, &grant.access.token)
        .await;
    if outcome.status != ValidationStatus::Valid {
        flow.logout(&state.egress, &config, &grant.access.token)
            .await;
        return Err(outcome.detail);
    }
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
        flow.logout(&state.egress, &config, &grant.access.token)
            .await;
    }
    saved
}

fn open_verifier(state: &Latch, session: &ConnectSession) -> Result<SecretString, CoreError> {
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

async fn save(
    state: &Latch,
    session: &ConnectSession,
    grant: &OAuthGrant,
    detail: &str,
    identity: Option<Value>,
) -> Result<Credential, String> {
    let id = Uuid::now_v7();
    let context = RecordContext::new(session.org_id, id);
    let (wrapped, secrets, tokens) =
        seal_new_credential(state, &context, grant).map_err(|error| {
            tracing::error!(%error, "could not seal a new OAuth credential");
            "Latch could not encrypt the credential".to_string()
        })?;
    let at = now();
    let credential = NewCredential {
        id,
        org_id: session.org_id,
        connector: session.connector.clone(),
        name: session.name.clone(),
        description: session.description.clone(),
        config: session.config.clone(),
        secret_ct: secrets.ciphertext,
        secret_nonce: secrets.nonce,
        wrapped_dek: wrapped.bytes,
        kek_id: wrapped.kek_id,
        status: CredentialStatus::Valid,
        status_detail: Some(detail.to_string()),
        identity,
        validated_at: Some(at),
    };
    let event = NewAuditEvent {
        org_id: Some(session.org_id),
        actor_key_id: None,
        action: AuditAction::CredentialCreated.into(),
        target_type: "credential".into(),
        target_id: Some(id.to_string()),
        outcome: AuditOutcome::Success.into(),
        detail: json!({
            "name": session.name,
            "connector": session.connector,
            "auth_method": OAUTH_AUTHORIZATION_CODE,
            "connect_session": session.id,
        }),
    };
    match state
        .store
        .complete_connect_session(
            session.id,
            &credential,
            OAUTH_AUTHORIZATION_CODE,
            &tokens,
            &event,
        )
        .await
    {
        Ok(credential) => Ok(credential),
        Err(StoreError::Conflict) => Err(format!(
            "a credential named \"{}\" already exists in this organization",
            session.name
        )),
        Err(StoreError::NotFound) => Err("the session was already used or has expired".into()),
        Err(error) => {
            tracing::error!(%error, "could not save an OAuth credential");
            Err("Latch could not save the credential".into())
        }
    }
}

/// A new credential's data key, its (empty) secrets and its grant, sealed.
fn seal_new_credential(
    state: &Latch,
    context: &RecordContext,
    grant: &OAuthGrant,
) -> Result<(WrappedKey, Sealed, NewGrantTokens), CoreError> {
    let (data_key, wrapped) = state
        .keyring
        .generate_data_key(context)
        .map_err(CoreError::internal)?;
    let secrets = seal_secrets(&data_key, context, &SecretFields::new(Fields::new()))?;
    let tokens = sealed_grant(&data_key, context, grant)?;
    Ok((wrapped, secrets, tokens))
}

/// Seals a grant's tokens under a credential's data key.
fn sealed_grant(
    data_key: &DataKey,
    context: &RecordContext,
    grant: &OAuthGrant,
) -> Result<NewGrantTokens, CoreError> {
    let token = seal_text(data_key, context, Purpose::Token, &grant.access.token)?;
    let refresh = grant
        .refresh_token
        .as_ref()
        .map(|refresh| seal_text(data_key, context, Purpose::RefreshToken, refresh))
        .transpose()?;
    Ok(NewGrantTokens {
        token_ct: token.ciphertext,
        nonce: token.nonce,
        token_type: grant.access.token_type.clone(),
        expires_at: now()
            + chrono::Duration::from_std(Duration::from_secs(grant.access.expires_in))
                .unwrap_or_default(),
        refresh_ct: refresh.as_ref().map(|sealed| sealed.ciphertext.clone()),
        refresh_nonce: refresh.map(|sealed| sealed.nonce),
    })
}

/// Gives an existing OAuth credential the new grant (and the session's config).
async fn save_reconnect(
    state: &Latch,
    session: &ConnectSession,
    credential_id: Uuid,
    grant: &OAuthGrant,
    detail: &str,
    identity: Option<Value>,
) -> Result<Credential, String> {
    let credential = match state
        .store
        .get_credential(session.org_id, credential_id)
        .await
    {
        Ok(Some(credential)) => credential,
        Ok(None) => return Err("the credential was deleted meanwhile".into()),
        Err(error) => {
            tracing::error!(%error, "could not read a credential to reconnect");
            return Err("Latch could not read the credential".into());
        }
    };
    let context = RecordContext::new(credential.org_id, credential.id);
    let tokens = state
        .secrets
        .data_key_of(&credential)
        .and_then(|data_key| sealed_grant(&data_key, &context, grant))
        .map_err(|error| {
            tracing::error!(%error, "could not seal a reconnected grant");
            "Latch could not encrypt the credential's tokens".to_string()
        })?;
    let event = NewAuditEvent {
        org_id: Some(session.org_id),
        actor_key_id: None,
        action: AuditAction::CredentialUpdated.into(),
        target_type: "credential".into(),
        target_id: Some(credential.id.to_string()),
        outcome: AuditOutcome::Success.into(),
        detail: json!({"reconnected": true, "connect_session": session.id}),
    };
    match state
        .store
        .complete_reconnect(
            session.id,
            session.org_id,
            credential.id,
            &session.config,
            detail,
            identity.as_ref(),
            &tokens,
            &event,
        )
        .await
    {
        Ok(updated) => {
            // This replica's cached token belongs to the old grant.
            state.broker.forget(credential.id);
            Ok(updated)
        }
        Err(StoreError::NotFound) => {
            Err("the session was already used, or the credential was deleted meanwhile".into())
        }
        Err(error) => {
            tracing::error!(%error, "could not save a reconnected grant");
            Err("Latch could not save the credential".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::url_on_origins_pattern;

    #[test]
    fn the_documented_return_to_pattern_matches_only_what_the_server_accepts() {
        let origins = vec![
            "http://127.0.0.1:8080".to_string(),
            "https://console.example.com".to_string(),
        ];
        let pattern = regex::Regex::new(&url_on_origins_pattern(&origins)).unwrap();
        let accepted = [
            "https://console.example.com",
            "https://console.example.com/credentials?view=tiles#new",
            " http://127.0.0.1:8080/console/\u{3000}",
            "",
            "   ",
        ];
        for text in accepted {
            assert!(pattern.is_match(text), "{text:?} matches");
            let trimmed = text.trim();
            assert!(
                trimmed.is_empty() || url_on_origins(trimmed, &origins).is_some(),
                "{text:?} is accepted"
            );
        }
        let refused = [
            "https://console.example.com.evil.test/",
            "https://console.example.com@evil.test/",
            "https://evil.test/?https://console.example.com",
            "http://console.example.com/",
            "http://127.0.0.1:8081/",
            "http://127.0.0.1:8080 /",
            "/relative/path",
            "javascript:alert(1)",
        ];
        for text in refused {
            assert!(!pattern.is_match(text), "{text:?} does not match");
            assert!(url_on_origins(text.trim(), &origins).is_none(), "{text:?}");
        }
    }

    #[test]
    fn neither_the_state_nor_the_code_is_printed_by_debug() {
        let query = CallbackQuery {
            state: Some("state-capability-123".into()),
            code: Some("code-that-trades-456".into()),
            error: None,
        };
        let printed = format!("{query:?}");
        assert!(!printed.contains("state-capability-123"), "{printed}");
        assert!(!printed.contains("code-that-trades-456"), "{printed}");
        let created = ConnectSessionCreated {
            id: Uuid::now_v7(),
            status: "pending",
            authorization_url: "https://looker.example/auth?state=state-capability-123".into(),
            expires_at: now(),
        };
        assert!(!format!("{created:?}").contains("state-capability-123"));
    }
}
