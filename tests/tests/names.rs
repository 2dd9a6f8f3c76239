//! Names people tell records apart by: stored in NFC, without invisible characters, and unique
//! in an organization under a folded form (case and white space), on every named record,
//! atomically. Records that collided before the rule stay as they are.

use latch_tests::{WithMock, on_both_backends};
use reqwest::Method;
use serde_json::{Value, json};

on_both_backends!(
    WithMock:
        names_with_invisible_characters_or_line_separators_are_refused_naming_the_field,
        a_name_that_differs_only_in_case_white_space_or_composition_is_taken,
        records_that_collided_before_the_rule_stay_and_can_still_be_edited,
        concurrent_names_that_fold_alike_save_exactly_one,
);

/// A create-app body for the mock's host.
fn app_body(fixture: &WithMock, name: &str) -> Value {
    json!({
        "name": name,
        "connector": "looker",
        "config": {
            "api_host_url": fixture.mock.url,
            "ui_host_url": fixture.mock.url,
            "client_id": "latch-names",
        },
    })
}

fn source_body(name: &str, credential_id: &Value) -> Value {
    json!({"name": name, "connector": "looker", "credential_id": credential_id, "config": {}})
}

async fn send(fixture: &WithMock, method: Method, path: &str, body: Value) -> (u16, Value) {
    fixture.app.send(method, path, Some(&body)).await
}

async fn names_with_invisible_characters_or_line_separators_are_refused_naming_the_field(
    fixture: WithMock,
) {
    let credential = fixture.app.create_credential("Looker", "s").await;
    for c in [
        '\u{200B}',
        '\u{200E}',
        '\u{061C}',
        '\u{FEFF}',
        '\u{00AD}',
        '\u{2060}',
        '\u{E0041}',
        '\u{2028}',
        '\u{2029}',
    ] {
        let name = format!("Payroll{c}Looker");
        let attempts = [
            (
                "/v1/credentials?validate=false",
                fixture.credential(&name, "s"),
            ),
            ("/v1/oauth-apps", app_body(&fixture, &name)),
            ("/v1/data-sources", source_body(&name, &credential["id"])),
        ];
        for (path, body) in attempts {
            let (status, problem) = send(&fixture, Method::POST, path, body).await;
            assert_eq!(status, 422, "{path} {c:?}: {problem}");
            assert_eq!(problem["errors"][0]["field"], "name", "{problem}");
            let code = format!("U+{:04X}", u32::from(c));
            assert!(
                problem["errors"][0]["message"]
                    .as_str()
                    .unwrap()
                    .contains(&code),
                "{problem}"
            );
        }
        let (status, problem) = send(
            &fixture,
            Method::PATCH,
            &format!("/v1/credentials/{}", credential["id"].as_str().unwrap()),
            json!({"name": name}),
        )
        .await;
        assert_eq!(status, 422, "{problem}");
        assert_eq!(problem["errors"][0]["field"], "name");
    }
    // Nothing was written but the one credential.
    let (_, credentials) = fixture.app.send(Method::GET, "/v1/credentials", None).await;
    assert_eq!(credentials["items"].as_array().unwrap().len(), 1);
    assert_eq!(credentials["items"][0]["name"], "Looker");
    for path in ["/v1/oauth-apps", "/v1/data-sources"] {
        let (_, listed) = fixture.app.send(Method::GET, path, None).await;
        assert!(listed["items"].as_array().unwrap().is_empty(), "{path}");
    }
}

