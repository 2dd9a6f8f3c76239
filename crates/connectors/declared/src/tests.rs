use latch_connector::{AuthMethod, Connector, ValidationPolicy};
use serde_json::json;

use super::*;

fn source(file: &str, text: &str) -> Source {
    Source {
        file: file.into(),
        text: text.into(),
    }
}

/// A declaration that passes every rule, to break one rule at a time.
const GOOD: &str = r#"
id = "acme"
name = "Acme"
description = "Acme's API."
docs_url = "https://docs.acme.example/oauth"
auth_methods = ["oauth_authorization_code", "oauth_client_credentials"]

[[fields]]
name = "subdomain"
title = "Subdomain"
help = "Your Acme subdomain."
pattern = "^[a-z0-9][a-z0-9-]{0,62}$"
example = "mycompany"

[oauth]
authorization_url = "https://{subdomain}.acme.example/oauth/authorize"
token_url = "https://{subdomain}.acme.example/oauth/token"
client_auth = "client_secret_post"
pkce = true
scopes = ["read", "write"]
token_lifetime_seconds = 7200
keep = ["account_id"]

[identity]
url = "https://{subdomain}.acme.example/api/me"
label = "/user/name"
"#;

fn problems_of(text: &str) -> Vec<ProviderError> {
    match load(&[source("acme.toml", text)]) {
        Ok(_) => panic!("the declaration was accepted"),
        Err(problems) => problems,
    }
}

fn only_problem(text: &str) -> ProviderError {
    let problems = problems_of(text);
    assert_eq!(problems.len(), 1, "{problems:#?}");
    problems.into_iter().next().unwrap()
}

#[test]
fn every_shipped_provider_loads_and_offers_what_it_declares() {
    let connectors = load(&shipped()).unwrap_or_else(|problems| {
        panic!(
            "{}",
            problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        )
    });
    let ids: Vec<_> = connectors.iter().map(|c| c.id()).collect();
    assert!(ids.contains(&"oauth2"), "{ids:?}");
    for connector in &connectors {
        assert_eq!(
            connector.oauth().is_some(),
            connector
                .auth_methods()
                .contains(&AuthMethod::OauthAuthorizationCode),
            "{}",
            connector.id()
        );
    }
}

#[test]
fn a_good_declaration_becomes_a_connector_with_its_fields_the_client_id_and_the_scopes() {
    let connectors = load(&[source("acme.toml", GOOD)]).unwrap();
    let acme = &connectors[0];
    assert_eq!(acme.id(), "acme");
    assert_eq!(
        acme.typed_method(),
        Some(AuthMethod::OauthClientCredentials)
    );
    let names: Vec<_> = acme.config_fields().iter().map(|f| f.name).collect();
    assert_eq!(names, ["subdomain", "client_id", "scopes"]);
    assert_eq!(acme.secret_fields()[0].name, "client_secret");
    assert_eq!(
        acme.default_token_lifetime(),
        Some(std::time::Duration::from_secs(7200))
    );
    // Scopes default to the declared ones; the subdomain is held to its pattern.
    let config = acme
        .validate_config(
            &json!({"subdomain": "mycompany", "client_id": "c1"}),
            ValidationPolicy::default(),
        )
        .unwrap();
    assert_eq!(config["scopes"], "read write");
    let errors = acme
        .validate_config(
            &json!({"subdomain": "evil.example/x", "client_id": "c1"}),
            ValidationPolicy::default(),
        )
        .unwrap_err();
    assert_eq!(errors[0].field, "config.subdomain");
    assert!(errors[0].message.contains("must match"), "{errors:?}");
    assert_eq!(
        acme.identity_label(&json!({"user": {"name": "Ada"}})),
        Some("Ada".into())
    );
}

#[test]
fn the_consent_url_carries_the_client_the_state_the_scopes_and_the_challenge() {
    let connectors = load(&[source("acme.toml", GOOD)]).unwrap();
    let flow = connectors[0].oauth().unwrap();
    let config = json!({"subdomain": "mycompany", "client_id": "c1", "scopes": "read"});
    let url = flow
        .authorization_url(
            config.as_object().unwrap(),
            "https://latch.example/v1/oauth/callback/1",
            "the-state",
            "the-challenge",
        )
        .unwrap();
    assert_eq!(url.host_str(), Some("mycompany.acme.example"));
    let query: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(query["response_type"], "code");
    assert_eq!(query["client_id"], "c1");
    assert_eq!(query["state"], "the-state");
    assert_eq!(query["scope"], "read");
    assert_eq!(query["code_challenge"], "the-challenge");
    assert_eq!(query["code_challenge_method"], "S256");
}

