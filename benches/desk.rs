//! The triage desk at volume (#16): a SQLite database with 100,000 offers
//! from 100,000 messages (six languages, one to four items, phone numbers,
//! notes on one offer in ten, most offers decided), written through the
//! store's own processing transaction and a few bulk updates; then the web
//! UI in this process, a logged-in session over real HTTP, and p50 / p95 of
//! the queue, a filtered queue, searches, offer pages and the dashboard,
//! and the time and memory of a whole CSV export.
//!
//! `cargo bench --bench desk` runs the full size (targets: p50 ≤ 50 ms,
//! p95 ≤ 150 ms each); without `--bench` (as `cargo test --all-targets`
//! runs it) a few hundred offers check that the benchmark still works.
//! `DESK_DB=FILE` keeps the database in FILE and reuses it when it is
//! already filled. `BENCH_ONLY=TEXT` measures only the pages whose name
//! contains TEXT (and the exports only when it names them). Figures go to
//! BENCHMARKS.md.
//!
//! `BENCH_DATABASE=postgres` fills and serves the same offers from a
//! throw-away PostgreSQL (`scripts/pg-stack` on loopback with 1 GB of
//! shared buffers, stopped when the bench exits) instead;
//! `DESK_DB=postgres://…` reuses a filled one.

#[path = "../tests/common/scripts.rs"]
mod scripts;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use supplyline::config::WebConfig;
use supplyline::outbox::kinds::ReplyKind;
use supplyline::outbox::Composer;
use supplyline::state::Role;
use supplyline::store::{
    FetchedMessage, MessageFacts, NewOffer, NewReply, OfferItemRow, Store, StoreOutcome,
};
use supplyline::web::{self, AppState};
use tokio_util::sync::CancellationToken;

const PASSWORD: &str = "correct horse battery";
const P50_TARGET_MS: f64 = 50.0;
const P95_TARGET_MS: f64 = 150.0;

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (offers, samples) = if full { (100_000, 40) } else { (300, 3) };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run(offers, samples, full));
}

