//! Which IP addresses an outbound request must never reach: a pure classification with no I/O.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};

/// Why an address is off limits. The outbound guard uses the class to decide whether `--dev`
/// or an allow-list entry may relax the refusal; customers see its description.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressClass {
    /// `0.0.0.0/8`, `::`: "this host"; connecting to it reaches the local machine.
    Unspecified,
    /// `127.0.0.0/8`, `::1`.
    Loopback,
    /// RFC 1918 ranges, IPv6 site-local and local-use NAT64.
    Private,
    /// `100.64.0.0/10`, carrier-grade NAT shared address space.
    SharedCgnat,
    /// `169.254.0.0/16`, `fe80::/10`.
    LinkLocal,
    /// `fc00::/7`.
    UniqueLocal,
    /// Instance metadata services of cloud providers; they hand out credentials.
    CloudMetadata,
    /// `255.255.255.255`.
    Broadcast,
    /// `224.0.0.0/4`, `ff00::/8`.
    Multicast,
    /// Ranges reserved for documentation examples.
    Documentation,
    /// Everything else that is not public unicast (future use, benchmarking, protocol assignments).
    Reserved,
}

impl AddressClass {
    /// The phrase shown to customers after "blocked: `<ip>` is ".
    pub fn description(self) -> &'static str {
        match self {
            Self::Unspecified => "an unspecified address",
            Self::Loopback => "a loopback address",
            Self::Private => "a private address",
            Self::SharedCgnat => "a shared (carrier-grade NAT) address",
            Self::LinkLocal => "a link-local address",
            Self::UniqueLocal => "a unique-local address",
            Self::CloudMetadata => "a cloud metadata address",
            Self::Broadcast => "a broadcast address",
            Self::Multicast => "a multicast address",
            Self::Documentation => "a documentation address",
            Self::Reserved => "a reserved address",
        }
    }

    /// Whether `--dev` (`allow_private`) lifts the refusal: addresses a developer's own
    /// machine and network use. Metadata, broadcast, multicast and reserved ranges stay blocked.
    pub fn relaxed_in_dev(self) -> bool {
        matches!(self, Self::Loopback | Self::Private | Self::SharedCgnat | Self::LinkLocal | Self::UniqueLocal)
    }
}

/// Why `ip` must not be contacted, or `None` for a public unicast address.
pub fn blocked_reason(ip: IpAddr) -> Option<&'static str> {
    classify(ip).map(AddressClass::description)
}

/// The class of a non-public address, or `None` for a public unicast address.
pub fn classify(ip: IpAddr) -> Option<AddressClass> {
    match ip {
        IpAddr::V4(ip) => classify_v4(ip),
        IpAddr::V6(ip) => classify_v6(ip),
    }
}

const fn v4(a: u8, b: u8, c: u8, d: u8, prefix: u8) -> Ipv4Net {
    Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), prefix)
}

#[allow(clippy::too_many_arguments)]
const fn v6(a: u16, b: u16, c: u16, d: u16, e: u16, f: u16, g: u16, h: u16, prefix: u8) -> Ipv6Net {
    Ipv6Net::new_assert(Ipv6Addr::new(a, b, c, d, e, f, g, h), prefix)
}

/// IPv4 ranges, most specific first: the first match decides.
const V4_RANGES: [(Ipv4Net, AddressClass); 20] = [
    (v4(255, 255, 255, 255, 32), AddressClass::Broadcast),
    (v4(169, 254, 169, 254, 32), AddressClass::CloudMetadata), // AWS, GCP, Azure, OpenStack, ...
    (v4(169, 254, 170, 2, 32), AddressClass::CloudMetadata),   // AWS ECS task metadata
    (v4(100, 100, 100, 200, 32), AddressClass::CloudMetadata), // Alibaba Cloud
    (v4(168, 63, 129, 16, 32), AddressClass::CloudMetadata),   // Azure WireServer (public space, same risk)
    (v4(0, 0, 0, 0, 8), AddressClass::Unspecified),
    (v4(10, 0, 0, 0, 8), AddressClass::Private),
    (v4(172, 16, 0, 0, 12), AddressClass::Private),
    (v4(192, 168, 0, 0, 16), AddressClass::Private),
    (v4(100, 64, 0, 0, 10), AddressClass::SharedCgnat),
    (v4(127, 0, 0, 0, 8), AddressClass::Loopback),
    (v4(169, 254, 0, 0, 16), AddressClass::LinkLocal),
    (v4(192, 0, 0, 0, 24), AddressClass::Reserved), // IETF protocol assignments
    (v4(192, 0, 2, 0, 24), AddressClass::Documentation),
    (v4(198, 51, 100, 0, 24), AddressClass::Documentation),
    (v4(203, 0, 113, 0, 24), AddressClass::Documentation),
    (v4(198, 18, 0, 0, 15), AddressClass::Reserved),  // benchmarking
    (v4(192, 88, 99, 0, 24), AddressClass::Reserved), // deprecated 6to4 relay anycast
    (v4(224, 0, 0, 0, 4), AddressClass::Multicast),
    (v4(240, 0, 0, 0, 4), AddressClass::Reserved),
];

