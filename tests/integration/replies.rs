//! Reply kinds read back from the donor's own mailbox: language, parts and
//! headers as a donor's mail client sees them.

use std::collections::BTreeMap;
use std::time::Duration;

use mail_parser::{HeaderValue, MessageParser};
use supplyline::outbox::kinds::ReplyKind;
use supplyline::outbox::{Composer, ReplyContext};
use supplyline::store::OfferSummary;

use crate::app::{unique_id, App};
use crate::common::{append, stack_shared, unique_address, wait_for_count};

const WAIT: Duration = Duration::from_secs(30);

fn donation_in(from: &str, to: &str, id: &str, subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{id}@donor.example>\r\n\
         Date: Mon, 23 Mar 2020 09:00:00 -0700\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

fn header_text(msg: &mail_parser::Message, name: &str) -> String {
    match msg.header(name) {
        Some(HeaderValue::Text(t)) => t.to_string(),
        Some(HeaderValue::TextList(l)) => l.join(" "),
        other => format!("{other:?}"),
    }
}

/// Checks what every automatic reply must carry, returns (subject, text, html).
fn read_reply(raw: &[u8], donations: &str, donor_id: &str) -> (String, String, String) {
    let msg = MessageParser::default()
        .parse(raw)
        .expect("a parseable reply");
    assert_eq!(header_text(&msg, "Auto-Submitted"), "auto-replied");
    assert!(
        format!("{:?}", msg.in_reply_to()).contains(donor_id),
        "In-Reply-To: {:?}",
        msg.in_reply_to()
    );
    assert!(
        format!("{:?}", msg.references()).contains(donor_id),
        "References: {:?}",
        msg.references()
    );
    let reply_to = msg
        .reply_to()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .unwrap_or_default();
    assert_eq!(reply_to, donations, "Reply-To is the donations address");
    let text = msg.body_text(0).map(|t| t.to_string()).unwrap_or_default();
    let html = msg.body_html(0).map(|t| t.to_string()).unwrap_or_default();
    (msg.subject().unwrap_or_default().to_string(), text, html)
}

/// What a staff decision's reply is about: `kind` for `offer`, in English,
/// answering the donor's message `id`.
fn context(kind: ReplyKind, offer: &OfferSummary, donor: &str, id: &str) -> ReplyContext {
    ReplyContext {
        kind,
        offer_id: offer.id,
        reference: offer.reference.to_string(),
        donor_email: donor.to_string(),
        donor_name: None,
        language: Some("en".into()),
        items: vec![],
        in_reply_to: Some(format!("{id}@donor.example")),
        references: vec![],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledgements_come_in_the_donors_language_as_text_and_html() {
    let _up = stack_shared().await;
    let mut app = App::start().await;
    let cases = [
        (
            "Donación de guantes",
            "Hola, tenemos 6 cajas de guantes de nitrilo para donar. Pueden recogerlas en 1450 E Cesar Chavez Ave, Los Angeles, CA 90033.",
            "su oferta",
            "guantes",
        ),
        (
            "捐赠口罩",
            "您好！我们愿意捐赠KN95口罩2000个，地址：洛杉矶市第五大街100号，邮编90013。",
            "您的捐赠",
            "KN95",
        ),
    ];
    for (subject, body, expected_subject, expected_word) in cases {
        let donor = unique_address("donor");
        let id = unique_id();
        append(
            &app.donations,
            "INBOX",
            &donation_in(&donor, &app.donations, &id, subject, body),
        )
        .await;
        let raw = wait_for_count(&donor, "INBOX", 1, WAIT).await.remove(0);
        let (subject, text, html) = read_reply(&raw, &app.donations, &id);
        assert!(subject.contains(expected_subject), "{subject}");
        assert!(text.contains(expected_word), "{text}");
        assert!(
            html.contains(expected_word) && html.contains("<html"),
            "an HTML alternative: {html}"
        );
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decline_reaches_the_donor_with_the_reason_in_the_same_thread() {
    let _up = stack_shared().await;
    let mut app = App::start().await;
    let donor = unique_address("donor");
    let id = unique_id();
    let body = "We can give 40 isolation gowns. Pickup at 200 N Spring St, Los Angeles, CA 90012.";
    append(
        &app.donations,
        "INBOX",
        &donation_in(&donor, &app.donations, &id, "Gowns", body),
    )
    .await;
    wait_for_count(&donor, "INBOX", 1, WAIT).await;

    let offer = app.store.list_offers(None, 1).await.unwrap().remove(0);
    let composer = Composer::new(None, &app.donations, "Test Donations Desk", None).unwrap();
    let ctx = context(ReplyKind::Decline, &offer, &donor, &id);
    let reason = "We have enough gowns for now";
    let extra = BTreeMap::from([("decline_reason".to_string(), reason.to_string())]);
    let mut reply = composer.compose_kind(&ctx, &extra).unwrap();
    reply.automatic = false;
    app.store
        .decline(offer.id, "staff@city.example", reason, Some(&reply))
        .await
        .unwrap();

    let replies = wait_for_count(&donor, "INBOX", 2, WAIT).await;
    let (subject, text, _) = read_reply(&replies[1], &app.donations, &id);
    assert!(subject.contains(&offer.reference.to_string()), "{subject}");
    assert!(text.contains(reason), "{text}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thank_you_on_receipt_reaches_the_donor() {
    let _up = stack_shared().await;
    let mut app = App::start().await;
    let donor = unique_address("donor");
    let id = unique_id();
    let body = "We can give 12 pulse oximeters. Pickup at 200 N Spring St, Los Angeles, CA 90012.";
    append(
        &app.donations,
        "INBOX",
        &donation_in(&donor, &app.donations, &id, "Oximeters", body),
    )
    .await;
    wait_for_count(&donor, "INBOX", 1, WAIT).await;
    let offer = app.store.list_offers(None, 1).await.unwrap().remove(0);
    let composer = Composer::new(None, &app.donations, "Test Donations Desk", None).unwrap();
    let ctx = context(ReplyKind::Thanks, &offer, &donor, &id);
    let reply = composer.compose_kind(&ctx, &BTreeMap::new()).unwrap();
    app.store
        .mark_received(offer.id, "staff@city.example", &[], Some(&reply))
        .await
        .unwrap();
    let replies = wait_for_count(&donor, "INBOX", 2, WAIT).await;
    let (subject, _, html) = read_reply(&replies[1], &app.donations, &id);
    assert!(subject.contains(&offer.reference.to_string()), "{subject}");
    assert!(!html.is_empty(), "an HTML alternative");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_sender_writing_three_times_gets_one_automatic_reply() {
    let _up = stack_shared().await;
    let app = App::prepare("").await;
    let donor = unique_address("donor");
    for n in 1..=3 {
        let body = format!("Offer number {n}: we have {n}0 face shields. Pickup at 200 N Spring St, Los Angeles, CA 90012.");
        append(
            &app.donations,
            "INBOX",
            &donation_in(&donor, &app.donations, &unique_id(), "Shields", &body),
        )
        .await;
    }
    let other = unique_address("donor");
    let body = "We have 5 thermometers. Pickup at 200 N Spring St, Los Angeles, CA 90012.";
    append(
        &app.donations,
        "INBOX",
        &donation_in(&other, &app.donations, &unique_id(), "Thermometers", body),
    )
    .await;

    // Every stage has done all it will: what was not sent never will be.
    let drained = app.drain().await;
    assert_eq!(drained.stored, 4, "{drained:?}");
    let to_donor = app.replies_to(&donor).await;
    assert_eq!(
        to_donor.len(),
        1,
        "one reply per sender per window: {to_donor:?}"
    );
    assert_eq!(
        drained.replies_sent(),
        2,
        "the donor's and the other donor's reply, nothing else: {drained:?}"
    );
    wait_for_count(&other, "INBOX", 1, WAIT).await;
    wait_for_count(&donor, "INBOX", 1, WAIT).await;
    assert_eq!(
        crate::common::fetch_all(&donor, "INBOX").await.len(),
        1,
        "one reply per sender per window"
    );
    assert_eq!(
        app.store.list_offers(None, 10).await.unwrap().len(),
        4,
        "yet every offer is queued"
    );
}
