//! The reply limits as one processing batch applies them: one automatic
//! reply per address in the batch, and the last hour's automatic replies per
//! recipient domain and overall.
//!
//! The hourly counts are read from the outbox once per batch (per domain, the
//! first time the batch meets it) and then kept up to date in memory as the
//! batch enqueues acknowledgements: they are all in the batch's transaction,
//! so nothing else adds to them meanwhile. Counting the hour's rows again for
//! every offer cost a surge of 10,000 offers almost half its CPU.

use std::collections::{HashMap, HashSet};

use crate::outbox::recipient::normalised_address;
use crate::store::{ProcessingBatch, StoreError};

/// What one processing batch has counted and answered so far.
#[derive(Debug, Default)]
pub(super) struct ReplyTally {
    /// Normalised addresses this batch already decided to answer (or not).
    answered: HashSet<String>,
    /// Automatic replies per recipient domain in the last hour.
    to_domain: HashMap<String, i64>,
    /// Automatic replies to anyone in the last hour.
    in_all: Option<i64>,
}

impl ReplyTally {
    /// True the first time the batch meets `address`: later messages from
    /// the same sender in one batch get no second acknowledgement.
    pub(super) fn first_in_batch(&mut self, address: &str) -> bool {
        self.answered.insert(normalised_address(address))
    }

    /// Automatic replies to `domain` since `hour_ago`, counting those this
    /// batch enqueued.
    pub(super) async fn replies_to_domain(
        &mut self,
        batch: &mut ProcessingBatch,
        domain: &str,
        hour_ago: i64,
    ) -> Result<i64, StoreError> {
        if let Some(count) = self.to_domain.get(domain) {
            return Ok(*count);
        }
        let count = batch
            .automatic_replies_to_domain_since(domain, hour_ago)
            .await?;
        self.to_domain.insert(domain.to_string(), count);
        Ok(count)
    }

    /// Automatic replies to anyone since `hour_ago`, counting those this
    /// batch enqueued.
    pub(super) async fn replies_in_all(
        &mut self,
        batch: &mut ProcessingBatch,
        hour_ago: i64,
    ) -> Result<i64, StoreError> {
        if let Some(count) = self.in_all {
            return Ok(count);
        }
        let count = batch.automatic_replies_in_all_since(hour_ago).await?;
        self.in_all = Some(count);
        Ok(count)
    }

    /// The batch enqueued an acknowledgement to go out to `domain`. A count
    /// not read yet needs nothing: reading it later, inside the batch's
    /// transaction, finds the new reply.
    pub(super) fn count_sent(&mut self, domain: &str) {
        if let Some(count) = self.to_domain.get_mut(domain) {
            *count += 1;
        }
        if let Some(count) = &mut self.in_all {
            *count += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_first_once_whatever_its_case() {
        let mut tally = ReplyTally::default();
        assert!(tally.first_in_batch("Donor@Example.org"));
        assert!(!tally.first_in_batch("donor@example.org"));
        assert!(tally.first_in_batch("other@example.org"));
    }

    #[test]
    fn a_sent_reply_adds_to_its_domain_and_to_the_total_once_counted() {
        let mut tally = ReplyTally {
            in_all: Some(7),
            ..ReplyTally::default()
        };
        tally.to_domain.insert("example.org".into(), 2);
        tally.count_sent("example.org");
        tally.count_sent("example.net");
        assert_eq!(tally.to_domain["example.org"], 3);
        assert!(!tally.to_domain.contains_key("example.net"));
        assert_eq!(tally.in_all, Some(9));
    }
}
