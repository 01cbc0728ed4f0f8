//! The intake spine end to end: mailbox → stored message → offer →
//! acknowledgement in the donor's own mailbox.

use std::time::Duration;

use supplyline::state::{MessageState, ReplyState};

use crate::app::{donation, unique_id, App};
use crate::common::{
    append, fetch_all, smtp_start, smtp_stop, stack_exclusive, stack_shared, unique_address,
    wait_for_count,
};

const ACK_WAIT: Duration = Duration::from_secs(30);

fn text(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw)
        .replace("=\r\n", "")
        .replace("\r\n", "\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn donation_becomes_offer_and_donor_gets_acknowledgement_naming_items() {
    let _up = stack_shared().await;
    let app = App::start().await;
    let donor = unique_address("donor");
    let raw = donation(
        &donor,
        &app.donations,
        &unique_id(),
        "Hello,\n\nWe can donate 2,000 N95 masks and 40 isolation gowns.\nPickup at 3525 W Carson St, Torrance, CA 90503.\n",
    );
    append(&app.donations, "INBOX", &raw).await;

    let acks = wait_for_count(&donor, "INBOX", 1, ACK_WAIT).await;
    let ack = text(&acks[0]);
    assert!(ack.contains("SL-000001"), "the reference is named:\n{ack}");
    assert!(
        ack.contains("2,000 N95 respirators"),
        "the masks are named:\n{ack}"
    );
    assert!(
        ack.contains("40 isolation gowns"),
        "the gowns are named:\n{ack}"
    );
    assert!(ack.contains("Auto-Submitted: auto-replied"), "{ack}");
    assert!(ack.contains("In-Reply-To: <"), "{ack}");

    let offers = app.store.list_offers(None, 10).await.unwrap();
    assert_eq!(offers.len(), 1);
    assert_eq!(offers[0].donor_email, donor);
    let items = app.store.offer_items(offers[0].id).await.unwrap();
    assert_eq!(items.len(), 2, "{items:?}");
    let raw_stored = app.store.message_raw(1).await.unwrap();
    assert_eq!(raw_stored, raw, "the raw message is stored byte for byte");
    let mut app = app;
    app.stop().await;
}

