//! Providers declared as files, served through the same core as Looker: the shipped generic
//! `oauth2` provider and a provider an operator adds from `LATCH_PROVIDERS_DIR`, against the
//! strict authorization server of the test crate (real HTTP on 127.0.0.1).

use latch_tests::mock_oauth::{Auth, MockOAuth, Profile, USER_NAME};
use latch_tests::{TestApp, TestOptions, contains_bytes, on_both_backends, problem_fields};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_both_backends!(
    WithProvider:
        a_client_credentials_credential_is_validated_by_a_real_grant_and_its_token_is_cached,
        a_wrong_client_secret_is_refused_at_save_and_nothing_is_stored,
        a_consent_through_an_app_with_a_client_secret_saves_a_credential_that_refreshes_with_rotation,
        an_apps_client_secret_is_required_sealed_and_sent_again_when_its_token_url_changes,
        a_deleted_consent_credential_is_revoked_at_the_revocation_endpoint,
        settings_of_another_connector_conflict_with_the_record_they_are_sent_to,
        five_hundred_jobs_on_two_replicas_rejecting_the_token_cost_one_refresh_grant,
        a_rate_limited_refresh_answers_503_with_the_providers_retry_after;
    WithOperatorsProvider:
        a_provider_from_an_operators_folder_is_listed_and_connects_with_no_rust_change,
);

const CLIENT: &str = "latch-generic";
const SECRET: &str = "generic-s3cr3t:with%chars";

/// A server offering the built-in connectors, an authorization server that knows one client
/// (secret in the form body, rotating refresh tokens, 10-minute tokens), and a browser that
/// follows no redirect on its own.
struct WithProvider {
    app: TestApp,
    oauth: MockOAuth,
    browser: reqwest::Client,
}

impl WithProvider {
    async fn create(backend: latch_tests::Backend) -> Option<Self> {
        Self::serving(backend, TestOptions::mock_reachable()).await
    }

    async fn serving(backend: latch_tests::Backend, options: TestOptions) -> Option<Self> {
        let app = TestApp::create_with(backend, options).await?;
        let oauth = MockOAuth::start(Profile {
            expires_in: Some(600),
            rotate_refresh_tokens: true,
            require_pkce: true,
            ..Profile::default()
        })
        .await;
        oauth.register(CLIENT, SECRET, Auth::Post, &["read", "write", "openid"]);
        let browser = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Some(Self {
            app,
            oauth,
            browser,
        })
    }

    fn credential(&self, name: &str, secret: &str) -> Value {
        json!({
            "name": name,
            "connector": "oauth2",
            "config": {
                "token_url": self.oauth.token_url(),
                "client_id": CLIENT,
                "client_auth": "client_secret_post",
                "scopes": "read",
            },
            "secrets": {"client_secret": secret},
        })
    }

    /// An app for the server's client, with its redirect URI registered there; its id.
    async fn app_for_consent(&self) -> String {
        let (status, app) = self
            .app
            .send(Method::POST, "/v1/oauth-apps", Some(&self.app_body()))
            .await;
        assert_eq!(status, 201, "{app}");
        self.oauth
            .register_redirect_uri(CLIENT, app["redirect_uri"].as_str().unwrap());
        app["id"].as_str().unwrap().to_string()
    }

    fn app_body(&self) -> Value {
        json!({
            "name": "Generic IdP",
            "connector": "oauth2",
            "config": {
                "authorization_url": self.oauth.authorization_url(),
                "token_url": self.oauth.token_url(),
                "userinfo_url": self.oauth.userinfo_url(),
                "revocation_url": self.oauth.revocation_url(),
                "client_id": CLIENT,
                "client_auth": "client_secret_post",
                "scopes": "openid read",
            },
            "secrets": {"client_secret": SECRET},
        })
    }

    /// A consent through the app, the browser's trip followed a redirect at a time; the
    /// credential's id.
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
        let screen = self
            .browser
            .get(session["authorization_url"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(screen.status(), StatusCode::FOUND);
        let back = screen.headers()["location"].to_str().unwrap().to_string();
        assert!(
            back.starts_with(&self.app.address),
            "sent elsewhere: {back}"
        );
        let page = self.browser.get(back).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        let path = format!("/v1/connect-sessions/{}", session["id"].as_str().unwrap());
        let (_, session) = self.app.send(Method::GET, &path, None).await;
        assert_eq!(session["status"], "completed", "{session}");
        session["credential_id"].as_str().unwrap().to_string()
    }

    async fn token(&self, id: &str, body: Value) -> (u16, Value) {
        self.app
            .send(
                Method::POST,
                &format!("/v1/credentials/{id}/token"),
                Some(&body),
            )
            .await
    }
}

async fn a_client_credentials_credential_is_validated_by_a_real_grant_and_its_token_is_cached(
    fixture: WithProvider,
) {
    let (status, created) = fixture
        .app
        .send(
            Method::POST,
            "/v1/credentials",
            Some(&fixture.credential("Generic API", SECRET)),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["status"], "valid", "{created}");
    assert_eq!(created["auth_method"], "oauth_client_credentials");
    assert!(created.get("secrets").is_none());
    let granted_at_save = fixture.oauth.grants();
    assert_eq!(granted_at_save, 1, "the save made one real grant");

    let id = created["id"].as_str().unwrap();
    let (status, first) = fixture.token(id, json!({})).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["token_type"], "Bearer");
    assert!(first["expires_in"].as_i64().unwrap() > 500, "{first}");
    assert!(
        fixture
            .oauth
            .is_active(first["access_token"].as_str().unwrap())
    );
    let (_, second) = fixture.token(id, json!({"min_ttl_seconds": 60})).await;
    assert_eq!(second["access_token"], first["access_token"]);
    assert_eq!(
        fixture.oauth.grants(),
        granted_at_save + 1,
        "one grant for both"
    );