async fn a_name_that_differs_only_in_case_white_space_or_composition_is_taken(fixture: WithMock) {
    // Credentials.
    let first = fixture.app.create_credential("Payroll Looker", "s").await;
    for twin in [
        "payroll looker",
        "PAYROLL  LOOKER",
        "Payroll\u{A0}Looker",
        " Payroll\u{3000}looker ",
    ] {
        let (status, problem) = send(
            &fixture,
            Method::POST,
            "/v1/credentials?validate=false",
            fixture.credential(twin, "s"),
        )
        .await;
        assert_eq!(status, 409, "{twin:?}: {problem}");
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("differs from it only in case or white space"),
            "{problem}"
        );
    }
    // Stored in NFC: "e" and a combining accent is "é".
    let cafe = fixture.app.create_credential("Cafe\u{301} data", "s").await;
    assert_eq!(cafe["name"], "Caf\u{E9} data");
    let (status, _) = send(
        &fixture,
        Method::POST,
        "/v1/credentials?validate=false",
        fixture.credential("CAFÉ DATA", "s"),
    )
    .await;
    assert_eq!(status, 409);
    // A rename into a twin is refused; the record keeps its name.
    let other = fixture.app.create_credential("Other", "s").await;
    let other_path = format!("/v1/credentials/{}", other["id"].as_str().unwrap());
    let (status, problem) = send(
        &fixture,
        Method::PATCH,
        &other_path,
        json!({"name": "payroll LOOKER"}),
    )
    .await;
    assert_eq!(status, 409, "{problem}");
    let (_, read) = fixture.app.send(Method::GET, &other_path, None).await;
    assert_eq!(read["name"], "Other");
    assert_eq!(read["version"], other["version"]);
    // A record may change the case of its own name.
    let first_path = format!("/v1/credentials/{}", first["id"].as_str().unwrap());
    let (status, renamed) = send(
        &fixture,
        Method::PATCH,
        &first_path,
        json!({"name": "PAYROLL LOOKER"}),
    )
    .await;
    assert_eq!(status, 200, "{renamed}");
    assert_eq!(renamed["name"], "PAYROLL LOOKER");

    // Data sources, per kind: a destination may share a source's name.
    let (status, _) = send(
        &fixture,
        Method::POST,
        "/v1/data-sources",
        source_body("Usage exports", &first["id"]),
    )
    .await;
    assert_eq!(status, 201);
    let (status, problem) = send(
        &fixture,
        Method::POST,
        "/v1/data-sources",
        source_body("usage\u{2003}EXPORTS", &first["id"]),
    )
    .await;
    assert_eq!(status, 409, "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("data source"));
    let (status, _) = send(
        &fixture,
        Method::POST,
        "/v1/data-destinations",
        source_body("usage exports", &first["id"]),
    )
    .await;
    assert_eq!(status, 201);

    // OAuth apps.
    let (status, _) = send(
        &fixture,
        Method::POST,
        "/v1/oauth-apps",
        app_body(&fixture, "Looker app"),
    )
    .await;
    assert_eq!(status, 201);
    let (status, problem) = send(
        &fixture,
        Method::POST,
        "/v1/oauth-apps",
        app_body(&fixture, "LOOKER   app"),
    )
    .await;
    assert_eq!(status, 409, "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("OAuth app"));

    // Another organization has its own names.
    let (_, globex) = fixture
        .app
        .org_with_key("globex", &[latch_core::callers::Scope::Admin])
        .await;
    let response = fixture
        .app
        .with_key(&globex, Method::POST, "/v1/credentials?validate=false")
        .json(&fixture.credential("payroll looker", "s"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
}

async fn records_that_collided_before_the_rule_stay_and_can_still_be_edited(fixture: WithMock) {
    for name in ["Legacy", "Other"] {
        let (status, _) = send(
            &fixture,
            Method::POST,
            "/v1/oauth-apps",
            app_body(&fixture, name),
        )
        .await;
        assert_eq!(status, 201);
    }
    // As rows stored before names were folded: two that fold alike, without folded forms.
    fixture
        .app
        .run_sql("UPDATE oauth_apps SET name = 'LEGACY' WHERE name = 'Other'")
        .await;
    fixture
        .app
        .run_sql("UPDATE oauth_apps SET name_key = NULL")
        .await;
    let (_, listed) = fixture.app.send(Method::GET, "/v1/oauth-apps", None).await;
    let twin = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|app| app["name"] == "LEGACY")
        .unwrap()
        .clone();
    let path = format!("/v1/oauth-apps/{}", twin["id"].as_str().unwrap());

    // Both stay; the twin's description and the case of its name can change.
    let (status, edited) = send(
        &fixture,
        Method::PATCH,
        &path,
        json!({"description": "kept"}),
    )
    .await;
    assert_eq!(status, 200, "{edited}");
    let (status, edited) = send(&fixture, Method::PATCH, &path, json!({"name": "legacy"})).await;
    assert_eq!(status, 200, "{edited}");
    // A new name that folds like them is refused, and so is a rename back once it left.
    let (status, _) = send(
        &fixture,
        Method::POST,
        "/v1/oauth-apps",
        app_body(&fixture, "LeGaCy"),
    )
    .await;
    assert_eq!(status, 409);
    let (status, _) = send(&fixture, Method::PATCH, &path, json!({"name": "Renamed"})).await;
    assert_eq!(status, 200);
    let (status, problem) = send(&fixture, Method::PATCH, &path, json!({"name": "LEGACY"})).await;
    assert_eq!(status, 409, "{problem}");
    let (_, listed) = fixture.app.send(Method::GET, "/v1/oauth-apps", None).await;
    let mut names: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|app| app["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["Legacy", "Renamed"]);
}

async fn concurrent_names_that_fold_alike_save_exactly_one(fixture: WithMock) {
    let variants = [
        "Race {}",
        "race {}",
        "RACE {}",
        "Race  {}",
        "Race\u{A0}{}",
        "race\u{3000}{}",
        " Race {} ",
        "rACE {}",
    ];
    for round in 0..5 {
        let requests: Vec<_> = variants
            .iter()
            .map(|variant| {
                let name = variant.replace("{}", &format!("app {round}"));
                let body = app_body(&fixture, &name);
                let request = fixture
                    .app
                    .admin(Method::POST, "/v1/oauth-apps")
                    .json(&body);
                tokio::spawn(async move { request.send().await.unwrap().status().as_u16() })
            })
            .collect();
        let mut statuses = Vec::new();
        for request in requests {
            statuses.push(request.await.unwrap());
        }
        statuses.sort();
        assert_eq!(
            statuses,
            [201, 409, 409, 409, 409, 409, 409, 409],
            "round {round}"
        );
    }
    let (_, listed) = fixture
        .app
        .send(Method::GET, "/v1/oauth-apps?limit=200", None)
        .await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 5);
}
