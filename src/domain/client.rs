//! Who is on the other end of a request, as throttles, stream caps and `/metrics` see it.

use std::net::{IpAddr, Ipv6Addr};

/// A client's address, and whether it was taken from a trusted proxy's `X-Forwarded-For`.
///
/// A forwarded client is never loopback, whatever address the header names: behind a proxy on
/// the same host every connection comes from loopback, and a client must not be able to claim
/// to be the machine itself (issue 16, item 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientAddr {
    pub ip: IpAddr,
    pub forwarded: bool,
}

impl ClientAddr {
    /// A client connected directly.
    pub fn direct(ip: IpAddr) -> Self {
        Self {
            ip,
            forwarded: false,
        }
    }

    /// A client a trusted proxy named.
    pub fn forwarded(ip: IpAddr) -> Self {
        Self {
            ip,
            forwarded: true,
        }
    }

    /// The machine itself: a direct connection from a loopback address.
    pub fn is_loopback(&self) -> bool {
        !self.forwarded
            && match self.ip {
                IpAddr::V4(v4) => v4.is_loopback(),
                IpAddr::V6(v6) => v6
                    .to_ipv4_mapped()
                    .map_or(v6.is_loopback(), |v4| v4.is_loopback()),
            }
    }

    /// The unit limits count: the address, or for IPv6 its /64 (one client usually holds a
    /// whole /64), with IPv4-mapped IPv6 counted as the IPv4 address.
    pub fn unit(&self) -> String {
        match self.ip {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => v4.to_string(),
                None => {
                    let s = v6.segments();
                    let prefix = Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
                    format!("{prefix}/64")
                }
            },
        }
    }
}

impl std::fmt::Display for ClientAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.ip.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn a_forwarded_client_is_never_loopback() {
        assert!(ClientAddr::direct(ip("127.0.0.1")).is_loopback());
        assert!(ClientAddr::direct(ip("::1")).is_loopback());
        assert!(ClientAddr::direct(ip("::ffff:127.0.0.1")).is_loopback());
        assert!(!ClientAddr::forwarded(ip("127.0.0.1")).is_loopback());
        assert!(!ClientAddr::forwarded(ip("::1")).is_loopback());
        assert!(!ClientAddr::direct(ip("203.0.113.5")).is_loopback());
    }

    #[test]
    fn ipv6_is_counted_per_64_and_mapped_ipv4_as_ipv4() {
        let a = ClientAddr::direct(ip("2001:db8:1:2::1"));
        let b = ClientAddr::direct(ip("2001:db8:1:2:ffff::9"));
        assert_eq!(a.unit(), b.unit());
        assert_eq!(a.unit(), "2001:db8:1:2::/64");
        assert_eq!(ClientAddr::direct(ip("::ffff:10.0.0.1")).unit(), "10.0.0.1");
    }
}
