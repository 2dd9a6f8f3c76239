//! The generic `oauth2` connector against panva's `oidc-provider`, an OpenID Certified
//! authorization server Latch had no hand in (npm, pinned in `tests/oidc-provider`), on
//! 127.0.0.1: a consent with PKCE walked as a browser walks it, refresh with rotation, the
//! client credentials grant with both ways of client authentication, and revocation.

use latch_tests::oidc_provider::{OidcProvider, RegisteredClient};
use latch_tests::{
    TestApp, TestOptions, captured_logs, contains_bytes, eventually, on_both_backends,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_both_backends!(
    WithCertifiedServer:
        a_consent_with_pkce_saves_a_credential_whose_rotated_refresh_tokens_are_kept,
        client_credentials_work_with_basic_and_with_post_client_authentication,
        a_deleted_consent_credential_ends_its_grant_at_the_server,
        a_deleted_client_credentials_credential_has_its_token_revoked,
);

/// A server offering the built-in connectors beside a running `oidc-provider`.
struct WithCertifiedServer {
    app: TestApp,
    server: OidcProvider,
}

impl WithCertifiedServer {
    async fn create(backend: latch_tests::Backend) -> Option<Self> {
        let server = OidcProvider::start().await?;
        let app = TestApp::create_with(backend, TestOptions::mock_reachable()).await?;
        Some(Self { app, server })
    }

    /// A client registered for consent (client_secret_basic), and a Latch app for it whose
    /// redirect URI was then added at the server, as an admin does; the app's id.
    async fn app_for_consent(&self) -> (RegisteredClient, String) {
        let client = self
            .server
            .register(json!({
                // Replaced below by the app's own, once Latch has shown it.
                "redirect_uris": ["http://127.0.0.1/not-yet"],
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "client_secret_basic",
            }))
            .await;
        let (status, app) = self
            .app
            .send(
                Method::POST,
                "/v1/oauth-apps",
                Some(&json!({
                    "name": "Certified IdP",
                    "connector": "oauth2",
                    "config": {
                        "authorization_url": self.server.authorization_url(),
                        "token_url": self.server.token_url(),
                        "userinfo_url": self.server.userinfo_url(),
                        "revocation_url": self.server.revocation_url(),
                        "client_id": client.client_id,
                        "client_auth": "client_secret_basic",
                        "scopes": "openid profile",
                    },
                    "secrets": {"client_secret": client.client_secret},
                })),
            )
            .await;
        assert_eq!(status, 201, "{app}");
        self.server
            .set_redirect_uris(&client, &[app["redirect_uri"].as_str().unwrap()])
            .await;
        (client, app["id"].as_str().unwrap().to_string())
    }

    /// A consent through the app, approved at the server; the saved credential's id.
    async fn connected(&self, app_id: &str, name: &str) -> String {
        let (status, session) = self
            .app
            .send(
                Method::POST,
                "/v1/connect-sessions",
                Some(&json!({"name": name, "oauth_app_id": app_id})),
            )
            .await;
        assert_eq!(status, 201, "{session}");
        let page = self
            .server
            .consent(
                session["authorization_url"].as_str().unwrap(),
                &self.app.address,
            )
            .await;
        assert_eq!(page.status(), StatusCode::OK);
        let path = format!("/v1/connect-sessions/{}", session["id"].as_str().unwrap());
        let (_, session) = self.app.send(Method::GET, &path, None).await;
        assert_eq!(
            session["status"],
            "completed",
            "{session}\n{}",
            self.server.output()
        );
        session["credential_id"].as_str().unwrap().to_string()
    }

    /// A client of the client credentials grant, authenticating as `method`.
    async fn machine_client(&self, method: &str) -> RegisteredClient {
        self.server
            .register(json!({
                "redirect_uris": [],
                "response_types": [],
                "grant_types": ["client_credentials"],
                "token_endpoint_auth_method": method,
                "scope": "read write",
            }))
            .await
    }

    fn machine_credential(&self, name: &str, client: &RegisteredClient, method: &str) -> Value {
        json!({
            "name": name,
            "connector": "oauth2",
            "config": {
                "token_url": self.server.token_url(),
                "revocation_url": self.server.revocation_url(),
                "client_id": client.client_id,
                "client_auth": method,
                "scopes": "read",
            },
            "secrets": {"client_secret": client.client_secret},
        })
    }

    async fn token(&self, id: &str, body: Value) -> Value {
        let (status, token) = self
            .app
            .send(
                Method::POST,
                &format!("/v1/credentials/{id}/token"),
                Some(&body),
            )
            .await;
        assert_eq!(status, 200, "{token}\n{}", self.server.output());
        token
    }

    /// Token requests so far: with HTTP Basic client authentication, and without.
    fn token_requests(&self) -> (usize, usize) {
        (
            self.server.events("token_request.basic"),
            self.server.events("token_request.no_basic"),
        )
    }

    async fn delete(&self, id: &str) {
        let (status, problem) = self
            .app
            .send(Method::DELETE, &format!("/v1/credentials/{id}"), None)
            .await;
        assert_eq!(status, 204, "{problem}");
    }
}

async fn a_consent_with_pkce_saves_a_credential_whose_rotated_refresh_tokens_are_kept(
    fixture: WithCertifiedServer,
) {
    let (client, app_id) = fixture.app_for_consent().await;
    let id = fixture.connected(&app_id, "Certified consent").await;
    let (_, credential) = fixture
        .app
        .send(Method::GET, &format!("/v1/credentials/{id}"), None)
        .await;
    assert_eq!(credential["status"], "valid", "{credential}");
    assert_eq!(credential["auth_method"], "oauth_authorization_code");
    // The "connected as" line comes from the server's userinfo endpoint.
    assert!(
        credential["status_detail"]
            .as_str()
            .unwrap()
            .contains("Ada Lovelace"),
        "{credential}"
    );

    let first = fixture.token(&id, json!({})).await;
    assert!(
        fixture
            .server
            .is_active(&client, first["access_token"].as_str().unwrap())
            .await
    );
    // The server spends a refresh token at each use and ends the whole grant if a spent one
    // comes back: three forced refreshes in a row succeed only if each rotated token was kept.
    let mut last = first["access_token"].clone();
    for _ in 0..3 {
        let next = fixture
            .token(&id, json!({"force_refresh": true, "rejected_token": last}))
            .await;
        assert_ne!(next["access_token"], last);
        assert!(
            fixture
                .server
                .is_active(&client, next["access_token"].as_str().unwrap())
                .await
        );
        last = next["access_token"].clone();
    }
    assert_eq!(fixture.server.events("refresh_token.consumed"), 3);
    assert_eq!(fixture.server.events("grant.revoked"), 0);
    // The app's secret and the tokens are sealed in the database and in no log line.
    let stored = fixture.app.everything_stored().await;
    let logs = captured_logs();
    for secret in [client.client_secret.as_str(), last.as_str().unwrap()] {
        assert!(!contains_bytes(&stored, secret));
        assert!(!logs.contains(secret));
    }
    let (_, credential) = fixture
        .app
        .send(Method::GET, &format!("/v1/credentials/{id}"), None)
        .await;
    assert_eq!(credential["status"], "valid", "{credential}");
}

async fn client_credentials_work_with_basic_and_with_post_client_authentication(
    fixture: WithCertifiedServer,
) {
    for (method, basic) in [("client_secret_basic", 1), ("client_secret_post", 0)] {
        let client = fixture.machine_client(method).await;
        let (basic_before, others_before) = fixture.token_requests();
        let (status, created) = fixture
            .app
            .send(
                Method::POST,
                "/v1/credentials",
                Some(&fixture.machine_credential(method, &client, method)),
            )
            .await;
        assert_eq!(status, 201, "{created}\n{}", fixture.server.output());
        assert_eq!(created["status"], "valid", "{created}");
        let token = fixture
            .token(created["id"].as_str().unwrap(), json!({}))
            .await;
        assert!(
            fixture
                .server
                .is_active(&client, token["access_token"].as_str().unwrap())
                .await,
            "{method}"
        );
        // Two grants (the test login at save, then the job's token), each authenticated as
        // the credential says: the secret in an Authorization header, or in the form.
        let (basic_after, others_after) = fixture.token_requests();
        assert_eq!(basic_after - basic_before, 2 * basic, "{method}");
        assert_eq!(others_after - others_before, 2 * (1 - basic), "{method}");
    }

    // A secret the server never issued is refused, and nothing is saved.
    let client = fixture.machine_client("client_secret_basic").await;
    let mut body = fixture.machine_credential("Wrong secret", &client, "client_secret_basic");
    body["secrets"]["client_secret"] = json!("not-the-secret");
    let (status, problem) = fixture
        .app
        .send(Method::POST, "/v1/credentials", Some(&body))
        .await;
    assert_eq!(status, 422, "{problem}");
    assert!(problem.to_string().contains("invalid_client"), "{problem}");
    assert!(!problem.to_string().contains("not-the-secret"));
    let (_, list) = fixture.app.send(Method::GET, "/v1/credentials", None).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 2, "{list}");
}

