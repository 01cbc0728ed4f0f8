//! The decide stage against a fresh database (SQLite, or PostgreSQL with
//! `TEST_DATABASE=postgres`), no mail servers: what
//! each decision writes (status, audit row by the desk's actor, the donor's
//! email), and what it refuses. [`Fixture`] also serves the CLI's tests
//! (`decide_cli`).

use supplyline::decide::*;
use supplyline::outbox::kinds::ReplyKind;
use supplyline::outbox::{Composer, ReplyContext};
use supplyline::state::{OfferStatus, ReplyState};
use supplyline::store::{MessageFacts, NewOffer, OfferItemRow, PickupSite, Store, StoreOutcome};
use supplyline::values::OfferRef;

/// A database in a folder of its own, with one pickup site ("Central
/// depot"), and the built-in reply templates.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub store: Store,
    url: String,
    composer: Composer,
}

impl Fixture {
    pub async fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let url = crate::app::test_database_url(dir.path()).await;
        let store = Store::open(&url).await.unwrap();
        let site = PickupSite {
            name: "Central depot".into(),
            address: "100 Main St".into(),
            notes: "Ring the bell.".into(),
        };
        store.load_operations(&[], &[site]).await.unwrap();
        let composer = Composer::new(None, "donations@city.example", "Desk", None).unwrap();
        Fixture {
            dir,
            store,
            url,
            composer,
        }
    }

    /// The database's URL, for a config file.
    pub fn db_url(&self) -> String {
        self.url.clone()
    }

    pub fn desk(&self) -> Desk<'_> {
        Desk {
            store: &self.store,
            composer: &self.composer,
            actor: "ana@city.example",
        }
    }

    /// An offer of 40 gowns from `donor`, as processing would store it.
    pub async fn offer(&self, donor: &str) -> OfferRef {
        let raw =
            format!("From: {donor}\r\nMessage-ID: <{donor}>\r\nSubject: Gowns\r\n\r\n40 gowns\r\n");
        let StoreOutcome::Stored(message) = self
            .store
            .store_local("INBOX", raw.as_bytes())
            .await
            .unwrap()
        else {
            panic!("stored twice");
        };
        let offer = NewOffer {
            donor_email: donor.into(),
            donor_name: None,
            subject: "Gowns".into(),
            category: "offer".into(),
            language: Some("en".into()),
            contact_json: None,
            pickup_json: None,
            price_quoted: false,
            vetting_json: None,
            items: vec![OfferItemRow {
                item: "isolation_gown".into(),
                quantity: Some(40.0),
                unit: None,
                model: None,
                condition: None,
                expires: None,
                spans_json: "[]".into(),
                source: "extracted".into(),
            }],
        };
        let facts = MessageFacts {
            category: "offer".into(),
            from_address: Some(donor.into()),
            subject: "Gowns".into(),
            text: String::new(),
        };
        let id = self
            .store
            .complete_with_offer(message, &facts, &offer, |_| None)
            .await
            .unwrap();
        OfferRef::from(id)
    }

    pub async fn status(&self, offer: OfferRef) -> OfferStatus {
        self.store.offer(offer.id()).await.unwrap().offer.status
    }

    /// The offer's history as `actor action: detail` lines.
    pub async fn history(&self, offer: OfferRef) -> Vec<String> {
        let history = self.store.offer_history(offer.id()).await.unwrap();
        history
            .iter()
            .map(|h| format!("{} {}: {}", h.actor, h.action, h.detail))
            .collect()
    }

    /// The offer's replies as (kind, state).
    pub async fn replies(&self, offer: OfferRef) -> Vec<(String, ReplyState)> {
        let replies = self.store.offer(offer.id()).await.unwrap().replies;
        replies.into_iter().map(|r| (r.kind, r.state)).collect()
    }
}

fn pickup() -> Pickup {
    Pickup {
        site: "Central depot".into(),
        window: "Friday 1 May 09:00–11:00".into(),
        notes: None,
    }
}

