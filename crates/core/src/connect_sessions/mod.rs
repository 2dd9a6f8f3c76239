//! Connect sessions: a credential made by a person approving Latch on the upstream's OAuth
//! consent screen (authorization code with PKCE), from the consent URL to the callback.
//!
//! The `state` in the consent URL is the only capability the callback needs: 256 random
//! bits, stored as a SHA-256 hash, good once. The PKCE verifier is sealed under the session's
//! own data key. No token is ever put in a URL, a page or a log.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use latch_connector::AuthMethod;
use latch_connector::oauth::OAuthFlow;
use latch_connector::pkce::Pkce;
use latch_connector::{Connector, FieldError, Fields};
use latch_store::{NewAuditEvent, NewConnectSession, OAuthApp, Page, StoreError, now};
use latch_vault::{Purpose, RecordContext};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use url::Url;
use uuid::Uuid;
use validator::Validate;

use crate::audit_vocabulary::{AuditAction, AuditOutcome};
use crate::callers::{Caller, Scope};
use crate::catalogue::made_by_consent;
use crate::error::CoreError;
use crate::input::field_errors;
use crate::latch::Latch;
use crate::oauth_apps::{
    app_of, checked_settings, flow_of, redirect_uri, shared_redirect_is_unambiguous,
};
use crate::secrets::seal_text;

mod callback;
mod consent_page;
mod failure;
mod grant;
mod types;

pub use callback::{
    CLAIM_TIMEOUT, CallbackEnd, CallbackOutcome, CallbackPath, CallbackQuery, complete_callback,
};
pub use consent_page::{ConsentPage, consent_page};
pub use types::*;

/// How long a person has to approve Latch once the consent URL is handed out.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(10 * 60);

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