fn automatic(kind: &str, from: &str, to: &str) -> Vec<u8> {
    let (headers, body) = match kind {
        "ooo" => (
            "Subject: Automatic reply: Donation\r\nAuto-Submitted: auto-replied\r\n",
            "I am out of the office until Monday. We have 500 N95 masks in stock.",
        ),
        "list" => (
            "Subject: [ppe-list] Weekly digest\r\nList-Id: PPE list <ppe.lists.example>\r\nPrecedence: list\r\n",
            "This week: 10,000 KN95 masks offered by members.",
        ),
        _ => (
            "Subject: Undelivered Mail Returned to Sender\r\nReturn-Path: <>\r\n",
            "Your message could not be delivered: 550 5.1.1 user unknown",
        ),
    };
    format!(
        "From: {from}\r\nTo: {to}\r\n{headers}Message-ID: <{}@auto.example>\r\n\
         Date: Mon, 23 Mar 2020 09:00:00 -0700\r\nContent-Type: text/plain\r\n\r\n{body}\r\n",
        unique_id()
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn automatic_mail_is_stored_but_never_answered() {
    let _up = stack_shared().await;
    let mut app = App::start().await;
    let ooo = unique_address("ooo");
    let list = unique_address("list");
    let daemon = unique_address("mailer-daemon-host");
    append(
        &app.donations,
        "INBOX",
        &automatic("ooo", &ooo, &app.donations),
    )
    .await;
    append(
        &app.donations,
        "INBOX",
        &automatic("list", &list, &app.donations),
    )
    .await;
    append(
        &app.donations,
        "INBOX",
        &automatic("bounce", &daemon, &app.donations),
    )
    .await;
    // A person writes last: once their acknowledgement arrives, the three
    // automatic messages before it have been processed and sent nothing.
    let person = unique_address("donor");
    let raw = donation(
        &person,
        &app.donations,
        &unique_id(),
        "We have 10 boxes of gloves for you.",
    );
    append(&app.donations, "INBOX", &raw).await;
    wait_for_count(&person, "INBOX", 1, ACK_WAIT).await;
    app.wait_processed(4).await;

    for sender in [&ooo, &list, &daemon] {
        assert!(
            fetch_all(sender, "INBOX").await.is_empty(),
            "{sender} got a reply"
        );
    }
    let stored = app.store.list_messages(None, 10).await.unwrap();
    assert_eq!(stored.len(), 4, "every message is kept: {stored:?}");
    assert!(stored.iter().all(|m| m.state == "processed"), "{stored:?}");
    let replies = app.store.reply_counts().await.unwrap();
    assert_eq!(replies, vec![(ReplyState::Sent, 1)]);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_delivered_twice_is_one_offer_and_one_acknowledgement_even_after_restart() {
    let _up = stack_shared().await;
    let mut app = App::start().await;
    let donor = unique_address("donor");
    let raw = donation(
        &donor,
        &app.donations,
        &unique_id(),
        "We can give 300 face shields.",
    );
    append(&app.donations, "INBOX", &raw).await;
    // The second delivery carries a trace header of its own, as a real redelivery does.
    let mut again =
        b"Received: from relay.example by mx.example; Mon, 23 Mar 2020 09:01:00 -0700\r\n".to_vec();
    again.extend_from_slice(&raw);
    append(&app.donations, "INBOX", &again).await;
    wait_for_count(&donor, "INBOX", 1, ACK_WAIT).await;

    app.restart().await;
    // A barrier: once this later donor is answered, the restarted serve has
    // caught up with the mailbox and the outbox.
    let later = unique_address("donor");
    append(
        &app.donations,
        "INBOX",
        &donation(&later, &app.donations, &unique_id(), "5 boxes of masks."),
    )
    .await;
    wait_for_count(&later, "INBOX", 1, ACK_WAIT).await;
    app.wait_processed(2).await;

    assert_eq!(
        fetch_all(&donor, "INBOX").await.len(),
        1,
        "one acknowledgement only"
    );
    assert_eq!(
        app.store.list_messages(None, 10).await.unwrap().len(),
        2,
        "one row per message"
    );
    assert_eq!(app.store.list_offers(None, 10).await.unwrap().len(), 2);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acknowledgement_waits_out_an_smtp_outage() {
    let _outage = stack_exclusive().await;
    let mut app = App::start().await;
    smtp_stop();
    let donor = unique_address("donor");
    append(
        &app.donations,
        "INBOX",
        &donation(&donor, &app.donations, &unique_id(), "20 pulse oximeters."),
    )
    .await;
    // Wait until the sender has tried and been refused at least once.
    let deadline = tokio::time::Instant::now() + ACK_WAIT;
    loop {
        let offers = app.store.list_offers(None, 1).await.unwrap();
        if let Some(o) = offers.first() {
            let detail = app.store.offer(o.id).await.unwrap();
            if detail
                .replies
                .iter()
                .any(|r| r.attempts >= 1 && r.state == "pending")
            {
                break;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no failed attempt was recorded"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(fetch_all(&donor, "INBOX").await.is_empty());
    smtp_start();
    let acks = wait_for_count(&donor, "INBOX", 1, ACK_WAIT).await;
    assert_eq!(acks.len(), 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_that_cannot_be_parsed_is_failed_and_kept_whole() {
    let _up = stack_shared().await;
    let mut app = App::start().await;
    // No header block at all: nothing to parse, nobody to answer.
    let raw: Vec<u8> = b"\x00\x01\x02 not a message \xff\xfe\r\n".to_vec();
    append(&app.donations, "INBOX", &raw).await;
    app.wait_processed(1).await;
    let failed = app
        .store
        .list_messages(Some(MessageState::Failed), 10)
        .await
        .unwrap();
    assert_eq!(
        failed.len(),
        1,
        "{:?}",
        app.store.list_messages(None, 10).await.unwrap()
    );
    assert!(failed[0].error.as_deref().is_some_and(|e| !e.is_empty()));
    // Kept whole: byte for byte what the mailbox holds (Dovecot itself
    // replaces NUL bytes on APPEND).
    let in_mailbox = fetch_all(&app.donations, "INBOX").await;
    assert_eq!(
        app.store.message_raw(failed[0].id).await.unwrap(),
        in_mailbox[0]
    );
    assert!(app.store.retry_message(failed[0].id, "test").await.unwrap());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_over_the_size_limit_is_recorded_with_its_headers_and_marked() {
    let _up = stack_shared().await;
    let mut app = App::prepare("").await;
    let config = std::fs::read_to_string(app.config_path()).unwrap();
    let config = config.replace(
        "timeout_secs = 20",
        "timeout_secs = 20\nmax_message_bytes = 65536",
    );
    std::fs::write(app.config_path(), config).unwrap();
    app.restart().await;
    let big_donor = unique_address("donor");
    let body = format!("We have 10 boxes of masks.\n{}", "x".repeat(200 * 1024));
    append(
        &app.donations,
        "INBOX",
        &donation(&big_donor, &app.donations, &unique_id(), &body),
    )
    .await;
    let donor = unique_address("donor");
    append(
        &app.donations,
        "INBOX",
        &donation(&donor, &app.donations, &unique_id(), "3 boxes of gloves."),
    )
    .await;
    wait_for_count(&donor, "INBOX", 1, ACK_WAIT).await;

    let oversize = app
        .store
        .list_messages(Some(MessageState::Oversize), 10)
        .await
        .unwrap();
    assert_eq!(
        oversize.len(),
        1,
        "{:?}",
        app.store.list_messages(None, 10).await.unwrap()
    );
    assert!(oversize[0].size > 200 * 1024, "the real size is recorded");
    assert!(oversize[0]
        .error
        .as_deref()
        .unwrap()
        .contains("over the size limit"));
    let kept = text(&app.store.message_raw(oversize[0].id).await.unwrap());
    assert!(
        kept.contains(&format!("From: Test Donor <{big_donor}>")),
        "headers kept:\n{kept}"
    );
    assert!(!kept.contains("xxxxxxxx"), "the body is not downloaded");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offer_without_a_quantity_gets_a_reply_asking_exactly_for_it() {
    let _up = stack_shared().await;
    let mut app = App::start().await;
    let body = "Hi, our office can donate some N95 masks and 3 boxes of nitrile gloves.\n\
                Pickup at 1200 W 7th St, Los Angeles, CA 90017.";
    let donor = app.donate(body).await;
    let reply = text(&wait_for_count(&donor, "INBOX", 1, ACK_WAIT).await[0]);
    assert!(
        reply.contains("A question about your donation offer SL-000001"),
        "{reply}"
    );
    assert!(reply.contains("How many?"), "{reply}");
    assert!(
        reply.contains("N95 respirators (quantity not stated)"),
        "{reply}"
    );
    assert!(
        !reply.contains("Where are the supplies?"),
        "the address was given:\n{reply}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_processed_folder_stored_messages_are_moved_there_never_deleted() {
    let _up = stack_shared().await;
    let mut app = App::prepare("").await;
    crate::common::create_mailbox(&app.donations, "Processed").await;
    let config = std::fs::read_to_string(app.config_path()).unwrap();
    let config = config.replace(
        "timeout_secs = 20",
        "timeout_secs = 20\nprocessed_folder = \"Processed\"",
    );
    std::fs::write(app.config_path(), config).unwrap();
    app.restart().await;
    let donor = unique_address("donor");
    let raw = donation(
        &donor,
        &app.donations,
        &unique_id(),
        "We have 25 face shields.",
    );
    append(&app.donations, "INBOX", &raw).await;
    wait_for_count(&donor, "INBOX", 1, ACK_WAIT).await;
    let moved = wait_for_count(&app.donations, "Processed", 1, ACK_WAIT).await;
    assert_eq!(moved[0], raw, "the message is moved whole");
    assert!(
        fetch_all(&app.donations, "INBOX").await.is_empty(),
        "and no longer in INBOX"
    );
    app.stop().await;
}
