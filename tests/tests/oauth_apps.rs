//! OAuth apps as the trust boundary: an admin registers the app of one organization, whose
//! redirect URI names it; a consent through it can only come back to it and land in that
//! organization, and a write key can no longer choose where a code, a verifier or a refresh
//! token is sent.

use latch_core::callers::Scope;
use latch_tests::on_both_backends;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::connect_sessions::{APP, Consent, register_app};

on_both_backends!(
    Consent:
        an_admin_registers_an_app_whose_redirect_uri_names_it,
        bad_app_requests_name_their_fields_and_only_an_admin_writes_apps,
        a_consent_started_in_another_organization_cannot_land_there,
        a_write_key_cannot_choose_where_a_code_a_verifier_or_a_token_goes,
        an_apps_settings_stay_while_credentials_use_it_and_it_goes_only_when_unused,
        a_callback_naming_no_session_of_its_app_is_404_and_touches_nothing,
        an_app_on_the_shared_redirect_uri_works_until_it_is_ambiguous_and_then_moves_to_its_own,
);

/// An app id no organization has.
fn look_alike_placeholder() -> &'static str {
    "019a8f0e-5b7c-7d3e-9a41-6c2f8e1d4b20"
}

/// A connect session through `app_id` started with `key`: (status, answer).
async fn start_with(consent: &Consent, key: &str, name: &str, app_id: &str) -> (u16, Value) {
    let response = consent
        .app()
        .with_key(key, Method::POST, "/v1/connect-sessions")
        .json(&json!({"name": name, "oauth_app_id": app_id}))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn an_admin_registers_an_app_whose_redirect_uri_names_it(consent: Consent) {
    let app = consent.app();
    let path = format!("/v1/oauth-apps/{}", consent.app_id);
    let response = app.admin(Method::GET, &path).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["etag"], "\"1\"");
    let read: Value = response.json().await.unwrap();
    assert_eq!(
        read["redirect_uri"],
        format!("{}/v1/oauth/callback/{}", app.address, consent.app_id)
    );
    assert_eq!(read["shared_redirect_uri"], false);
    assert_eq!(read["config"]["client_id"], APP);
    assert_eq!(read["connector"], "looker");

    // A reader lists and reads apps; the consent's URL carries the app's redirect URI.
    let (_, reader) = app.org_with_key("acme", &[Scope::CredentialsRead]).await;
    let listed: Value = app
        .with_key(&reader, Method::GET, "/v1/oauth-apps")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    let session = consent.start(&consent.body("through the app")).await;
    let url = url::Url::parse(session["authorization_url"].as_str().unwrap()).unwrap();
    let redirect: Vec<_> = url
        .query_pairs()
        .filter(|(name, _)| name == "redirect_uri")
        .map(|(_, value)| value.to_string())
        .collect();
    assert_eq!(redirect, [read["redirect_uri"].as_str().unwrap()]);
    let id = consent.connected("connected").await;
    let (_, credential) = app
        .send(Method::GET, &format!("/v1/credentials/{id}"), None)
        .await;
    assert_eq!(credential["oauth_app_id"], consent.app_id.as_str());

    let events = app
        .audit_events_eventually(app.org_id, "oauth_app.created", |found| !found.is_empty())
        .await;
    assert_eq!(
        events[0].target_id.as_deref(),
        Some(consent.app_id.as_str())
    );
}