    let (status, forced) = fixture
        .token(
            id,
            json!({"force_refresh": true, "rejected_token": first["access_token"]}),
        )
        .await;
    assert_eq!(status, 200, "{forced}");
    assert_ne!(forced["access_token"], first["access_token"]);
}

async fn a_wrong_client_secret_is_refused_at_save_and_nothing_is_stored(fixture: WithProvider) {
    let (status, problem) = fixture
        .app
        .send(
            Method::POST,
            "/v1/credentials",
            Some(&fixture.credential("Wrong secret", "not-the-secret")),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    assert!(problem.to_string().contains("invalid_client"), "{problem}");
    assert!(!problem.to_string().contains("not-the-secret"));
    let (_, list) = fixture.app.send(Method::GET, "/v1/credentials", None).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 0, "{list}");

    // A value that would point the token URL elsewhere is refused by its field.
    let mut body = fixture.credential("Bad URL", SECRET);
    body["config"]["token_url"] = json!("https://user@idp.example/token");
    let (status, problem) = fixture
        .app
        .send(Method::POST, "/v1/credentials", Some(&body))
        .await;
    assert_eq!(status, 422);
    assert_eq!(problem_fields(&problem), ["config.token_url"]);
    // A consent-only choice is not typed: an unknown client authentication is refused.
    body = fixture.credential("Bad auth", SECRET);
    body["config"]["client_auth"] = json!("private_key_jwt");
    let (status, problem) = fixture
        .app
        .send(Method::POST, "/v1/credentials", Some(&body))
        .await;
    assert_eq!(status, 422);
    assert_eq!(problem_fields(&problem), ["config.client_auth"]);
}

async fn a_consent_through_an_app_with_a_client_secret_saves_a_credential_that_refreshes_with_rotation(
    fixture: WithProvider,
) {
    let app_id = fixture.app_for_consent().await;
    let id = fixture.connected(&app_id, "Generic consent").await;
    let (_, credential) = fixture
        .app
        .send(Method::GET, &format!("/v1/credentials/{id}"), None)
        .await;
    assert_eq!(credential["status"], "valid", "{credential}");
    assert_eq!(credential["auth_method"], "oauth_authorization_code");
    assert!(
        credential["status_detail"]
            .as_str()
            .unwrap()
            .contains(USER_NAME),
        "{credential}"
    );

    let (status, first) = fixture.token(&id, json!({})).await;
    assert_eq!(status, 200, "{first}");
    // Each forced refresh spends the refresh token it was given and keeps the one the answer
    // rotated in: a second and a third work only if the rotated ones were stored.
    let mut last = first["access_token"].clone();
    for _ in 0..2 {
        let (status, next) = fixture
            .token(&id, json!({"force_refresh": true, "rejected_token": last}))
            .await;
        assert_eq!(status, 200, "{next}");
        assert_ne!(next["access_token"], last);
        last = next["access_token"].clone();
    }
    let stored = fixture.app.everything_stored().await;
    assert!(
        !contains_bytes(&stored, SECRET),
        "the client secret is sealed"
    );
    assert!(!contains_bytes(&stored, last.as_str().unwrap()));
}