async fn run(offers: usize, samples: usize, full: bool) {
    let dir = tempfile::tempdir().unwrap();
    let postgres = std::env::var("BENCH_DATABASE").is_ok_and(|v| v == "postgres");
    let url = match std::env::var("DESK_DB").ok() {
        Some(url) if url.starts_with("postgres") => url,
        // The search table alone (about 370 MB at 100,000 offers) outgrows
        // PostgreSQL's default 128 MB cache; a production server gives it
        // a quarter of its memory.
        _ if postgres => {
            let options = ["--shared-buffers", "1GB"];
            scripts::start_stack_with("pg-stack", "supplyline-desk-pg", &options)
                .get("DATABASE_URL")
        }
        Some(file) => format!("sqlite://{}", PathBuf::from(file).display()),
        None => format!("sqlite://{}", dir.path().join("desk.db").display()),
    };
    let store = Store::open(&url).await.unwrap();
    println!("database: {:?}", store.engine());
    let needs = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/needs.toml");
    let catalog = supplyline::rules::catalog::Catalog::embedded().unwrap();
    store.load_pack_sizes(&catalog.pack_sizes()).await.unwrap();
    web::operations::load_file(&store, &needs, &catalog)
        .await
        .unwrap();
    let have = store
        .list_offers(None, 1)
        .await
        .unwrap()
        .first()
        .map_or(0, |o| o.id);
    if (have as usize) < offers {
        let started = Instant::now();
        fill(&store, &url, have as usize, offers).await;
        println!(
            "filled {} offers in {:.1} s",
            offers,
            started.elapsed().as_secs_f64()
        );
    } else {
        println!("reusing {url} ({have} offers)");
    }
    let site = Site::start(store).await;
    let mut rng = StdRng::seed_from_u64(7);
    let pages: Vec<(&str, PathFor)> = vec![
        ("queue (open, page 1)", Box::new(|_| "/".to_string())),
        ("queue, page 20", Box::new(|_| "/?page=20".to_string())),
        (
            "filtered queue (accepted + n95_respirator)",
            Box::new(|_| "/?status=accepted&item=n95_respirator".to_string()),
        ),
        (
            "filtered queue (open + ventilator, language es)",
            Box::new(|_| "/?item=ventilator_invasive&language=es".to_string()),
        ),
        (
            "search: a surname (all statuses)",
            Box::new(|_| "/?status=all&q=Nguyen".to_string()),
        ),
        (
            "search: a broad word (all statuses)",
            Box::new(|_| "/?status=all&q=masks".to_string()),
        ),
        (
            "search: a reference",
            Box::new(move |r| format!("/?status=all&q=SL-{:06}", r.gen_range(1..=offers))),
        ),
        (
            "search: OR, prefix",
            Box::new(|_| "/?status=all&q=gown*+OR+ventilator".to_string()),
        ),
        (
            "offer page",
            Box::new(move |r| format!("/offers/{}", r.gen_range(1..=offers))),
        ),
        ("dashboard", Box::new(|_| "/dashboard".to_string())),
        // desk-own (#16): sorts, the "mine" and "unassigned" views.
        (
            "queue sorted by age, oldest first",
            Box::new(|_| "/?sort=received".to_string()),
        ),
        (
            "queue sorted by age, newest first, page 20",
            Box::new(|_| "/?sort=-received&page=20".to_string()),
        ),
        ("queue, mine", Box::new(|_| "/?owner=me".to_string())),
        (
            "queue, unassigned, by donor",
            Box::new(|_| "/?owner=nobody&sort=donor".to_string()),
        ),
        (
            "queue, all statuses, by assignee",
            Box::new(|_| "/?status=all&sort=assignee".to_string()),
        ),
    ];
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let pages: Vec<_> = pages
        .into_iter()
        .filter(|(name, _)| name.contains(only.as_str()))
        .collect();
    println!("\n| page | p50 | p95 | met? |\n|---|---|---|---|");
    let mut all_met = true;
    for (name, path) in &pages {
        for _ in 0..2 {
            site.get(&path(&mut rng)).await;
        }
        let mut times = Vec::with_capacity(samples);
        for _ in 0..samples {
            let p = path(&mut rng);
            let t = Instant::now();
            site.get(&p).await;
            times.push(t.elapsed());
        }
        let (p50, p95) = (percentile(&mut times, 50), percentile(&mut times, 95));
        let met = p50 <= P50_TARGET_MS && p95 <= P95_TARGET_MS;
        all_met &= met;
        println!(
            "| {name} | {p50:.1} ms | {p95:.1} ms | {} |",
            if met { "yes" } else { "no" }
        );
    }
    if only.is_empty() || only.contains("export") {
        export(&site).await;
    }
    if full {
        println!("\nall targets met: {}", if all_met { "yes" } else { "no" });
    }
    site.shutdown.cancel();
}