#[tokio::test]
async fn accept_schedules_the_pickup_and_queues_its_email() {
    let f = Fixture::new().await;
    let offer = f.offer("bo@salon.example").await;
    accept(f.desk(), offer, &pickup()).await.unwrap();
    assert_eq!(f.status(offer).await, OfferStatus::Scheduled);
    let history = f.history(offer).await;
    assert!(
        history
            .contains(&"ana@city.example accepted: Central depot, Friday 1 May 09:00–11:00".into()),
        "{history:?}"
    );
    assert_eq!(
        f.replies(offer).await,
        [("pickup".into(), ReplyState::Pending)]
    );
    let due = f.store.claim_due_replies(10).await.unwrap();
    let text = String::from_utf8_lossy(&due[0].raw).replace("=\r\n", "");
    assert!(
        text.contains("100 Main St") && text.contains("Ring the bell."),
        "{text}"
    );

    let unknown = Pickup {
        site: "Nowhere".into(),
        ..pickup()
    };
    let err = accept(f.desk(), offer, &unknown).await.unwrap_err();
    assert!(matches!(err, DecideError::UnknownSite(_)), "{err}");
}

#[tokio::test]
async fn decline_tells_the_donor_only_when_asked_and_closes_the_offer() {
    let f = Fixture::new().await;
    let (told, quiet) = (f.offer("a@x.example").await, f.offer("b@x.example").await);
    decline(f.desk(), told, "We have enough gowns", true)
        .await
        .unwrap();
    decline(f.desk(), quiet, "Not needed", false).await.unwrap();
    assert_eq!(
        f.replies(told).await,
        [("decline".into(), ReplyState::Pending)]
    );
    assert!(f.replies(quiet).await.is_empty());
    assert_eq!(f.status(quiet).await, OfferStatus::Declined);
    let err = spam(f.desk(), quiet).await.unwrap_err();
    assert!(
        matches!(err, DecideError::Closed(OfferStatus::Declined)),
        "{err}"
    );
    let err = accept(f.desk(), told, &pickup()).await.unwrap_err();
    assert!(
        matches!(err, DecideError::Closed(OfferStatus::Declined)),
        "{err}"
    );
    assert_eq!(
        f.replies(told).await.len(),
        1,
        "a refused decision sends nothing"
    );
}

#[tokio::test]
async fn spam_and_merge_send_nothing_and_merge_joins_the_thread() {
    let f = Fixture::new().await;
    let (keep, dup, junk) = (
        f.offer("a@x.example").await,
        f.offer("a2@x.example").await,
        f.offer("c@x.example").await,
    );
    spam(f.desk(), junk).await.unwrap();
    assert_eq!(f.status(junk).await, OfferStatus::Spam);
    let err = merge(f.desk(), dup, dup).await.unwrap_err();
    assert!(matches!(err, DecideError::SelfMerge), "{err}");
    let err = merge(f.desk(), dup, junk).await.unwrap_err();
    assert!(err.to_string().contains("is spam"), "{err}");
    assert_eq!(
        f.status(dup).await,
        OfferStatus::New,
        "a refused merge changes nothing"
    );
    merge(f.desk(), dup, keep).await.unwrap();
    assert_eq!(f.status(dup).await, OfferStatus::Merged);
    assert_eq!(f.store.offer(keep.id()).await.unwrap().messages.len(), 2);
    let history = f.history(keep).await;
    assert!(
        history.contains(&format!("ana@city.example merged_from: {dup}")),
        "{history:?}"
    );
    for offer in [keep, dup, junk] {
        assert!(f.replies(offer).await.is_empty());
    }
}