/// IPv6 ranges checked after the forms that embed an IPv4 address.
const V6_RANGES: [(Ipv6Net, AddressClass); 12] = [
    (v6(0, 0, 0, 0, 0, 0, 0, 0, 128), AddressClass::Unspecified),
    (v6(0, 0, 0, 0, 0, 0, 0, 1, 128), AddressClass::Loopback),
    (v6(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254, 128), AddressClass::CloudMetadata), // AWS IMDS over IPv6
    (v6(0x0064, 0xff9b, 0x0001, 0, 0, 0, 0, 0, 48), AddressClass::Private),        // local-use NAT64
    (v6(0x0100, 0, 0, 0, 0, 0, 0, 0, 64), AddressClass::Reserved),                 // discard-only
    (v6(0x2001, 0x0002, 0, 0, 0, 0, 0, 0, 48), AddressClass::Reserved),            // benchmarking
    (v6(0x2001, 0x0db8, 0, 0, 0, 0, 0, 0, 32), AddressClass::Documentation),
    (v6(0x3fff, 0, 0, 0, 0, 0, 0, 0, 20), AddressClass::Documentation),
    (v6(0xfc00, 0, 0, 0, 0, 0, 0, 0, 7), AddressClass::UniqueLocal),
    (v6(0xfe80, 0, 0, 0, 0, 0, 0, 0, 10), AddressClass::LinkLocal),
    (v6(0xfec0, 0, 0, 0, 0, 0, 0, 0, 10), AddressClass::Private), // deprecated site-local
    (v6(0xff00, 0, 0, 0, 0, 0, 0, 0, 8), AddressClass::Multicast),
];

/// `2000::/3`: the only IPv6 space allocated for global unicast.
const V6_GLOBAL_UNICAST: Ipv6Net = v6(0x2000, 0, 0, 0, 0, 0, 0, 0, 3);
/// `64:ff9b::/96`: well-known NAT64 prefix; the last 32 bits are the IPv4 destination.
const V6_NAT64: Ipv6Net = v6(0x0064, 0xff9b, 0, 0, 0, 0, 0, 0, 96);
/// `2002::/16`: 6to4; bits 16..48 are the IPv4 relay address.
const V6_6TO4: Ipv6Net = v6(0x2002, 0, 0, 0, 0, 0, 0, 0, 16);

fn classify_v4(ip: Ipv4Addr) -> Option<AddressClass> {
    V4_RANGES.iter().find(|(net, _)| net.contains(&ip)).map(|(_, class)| *class)
}

fn classify_v6(ip: Ipv6Addr) -> Option<AddressClass> {
    if let Some(embedded) = embedded_v4(ip) {
        return classify_v4(embedded);
    }
    if V6_6TO4.contains(&ip) {
        let [_, a, b, ..] = ip.segments();
        let relay = Ipv4Addr::from((u32::from(a) << 16) | u32::from(b));
        if let Some(class) = classify_v4(relay) {
            return Some(class);
        }
    }
    if let Some((_, class)) = V6_RANGES.iter().find(|(net, _)| net.contains(&ip)) {
        return Some(*class);
    }
    if !V6_GLOBAL_UNICAST.contains(&ip) {
        return Some(AddressClass::Reserved);
    }
    None
}

