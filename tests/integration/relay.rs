//! The acknowledgement must not relay mail to third parties (#14.1), end to
//! end: which mailbox an automatic reply reaches (and which it does not),
//! what it may carry from the donor's message, which senders get one, and
//! the limits, read back over IMAP and from the desk's store.

use std::time::Duration;

use mail_parser::MessageParser;
use supplyline::store::OfferDetail;

use crate::app::{unique_id, App};
use crate::common::{append, fetch_all, stack_shared, unique_address, wait_for_count};

const WAIT: Duration = Duration::from_secs(30);

/// The desk's own receiving server, as the tests configure it.
const TRUSTED_ID: &str = "mx.desk.test";

/// An offer that names items (so it is acknowledged), sent to `to` with the
/// header lines `headers` (each ending in CRLF; at least From) and `subject`.
fn offer(headers: &str, to: &str, subject: &str) -> Vec<u8> {
    format!(
        "{headers}To: {to}\r\nSubject: {subject}\r\nMessage-ID: <{id}@donor.example>\r\n\
         Date: Mon, 23 Mar 2020 09:00:00 -0700\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n\
         We can give 40 isolation gowns. Pickup at 200 N Spring St, Los Angeles, CA 90012.\r\n",
        id = unique_id()
    )
    .into_bytes()
}

/// A fresh address at `domain`: a mailbox no other test uses.
fn address_at(prefix: &str, domain: &str) -> String {
    format!("{prefix}-{:016x}@{domain}", rand::random::<u64>())
}

/// Puts an offer from `from` (and `more` header lines) in the donations mailbox.
async fn deliver(app: &App, from: &str, more: &str) {
    let headers = format!("From: Test Donor <{from}>\r\n{more}");
    append(
        &app.donations,
        "INBOX",
        &offer(&headers, &app.donations, "Gowns"),
    )
    .await;
}

/// Delivers two offers: one whose only `Authentication-Results` claims a
/// DMARC pass from another server (forged), one whose trusted server
/// passed DMARC for its From domain (genuine). Returns their senders.
async fn deliver_forged_and_genuine(app: &App) -> (String, String) {
    let forged = unique_address("forged");
    let claim = "Authentication-Results: other.example; dmarc=pass header.from=example.test\r\n";
    deliver(app, &forged, claim).await;
    let genuine = unique_address("genuine");
    let pass =
        format!("Authentication-Results: {TRUSTED_ID}; dmarc=pass header.from=example.test\r\n");
    deliver(app, &genuine, &pass).await;
    (forged, genuine)
}

/// The address a delivered reply is written to.
fn addressee(raw: &[u8]) -> String {
    let msg = MessageParser::default()
        .parse(raw)
        .expect("a parseable reply");
    let to = msg.to().and_then(|a| a.first()).and_then(|a| a.address());
    to.unwrap_or_default().to_string()
}

/// The offer `donor` made, as the desk shows it.
async fn offer_from(app: &App, donor: &str) -> OfferDetail {
    let offers = app.store.list_offers(None, 1000).await.unwrap();
    let summary = offers
        .iter()
        .find(|o| o.donor_email == donor)
        .unwrap_or_else(|| panic!("no offer from {donor}: {offers:?}"));
    app.store.offer(summary.id).await.unwrap()
}

/// The offer's history as the desk lists it: "action: detail".
fn history(detail: &OfferDetail) -> Vec<String> {
    detail
        .history
        .iter()
        .map(|e| format!("{}: {}", e.action, e.detail))
        .collect()
}

/// Asserts `donor`'s acknowledgement waits in the desk, held, for a reason
/// that contains `why`, and that nothing reached the donor's mailbox.
async fn assert_held(app: &App, donor: &str, why: &str) {
    let replies = app.replies_to(donor).await;
    assert_eq!(replies.len(), 1, "{donor}: {replies:?}");
    assert_eq!(replies[0].state, "held", "{donor}: {replies:?}");
    let history = history(&offer_from(app, donor).await);
    assert!(
        history
            .iter()
            .any(|h| h.starts_with("reply_held") && h.contains(why)),
        "{donor}: held for a reason naming {why:?}: {history:?}"
    );
    assert_eq!(fetch_all(donor, "INBOX").await.len(), 0, "{donor}");
}

