//! The kinds of reply ([`ReplyKind`]) and what each is given: which extra
//! values its templates may use beyond the ones every template gets, and
//! realistic samples of them for checking templates at start and for
//! `templates preview`.
//!
//! Owns: the list of kinds, their names (in template file names, the
//! outbox table's `kind` column, dedup keys and Message-IDs) and the extra
//! values. Does not own: the templates themselves ([`super::templates`])
//! nor deciding which kind an offer gets (the process stage and the decide
//! stage).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// A kind of reply there are templates for: `KIND.LANG.txt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, sqlx::Type, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "TEXT", rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum ReplyKind {
    /// At once, for a new offer: what we understood and what happens next.
    Ack,
    /// Instead of `Ack` when a quantity or a pickup address is missing.
    NeedsInfo,
    /// Staff accepted the offer with a pickup site and window.
    Pickup,
    /// Staff declined the offer, with a reason.
    Decline,
    /// Staff recorded that the supplies arrived.
    Thanks,
    /// Staff accepted the offer with a pickup at the donor's address.
    Collection,
    /// Staff cancelled the booked drop-off or pickup.
    Cancellation,
    /// Written by staff on any offer, request or inquiry: their text (the
    /// `body` value) in the desk's letterhead, in the donor's thread.
    Message,
}

crate::any_text_type!(ReplyKind, from_str);

impl ReplyKind {
    /// Every kind, in the order they are listed to people.
    pub const ALL: [ReplyKind; 8] = [
        ReplyKind::Ack,
        ReplyKind::NeedsInfo,
        ReplyKind::Pickup,
        ReplyKind::Decline,
        ReplyKind::Thanks,
        ReplyKind::Collection,
        ReplyKind::Cancellation,
        ReplyKind::Message,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReplyKind::Ack => "ack",
            ReplyKind::NeedsInfo => "needs_info",
            ReplyKind::Pickup => "pickup",
            ReplyKind::Decline => "decline",
            ReplyKind::Thanks => "thanks",
            ReplyKind::Collection => "collection",
            ReplyKind::Cancellation => "cancellation",
            ReplyKind::Message => "message",
        }
    }

    /// The extra values this kind is given when it is sent: what its
    /// templates may use, and all they are checked with at start, so a
    /// template that uses another kind's value fails at start, not at send time.
    pub fn extra_keys(self) -> Vec<&'static str> {
        match self {
            ReplyKind::Ack | ReplyKind::Thanks => vec![],
            ReplyKind::NeedsInfo => LIST_VALUES.to_vec(),
            ReplyKind::Pickup
            | ReplyKind::Decline
            | ReplyKind::Collection
            | ReplyKind::Cancellation => DECISION_VALUES.to_vec(),
            ReplyKind::Message => vec![MESSAGE_BODY],
        }
    }

    /// Realistic samples of the extra values this kind gets: what `templates
    /// preview` shows by default.
    pub fn sample_extra(self) -> BTreeMap<String, String> {
        samples(&self.extra_keys())
    }
}

impl fmt::Display for ReplyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is no kind of reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no reply kind {0:?}; the kinds are {kinds}", kinds = ReplyKind::ALL.map(ReplyKind::as_str).join(", "))]
pub struct UnknownKind(pub String);

impl FromStr for ReplyKind {
    type Err = UnknownKind;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        ReplyKind::ALL
            .into_iter()
            .find(|k| k.as_str() == text)
            .ok_or_else(|| UnknownKind(text.to_string()))
    }
}

/// The values staff decisions add for `pickup` and `decline` templates; every
/// template is checked at start with these set to samples.
pub const DECISION_VALUES: &[&str] = &[
    "pickup_site",
    "pickup_address",
    "pickup_window",
    "pickup_notes",
    "decline_reason",
];

/// The value a `message` reply's templates get: what staff wrote.
pub const MESSAGE_BODY: &str = "body";

/// Extra values given as comma-separated text that templates see as a list:
/// `missing` (see [`needs`](super::needs)).
pub const LIST_VALUES: &[&str] = &["missing"];

/// The samples a template is checked with at start, by the kind its file
/// is named after: that kind's, or every extra value for a kind we do not
/// send (a template an operator added).
pub fn template_samples(file_kind: &str) -> BTreeMap<String, String> {
    match file_kind.parse::<ReplyKind>() {
        Ok(kind) => kind.sample_extra(),
        Err(_) => samples(&[DECISION_VALUES, LIST_VALUES].concat()),
    }
}

/// Realistic samples of the values `keys`.
fn samples(keys: &[&str]) -> BTreeMap<String, String> {
    let sample = |key: &str| {
        match key {
        "pickup_site" => "Central depot",
        "pickup_address" => "100 Main St, Torrance CA 90501",
        "pickup_window" => "Friday 1 May 2026 09:00–11:00",
        "pickup_notes" => "Loading dock B; ring the bell.",
        "decline_reason" => "We have enough isolation gowns for the coming weeks.",
        "missing" => "quantity,pickup_address",
        "body" => "Hello,\n\nYes, we take unopened boxes of gloves. Reply to this email\nwith how many you have.\n\nThank you!",
        _ => "sample",
    }
    };
    keys.iter()
        .map(|k| (k.to_string(), sample(k).to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;

    #[test]
    fn every_name_reads_back_as_its_kind_on_the_command_line_too() {
        for kind in ReplyKind::ALL {
            assert_eq!(kind.as_str().parse(), Ok(kind));
            assert_eq!(kind.to_string(), kind.as_str());
            let value = kind.to_possible_value().unwrap();
            assert_eq!(value.get_name(), kind.as_str());
        }
        assert_eq!(ReplyKind::value_variants(), ReplyKind::ALL);
        let err = "needs-info".parse::<ReplyKind>().unwrap_err().to_string();
        assert!(
            err.contains("\"needs-info\"") && err.contains("needs_info"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn the_database_stores_the_name() {
        use sqlx::Connection;
        let mut db = sqlx::SqliteConnection::connect("sqlite::memory:")
            .await
            .unwrap();
        for kind in ReplyKind::ALL {
            let stored: String = sqlx::query_scalar("SELECT ?")
                .bind(kind)
                .fetch_one(&mut db)
                .await
                .unwrap();
            assert_eq!(stored, kind.as_str());
            let read: ReplyKind = sqlx::query_scalar("SELECT ?")
                .bind(kind.as_str())
                .fetch_one(&mut db)
                .await
                .unwrap();
            assert_eq!(read, kind);
        }
    }

    #[test]
    fn a_template_of_a_kind_we_do_not_send_is_checked_with_every_value() {
        assert!(template_samples("ack").is_empty());
        assert_eq!(template_samples("needs_info").len(), 1);
        assert_eq!(template_samples("reminder").len(), 6);
    }
}
