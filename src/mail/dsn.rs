//! Delivery status notifications (RFC 3464): which recipients a bounce
//! names and how their delivery ended, read from its
//! `message/delivery-status` part.
//!
//! Owns: reading the per-recipient fields (Final-Recipient, Action, Status,
//! Diagnostic-Code) and sorting each into a hard bounce, a soft bounce or
//! no bounce. Does not own: which reply of ours a bounce returns (that is
//! `process`) or what a bounce does to an address (`store`'s suppressions).
//!
//! The part is found wherever it sits (Postfix, Exim, Exchange and Gmail
//! send `multipart/report`, OpenSMTPD `multipart/mixed`). A bounce without
//! one (free text only) has no status here: it is not guessed from prose.

use mail_parser::{MessageParser, MimeHeaders};

/// One recipient's delivery as a DSN reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DsnRecipient {
    /// Final-Recipient (else Original-Recipient), without `rfc822;`.
    pub address: String,
    /// `failed`, `delayed`, `delivered`, `relayed` or `expanded`, lowercased.
    pub action: String,
    /// The enhanced status code (RFC 3463) like `5.1.1`, when given.
    pub status: Option<String>,
    /// The remote server's answer, when given (`smtp; 550 5.1.1 ...`).
    pub diagnostic: Option<String>,
}

/// What a recipient's delivery report means for the address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Not a bounce: delivered, relayed, or only delayed (a warning).
    None,
    /// Delivery failed for a reason that may pass (4.x.x): counted.
    Soft,
    /// Delivery failed for good (5.x.x): the address is suppressed.
    Hard,
}

impl DsnRecipient {
    /// Failed with 5.x.x is hard, failed with 4.x.x soft; without a status
    /// the diagnostic's SMTP code decides (a failure naming neither is
    /// soft). Delayed, delivered, relayed and expanded are no bounce.
    pub fn severity(&self) -> Severity {
        if self.action != "failed" {
            return Severity::None;
        }
        let class = self
            .status
            .as_deref()
            .and_then(|s| s.chars().next())
            .or_else(|| smtp_code_class(self.diagnostic.as_deref()?));
        match class {
            Some('5') => Severity::Hard,
            _ => Severity::Soft,
        }
    }

    /// `5.1.1 (smtp; 550 5.1.1 user unknown)` for people to read.
    pub fn reason(&self) -> String {
        let status = self.status.as_deref().unwrap_or("no status");
        match &self.diagnostic {
            Some(d) => format!("{status} ({d})"),
            None => status.to_string(),
        }
    }
}

/// The first digit of the SMTP reply code in `smtp; 550 ...`.
fn smtp_code_class(diagnostic: &str) -> Option<char> {
    let code = diagnostic.rsplit(';').next()?.trim_start();
    let digits: String = code.chars().take(3).collect();
    (digits.len() == 3 && digits.chars().all(|c| c.is_ascii_digit()))
        .then(|| digits.chars().next())
        .flatten()
}

/// The recipients of the first `message/delivery-status` part of `raw`;
/// `None` when it has none (or cannot be parsed).
pub fn recipients(raw: &[u8]) -> Option<Vec<DsnRecipient>> {
    let part = std::panic::catch_unwind(|| delivery_status_part(raw)).ok()??;
    let found = parse_fields(&String::from_utf8_lossy(&part));
    (!found.is_empty()).then_some(found)
}

fn delivery_status_part(raw: &[u8]) -> Option<Vec<u8>> {
    let msg = MessageParser::default().parse(raw)?;
    msg.parts.iter().find_map(|part| {
        let ct = part.content_type()?;
        let is_status = ct.ctype().eq_ignore_ascii_case("message")
            && ct
                .subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("delivery-status"));
        is_status.then(|| part.contents().to_vec())
    })
}

/// The per-recipient field groups of a delivery-status body (the first
/// group, about the whole message, names no recipient and is skipped).
fn parse_fields(body: &str) -> Vec<DsnRecipient> {
    let mut recipients = Vec::new();
    for group in groups(body) {
        let field = |name: &str| {
            group
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        let Some(address) = field("Final-Recipient")
            .or_else(|| field("Original-Recipient"))
            .map(|v| address_of(&v))
            .filter(|a| a.contains('@'))
        else {
            continue;
        };
        recipients.push(DsnRecipient {
            address,
            action: field("Action")
                .map(|a| a.trim().to_ascii_lowercase())
                .unwrap_or_default(),
            status: field("Status").and_then(|s| status_code(&s)),
            diagnostic: field("Diagnostic-Code").map(|d| d.trim().to_string()),
        });
    }
    recipients
}

/// Groups of `(name, value)` separated by blank lines, folded lines joined.
fn groups(body: &str) -> Vec<Vec<(String, String)>> {
    let mut groups: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for line in body.lines() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            if groups.last().is_some_and(|g| !g.is_empty()) {
                groups.push(Vec::new());
            }
            continue;
        }
        let group = groups.last_mut().expect("one group at least");
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = group.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            group.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    groups
}

