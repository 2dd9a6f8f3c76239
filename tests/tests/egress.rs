//! Server-side request forgery: every address that is not public, in every spelling, is
//! refused before a connection is made, through the real Looker connector and egress client.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use latch_connector::{
    Connector, EgressClient, EgressPolicy, Fields, SecretFields, ValidationOutcome,
    ValidationStatus, blocked_reason,
};
use latch_connector_looker::Looker;
use latch_tests::mock_looker::{Fault, MockLooker, MockLookerConfig};
use serde_json::{Value, json};

fn fields(value: Value) -> Fields {
    value.as_object().cloned().unwrap()
}

async fn test_login(policy: EgressPolicy, host: &str) -> ValidationOutcome {
    // As the core hands it to Looker: calling Looker's own ports.
    let egress = EgressClient::new(policy).unwrap().for_ports(Looker.ports());
    let config = fields(json!({"api_host_url": host, "client_id": "AbCdEfGh12345678"}));
    let secrets = SecretFields::new(fields(json!({"client_secret": "s3cr3t"})));
    Looker.test_login(&egress, &config, &secrets).await
}

fn loopback_opened() -> EgressPolicy {
    EgressPolicy {
        allow_http: true,
        allow_cidrs: vec!["127.0.0.0/8".parse().unwrap()],
        ..EgressPolicy::default()
    }
}

fn assert_refused(host: &str, outcome: &ValidationOutcome) {
    assert_eq!(
        outcome.status,
        ValidationStatus::Unreachable,
        "{host}: {outcome:?}"
    );
    assert!(outcome.blocked, "{host}: not marked blocked: {outcome:?}");
    assert!(
        outcome.detail.contains("not allowed"),
        "{host}: {}",
        outcome.detail
    );
}

/// Every one of these names an address inside a network, never a public host.
const BLOCKED_HOSTS: &[&str] = &[
    // IPv4 ranges
    "https://127.0.0.1",
    "https://127.1.2.3",
    "https://0.0.0.0",
    "https://10.0.0.1",
    "https://10.255.255.254",
    "https://172.16.0.1",
    "https://172.31.255.254",
    "https://192.168.1.1",
    "https://169.254.169.254",
    "https://169.254.0.1",
    "https://100.64.0.1",
    "https://100.127.255.254",
    "https://192.0.0.8",
    "https://192.0.2.1",
    "https://198.51.100.7",
    "https://203.0.113.9",
    "https://198.18.0.1",
    "https://224.0.0.1",
    "https://239.255.255.250",
    "https://240.0.0.1",
    "https://255.255.255.255",
    // Other spellings of IPv4 addresses, which URL parsing turns into the addresses
    "https://2130706433",
    "https://0x7f000001",
    "https://0177.0.0.1",
    "https://017700000001",
    "https://127.1",
    "https://0x7f.0.0.1",
    "https://3232235777",
    "https://0xA9FEA9FE",
    "https://0251.0376.0251.0376",
    // IPv6 ranges
    "https://[::1]",
    "https://[::]",
    "https://[fc00::1]",
    "https://[fd00:ec2::254]",
    "https://[fe80::1]",
    "https://[fec0::1]",
    "https://[ff02::1]",
    "https://[2001:db8::1]",
    "https://[2001::1]",
    "https://[100::1]",
    // IPv4-mapped, IPv4-compatible, NAT64 and 6to4 forms of blocked IPv4 addresses
    "https://[::ffff:127.0.0.1]",
    "https://[::ffff:169.254.169.254]",
    "https://[::ffff:7f00:1]",
    "https://[::ffff:10.0.0.1]",
    "https://[::127.0.0.1]",
    "https://[64:ff9b::a9fe:a9fe]",
    "https://[64:ff9b::7f00:1]",
    "https://[64:ff9b::10.0.0.1]",
    "https://[2002:7f00:1::]",
    "https://[2002:c058:6301::1]",
    // IPv4-translated forms, and special-purpose IPv6 ranges inside and outside 2000::/3
    "https://[::ffff:0:7f00:1]",
    "https://[::ffff:0:127.0.0.1]",
    "https://[0:0:0:0:ffff:0:a9fe:a9fe]",
    "https://[2001:2::1]",
    "https://[2001:10::1]",
    "https://[2001:20::1]",
    "https://[3fff::1]",
    "https://[5f00::1]",
    "https://[4000::1]",
    "https://[8000::1]",
    "https://[2620:4f:8000::1]",
    // The deprecated 6to4 relay anycast range, in several spellings
    "https://192.88.99.1",
    "https://3227017985",
    "https://0xc0.0x58.0x63.0x01",
    // Names that resolve inside the machine
    "https://localhost",
    "https://LOCALHOST",
    "https://localhost:19999",
];

/// Fails the test, before anything is sent, when the policy would let `host` through: a
/// missed range must never turn into a connection attempt on the machine's network.
fn refused_before_sending(policy: &EgressPolicy, host: &str) {
    let url = url::Url::parse(host).unwrap();
    if let Some(url::Host::Domain(name)) = url.host() {
        // Names are judged after resolution: only names this test knows resolve inside.
        assert!(
            name.eq_ignore_ascii_case("localhost")
                || policy
                    .fixed_hosts
                    .as_ref()
                    .is_some_and(|hosts| hosts.contains_key(name)),
            "{host}: an unknown name"
        );
        return;
    }
    assert!(
        policy.check_url(&url, Looker.ports()).is_err(),
        "{host} would be called"
    );
}

