//! Where browsers reach Latch: the OAuth redirect URI and the origins a connect session may
//! send the browser back to. Apart from the connect sessions so that the shared state can
//! hold it without depending on them.

use std::time::Duration;

use url::Url;

/// The path of the callback on Latch's public address.
pub const CALLBACK_PATH: &str = "/v1/oauth/callback";
/// The path of the pages a person opens to approve a connect session.
pub const CONNECT_PATH: &str = "/v1/connect";

/// Where browsers reach Latch, and where they may be sent back to.
#[derive(Debug, Clone)]
pub struct OAuthSettings {
    /// `{public_url}/v1/oauth/callback`: the shared redirect URI; an app's own is it and
    /// `/{app id}`.
    pub redirect_uri: String,
    /// `{public_url}/v1/connect`: a session's page for the person who approves is it with
    /// `?state=`.
    pub connect_base: String,
    /// Origins `return_to` may point at: the public address's, and the console's.
    pub allowed_origins: Vec<String>,
    /// Pending (unexpired) connect sessions an organization may have at once.
    pub pending_sessions_per_org: u32,
    /// How long a connect session is kept after it expired.
    pub session_retention: Duration,
}

/// The redirect URI of an OAuth app, from the shared one (`{public}/v1/oauth/callback`): its
/// own, `{shared}/{app id}`, or the shared one for an app still on it.
pub fn app_redirect_uri(shared: &str, app: &latch_store::OAuthApp) -> String {
    if app.shared_redirect {
        shared.to_string()
    } else {
        format!("{shared}/{}", app.id)
    }
}

/// Pending connect sessions per organization by default.
pub const PENDING_SESSIONS_PER_ORG: u32 = 100;
/// How long connect sessions are kept after they expired, by default: seven days.
pub const SESSION_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

impl OAuthSettings {
    /// From Latch's public address (`LATCH_PUBLIC_URL`) and extra console origins.
    pub fn new(public_url: &Url, console_origins: &[Url]) -> Self {
        let mut redirect = public_url.clone();
        let path = format!("{}{CALLBACK_PATH}", public_url.path().trim_end_matches('/'));
        redirect.set_path(&path);
        redirect.set_query(None);
        redirect.set_fragment(None);
        let mut connect = public_url.clone();
        connect.set_path(&format!(
            "{}{CONNECT_PATH}",
            public_url.path().trim_end_matches('/')
        ));
        connect.set_query(None);
        connect.set_fragment(None);
        let mut allowed_origins = vec![public_url.origin().ascii_serialization()];
        allowed_origins.extend(
            console_origins
                .iter()
                .map(|origin| origin.origin().ascii_serialization()),
        );
        Self {
            redirect_uri: redirect.to_string(),
            connect_base: connect.to_string(),
            allowed_origins,
            pending_sessions_per_org: PENDING_SESSIONS_PER_ORG,
            session_retention: SESSION_RETENTION,
        }
    }
}