/// `rfc822; <Someone@Example.org>` → `Someone@Example.org`.
fn address_of(value: &str) -> String {
    let address = value.split_once(';').map_or(value, |(_, a)| a);
    address
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim()
        .to_string()
}

/// The `class.subject.detail` code at the start of a Status value.
fn status_code(value: &str) -> Option<String> {
    let code = value.split_whitespace().next()?;
    let parts: Vec<&str> = code.split('.').collect();
    let valid = parts.len() == 3
        && matches!(parts[0], "2" | "4" | "5")
        && parts[1..]
            .iter()
            .all(|p| (1..=3).contains(&p.len()) && p.chars().all(|c| c.is_ascii_digit()));
    valid.then(|| code.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/dsn");

    fn fixture(name: &str) -> Vec<DsnRecipient> {
        let raw = std::fs::read(format!("{FIXTURES}/{name}")).unwrap();
        recipients(&raw).unwrap_or_else(|| panic!("{name}: no delivery-status part"))
    }

    /// Every fixture the MANIFEST lists, read as it says: (file, address,
    /// action, status, severity).
    #[test]
    fn every_mta_fixture_reads_as_its_manifest_says() {
        let manifest = std::fs::read_to_string(format!("{FIXTURES}/MANIFEST")).unwrap();
        let mut checked = 0;
        for line in manifest.lines().filter(|l| l.starts_with("expect ")) {
            let f: Vec<&str> = line["expect ".len()..].split_whitespace().collect();
            let [file, address, action, status, severity] = f[..] else {
                panic!("a bad expect line: {line}");
            };
            let found = fixture(file);
            let r = found
                .iter()
                .find(|r| r.address.eq_ignore_ascii_case(address))
                .unwrap_or_else(|| panic!("{file}: no {address} in {found:?}"));
            assert_eq!(r.action, action, "{file}");
            assert_eq!(r.status.as_deref().unwrap_or("-"), status, "{file}");
            let expected = match severity {
                "hard" => Severity::Hard,
                "soft" => Severity::Soft,
                _ => Severity::None,
            };
            assert_eq!(r.severity(), expected, "{file}: {r:?}");
            checked += 1;
        }
        assert!(checked >= 8, "the manifest lists the fixtures ({checked})");
    }

    #[test]
    fn a_multi_recipient_report_names_each_with_its_own_status() {
        let found = fixture("exim-two-recipients.eml");
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[0].severity(), Severity::Hard);
        assert_eq!(found[1].severity(), Severity::Soft);
        assert!(found[0].reason().contains("550"), "{}", found[0].reason());
    }

    #[test]
    fn without_a_status_the_smtp_code_decides_and_prose_is_not_read() {
        let r = |diag: &str| DsnRecipient {
            address: "a@b.example".into(),
            action: "failed".into(),
            status: None,
            diagnostic: Some(diag.into()),
        };
        assert_eq!(r("smtp; 550 no such user").severity(), Severity::Hard);
        assert_eq!(r("smtp; 452 mailbox full").severity(), Severity::Soft);
        assert_eq!(r("X-Unknown; gone").severity(), Severity::Soft);
        let plain =
            b"From: MAILER-DAEMON@x.example\r\nSubject: failure\r\n\r\n550 5.1.1 user unknown\r\n";
        assert_eq!(recipients(plain), None);
    }

    #[test]
    fn fields_fold_and_statuses_must_be_codes() {
        let body = "Reporting-MTA: dns; mx.example\r\n\r\nFinal-Recipient: rfc822;\r\n <Who@Example.org>\r\n\
                    Action: Failed\r\nStatus: 5.1.1 (bad mailbox)\r\nDiagnostic-Code: smtp; 550 5.1.1\r\n  user unknown\r\n";
        let found = parse_fields(body);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].address, "Who@Example.org");
        assert_eq!(found[0].action, "failed");
        assert_eq!(found[0].status.as_deref(), Some("5.1.1"));
        assert_eq!(
            found[0].diagnostic.as_deref(),
            Some("smtp; 550 5.1.1 user unknown")
        );
        assert_eq!(status_code("5.1"), None);
        assert_eq!(status_code("9.1.1"), None);
        assert_eq!(status_code("4.7.1000"), None);
    }
}
