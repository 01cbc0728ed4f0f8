//! The process stage: claim a stored message, parse and clean it, run the
//! rules, and write what follows (a new offer with its items and its
//! acknowledgement, or a donor's reply joined to an offer, or nothing for
//! automatic mail) in one transaction. A message that cannot be processed
//! is marked `failed` with its reason and kept.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use crate::mail::{self, ParsedMessage};
use crate::outbox::compose::ItemLine;
use crate::outbox::labels::item_text;
use crate::outbox::{auto_reply_block, Composer, NoReply, ReplyContext};
use crate::rules::{Category, Extraction, Rules};
use crate::store::{
    offer_reference, MessageFacts, NewOffer, OfferItemRow, ProcessingBatch, Store, StoreError,
};

/// What one step of the process stage did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcessOutcome {
    /// A new offer; `acknowledged` says whether a reply was enqueued.
    NewOffer {
        message: i64,
        offer: i64,
        acknowledged: bool,
    },
    /// A donor's reply, joined to an existing offer.
    Joined {
        message: i64,
        offer: i64,
    },
    /// Automatic mail or a bounce: stored, no offer, no reply.
    NoOffer {
        message: i64,
        category: String,
    },
    Failed {
        message: i64,
        reason: String,
    },
    /// Nothing waits to be processed.
    Idle,
}

/// Messages claimed per transaction, and the bytes they may hold together
/// (a large message is claimed alone).
pub const BATCH_MESSAGES: i64 = 64;
const BATCH_BYTES: i64 = 8 * 1024 * 1024;

/// Settings the process stage needs.
pub struct Processor {
    store: Store,
    rules: Arc<Rules>,
    composer: Arc<Composer>,
    our_address: String,
    reply_window: Duration,
}

impl Processor {
    pub fn new(
        store: Store,
        rules: Arc<Rules>,
        composer: Arc<Composer>,
        our_address: String,
        reply_window: Duration,
    ) -> Self {
        Processor {
            store,
            rules,
            composer,
            our_address,
            reply_window,
        }
    }

    /// Processes the oldest waiting message, if any.
    pub async fn process_next(&self) -> Result<ProcessOutcome, StoreError> {
        Ok(self
            .process_batch(1)
            .await?
            .pop()
            .unwrap_or(ProcessOutcome::Idle))
    }

    /// Processes up to `limit` waiting messages (fewer when they are large)
    /// in one transaction; an empty list means nothing was waiting.
    pub async fn process_batch(&self, limit: i64) -> Result<Vec<ProcessOutcome>, StoreError> {
        let claimed = self.store.claim_received_batch(limit, BATCH_BYTES).await?;
        if claimed.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<i64> = claimed.iter().map(|c| c.id).collect();
        let rules = self.rules.clone();
        // Parsing and rules are CPU work, and may meet hostile input: off the
        // async threads, with a panic turned into a failed message.
        let analysed = tokio::task::spawn_blocking(move || {
            claimed
                .into_iter()
                .map(|c| (c.id, analyse(&rules, &c.raw)))
                .collect::<Vec<_>>()
        })
        .await
        .unwrap_or_else(|join| {
            let reason = format!("processing panicked: {join}");
            ids.iter().map(|&id| (id, Err(reason.clone()))).collect()
        });
        let mut batch = self.store.begin_processing().await?;
        let mut answered = HashSet::new();
        let mut outcomes = Vec::with_capacity(analysed.len());
        for (id, result) in analysed {
            outcomes.push(match result {
                Ok((msg, ex)) => {
                    self.complete(&mut batch, &mut answered, id, &msg, &ex)
                        .await?
                }
                Err(reason) => {
                    tracing::warn!(message = id, %reason, "message failed");
                    batch.fail_message(id, &reason).await?;
                    ProcessOutcome::Failed {
                        message: id,
                        reason,
                    }
                }
            });
        }
        batch.commit().await?;
        Ok(outcomes)
    }

