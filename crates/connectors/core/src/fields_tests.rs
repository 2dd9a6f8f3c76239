//! The checks and schemas of field specs.

use super::*;

#[test]
fn a_host_url_names_a_host_a_resolver_can_look_up() {
    let policy = ValidationPolicy::default();
    for good in [
        "https://acme.cloud.looker.com",
        "https://api.acme.example:8443/api/4.0",
        "https://bücher.example",
        "https://192.0.2.10",
    ] {
        assert!(check_host_url(good, policy).is_ok(), "{good}");
    }
    for bad in [
        "https://acme.looker.com*",
        "https://acme..looker.com",
        "https://acme.looker.com./",
        "https://ac$me.looker.com",
    ] {
        assert!(check_host_url(bad, policy).is_err(), "{bad}");
    }
}

const SPECS: &[FieldSpec] = &[
    FieldSpec {
        name: "host",
        title: "Host",
        help: "The host.",
        kind: FieldKind::HostUrl,
        max_len: 100,
        example: "https://example.com",
        binds_secret: true,
        pattern: None,
        choices: &[],
        default: None,
        optional: false,
    },
    FieldSpec {
        name: "token",
        title: "Token",
        help: "The token.",
        kind: FieldKind::Secret,
        max_len: 8,
        example: "",
        binds_secret: false,
        pattern: None,
        choices: &[],
        default: None,
        optional: false,
    },
];

fn check(value: Value, allow_http_hosts: bool) -> Result<Fields, Vec<FieldError>> {
    check_section("s", SPECS, &value, ValidationPolicy { allow_http_hosts })
}

fn only_error(value: Value) -> FieldError {
    let errors = check(value, false).unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:?}");
    errors.into_iter().next().unwrap()
}

#[test]
fn a_complete_section_passes_with_trimmed_text_and_untouched_secrets() {
    let fields = check(
        json!({"host": " https://example.com ", "token": " t "}),
        false,
    )
    .unwrap();
    assert_eq!(fields["host"], "https://example.com/");
    assert_eq!(fields["token"], " t ");
}

#[test]
fn every_problem_is_reported_at_once() {
    let errors = check(json!({"token": 5, "extra": 1}), false).unwrap_err();
    let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["s.extra", "s.host", "s.token"]);
}

#[test]
fn host_urls_must_be_absolute_https_without_user_info_query_or_fragment() {
    for (host, message) in [
        ("example.com", "must be an absolute URL"),
        ("ftp://example.com", "must be an https URL"),
        ("http://example.com", "must use https"),
        ("https://user:pw@example.com", "user name or password"),
        ("https://example.com/?a=1", "query string"),
        ("https://example.com/#top", "fragment"),
    ] {
        let error = only_error(json!({"host": host, "token": "t"}));
        assert_eq!(error.field, "s.host");
        assert!(error.message.contains(message), "{host}: {}", error.message);
    }
}

#[test]
fn plain_http_passes_only_when_the_policy_allows_it() {
    assert!(check(json!({"host": "http://127.0.0.1:9000", "token": "t"}), true).is_ok());
}

#[test]
fn empty_and_overlong_values_are_refused_with_their_limits() {
    let error = only_error(json!({"host": "https://example.com", "token": ""}));
    assert_eq!(error.message, "must not be empty");
    let error = only_error(json!({"host": "https://example.com", "token": "123456789"}));
    assert_eq!(error.message, "must be at most 8 characters (got 9)");
}

#[test]
fn control_characters_are_refused_outside_secrets() {
    for host in [
        "https://exa\tmple.com",
        "https://example.com\u{0}",
        "https://a\nb.com",
    ] {
        let error = only_error(json!({"host": host, "token": "t"}));
        assert_eq!(
            error,
            FieldError::new("s.host", "must not contain control characters")
        );
    }
    assert!(
        check(
            json!({"host": "https://example.com", "token": "t\u{0}"}),
            false
        )
        .is_ok()
    );
}

#[test]
fn a_nul_is_found_in_keys_values_and_arrays_with_its_path() {
    assert_eq!(
        first_nul(&json!({"a": {"b": "x\u{0}"}}), "config").as_deref(),
        Some("config.a.b")
    );
    assert_eq!(
        first_nul(&json!({"a": ["ok", "\u{0}"]}), "config").as_deref(),
        Some("config.a[1]")
    );
    assert_eq!(
        first_nul(&json!({"k\u{0}": 1}), "config").as_deref(),
        Some("config.k\u{0}")
    );
    assert_eq!(first_nul(&json!({"a": ["ok", 1, null]}), "config"), None);
}

#[test]
fn a_section_that_is_not_an_object_is_refused() {
    assert_eq!(
        only_error(json!("x")),
        FieldError::new("s", "must be a JSON object")
    );
}

#[test]
fn the_schema_lists_every_field_and_marks_secrets_write_only() {
    let schema = section_schema(SPECS);
    assert_eq!(schema["required"], json!(["host", "token"]));
    assert_eq!(schema["properties"]["token"]["writeOnly"], true);
    assert!(schema["properties"]["host"].get("format").is_none());
    assert!(
        schema["properties"]["host"]["pattern"]
            .as_str()
            .unwrap()
            .contains("https://")
    );
    assert_eq!(schema["properties"]["host"]["title"], "Host");
    assert_eq!(schema["properties"]["host"]["x-binds-secret"], true);
    assert!(
        schema["properties"]["token"]
            .get("x-binds-secret")
            .is_none()
    );
}

