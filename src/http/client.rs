//! The client's address of a request: the peer's, or behind a trusted proxy the one its
//! `X-Forwarded-For` names. One function, used by the throttles, the stream caps and
//! `/metrics`, so that they all agree on who is calling.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;

use crate::domain::ClientAddr;
use crate::http::AppState;

/// The client of a request. With `trust_proxy`, a request carrying `X-Forwarded-For` came
/// through the proxy (which always adds it; a client cannot take it away): its client is the
/// last entry (what the nearest proxy wrote; earlier entries are the client's to make up), and
/// it counts as forwarded, so never as loopback, whatever the entry says. An entry that cannot
/// be read leaves the proxy's address standing in, still as forwarded. A request without the
/// header did not come through the proxy and is the peer's own. Without `trust_proxy` the
/// header is ignored. Loopback when the server runs without connection info.
pub fn client_addr(trust_proxy: bool, peer: Option<SocketAddr>, headers: &HeaderMap) -> ClientAddr {
    let peer_ip = peer.map_or(IpAddr::V4(Ipv4Addr::LOCALHOST), |addr| addr.ip());
    let Some(last_line) = headers.get_all("x-forwarded-for").iter().next_back() else {
        return ClientAddr::direct(peer_ip);
    };
    if !trust_proxy {
        return ClientAddr::direct(peer_ip);
    }
    let forwarded = last_line
        .to_str()
        .ok()
        .and_then(|line| line.rsplit(',').next())
        .and_then(parse_forwarded_entry);
    ClientAddr::forwarded(forwarded.unwrap_or(peer_ip))
}

/// One `X-Forwarded-For` entry: `203.0.113.7`, `203.0.113.7:4711`, `2001:db8::7`,
/// `[2001:db8::7]` or `[2001:db8::7]:4711`, optionally quoted (as in `Forwarded`).
pub fn parse_forwarded_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim().trim_matches('"');
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(socket) = entry.parse::<SocketAddr>() {
        return Some(socket.ip());
    }
    let inner = entry.strip_prefix('[')?;
    let (address, _) = inner.split_once(']')?;
    address.parse::<std::net::Ipv6Addr>().ok().map(IpAddr::V6)
}

/// The peer address axum recorded for the connection.
pub fn peer_of(parts_extensions: &axum::http::Extensions) -> Option<SocketAddr> {
    parts_extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| *addr)
}

/// Extracts the request's [`ClientAddr`] by the server's proxy setting.
pub struct Client(pub ClientAddr);

impl FromRequestParts<AppState> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Client(client_addr(
            state.auth.trust_proxy,
            peer_of(&parts.extensions),
            &parts.headers,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn forwarded(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_str(value).expect("header"),
        );
        headers
    }

    const PROXY: &str = "127.0.0.1:40000";

    fn through_proxy(value: &str) -> ClientAddr {
        client_addr(true, PROXY.parse().ok(), &forwarded(value))
    }

    #[test]
    fn entries_with_ports_and_brackets_are_read() {
        for (entry, ip) in [
            ("203.0.113.77", "203.0.113.77"),
            ("203.0.113.77:4711", "203.0.113.77"),
            ("2001:db8::7", "2001:db8::7"),
            ("[2001:db8::7]", "2001:db8::7"),
            ("[2001:db8::7]:4711", "2001:db8::7"),
            ("\"[2001:db8::7]:4711\"", "2001:db8::7"),
            ("198.51.100.1, 203.0.113.77:4711", "203.0.113.77"),
        ] {
            let client = through_proxy(entry);
            assert_eq!(client.ip.to_string(), ip, "{entry}");
            assert!(client.forwarded && !client.is_loopback(), "{entry}");
        }
    }

    #[test]
    fn a_forwarded_loopback_or_garbage_is_still_not_loopback() {
        assert!(!through_proxy("127.0.0.1").is_loopback());
        assert!(!through_proxy("[::1]:80").is_loopback());
        let garbage = through_proxy("unknown");
        assert_eq!(garbage.ip.to_string(), "127.0.0.1");
        assert!(
            !garbage.is_loopback(),
            "the proxy's own address, as forwarded"
        );
        let direct = client_addr(true, PROXY.parse().ok(), &HeaderMap::new());
        assert!(direct.is_loopback(), "no header: not through the proxy");
    }

    #[test]
    fn without_a_trusted_proxy_the_header_is_ignored() {
        let client = client_addr(false, PROXY.parse().ok(), &forwarded("203.0.113.77"));
        assert_eq!(client.ip.to_string(), "127.0.0.1");
        assert!(client.is_loopback());
    }
}