async fn bad_app_requests_name_their_fields_and_only_an_admin_writes_apps(consent: Consent) {
    let app = consent.app();
    let cases = [
        (json!({}), vec!["config", "connector", "name"]),
        (
            json!({"name": "x", "connector": "looker", "config": {"client_id": "c"}}),
            vec!["config.api_host_url", "config.ui_host_url"],
        ),
        (
            json!({"name": "x", "connector": "looker", "secrets": {"client_secret": "s3cr3t-value"},
                   "config": {"api_host_url": "https://a.example", "ui_host_url": "https://a.example", "client_id": "c"}}),
            vec!["secrets.client_secret"],
        ),
    ];
    for (body, fields) in cases {
        let (status, problem) = app.send(Method::POST, "/v1/oauth-apps", Some(&body)).await;
        assert_eq!(status, 422, "{body}: {problem}");
        let mut named: Vec<&str> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|error| error["field"].as_str().unwrap())
            .collect();
        named.sort();
        assert_eq!(named, fields, "{body}: {problem}");
        assert!(!problem.to_string().contains("s3cr3t-value"));
    }
    let (status, problem) = app
        .send(
            Method::POST,
            "/v1/oauth-apps",
            Some(&json!({"name": "Looker", "connector": "looker", "config": {
                "api_host_url": "https://b.example", "ui_host_url": "https://b.example",
                "client_id": "other"}})),
        )
        .await;
    assert_eq!(status, 409, "the name is taken: {problem}");

    let (_, writer) = app
        .org_with_key("acme", &[Scope::CredentialsRead, Scope::CredentialsWrite])
        .await;
    let body = json!({"name": "by a writer", "connector": "looker", "config": {
        "api_host_url": "https://c.example", "ui_host_url": "https://c.example",
        "client_id": "c"}});
    let path = format!("/v1/oauth-apps/{}", consent.app_id);
    for (method, path, body) in [
        (Method::POST, "/v1/oauth-apps", Some(&body)),
        (
            Method::PATCH,
            path.as_str(),
            Some(&json!({"name": "renamed"})),
        ),
        (Method::DELETE, path.as_str(), None),
    ] {
        let mut request = app.with_key(&writer, method.clone(), path);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 403, "{method} {path}");
    }
}