    async fn complete(
        &self,
        batch: &mut ProcessingBatch,
        answered: &mut HashSet<String>,
        id: i64,
        msg: &ParsedMessage,
        ex: &Extraction,
    ) -> Result<ProcessOutcome, StoreError> {
        let facts = MessageFacts {
            category: ex.category.as_str().to_string(),
            from_address: msg.from.as_ref().map(|a| a.email.clone()),
            subject: msg.subject.clone(),
        };
        let thread: Vec<String> = msg
            .in_reply_to
            .iter()
            .chain(msg.references.iter())
            .cloned()
            .collect();
        if let Some(offer) = batch.find_offer_for_reply(&thread, &msg.subject).await? {
            batch.complete_joined(id, &facts, offer).await?;
            return Ok(ProcessOutcome::Joined { message: id, offer });
        }
        if matches!(ex.category, Category::AutoReply | Category::Bounce) || msg.from.is_none() {
            batch.complete_without_offer(id, &facts).await?;
            return Ok(ProcessOutcome::NoOffer {
                message: id,
                category: facts.category,
            });
        }
        let offer = new_offer(msg, ex);
        let block = self.reply_block(batch, answered, msg, ex).await?;
        if let Some(reason) = &block {
            tracing::info!(message = id, %reason, "no acknowledgement");
        }
        let mut compose_error = None;
        let offer_id = batch
            .complete_with_offer(id, &facts, &offer, |offer_id| {
                if block.is_some() {
                    return None;
                }
                match self.composer.compose(&reply_context(offer_id, msg, ex)) {
                    Ok(reply) => Some(reply),
                    Err(err) => {
                        compose_error = Some(err);
                        None
                    }
                }
            })
            .await?;
        let acknowledged = block.is_none() && compose_error.is_none();
        if let Some(err) = compose_error {
            tracing::error!(message = id, offer = offer_id, %err, "acknowledgement could not be rendered");
        }
        Ok(ProcessOutcome::NewOffer {
            message: id,
            offer: offer_id,
            acknowledged,
        })
    }

    /// Why this message gets no acknowledgement, if it gets none.
    async fn reply_block(
        &self,
        batch: &mut ProcessingBatch,
        answered: &mut HashSet<String>,
        msg: &ParsedMessage,
        ex: &Extraction,
    ) -> Result<Option<NoReply>, StoreError> {
        if ex.category == Category::Spam {
            return Ok(Some(NoReply::Category("spam")));
        }
        if let Some(block) = auto_reply_block(msg, &self.our_address) {
            return Ok(Some(block));
        }
        let to = reply_address(msg).unwrap_or_default();
        if to.parse::<lettre::Address>().is_err() {
            return Ok(Some(NoReply::NoSender));
        }
        // Earlier messages of this batch count too: their replies are not committed yet.
        if !answered.insert(to.to_ascii_lowercase()) {
            return Ok(Some(NoReply::RateLimited(1)));
        }
        let since = crate::store::now_ms() - self.reply_window.as_millis() as i64;
        let recent = batch.automatic_replies_since(&to, since).await?;
        Ok((recent > 0).then_some(NoReply::RateLimited(recent)))
    }
}

/// Parses and extracts; a parser failure is a reason, not a crash.
pub fn analyse(rules: &Rules, raw: &[u8]) -> Result<(ParsedMessage, Extraction), String> {
    let msg = mail::parse(raw).map_err(|e| e.to_string())?;
    let extraction = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| rules.extract(&msg)))
        .map_err(|_| "the rules panicked on this message".to_string())?;
    Ok((msg, extraction))
}

/// Where a reply goes: Reply-To when the donor set one, else From.
fn reply_address(msg: &ParsedMessage) -> Option<String> {
    msg.reply_to
        .as_ref()
        .or(msg.from.as_ref())
        .map(|a| a.email.trim().to_string())
}

fn new_offer(msg: &ParsedMessage, ex: &Extraction) -> NewOffer {
    let from = msg.from.as_ref();
    NewOffer {
        donor_email: from.map(|a| a.email.clone()).unwrap_or_default(),
        donor_name: from.and_then(|a| a.name.clone()),
        subject: msg.subject.clone(),
        category: ex.category.as_str().to_string(),
        language: ex.language.clone(),
        contact_json: ex
            .contact
            .as_ref()
            .and_then(|c| serde_json::to_string(c).ok()),
        pickup_json: ex
            .pickup
            .as_ref()
            .and_then(|p| serde_json::to_string(p).ok()),
        price_quoted: ex.price_quoted,
        items: ex
            .items
            .iter()
            .map(|it| OfferItemRow {
                item: it.item.clone(),
                quantity: it.quantity,
                unit: it.unit.clone(),
                model: it.model.clone(),
                condition: it.condition.clone(),
                expires: it.expires.clone(),
                spans_json: serde_json::to_string(&it.spans).unwrap_or_else(|_| "[]".into()),
                source: "extracted".into(),
            })
            .collect(),
    }
}

fn reply_context(offer_id: i64, msg: &ParsedMessage, ex: &Extraction) -> ReplyContext {
    let lang = ex.language.clone().unwrap_or_else(|| "en".into());
    ReplyContext {
        kind: "ack".into(),
        offer_id,
        reference: offer_reference(offer_id),
        donor_email: reply_address(msg).unwrap_or_default(),
        donor_name: msg.from.as_ref().and_then(|a| a.name.clone()),
        items: ex
            .items
            .iter()
            .map(|it| ItemLine {
                item: it.item.clone(),
                quantity: it.quantity,
                unit: it.unit.clone(),
                text: item_text(
                    &it.item,
                    it.quantity,
                    it.unit.as_deref(),
                    it.model.as_deref(),
                    &lang,
                ),
            })
            .collect(),
        language: Some(lang),
        received_subject: msg.subject.clone(),
        in_reply_to: msg.message_id.clone(),
        references: msg.references.clone(),
    }
}
