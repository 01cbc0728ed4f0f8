//! Conversations: a donor's reply joins the offer it answers, a bounce of
//! our reply marks the donor's address undeliverable, and neither is
//! acknowledged as a new offer.

use std::time::Duration;

use crate::app::{donation, unique_id, App};
use crate::common::{append, fetch_all, stack_shared, unique_address, wait_for_count};

const WAIT: Duration = Duration::from_secs(30);

/// The Message-ID of a raw message, without brackets.
fn message_id(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let line = text
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("message-id:"))
        .expect("a Message-ID header");
    line[11..]
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_donor_reply_joins_the_offer_and_proposes_its_correction() {
    let _up = stack_shared().await;
    let app = App::prepare("").await;
    let donor = unique_address("donor");
    let first = donation(
        &donor,
        &app.donations,
        &unique_id(),
        "We can give 2,000 N95 masks.",
    );
    append(&app.donations, "INBOX", &first).await;
    assert_eq!(
        app.drain().await.replies_sent(),
        1,
        "the offer is acknowledged"
    );
    let ack = wait_for_count(&donor, "INBOX", 1, WAIT).await.remove(0);
    let ack_id = message_id(&ack);

    let reply = format!(
        "From: Test Donor <{donor}>\r\nTo: {to}\r\nSubject: Re: your acknowledgement\r\n\
         Message-ID: <{id}@donor.example>\r\nIn-Reply-To: <{ack_id}>\r\nReferences: <{ack_id}>\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nSorry, correction: we have 1,500 N95 masks, not 2,000.\r\n",
        to = app.donations,
        id = unique_id()
    );
    append(&app.donations, "INBOX", reply.as_bytes()).await;
    // Every stage has done all it will: what was not sent never will be.
    let drained = app.drain().await;
    assert_eq!(drained.stored, 1, "{drained:?}");

    let offers = app.store.list_offers(None, 10).await.unwrap();
    assert_eq!(offers.len(), 1, "the reply is not a new offer");
    let detail = app.store.offer(offers[0].id).await.unwrap();
    assert_eq!(
        detail.messages.len(),
        2,
        "the reply is on the offer's thread"
    );
    let history: Vec<String> = detail
        .history
        .iter()
        .map(|e| format!("{}: {}", e.action, e.detail))
        .collect();
    assert!(
        history.iter().any(|h| h.starts_with("donor_reply")),
        "{history:?}"
    );
    assert!(
        history
            .iter()
            .any(|h| h.starts_with("items_proposed") && h.contains("1,500 N95 respirators")),
        "{history:?}"
    );
    assert_eq!(drained.replies_sent(), 0, "the reply is not acknowledged");
    assert_eq!(detail.replies.len(), 1, "{:?}", detail.replies);
    assert_eq!(
        fetch_all(&donor, "INBOX").await.len(),
        1,
        "the reply is not acknowledged"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bounce_of_our_reply_marks_the_donor_address_undeliverable() {
    let _up = stack_shared().await;
    let mut app = App::start().await;
    let donor = unique_address("donor");
    append(
        &app.donations,
        "INBOX",
        &donation(&donor, &app.donations, &unique_id(), "10 boxes of gloves."),
    )
    .await;
    let ack = wait_for_count(&donor, "INBOX", 1, WAIT).await.remove(0);
    let ack_id = message_id(&ack);

    let dsn = format!(
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.test>\r\nTo: {to}\r\n\
         Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <{id}@mx.example.test>\r\n\
         Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"dsn\"\r\n\r\n\
         --dsn\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n\
         --dsn\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.test\r\n\r\n\
         Final-Recipient: rfc822; {donor}\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n\
         --dsn\r\nContent-Type: message/rfc822-headers\r\n\r\nFrom: Donations <{to}>\r\nTo: {donor}\r\n\
         Message-ID: <{ack_id}>\r\nSubject: We received your donation offer\r\n\r\n--dsn--\r\n",
        to = app.donations,
        id = unique_id()
    );
    append(&app.donations, "INBOX", dsn.as_bytes()).await;
    app.wait_processed(2).await;

    let offers = app.store.list_offers(None, 10).await.unwrap();
    assert_eq!(offers.len(), 1, "a bounce is not an offer");
    let detail = app.store.offer(offers[0].id).await.unwrap();
    assert!(detail.donor_undeliverable, "{detail:?}");
    assert_eq!(detail.replies[0].state, "bounced");
    assert!(detail.history.iter().any(|e| e.action == "reply_bounced"));
    app.stop().await;
}
