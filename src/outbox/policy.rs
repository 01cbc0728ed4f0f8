//! When not to answer: automatic mail (RFC 3834), bounces, our own mail;
//! and the settings that decide whether an automatic reply goes, waits for
//! staff, or is skipped ([`ReplyPolicy`]).

use std::time::Duration;

use crate::config::{DonationsConfig, UnauthenticatedPolicy};
use crate::mail::ParsedMessage;

/// How automatic replies are limited, from `[donations]`.
#[derive(Debug, Clone)]
pub struct ReplyPolicy {
    /// Our own address: mail from it is never answered.
    pub our_address: String,
    /// At most one automatic reply per (normalised) address within this.
    pub window: Duration,
    /// Whose `Authentication-Results` are believed.
    pub trusted_authserv_id: Option<String>,
    /// What a reply to a sender that was not authenticated does.
    pub unauthenticated: UnauthenticatedPolicy,
    /// Automatic replies per recipient domain per hour before they are held.
    pub per_domain_per_hour: u32,
    /// Automatic replies per hour in all before they are held.
    pub per_hour: u32,
    /// Soft bounces (4.x.x) of replies to one address before it is suppressed.
    pub soft_bounces_to_suppress: u32,
}

impl ReplyPolicy {
    /// The defaults of `[donations]` for `our_address`, with `window`.
    pub fn new(our_address: &str, window: Duration) -> ReplyPolicy {
        let mut policy = ReplyPolicy::from(&DonationsConfig::default());
        policy.our_address = our_address.to_string();
        policy.window = window;
        policy
    }
}

impl From<&DonationsConfig> for ReplyPolicy {
    fn from(cfg: &DonationsConfig) -> ReplyPolicy {
        ReplyPolicy {
            our_address: cfg.address.clone(),
            window: Duration::from_secs(cfg.reply_window_secs),
            trusted_authserv_id: cfg.trusted_authserv_id.clone(),
            unauthenticated: cfg.unauthenticated_policy(),
            per_domain_per_hour: cfg.replies_per_domain_per_hour,
            per_hour: cfg.replies_per_hour,
            soft_bounces_to_suppress: cfg.soft_bounces_to_suppress,
        }
    }
}

/// Why no automatic reply goes to a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoReply {
    #[error("Auto-Submitted: {0}")]
    AutoSubmitted(String),
    #[error("Precedence: {0}")]
    Precedence(String),
    #[error("mailing list (List-Id)")]
    MailingList,
    #[error("null return path")]
    NullReturnPath,
    #[error("automatic reply headers")]
    AutoReplyHeader,
    #[error("delivery report")]
    Report,
    #[error("sent by a mailer daemon")]
    MailerDaemon,
    #[error("sent from our own address")]
    OwnAddress,
    #[error("no usable sender address")]
    NoSender,
    #[error("classified as {0}")]
    Category(&'static str),
    #[error("already answered {0} times within the limit window")]
    RateLimited(i64),
    #[error("the receiving server did not authenticate the sender, and unauthenticated senders get no automatic reply")]
    Unauthenticated,
    /// Mail that is stored and queued but never answered automatically:
    /// already in the mailbox at the first read, or imported.
    #[error("{0}")]
    NotAnswered(String),
}

/// Local parts that belong to machines, not people.
const MACHINE_SENDERS: &[&str] = &[
    "mailer-daemon",
    "postmaster",
    "noreply",
    "no-reply",
    "donotreply",
    "do-not-reply",
];

/// The reason an automatic reply to `msg` must not be sent, if any.
pub fn auto_reply_block(msg: &ParsedMessage, our_address: &str) -> Option<NoReply> {
    let auto = &msg.auto;
    if let Some(v) = &auto.auto_submitted {
        if !v.trim().eq_ignore_ascii_case("no") {
            return Some(NoReply::AutoSubmitted(v.trim().to_string()));
        }
    }
    if let Some(v) = &auto.precedence {
        let v = v.trim().to_ascii_lowercase();
        if matches!(v.as_str(), "bulk" | "list" | "junk") {
            return Some(NoReply::Precedence(v));
        }
    }
    if auto.list_id.is_some() {
        return Some(NoReply::MailingList);
    }
    if matches!(auto.return_path.as_deref().map(str::trim), Some("" | "<>")) {
        return Some(NoReply::NullReturnPath);
    }
    if auto.x_autoreply {
        return Some(NoReply::AutoReplyHeader);
    }
    if auto.is_report {
        return Some(NoReply::Report);
    }
    let Some(from) = &msg.from else {
        return Some(NoReply::NoSender);
    };
    let email = from.email.trim().to_ascii_lowercase();
    let local = email.split('@').next().unwrap_or("");
    if MACHINE_SENDERS.contains(&local) {
        return Some(NoReply::MailerDaemon);
    }
    if email == our_address.trim().to_ascii_lowercase() {
        return Some(NoReply::OwnAddress);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::{Address, AutoHeaders};

    fn msg(from: &str, auto: AutoHeaders) -> ParsedMessage {
        ParsedMessage {
            from: Some(Address {
                name: None,
                email: from.into(),
            }),
            auto,
            ..Default::default()
        }
    }

    const US: &str = "donations@city.example";

    #[test]
    fn a_person_gets_a_reply() {
        assert_eq!(
            auto_reply_block(&msg("ana@x.example", AutoHeaders::default()), US),
            None
        );
    }

    #[test]
    fn auto_submitted_no_is_a_person() {
        let auto = AutoHeaders {
            auto_submitted: Some("No".into()),
            ..Default::default()
        };
        assert_eq!(auto_reply_block(&msg("ana@x.example", auto), US), None);
    }

    #[test]
    fn automatic_mail_gets_none() {
        let cases = [
            AutoHeaders {
                auto_submitted: Some("auto-replied".into()),
                ..Default::default()
            },
            AutoHeaders {
                precedence: Some("Bulk".into()),
                ..Default::default()
            },
            AutoHeaders {
                list_id: Some("<l.example>".into()),
                ..Default::default()
            },
            AutoHeaders {
                return_path: Some("<>".into()),
                ..Default::default()
            },
            AutoHeaders {
                x_autoreply: true,
                ..Default::default()
            },
            AutoHeaders {
                is_report: true,
                ..Default::default()
            },
        ];
        for auto in cases {
            assert!(
                auto_reply_block(&msg("ana@x.example", auto.clone()), US).is_some(),
                "{auto:?}"
            );
        }
    }

    #[test]
    fn daemons_and_ourselves_get_none() {
        assert_eq!(
            auto_reply_block(&msg("MAILER-DAEMON@x.example", AutoHeaders::default()), US),
            Some(NoReply::MailerDaemon)
        );
        assert_eq!(
            auto_reply_block(&msg("Donations@City.example", AutoHeaders::default()), US),
            Some(NoReply::OwnAddress)
        );
    }
}