/// The time and memory of a whole CSV export of offers and of item lines.
async fn export(site: &Site) {
    // Anonymous memory (the mapped database file aside), sampled while exporting.
    let before = rss_anon_kib();
    let peak = Arc::new(std::sync::atomic::AtomicU64::new(before));
    let sampler = tokio::spawn({
        let peak = peak.clone();
        async move {
            loop {
                peak.fetch_max(rss_anon_kib(), std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    });
    let t = Instant::now();
    let bytes = site.get("/export/offers.csv?status=all").await;
    let offers_took = t.elapsed();
    let items = site.get("/export/items.csv?status=all").await;
    sampler.abort();
    println!(
        "\nCSV export of every offer: {:.2} s, {} MiB; of every item line: {:.2} s, {} MiB; \
         anonymous memory {} MiB before, at most {} MiB during",
        offers_took.as_secs_f64(),
        bytes / (1 << 20),
        (t.elapsed() - offers_took).as_secs_f64(),
        items / (1 << 20),
        before / 1024,
        peak.load(std::sync::atomic::Ordering::Relaxed) / 1024
    );
}

/// The path of each request to a page (an offer page picks an offer).
type PathFor = Box<dyn Fn(&mut StdRng) -> String>;

/// The `p`th percentile in milliseconds.
fn percentile(times: &mut [Duration], p: usize) -> f64 {
    times.sort();
    let at = ((times.len() * p).div_ceil(100)).clamp(1, times.len()) - 1;
    times[at].as_secs_f64() * 1000.0
}

fn rss_anon_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("RssAnon:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The web UI on a loopback port with a logged-in triager.
struct Site {
    base: String,
    cookie: String,
    client: Client<HttpConnector, Body>,
    shutdown: CancellationToken,
}

impl Site {
    async fn start(store: Store) -> Site {
        let composer =
            Composer::new(None, "donations@city.example", "City Donations Desk", None).unwrap();
        let cfg = WebConfig::default();
        let hash = web::auth::hash_password(PASSWORD).unwrap();
        store
            .upsert_user("triager@city.example", &hash, Role::Triager)
            .await
            .unwrap();
        let state = AppState::new(store, Arc::new(composer), &cfg).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let shutdown = CancellationToken::new();
        tokio::spawn(web::serve_on(
            listener,
            state,
            web::ServeLimits::from(&cfg),
            shutdown.clone(),
        ));
        let client = Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
        let mut site = Site {
            base,
            cookie: String::new(),
            client,
            shutdown,
        };
        site.login().await;
        site
    }

    /// Logs in as a form post does; keeps the session cookie.
    async fn login(&mut self) {
        let res = self
            .client
            .request(
                Request::get(format!("{}/login", self.base))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        let set = res.headers()[header::SET_COOKIE].to_str().unwrap();
        let login_cookie = set.split(';').next().unwrap().to_string();
        let token = login_cookie.split_once('=').unwrap().1.to_string();
        let form = format!(
            "email=triager%40city.example&password={}&csrf={token}",
            PASSWORD.replace(' ', "+")
        );
        let res = self
            .client
            .request(
                Request::post(format!("{}/login", self.base))
                    .header(header::COOKIE, &login_cookie)
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(Body::from(form))
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "login");
        self.cookie = res
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap())
            .find(|c| c.starts_with("sl_session="))
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string();
    }

    /// GETs `path` and reads the whole answer; returns its length.
    async fn get(&self, path: &str) -> usize {
        let req = Request::get(format!("{}{path}", self.base))
            .header(header::COOKIE, &self.cookie)
            .body(Body::empty())
            .unwrap();
        let res = self.client.request(req).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        // Read as it comes and dropped: the bench holds no whole answer.
        let mut body = res.into_body();
        let mut len = 0;
        while let Some(frame) = body.frame().await {
            len += frame.unwrap().data_ref().map_or(0, |d| d.len());
        }
        len
    }
}

const SURNAMES: &[&str] = &[
    "Ruiz",
    "García",
    "Nguyen",
    "Müller",
    "Dubois",
    "Santos",
    "Reyes",
    "Tran",
    "Schmidt",
    "Martin",
    "Lefebvre",
    "Kowalski",
    "Okafor",
    "Haddad",
    "Kim",
    "Park",
    "Rossi",
    "Silva",
    "Cohen",
    "Johansson",
    "Fernández",
    "Bautista",
    "Lambert",
    "Weber",
    "Pham",
    "Moreau",
    "Castillo",
    "Dela Cruz",
    "Hoffmann",
    "Le",
    "Ortiz",
    "Nowak",
    "Adeyemi",
    "Yilmaz",
    "Ivanova",
    "Morales",
    "Girard",
    "Becker",
    "Vo",
    "Mendoza",
];
const GIVEN: &[&str] = &[
    "Ana", "Luis", "Minh", "Jonas", "Claire", "Maria", "Jose", "Linh", "Petra", "Paul", "Amelie",
    "Piotr", "Chidi", "Rana", "Ji-woo", "Sofia", "Marco", "Rafael", "Noa", "Erik",
];

/// (language, subject, opening, filler, item words, sign-off)
struct Lang {
    code: &'static str,
    subject: &'static str,
    opening: &'static str,
    filler: &'static str,
    words: [&'static str; 6],
    close: &'static str,
}

const LANGS: &[Lang] = &[
    Lang {
        code: "en",
        subject: "Donation of",
        opening: "Hello, our practice is closing for a few weeks and we would like to donate what we have left.",
        filler: "Everything is unopened and stored in a dry room. We can load it ourselves, the boxes are not heavy. Please let us know when someone can come by, mornings are best for us.",
        words: ["N95 masks", "isolation gowns", "exam gloves", "surgical masks", "ventilator", "hand sanitizer"],
        close: "Best regards,",
    },
    Lang {
        code: "es",
        subject: "Donación de",
        opening: "Hola, nuestra clínica cierra unas semanas y queremos donar lo que nos queda.",
        filler: "Todo está sin abrir y guardado en un lugar seco. Podemos cargarlo nosotros, las cajas no pesan mucho. Avísennos cuándo pueden pasar, por las mañanas es mejor.",
        words: ["mascarillas N95", "batas de aislamiento", "guantes de examen", "mascarillas quirúrgicas", "ventilador", "gel desinfectante"],
        close: "Saludos cordiales,",
    },
    Lang {
        code: "fr",
        subject: "Don de",
        opening: "Bonjour, notre cabinet ferme quelques semaines et nous souhaitons donner ce qu'il nous reste.",
        filler: "Tout est neuf, dans les emballages d'origine, rangé dans un local sec. Nous pouvons charger nous-mêmes. Dites-nous quand passer, le matin de préférence.",
        words: ["masques N95", "blouses d'isolement", "gants d'examen", "masques chirurgicaux", "respirateur", "gel hydroalcoolique"],
        close: "Cordialement,",
    },
    Lang {
        code: "de",
        subject: "Spende von",
        opening: "Guten Tag, unsere Praxis schließt für einige Wochen und wir möchten unsere Vorräte spenden.",
        filler: "Alles ist originalverpackt und trocken gelagert. Wir können beim Einladen helfen, die Kartons sind leicht. Bitte sagen Sie uns, wann jemand vorbeikommen kann.",
        words: ["FFP2-Masken", "Schutzkittel", "Untersuchungshandschuhe", "OP-Masken", "Beatmungsgerät", "Desinfektionsmittel"],
        close: "Mit freundlichen Grüßen,",
    },
    Lang {
        code: "tl",
        subject: "Donasyon ng",
        opening: "Magandang araw, magsasara muna ang aming klinika at nais naming ibigay ang natitira naming gamit.",
        filler: "Lahat ay bago at nakaimbak sa tuyong lugar. Kami na ang magkakarga, hindi mabigat ang mga kahon. Pakisabi kung kailan kayo pwedeng dumaan.",
        words: ["N95 masks", "isolation gowns", "guwantes", "surgical masks", "ventilator", "alcohol"],
        close: "Salamat po,",
    },
    Lang {
        code: "vi",
        subject: "Quyên góp",
        opening: "Xin chào, phòng khám của chúng tôi tạm đóng cửa và muốn quyên góp vật tư còn lại.",
        filler: "Tất cả còn nguyên hộp và được cất ở nơi khô ráo. Chúng tôi có thể tự bốc hàng lên xe. Xin cho biết khi nào có người đến lấy, buổi sáng là tốt nhất.",
        words: ["khẩu trang N95", "áo choàng cách ly", "găng tay y tế", "khẩu trang phẫu thuật", "máy thở", "nước rửa tay"],
        close: "Trân trọng,",
    },
];

const ITEMS: [&str; 6] = [
    "n95_respirator",
    "isolation_gown",
    "exam_gloves",
    "surgical_mask",
    "ventilator_invasive",
    "hand_sanitizer",
];

/// One generated offer: its raw message, what processing would make of it.
fn generate(n: usize, rng: &mut StdRng) -> (Vec<u8>, MessageFacts, NewOffer) {
    let lang = &LANGS[rng.gen_range(0..LANGS.len())];
    let (given, surname) = (
        GIVEN[rng.gen_range(0..GIVEN.len())],
        SURNAMES[rng.gen_range(0..SURNAMES.len())],
    );
    // About three offers per donor address.
    let donor = format!(
        "{}.{}{}@mail{}.example",
        given.to_lowercase(),
        surname.to_lowercase().replace(' ', ""),
        n / 3,
        n % 7
    );
    let count = rng.gen_range(1..=4);
    let mut items = Vec::new();
    let mut lines = Vec::new();
    for k in 0..count {
        let which = (n + k * 2) % ITEMS.len();
        let quantity = (rng.gen_range(0..8) != 0).then(|| rng.gen_range(1..200) as f64 * 10.0);
        let q = quantity.map_or("some".to_string(), |q| format!("{q:.0}"));
        lines.push(format!("- {q} {}", lang.words[which]));
        items.push(OfferItemRow {
            item: ITEMS[which].into(),
            quantity,
            unit: Some("each".into()),
            model: (which == 4).then(|| "Hamilton C1".to_string()),
            condition: Some("new".into()),
            expires: None,
            spans_json: "[]".into(),
            source: "extracted".into(),
        });
    }
    let phone = format!("+1 310 555 {:04}", n % 10_000);
    let postal = format!("9{:04}", n % 1000);
    let subject = format!("{} {}", lang.subject, lang.words[n % ITEMS.len()]);
    let filler = (0..rng.gen_range(2..6))
        .map(|_| lang.filler)
        .collect::<Vec<_>>()
        .join(" ");
    let text = format!(
        "{}\n\n{}\n\n{}\n\nAddress: {} Ocean Ave, Torrance CA {postal}\nPhone: {phone}\n\n{}\n{given} {surname}\n",
        lang.opening,
        lines.join("\n"),
        filler,
        n % 900 + 1,
        lang.close
    );
    let raw = format!(
        "From: {given} {surname} <{donor}>\r\nTo: donations@city.example\r\nSubject: {subject}\r\n\
         Message-ID: <desk-{n}@bench.example>\r\nDate: Tue, 1 Dec 2026 10:00:00 +0000\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{}",
        text.replace('\n', "\r\n")
    );
    let facts = MessageFacts {
        category: "offer".into(),
        from_address: Some(donor.clone()),
        subject: subject.clone(),
        text,
    };
    let offer = NewOffer {
        donor_email: donor,
        donor_name: Some(format!("{given} {surname}")),
        subject,
        category: "offer".into(),
        language: Some(lang.code.into()),
        contact_json: Some(serde_json::json!({ "name": format!("{given} {surname}"), "phone": phone }).to_string()),
        pickup_json: Some(
            serde_json::json!({ "address": format!("{} Ocean Ave, Torrance CA", n % 900 + 1), "postal_code": postal })
                .to_string(),
        ),
        price_quoted: false,
        vetting_json: None,
        items,
    };
    (raw.into_bytes(), facts, offer)
}

/// Offers `from + 1 ..= to`: messages stored in batches as the fetch stage
/// stores them, each batch completed in one processing transaction with an
/// acknowledgement per offer; then decisions, notes and dates in bulk.
async fn fill(store: &Store, url: &str, from: usize, to: usize) {
    const BATCH: usize = 500;
    let mut rng = StdRng::seed_from_u64(from as u64);
    let mut n = from + 1;
    while n <= to {
        let end = (n + BATCH - 1).min(to);
        let generated: Vec<_> = (n..=end).map(|k| generate(k, &mut rng)).collect();
        let fetched = generated
            .iter()
            .enumerate()
            .map(|(k, (raw, _, _))| FetchedMessage {
                mailbox: "INBOX".into(),
                uidvalidity: 1,
                uid: (n + k) as u32,
                size: raw.len() as u64,
                raw: raw.clone(),
                truncated: false,
                no_reply_reason: None,
            })
            .collect();
        let stored = store.store_fetched(fetched, None, None).await.unwrap();
        let mut batch = store.begin_processing().await.unwrap();
        for ((_, facts, offer), outcome) in generated.iter().zip(stored) {
            let StoreOutcome::Stored(message) = outcome else {
                panic!("duplicate generated message");
            };
            batch
                .complete_with_offer(message, facts, offer, None, |id| Some(ack(id, offer)))
                .await
                .unwrap();
        }
        batch.commit().await.unwrap();
        n = end + 1;
    }
    decide_in_bulk(store, url, from, to).await;
}

fn ack(id: i64, offer: &NewOffer) -> NewReply {
    let raw = format!(
        "From: City Donations Desk <donations@city.example>\r\nTo: {}\r\nSubject: Re: {} [SL-{id:06}]\r\n\
         Auto-Submitted: auto-replied\r\n\r\nThank you, we received your offer. {}\r\n",
        offer.donor_email,
        offer.subject,
        "We will write again once staff have looked at it. ".repeat(8)
    );
    NewReply {
        kind: ReplyKind::Ack,
        dedup_key: Some(format!("ack:{id}")),
        rfc_message_id: format!("ack-{id}@city.example"),
        to_address: offer.donor_email.clone(),
        subject: format!("Re: {}", offer.subject),
        raw: raw.into_bytes(),
        automatic: true,
    }
}

/// Most offers decided (four in ten still open), a note on one in ten,
/// and creation dates spread over the last 50 days, as after weeks of work.
async fn decide_in_bulk(store: &Store, url: &str, from: usize, to: usize) {
    // `$N` placeholders: both engines read them through `Any`.
    let mut db = <sqlx::AnyConnection as sqlx::Connection>::connect(url)
        .await
        .unwrap();
    let now = chrono::Utc::now().timestamp_millis();
    let statements = [
        "UPDATE offers SET status = CASE id % 10
           WHEN 3 THEN 'needs_info' WHEN 4 THEN 'accepted' WHEN 5 THEN 'scheduled'
           WHEN 6 THEN 'declined' WHEN 7 THEN 'spam' WHEN 8 THEN 'received' WHEN 9 THEN 'declined'
           ELSE status END,
           pickup_site = CASE WHEN id % 10 IN (4, 5, 8) THEN 'Central depot' END,
           pickup_window = CASE WHEN id % 10 IN (4, 5, 8) THEN 'Tue 9:00-12:00' END,
           decline_reason = CASE WHEN id % 10 IN (6, 9) THEN 'We have enough of these for now.' END
         WHERE id > $1 AND id <= $2",
        "UPDATE offer_items SET received_quantity = quantity
         WHERE offer_id IN (SELECT id FROM offers WHERE id > $1 AND id <= $2 AND status = 'received')",
        "INSERT INTO notes (offer_id, author, body, created_at)
         SELECT id, 'triager@city.example', CASE id % 3
           WHEN 0 THEN 'Called the donor: the gowns are size L only.'
           WHEN 1 THEN 'Donor asks for a receipt for tax purposes.'
           ELSE 'Duplicate of an earlier email? Check with the depot.' END, $3
         FROM offers WHERE id > $1 AND id <= $2 AND id % 10 = 1",
        // Half the offers assigned, an eighth of them to the triager who logs in.
        "UPDATE offers SET assigned_to = CASE id % 8
           WHEN 0 THEN 'triager@city.example' WHEN 1 THEN 'ana@city.example'
           WHEN 2 THEN 'bo@city.example' WHEN 3 THEN 'cy@city.example' END
         WHERE id > $1 AND id <= $2",
        "UPDATE offers SET created_at = $3 - ($2 - id) * 43200, updated_at = $3 - ($2 - id) * 43200
         WHERE id > $1 AND id <= $2",
    ];
    for sql in statements {
        let query = sqlx::query(sql).bind(from as i64).bind(to as i64);
        // PostgreSQL refuses a parameter the statement does not use.
        let query = match sql.contains("$3") {
            true => query.bind(now),
            false => query,
        };
        query.execute(&mut db).await.unwrap();
    }
    // What a running serve's search indexer does after each batch and
    // note (PostgreSQL; nothing to do on SQLite).
    store.index_all_pending().await.unwrap();
    // The state autovacuum keeps a desk in that grew over weeks, not
    // minutes: statistics for the planner, and pages marked all-visible, so
    // index-only scans (the filtered queue's count, the queue's pages)
    // need not visit the heap after the bulk updates above (measured: the
    // filtered count 63 ms before, 15 ms after). SQLite needs neither.
    if url.starts_with("postgres") {
        sqlx::query("VACUUM (ANALYZE)")
            .execute(&mut db)
            .await
            .unwrap();
    }
}
