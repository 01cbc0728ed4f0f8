//! The states rows move through, one type each: an offer's [`OfferStatus`],
//! a stored message's [`MessageState`], a reply's [`ReplyState`], and a staff
//! account's [`Role`].
//!
//! Owns: the names of the states (what SQL stores is [`OfferStatus::as_str`]
//! and its kin, through `sqlx::Type`), the questions the code asks of them
//! (`is_open()`, `is_closed()`…), and which offer decisions are allowed from
//! which status ([`OfferStatus::can_become`]). Does not own: changing a row's
//! state (that is `store`).

use std::fmt;
use std::str::FromStr;

/// A text that names no state of the kind asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not {what} (expected one of: {expected})")]
pub struct UnknownState {
    pub what: &'static str,
    pub text: String,
    pub expected: String,
}

/// Defines a state enum with its text form: the derives that store, show and
/// read it (`sqlx::Type`, serde and clap, all snake_case), `as_str`, every
/// variant in `ALL`, `FromStr`, `Display`, and comparison with its text (as
/// `http::Method` does) so a test can assert what a person reads.
macro_rules! state_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident ($what:literal) {
            $($(#[$vmeta:meta])* $variant:ident => $text:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(
            Debug,
            Clone,
            Copy,
            PartialEq,
            Eq,
            Hash,
            serde::Serialize,
            serde::Deserialize,
            sqlx::Type,
            clap::ValueEnum,
        )]
        #[serde(rename_all = "snake_case")]
        #[sqlx(type_name = "text", rename_all = "snake_case")]
        #[value(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        $crate::any_text_type!($name, from_str);

        impl $name {
            /// Every state, in the order of the flow.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The name stored in the database and shown to people.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl FromStr for $name {
            type Err = UnknownState;

            fn from_str(text: &str) -> Result<Self, UnknownState> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|state| state.as_str() == text)
                    .ok_or_else(|| UnknownState {
                        what: $what,
                        text: text.to_string(),
                        expected: Self::ALL
                            .iter()
                            .map(|state| state.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                    })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(self.as_str())
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }
    };
}

state_enum! {
    /// Where an offer stands with staff.
    pub enum OfferStatus ("an offer status") {
        /// Waiting for a decision (every offer starts here).
        New => "new",
        /// Waiting for the donor to tell us more. Not written by this version
        /// (the `needs_info` reply leaves the offer `new`); kept because staff
        /// filter by it and rows that carry it must still load.
        NeedsInfo => "needs_info",
        /// Accepted without a pickup slot yet. Not written by this version
        /// (accepting schedules a pickup at once); kept so rows from earlier
        /// versions still load and count as accepted.
        Accepted => "accepted",
        /// Accepted, with a pickup site and window sent to the donor.
        Scheduled => "scheduled",
        Declined => "declined",
        Spam => "spam",
        /// A duplicate, folded into another offer (`merged_into`).
        Merged => "merged",
        /// What arrived was recorded.
        Received => "received",
    }
}

impl OfferStatus {
    /// Still needs a decision from staff: what the queue shows by default.
    pub fn is_open(self) -> bool {
        matches!(self, OfferStatus::New | OfferStatus::NeedsInfo)
    }

    /// Nothing more can be decided: turned away, or delivered.
    pub fn is_closed(self) -> bool {
        self.is_turned_away() || self == OfferStatus::Received
    }

    /// Declined, spam or merged: its items count toward nothing.
    pub fn is_turned_away(self) -> bool {
        matches!(
            self,
            OfferStatus::Declined | OfferStatus::Spam | OfferStatus::Merged
        )
    }

    /// Staff said yes: its items count as accepted (and, once recorded, received).
    pub fn is_accepted(self) -> bool {
        matches!(
            self,
            OfferStatus::Accepted | OfferStatus::Scheduled | OfferStatus::Received
        )
    }

    /// Accepted and not yet delivered: the page offers to record what arrived.
    pub fn awaits_delivery(self) -> bool {
        self.is_accepted() && !self.is_closed()
    }

    /// Whether a decision may take an offer from this status to `next`; the
    /// one place that says which decisions are allowed when.
    ///
    /// - schedule a pickup, decline, spam, merge: from any status not closed;
    /// - record what arrived: from any status not turned away (again after
    ///   `received`, to correct the quantities);
    /// - `new`, `needs_info` and `accepted` are never the result of a decision.
    pub fn can_become(self, next: OfferStatus) -> bool {
        match next {
            OfferStatus::Scheduled
            | OfferStatus::Declined
            | OfferStatus::Spam
            | OfferStatus::Merged => !self.is_closed(),
            OfferStatus::Received => !self.is_turned_away(),
            OfferStatus::New | OfferStatus::NeedsInfo | OfferStatus::Accepted => false,
        }
    }

    /// Whether another offer may be merged into one with this status.
    pub fn can_take_merge(self) -> bool {
        !self.is_closed()
    }

