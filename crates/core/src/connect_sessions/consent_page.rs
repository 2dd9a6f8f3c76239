//! The page a person opens to approve a connect session (`connect_url`): it says which
//! organization asks, for which credential, of which connector and where the consent screen
//! is, before the person goes there. The link carries the session's state, so it needs no API
//! key, and it works only while the session is pending, unclaimed and unexpired.

use latch_connector::Fields;
use latch_connector::pkce::challenge_of;
use latch_store::{ConnectSession, ConnectSessionStatus, now};
use secrecy::ExposeSecret;
use url::Url;

use super::callback::{CallbackPath, app_answering, open_verifier};
use super::state_hash;
use crate::latch::Latch;
use crate::oauth_apps::redirect_uri;

/// What the page shows.
#[derive(Debug)]
pub enum ConsentPage {
    /// The session waits for the consent: who asks for what, and where to go.
    Ready {
        organization: String,
        credential: String,
        connector: String,
        /// Where the consent screen is (the authorization URL's origin).
        upstream: String,
        /// The consent screen; carries the state, so it is shown to no one else.
        authorization_url: Url,
    },
    /// The session ended, expired or is being completed.
    Ended(String),
    /// The link names no session.
    NotIssued,
}

pub async fn consent_page(state: &Latch, sent_state: &str) -> ConsentPage {
    if sent_state.is_empty() || sent_state.len() > 512 {
        return ConsentPage::NotIssued;
    }
    let session = match state
        .store
        .connect_session_by_state(&state_hash(sent_state))
        .await
    {
        Ok(Some(session)) => session,
        Ok(None) => return ConsentPage::NotIssued,
        Err(error) => {
            tracing::error!(%error, "could not read a connect session");
            return ConsentPage::Ended("Latch could not read the session; try again.".into());
        }
    };
    match session.status {
        ConnectSessionStatus::Pending if session.claimed_at.is_some() => {
            return ConsentPage::Ended(
                "This connection is being completed; you can close this window.".into(),
            );
        }
        ConnectSessionStatus::Pending => {}
        ConnectSessionStatus::Completed => {
            return ConsentPage::Ended(
                "This link was already used: the connection is made.".into(),
            );
        }
        // Session errors are Latch's own words (upstream text is cleaned before it is kept).
        ConnectSessionStatus::Failed => {
            return ConsentPage::Ended(format!(
                "This connection ended ({}): start it again.",
                session.error.as_deref().unwrap_or("it failed")
            ));
        }
    }
    if session.expires_at <= now() {
        return ConsentPage::Ended("This link has expired: start the connection again.".into());
    }
    match ready(state, &session, sent_state).await {
        Ok(Some(page)) => page,
        Ok(None) => ConsentPage::NotIssued,
        Err(reason) => ConsentPage::Ended(reason),
    }
}

async fn ready(
    state: &Latch,
    session: &ConnectSession,
    sent_state: &str,
) -> Result<Option<ConsentPage>, String> {
    let failed = |error: &dyn std::fmt::Display| {
        tracing::error!(%error, "could not prepare a consent page");
        "Latch could not prepare the consent; try again.".to_string()
    };
    let Some(app_id) = session.oauth_app_id else {
        return Ok(None);
    };
    let app = state
        .store
        .get_oauth_app(session.org_id, app_id)
        .await
        .map_err(|error| failed(&error))?;
    let Some(app) = app else { return Ok(None) };
    // The address the consent will come back to must answer this session.
    let path = if app.shared_redirect {
        CallbackPath::Shared
    } else {
        CallbackPath::App(app.id)
    };
    if app_answering(state, path, session)
        .await
        .map_err(|error| failed(&error))?
        .is_none()
    {
        return Err(
            "This connection cannot be completed through its app now: ask an admin of your \
             organization."
                .into(),
        );
    }
    let connector = state
        .catalogue
        .get(&app.connector)
        .ok_or("The connector is no longer offered.")?;
    let flow = connector
        .oauth()
        .ok_or("The connector no longer offers consent.")?;
    let verifier = open_verifier(state, session).map_err(|error| failed(&error))?;
    let config: Fields = app.config.as_object().cloned().unwrap_or_default();
    let authorization_url = flow
        .authorization_url(
            &config,
            &redirect_uri(state, &app),
            sent_state,
            &challenge_of(verifier.expose_secret()),
        )
        .map_err(|error| failed(&error.detail))?;
    let organization = state
        .store
        .organization(session.org_id)
        .await
        .map_err(|error| failed(&error))?
        .map(|org| org.name)
        .unwrap_or_default();
    Ok(Some(ConsentPage::Ready {
        organization,
        credential: session.name.clone(),
        connector: connector.name().to_string(),
        upstream: authorization_url.origin().ascii_serialization(),
        authorization_url,
    }))
}
