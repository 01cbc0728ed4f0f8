//! Slowing password guessing down without locking staff out.
//!
//! Each failed login in the last [`WINDOW_MS`] counts against its account
//! and against its client. Past a few free failures, the next attempt for
//! that account, or from that client, must wait a delay that doubles with
//! each failure, up to a cap: an attempt that comes sooner is not checked
//! and the person is told how many seconds to wait. A right password always
//! works once the wait is over, and the waits stay short (seconds, never
//! the quarter of an hour a lockout would be).
//!
//! The client is the connecting address, or, when that address is one of
//! `web.trusted_proxies`, the address the proxy names in
//! `X-Forwarded-For`: behind a proxy every staff member would otherwise
//! share one address.
//!
//! Owns: the delay arithmetic and who the client is. Does not own the
//! record of attempts (that is `store`, which reserves an attempt and
//! checks the delay in one transaction, so parallel guesses cannot all get
//! through) or checking passwords (`auth`).

use std::net::IpAddr;

use axum::http::HeaderMap;
use ipnet::IpNet;

use crate::store::FailedLogins;

/// How far back failures count.
pub const WINDOW_MS: i64 = 15 * 60 * 1000;

/// Failures before an account, or a client, has to wait, and the longest wait.
struct Limit {
    free: i64,
    max_wait_ms: i64,
}

/// An account is guessed at from anywhere: a short cap, so that its owner
/// is never kept out for long.
const ACCOUNT: Limit = Limit {
    free: 5,
    max_wait_ms: 30_000,
};

/// A client guessing across accounts waits longer.
const CLIENT: Limit = Limit {
    free: 10,
    max_wait_ms: 60_000,
};

/// The first wait; each further failure doubles it.
const FIRST_WAIT_MS: i64 = 1_000;

impl Limit {
    /// How long after its last failure the next attempt must wait.
    fn wait_ms(&self, failures: i64) -> i64 {
        if failures < self.free {
            return 0;
        }
        let doublings = (failures - self.free).min(20) as u32;
        FIRST_WAIT_MS
            .saturating_mul(1 << doublings)
            .min(self.max_wait_ms)
    }

    fn due_at(&self, failed: FailedLogins) -> i64 {
        match self.wait_ms(failed.count) {
            0 => i64::MIN,
            wait => failed.last_at.saturating_add(wait),
        }
    }
}

/// When the next attempt may be checked, given the recent failures for
/// its account and from its client (milliseconds since the epoch).
pub fn next_attempt_at(account: FailedLogins, client: FailedLogins) -> i64 {
    ACCOUNT.due_at(account).max(CLIENT.due_at(client))
}

/// Whole seconds to wait until `due_ms`, at least 1.
pub fn seconds_until(due_ms: i64, now_ms: i64) -> i64 {
    ((due_ms - now_ms + 999) / 1000).max(1)
}

/// Parses `web.trusted_proxies` entries: an address (`10.0.0.7`) or a
/// network (`10.0.0.0/8`).
pub fn parse_proxy(text: &str) -> Option<IpNet> {
    let text = text.trim();
    text.parse::<IpNet>()
        .ok()
        .or_else(|| text.parse::<IpAddr>().ok().map(IpNet::from))
}

/// The client an attempt comes from: `peer`, unless `peer` is a trusted
/// proxy; then the nearest address in `X-Forwarded-For` that is not a
/// trusted proxy (each proxy appends the address it saw, so the ones to
/// the left of it could be forged by the client).
pub fn client_address(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[IpNet]) -> String {
    let Some(peer) = peer else {
        return "unknown".into();
    };
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer.to_string();
    }
    // A header with anything but addresses in it is not believed at all.
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .flat_map(|v| v.to_str().unwrap_or("?").split(','))
        .map(|a| a.trim().parse::<IpAddr>().ok())
        .collect::<Option<_>>()
        .unwrap_or_default();
    forwarded
        .iter()
        .rev()
        .find(|ip| !is_trusted(ip))
        .or(forwarded.first())
        .unwrap_or(&peer)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(count: i64, last_at: i64) -> FailedLogins {
        FailedLogins { count, last_at }
    }

    #[test]
    fn waits_start_after_the_free_failures_double_and_are_capped() {
        assert_eq!(ACCOUNT.wait_ms(0), 0);
        assert_eq!(ACCOUNT.wait_ms(4), 0);
        assert_eq!(ACCOUNT.wait_ms(5), 1_000);
        assert_eq!(ACCOUNT.wait_ms(6), 2_000);
        assert_eq!(ACCOUNT.wait_ms(9), 16_000);
        assert_eq!(ACCOUNT.wait_ms(10), 30_000);
        assert_eq!(ACCOUNT.wait_ms(10_000), 30_000);
        assert_eq!(CLIENT.wait_ms(9), 0);
        assert_eq!(CLIENT.wait_ms(10_000), 60_000);
    }

    #[test]
    fn the_later_of_the_two_waits_counts() {
        assert_eq!(next_attempt_at(failed(0, 0), failed(0, 0)), i64::MIN);
        assert_eq!(next_attempt_at(failed(5, 100), failed(0, 0)), 1_100);
        assert_eq!(next_attempt_at(failed(5, 100), failed(12, 100)), 4_100);
        assert_eq!(seconds_until(1_100, 100), 1);
        assert_eq!(seconds_until(1_101, 100), 2);
        assert_eq!(seconds_until(0, 100), 1);
    }

    #[test]
    fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
        let trusted: Vec<IpNet> = ["127.0.0.1", "10.0.0.0/8"]
            .iter()
            .map(|t| parse_proxy(t).unwrap())
            .collect();
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            "1.2.3.4, 203.0.113.9, 10.1.1.1".parse().unwrap(),
        );
        let proxy = Some("127.0.0.1".parse().unwrap());
        let stranger = Some("198.51.100.1".parse().unwrap());
        assert_eq!(client_address(proxy, &headers, &trusted), "203.0.113.9");
        assert_eq!(client_address(stranger, &headers, &trusted), "198.51.100.1");
        assert_eq!(client_address(proxy, &headers, &[]), "127.0.0.1");
        assert_eq!(
            client_address(proxy, &HeaderMap::new(), &trusted),
            "127.0.0.1"
        );
        assert_eq!(client_address(None, &headers, &trusted), "unknown");
        headers.insert("x-forwarded-for", "1.2.3.4, junk".parse().unwrap());
        assert_eq!(client_address(proxy, &headers, &trusted), "127.0.0.1");
        headers.insert("x-forwarded-for", "10.2.2.2".parse().unwrap());
        assert_eq!(client_address(proxy, &headers, &trusted), "10.2.2.2");
        assert_eq!(parse_proxy("not an address"), None);
        assert!(parse_proxy("::1").is_some());
    }
}