#[test]
fn a_file_that_is_not_toml_names_its_line() {
    let problem = only_problem("id = \"acme\"\nname = \n");
    assert_eq!(problem.file, "acme.toml");
    assert_eq!(problem.field, "line 2");
}

#[test]
fn an_unknown_or_missing_key_is_named() {
    let problem = only_problem(&GOOD.replace("pkce = true", "pkce = true\ntoken_ur = \"x\""));
    assert!(problem.why.contains("token_ur"), "{problem}");
    let problem = only_problem(&GOOD.replace("docs_url = \"https://docs.acme.example/oauth\"", ""));
    assert!(problem.why.contains("docs_url"), "{problem}");
}

#[test]
fn each_broken_rule_is_reported_with_its_field_and_why() {
    let cases: &[(&str, &str, &str, &str)] = &[
        ("id = \"acme\"", "id = \"Acme!\"", "id", "lower-case"),
        (
            "docs_url = \"https://docs.acme.example/oauth\"",
            "docs_url = \"http://docs.acme.example\"",
            "docs_url",
            "https",
        ),
        (
            "auth_methods = [\"oauth_authorization_code\", \"oauth_client_credentials\"]",
            "auth_methods = [\"oauth_authorization_code\", \"password\"]",
            "auth_methods[1]",
            "`password`",
        ),
        (
            "pattern = \"^[a-z0-9][a-z0-9-]{0,62}$\"",
            "pattern = \"[a-z]+\"",
            "fields[0].pattern",
            "anchored",
        ),
        (
            "pattern = \"^[a-z0-9][a-z0-9-]{0,62}$\"",
            "pattern = \"^(?=a)b$\"",
            "fields[0].pattern",
            "ECMA-262",
        ),
        (
            "pattern = \"^[a-z0-9][a-z0-9-]{0,62}$\"\n",
            "\n",
            "oauth.authorization_url",
            "needs a `pattern` or `choices`",
        ),
        (
            "token_url = \"https://{subdomain}.acme.example/oauth/token\"",
            "token_url = \"https://{region}.acme.example/oauth/token\"",
            "oauth.token_url",
            "`{region}`",
        ),
        (
            "token_url = \"https://{subdomain}.acme.example/oauth/token\"",
            "token_url = \"http://acme.example/oauth/token\"",
            "oauth.token_url",
            "https://",
        ),
        (
            "client_auth = \"client_secret_post\"",
            "client_auth = \"private_key_jwt\"",
            "oauth.client_auth",
            "must be",
        ),
        (
            "token_lifetime_seconds = 7200",
            "token_lifetime_seconds = 0",
            "oauth.token_lifetime_seconds",
            "at least 1",
        ),
        (
            "keep = [\"account_id\"]",
            "keep = [\"refresh_token\"]",
            "oauth.keep[0]",
            "non-secret",
        ),
        (
            "label = \"/user/name\"",
            "label = \"user.name\"",
            "identity.label",
            "JSON pointer",
        ),
        (
            "name = \"subdomain\"",
            "name = \"client_id\"",
            "fields[0].name",
            "every provider has",
        ),
    ];
    for (from, to, field, why) in cases {
        assert!(GOOD.contains(from), "{from}");
        let problems = problems_of(&GOOD.replace(from, to));
        assert!(
            problems
                .iter()
                .any(|problem| problem.field == *field && problem.why.contains(why)),
            "{to}: {problems:#?}"
        );
        assert!(problems.iter().all(|problem| problem.file == "acme.toml"));
    }
}

#[test]
fn a_public_client_must_use_pkce_and_cannot_use_client_credentials() {
    let public = GOOD.replace(
        "client_auth = \"client_secret_post\"\npkce = true",
        "client_auth = \"none\"",
    );
    let problems = problems_of(&public);
    let fields: Vec<_> = problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(fields, ["oauth.client_auth", "oauth.pkce"], "{problems:#?}");
}

#[test]
fn consent_needs_an_authorization_url() {
    let problem = only_problem(&GOOD.replace(
        "authorization_url = \"https://{subdomain}.acme.example/oauth/authorize\"\n",
        "",
    ));
    assert_eq!(problem.field, "oauth.authorization_url");
    assert!(problem.why.contains("required"), "{problem}");
}

