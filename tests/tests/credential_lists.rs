//! `GET /v1/credentials` found by name, by several statuses, and in each order, its cursor
//! stable while rows change.

use latch_tests::{WithMock, on_both_backends};
use reqwest::Method;
use serde_json::Value;

on_both_backends!(
    WithMock:
        credentials_are_found_by_part_of_their_name_as_names_compare,
        several_statuses_filter_at_once_and_broken_ones_come_first,
        each_order_pages_through_every_credential_once_even_as_rows_change,
        bad_list_parameters_are_refused_naming_the_parameter,
);

async fn names(fixture: &WithMock, query: &str) -> Vec<String> {
    let (status, page) = fixture
        .app
        .send(Method::GET, &format!("/v1/credentials?{query}"), None)
        .await;
    assert_eq!(status, 200, "{query}: {page}");
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["name"].as_str().unwrap().to_string())
        .collect()
}

/// Every page of a list, following `next_cursor`, with `between` run after each page.
async fn every_page(
    fixture: &WithMock,
    query: &str,
    mut between: impl AsyncFnMut(usize),
) -> Vec<String> {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    for page_number in 0.. {
        let path = match &cursor {
            Some(cursor) => format!("/v1/credentials?{query}&cursor={cursor}"),
            None => format!("/v1/credentials?{query}"),
        };
        let (status, page) = fixture.app.send(Method::GET, &path, None).await;
        assert_eq!(status, 200, "{path}: {page}");
        all.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|item| item["name"].as_str().unwrap().to_string()),
        );
        between(page_number).await;
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    all
}

async fn credentials_are_found_by_part_of_their_name_as_names_compare(fixture: WithMock) {
    for name in [
        "Payroll Looker",
        "payroll_2024",
        "Marketing",
        "50% off",
        "Straße",
    ] {
        fixture.saved_credential(name, false).await;
    }
    assert_eq!(
        names(&fixture, "q=PAYROLL").await,
        ["Payroll Looker", "payroll_2024"]
    );
    assert_eq!(
        names(&fixture, "q=payroll%20%20looker").await,
        ["Payroll Looker"]
    );
    // LIKE's wildcards are plain characters here.
    assert_eq!(names(&fixture, "q=%25").await, ["50% off"]);
    assert_eq!(names(&fixture, "q=l_2").await, ["payroll_2024"]);
    assert_eq!(names(&fixture, "q=STRASSE").await, ["Straße"]);
    assert!(names(&fixture, "q=nothing").await.is_empty());
    assert_eq!(
        names(&fixture, "q=%20").await.len(),
        5,
        "a blank query filters nothing"
    );
}

async fn several_statuses_filter_at_once_and_broken_ones_come_first(fixture: WithMock) {
    fixture.saved_credential("b untested", false).await;
    fixture.saved_credential("a fine", true).await;
    let refused = fixture.saved_credential("c refused", true).await;
    let flaky = fixture.saved_credential("d flaky", true).await;
    fixture.saved_credential("e fine", true).await;
    fixture
        .mock
        .set_fault(latch_tests::mock_looker::Fault::ServerError);
    for _ in 0..3 {
        fixture
            .app
            .send(
                Method::POST,
                &format!("/v1/credentials/{flaky}/validate"),
                None,
            )
            .await;
    }
    fixture
        .mock
        .set_fault(latch_tests::mock_looker::Fault::None);
    fixture.mock.set_client_secret("changed upstream");
    fixture
        .app
        .send(
            Method::POST,
            &format!("/v1/credentials/{refused}/validate"),
            None,
        )
        .await;

    assert_eq!(
        names(&fixture, "status=invalid,degraded").await,
        ["c refused", "d flaky"]
    );
    assert_eq!(
        names(&fixture, "status=invalid,degraded&q=flaky").await,
        ["d flaky"]
    );
    assert_eq!(
        names(&fixture, "status=valid&sort=name").await,
        ["a fine", "e fine"]
    );
    assert_eq!(
        names(&fixture, "sort=attention").await,
        ["c refused", "d flaky", "b untested", "a fine", "e fine"]
    );
    assert_eq!(
        names(&fixture, "sort=newest").await,
        ["e fine", "d flaky", "c refused", "a fine", "b untested"]
    );
}

async fn each_order_pages_through_every_credential_once_even_as_rows_change(fixture: WithMock) {
    let mut made = Vec::new();
    for index in 0..12 {
        // Names out of creation order, some alike but for case.
        let name = format!(
            "{} {index:02}",
            ["Beta", "alpha", "Gamma", "beta"][index % 4]
        );
        made.push((fixture.saved_credential(&name, false).await, name));
    }
    for sort in ["created", "newest", "name", "attention"] {
        let listed = every_page(&fixture, &format!("sort={sort}&limit=5"), async |_| {}).await;
        let mut expected: Vec<String> = made.iter().map(|(_, name)| name.clone()).collect();
        match sort {
            "newest" => expected.reverse(),
            "name" | "attention" => expected.sort_by_key(|name| name.to_lowercase()),
            _ => {}
        }
        assert_eq!(listed, expected, "{sort}");
    }
    // Renaming and deleting the row a cursor stands on loses and repeats nothing else.
    let (last_of_first_page, _) = made
        .iter()
        .find(|(_, name)| name == "Beta 00")
        .unwrap()
        .clone();
    let fixture_ref = &fixture;
    let listed = every_page(&fixture, "sort=name&limit=4", async |page| {
        if page == 0 {
            fixture_ref
                .app
                .send(
                    Method::DELETE,
                    &format!("/v1/credentials/{last_of_first_page}"),
                    None,
                )
                .await;
        }
    })
    .await;
    let mut expected: Vec<String> = made.iter().map(|(_, name)| name.clone()).collect();
    expected.sort_by_key(|name| name.to_lowercase());
    assert_eq!(
        listed, expected,
        "the first page was read before the delete"
    );
}

async fn bad_list_parameters_are_refused_naming_the_parameter(fixture: WithMock) {
    let (_, page) = fixture
        .app
        .send(Method::GET, "/v1/credentials?limit=1", None)
        .await;
    assert!(page["next_cursor"].is_null());
    fixture.saved_credential("one", false).await;
    fixture.saved_credential("two", false).await;
    // A cursor of one order read in another names a position there too: never an error.
    let (_, page) = fixture
        .app
        .send(Method::GET, "/v1/credentials?sort=name&limit=1", None)
        .await;
    let name_cursor = page["next_cursor"].as_str().unwrap().to_string();
    for sort in ["attention", "created", "newest"] {
        let path = format!("/v1/credentials?sort={sort}&cursor={name_cursor}");
        assert_eq!(
            fixture.app.send(Method::GET, &path, None).await.0,
            200,
            "{path}"
        );
    }
    let long = "q".repeat(129);
    for (query, field) in [
        ("status=valid,broken".to_string(), "status"),
        ("status=valid,,invalid".to_string(), "status"),
        ("sort=size".to_string(), "sort"),
        (format!("q={long}"), "q"),
        ("q=%01".to_string(), "q"),
        ("sort=name&cursor=bm90IGpzb24".to_string(), "cursor"),
        ("cursor=not+a+cursor+of+ours+at+all".to_string(), "cursor"),
    ] {
        let (status, problem): (u16, Value) = fixture
            .app
            .send(Method::GET, &format!("/v1/credentials?{query}"), None)
            .await;
        assert_eq!(status, 400, "{query}: {problem}");
        assert_eq!(problem["errors"][0]["field"], field, "{query}: {problem}");
        assert!(!problem["detail"].as_str().unwrap().is_empty());
    }
}
