//! The site under test: a real server on a loopback port over a fresh
//! SQLite file, staff accounts, seeded offers, and the real `Sender` to
//! deliver what the site queued.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use supplyline::config::WebConfig;
use supplyline::outbox::{Composer, RetryPolicy, SendOutcome, Sender, Transport};
use supplyline::state::Role;
use supplyline::store::{MessageFacts, NewOffer, OfferItemRow, Store, StoreOutcome};
use supplyline::web::{self, AppState};
use tokio_util::sync::CancellationToken;

use crate::common;

pub const PASSWORD: &str = "correct horse battery";

/// A running site with its database and outbox folder.
pub struct TestApp {
    dir: tempfile::TempDir,
    pub store: Store,
    pub state: AppState,
    /// Where the server listens, for requests over a real connection.
    pub addr: SocketAddr,
    shutdown: CancellationToken,
}

impl TestApp {
    /// A site whose decisions send at once (`web.undo_secs = 0`): the
    /// stories that are not about undo need not wait out its window.
    pub async fn start() -> TestApp {
        Self::start_with(WebConfig {
            undo_secs: 0,
            ..WebConfig::default()
        })
        .await
    }

    /// A site with this `[web]` config (its listen address is not used).
    pub async fn start_with(cfg: WebConfig) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("supplyline.db").display());
        let store = Store::open(&url).await.unwrap();
        let composer =
            Composer::new(None, "donations@city.example", "City Donations Desk", None).unwrap();
        let needs = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/needs.toml");
        let state = AppState::new(store.clone(), Arc::new(composer), &cfg).unwrap();
        store
            .load_pack_sizes(&state.catalog.pack_sizes())
            .await
            .unwrap();
        web::operations::load_file(&store, &needs, &state.catalog)
            .await
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let limits = web::ServeLimits::from(&cfg);
        tokio::spawn(web::serve_on(
            listener,
            state.clone(),
            limits,
            shutdown.clone(),
        ));
        for (email, role) in [
            ("triager@city.example", Role::Triager),
            ("viewer@city.example", Role::Viewer),
        ] {
            let hash = web::auth::hash_password(PASSWORD).unwrap();
            store.upsert_user(email, &hash, role).await.unwrap();
        }
        TestApp {
            dir,
            store,
            state,
            addr,
            shutdown,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The database's URL, for a test that writes what no page can.
    pub fn db_url(&self) -> String {
        format!(
            "sqlite://{}",
            self.dir.path().join("supplyline.db").display()
        )
    }

    fn outbox_dir(&self) -> PathBuf {
        self.dir.path().join("outbox")
    }

    /// Stores `raw` and makes it an offer with `items`, as processing would.
    pub async fn seed(&self, raw: &[u8], offer: NewOffer) -> i64 {
        let StoreOutcome::Stored(message) = self.store.store_local("INBOX", raw).await.unwrap()
        else {
            panic!("duplicate seed message");
        };
        let facts = MessageFacts {
            category: offer.category.clone(),
            from_address: Some(offer.donor_email.clone()),
            subject: offer.subject.clone(),
            // The body, as the clean text processing would index.
            text: String::from_utf8_lossy(raw)
                .split_once("\n\n")
                .map(|(_, body)| body.to_string())
                .unwrap_or_default(),
        };
        self.store
            .complete_with_offer(message, &facts, &offer, |_| None)
            .await
            .unwrap()
    }

    /// Steps the real sender, from the desk's address over `transport`,
    /// until it reports that nothing is due.
    async fn send_due(&self, transport: Transport) {
        let sender = Sender::new(
            self.store.clone(),
            transport,
            "donations@city.example".parse().unwrap(),
            RetryPolicy {
                max_attempts: 3,
                base: Duration::from_secs(1),
                max: Duration::from_secs(5),
            },
        );
        while sender.send_next().await.unwrap() != SendOutcome::Idle {}
    }

    /// Sends every due reply over SMTP through the test mail stack, then
    /// returns what arrived in `donor`'s mailbox.
    pub async fn send_all_to_mailbox(&self, donor: &str, expected: usize) -> Vec<String> {
        let stack = common::mail_stack();
        let toml = format!(
            "[smtp]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"none\"\nallow_insecure = true\n",
            stack.smtp_port
        );
        let config = supplyline::config::Config::from_str_with_env(
            &toml,
            Path::new("web-test.toml"),
            std::iter::empty(),
        )
        .unwrap();
        self.send_due(Transport::smtp(config.smtp.as_ref().unwrap()).unwrap())
            .await;
        common::wait_for_count(donor, "INBOX", expected, Duration::from_secs(30))
            .await
            .iter()
            .map(|raw| {
                String::from_utf8_lossy(raw)
                    .replace("=\r\n", "")
                    .to_string()
            })
            .collect()
    }

    /// Sends every due reply into the outbox folder; returns the files' text.
    pub async fn send_all(&self) -> Vec<String> {
        self.send_due(Transport::Directory(self.outbox_dir())).await;
        let mut out = Vec::new();
        if let Ok(entries) = std::fs::read_dir(self.outbox_dir()) {
            for e in entries {
                out.push(std::fs::read_to_string(e.unwrap().path()).unwrap());
            }
        }
        out
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

pub fn item(name: &str, qty: f64, unit: &str, spans: &[(usize, usize, &str)]) -> OfferItemRow {
    let spans: Vec<serde_json::Value> = spans
        .iter()
        .map(|(s, e, f)| serde_json::json!({"field": f, "start": s, "end": e, "rule": "test"}))
        .collect();
    OfferItemRow {
        item: name.into(),
        quantity: Some(qty),
        unit: Some(unit.into()),
        model: None,
        condition: None,
        expires: None,
        spans_json: serde_json::to_string(&spans).unwrap(),
        source: "extracted".into(),
    }
}

pub fn offer(
    email: &str,
    name: &str,
    subject: &str,
    postal: &str,
    items: Vec<OfferItemRow>,
) -> NewOffer {
    NewOffer {
        donor_email: email.into(),
        donor_name: Some(name.into()),
        subject: subject.into(),
        category: "offer".into(),
        language: Some("en".into()),
        contact_json: None,
        pickup_json: Some(serde_json::json!({ "postal_code": postal }).to_string()),
        price_quoted: false,
        vetting_json: None,
        items,
    }
}

const DENTIST_BODY: &str = "Hello,\n\nOur dental practice is closing for now. We can donate 2000 N95 masks\nand 40 isolation gowns, all unopened. Pickup in Torrance, CA 90501.\n\nBest,\nDr. Ana Ruiz\n";

/// The dentist's offer (high priority) and a small gloves offer.
pub async fn seed_two(app: &TestApp) -> (i64, i64) {
    let body = DENTIST_BODY;
    let at = |s: &str| {
        let i = body.find(s).unwrap();
        (i, i + s.len())
    };
    let (q1, m1, q2, g2) = (at("2000"), at("N95 masks"), at("40"), at("isolation gowns"));
    let raw = format!(
        "From: Ana Ruiz <ana@dentist.example>\r\nTo: donations@city.example\r\nSubject: Donation: N95 masks and gowns\r\nMessage-ID: <dentist-1@dentist.example>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{}",
        body.replace('\n', "\r\n")
    );
    // Offsets count CRLF as two bytes in the stored text; keep LF offsets valid
    // by giving the spans for the LF text only when the view uses it.
    let _ = raw.len();
    let raw_lf = raw.replace("\r\n", "\n");
    let mut made = offer(
        "ana@dentist.example",
        "Ana Ruiz",
        "Donation: N95 masks and gowns",
        "90501",
        vec![
            item(
                "n95_respirator",
                2000.0,
                "each",
                &[(q1.0, q1.1, "quantity"), (m1.0, m1.1, "item")],
            ),
            item(
                "isolation_gown",
                40.0,
                "each",
                &[(q2.0, q2.1, "quantity"), (g2.0, g2.1, "item")],
            ),
        ],
    );
    made.contact_json = Some(r#"{"organization":"Ruiz Dental","phone":"+1 310 555 0100"}"#.into());
    made.pickup_json = Some(
        r#"{"address":"22 Ocean Ave, Torrance CA","postal_code":"90501","can_deliver":false}"#
            .into(),
    );
    let dentist = app.seed(raw_lf.as_bytes(), made).await;
    let gloves = app
        .seed(
            b"From: Bo <bo@salon.example>\nSubject: gloves\nMessage-ID: <g@salon.example>\n\nWe have 3 boxes of gloves.\n",
            offer("bo@salon.example", "Bo", "gloves", "90210", vec![item("exam_gloves", 3.0, "box", &[])]),
        )
        .await;
    (dentist, gloves)
}