pub(crate) fn state_hash(state: &str) -> Vec<u8> {
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
    match AuthMethod::from_name(auth_method) {
        Some(AuthMethod::OauthAuthorizationCode) => match connector.oauth() {
            Some(flow) => return Some((connector, flow)),
            None => errors.push(FieldError::new(
                "auth_method",
                format!("the {} connector offers no OAuth consent", connector.id()),
            )),
        },
        _ => errors.push(FieldError::new(
            "auth_method",
            format!(
                "a connect session is for `{}`",
                AuthMethod::OauthAuthorizationCode
            ),
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
    let app = session_app(state, caller, &request, &mut errors).await?;
    let return_to = checked_return_to(state, request.return_to, &mut errors);
    let (Some(name), Some(app), true) = (request.name, app, errors.is_empty()) else {
        return Err(CoreError::Validation(errors));
    };
    start(
        state,
        caller,
        Start {
            app: &app,
            name: &name,
            description: request.description.filter(|text| !text.is_empty()),
            return_to,
            credential_id: None,
        },
    )
    .await
}

/// The app a new session goes through: the one named, or (the earlier form) the caller's
/// app with exactly the settings sent.
async fn session_app(
    state: &Latch,
    caller: &Caller,
    request: &CreateConnectSessionRequest,
    errors: &mut Vec<FieldError>,
) -> Result<Option<OAuthApp>, CoreError> {
    let earlier_form =
        request.connector.is_some() || request.auth_method.is_some() || request.config.is_some();
    match (request.oauth_app_id, earlier_form) {
        (Some(_), true) => {
            errors.push(FieldError::new(
                "oauth_app_id",
                "send either `oauth_app_id` or the earlier `connector`, `auth_method` and \
                 `config`, not both",
            ));
            Ok(None)
        }
        // Like any id of another organization: not even its existence is confirmed.
        (Some(id), false) => app_of(state, caller.org_id, id)
            .await?
            .map(Some)
            .ok_or_else(no_such_app),
        (None, false) => {
            errors.push(FieldError::new(
                "oauth_app_id",
                "is required: the OAuth app (`GET /v1/oauth-apps`) the consent goes through",
            ));
            Ok(None)
        }
        (None, true) => app_with_settings(state, caller, request, errors).await,
    }
}

fn no_such_app() -> CoreError {
    CoreError::NotFound("`oauth_app_id` names no OAuth app in your organization".into())
}

/// The earlier form: the caller's app of the connector whose settings are exactly those sent.
async fn app_with_settings(
    state: &Latch,
    caller: &Caller,
    request: &CreateConnectSessionRequest,
    errors: &mut Vec<FieldError>,
) -> Result<Option<OAuthApp>, CoreError> {
    let flow = oauth_of(
        state,
        request.connector.as_deref(),
        request.auth_method.as_deref(),
        errors,
    );
    let settings = match (flow, &request.config) {
        (_, None) => {
            errors.push(FieldError::new("config", "is required"));
            None
        }
        (None, Some(_)) => None,
        (Some((_, flow)), Some(config)) => checked_settings(state, flow, config, errors),
    };
    let (Some((connector, _)), Some(settings)) = (flow, settings) else {
        return Ok(None);
    };
    let wanted = Value::Object(settings);
    let mut page = Page::first(200);
    loop {
        let apps = state
            .store
            .list_oauth_apps(caller.org_id, Some(connector.id()), page)
            .await?;
        if let Some(app) = apps.iter().find(|app| app.config == wanted) {
            return Ok(Some(app.clone()));
        }
        match apps.last() {
            Some(last) if apps.len() as i64 == page.limit => page.after = Some(last.id),
            _ => break,
        }
    }
    errors.push(FieldError::new(
        "oauth_app_id",
        "no OAuth app of your organization has these settings: an admin registers the app \
         first (`POST /v1/oauth-apps`, then its `redirect_uri` at the upstream), and the \
         session names it as `oauth_app_id`",
    ));
    Ok(None)
}

/// What a new session is about.
struct Start<'a> {
    app: &'a OAuthApp,
    name: &'a str,
    description: Option<String>,
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
        app,
        name,
        description,
        return_to,
        credential_id,
    } = what;
    let mut errors = Vec::new();
    let flow = state
        .catalogue
        .get(&app.connector)
        .and_then(|connector| flow_of(connector, "oauth_app_id", &mut errors))
        .ok_or(CoreError::Validation(errors))?;
    if app.shared_redirect && !shared_redirect_is_unambiguous(state, app, flow).await? {
        return Err(CoreError::Conflict(format!(
            "the OAuth app `{}` still uses the redirect URI every organization shared before \
             apps, and another organization has an app for the same upstream client: once the \
             upstream's admin has registered {}/{} for it, an admin moves it there \
             (`PATCH /v1/oauth-apps/{}` with `shared_redirect_uri: false`)",
            app.name, state.oauth.redirect_uri, app.id, app.id
        )));
    }
    let config: Fields = app.config.as_object().cloned().unwrap_or_default();
    let redirect = redirect_uri(state, app);
    let id = Uuid::now_v7();
    let mut random = [0u8; 32];
    getrandom::fill(&mut random).map_err(CoreError::internal)?;
    let session_state = URL_SAFE_NO_PAD.encode(random);
    random.fill(0);
    let pkce = Pkce::generate().map_err(CoreError::internal)?;
    let url = flow
        .authorization_url(&config, &redirect, &session_state, &pkce.challenge)
        .map_err(|error| CoreError::invalid_field("oauth_app_id", error.detail))?;

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
        connector: app.connector.clone(),
        auth_method: AuthMethod::OauthAuthorizationCode.as_str().into(),
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
        oauth_app_id: app.id,
        expires_at,
    };
    let event = audit(
        caller.org_id,
        Some(caller.key_id),
        AuditAction::ConnectSessionCreated,
        id,
        json!({
            "name": name,
            "connector": app.connector,
            "auth_method": AuthMethod::OauthAuthorizationCode,
            "oauth_app_id": app.id,
            "reconnects": credential_id,
        }),
    );
    let session = match state
        .store
        .insert_connect_session(
            &new,
            i64::from(state.oauth.pending_sessions_per_org),
            &event,
        )
        .await
    {
        Ok(session) => session,
        Err(StoreError::LimitReached { retry_at }) => {
            let retry_after = (retry_at - now()).num_seconds().max(1) as u64;
            return Err(CoreError::TooManyRequests {
                detail: format!(
                    "your organization has {} connect sessions waiting for a consent; one \
                     expires in {retry_after} seconds",
                    state.oauth.pending_sessions_per_org
                ),
                retry_after,
            });
        }
        Err(error) => return Err(error.into()),
    };
    Ok(ConnectSessionCreated {
        id: session.id,
        status: "pending",
        authorization_url: url.to_string(),
        connect_url: format!("{}?state={session_state}", state.oauth.connect_base),
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

/// Cancels a pending session: its link and its callback are refused from then on. A session
/// whose consent is being completed, or that ended, is 409.
pub async fn cancel_connect_session(
    state: &Latch,
    caller: &Caller,
    id: Uuid,
) -> Result<ConnectSessionView, CoreError> {
    caller.require(Scope::CredentialsWrite)?;
    let missing = || CoreError::NotFound("no such connect session in your organization".into());
    let session = state
        .store
        .get_connect_session(caller.org_id, id)
        .await?
        .ok_or_else(missing)?;
    let at = now();
    let view = ConnectSessionView::new(&session, at);
    if view.status != "pending" {
        return Err(CoreError::Conflict(format!(
            "the connect session is {}: only a pending one can be cancelled",
            view.status
        )));
    }
    let mut event = audit(
        caller.org_id,
        Some(caller.key_id),
        AuditAction::ConnectSessionFailed,
        id,
        json!({"reason": "cancelled"}),
    );
    event.outcome = AuditOutcome::Failure.into();
    // A claimed session is left to the callback completing it (claims never predate `at`'s
    // stale bound here unless the callback died, which the view already calls failed).
    let cancelled = state
        .store
        .fail_connect_session(
            id,
            "the connection was cancelled",
            callback::stale_before(at),
            &event,
        )
        .await?;
    if !cancelled {
        return Err(CoreError::Conflict(
            "the consent came back meanwhile and is being completed".into(),
        ));
    }
    let session = state
        .store
        .get_connect_session(caller.org_id, id)
        .await?
        .ok_or_else(missing)?;
    Ok(ConnectSessionView::new(&session, now()))
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
        .ok_or_else(|| CoreError::no_such("credential"))?;
    if !made_by_consent(&credential) {
        return Err(CoreError::Conflict(
            "this credential was made from an API key's client ID and secret, not by consent: \
             rotate its secret instead"
                .into(),
        ));
    }
    let mut errors = Vec::new();
    if request.config.is_some() {
        errors.push(FieldError::new(
            "config",
            "a reconnect takes no settings: they belong to the OAuth app; name another app of \
             the same connector as `oauth_app_id`",
        ));
    }
    let app = match request.oauth_app_id.or(credential.oauth_app_id) {
        None => {
            errors.push(FieldError::new(
                "oauth_app_id",
                "is required: this credential names no OAuth app",
            ));
            None
        }
        Some(app_id) => match app_of(state, caller.org_id, app_id).await? {
            Some(app) if app.connector == credential.connector => Some(app),
            Some(app) => {
                errors.push(FieldError::new(
                    "oauth_app_id",
                    format!(
                        "is a `{}` app; this credential needs a `{}` one",
                        app.connector, credential.connector
                    ),
                ));
                None
            }
            // Like any id of another organization: not even its existence is confirmed.
            None => return Err(no_such_app()),
        },
    };
    let return_to = checked_return_to(state, request.return_to, &mut errors);
    let (Some(app), true) = (app, errors.is_empty()) else {
        return Err(CoreError::Validation(errors));
    };
    start(
        state,
        caller,
        Start {
            app: &app,
            name: &credential.name,
            description: credential.description.clone(),
            return_to,
            credential_id: Some(credential.id),
        },
    )
    .await
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
            connect_url: "https://latch.example/v1/connect?state=state-capability-123".into(),
            expires_at: now(),
        };
        assert!(!format!("{created:?}").contains("state-capability-123"));
    }
}