/// Asserts `donor` has received exactly one acknowledgement, written to them.
async fn assert_acknowledged(donor: &str) {
    let received = wait_for_count(donor, "INBOX", 1, WAIT).await;
    assert_eq!(received.len(), 1, "{donor}");
    assert_eq!(addressee(&received[0]), donor);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acknowledgement_goes_to_from_never_to_a_reply_to_in_another_domain() {
    let _up = stack_shared().await;
    let app = App::prepare("").await;
    let donor = unique_address("donor");
    let victim = address_at("victim", "third.example");
    deliver(&app, &donor, &format!("Reply-To: {victim}\r\n")).await;

    // Every stage has done all it will: what was not sent never will be.
    let drained = app.drain().await;
    assert_eq!(drained.replies_sent(), 1, "{drained:?}");
    assert_eq!(app.replies_to(&victim).await.len(), 0);
    assert_acknowledged(&donor).await;
    assert_eq!(
        fetch_all(&victim, "INBOX").await.len(),
        0,
        "nothing reaches the Reply-To in another domain"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acknowledgement_carries_no_link_from_the_subject_or_display_name() {
    let _up = stack_shared().await;
    let app = App::prepare("").await;
    let donor = unique_address("donor");
    let headers = format!("From: \"Visit http://spam.example now\" <{donor}>\r\n");
    let subject = "Buy cheap pills at http://spam.example";
    append(
        &app.donations,
        "INBOX",
        &offer(&headers, &app.donations, subject),
    )
    .await;

    assert_eq!(app.drain().await.replies_sent(), 1);
    let raw = wait_for_count(&donor, "INBOX", 1, WAIT).await.remove(0);
    let msg = MessageParser::default().parse(&raw[..]).unwrap();
    let text = msg.body_text(0).map(|t| t.to_string()).unwrap_or_default();
    let html = msg.body_html(0).map(|t| t.to_string()).unwrap_or_default();
    assert!(html.contains("<html"), "an HTML alternative: {html}");
    let parts = [
        ("subject", msg.subject().unwrap_or_default()),
        ("text", &text),
        ("html", &html),
    ];
    for (part, content) in parts {
        for link in ["spam.example", "http://spam"] {
            assert!(!content.contains(link), "{part} quotes {link:?}: {content}");
        }
    }
    assert!(text.contains("Hello,"), "the neutral greeting: {text}");
    assert!(html.contains("Hello,"), "the neutral greeting: {html}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_trusted_server_only_senders_it_authenticated_are_acknowledged() {
    let _up = stack_shared().await;
    let app = App::prepare_donations(&format!("trusted_authserv_id = \"{TRUSTED_ID}\"")).await;
    let (forged, genuine) = deliver_forged_and_genuine(&app).await;
    let unaligned = unique_address("unaligned");
    let spf = format!(
        "Authentication-Results: {TRUSTED_ID}; spf=pass smtp.mailfrom=bulk@other.example\r\n"
    );
    deliver(&app, &unaligned, &spf).await;

    let drained = app.drain().await;
    assert_eq!(drained.replies_sent(), 1, "{drained:?}");
    assert_acknowledged(&genuine).await;
    assert_held(&app, &forged, "receiving server").await;
    assert_held(&app, &unaligned, &unaligned).await;
    assert_eq!(
        app.store.list_offers(None, 10).await.unwrap().len(),
        3,
        "every offer is queued"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_unauthenticated_skip_an_unauthenticated_sender_gets_no_reply_and_the_offer_says_why()
{
    let _up = stack_shared().await;
    let keys = format!("trusted_authserv_id = \"{TRUSTED_ID}\"\nunauthenticated = \"skip\"");
    let app = App::prepare_donations(&keys).await;
    let (forged, genuine) = deliver_forged_and_genuine(&app).await;

    let drained = app.drain().await;
    assert_eq!(drained.replies_sent(), 1, "{drained:?}");
    assert_acknowledged(&genuine).await;
    let detail = offer_from(&app, &forged).await;
    assert!(
        detail.replies.is_empty(),
        "no outbox row: {:?}",
        detail.replies
    );
    let history = history(&detail);
    assert!(
        history.iter().any(|h| h.starts_with("no_reply: ")),
        "the offer says why it got no reply: {history:?}"
    );
    assert_eq!(fetch_all(&forged, "INBOX").await.len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tagged_and_recased_forms_of_one_address_get_one_acknowledgement() {
    let _up = stack_shared().await;
    let app = App::prepare("").await;
    let local = format!("victim-{:016x}", rand::random::<u64>());
    let first = format!("{local}+1@x.example");
    let senders = [
        first.clone(),
        format!("{local}+2@x.example"),
        format!("V{}@X.example", &local[1..]),
    ];
    for sender in &senders {
        deliver(&app, sender, "").await;
    }

    let drained = app.drain().await;
    assert_eq!(
        drained.replies_sent(),
        1,
        "one reply in the window: {drained:?}"
    );
    assert_eq!(app.replies_to(&first).await.len(), 1);
    // Dovecot files `+tag` mail in the untagged mailbox, and names are lowercased.
    let mailbox = format!("{local}@x.example");
    let received = wait_for_count(&mailbox, "INBOX", 1, WAIT).await;
    assert_eq!(received.len(), 1, "exactly one acknowledgement delivered");
    assert_eq!(addressee(&received[0]), first, "to the first sender");
}

/// Offers from each of `donors` in turn, under the `[donations]` `limit`:
/// the first `allowed` are acknowledged, every later one is held for a
/// reason containing `why`.
async fn assert_limit(limit: &str, donors: &[String], allowed: usize, why: &str) {
    let app = App::prepare_donations(limit).await;
    for donor in donors {
        deliver(&app, donor, "").await;
    }

    let drained = app.drain().await;
    assert_eq!(drained.replies_sent(), allowed, "{drained:?}");
    for donor in &donors[..allowed] {
        assert_acknowledged(donor).await;
    }
    for donor in &donors[allowed..] {
        assert_held(&app, donor, why).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_over_the_per_domain_limit_are_held_naming_the_domain() {
    let _up = stack_shared().await;
    let donors: Vec<String> = (0..5)
        .map(|_| address_at("donor", "relief.example"))
        .collect();
    assert_limit(
        "replies_per_domain_per_hour = 3",
        &donors,
        3,
        "relief.example",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_over_the_hourly_limit_are_held() {
    let _up = stack_shared().await;
    let donors: Vec<String> = (1..=5)
        .map(|n| address_at("donor", &format!("d{n}.example")))
        .collect();
    assert_limit("replies_per_hour = 4", &donors, 4, "in the last hour").await;
}