async fn an_apps_client_secret_is_required_sealed_and_sent_again_when_its_token_url_changes(
    fixture: WithProvider,
) {
    let mut body = fixture.app_body();
    body.as_object_mut().unwrap().remove("secrets");
    let (status, problem) = fixture
        .app
        .send(Method::POST, "/v1/oauth-apps", Some(&body))
        .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem_fields(&problem), ["secrets"]);

    let app_id = fixture.app_for_consent().await;
    let path = format!("/v1/oauth-apps/{app_id}");
    let (_, app) = fixture.app.send(Method::GET, &path, None).await;
    assert!(app.get("secrets").is_none(), "{app}");
    assert!(!app.to_string().contains(SECRET));

    let mut config = fixture.app_body()["config"].clone();
    config["token_url"] = json!("http://127.0.0.2:9/token");
    let (status, problem) = fixture
        .app
        .send(Method::PATCH, &path, Some(&json!({"config": config})))
        .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem_fields(&problem), ["secrets"]);
    assert!(
        problem.to_string().contains("config.token_url"),
        "{problem}"
    );
    let (status, changed) = fixture
        .app
        .send(
            Method::PATCH,
            &path,
            Some(&json!({"config": config, "secrets": {"client_secret": "rotated"}})),
        )
        .await;
    assert_eq!(status, 200, "{changed}");
    assert!(!contains_bytes(
        &fixture.app.everything_stored().await,
        "rotated\""
    ));
}

async fn a_deleted_consent_credential_is_revoked_at_the_revocation_endpoint(fixture: WithProvider) {
    let app_id = fixture.app_for_consent().await;
    let id = fixture.connected(&app_id, "To delete").await;
    let (status, token) = fixture.token(&id, json!({})).await;
    assert_eq!(status, 200, "{token}");
    let access = token["access_token"].as_str().unwrap().to_string();
    assert!(fixture.oauth.is_active(&access));
    let (status, _) = fixture
        .app
        .send(Method::DELETE, &format!("/v1/credentials/{id}"), None)
        .await;
    assert_eq!(status, 204);
    latch_tests::eventually("the token is revoked upstream", || async {
        !fixture.oauth.is_active(&access)
    })
    .await;
    assert!(fixture.oauth.revocations() >= 1);
}

async fn settings_of_another_connector_conflict_with_the_record_they_are_sent_to(
    fixture: WithProvider,
) {
    let looker = fixture.app.create_credential("Looker", "s3cr3t").await;
    let looker_id = looker["id"].as_str().unwrap();
    // A generic provider's settings sent to a Looker credential: they would do for an
    // `oauth2` credential, not for this one.
    let config = fixture.credential("x", SECRET)["config"].clone();
    let (status, problem) = fixture
        .app
        .send(
            Method::PATCH,
            &format!("/v1/credentials/{looker_id}"),
            Some(&json!({"config": config})),
        )
        .await;
    assert_eq!(status, 409, "{problem}");
    assert!(
        problem["detail"].as_str().unwrap().contains("`oauth2`"),
        "{problem}"
    );
    // So is a service account's key sent as its secrets.
    let (status, problem) = fixture
        .app
        .send(
            Method::PATCH,
            &format!("/v1/credentials/{looker_id}"),
            Some(&json!({"secrets": {"private_key": "-----BEGIN PRIVATE KEY-----"}})),
        )
        .await;
    assert_eq!(status, 409, "{problem}");
    assert!(
        problem["detail"].as_str().unwrap().contains("`google`"),
        "{problem}"
    );
    // A typo is still a bad field.
    let (status, problem) = fixture
        .app
        .send(
            Method::PATCH,
            &format!("/v1/credentials/{looker_id}"),
            Some(&json!({"config": {"api_host": "https://x.example"}})),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem_fields(&problem), ["config.api_host"]);

    // A generic data source cannot select a Looker credential.
    let (status, problem) = fixture
        .app
        .send(
            Method::POST,
            "/v1/data-sources",
            Some(&json!({"name": "src", "connector": "oauth2", "credential_id": looker_id})),
        )
        .await;
    assert_eq!(status, 409, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("`looker` credential"),
        "{problem}"
    );

    // An app with a client secret is not given an empty one (a Looker app's secrets).
    let app_id = fixture.app_for_consent().await;
    let (status, problem) = fixture
        .app
        .send(
            Method::PATCH,
            &format!("/v1/oauth-apps/{app_id}"),
            Some(&json!({"secrets": {}})),
        )
        .await;
    assert_eq!(status, 409, "{problem}");
    let (status, problem) = fixture
        .app
        .send(
            Method::PATCH,
            &format!("/v1/oauth-apps/{app_id}"),
            Some(&json!({"secrets": {"client_secret": ""}})),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem_fields(&problem), ["secrets.client_secret"]);
}