async fn a_deleted_consent_credential_ends_its_grant_at_the_server(fixture: WithCertifiedServer) {
    let (client, app_id) = fixture.app_for_consent().await;
    let id = fixture.connected(&app_id, "To delete").await;
    let token = fixture.token(&id, json!({})).await;
    let access = token["access_token"].as_str().unwrap().to_string();
    assert!(fixture.server.is_active(&client, &access).await);

    fixture.delete(&id).await;
    // Revoking the refresh token ends the grant (RFC 7009 §2.1), its access tokens with it.
    eventually("the grant is revoked at the server", || async {
        fixture.server.events("grant.revoked") == 1
    })
    .await;
    assert!(!fixture.server.is_active(&client, &access).await);
}

async fn a_deleted_client_credentials_credential_has_its_token_revoked(
    fixture: WithCertifiedServer,
) {
    let client = fixture.machine_client("client_secret_post").await;
    let (status, created) = fixture
        .app
        .send(
            Method::POST,
            "/v1/credentials",
            Some(&fixture.machine_credential("Machine", &client, "client_secret_post")),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap();
    let token = fixture.token(id, json!({})).await;
    let access = token["access_token"].as_str().unwrap().to_string();
    assert!(fixture.server.is_active(&client, &access).await);

    fixture.delete(id).await;
    eventually("the token is revoked at the server", || async {
        !fixture.server.is_active(&client, &access).await
    })
    .await;
}