#[tokio::test]
async fn received_records_quantities_and_queues_the_thanks() {
    let f = Fixture::new().await;
    let offer = f.offer("a@x.example").await;
    accept(f.desk(), offer, &pickup()).await.unwrap();
    let items = f.store.items_full(offer.id()).await.unwrap();
    received(f.desk(), offer, &[(items[0].id, 35.0), (9999, 1.0)])
        .await
        .unwrap();
    assert_eq!(f.status(offer).await, OfferStatus::Received);
    let items = f.store.items_full(offer.id()).await.unwrap();
    assert_eq!(items[0].received_quantity, Some(35.0));
    assert!(f
        .history(offer)
        .await
        .contains(&"ana@city.example received: isolation_gown × 35".into()));
    let kinds: Vec<_> = f.replies(offer).await.into_iter().map(|r| r.0).collect();
    assert_eq!(kinds, ["pickup", "thanks"]);
    let junk = f.offer("b@x.example").await;
    spam(f.desk(), junk).await.unwrap();
    let err = received(f.desk(), junk, &[]).await.unwrap_err();
    assert!(
        matches!(err, DecideError::Closed(OfferStatus::Spam)),
        "{err}"
    );
}

#[tokio::test]
async fn a_staff_reply_is_queued_once_without_changing_the_offer() {
    let f = Fixture::new().await;
    let offer = f.offer("a@x.example").await;
    let values = [("missing", "quantity")];
    assert!(reply(f.desk(), offer, ReplyKind::NeedsInfo, &values)
        .await
        .unwrap());
    assert!(!reply(f.desk(), offer, ReplyKind::NeedsInfo, &values)
        .await
        .unwrap());
    assert_eq!(f.status(offer).await, OfferStatus::New);
    assert_eq!(
        f.replies(offer).await,
        [("needs_info".into(), ReplyState::Pending)]
    );
    assert!(f
        .history(offer)
        .await
        .contains(&"ana@city.example replied: needs_info".into()));
    let err = spam(f.desk(), OfferRef::from(404)).await.unwrap_err();
    assert!(matches!(err, DecideError::NotFound("offer")), "{err}");
}

#[tokio::test]
async fn held_replies_wait_until_staff_send_or_discard_them() {
    let f = Fixture::new().await;
    let offer = f.offer("a@x.example").await;
    let ctx = ReplyContext::for_offer(&f.store, offer.id(), ReplyKind::Ack, None)
        .await
        .unwrap();
    let mut first = f.composer.compose(&ctx).unwrap();
    let mut second = first.clone();
    first.dedup_key = Some("held:1".into());
    second.dedup_key = Some("held:2".into());
    second.rfc_message_id = format!("2.{}", second.rfc_message_id);
    let reason = "sender not authenticated by the receiving server";
    for r in [&first, &second] {
        assert!(f
            .store
            .hold_reply(Some(offer.id()), r, reason)
            .await
            .unwrap());
    }
    assert!(
        f.store.claim_due_replies(10).await.unwrap().is_empty(),
        "held is never claimed"
    );
    let held = f.store.held_replies().await.unwrap();
    assert_eq!(held.len(), 2);
    assert_eq!(
        (held[0].held_reason.as_str(), held[0].reference),
        (reason, Some(offer))
    );

    send_held(f.desk(), held[0].id).await.unwrap();
    discard_held(f.desk(), held[1].id).await.unwrap();
    assert_eq!(
        f.replies(offer).await,
        [
            ("ack".into(), ReplyState::Pending),
            ("ack".into(), ReplyState::Discarded)
        ]
    );
    let due = f.store.claim_due_replies(10).await.unwrap();
    assert_eq!(due.iter().map(|r| r.id).collect::<Vec<_>>(), [held[0].id]);
    assert_eq!(f.store.held_count().await.unwrap(), 0);
    let err = discard_held(f.desk(), held[1].id).await.unwrap_err();
    assert!(
        matches!(err, DecideError::NotHeld(ReplyState::Discarded)),
        "{err}"
    );
    let err = send_held(f.desk(), 404).await.unwrap_err();
    assert!(matches!(err, DecideError::NotFound("reply")), "{err}");
    let history = f.history(offer).await;
    let sent = format!("ana@city.example held_reply_sent: reply {}", held[0].id);
    assert!(history.contains(&sent), "{history:?}");
}
