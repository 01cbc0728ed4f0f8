//! The process stage: claim a stored message, parse and clean it, run the
//! rules, and write what follows (a new offer with its items and its
//! acknowledgement, or a donor's reply joined to an offer, or nothing for
//! automatic mail) in one transaction. A message that cannot be processed
//! is marked `failed` with its reason and kept.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::config::UnauthenticatedPolicy;
use crate::mail::dsn::Severity;
use crate::mail::{self, ParsedMessage};
use crate::outbox::context::DonorMessage;
use crate::outbox::kinds::ReplyKind;
use crate::outbox::needs;
use crate::outbox::recipient::{domain_of, normalised_address, recipient_domain, reply_address};
use crate::outbox::sender_auth::{check_sender, SenderCheck};
use crate::outbox::{auto_reply_block, Composer, NoReply, ReplyContext, ReplyItem, ReplyPolicy};
use crate::rules::{Category, Extraction, Rules};
use crate::store::{
    ClaimedMessage, MessageFacts, NewOffer, OfferItemRow, ProcessingBatch, Store, StoreError,
};
use crate::values::EmailAddress;

mod limits;
use limits::ReplyTally;

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
    /// A bounce of one of our replies: the offer's donor address is marked undeliverable.
    Bounced {
        message: i64,
        reply: i64,
        offer: Option<i64>,
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
}

impl ProcessOutcome {
    /// One log line naming the message (and offer) once its batch is committed.
    pub fn log(&self) {
        match self {
            ProcessOutcome::NewOffer {
                message,
                offer,
                acknowledged,
            } => tracing::info!(message_id = message, offer, acknowledged, "new offer"),
            ProcessOutcome::Joined { message, offer } => {
                tracing::info!(message_id = message, offer, "joined an offer's thread")
            }
            ProcessOutcome::Bounced {
                message,
                reply,
                offer,
            } => tracing::info!(message_id = message, reply, ?offer, "bounce recorded"),
            ProcessOutcome::NoOffer { message, category } => {
                tracing::info!(message_id = message, %category, "no offer")
            }
            // Logged (with the reason) where it failed.
            ProcessOutcome::Failed { .. } => {}
        }
    }
}

/// Messages claimed per transaction, and the bytes they may hold together
/// (a large message is claimed alone).
pub const BATCH_MESSAGES: i64 = 64;
const BATCH_BYTES: i64 = 8 * 1024 * 1024;
/// A batch holding more than this waits for its turn with large messages
/// (see [`Store::large_message_turn`]).
const LARGE_BATCH_BYTES: i64 = 4 * 1024 * 1024;

/// Settings the process stage needs.
pub struct Processor {
    store: Store,
    rules: Arc<Rules>,
    composer: Arc<Composer>,
    policy: ReplyPolicy,
    /// Messages claimed by a batch that could not be committed (the database
    /// stayed locked past its busy timeout): released before the next claim.
    unreleased: Mutex<Vec<i64>>,
}

impl Processor {
    pub fn new(
        store: Store,
        rules: Arc<Rules>,
        composer: Arc<Composer>,
        policy: ReplyPolicy,
    ) -> Self {
        Processor {
            store,
            rules,
            composer,
            policy,
            unreleased: Mutex::new(Vec::new()),
        }
    }

    /// Processes up to `limit` waiting messages (fewer when they are large)
    /// in one transaction; an empty list means nothing was waiting. When the
    /// batch cannot be committed, the error is returned and the next call
    /// first puts its messages back in the queue (a restart does too).
    pub async fn process_batch(&self, limit: i64) -> Result<Vec<ProcessOutcome>, StoreError> {
        self.release_unfinished().await?;
        let (next_bytes, max_id) = self.store.next_claim(limit, BATCH_BYTES).await?;
        if max_id == 0 {
            return Ok(Vec::new());
        }
        let _turn = match next_bytes > LARGE_BATCH_BYTES {
            true => Some(self.store.large_message_turn().await),
            false => None,
        };
        // Only what was measured: a large message stored meanwhile waits
        // for the next batch and its own turn.
        let claimed = self
            .store
            .claim_received_through(limit, BATCH_BYTES, max_id)
            .await?;
        if claimed.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<i64> = claimed.iter().map(|c| c.id).collect();
        let result = self.process_claimed(claimed).await;
        if result.is_err() {
            self.unreleased.lock().unwrap().extend(&ids);
        }
        result
    }

