//! Credentials made by consent, after the consent: reconnects, deletion, refreshes under
//! load and rate limits, sessions that expire, and where the browser may be sent back.

use super::*;

on_both_backends!(
    Consent:
        reconnecting_a_revoked_credential_keeps_its_id_and_its_data_sources_working,
        a_reconnect_with_new_settings_changes_nothing_until_the_consent_completes,
        only_a_credential_made_by_consent_can_be_reconnected,
        deleting_a_credential_made_by_consent_ends_its_grant_upstream,
        five_hundred_jobs_rejecting_the_same_token_cost_one_refresh_grant,
        a_rate_limited_refresh_keeps_serving_a_live_token_and_waits_for_retry_after,
        an_expired_session_is_reported_expired_and_its_late_callback_saves_nothing,
        return_to_may_point_at_a_console_origin_the_operator_allowed,
        a_scheduled_check_of_a_consent_asks_who_it_acts_for_and_finds_a_revoked_grant,
);

async fn reconnecting_a_revoked_credential_keeps_its_id_and_its_data_sources_working(
    consent: Consent,
) {
    let id = consent.connected("to reconnect").await;
    let (status, source) = consent
        .app()
        .send(
            Method::POST,
            "/v1/data-sources",
            Some(&json!({"name": "nightly", "connector": "looker", "credential_id": id})),
        )
        .await;
    assert_eq!(status, 201, "{source}");
    let source_token = format!("/v1/data-sources/{}/token", source["id"].as_str().unwrap());
    let (_, current) = consent.token(&consent.app().address, &id, json!({})).await;
    consent.fixture.mock.revoke_oauth_tokens(APP);
    let rejected = json!({"rejected_token": current["access_token"]});
    let (status, _) = consent.token(&consent.app().address, &id, rejected).await;
    assert_eq!(status, 409);
    let (status, _) = consent.app().send(Method::POST, &source_token, None).await;
    assert_eq!(status, 409);

    let (status, session) = consent
        .app()
        .send(
            Method::POST,
            &format!("/v1/credentials/{id}/reconnect"),
            None,
        )
        .await;
    assert_eq!(status, 201, "{session}");
    let page = consent
        .consent(session["authorization_url"].as_str().unwrap())
        .await;
    assert_eq!(page.status(), StatusCode::OK);
    let done = consent.session_now(&session).await;
    assert_eq!(done["status"], "completed");
    assert_eq!(done["credential_id"], id.as_str());

    let (_, credential) = consent
        .app()
        .send(Method::GET, &format!("/v1/credentials/{id}"), None)
        .await;
    assert_eq!(credential["status"], "valid");
    let (status, token) = consent.app().send(Method::POST, &source_token, None).await;
    assert_eq!(status, 200, "{token}");
    assert!(
        consent
            .fixture
            .mock
            .is_active(token["access_token"].as_str().unwrap())
    );
    let (_, list) = consent
        .app()
        .send(Method::GET, "/v1/credentials", None)
        .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
}

async fn a_reconnect_with_new_settings_changes_nothing_until_the_consent_completes(
    consent: Consent,
) {
    let id = consent.connected("moving").await;
    let second_app = "latch-oauth-second";
    let second = register_app(&consent.fixture, "Looker, second app", second_app).await;
    let (status, session) = consent
        .app()
        .send(
            Method::POST,
            &format!("/v1/credentials/{id}/reconnect"),
            Some(&json!({"oauth_app_id": second["id"]})),
        )
        .await;
    assert_eq!(status, 201, "{session}");
    let url = session["authorization_url"].as_str().unwrap();
    assert_eq!(value(&query_of(url), "client_id"), Some(second_app));
    let path = format!("/v1/credentials/{id}");
    let (_, before) = consent.app().send(Method::GET, &path, None).await;
    assert_eq!(before["config"]["client_id"], APP);

    let page = consent.consent(url).await;
    assert_eq!(page.status(), StatusCode::OK);
    let (_, after) = consent.app().send(Method::GET, &path, None).await;
    assert_eq!(after["config"]["client_id"], second_app);
    assert_eq!(after["oauth_app_id"], second["id"]);
    assert!(after["version"].as_i64() > before["version"].as_i64());
    // Tokens now come from the second app's grant.
    let (status, _) = consent
        .token(&consent.app().address, &id, json!({"rejected_token": "x"}))
        .await;
    assert_eq!(status, 200);
}