/// The IPv4 address an IPv6 address stands for, when it is an IPv4-mapped (`::ffff:a.b.c.d`),
/// IPv4-compatible (`::a.b.c.d`) or NAT64 (`64:ff9b::a.b.c.d`) form. `::` and `::1` are not.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(mapped) = ip.to_ipv4_mapped() {
        return Some(mapped);
    }
    let segments = ip.segments();
    let low = Ipv4Addr::from((u32::from(segments[6]) << 16) | u32::from(segments[7]));
    let compatible = segments[..6].iter().all(|s| *s == 0) && u32::from(low) > 1;
    if compatible || V6_NAT64.contains(&ip) { Some(low) } else { None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_every_blocked_range_and_allows_public_addresses() {
        use AddressClass::*;
        let cases: &[(&str, Option<AddressClass>)] = &[
            // IPv4
            ("0.0.0.0", Some(Unspecified)),
            ("0.1.2.3", Some(Unspecified)),
            ("127.0.0.1", Some(Loopback)),
            ("127.255.255.254", Some(Loopback)),
            ("10.0.0.5", Some(Private)),
            ("172.16.0.1", Some(Private)),
            ("172.31.255.255", Some(Private)),
            ("192.168.1.1", Some(Private)),
            ("100.64.0.1", Some(SharedCgnat)),
            ("100.127.255.255", Some(SharedCgnat)),
            ("169.254.1.1", Some(LinkLocal)),
            ("169.254.169.254", Some(CloudMetadata)),
            ("169.254.170.2", Some(CloudMetadata)),
            ("100.100.100.200", Some(CloudMetadata)),
            ("168.63.129.16", Some(CloudMetadata)),
            ("255.255.255.255", Some(Broadcast)),
            ("224.0.0.1", Some(Multicast)),
            ("239.255.255.250", Some(Multicast)),
            ("192.0.2.1", Some(Documentation)),
            ("198.51.100.7", Some(Documentation)),
            ("203.0.113.9", Some(Documentation)),
            ("192.0.0.8", Some(Reserved)),
            ("198.18.0.1", Some(Reserved)),
            ("240.0.0.1", Some(Reserved)),
            ("8.8.8.8", None),
            ("1.1.1.1", None),
            ("172.32.0.1", None),
            ("100.128.0.1", None),
            ("169.255.0.1", None),
            // IPv6
            ("::", Some(Unspecified)),
            ("::1", Some(Loopback)),
            ("fe80::1", Some(LinkLocal)),
            ("febf::1", Some(LinkLocal)),
            ("fc00::1", Some(UniqueLocal)),
            ("fd12:3456::1", Some(UniqueLocal)),
            ("fd00:ec2::254", Some(CloudMetadata)),
            ("fec0::1", Some(Private)),
            ("ff02::1", Some(Multicast)),
            ("2001:db8::1", Some(Documentation)),
            ("3fff::1", Some(Documentation)),
            ("100::1", Some(Reserved)),
            ("2001:2::1", Some(Reserved)),
            ("4000::1", Some(Reserved)),
            ("64:ff9b:1::1", Some(Private)),
            // IPv4 addresses in IPv6 clothing
            ("::ffff:127.0.0.1", Some(Loopback)),
            ("::ffff:10.0.0.5", Some(Private)),
            ("::ffff:169.254.169.254", Some(CloudMetadata)),
            ("::ffff:100.64.0.1", Some(SharedCgnat)),
            ("::ffff:0.0.0.0", Some(Unspecified)),
            ("::127.0.0.1", Some(Loopback)),
            ("::192.168.0.1", Some(Private)),
            ("64:ff9b::127.0.0.1", Some(Loopback)),
            ("64:ff9b::a9fe:a9fe", Some(CloudMetadata)),
            ("2002:7f00:1::1", Some(Loopback)),
            ("2002:a00:5::1", Some(Private)),
            ("::ffff:8.8.8.8", None),
            ("64:ff9b::8.8.8.8", None),
            ("2002:808:808::1", None),
            ("2606:4700::1111", None),
            ("2001:4860:4860::8888", None),
        ];
        for (text, expected) in cases {
            let ip: IpAddr = text.parse().unwrap();
            assert_eq!(classify(ip), *expected, "{text}");
            assert_eq!(blocked_reason(ip), expected.map(AddressClass::description), "{text}");
        }
    }

    #[test]
    fn dev_mode_relaxes_only_local_network_classes() {
        use AddressClass::*;
        for class in [Loopback, Private, SharedCgnat, LinkLocal, UniqueLocal] {
            assert!(class.relaxed_in_dev(), "{class:?}");
        }
        for class in [Unspecified, CloudMetadata, Broadcast, Multicast, Documentation, Reserved] {
            assert!(!class.relaxed_in_dev(), "{class:?}");
        }
    }
}