#[test]
fn two_files_may_not_declare_the_same_id() {
    let problems = load(&[source("a.toml", GOOD), source("b.toml", GOOD)]).unwrap_err();
    assert_eq!(problems.len(), 1);
    assert_eq!(
        problems[0].to_string(),
        "b.toml: id: `acme` is declared by a.toml already"
    );
}

#[test]
fn an_operators_folder_gives_its_toml_files_in_order_and_names_a_missing_folder() {
    let folder = std::env::temp_dir().join(format!("latch-providers-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("b.toml"), "b").unwrap();
    std::fs::write(folder.join("a.toml"), "a").unwrap();
    std::fs::write(folder.join("notes.md"), "not a provider").unwrap();
    let sources = read_folder(&folder).unwrap();
    let names: Vec<_> = sources.iter().map(|s| s.text.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    std::fs::remove_dir_all(&folder).unwrap();
    let problem = read_folder(&folder).unwrap_err();
    assert!(problem.why.contains("cannot be read"), "{problem}");
}

#[test]
fn xero_hands_jobs_the_tenant_id_its_identity_names() {
    let connectors = load(&shipped()).unwrap();
    let xero = connectors.iter().find(|c| c.id() == "xero").unwrap();
    let identity = json!([{"tenantId": "t-1", "tenantName": "Demo Company (NZ)"}]);
    assert_eq!(
        xero.identity_metadata(&identity),
        *json!({"tenant_id": "t-1"}).as_object().unwrap()
    );
    assert_eq!(
        xero.identity_label(&identity),
        Some("Demo Company (NZ)".into())
    );
}

#[test]
fn a_service_account_method_needs_its_section_and_is_a_connector_of_its_own() {
    let jwt = GOOD.replace(
        "auth_methods = [\"oauth_authorization_code\", \"oauth_client_credentials\"]",
        "auth_methods = [\"oauth_authorization_code\", \"jwt_bearer\"]",
    );
    let problem = only_problem(&jwt);
    assert_eq!(problem.field, "jwt_bearer", "{problem}");

    let with_section = format!("{jwt}\n[jwt_bearer]\nmax_lifetime_seconds = 3600\n");
    let connectors = load(&[source("acme.toml", &with_section)]).unwrap();
    let acme = &connectors[0];
    assert_eq!(acme.typed_method(), Some(AuthMethod::JwtBearer));
    let names: Vec<_> = acme.config_fields().iter().map(|f| f.name).collect();
    assert_eq!(names, ["subdomain", "issuer", "subject", "scopes"]);
    assert_eq!(acme.secret_fields()[0].name, "private_key");
    // The app keeps the client's settings and secret.
    let flow = acme.oauth().unwrap();
    assert_eq!(flow.secret_fields()[0].name, "client_secret");

    // Both typed methods: one connector each, of one id, in the declaration's order; the
    // issuer and subject named as the file says.
    let both = GOOD.replace(
        "auth_methods = [\"oauth_authorization_code\", \"oauth_client_credentials\"]",
        "auth_methods = [\"oauth_authorization_code\", \"oauth_client_credentials\", \"jwt_bearer\"]",
    ) + "\n[jwt_bearer]\nmax_lifetime_seconds = 180\nissuer_title = \"Consumer key\"\n\
         subject_title = \"Username\"\nsubject_required = true\n";
    let connectors = load(&[source("acme.toml", &both)]).unwrap();
    assert_eq!(connectors.len(), 2);
    let (client, account) = (&connectors[0], &connectors[1]);
    assert_eq!((client.id(), account.id()), ("acme", "acme"));
    assert_eq!(
        client.typed_method(),
        Some(AuthMethod::OauthClientCredentials)
    );
    assert_eq!(account.typed_method(), Some(AuthMethod::JwtBearer));
    assert_eq!(client.secret_fields()[0].name, "client_secret");
    assert_eq!(account.secret_fields()[0].name, "private_key");
    let issuer = &account.config_fields()[1];
    assert_eq!((issuer.name, issuer.title), ("issuer", "Consumer key"));
    let subject = &account.config_fields()[2];
    assert_eq!((subject.title, subject.is_optional()), ("Username", false));
    assert_eq!(client.auth_methods(), account.auth_methods());
}
