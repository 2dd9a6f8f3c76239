//! Each shipped provider, end to end through its behaviour as its documentation gives it: the
//! strict authorization server of the test crate plays the provider (how its client
//! authenticates, PKCE, rotating or kept refresh tokens, a lifetime or none, extra token
//! fields, its identity's shape), and the provider's own declaration file is served with its
//! hosts pointed at that server. Paths, parameters, templates and everything else in the file
//! are the file's.

use std::sync::Arc;

use latch_connector::Connector;
use latch_core::catalogue::Catalogue;
use latch_tests::mock_oauth::{Auth, MockOAuth, Profile, USER_NAME};
use latch_tests::{TestApp, TestOptions, on_both_backends};
use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};

on_both_backends!(
    Shipped:
        hubspot_connects_by_consent_with_its_secret_in_the_body_and_30_minute_tokens,
        xero_connects_a_public_client_by_pkce_and_hands_jobs_the_tenant_id,
        microsoft_connects_in_its_tenant_rotates_refresh_tokens_and_grants_client_credentials,
        google_asks_for_offline_access_and_revokes_the_grant_when_the_credential_goes,
        a_google_service_account_signs_its_assertions_and_its_key_is_checked_sealed_and_never_shown,
        salesforce_keeps_the_instance_url_lives_its_session_length_and_grants_client_credentials,
        a_salesforce_credential_by_jwt_bearer_signs_for_its_user_beside_client_credentials,
);

const CLIENT: &str = "shipped-client";
const SECRET: &str = "shipped-s3cr3t";

