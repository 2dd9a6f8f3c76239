//! Which IP addresses Latch refuses to call: everything that is not a public unicast address.
//!
//! IPv4 is judged by a deny table of IANA's special-purpose ranges. IPv6 is judged by an
//! allow rule: only global unicast (`2000::/3`) is callable, minus the special-purpose ranges
//! inside it; a range the table forgets outside `2000::/3` is refused anyway. The forms that
//! embed an IPv4 address and reach it (IPv4-mapped, NAT64, 6to4) are judged by that address.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

use ipnet::{Ipv4Net, Ipv6Net};

/// IANA IPv4 special-purpose ranges (and the multicast and reserved space), with why each is
/// refused.
const DENIED_V4: &[(&str, &str)] = &[
    ("0.0.0.0/8", "a \"this network\" address"),
    ("10.0.0.0/8", "a private address"),
    ("100.64.0.0/10", "a shared (carrier-grade NAT) address"),
    ("127.0.0.0/8", "a loopback address"),
    (
        "169.254.0.0/16",
        "a link-local address (cloud metadata lives there)",
    ),
    ("172.16.0.0/12", "a private address"),
    ("192.0.0.0/24", "an IETF protocol assignment"),
    ("192.0.2.0/24", "a documentation address"),
    ("192.31.196.0/24", "an AS112 DNS service address"),
    ("192.52.193.0/24", "an AMT relay address"),
    ("192.88.99.0/24", "a deprecated 6to4 relay anycast address"),
    ("192.168.0.0/16", "a private address"),
    ("192.175.48.0/24", "an AS112 DNS service address"),
    ("198.18.0.0/15", "a benchmarking address"),
    ("198.51.100.0/24", "a documentation address"),
    ("203.0.113.0/24", "a documentation address"),
    ("224.0.0.0/4", "a multicast address"),
    ("240.0.0.0/4", "a reserved or broadcast address"),
];

/// IANA IPv6 special-purpose ranges, inside and outside `2000::/3`: inside, they are holes in
/// the allow rule; outside, they only give a better reason than "not global unicast".
const DENIED_V6: &[(&str, &str)] = &[
    ("::/128", "the unspecified address"),
    ("::1/128", "a loopback address"),
    ("::ffff:0:0:0/96", "an IPv4-translated address"),
    ("::/96", "an IPv4-compatible address"),
    ("64:ff9b:1::/48", "a local-use NAT64 address"),
    ("100::/64", "a discard-only address"),
    ("100:0:0:1::/64", "a dummy prefix address"),
    ("2001::/32", "a Teredo tunnel address"),
    ("2001:2::/48", "a benchmarking address"),
    ("2001:10::/28", "a deprecated ORCHID address"),
    ("2001:20::/28", "an ORCHIDv2 address"),
    ("2001::/23", "an IETF protocol assignment"),
    ("2001:db8::/32", "a documentation address"),
    ("2620:4f:8000::/48", "an AS112 DNS service address"),
    ("3fff::/20", "a documentation address"),
    ("5f00::/16", "a segment routing (SRv6) identifier"),
    ("fc00::/7", "a unique local (private) address"),
    ("fe80::/10", "a link-local address"),
    ("fec0::/10", "a site-local address"),
    ("ff00::/8", "a multicast address"),
];