async fn a_consent_started_in_another_organization_cannot_land_there(consent: Consent) {
    let app = consent.app();
    // Organization B knows A's app id, and A's client ID and hosts (they are in any consent
    // URL): its editors cannot start a session through A's app.
    let (_, editor_b) = app
        .org_with_key("globex", &[Scope::CredentialsRead, Scope::CredentialsWrite])
        .await;
    let (status, problem) = start_with(&consent, &editor_b, "stolen", &consent.app_id).await;
    assert_eq!(status, 404, "as any id of another organization: {problem}");
    let (status, _) = consent
        .app()
        .send(
            Method::POST,
            &format!(
                "/v1/credentials/{}/reconnect",
                consent.connected("A's first").await
            ),
            Some(&json!({"oauth_app_id": look_alike_placeholder()})),
        )
        .await;
    assert_eq!(status, 404, "a reconnect naming an app of no organization");
    let response = app
        .with_key(&editor_b, Method::POST, "/v1/connect-sessions")
        .json(&json!({"name": "stolen", "connector": "looker",
            "auth_method": "oauth_authorization_code", "config": {
                "api_host_url": consent.fixture.mock.url, "ui_host_url": consent.fixture.mock.url,
                "client_id": APP}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422, "no app of B has A's settings");

    // B's admin registers an app with A's client and hosts: B's redirect URI is not the one
    // Looker's admin registered for that client, so Looker sends no code back to it.
    let (_, admin_b) = app.org_with_key("globex", &[Scope::Admin]).await;
    let response = app
        .with_key(&admin_b, Method::POST, "/v1/oauth-apps")
        .json(
            &json!({"name": "look-alike", "connector": "looker", "config": {
            "api_host_url": consent.fixture.mock.url, "ui_host_url": consent.fixture.mock.url,
            "client_id": APP}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let look_alike: Value = response.json().await.unwrap();
    assert_ne!(
        look_alike["redirect_uri"],
        format!("{}/v1/oauth/callback/{}", app.address, consent.app_id)
    );
    let (status, session) = start_with(
        &consent,
        &editor_b,
        "stolen",
        look_alike["id"].as_str().unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{session}");
    let exchanges = consent.fixture.mock.stats().oauth_exchanges;
    let screen = consent
        .browser
        .get(session["authorization_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(screen.status(), StatusCode::BAD_REQUEST, "no redirect");
    assert!(screen.headers().get("location").is_none());
    assert_eq!(consent.fixture.mock.stats().oauth_exchanges, exchanges);

    // A's own consent lands in A, and nothing is in B.
    consent.connected("A's credential").await;
    let listed: Value = app
        .with_key(&editor_b, Method::GET, "/v1/credentials")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(listed["items"].as_array().unwrap().is_empty());
}

async fn a_write_key_cannot_choose_where_a_code_a_verifier_or_a_token_goes(consent: Consent) {
    let app = consent.app();
    let (_, writer) = app
        .org_with_key("acme", &[Scope::CredentialsRead, Scope::CredentialsWrite])
        .await;
    let id = consent.connected("kept where it is").await;
    let attacker = "https://attacker.example";
    // Every route a write key has that could name a host: each refused before any call.
    let attempts = [
        (
            Method::POST,
            "/v1/connect-sessions".to_string(),
            json!({"name": "split", "connector": "looker", "auth_method": "oauth_authorization_code",
                   "config": {"api_host_url": attacker, "ui_host_url": consent.fixture.mock.url,
                              "client_id": APP}}),
            "oauth_app_id",
        ),
        (
            Method::POST,
            format!("/v1/credentials/{id}/reconnect"),
            json!({"config": {"api_host_url": attacker}}),
            "config",
        ),
        (
            Method::PATCH,
            format!("/v1/credentials/{id}"),
            json!({"config": {"api_host_url": attacker}}),
            "config",
        ),
    ];
    for (method, path, body, field) in attempts {
        let response = app
            .with_key(&writer, method.clone(), &path)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 422, "{method} {path}");
        let problem: Value = response.json().await.unwrap();
        assert!(
            problem["errors"][0]["field"]
                .as_str()
                .unwrap()
                .starts_with(field),
            "{method} {path}: {problem}"
        );
    }
    let response = app
        .with_key(&writer, Method::PATCH, &format!("/v1/oauth-apps/{}", consent.app_id))
        .json(&json!({"config": {"api_host_url": attacker, "ui_host_url": attacker, "client_id": APP}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    // The credential and its app still point where they did; no call went to the attacker.
    let (_, credential) = app
        .send(Method::GET, &format!("/v1/credentials/{id}"), None)
        .await;
    assert_eq!(
        credential["config"]["api_host_url"],
        consent.fixture.mock.url.as_str()
    );
    let logs = latch_tests::captured_logs();
    assert!(
        !logs.contains("attacker.example/api"),
        "no call to the attacker's host"
    );
}

async fn an_apps_settings_stay_while_credentials_use_it_and_it_goes_only_when_unused(
    consent: Consent,
) {
    let app = consent.app();
    let id = consent.connected("in use").await;
    let path = format!("/v1/oauth-apps/{}", consent.app_id);
    let moved = json!({"config": {"api_host_url": "https://elsewhere.example",
        "ui_host_url": "https://elsewhere.example", "client_id": APP}});
    let (status, problem) = app.send(Method::PATCH, &path, Some(&moved)).await;
    assert_eq!(status, 409, "{problem}");
    assert!(
        problem["detail"].as_str().unwrap().contains(&id),
        "names the credential: {problem}"
    );

    let (status, renamed) = app
        .send(
            Method::PATCH,
            &path,
            Some(&json!({"name": "Looker (BI)", "description": "ours", "secrets": {}})),
        )
        .await;
    assert_eq!(status, 200, "{renamed}");
    assert_eq!(renamed["version"], 2);
    let stale = app
        .admin(Method::PATCH, &path)
        .header("If-Match", "\"1\"")
        .json(&json!({"name": "again"}))
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 412);
    let (status, problem) = app.send(Method::PATCH, &path, Some(&json!({}))).await;
    assert_eq!(status, 422, "{problem}");
    let (status, problem) = app
        .send(
            Method::PATCH,
            &path,
            Some(&json!({"shared_redirect_uri": true})),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "shared_redirect_uri");

    let (status, problem) = app.send(Method::DELETE, &path, None).await;
    assert_eq!(status, 409, "{problem}");
    assert!(
        problem["detail"].as_str().unwrap().contains(&id),
        "names the credential: {problem}"
    );
    let (status, _) = app
        .send(Method::DELETE, &format!("/v1/credentials/{id}"), None)
        .await;
    assert_eq!(status, 204);
    let (status, changed) = app.send(Method::PATCH, &path, Some(&moved)).await;
    assert_eq!(status, 200, "unused, its settings change: {changed}");
    let (status, _) = app.send(Method::DELETE, &path, None).await;
    assert_eq!(status, 204);
    let (status, _) = app.send(Method::GET, &path, None).await;
    assert_eq!(status, 404);
    let actions: Vec<String> = app
        .audit_events_eventually(app.org_id, "oauth_app.deleted", |found| !found.is_empty())
        .await
        .iter()
        .map(|event| event.action.clone())
        .collect();
    assert_eq!(actions, ["oauth_app.deleted"]);
}

async fn a_callback_naming_no_session_of_its_app_is_404_and_touches_nothing(consent: Consent) {
    let app = consent.app();
    let second = register_app(&consent.fixture, "second", "latch-second").await;
    let session = consent.start(&consent.body("misrouted")).await;
    let back = consent.screen(&session).await;
    let own = url::Url::parse(&back).unwrap();
    let query = own.query().unwrap();
    let elsewhere = [
        format!(
            "/v1/oauth/callback/{}?{query}",
            second["id"].as_str().unwrap()
        ),
        format!("/v1/oauth/callback?{query}"),
        format!("/v1/oauth/callback/019a8f0e-5b7c-7d3e-9a41-6c2f8e1d4b20?{query}"),
        format!("/v1/oauth/callback/not-an-id?{query}"),
    ];
    for path in &elsewhere {
        let page = consent.browser.get(app.url(path)).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(page.headers()["cross-origin-opener-policy"], "same-origin");
        assert!(page.text().await.unwrap().contains("not one Latch issued"));
    }
    // A parameter sent twice, or none at all: a page (never a problem document), 400.
    for query in [format!("{query}&state=again"), String::new()] {
        let path = format!("/v1/oauth/callback/{}?{query}", consent.app_id);
        let page = consent.browser.get(app.url(&path)).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::BAD_REQUEST, "{path}");
        assert!(
            page.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
    }
    assert_eq!(consent.session_now(&session).await["status"], "pending");
    assert_eq!(consent.fixture.mock.stats().oauth_exchanges, 0);
    // At its own app's address, the same link completes.
    let page = consent.browser.get(&back).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
}

async fn an_app_on_the_shared_redirect_uri_works_until_it_is_ambiguous_and_then_moves_to_its_own(
    consent: Consent,
) {
    let app = consent.app();
    // As the migration leaves an app made from credentials that predate apps: on the shared
    // redirect URI, which Looker's admin registered for its client.
    app.run_sql("UPDATE oauth_apps SET shared_redirect = TRUE")
        .await;
    let shared = app.url("/v1/oauth/callback");
    consent.fixture.mock.register_oauth_app(APP, &shared);
    let path = format!("/v1/oauth-apps/{}", consent.app_id);
    let (_, read) = app.send(Method::GET, &path, None).await;
    assert_eq!(
        (
            read["redirect_uri"].as_str(),
            read["shared_redirect_uri"].as_bool()
        ),
        (Some(shared.as_str()), Some(true))
    );
    let id = consent.connected("from before apps").await;
    let (_, first) = consent.token(&app.address, &id, json!({})).await;
    let refresh = |rejected: &Value| json!({"rejected_token": rejected["access_token"]});
    let (status, second) = consent.token(&app.address, &id, refresh(&first)).await;
    assert_eq!(
        status, 200,
        "a refresh sends the shared redirect URI: {second}"
    );

    // Another organization registers an app for the same client: the shared URI can no longer
    // tell the two apart, so the migrated app starts no session and its callback answers
    // nothing.
    let waiting = consent.start(&consent.body("in flight")).await;
    let back = consent.screen(&waiting).await;
    let (_, admin_b) = app.org_with_key("globex", &[Scope::Admin]).await;
    let response = app
        .with_key(&admin_b, Method::POST, "/v1/oauth-apps")
        .json(
            &json!({"name": "same client", "connector": "looker", "config": {
            "api_host_url": consent.fixture.mock.url, "ui_host_url": consent.fixture.mock.url,
            "client_id": APP}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let (status, problem) = app
        .send(
            Method::POST,
            "/v1/connect-sessions",
            Some(&consent.body("ambiguous")),
        )
        .await;
    assert_eq!(status, 409, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("shared_redirect_uri")
    );
    let page = consent.browser.get(&back).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::NOT_FOUND);

    // Looker's admin registers the app's own redirect URI; an admin moves the app there. The
    // credential's next refresh sends the new URI (Looker refuses any other).
    let (status, moved) = app
        .send(
            Method::PATCH,
            &path,
            Some(&json!({"shared_redirect_uri": false})),
        )
        .await;
    assert_eq!(status, 200, "{moved}");
    let own = format!("{}/v1/oauth/callback/{}", app.address, consent.app_id);
    assert_eq!(moved["redirect_uri"], own.as_str());
    consent.fixture.mock.register_oauth_app(APP, &own);
    let (status, third) = consent.token(&app.address, &id, refresh(&second)).await;
    assert_eq!(status, 200, "{third}");
    consent.connected("after the move").await;
}