    /// Puts messages of failed batches back in the queue.
    async fn release_unfinished(&self) -> Result<(), StoreError> {
        let ids = std::mem::take(&mut *self.unreleased.lock().unwrap());
        if ids.is_empty() {
            return Ok(());
        }
        let released = self.store.release_claimed(&ids).await;
        if released.is_err() {
            self.unreleased.lock().unwrap().extend(ids);
        }
        released
    }

    async fn process_claimed(
        &self,
        claimed: Vec<ClaimedMessage>,
    ) -> Result<Vec<ProcessOutcome>, StoreError> {
        let ids: Vec<i64> = claimed.iter().map(|c| c.id).collect();
        let mut analysed = analyse_in_turn(self.rules.clone(), claimed);
        // The transaction (SQLite's write lock, PostgreSQL's processing
        // turn) begins once the first message is analysed, as other
        // writers wait on it; the later ones are analysed while the
        // earlier ones are written.
        let mut first = analysed.recv().await;
        let mut batch = self.store.begin_processing_claimed(&ids).await?;
        let mut tally = ReplyTally::default();
        let mut outcomes = Vec::with_capacity(ids.len());
        for &id in &ids {
            let next = match first.take() {
                Some(ready) => Some(ready),
                None => analysed.recv().await,
            };
            let (not_answered, result) = match next {
                Some((analysed_id, not_answered, result)) if analysed_id == id => {
                    (not_answered, result)
                }
                // The analysing thread died: every message it had not
                // reached fails with the reason.
                _ => (None, Err(AnalyseError::Panicked(ANALYSIS_DIED.into()))),
            };
            outcomes.push(match result {
                Ok(analysis) => {
                    let quiet = not_answered.map(NoReply::NotAnswered);
                    self.complete(&mut batch, &mut tally, id, &analysis, quiet)
                        .await?
                }
                Err(error) => {
                    let reason = error.to_string();
                    tracing::warn!(message_id = id, %reason, "message failed");
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

    /// Writes what one analysed message leads to: a bounce recorded, a
    /// follow-up joined to its offer, nothing for automatic mail, or a new
    /// offer with its acknowledgement.
    async fn complete(
        &self,
        batch: &mut ProcessingBatch,
        tally: &mut ReplyTally,
        id: i64,
        analysis: &Analysis,
        quiet: Option<NoReply>,
    ) -> Result<ProcessOutcome, StoreError> {
        let (msg, ex) = (&analysis.msg, &analysis.extraction);
        let facts = MessageFacts {
            category: ex.category.as_str().to_string(),
            from_address: msg.from.as_ref().map(|a| a.email.clone()),
            subject: msg.subject.clone(),
            text: msg.clean_text.clone(),
        };
        if let Some(outcome) = self.complete_bounce(batch, id, analysis, &facts).await? {
            return Ok(outcome);
        }
        if let Some(outcome) = self.complete_follow_up(batch, id, msg, ex, &facts).await? {
            return Ok(outcome);
        }
        if matches!(ex.category, Category::AutoReply | Category::Bounce) || msg.from.is_none() {
            batch.complete_without_offer(id, &facts).await?;
            return Ok(ProcessOutcome::NoOffer {
                message: id,
                category: facts.category,
            });
        }
        self.complete_new_offer(batch, tally, id, analysis, &facts, quiet)
            .await
    }

    /// A bounce or delivery report of one of our replies, recorded against
    /// the address it names; None when the message returns no reply of ours.
    async fn complete_bounce(
        &self,
        batch: &mut ProcessingBatch,
        id: i64,
        analysis: &Analysis,
        facts: &MessageFacts,
    ) -> Result<Option<ProcessOutcome>, StoreError> {
        if analysis.bounce_refs.is_empty() {
            return Ok(None);
        }
        let Some((reply, offer, to)) = batch.find_bounced_reply(&analysis.bounce_refs).await?
        else {
            return Ok(None);
        };
        let (severity, reason) = bounce_of(analysis.dsn.as_deref(), &to);
        if severity == Severity::None {
            tracing::info!(message_id = id, reply, %reason, "a delivery report that is no bounce");
            batch.complete_without_offer(id, facts).await?;
            return Ok(Some(ProcessOutcome::NoOffer {
                message: id,
                category: facts.category.clone(),
            }));
        }
        tracing::info!(message_id = id, reply, ?offer, ?severity, %reason, "a reply of ours bounced");
        batch.complete_bounce(id, facts, reply, offer).await?;
        let limit = self.policy.soft_bounces_to_suppress;
        let effect = batch
            .record_bounce(&to, severity, &reason, id, limit)
            .await?;
        tracing::info!(
            message_id = id,
            reply,
            ?effect,
            "bounce recorded against the address"
        );
        Ok(Some(ProcessOutcome::Bounced {
            message: id,
            reply,
            offer,
        }))
    }

    /// A message in the thread of an offer, joined to it (with the items it
    /// proposes, and reopening it when it asks to reschedule); from someone
    /// other than the donor, only recorded beside it. None when it belongs
    /// to no offer.
    async fn complete_follow_up(
        &self,
        batch: &mut ProcessingBatch,
        id: i64,
        msg: &ParsedMessage,
        ex: &Extraction,
        facts: &MessageFacts,
    ) -> Result<Option<ProcessOutcome>, StoreError> {
        let thread: Vec<String> = msg
            .in_reply_to
            .iter()
            .chain(msg.references.iter())
            .cloned()
            .collect();
        let Some(found) = batch.find_offer_for_reply(&thread, &msg.subject).await? else {
            return Ok(None);
        };
        let offer = found.offer_id;
        let from = msg.from.as_ref().map(|a| a.email.as_str()).unwrap_or("");
        let from_donor = normalised_address(from) == normalised_address(&found.donor_email);
        if !found.answers_our_mail && !from_donor {
            tracing::info!(
                message_id = id,
                offer,
                "a message about an offer from someone else"
            );
            batch.complete_from_someone_else(id, facts, offer).await?;
        } else {
            if ex.items.is_empty() {
                batch.complete_joined(id, facts, offer).await?;
            } else {
                let items = new_offer(msg, ex).items;
                let summary = proposal_summary(&self.composer, &items);
                batch
                    .complete_joined_with_proposal(id, facts, offer, &items, &summary)
                    .await?;
            }
            if crate::slots::asks_reschedule(&facts.text) {
                batch.reopen_for_reschedule(offer, id).await?;
            }
        }
        Ok(Some(ProcessOutcome::Joined { message: id, offer }))
    }

    /// A new offer, and its acknowledgement enqueued, held for staff or
    /// skipped as [`Processor::ack_route`] says (imported mail, `quiet`, is
    /// never answered).
    async fn complete_new_offer(
        &self,
        batch: &mut ProcessingBatch,
        tally: &mut ReplyTally,
        id: i64,
        analysis: &Analysis,
        facts: &MessageFacts,
        quiet: Option<NoReply>,
    ) -> Result<ProcessOutcome, StoreError> {
        let (msg, ex) = (&analysis.msg, &analysis.extraction);
        let offer = new_offer(msg, ex);
        let imported = quiet.is_some();
        let route = match quiet {
            Some(reason) => AckRoute::Skip(reason),
            None => self.ack_route(batch, tally, msg, ex).await?,
        };
        log_route(id, &route, imported);
        let mut compose_error = None;
        let held = match &route {
            AckRoute::Hold(reason) => Some(reason.as_str()),
            _ => None,
        };
        let offer_id = batch
            .complete_with_offer(id, facts, &offer, held, |offer_id| {
                if let AckRoute::Skip(_) = route {
                    return None;
                }
                let (kind, extra) = first_reply_kind(ex);
                let donor = donor_message(msg);
                let lang = ex.language.as_deref();
                let ctx = ReplyContext::new(kind, offer_id, &offer.items, donor, lang);
                self.composer
                    .compose_kind(&ctx, &extra)
                    .map_err(|err| compose_error = Some(err))
                    .ok()
            })
            .await?;
        if let AckRoute::Skip(reason) = &route {
            batch.note_no_reply(offer_id, &reason.to_string());
        }
        let acknowledged = matches!(route, AckRoute::Send) && compose_error.is_none();
        if acknowledged {
            let to = reply_address(msg).unwrap_or_default();
            tally.count_sent(&recipient_domain(&to));
        }
        if let Some(err) = compose_error {
            tracing::error!(message_id = id, offer = offer_id, %err, "acknowledgement could not be rendered");
        }
        Ok(ProcessOutcome::NewOffer {
            message: id,
            offer: offer_id,
            acknowledged,
        })
    }

    /// Whether this message's acknowledgement goes now, waits for staff,
    /// or is not sent at all, and why.
    async fn ack_route(
        &self,
        batch: &mut ProcessingBatch,
        tally: &mut ReplyTally,
        msg: &ParsedMessage,
        ex: &Extraction,
    ) -> Result<AckRoute, StoreError> {
        if ex.category == Category::Spam {
            return Ok(AckRoute::Skip(NoReply::Category("spam")));
        }
        // The acknowledgement thanks for an offer and lists what is offered:
        // a facility's request is answered by staff from its own queue.
        if ex.category == Category::Request {
            return Ok(AckRoute::Skip(NoReply::Category("request")));
        }
        if let Some(block) = auto_reply_block(msg, &self.policy.our_address) {
            return Ok(AckRoute::Skip(block));
        }
        let to = reply_address(msg).unwrap_or_default();
        if to.parse::<EmailAddress>().is_err() {
            return Ok(AckRoute::Skip(NoReply::NoSender));
        }
        // Earlier messages of this batch count too: their replies are not committed yet.
        if !tally.first_in_batch(&to) {
            return Ok(AckRoute::Skip(NoReply::RateLimited(1)));
        }
        let since = crate::store::now_ms() - self.policy.window.as_millis() as i64;
        let recent = batch.automatic_replies_since(&to, since).await?;
        if recent > 0 {
            return Ok(AckRoute::Skip(NoReply::RateLimited(recent)));
        }
        if let Some(route) = self.unauthenticated_route(msg) {
            return Ok(route);
        }
        self.limit_route(batch, tally, &to).await
    }

    /// The route for a sender the trusted server did not authenticate, as
    /// the policy says; `None` when the sender is authenticated or the
    /// policy sends anyway.
    fn unauthenticated_route(&self, msg: &ParsedMessage) -> Option<AckRoute> {
        let from = msg.from.as_ref().map(|a| a.email.as_str()).unwrap_or("");
        let check = match &self.policy.trusted_authserv_id {
            Some(id) => check_sender(&msg.authentication_results, id, domain_of(from)),
            None => SenderCheck::Unknown,
        };
        if check.is_authenticated() {
            return None;
        }
        match self.policy.unauthenticated {
            UnauthenticatedPolicy::Send => None,
            UnauthenticatedPolicy::Skip => Some(AckRoute::Skip(NoReply::Unauthenticated)),
            UnauthenticatedPolicy::Hold => Some(AckRoute::Hold(match check {
                SenderCheck::Unknown => "no verdict on the sender from the receiving server".into(),
                _ => format!("the receiving server did not authenticate {from}"),
            })),
        }
    }

    /// Held when the recipient's domain or all recipients together had as
    /// many automatic replies in the last hour as the policy allows.
    async fn limit_route(
        &self,
        batch: &mut ProcessingBatch,
        tally: &mut ReplyTally,
        to: &str,
    ) -> Result<AckRoute, StoreError> {
        let hour_ago = crate::store::now_ms() - 3_600_000;
        let domain = recipient_domain(to);
        let to_domain = tally.replies_to_domain(batch, &domain, hour_ago).await?;
        if to_domain >= i64::from(self.policy.per_domain_per_hour) {
            return Ok(AckRoute::Hold(format!(
                "{to_domain} automatic replies to {domain} in the last hour (limit {})",
                self.policy.per_domain_per_hour
            )));
        }
        let in_all = tally.replies_in_all(batch, hour_ago).await?;
        if in_all >= i64::from(self.policy.per_hour) {
            return Ok(AckRoute::Hold(format!(
                "{in_all} automatic replies in the last hour (limit {})",
                self.policy.per_hour
            )));
        }
        Ok(AckRoute::Send)
    }
}

/// Logs why an acknowledgement is not sent now; imported (old) mail comes
/// by the thousand and is never answered, so it is logged at debug level.
fn log_route(id: i64, route: &AckRoute, imported: bool) {
    match route {
        AckRoute::Skip(reason) if imported => {
            tracing::debug!(message_id = id, %reason, "no acknowledgement")
        }
        AckRoute::Skip(reason) => tracing::info!(message_id = id, %reason, "no acknowledgement"),
        AckRoute::Hold(reason) => tracing::info!(message_id = id, %reason, "acknowledgement held"),
        AckRoute::Send => {}
    }
}

/// What happens to a new offer's acknowledgement.
#[derive(Debug)]
enum AckRoute {
    Send,
    /// Enqueued, waiting for staff to send or discard it, for this reason.
    Hold(String),
    Skip(NoReply),
}

/// What parsing and the rules made of one message.
pub struct Analysis {
    pub msg: ParsedMessage,
    pub extraction: Extraction,
    /// For bounces and delivery reports: every Message-ID the raw message
    /// names, to find which reply of ours it returns.
    pub bounce_refs: Vec<String>,
    /// For bounces: the recipients of its delivery-status part, if it has one.
    pub dsn: Option<Vec<crate::mail::dsn::DsnRecipient>>,
}

/// Why a stored message could not be analysed. Its text is the reason kept
/// with the failed message and shown to staff.
#[derive(Debug, thiserror::Error)]
pub enum AnalyseError {
    #[error(transparent)]
    Mail(#[from] mail::MailError),
    #[error("the rules panicked on this message")]
    RulesPanicked,
    /// A panic outside the guarded rules (parsing, say), caught for its
    /// message alone, or the analysing thread gone before the message.
    #[error("processing panicked: {0}")]
    Panicked(String),
}

/// What a message that could not be analysed because the analysing thread
/// itself died is failed with.
const ANALYSIS_DIED: &str = "the analysing thread stopped before this message";

/// A claimed message's id, whether it is to go unanswered, and its analysis.
type Analysed = (i64, Option<String>, Result<Analysis, AnalyseError>);

/// Parses and runs the rules on `claimed` one message after another on a
/// blocking thread (CPU work, and it may meet hostile input), handing each
/// result over as soon as it is ready: the batch writes one message while
/// the next is analysed. A panic fails its message only.
fn analyse_in_turn(
    rules: Arc<Rules>,
    claimed: Vec<ClaimedMessage>,
) -> tokio::sync::mpsc::Receiver<Analysed> {
    let (results, received) = tokio::sync::mpsc::channel(ANALYSED_AHEAD);
    tokio::task::spawn_blocking(move || {
        for c in claimed {
            let analysis =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| analyse(&rules, &c.raw)))
                    .unwrap_or_else(|panic| Err(AnalyseError::Panicked(panic_text(&*panic))));
            if results
                .blocking_send((c.id, c.no_reply_reason, analysis))
                .is_err()
            {
                return; // the batch gave up
            }
        }
    });
    received
}

/// How many analysed messages may wait for the batch to write them.
const ANALYSED_AHEAD: usize = 16;

/// A panic's message, when it has one.
fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    match (panic.downcast_ref::<&str>(), panic.downcast_ref::<String>()) {
        (Some(text), _) => text.to_string(),
        (_, Some(text)) => text.clone(),
        _ => "a panic without a message".into(),
    }
}

/// Parses and extracts; a parser failure is a reason, not a crash.
pub fn analyse(rules: &Rules, raw: &[u8]) -> Result<Analysis, AnalyseError> {
    let msg = mail::parse(raw)?;
    let extraction = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| rules.extract(&msg)))
        .map_err(|_| AnalyseError::RulesPanicked)?;
    let bounce = extraction.category == Category::Bounce || msg.auto.is_report;
    let (bounce_refs, dsn) = match bounce {
        true => (message_ids_in(raw), crate::mail::dsn::recipients(raw)),
        false => (Vec::new(), None),
    };
    Ok(Analysis {
        msg,
        extraction,
        bounce_refs,
        dsn,
    })
}

/// How a bounce of a reply to `to` counts, and why: the DSN recipient that
/// is `to` (else the worst one it names); a bounce without a
/// delivery-status part counts as soft (nothing says it is final).
fn bounce_of(dsn: Option<&[crate::mail::dsn::DsnRecipient]>, to: &str) -> (Severity, String) {
    let recipients = dsn.unwrap_or_default();
    let key = normalised_address(to);
    let found = recipients
        .iter()
        .find(|r| normalised_address(&r.address) == key)
        .or_else(|| recipients.iter().max_by_key(|r| r.severity()));
    match found {
        Some(r) => (r.severity(), r.reason()),
        None => (Severity::Soft, "a bounce without a delivery status".into()),
    }
}

/// Every `<local@domain>` token in a raw message (a bounce quotes the
/// headers of what it returns, Message-ID among them), at most 200.
fn message_ids_in(raw: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(raw);
    let mut ids = Vec::new();
    for piece in text.split('<').skip(1) {
        let Some(candidate) = piece.split('>').next() else {
            continue;
        };
        if candidate.contains('@')
            && !candidate.contains(char::is_whitespace)
            && candidate.len() < 250
            && !ids.iter().any(|i| i == candidate)
        {
            ids.push(candidate.to_string());
            if ids.len() == 200 {
                break;
            }
        }
    }
    ids
}

/// "1,500 N95 respirators; 40 isolation gowns" for the offer's history.
fn proposal_summary(composer: &Composer, items: &[OfferItemRow]) -> String {
    let items: Vec<ReplyItem> = items.iter().map(ReplyItem::from).collect();
    let lines: Vec<String> = composer
        .item_lines(&items, "en")
        .into_iter()
        .map(|line| line.text)
        .collect();
    format!("the donor's reply states: {}", lines.join("; "))
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
        vetting_json: (!ex.vetting.is_empty())
            .then(|| serde_json::to_string(&ex.vetting).ok())
            .flatten(),
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

/// The one automatic reply an offer gets: an acknowledgement, or, when an
/// offered item has no quantity or there is nowhere to collect from, an
/// acknowledgement that asks exactly for what is missing.
fn first_reply_kind(ex: &Extraction) -> (ReplyKind, BTreeMap<String, String>) {
    if ex.category != Category::Offer || ex.items.is_empty() {
        return (ReplyKind::Ack, BTreeMap::new());
    }
    let missing = needs::missing(ex.items.iter().map(|i| i.quantity), ex.pickup.as_ref());
    if missing.is_empty() {
        (ReplyKind::Ack, BTreeMap::new())
    } else {
        (ReplyKind::NeedsInfo, needs::extra_values(&missing))
    }
}

/// The donor's message as a reply answers it: to its Reply-To (else From),
/// in its thread.
fn donor_message(msg: &ParsedMessage) -> DonorMessage {
    DonorMessage {
        email: reply_address(msg).unwrap_or_default(),
        name: msg.from.as_ref().and_then(|a| a.name.clone()),
        message_id: msg.message_id.clone(),
        references: msg.references.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::OfferRef;
    use sqlx::Connection;

    #[test]
    fn an_analysis_failure_reads_as_the_reason_kept_with_the_message() {
        let unparseable = AnalyseError::from(mail::MailError::Unparseable);
        assert_eq!(
            unparseable.to_string(),
            "the message could not be parsed as MIME"
        );
        assert_eq!(
            AnalyseError::RulesPanicked.to_string(),
            "the rules panicked on this message"
        );
    }

    #[tokio::test]
    async fn a_batch_is_analysed_in_its_order_and_results_come_as_they_are_ready() {
        let claimed = |id: i64, raw: &[u8]| ClaimedMessage {
            id,
            raw: raw.to_vec(),
            truncated: false,
            no_reply_reason: (id == 3).then(|| "imported".to_string()),
        };
        let batch = vec![claimed(1, DONATION), claimed(2, b""), claimed(3, DONATION)];
        let mut results = analyse_in_turn(Arc::new(Rules::embedded().unwrap()), batch);
        let mut seen = Vec::new();
        while let Some((id, quiet, analysis)) = results.recv().await {
            seen.push((id, quiet, analysis.is_ok()));
        }
        assert_eq!(
            seen,
            vec![
                (1, None, true),
                (2, None, false),
                (3, Some("imported".to_string()), true)
            ]
        );
    }

    #[test]
    fn a_panic_reads_as_its_message() {
        let text = std::panic::catch_unwind(|| panic!("index {} out of range", 7)).unwrap_err();
        assert_eq!(panic_text(&*text), "index 7 out of range");
        let text = std::panic::catch_unwind(|| std::panic::panic_any(42)).unwrap_err();
        assert_eq!(panic_text(&*text), "a panic without a message");
    }

    fn processor(store: Store) -> Processor {
        let desk = "donations@example.org";
        Processor::new(
            store,
            Arc::new(Rules::embedded().unwrap()),
            Arc::new(Composer::new(None, desk, "Donations Desk", None).unwrap()),
            ReplyPolicy::new(desk, std::time::Duration::from_secs(600)),
        )
    }

    const DONATION: &[u8] = b"From: Donor <donor@example.net>\r\nTo: donations@example.org\r\n\
        Subject: Offer\r\nMessage-ID: <offer@example.net>\r\n\r\nWe can donate 200 N95 masks.\r\n";

    /// Processes `raw` as the next message and returns its outcome.
    async fn process_one(store: &Store, processor: &Processor, raw: &[u8]) -> ProcessOutcome {
        store.store_local("INBOX", raw).await.unwrap();
        let mut outcomes = processor.process_batch(64).await.unwrap();
        assert_eq!(outcomes.len(), 1);
        outcomes.remove(0)
    }

    fn actions(history: &[crate::store::AuditEvent]) -> Vec<&str> {
        history.iter().map(|e| e.action.as_str()).collect()
    }

    #[tokio::test]
    async fn a_sellers_price_minimum_and_approval_numbers_are_kept_for_review() {
        let store = Store::open("sqlite::memory:").await.unwrap();
        let processor = processor(store.clone());
        let sale = b"From: Sales <sales@vendor.example>\r\nTo: donations@example.org\r\n\
            Subject: N95 in stock\r\nMessage-ID: <q1@vendor.example>\r\n\r\n\
            We sell 3M 1860 N95, 100,000 in stock at USD 1.85/piece, MOQ 20k.\r\n\
            NIOSH TC-84A-00061.\r\n";
        let ProcessOutcome::NewOffer { offer, .. } = process_one(&store, &processor, sale).await
        else {
            panic!("a sale is queued")
        };
        let vetting = store.offer(offer).await.unwrap().vetting.unwrap();
        assert_eq!(vetting.unit_price, Some(1.85));
        assert_eq!(vetting.minimum_order, Some(20_000.0));
        assert_eq!(vetting.niosh_malformed, vec!["TC-84A-00061"]);
        // A plain donation states nothing to vet.
        let ProcessOutcome::NewOffer { offer, .. } =
            process_one(&store, &processor, DONATION).await
        else {
            panic!("not an offer")
        };
        assert!(store.offer(offer).await.unwrap().vetting.is_none());
    }

    #[tokio::test]
    async fn a_facilitys_request_is_not_thanked_for_an_offer() {
        let store = Store::open("sqlite::memory:").await.unwrap();
        let processor = processor(store.clone());
        let request = b"From: Clinic <ops@clinic.example>\r\nTo: donations@example.org\r\n\
            Subject: Request for PPE\r\nMessage-ID: <r1@clinic.example>\r\n\r\n\
            Eastside Community Clinic is requesting 200 isolation gowns and 5 thermometers.\r\n";
        let ProcessOutcome::NewOffer {
            offer,
            acknowledged,
            ..
        } = process_one(&store, &processor, request).await
        else {
            panic!("a request is kept in an offer row")
        };
        assert!(!acknowledged);
        let detail = store.offer(offer).await.unwrap();
        assert_eq!(detail.offer.category, "request");
        assert!(detail.replies.is_empty(), "{:?}", detail.replies);
        let no_reply = detail.history.iter().find(|e| e.action == "no_reply");
        assert_eq!(no_reply.unwrap().detail, "classified as request");
    }

    #[tokio::test]
    async fn only_the_donor_or_a_reader_of_our_mail_joins_an_offer_thread() {
        let store = Store::open("sqlite::memory:").await.unwrap();
        let processor = processor(store.clone());
        let ProcessOutcome::NewOffer { offer, .. } =
            process_one(&store, &processor, DONATION).await
        else {
            panic!("not an offer")
        };
        let reference = OfferRef::from(offer);
        // Someone else names the reference: kept with the offer, proposes nothing.
        let stranger = format!(
            "From: x@stranger.example\r\nSubject: Re: {reference} correction\r\n\
             Message-ID: <s1@stranger.example>\r\n\r\nActually it is 90000 N95 masks.\r\n"
        );
        let outcome = process_one(&store, &processor, stranger.as_bytes()).await;
        assert!(matches!(outcome, ProcessOutcome::Joined { offer: o, .. } if o == offer));
        let history = store.offer_history(offer).await.unwrap();
        assert!(
            actions(&history).contains(&"message_from_someone_else"),
            "{history:?}"
        );
        assert!(
            !actions(&history).contains(&"items_proposed"),
            "{history:?}"
        );
        // The donor, by the same reference, proposes a correction.
        let donor = format!(
            "From: Donor <Donor@Example.net>\r\nSubject: Re: {reference}\r\n\
             Message-ID: <d2@example.net>\r\n\r\nWe now have 300 N95 masks.\r\n"
        );
        process_one(&store, &processor, donor.as_bytes()).await;
        let history = store.offer_history(offer).await.unwrap();
        assert!(actions(&history).contains(&"items_proposed"), "{history:?}");
        let strangers = actions(&history)
            .into_iter()
            .filter(|a| *a == "message_from_someone_else");
        assert_eq!(strangers.count(), 1, "{history:?}");
    }

    #[tokio::test]
    async fn an_offers_history_keeps_the_order_of_what_happened() {
        let store = Store::open("sqlite::memory:").await.unwrap();
        let processor = processor(store.clone());
        let again = b"From: Donor <donor@example.net>\r\nTo: donations@example.org\r\n\
            Subject: More\r\nMessage-ID: <more@example.net>\r\n\r\nAlso 40 face shields.\r\n";
        store.store_local("INBOX", DONATION).await.unwrap();
        store.store_local("INBOX", again).await.unwrap();
        let outcomes = processor.process_batch(64).await.unwrap();
        let offers: Vec<i64> = outcomes
            .iter()
            .map(|o| match o {
                ProcessOutcome::NewOffer { offer, .. } => *offer,
                other => panic!("not an offer: {other:?}"),
            })
            .collect();
        let first = store.offer_history(offers[0]).await.unwrap();
        assert_eq!(actions(&first), ["offer_created", "reply_enqueued"]);
        // The same donor again in the same batch: no second acknowledgement.
        let second = store.offer_history(offers[1]).await.unwrap();
        assert_eq!(actions(&second), ["offer_created", "no_reply"]);
        let reference = OfferRef::from(offers[0]);
        let correction = format!(
            "From: Donor <donor@example.net>\r\nSubject: Re: {reference}\r\n\
             Message-ID: <d3@example.net>\r\n\r\nWe now have 300 N95 masks.\r\n"
        );
        process_one(&store, &processor, correction.as_bytes()).await;
        let first = store.offer_history(offers[0]).await.unwrap();
        let expected = [
            "offer_created",
            "reply_enqueued",
            "donor_reply",
            "items_proposed",
        ];
        assert_eq!(actions(&first), expected);
    }

    #[tokio::test]
    async fn a_batch_that_could_not_be_committed_is_processed_once_the_database_is_free() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("process.db").display());
        let store = Store::open_with(&url, std::time::Duration::from_millis(100))
            .await
            .unwrap();
        store.store_local("INBOX", DONATION).await.unwrap();
        let processor = processor(store.clone());
        // As left by a batch whose commit met a lock: claimed, not completed.
        let claimed = store.claim_received_batch(64, i64::MAX).await.unwrap();
        processor
            .unreleased
            .lock()
            .unwrap()
            .extend(claimed.iter().map(|c| c.id));

        let mut other = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query("BEGIN EXCLUSIVE")
            .execute(&mut other)
            .await
            .unwrap();
        let err = processor.process_batch(64).await.unwrap_err();
        assert!(err.is_busy(), "{err}");
        assert_eq!(processor.unreleased.lock().unwrap().len(), 1, "kept");
        sqlx::query("COMMIT").execute(&mut other).await.unwrap();

        let outcomes = processor.process_batch(64).await.unwrap();
        assert!(
            matches!(
                outcomes[..],
                [ProcessOutcome::NewOffer {
                    acknowledged: true,
                    ..
                }]
            ),
            "{outcomes:?}"
        );
        assert!(processor.unreleased.lock().unwrap().is_empty());
        assert_eq!(
            store.message_counts().await.unwrap(),
            vec![(crate::state::MessageState::Processed, 1)]
        );
    }
}