    /// The statuses for which `pred` holds, as a quoted SQL list
    /// (`'new', 'needs_info'`), for `IN (…)`. The names are fixed
    /// identifiers, so they are safe to write into SQL.
    pub fn sql_list(pred: impl Fn(OfferStatus) -> bool) -> String {
        Self::ALL
            .iter()
            .filter(|s| pred(**s))
            .map(|s| format!("'{}'", s.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

state_enum! {
    /// Where a stored message is in processing.
    pub enum MessageState ("a message state") {
        /// Stored, waiting to be processed.
        Received => "received",
        /// Claimed by a processing run.
        Processing => "processing",
        Processed => "processed",
        /// Could not be processed; kept with its reason, can be retried.
        Failed => "failed",
        /// Over the size limit: only its headers were stored.
        Oversize => "oversize",
    }
}

impl MessageState {
    /// Stored and not yet processed (waiting or being processed).
    pub fn is_waiting(self) -> bool {
        matches!(self, MessageState::Received | MessageState::Processing)
    }

    /// Staff may put it back in the queue.
    pub fn can_retry(self) -> bool {
        self == MessageState::Failed
    }
}

state_enum! {
    /// Where a reply is in sending.
    pub enum ReplyState ("a reply state") {
        /// Waiting for staff to approve it (`outbox.held_reason` says why):
        /// the sender does not claim it until staff send it, which makes it
        /// `pending`, due at once.
        Held => "held",
        /// Waiting to be sent (again, after a temporary failure) at its due time.
        Pending => "pending",
        /// Claimed by a sender.
        Sending => "sending",
        Sent => "sent",
        /// The server refused it for good.
        Failed => "failed",
        /// Sent, and a bounce for it came back.
        Bounced => "bounced",
        /// Held, and staff decided it must not go out. Kept, never sent.
        Discarded => "discarded",
    }
}

impl ReplyState {
    /// Not yet handed to the server for good: waiting or being sent.
    pub fn is_in_flight(self) -> bool {
        matches!(self, ReplyState::Pending | ReplyState::Sending)
    }

    /// Waiting for staff to send or discard it.
    pub fn is_held(self) -> bool {
        self == ReplyState::Held
    }
}

state_enum! {
    /// What a person may do in the web UI. Ordered: each role can do what the
    /// ones before can.
    #[derive(PartialOrd, Ord)]
    pub enum Role ("a role") {
        /// Reads everything, changes nothing.
        Viewer => "viewer",
        /// Corrects items, writes notes, decides offers.
        Triager => "triager",
        /// Also retries failed messages.
        Admin => "admin",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;

    /// The text each way a state leaves the program (SQL, serde, clap)
    /// is its `as_str`, and `FromStr` reads it back.
    async fn names_agree<T>(all: &[T])
    where
        T: Copy
            + fmt::Display
            + FromStr<Err = UnknownState>
            + PartialEq
            + fmt::Debug
            + serde::Serialize
            + ValueEnum
            + for<'q> sqlx::Encode<'q, sqlx::Sqlite>
            + sqlx::Type<sqlx::Sqlite>
            + Send
            + 'static,
    {
        let pool = sqlx::SqlitePool::connect("sqlite::memory:").await.unwrap();
        for &state in all {
            let text = state.to_string();
            let stored: String = sqlx::query_scalar("SELECT $1")
                .bind(state)
                .fetch_one(&pool)
                .await
                .unwrap();
            assert_eq!(stored, text);
            assert_eq!(serde_json::to_value(state).unwrap(), text.as_str());
            let flag = state.to_possible_value().unwrap();
            assert_eq!(flag.get_name(), text);
            assert_eq!(text.parse::<T>().unwrap(), state);
        }
    }

    #[tokio::test]
    async fn every_state_is_stored_shown_and_read_by_one_name() {
        names_agree(OfferStatus::ALL).await;
        names_agree(MessageState::ALL).await;
        names_agree(ReplyState::ALL).await;
        names_agree(Role::ALL).await;
    }

    #[test]
    fn unknown_names_are_refused_with_the_choices() {
        let err = "acepted".parse::<OfferStatus>().unwrap_err();
        assert!(err.to_string().contains("accepted, scheduled"), "{err}");
        assert!("root".parse::<Role>().is_err());
        assert!("Sent".parse::<ReplyState>().is_err());
    }

    #[test]
    fn roles_are_ordered() {
        assert!(Role::Admin > Role::Triager && Role::Triager > Role::Viewer);
    }

    #[test]
    fn open_and_closed_offers() {
        let open: Vec<_> = OfferStatus::ALL.iter().filter(|s| s.is_open()).collect();
        assert_eq!(open, [&OfferStatus::New, &OfferStatus::NeedsInfo]);
        assert_eq!(
            OfferStatus::sql_list(OfferStatus::is_open),
            "'new', 'needs_info'"
        );
        for s in OfferStatus::ALL {
            assert!(!(s.is_open() && s.is_closed()), "{s}");
        }
        assert!(OfferStatus::Scheduled.awaits_delivery());
        assert!(!OfferStatus::Received.awaits_delivery());
        assert!(!OfferStatus::New.awaits_delivery());
    }

    #[test]
    fn decisions_follow_the_transitions() {
        use OfferStatus::*;
        for next in [Scheduled, Declined, Spam, Merged] {
            assert!(New.can_become(next) && Scheduled.can_become(next));
            for closed in [Declined, Spam, Merged, Received] {
                assert!(!closed.can_become(next), "{closed} → {next}");
            }
        }
        for from in [New, NeedsInfo, Accepted, Scheduled, Received] {
            assert!(from.can_become(Received), "{from}");
        }
        for from in [Declined, Spam, Merged] {
            assert!(!from.can_become(Received), "{from}");
        }
        assert!(!Scheduled.can_become(New));
        assert!(!Merged.can_take_merge() && New.can_take_merge());
    }
}
