//! Which IP addresses Latch refuses to call: everything that is not a public unicast address.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is refused, or `None` for a public unicast address.
pub fn blocked_reason(ip: IpAddr) -> Option<String> {
    match ip {
        IpAddr::V4(v4) => blocked_v4(v4).map(str::to_string),
        IpAddr::V6(v6) => blocked_v6(v6),
    }
}

fn blocked_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        (0, _, _) => "a \"this network\" address",
        (127, _, _) => "a loopback address",
        (10, _, _) => "a private address",
        (172, 16..=31, _) => "a private address",
        (192, 168, _) => "a private address",
        (169, 254, _) => "a link-local address (cloud metadata lives there)",
        (100, 64..=127, _) => "a shared (carrier-grade NAT) address",
        (192, 0, 0) => "an IETF protocol assignment",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "a documentation address",
        (198, 18..=19, _) => "a benchmarking address",
        (224..=239, _, _) => "a multicast address",
        (240..=255, _, _) => "a reserved or broadcast address",
        _ => return None,
    })
}

fn blocked_v6(ip: Ipv6Addr) -> Option<String> {
    let s = ip.segments();
    let embedded_v4 = |high: u16, low: u16| {
        Ipv4Addr::new((high >> 8) as u8, high as u8, (low >> 8) as u8, low as u8)
    };
    if let Some(v4) = ip.to_ipv4_mapped() {
        return blocked_v4(v4).map(|reason| format!("the IPv4-mapped form of {reason}"));
    }
    if s[0] == 0x0064 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        // NAT64 reaches the IPv4 address it embeds: judge that one.
        return blocked_v4(embedded_v4(s[6], s[7]))
            .map(|reason| format!("the NAT64 form of {reason}"));
    }
    if s[0] == 0x2002 {
        return blocked_v4(embedded_v4(s[1], s[2]))
            .map(|reason| format!("the 6to4 form of {reason}"));
    }
    let reason = if ip.is_unspecified() {
        "the unspecified address"
    } else if ip.is_loopback() {
        "a loopback address"
    } else if s[0..6] == [0, 0, 0, 0, 0, 0] {
        "an IPv4-compatible address"
    } else if s[0] == 0x0064 && s[1] == 0xff9b && s[2] == 0x0001 {
        "a local-use NAT64 address"
    } else if s[0] & 0xfe00 == 0xfc00 {
        "a unique local (private) address"
    } else if s[0] & 0xffc0 == 0xfe80 {
        "a link-local address"
    } else if s[0] & 0xffc0 == 0xfec0 {
        "a site-local address"
    } else if s[0] & 0xff00 == 0xff00 {
        "a multicast address"
    } else if s[0] == 0x2001 && s[1] == 0x0db8 {
        "a documentation address"
    } else if s[0] == 0x2001 && s[1] == 0x0000 {
        "a Teredo tunnel address"
    } else if s[0] == 0x0100 && s[1..4] == [0, 0, 0] {
        "a discard-only address"
    } else {
        return None;
    };
    Some(reason.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocked(text: &str) -> bool {
        blocked_reason(text.parse().unwrap()).is_some()
    }

    #[test]
    fn public_unicast_addresses_pass() {
        for ip in [
            "93.184.216.34",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
        ] {
            assert!(!blocked(ip), "{ip}");
        }
        assert!(!blocked("64:ff9b::808:808"), "NAT64 of a public address");
        assert!(!blocked("::ffff:8.8.8.8"), "IPv4-mapped public address");
    }

    #[test]
    fn embedded_ipv4_forms_are_judged_by_their_ipv4_address() {
        assert!(
            blocked_reason("::ffff:169.254.169.254".parse().unwrap())
                .unwrap()
                .contains("IPv4-mapped form of a link-local")
        );
        assert!(
            blocked_reason("64:ff9b::7f00:1".parse().unwrap())
                .unwrap()
                .contains("NAT64 form of a loopback")
        );
        assert!(blocked("2002:0a00:0001::1"));
    }
}