async fn five_hundred_jobs_on_two_replicas_rejecting_the_token_cost_one_refresh_grant(
    fixture: WithProvider,
) {
    let app_id = fixture.app_for_consent().await;
    let id = fixture.connected(&app_id, "busy").await;
    let (_, current) = fixture.token(&id, json!({})).await;
    let second = fixture.app.replica(TestOptions::mock_reachable()).await;
    let grants = fixture.oauth.grants();
    let body = json!({"rejected_token": current["access_token"]});
    let addresses = [fixture.app.address.as_str(), second.as_str()];
    let tokens = latch_tests::token_storm(&fixture.app, &addresses, &id, &body, 500).await;
    assert_eq!(
        tokens.len(),
        1,
        "every job on both replicas got the one new token"
    );
    assert!(!tokens.contains(current["access_token"].as_str().unwrap()));
    assert_eq!(fixture.oauth.grants(), grants + 1, "one refresh grant");
    // The rotated refresh token was kept: the next refresh works from either replica.
    let next = tokens.into_iter().next().unwrap();
    let response = fixture
        .app
        .client
        .post(format!("{second}/v1/credentials/{id}/token"))
        .bearer_auth(&fixture.app.admin_key)
        .json(&json!({"rejected_token": next}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

async fn a_rate_limited_refresh_answers_503_with_the_providers_retry_after(fixture: WithProvider) {
    fixture.oauth.set_profile(Profile {
        expires_in: Some(1),
        rotate_refresh_tokens: true,
        require_pkce: true,
        ..Profile::default()
    });
    let app_id = fixture.app_for_consent().await;
    let id = fixture.connected(&app_id, "limited").await;
    fixture.oauth.set_profile(Profile {
        rate_limited: Some(30),
        require_pkce: true,
        ..Profile::default()
    });
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let response = fixture
        .app
        .client
        .post(fixture.app.url(&format!("/v1/credentials/{id}/token")))
        .bearer_auth(&fixture.app.admin_key)
        .json(&json!({"min_ttl_seconds": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "30");
    // The wait is honoured: the next asks do not reach the provider.
    let refusals = fixture.oauth.refusals();
    for _ in 0..3 {
        let (status, _) = fixture.token(&id, json!({"min_ttl_seconds": 0})).await;
        assert_eq!(status, 503);
    }
    assert_eq!(fixture.oauth.refusals(), refusals);
    let (_, credential) = fixture
        .app
        .send(Method::GET, &format!("/v1/credentials/{id}"), None)
        .await;
    assert_eq!(
        credential["status"], "valid",
        "a wait is no refusal of the grant"
    );
}

/// A provider an operator declares in a file of their own.
const OPERATORS_PROVIDER: &str = r#"
id = "acme_idp"
name = "Acme IdP"
description = "Acme's identity provider, declared by the operator."
docs_url = "https://docs.acme.example/oauth"
auth_methods = ["oauth_authorization_code", "oauth_client_credentials"]

[[fields]]
name = "base_url"
title = "Acme URL"
help = "Where Acme's IdP answers."
kind = "url"
example = "https://idp.acme.example"

[oauth]
authorization_url = "{base_url}/authorize"
token_url = "{base_url}/token"
client_auth = "client_secret_basic"
pkce = true
scopes = ["read"]
"#;

/// A server whose catalogue is read from an operator's folder, as `LATCH_PROVIDERS_DIR`
/// makes it.
struct WithOperatorsProvider {
    fixture: WithProvider,
    _folder: tempfile::TempDir,
}

impl WithOperatorsProvider {
    async fn create(backend: latch_tests::Backend) -> Option<Self> {
        let folder = tempfile::tempdir().unwrap();
        std::fs::write(folder.path().join("acme.toml"), OPERATORS_PROVIDER).unwrap();
        let mut options = TestOptions::mock_reachable();
        options.catalogue = Some(
            latch_api::connectors::with_providers_from(folder.path()).expect("the file loads"),
        );
        Some(Self {
            fixture: WithProvider::serving(backend, options).await?,
            _folder: folder,
        })
    }
}

async fn a_provider_from_an_operators_folder_is_listed_and_connects_with_no_rust_change(
    with: WithOperatorsProvider,
) {
    let fixture = &with.fixture;
    let (status, listed) = fixture
        .app
        .send(Method::GET, "/v1/connectors/acme_idp", None)
        .await;
    assert_eq!(status, 200, "{listed}");
    let methods: Vec<&str> = listed["auth_methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|method| method["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        methods,
        ["oauth_authorization_code", "oauth_client_credentials"]
    );
    let (_, document) = fixture.app.send(Method::GET, "/openapi.json", None).await;
    assert!(
        document["components"]["schemas"]
            .get("acme_idp.config")
            .is_some(),
        "the served document follows the folder"
    );

    // The operator's provider sends the client in a Basic header: register it so.
    fixture
        .oauth
        .register("acme-basic", SECRET, Auth::Basic, &["read"]);
    let body = json!({
        "name": "Acme via the folder",
        "connector": "acme_idp",
        "config": {"base_url": fixture.oauth.url, "client_id": "acme-basic"},
        "secrets": {"client_secret": SECRET},
    });
    let (status, created) = fixture
        .app
        .send(Method::POST, "/v1/credentials", Some(&body))
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["status"], "valid", "{created}");
    let (status, token) = fixture
        .token(created["id"].as_str().unwrap(), json!({}))
        .await;
    assert_eq!(status, 200, "{token}");
}