#[tokio::test]
async fn every_non_public_address_in_every_spelling_is_refused_before_connecting() {
    assert!(BLOCKED_HOSTS.len() >= 60);
    for host in BLOCKED_HOSTS {
        refused_before_sending(&EgressPolicy::default(), host);
        let outcome = test_login(EgressPolicy::default(), host).await;
        assert_refused(host, &outcome);
    }
}

#[tokio::test]
async fn names_that_resolve_to_special_purpose_addresses_are_refused_after_resolution() {
    let addresses = [
        "127.0.0.1",
        "169.254.169.254",
        "192.88.99.1",
        "::ffff:0:7f00:1",
        "2001:2::1",
        "2001:10::1",
        "2001:20::1",
        "3fff::1",
        "5f00::1",
        "4000::1",
        "fd00:ec2::254",
    ];
    let mut hosts = HashMap::new();
    for (index, address) in addresses.iter().enumerate() {
        let ip: IpAddr = address.parse().unwrap();
        assert!(blocked_reason(ip).is_some(), "{ip} would be called");
        hosts.insert(format!("inside-{index}.example"), vec![ip]);
    }
    // A name with one public and one inside address keeps only the public one; that case
    // is the unit tests': here every address is inside, so nothing is left to call.
    let policy = EgressPolicy {
        fixed_hosts: Some(Arc::new(hosts)),
        ..EgressPolicy::default()
    };
    for (index, address) in addresses.iter().enumerate() {
        let host = format!("https://inside-{index}.example");
        refused_before_sending(&policy, &host);
        let outcome = test_login(policy.clone(), &host).await;
        assert_refused(&host, &outcome);
        assert!(
            outcome
                .detail
                .contains(&format!("inside-{index}.example resolves to")),
            "{address}: {}",
            outcome.detail
        );
    }
}

#[tokio::test]
async fn a_name_the_test_resolver_does_not_know_does_not_resolve() {
    let policy = EgressPolicy {
        fixed_hosts: Some(Arc::new(HashMap::new())),
        ..EgressPolicy::default()
    };
    let outcome = test_login(policy, "https://acme.cloud.looker.com").await;
    assert_eq!(outcome.status, ValidationStatus::Unreachable, "{outcome:?}");
    assert!(!outcome.blocked);
}

#[tokio::test]
async fn plain_http_is_refused_unless_the_operator_allows_it() {
    let outcome = test_login(EgressPolicy::default(), "http://localhost:443").await;
    assert_refused("http://localhost:443", &outcome);
    assert!(
        outcome.detail.contains("http:// URLs are not allowed"),
        "{}",
        outcome.detail
    );
}

#[tokio::test]
async fn a_port_outside_the_allow_list_is_refused() {
    // The name resolves to an opened range, so only the port rule stands in the way.
    let outcome = test_login(loopback_opened(), "https://localhost:8443").await;
    assert_refused("https://localhost:8443", &outcome);
    assert!(
        outcome.detail.contains("port 8443 is not allowed"),
        "{}",
        outcome.detail
    );
}

#[tokio::test]
async fn an_allowed_range_opens_only_itself() {
    let mut policy = loopback_opened();
    policy.allow_http = false;
    for host in [
        "https://10.0.0.1",
        "https://[::1]",
        "https://169.254.169.254",
    ] {
        assert_refused(host, &test_login(policy.clone(), host).await);
    }
}

#[tokio::test]
async fn a_redirect_to_the_metadata_address_is_not_followed() {
    let mock = MockLooker::start(MockLookerConfig::default()).await;
    mock.set_fault(Fault::Redirect(
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/".into(),
    ));
    let outcome = test_login(loopback_opened(), &mock.url).await;
    assert_refused("redirect", &outcome);
    assert!(
        outcome.detail.contains("redirect to 169.254.169.254"),
        "{}",
        outcome.detail
    );
    assert_eq!(mock.stats().login_attempts, 1);
}

#[tokio::test]
async fn a_name_is_checked_after_resolution_not_before() {
    // `check_url` lets a name through; what it resolves to is judged at connect time. The
    // test resolver maps one name to the mock (in an opened range) and one to the metadata
    // address: the same URL shape is called in the first case and refused in the second.
    let mock = MockLooker::start(MockLookerConfig::default()).await;
    let port = url::Url::parse(&mock.url).unwrap().port().unwrap();
    let hosts = HashMap::from([
        (
            "looker.example".to_string(),
            vec!["127.0.0.1".parse().unwrap()],
        ),
        (
            "metadata.example".to_string(),
            vec!["169.254.169.254".parse().unwrap()],
        ),
    ]);
    let policy = EgressPolicy {
        extra_ports: vec![port],
        fixed_hosts: Some(Arc::new(hosts)),
        ..loopback_opened()
    };
    for host in ["looker.example", "metadata.example"] {
        assert!(
            policy
                .check_url(
                    &url::Url::parse(&format!("http://{host}:{port}")).unwrap(),
                    Looker.ports()
                )
                .is_ok()
        );
    }
    let reached = test_login(policy.clone(), &format!("http://looker.example:{port}")).await;
    assert_eq!(reached.status, ValidationStatus::Invalid, "{reached:?}");
    assert_eq!(mock.stats().login_attempts, 1);

    let metadata = format!("http://metadata.example:{port}");
    let refused = test_login(policy, &metadata).await;
    assert_refused(&metadata, &refused);
    assert!(
        refused
            .detail
            .contains("metadata.example resolves to 169.254.169.254"),
        "{}",
        refused.detail
    );
    assert_eq!(mock.stats().login_attempts, 1);
}