/// A shipped provider's declaration with every endpoint's scheme and host (`https://host`
/// or `https://{field}`) replaced by `{mock_base}`, a URL setting for the test server.
fn pointed_at_the_test_server(id: &str) -> String {
    let path = format!("{}/../providers/{id}.toml", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("the shipped file");
    let mut out = String::new();
    for line in text.lines() {
        let endpoint = [
            "authorization_url",
            "token_url",
            "revocation_url",
            "url",
            "audience",
        ]
        .iter()
        .any(|key| line.starts_with(&format!("{key} = \"https://")));
        if endpoint {
            let (key, rest) = line.split_once("\"https://").unwrap();
            let path_start = rest.find('/').unwrap_or(rest.len() - 1);
            out.push_str(&format!("{key}\"{{mock_base}}{}", &rest[path_start..]));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out.push_str(
        "\n[[fields]]\nname = \"mock_base\"\ntitle = \"Test server\"\n\
         help = \"Where the test's authorization server answers.\"\nkind = \"url\"\n",
    );
    out
}

/// A server offering the shipped providers as pointed at the test server, with that server
/// playing `profile`.
struct Shipped {
    app: TestApp,
    oauth: MockOAuth,
    browser: reqwest::Client,
}

impl Shipped {
    async fn create(backend: latch_tests::Backend) -> Option<Self> {
        let sources: Vec<_> = ["hubspot", "xero", "microsoft", "google", "salesforce"]
            .into_iter()
            .map(|id| latch_connector_declared::Source {
                file: format!("{id}.toml"),
                text: pointed_at_the_test_server(id),
            })
            .collect();
        let declared = latch_connector_declared::load(&sources).unwrap_or_else(|problems| {
            panic!("{problems:#?}");
        });
        let mut connectors: Vec<Arc<dyn Connector>> =
            vec![Arc::new(latch_connector_looker::Looker)];
        connectors.extend(
            declared
                .into_iter()
                .map(|connector| Arc::new(connector) as Arc<dyn Connector>),
        );
        let mut options = TestOptions::mock_reachable();
        options.catalogue = Some(Catalogue::new(connectors));
        let app = TestApp::create_with(backend, options).await?;
        let oauth = MockOAuth::start(Profile::default()).await;
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

    /// Registers the provider's client as the provider has it, and an app for it in Latch
    /// with `config` besides the test server and the client ID; the app's id and the
    /// connect session's consent URL.
    async fn app(&self, connector: &str, auth: Auth, scopes: &[&str], config: Value) -> String {
        let secret = if auth == Auth::Public { "" } else { SECRET };
        self.oauth.register(CLIENT, secret, auth, scopes);
        let mut settings = config.as_object().cloned().unwrap_or_default();
        settings.insert("mock_base".into(), json!(self.oauth.url));
        settings.insert("client_id".into(), json!(CLIENT));
        let mut body = json!({"name": connector, "connector": connector, "config": settings});
        if auth != Auth::Public {
            body["secrets"] = json!({"client_secret": SECRET});
        }
        let (status, app) = self
            .app
            .send(Method::POST, "/v1/oauth-apps", Some(&body))
            .await;
        assert_eq!(status, 201, "{app}");
        self.oauth
            .register_redirect_uri(CLIENT, app["redirect_uri"].as_str().unwrap());
        app["id"].as_str().unwrap().to_string()
    }

    /// A consent through the app; the consent URL and the credential.
    async fn connect(&self, app_id: &str) -> (url::Url, Value) {
        let (status, session) = self
            .app
            .send(
                Method::POST,
                "/v1/connect-sessions",
                Some(&json!({"name": "by consent", "oauth_app_id": app_id})),
            )
            .await;
        assert_eq!(status, 201, "{session}");
        let consent_url = url::Url::parse(session["authorization_url"].as_str().unwrap()).unwrap();
        let screen = self.browser.get(consent_url.as_str()).send().await.unwrap();
        assert_eq!(screen.status(), StatusCode::FOUND, "{consent_url}");
        let back = screen.headers()["location"].to_str().unwrap().to_string();
        let page = self.browser.get(&back).send().await.unwrap();
        let status = page.status();
        let text = page.text().await.unwrap();
        assert_eq!(status, StatusCode::OK, "{text}");
        let path = format!("/v1/connect-sessions/{}", session["id"].as_str().unwrap());
        let (_, session) = self.app.send(Method::GET, &path, None).await;
        assert_eq!(session["status"], "completed", "{session}");
        let id = session["credential_id"].as_str().unwrap();
        let (_, credential) = self
            .app
            .send(Method::GET, &format!("/v1/credentials/{id}"), None)
            .await;
        assert_eq!(credential["status"], "valid", "{credential}");
        (consent_url, credential)
    }

    async fn token(&self, credential: &Value, body: Value) -> Value {
        let id = credential["id"].as_str().unwrap();
        let (status, token) = self
            .app
            .send(
                Method::POST,
                &format!("/v1/credentials/{id}/token"),
                Some(&body),
            )
            .await;
        assert_eq!(status, 200, "{token}");
        token
    }

    /// Two forced refreshes in a row: each works only with the refresh token the one before
    /// stored (when the provider rotates them).
    async fn refreshes_twice(&self, credential: &Value) {
        let mut last = self.token(credential, json!({})).await["access_token"].clone();
        for _ in 0..2 {
            let next = self
                .token(
                    credential,
                    json!({"force_refresh": true, "rejected_token": last}),
                )
                .await;
            assert_ne!(next["access_token"], last);
            last = next["access_token"].clone();
        }
    }

    /// A credential of the client credentials grant; its view.
    async fn client_credentials(&self, connector: &str, config: Value) -> Value {
        let mut settings = config.as_object().cloned().unwrap_or_default();
        settings.insert("mock_base".into(), json!(self.oauth.url));
        settings.insert("client_id".into(), json!(CLIENT));
        let (status, created) = self
            .app
            .send(
                Method::POST,
                "/v1/credentials",
                Some(&json!({
                    "name": "client credentials",
                    "connector": connector,
                    "config": settings,
                    "secrets": {"client_secret": SECRET},
                })),
            )
            .await;
        assert_eq!(status, 201, "{created}");
        assert_eq!(created["auth_method"], "oauth_client_credentials");
        created
    }
}

fn detail(credential: &Value) -> &str {
    credential["status_detail"].as_str().unwrap()
}

fn query(url: &url::Url) -> Map<String, Value> {
    url.query_pairs()
        .map(|(key, value)| (key.into_owned(), json!(value.into_owned())))
        .collect()
}

async fn hubspot_connects_by_consent_with_its_secret_in_the_body_and_30_minute_tokens(
    fixture: Shipped,
) {
    fixture.oauth.set_profile(Profile {
        expires_in: Some(1800),
        require_pkce: true,
        ..Profile::default()
    });
    let app = fixture
        .app("hubspot", Auth::Post, &["oauth"], json!({}))
        .await;
    let (consent_url, credential) = fixture.connect(&app).await;
    assert_eq!(consent_url.path(), "/oauth/authorize");
    assert_eq!(query(&consent_url)["scope"], "oauth");
    // No identity request is declared: the consent reads as connected.
    assert_eq!(detail(&credential), "connected to HubSpot");
    let token = fixture.token(&credential, json!({})).await;
    let lives = token["expires_in"].as_i64().unwrap();
    assert!((1700..=1800).contains(&lives), "{token}");
    fixture.refreshes_twice(&credential).await;
}

async fn xero_connects_a_public_client_by_pkce_and_hands_jobs_the_tenant_id(fixture: Shipped) {
    fixture.oauth.set_profile(Profile {
        expires_in: Some(1800),
        rotate_refresh_tokens: true,
        require_pkce: true,
        identity: Some(json!([
            {"id": "c1", "tenantId": "fe79f7dd-b6d4-4a92-ba7b-538af6289c58",
             "tenantName": "Demo Company (NZ)", "tenantType": "ORGANISATION"}
        ])),
        ..Profile::default()
    });
    let scopes = [
        "openid",
        "profile",
        "email",
        "offline_access",
        "accounting.transactions",
    ];
    let app = fixture.app("xero", Auth::Public, &scopes, json!({})).await;
    let (consent_url, credential) = fixture.connect(&app).await;
    assert_eq!(consent_url.path(), "/identity/connect/authorize");
    assert_eq!(query(&consent_url)["code_challenge_method"], "S256");
    assert!(
        detail(&credential).contains("Demo Company (NZ)"),
        "{credential}"
    );
    let token = fixture.token(&credential, json!({})).await;
    assert_eq!(
        token["metadata"]["tenant_id"], "fe79f7dd-b6d4-4a92-ba7b-538af6289c58",
        "{token} {credential}"
    );
    fixture.refreshes_twice(&credential).await;
    // The refreshed token carries it too.
    let token = fixture.token(&credential, json!({})).await;
    assert_eq!(
        token["metadata"]["tenant_id"],
        "fe79f7dd-b6d4-4a92-ba7b-538af6289c58"
    );
}

async fn microsoft_connects_in_its_tenant_rotates_refresh_tokens_and_grants_client_credentials(
    fixture: Shipped,
) {
    fixture.oauth.set_profile(Profile {
        expires_in: Some(3600),
        rotate_refresh_tokens: true,
        require_pkce: true,
        identity: Some(json!({"displayName": "Megan Bowen", "id": "u-1"})),
        ..Profile::default()
    });
    let scopes = [
        "offline_access",
        "https://graph.microsoft.com/User.Read",
        "https://graph.microsoft.com/.default",
    ];
    let tenant = json!({"tenant": "contoso.onmicrosoft.com"});
    let app = fixture
        .app("microsoft", Auth::Post, &scopes, tenant.clone())
        .await;
    let (consent_url, credential) = fixture.connect(&app).await;
    assert_eq!(
        consent_url.path(),
        "/contoso.onmicrosoft.com/oauth2/v2.0/authorize"
    );
    assert!(detail(&credential).contains("Megan Bowen"), "{credential}");
    fixture.refreshes_twice(&credential).await;

    // The client credentials grant asks for the resource's `.default` scope.
    let grants = fixture.oauth.grants();
    let created = fixture.client_credentials("microsoft", tenant).await;
    assert_eq!(created["status"], "valid", "{created}");
    assert_eq!(fixture.oauth.grants(), grants + 1);
    // A tenant that would move the URL elsewhere is refused by its field.
    let (status, problem) = fixture
        .app
        .send(
            Method::POST,
            "/v1/credentials",
            Some(&json!({
                "name": "bad tenant",
                "connector": "microsoft",
                "config": {"tenant": "evil.example/x", "client_id": CLIENT,
                           "mock_base": fixture.oauth.url},
                "secrets": {"client_secret": SECRET},
            })),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(latch_tests::problem_fields(&problem), ["config.tenant"]);
}

async fn google_asks_for_offline_access_and_revokes_the_grant_when_the_credential_goes(
    fixture: Shipped,
) {
    fixture.oauth.set_profile(Profile {
        expires_in: Some(3599),
        require_pkce: true,
        identity: Some(json!({"sub": "1", "email": "ada@example.com", "name": USER_NAME})),
        ..Profile::default()
    });
    let app = fixture
        .app(
            "google",
            Auth::Post,
            &["openid", "email", "profile"],
            json!({}),
        )
        .await;
    let (consent_url, credential) = fixture.connect(&app).await;
    let asked = query(&consent_url);
    assert_eq!(consent_url.path(), "/o/oauth2/v2/auth");
    assert_eq!(asked["access_type"], "offline");
    assert_eq!(asked["prompt"], "consent");
    assert!(
        detail(&credential).contains("ada@example.com"),
        "{credential}"
    );
    let token = fixture.token(&credential, json!({})).await;
    let access = token["access_token"].as_str().unwrap().to_string();
    let id = credential["id"].as_str().unwrap();
    let (status, _) = fixture
        .app
        .send(Method::DELETE, &format!("/v1/credentials/{id}"), None)
        .await;
    assert_eq!(status, 204);
    latch_tests::eventually("the grant is revoked at Google's endpoint", || async {
        !fixture.oauth.is_active(&access)
    })
    .await;
}

async fn a_google_service_account_signs_its_assertions_and_its_key_is_checked_sealed_and_never_shown(
    fixture: Shipped,
) {
    fixture.oauth.set_profile(Profile {
        expires_in: Some(3599),
        // Google takes assertions that live up to an hour.
        max_assertion_lifetime: 3600,
        ..Profile::default()
    });
    let key = include_str!("../fixtures/jwt-test-key.pem");
    let issuer = "exports@acme-project.iam.gserviceaccount.com";
    fixture.oauth.register_service_account(issuer, key);
    let body = |key: &str| {
        json!({
            "name": "service account",
            "connector": "google",
            "config": {"mock_base": fixture.oauth.url, "issuer": issuer,
                       "scopes": "https://www.googleapis.com/auth/drive.readonly"},
            "secrets": {"private_key": key},
        })
    };
    let (status, created) = fixture
        .app
        .send(Method::POST, "/v1/credentials", Some(&body(key)))
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["auth_method"], "jwt_bearer");
    assert_eq!(created["status"], "valid", "{created}");
    assert!(detail(&created).contains(issuer), "{created}");
    let token = fixture.token(&created, json!({})).await;
    assert!(
        fixture
            .oauth
            .is_active(token["access_token"].as_str().unwrap())
    );

    // A key that cannot sign is refused when it is saved, and not repeated.
    let (status, problem) = fixture
        .app
        .send(
            Method::POST,
            "/v1/credentials",
            Some(&body(
                "-----BEGIN PRIVATE KEY-----\nbm90LWEta2V5\n-----END PRIVATE KEY-----",
            )),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(
        latch_tests::problem_fields(&problem),
        ["secrets.private_key"]
    );
    assert!(!problem.to_string().contains("bm90LWEta2V5"));
    // Another service account's key signs assertions Google refuses: nothing is saved.
    let (status, refused) = fixture
        .app
        .send(
            Method::POST,
            "/v1/credentials",
            Some(&json!({
                "name": "stranger",
                "connector": "google",
                "config": {"mock_base": fixture.oauth.url, "issuer": "stranger@x.example",
                           "scopes": "https://www.googleapis.com/auth/drive.readonly"},
                "secrets": {"private_key": key},
            })),
        )
        .await;
    assert_eq!(status, 422, "{refused}");
    assert!(refused.to_string().contains("invalid_grant"), "{refused}");
    let stored = fixture.app.everything_stored().await;
    let key_body = key.lines().nth(1).unwrap();
    assert!(
        !latch_tests::contains_bytes(&stored, key_body),
        "the key is sealed"
    );
    assert!(!latch_tests::captured_logs().contains(key_body));
}

async fn salesforce_keeps_the_instance_url_lives_its_session_length_and_grants_client_credentials(
    fixture: Shipped,
) {
    let instance = "https://acme.my.salesforce.com";
    fixture.oauth.set_profile(Profile {
        // Salesforce answers no `expires_in`.
        expires_in: None,
        require_pkce: true,
        extra: json!({"instance_url": instance, "issued_at": "1278448384422"})
            .as_object()
            .cloned()
            .unwrap(),
        identity: Some(json!({"name": "Ada Admin", "preferred_username": "ada@acme.com"})),
        ..Profile::default()
    });
    let app = fixture
        .app(
            "salesforce",
            Auth::Post,
            &["api", "refresh_token"],
            json!({"login_host": "acme.my.salesforce.com"}),
        )
        .await;
    let (consent_url, credential) = fixture.connect(&app).await;
    assert_eq!(consent_url.path(), "/services/oauth2/authorize");
    assert!(detail(&credential).contains("Ada Admin"), "{credential}");
    let token = fixture.token(&credential, json!({})).await;
    assert_eq!(token["metadata"]["instance_url"], instance, "{token}");
    assert!(
        token["metadata"].get("issued_at").is_none(),
        "only what is declared"
    );
    let lives = token["expires_in"].as_i64().unwrap();
    assert!(
        (7000..=7200).contains(&lives),
        "the session length: {token}"
    );
    fixture.refreshes_twice(&credential).await;

    let created = fixture
        .client_credentials(
            "salesforce",
            json!({"login_host": "acme.my.salesforce.com"}),
        )
        .await;
    assert_eq!(created["status"], "valid", "{created}");
    let token = fixture.token(&created, json!({})).await;
    assert_eq!(token["metadata"]["instance_url"], instance);
}

async fn a_salesforce_credential_by_jwt_bearer_signs_for_its_user_beside_client_credentials(
    fixture: Shipped,
) {
    let instance = "https://acme.my.salesforce.com";
    fixture.oauth.set_profile(Profile {
        expires_in: None,
        extra: json!({"instance_url": instance})
            .as_object()
            .cloned()
            .unwrap(),
        // "exp" within 3 minutes, `aud` the login host's URL, and a user to act as.
        max_assertion_lifetime: 180,
        assertion_audience: Some(fixture.oauth.url.clone()),
        require_subject: true,
        ..Profile::default()
    });
    let key = include_str!("../fixtures/jwt-test-key.pem");
    let consumer_key = "3MVG9-consumer-key";
    fixture.oauth.register_service_account(consumer_key, key);

    // The connector lists the method with its own form.
    let (_, salesforce) = fixture
        .app
        .send(Method::GET, "/v1/connectors/salesforce", None)
        .await;
    let methods: Vec<&str> = salesforce["auth_methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|method| method["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        methods,
        [
            "oauth_authorization_code",
            "oauth_client_credentials",
            "jwt_bearer"
        ]
    );
    let jwt = &salesforce["auth_methods"][2];
    assert_eq!(
        jwt["config_schema"]["properties"]["issuer"]["title"],
        "Consumer key"
    );
    assert_eq!(jwt["secrets_schema"]["required"], json!(["private_key"]));

    let body = |method: &str, subject: Option<&str>| {
        let mut config = json!({"mock_base": fixture.oauth.url,
                                "login_host": "login.salesforce.com", "issuer": consumer_key});
        if let Some(subject) = subject {
            config["subject"] = json!(subject);
        }
        json!({"name": format!("jwt {method}"), "connector": "salesforce", "auth_method": method,
               "config": config, "secrets": {"private_key": key}})
    };
    let (status, created) = fixture
        .app
        .send(
            Method::POST,
            "/v1/credentials",
            Some(&body("jwt_bearer", Some("ada@acme.com"))),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["auth_method"], "jwt_bearer");
    assert_eq!(created["status"], "valid", "{created}");
    let token = fixture.token(&created, json!({})).await;
    assert_eq!(token["metadata"]["instance_url"], instance, "{token}");
    assert!((7000..=7200).contains(&token["expires_in"].as_i64().unwrap()));
    let forced = fixture
        .token(
            &created,
            json!({"force_refresh": true, "rejected_token": token["access_token"]}),
        )
        .await;
    assert_ne!(forced["access_token"], token["access_token"]);
    // A client secret is another method's secret: a conflict with this credential, not a typo.
    let path = format!("/v1/credentials/{}", created["id"].as_str().unwrap());
    let (status, problem) = fixture
        .app
        .send(
            Method::PATCH,
            &path,
            Some(&json!({"secrets": {"client_secret": "s3cr3t"}})),
        )
        .await;
    assert_eq!(status, 409, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("`salesforce` by `oauth_client_credentials`"),
        "{problem}"
    );

    // Its form requires the user; consent and methods Salesforce lacks are no typed method.
    let (status, problem) = fixture
        .app
        .send(
            Method::POST,
            "/v1/credentials",
            Some(&body("jwt_bearer", None)),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(latch_tests::problem_fields(&problem), ["config.subject"]);
    for method in ["oauth_authorization_code", "client_credentials", "password"] {
        let (status, problem) = fixture
            .app
            .send(
                Method::POST,
                "/v1/credentials",
                Some(&body(method, Some("ada@acme.com"))),
            )
            .await;
        assert_eq!(status, 422, "{problem}");
        assert_eq!(
            latch_tests::problem_fields(&problem),
            ["auth_method"],
            "{method}"
        );
    }
    // A test of the same settings without saving them, and its refusal for another user's
    // key: the assertion of an unregistered app is refused by the token endpoint.
    let (status, tried) = fixture
        .app
        .send(
            Method::POST,
            "/v1/credentials/test",
            Some(&body("jwt_bearer", Some("ada@acme.com"))),
        )
        .await;
    assert_eq!(status, 200, "{tried}");
    assert_eq!(tried["status"], "valid", "{tried}");
    let mut stranger = body("jwt_bearer", Some("ada@acme.com"));
    stranger["config"]["issuer"] = json!("3MVG9-another-app");
    let (_, tried) = fixture
        .app
        .send(Method::POST, "/v1/credentials/test", Some(&stranger))
        .await;
    assert_eq!(tried["status"], "invalid", "{tried}");

    // Client credentials stay the method a body without `auth_method` means.
    fixture.oauth.register(CLIENT, SECRET, Auth::Post, &[]);
    let created = fixture
        .client_credentials(
            "salesforce",
            json!({"login_host": "acme.my.salesforce.com"}),
        )
        .await;
    assert_eq!(created["auth_method"], "oauth_client_credentials");
}