#[test]
fn only_a_changed_secret_binding_field_counts_as_rebound() {
    let stored = check(json!({"host": "https://a.example", "token": "t"}), false).unwrap();
    let same = check(json!({"host": "https://a.example/", "token": "u"}), false).unwrap();
    let moved = check(json!({"host": "https://b.example", "token": "t"}), false).unwrap();
    assert!(rebound_fields(SPECS, &stored, &same).is_empty());
    assert_eq!(rebound_fields(SPECS, &stored, &moved), ["host"]);
}

#[test]
fn each_field_pattern_accepts_what_the_field_check_accepts() {
    let policy = ValidationPolicy {
        allow_http_hosts: false,
    };
    let samples = [
        "x",
        " x ",
        "a b",
        " ",
        "\u{3000}",
        "\t",
        "\tx",
        "x\n",
        "a\u{0}b",
        "\u{85}",
        "\u{200B}",
        "https://acme.cloud.looker.com",
        " https://acme.cloud.looker.com:443/api ",
        "https://a.b-c.example/x/y_z.~",
        "http://acme.example",
        "https://",
        "https://acme.example?x=1",
        "https://user@acme.example",
        "ftp://acme.example",
        "https://acme .example",
    ];
    for kind in [FieldKind::Text, FieldKind::Secret, FieldKind::HostUrl] {
        let pattern = regex::Regex::new(&field_pattern(kind)).unwrap();
        let spec = FieldSpec {
            name: "f",
            title: "F",
            help: "",
            kind,
            max_len: 100,
            example: "",
            binds_secret: false,
            pattern: None,
            choices: &[],
            default: None,
            optional: false,
        };
        for text in samples {
            let accepted = check_text(&spec, text, policy).is_ok();
            if pattern.is_match(text) {
                assert!(accepted, "{kind:?} {text:?} matches but is refused");
            } else if kind != FieldKind::HostUrl {
                assert!(
                    !accepted,
                    "{kind:?} {text:?} is accepted but does not match"
                );
            }
        }
    }
}

const DECLARED: &[FieldSpec] = &[
    FieldSpec {
        name: "tenant",
        title: "Tenant",
        help: "",
        kind: FieldKind::Text,
        max_len: 64,
        example: "contoso",
        binds_secret: true,
        pattern: Some("^[a-z0-9-]{1,63}$"),
        choices: &[],
        default: Some("common"),
        optional: false,
    },
    FieldSpec {
        name: "region",
        title: "Region",
        help: "",
        kind: FieldKind::Text,
        max_len: 8,
        example: "eu",
        binds_secret: true,
        pattern: None,
        choices: &["eu", "us"],
        default: None,
        optional: false,
    },
    FieldSpec {
        name: "userinfo_url",
        title: "Identity URL",
        help: "",
        kind: FieldKind::HostUrl,
        max_len: 256,
        example: "https://idp.example/userinfo",
        binds_secret: true,
        pattern: None,
        choices: &[],
        default: None,
        optional: true,
    },
];

fn declared(value: Value) -> Result<Fields, Vec<FieldError>> {
    check_section("config", DECLARED, &value, ValidationPolicy::default())
}

#[test]
fn a_default_fills_a_field_left_out_and_an_optional_field_may_be_absent() {
    let fields = declared(json!({"region": "eu"})).unwrap();
    assert_eq!(fields["tenant"], "common");
    assert!(!fields.contains_key("userinfo_url"));
    let errors = declared(json!({"region": "eu", "tenant": null})).unwrap_err();
    assert_eq!(errors[0].field, "config.tenant");
    assert!(errors[0].message.contains("left out"), "{errors:?}");
}

#[test]
fn a_pattern_and_choices_take_the_value_as_sent_and_say_what_they_accept() {
    for (value, field, says) in [
        (
            json!({"region": "eu", "tenant": "evil.example/"}),
            "config.tenant",
            "must match",
        ),
        (
            json!({"region": "eu", "tenant": " contoso"}),
            "config.tenant",
            "must match",
        ),
        (json!({"region": "mars"}), "config.region", "`eu`, `us`"),
        (json!({"region": " eu"}), "config.region", "must be one of"),
    ] {
        let errors = declared(value).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].field, field);
        assert!(errors[0].message.contains(says), "{errors:?}");
    }
    let schema = section_schema(DECLARED);
    assert_eq!(schema["required"], json!(["region"]));
    assert_eq!(
        schema["properties"]["tenant"]["pattern"],
        "^[a-z0-9-]{1,63}$"
    );
    assert_eq!(schema["properties"]["tenant"]["default"], "common");
    assert_eq!(schema["properties"]["region"]["enum"], json!(["eu", "us"]));
}

#[test]
fn a_declared_pattern_must_be_anchored_ecma_compatible_and_valid() {
    assert!(check_pattern("^[a-z]+(?:-[a-z]+)*$").is_ok());
    for (bad, why) in [
        ("[a-z]+", "anchored"),
        ("^[a-z]+\\$", "anchored"),
        ("^(?i)[a-z]+$", "ECMA-262"),
        ("^(?=a)[a-z]+$", "ECMA-262"),
        ("^\\p{L}+$", "ECMA-262"),
        ("^[a-z+$", "not a valid"),
    ] {
        let error = check_pattern(bad).unwrap_err();
        assert!(error.contains(why), "{bad}: {error}");
    }
    assert!(matches_pattern("^[a-z]+$", "abc"));
    assert!(!matches_pattern("^[a-z]+$", "abc\n"));
}