static V4_TABLE: LazyLock<Vec<(Ipv4Net, &'static str)>> = LazyLock::new(|| parse_table(DENIED_V4));
static V6_TABLE: LazyLock<Vec<(Ipv6Net, &'static str)>> = LazyLock::new(|| parse_table(DENIED_V6));

fn parse_table<N: std::str::FromStr>(table: &[(&str, &'static str)]) -> Vec<(N, &'static str)>
where
    N::Err: std::fmt::Debug,
{
    table
        .iter()
        .map(|(net, reason)| (net.parse().expect("a valid range in the table"), *reason))
        .collect()
}

/// Why an address is refused, or `None` for a public unicast address.
pub fn blocked_reason(ip: IpAddr) -> Option<String> {
    match ip {
        IpAddr::V4(v4) => blocked_v4(v4).map(str::to_string),
        IpAddr::V6(v6) => blocked_v6(v6),
    }
}

fn blocked_v4(ip: Ipv4Addr) -> Option<&'static str> {
    V4_TABLE
        .iter()
        .find(|(net, _)| net.contains(&ip))
        .map(|(_, reason)| *reason)
}

/// The IPv4 address in bits 16 to 48 (6to4) or 96 to 128 (NAT64, mapped) of `ip`.
fn embedded_v4(high: u16, low: u16) -> Ipv4Addr {
    let [a, b] = high.to_be_bytes();
    let [c, d] = low.to_be_bytes();
    Ipv4Addr::new(a, b, c, d)
}

fn blocked_v6(ip: Ipv6Addr) -> Option<String> {
    let s = ip.segments();
    // These forms reach the IPv4 address they embed: judge that one.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return blocked_v4(v4).map(|reason| format!("the IPv4-mapped form of {reason}"));
    }
    if s[0..6] == [0x0064, 0xff9b, 0, 0, 0, 0] {
        return blocked_v4(embedded_v4(s[6], s[7]))
            .map(|reason| format!("the NAT64 form of {reason}"));
    }
    if s[0] == 0x2002 {
        return blocked_v4(embedded_v4(s[1], s[2]))
            .map(|reason| format!("the 6to4 form of {reason}"));
    }
    // The table lists narrow ranges before the wider ones that hold them.
    if let Some((_, reason)) = V6_TABLE.iter().find(|(net, _)| net.contains(&ip)) {
        return Some((*reason).to_string());
    }
    if s[0] & 0xe000 != 0x2000 {
        return Some("outside the global unicast range 2000::/3".to_string());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(text: &str) -> Option<String> {
        blocked_reason(text.parse().unwrap())
    }

    #[test]
    fn public_unicast_addresses_pass() {
        for ip in [
            "93.184.216.34",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "192.88.100.1",
            "2606:4700::1111",
            "2a00:1450:4001:80b::200e",
            "2001:200::1",
            "3ffe:ffff::1",
        ] {
            assert_eq!(reason(ip), None, "{ip}");
        }
        assert_eq!(
            reason("64:ff9b::808:808"),
            None,
            "NAT64 of a public address"
        );
        assert_eq!(reason("::ffff:8.8.8.8"), None, "IPv4-mapped public address");
        assert_eq!(
            reason("2002:0808:0808::1"),
            None,
            "6to4 of a public address"
        );
    }

    #[test]
    fn every_ipv4_special_purpose_range_is_refused_at_both_ends() {
        for (net, why) in DENIED_V4 {
            let net: Ipv4Net = net.parse().unwrap();
            for ip in [net.network(), net.broadcast()] {
                assert_eq!(blocked_v4(ip), Some(*why), "{ip} in {net}");
            }
        }
    }

    #[test]
    fn every_ipv6_special_purpose_range_is_refused_at_both_ends() {
        for (net, _) in DENIED_V6 {
            let net: Ipv6Net = net.parse().unwrap();
            for ip in [net.network(), net.broadcast()] {
                assert!(blocked_v6(ip).is_some(), "{ip} in {net}");
            }
        }
    }

    #[test]
    fn ranges_named_in_the_special_purpose_registries_are_refused_in_several_spellings() {
        for (ip, expected) in [
            ("192.88.99.1", "6to4 relay"),
            ("192.88.99.255", "6to4 relay"),
            ("::ffff:0:7f00:1", "IPv4-translated"),
            ("::ffff:0:127.0.0.1", "IPv4-translated"),
            ("0:0:0:0:ffff:0:a9fe:a9fe", "IPv4-translated"),
            ("2001:2::1", "benchmarking"),
            ("2001:0002:0000::ffff", "benchmarking"),
            ("2001:10::1", "ORCHID"),
            ("2001:1f::1", "ORCHID"),
            ("2001:20::1", "ORCHIDv2"),
            ("2001:2f:ffff::1", "ORCHIDv2"),
            ("3fff::1", "documentation"),
            ("3fff:0fff:ffff::1", "documentation"),
            ("5f00::1", "segment routing"),
            ("5F00:0:0:0:0:0:0:1", "segment routing"),
            ("4000::1", "outside the global unicast range"),
            ("8000::", "outside the global unicast range"),
            ("1::1", "outside the global unicast range"),
            ("::7f00:1", "IPv4-compatible"),
            ("::127.0.0.1", "IPv4-compatible"),
            ("2001:db8::1", "documentation"),
            ("2001::1", "Teredo"),
            ("2001:1::1", "IETF protocol assignment"),
            ("64:ff9b:1::a00:1", "local-use NAT64"),
        ] {
            let why = reason(ip).unwrap_or_else(|| panic!("{ip} passed"));
            assert!(why.contains(expected), "{ip}: {why}");
        }
    }

    #[test]
    fn embedded_ipv4_forms_are_judged_by_their_ipv4_address() {
        for (ip, expected) in [
            ("::ffff:169.254.169.254", "IPv4-mapped form of a link-local"),
            ("::ffff:a9fe:a9fe", "IPv4-mapped form of a link-local"),
            ("64:ff9b::7f00:1", "NAT64 form of a loopback"),
            ("64:ff9b::127.0.0.1", "NAT64 form of a loopback"),
            ("2002:0a00:0001::1", "6to4 form of a private"),
            ("2002:c058:6301::", "6to4 form of a deprecated 6to4 relay"),
        ] {
            let why = reason(ip).unwrap_or_else(|| panic!("{ip} passed"));
            assert!(why.contains(expected), "{ip}: {why}");
        }
    }
}