async fn only_a_credential_made_by_consent_can_be_reconnected(consent: Consent) {
    let (status, created) = consent
        .app()
        .send(
            Method::POST,
            "/v1/credentials?validate=false",
            Some(&consent.fixture.good_credential("api key")),
        )
        .await;
    assert_eq!(status, 201);
    let id = created["id"].as_str().unwrap();
    let (status, problem) = consent
        .app()
        .send(
            Method::POST,
            &format!("/v1/credentials/{id}/reconnect"),
            None,
        )
        .await;
    assert_eq!(status, 409, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("rotate its secret")
    );
    let (status, _) = consent
        .app()
        .send(
            Method::POST,
            "/v1/credentials/019a8f0e-5b7c-7d3e-9a41-6c2f8e1d4b20/reconnect",
            None,
        )
        .await;
    assert_eq!(status, 404);
    let oauth = consent.connected("consented").await;
    let (status, problem) = consent
        .app()
        .send(
            Method::POST,
            &format!("/v1/credentials/{oauth}/reconnect"),
            Some(&json!({"config": {"api_host_url": "https://attacker.example"}})),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "config");
}

async fn deleting_a_credential_made_by_consent_ends_its_grant_upstream(consent: Consent) {
    let id = consent.connected("to delete").await;
    let (_, token) = consent.token(&consent.app().address, &id, json!({})).await;
    let access = token["access_token"].as_str().unwrap().to_string();
    assert_eq!(consent.fixture.mock.live_refresh_tokens().len(), 1);
    let (status, _) = consent
        .app()
        .send(Method::DELETE, &format!("/v1/credentials/{id}"), None)
        .await;
    assert_eq!(status, 204);
    // The logout runs in the background.
    for _ in 0..100 {
        if !consent.fixture.mock.is_active(&access) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(!consent.fixture.mock.is_active(&access));
    assert!(consent.fixture.mock.live_refresh_tokens().is_empty());
}

async fn five_hundred_jobs_rejecting_the_same_token_cost_one_refresh_grant(consent: Consent) {
    let id = consent.connected("busy").await;
    let (_, current) = consent.token(&consent.app().address, &id, json!({})).await;
    let body = json!({"rejected_token": current["access_token"]});
    let address = consent.app().address.as_str();
    let tokens = latch_tests::token_storm(consent.app(), &[address], &id, &body, 500).await;
    assert_eq!(tokens.len(), 1, "every job got the one new token");
    assert!(!tokens.contains(current["access_token"].as_str().unwrap()));
    assert_eq!(consent.fixture.mock.stats().oauth_refreshes, 1);
}

async fn a_rate_limited_refresh_keeps_serving_a_live_token_and_waits_for_retry_after(
    consent: Consent,
) {
    let id = consent.connected("limited").await;
    let (_, current) = consent.token(&consent.app().address, &id, json!({})).await;
    consent.fixture.mock.set_fault(Fault::RateLimited);
    // Looker says 429 to the refresh; the token Latch has still lives, so jobs keep getting it.
    let (status, served) = consent
        .token(
            &consent.app().address,
            &id,
            json!({"force_refresh": true, "min_ttl_seconds": 0}),
        )
        .await;
    assert_eq!(status, 200, "{served}");
    assert_eq!(served["access_token"], current["access_token"]);
    assert_eq!(consent.fixture.mock.stats().oauth_refreshes, 0);

    // A credential whose token has expired has nothing to give: 503 with Looker's wait.
    consent.fixture.mock.set_fault(Fault::None);
    consent.fixture.mock.set_expires_in(1);
    let short = consent.connected("expiring").await;
    consent.fixture.mock.set_fault(Fault::RateLimited);
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let calls = consent.fixture.mock.stats().token_calls;
    let response = consent
        .app()
        .client
        .post(consent.app().url(&format!("/v1/credentials/{short}/token")))
        .bearer_auth(&consent.app().admin_key)
        .json(&json!({"min_ttl_seconds": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "30");
    for _ in 0..3 {
        let (status, _) = consent
            .token(
                &consent.app().address,
                &short,
                json!({"min_ttl_seconds": 0}),
            )
            .await;
        assert_eq!(status, 503);
    }
    assert_eq!(
        consent.fixture.mock.stats().token_calls,
        calls + 1,
        "Looker is not asked again before its Retry-After"
    );
    let (_, credential) = consent
        .app()
        .send(Method::GET, &format!("/v1/credentials/{id}"), None)
        .await;
    assert_eq!(credential["status"], "valid", "a 429 is not a refusal");
    assert_eq!(consent.fixture.mock.stats().oauth_refreshes, 0);
}

async fn an_expired_session_is_reported_expired_and_its_late_callback_saves_nothing(
    consent: Consent,
) {
    let session = consent.start(&consent.body("too late")).await;
    let back = consent.screen(&session).await;
    consent.app().expire_connect_sessions().await;
    let expired = consent.session_now(&session).await;
    assert_eq!(expired["status"], "expired");

    let late = consent.browser.get(&back).send().await.unwrap();
    assert_eq!(late.status(), StatusCode::BAD_REQUEST);
    assert!(late.text().await.unwrap().contains("expired"));
    let failed = consent.session_now(&session).await;
    assert_eq!(failed["status"], "failed");
    assert!(failed["error"].as_str().unwrap().contains("expired"));
    let (_, list) = consent
        .app()
        .send(Method::GET, "/v1/credentials", None)
        .await;
    assert!(list["items"].as_array().unwrap().is_empty());
    assert_eq!(
        consent.fixture.mock.stats().oauth_exchanges,
        0,
        "the code was never traded"
    );
}

async fn return_to_may_point_at_a_console_origin_the_operator_allowed(consent: Consent) {
    // A second server on the same database whose console is served from another origin.
    let console = Url::parse("https://console.example.com").unwrap();
    let replica = consent
        .app()
        .replica(TestOptions {
            public_url: Some(Url::parse(&consent.app().address).unwrap()),
            console_origins: vec![console],
            ..TestOptions::mock_reachable()
        })
        .await;
    let mut body = consent.body("from the console");
    body["return_to"] = json!("https://console.example.com/credentials/new");
    let response = consent
        .app()
        .client
        .post(format!("{replica}/v1/connect-sessions"))
        .bearer_auth(&consent.app().admin_key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    // The first server allows only its own origin.
    let (status, problem) = consent
        .app()
        .send(Method::POST, "/v1/connect-sessions", Some(&body))
        .await;
    assert_eq!(status, 422, "{problem}");
}

async fn a_scheduled_check_of_a_consent_asks_who_it_acts_for_and_finds_a_revoked_grant(
    consent: Consent,
) {
    let app = consent.app();
    let kept = consent.connected("kept").await;
    let revoked = consent.connected("revoked").await;
    // The consent handed out the first token.
    let (_, made) = app
        .send(Method::GET, &format!("/v1/credentials/{kept}/health"), None)
        .await;
    assert!(made["last_token_at"].is_string(), "{made}");
    let (status, _) = consent.token(&app.address, &revoked, json!({})).await;
    assert_eq!(status, 200);
    // Made and tested long ago: due. Then Looker's admin revokes the app's grants.
    app.run_sql(
        "UPDATE credentials SET validated_at = '2020-01-01T00:00:00+00:00', \
         created_at = '2020-01-01T00:00:00+00:00'",
    )
    .await;
    let identity_calls = consent.fixture.mock.stats().identity_calls;
    let _worker = latch_tests::replica::WorkerProcess::start(
        std::path::Path::new(env!("CARGO_BIN_EXE_latch-server")),
        &app.db.url,
        latch_vault::ExposeSecret::expose_secret(&app.master_key),
    );
    latch_tests::eventually("both consents were checked", || async {
        let (_, listed) = app.send(Method::GET, "/v1/credentials", None).await;
        listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|credential| credential["validated_at"].as_str() > Some("2021"))
    })
    .await;
    assert_eq!(
        consent.fixture.mock.stats().identity_calls,
        identity_calls + 2,
        "each consent's check asked who it acts for, once"
    );
    consent.fixture.mock.revoke_oauth_tokens(APP);
    app.run_sql(
        "UPDATE credentials SET validated_at = '2020-01-01T00:00:00+00:00', \
         checked_at = '2020-01-01T00:00:00+00:00'",
    )
    .await;
    let path = format!("/v1/credentials/{revoked}/health");
    latch_tests::eventually("the revoked grants were found", || async {
        let (_, listed) = app
            .send(
                Method::GET,
                "/v1/credentials?status=reauthorization_required",
                None,
            )
            .await;
        listed["items"].as_array().unwrap().len() == 2
    })
    .await;

    let (_, health) = app.send(Method::GET, &path, None).await;
    assert_eq!(health["changes"][0]["cause"], "checked", "{health}");
    assert_eq!(health["changes"][0]["from"], "valid");
    assert!(health["checked_at"].as_str() > Some("2021"), "{health}");
    let (_, audit) = app
        .send(
            Method::GET,
            &format!("/v1/audit-events?action=credential.invalidated&target_id={revoked}"),
            None,
        )
        .await;
    assert_eq!(
        audit["items"][0]["detail"]["during"], "scheduled check",
        "{audit}"
    );
    assert_eq!(audit["items"].as_array().unwrap().len(), 1, "{audit}");
    // The app's other grant went with it; neither was edited.
    let (_, other) = app
        .send(Method::GET, &format!("/v1/credentials/{kept}"), None)
        .await;
    assert_eq!(other["status"], "reauthorization_required", "{other}");
    assert_eq!(other["version"], 1, "checks edit nothing");
}
