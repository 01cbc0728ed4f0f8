//! Who really sent a message, as far as the receiving server could tell:
//! the `Authentication-Results` header (RFC 8601) from one trusted
//! authserv-id, turned into a verdict on the From domain.
//!
//! Owns: parsing the header (comments, quoted values, properties), picking
//! the instances our own server wrote, and DMARC / aligned SPF / aligned DKIM.
//! Does not own: what to do with an unauthenticated sender (the reply
//! policy in `outbox::policy` and the process stage decide that).
//!
//! Any sender can write an `Authentication-Results` header, so only
//! instances that name the configured authserv-id count. RFC 8601 §5 has
//! the receiving server delete instances that claim its own id before it
//! adds its own, which Postfix with OpenDKIM/OpenDMARC, rspamd, Exchange
//! Online and Gmail do; the operator names that server's id in
//! `donations.trusted_authserv_id`.

/// One `method=result` of a header, with its properties (`smtp.mailfrom`,
/// `header.d`, `header.from`…), names lowercased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodResult {
    pub method: String,
    pub result: String,
    pub properties: Vec<(String, String)>,
}

impl MethodResult {
    fn property(&self, name: &str) -> Option<&str> {
        self.properties
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn passed(&self) -> bool {
        self.result == "pass"
    }
}

/// One parsed header: who wrote it and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthResults {
    pub authserv_id: String,
    pub results: Vec<MethodResult>,
}

/// What the trusted header says about the From address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SenderCheck {
    /// DMARC passed, or SPF or DKIM passed for a domain aligned with From.
    Authenticated(&'static str),
    /// The trusted server wrote a verdict, and it does not vouch for From.
    NotAuthenticated,
    /// No header from the trusted server (or none configured).
    Unknown,
}

impl SenderCheck {
    pub fn is_authenticated(&self) -> bool {
        matches!(self, SenderCheck::Authenticated(_))
    }
}

/// The verdict on `from_domain` from the headers `values` (raw header
/// values, any order) written by `trusted_id`.
pub fn check_sender(values: &[String], trusted_id: &str, from_domain: &str) -> SenderCheck {
    let trusted: Vec<AuthResults> = values
        .iter()
        .filter_map(|v| parse(v))
        .filter(|h| h.authserv_id.eq_ignore_ascii_case(trusted_id.trim()))
        .collect();
    if trusted.is_empty() {
        return SenderCheck::Unknown;
    }
    let from_domain = from_domain.trim().to_ascii_lowercase();
    let results = || trusted.iter().flat_map(|h| h.results.iter());
    // A failed DMARC anywhere in our own verdicts outweighs a pass elsewhere.
    if results().any(|r| r.method == "dmarc" && r.result == "fail") {
        return SenderCheck::NotAuthenticated;
    }
    for r in results().filter(|r| r.passed()) {
        match r.method.as_str() {
            "dmarc"
                if r.property("header.from")
                    .is_none_or(|d| same_domain(d, &from_domain)) =>
            {
                return SenderCheck::Authenticated("dmarc");
            }
            "spf" if spf_domain(r).is_some_and(|d| aligned(&d, &from_domain)) => {
                return SenderCheck::Authenticated("spf");
            }
            "dkim" if dkim_domain(r).is_some_and(|d| aligned(&d, &from_domain)) => {
                return SenderCheck::Authenticated("dkim");
            }
            _ => {}
        }
    }
    SenderCheck::NotAuthenticated
}

/// The domain SPF checked: of `smtp.mailfrom` (an address or a domain),
/// else `smtp.helo`.
fn spf_domain(r: &MethodResult) -> Option<String> {
    let value = r.property("smtp.mailfrom")?;
    let domain = value.rsplit('@').next()?;
    (!domain.is_empty()).then(|| domain.to_ascii_lowercase())
}

/// The signing domain: `header.d`, else the domain of `header.i`.
fn dkim_domain(r: &MethodResult) -> Option<String> {
    r.property("header.d")
        .or_else(|| r.property("header.i").and_then(|i| i.rsplit('@').next()))
        .filter(|d| !d.is_empty())
        .map(str::to_ascii_lowercase)
}

fn same_domain(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

/// Relaxed alignment (RFC 7489 §3.1), kept on the safe side without a
/// public-suffix list: the same domain, or one a subdomain of the other
/// (`mail.example.org` and `example.org`). Two sibling subdomains do not align.
pub fn aligned(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim().to_ascii_lowercase(), b.trim().to_ascii_lowercase());
    if a.is_empty() || b.is_empty() {
        return false;
    }
    a == b || is_subdomain(&a, &b) || is_subdomain(&b, &a)
}

/// Is `child` below `parent`, with `parent` still more than a top-level domain?
fn is_subdomain(child: &str, parent: &str) -> bool {
    parent.contains('.')
        && child.len() > parent.len()
        && child.ends_with(parent)
        && child.as_bytes()[child.len() - parent.len() - 1] == b'.'
}

/// Parses one header value; `None` when it has no authserv-id.
pub fn parse(value: &str) -> Option<AuthResults> {
    let text = strip_comments(value);
    let mut parts = split_outside_quotes(&text, ';').into_iter();
    let authserv_id = parts.next()?.split_whitespace().next()?.to_string();
    let results = parts.filter_map(|p| parse_resinfo(&p)).collect();
    Some(AuthResults {
        authserv_id,
        results,
    })
}

/// `method[/version]=result reason="…" ptype.prop=value …`
fn parse_resinfo(part: &str) -> Option<MethodResult> {
    let mut tokens = split_outside_quotes(part, ' ').into_iter();
    let (method, result) = key_value(&tokens.next()?)?;
    let method = method.split('/').next().unwrap_or_default().to_string();
    let properties = tokens
        .filter_map(|t| key_value(&t))
        .filter(|(k, _)| k.contains('.'))
        .collect();
    Some(MethodResult {
        method,
        result,
        properties,
    })
}

fn key_value(token: &str) -> Option<(String, String)> {
    let (k, v) = token.split_once('=')?;
    let v = v.trim().trim_matches('"');
    Some((k.trim().to_ascii_lowercase(), v.to_ascii_lowercase()))
}

/// The value without `(comments)`, which may nest; quoted strings kept.
fn strip_comments(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let (mut depth, mut quoted, mut escaped) = (0usize, false, false);
    for c in value.chars() {
        if escaped {
            escaped = false;
            if depth == 0 {
                out.push(c);
            }
            continue;
        }
        match c {
            '\\' => escaped = true,
            '"' if depth == 0 => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted && depth > 0 => {
                depth -= 1;
                out.push(' ');
                continue;
            }
            _ => {}
        }
        if depth == 0 && c != '\\' {
            out.push(c);
        }
    }
    out
}

/// Splits on `sep` (or any white space for `' '`) outside quoted strings,
/// dropping empty pieces.
fn split_outside_quotes(text: &str, sep: char) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in text.chars() {
        let is_sep = if sep == ' ' {
            c.is_whitespace()
        } else {
            c == sep
        };
        if c == '"' {
            quoted = !quoted;
        }
        if is_sep && !quoted {
            pieces.push(std::mem::take(&mut current));
        } else {
            current.push(c);
        }
    }
    pieces.push(current);
    pieces
        .into_iter()
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "mx.city.example";

    fn check(headers: &[&str], from: &str) -> SenderCheck {
        let values: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
        check_sender(&values, ID, from)
    }

    #[test]
    fn parses_methods_properties_comments_and_quotes() {
        let h = parse(
            "mx.city.example 1; (a (nested) comment) spf=pass (sender IP is 192.0.2.1) \
             smtp.mailfrom=donor@Example.ORG; dkim=pass header.d=example.org header.s=\"s;1\"; \
             dmarc=pass (p=none) header.from=example.org",
        )
        .unwrap();
        assert_eq!(h.authserv_id, "mx.city.example");
        let methods: Vec<_> = h.results.iter().map(|r| r.method.as_str()).collect();
        assert_eq!(methods, ["spf", "dkim", "dmarc"]);
        assert_eq!(
            h.results[0].property("smtp.mailfrom"),
            Some("donor@example.org")
        );
        assert_eq!(h.results[1].property("header.s"), Some("s;1"));
    }

    #[test]
    fn none_and_empty_headers_say_nothing() {
        assert_eq!(parse("mx.city.example; none").unwrap().results, vec![]);
        assert!(parse("   ").is_none());
        assert_eq!(
            check(&["mx.city.example; none"], "a.org"),
            SenderCheck::NotAuthenticated
        );
    }

    #[test]
    fn dmarc_pass_authenticates() {
        let h = "mx.city.example; dmarc=pass header.from=clinic.org";
        assert_eq!(
            check(&[h], "clinic.org"),
            SenderCheck::Authenticated("dmarc")
        );
        // A DMARC pass for another From domain is not about this one.
        assert_eq!(check(&[h], "victim.example"), SenderCheck::NotAuthenticated);
    }

    #[test]
    fn spf_and_dkim_count_only_when_aligned_with_from() {
        let spf = "mx.city.example; spf=pass smtp.mailfrom=bounce@mail.clinic.org";
        assert_eq!(
            check(&[spf], "clinic.org"),
            SenderCheck::Authenticated("spf")
        );
        assert_eq!(check(&[spf], "other.org"), SenderCheck::NotAuthenticated);
        let dkim = "mx.city.example; dkim=pass header.d=spammer.example";
        assert_eq!(
            check(&[dkim], "victim.example"),
            SenderCheck::NotAuthenticated
        );
        let dkim = "mx.city.example; dkim=pass header.i=@clinic.org";
        assert_eq!(
            check(&[dkim], "clinic.org"),
            SenderCheck::Authenticated("dkim")
        );
    }

    #[test]
    fn headers_from_other_servers_are_ignored() {
        let forged = "evil.example; dmarc=pass header.from=victim.example";
        assert_eq!(check(&[forged], "victim.example"), SenderCheck::Unknown);
        let ours = "mx.city.example; spf=fail smtp.mailfrom=victim.example";
        assert_eq!(
            check(&[forged, ours], "victim.example"),
            SenderCheck::NotAuthenticated
        );
    }

    #[test]
    fn a_dmarc_fail_outweighs_a_pass() {
        let a = "mx.city.example; dkim=pass header.d=clinic.org";
        let b = "mx.city.example; dmarc=fail header.from=clinic.org";
        assert_eq!(check(&[a, b], "clinic.org"), SenderCheck::NotAuthenticated);
    }

    #[test]
    fn alignment_is_relaxed_but_not_across_siblings_or_tlds() {
        assert!(aligned("mail.example.org", "example.org"));
        assert!(aligned("example.org", "news.example.org"));
        assert!(!aligned("a.example.org", "b.example.org"));
        assert!(!aligned("example.org", "org"));
        assert!(!aligned("badexample.org", "example.org"));
        assert!(!aligned("", "example.org"));
    }
}
