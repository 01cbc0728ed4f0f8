//! One unit everywhere and item names from the catalog (#15, parts 3 and
//! 5), end to end over the real mail stack: an operator adds an item with
//! its reply names and a pack size to a copy of the catalog; a donation of
//! it is read, normalised with the pack size (marked as assumed) and
//! acknowledged with the item named as the catalog says, in the donor's
//! language; a request for the same item pledges nothing.

use std::path::Path;
use std::time::Duration;

use supplyline::state::OfferStatus;

use crate::app::{donation, unique_id, App};
use crate::common::{append, stack_shared, unique_address, wait_for_count};

const ACK_WAIT: Duration = Duration::from_secs(30);

/// The operator's addition to `rules/catalog.toml`: a new item, named in
/// English and Spanish, four to a case.
const FIELD_COT: &str = r#"

[[item]]
id = "field_cot"
packs = { case = 4 }
[item.names]
en = "folding field cots"
es = "catres plegables de campaña"
[item.terms]
en = ["field cot", "folding cot"]
es = ["catre plegable"]
"#;

/// A copy of `rules/` with [`FIELD_COT`] added to its catalog.
fn rules_with_field_cots(dir: &Path) -> std::path::PathBuf {
    let rules = dir.join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    for entry in std::fs::read_dir(&source).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|x| x == "toml") {
            std::fs::copy(&path, rules.join(path.file_name().unwrap())).unwrap();
        }
    }
    let catalog = rules.join("catalog.toml");
    let mut text = std::fs::read_to_string(&catalog).unwrap();
    text.push_str(FIELD_COT);
    std::fs::write(&catalog, text).unwrap();
    rules
}

fn text(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw)
        .replace("=\r\n", "")
        .replace("\r\n", "\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_item_an_operator_adds_is_named_in_replies_and_counted_in_pieces() {
    let _up = stack_shared().await;
    let holder = tempfile::tempdir().unwrap();
    let rules = rules_with_field_cots(holder.path());
    let mut app = App::start_with(&format!("[rules]\ndir = \"{}\"\n", rules.display())).await;
    let donor = unique_address("donor");
    let body = "Hello, our camp closed and we can donate 3 cases of field cots.\n\
                Pickup at 1200 W 7th St, Los Angeles, CA 90017.";
    append(
        &app.donations,
        "INBOX",
        &donation(&donor, &app.donations, &unique_id(), body),
    )
    .await;
    let reply = text(&wait_for_count(&donor, "INBOX", 1, ACK_WAIT).await[0]);
    assert!(reply.contains("folding field cots"), "{reply}");
    assert!(!reply.contains("field_cot"), "never the id: {reply}");

    let asker = unique_address("clinic");
    let request = "Hola, somos una clínica y necesitamos 5 cajas de catres plegables.\n\
                   ¿Nos pueden ayudar?";
    append(
        &app.donations,
        "INBOX",
        &donation(&asker, &app.donations, &unique_id(), request),
    )
    .await;
    app.wait_processed(2).await;
    app.stop().await;

    let offers = app.store.list_offers(None, 10).await.unwrap();
    let donated = offers.iter().find(|o| o.donor_email == donor).unwrap();
    let items = app.store.items_full(donated.id).await.unwrap();
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(
        (
            items[0].item.as_str(),
            items[0].quantity,
            items[0].unit.as_deref()
        ),
        ("field_cot", Some(3.0), Some("case"))
    );
    assert_eq!(items[0].base_quantity, Some(12.0));
    assert_eq!(items[0].base_unit.as_deref(), Some("piece"));
    assert!(
        items[0].pack_assumed,
        "four to a case is the catalog's default"
    );

    let stats = app.store.item_stats().await.unwrap();
    let cots = stats.iter().find(|s| s.item == "field_cot").unwrap();
    assert_eq!(cots.pledged, 12.0, "the request pledges nothing: {cots:?}");
    assert_eq!(cots.stated, "3 case");
    assert_eq!(cots.assumed_lines, 1);
}

/// `extract --json` keeps the contract's stated quantity and unit and puts
/// the normalised quantity beside them.
#[test]
fn extract_json_has_the_base_quantity_beside_the_stated_one() {
    let dir = tempfile::tempdir().unwrap();
    let eml = dir.path().join("gloves.eml");
    std::fs::write(
        &eml,
        "From: a@b.example\nSubject: gloves\nMessage-ID: <g@b.example>\n\n\
         We can donate 3 boxes of nitrile exam gloves and 10 gallons of hand sanitizer.\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_supplyline"))
        .args(["extract", "--json"])
        .arg(&eml)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let items = json["items"].as_array().unwrap();
    let gloves = items.iter().find(|i| i["item"] == "exam_gloves").unwrap();
    assert_eq!(gloves["quantity"], 3.0);
    assert_eq!(gloves["unit"], "box");
    assert_eq!(gloves["base_quantity"], 300.0);
    assert_eq!(gloves["base_unit"], "piece");
    assert_eq!(gloves["pack_size_assumed"], true);
    let sanitizer = items
        .iter()
        .find(|i| i["item"] == "hand_sanitizer")
        .unwrap();
    assert_eq!(
        (sanitizer["quantity"].as_f64(), sanitizer["unit"].as_str()),
        (Some(10.0), Some("gallon"))
    );
    assert_eq!(sanitizer["base_unit"], "litre");
    assert_eq!(sanitizer["pack_size_assumed"], false);
    assert!((sanitizer["base_quantity"].as_f64().unwrap() - 37.854_117_84).abs() < 1e-6);
}

/// A minimal client of the running desk: cookies by hand, no redirects.
struct Desk {
    base: String,
    http: reqwest::Client,
    cookie: String,
    csrf: String,
}

/// The value of `name="csrf" value="…"` on a page.
fn csrf_of(page: &str) -> String {
    page.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no CSRF token on the page: {page}"))
        .to_string()
}

fn cookie_of(res: &reqwest::Response, name: &str) -> String {
    res.headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie"))
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

impl Desk {
    async fn login(base: &str, email: &str, password: &str) -> Desk {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let mut page = None;
        for _ in 0..100 {
            if let Ok(res) = http.get(format!("{base}/login")).send().await {
                page = Some(res);
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let res = page.expect("the desk answers");
        let login_cookie = res
            .headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(|c| c.split(';').next().unwrap().to_string())
            .collect::<Vec<_>>()
            .join("; ");
        let token = csrf_of(&res.text().await.unwrap());
        let res = http
            .post(format!("{base}/login"))
            .header(reqwest::header::COOKIE, login_cookie)
            .form(&[("email", email), ("password", password), ("csrf", &token)])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303, "logged in");
        let cookie = cookie_of(&res, "sl_session");
        let page = http
            .get(format!("{base}/needs"))
            .header(reqwest::header::COOKIE, &cookie)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        Desk {
            base: base.to_string(),
            http,
            csrf: csrf_of(&page),
            cookie,
        }
    }

    async fn set_need(&self, item: &str, per_week: &str, on_hand: &str) -> (u16, String) {
        let res = self
            .http
            .post(format!("{}/needs", self.base))
            .header(reqwest::header::COOKIE, &self.cookie)
            .form(&[
                ("csrf", self.csrf.as_str()),
                ("item", item),
                ("per_week", per_week),
                ("on_hand", on_hand),
            ])
            .send()
            .await
            .unwrap();
        (res.status().as_u16(), res.text().await.unwrap())
    }

    async fn page(&self, path: &str) -> String {
        self.http
            .get(format!("{}{path}", self.base))
            .header(reqwest::header::COOKIE, &self.cookie)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
}

/// The open offers' ids, highest priority first, as the queue orders them.
async fn queue_order(app: &App) -> Vec<i64> {
    let filter = supplyline::store::QueueFilter::default();
    let (rows, _) = app.store.queue(&filter, 0, 50).await.unwrap();
    rows.iter().map(|r| r.id).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_edits_needs_on_a_running_serve_and_the_queue_follows_without_a_restart() {
    let _up = stack_shared().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let needs = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/needs.toml");
    let mut app = App::start_with(&format!(
        "[web]\nlisten = \"127.0.0.1:{port}\"\nneeds_file = \"{}\"\n",
        needs.display()
    ))
    .await;
    let password = "a long admin password";
    let hash = supplyline::web::auth::hash_password(password).unwrap();
    app.store
        .upsert_user("admin@city.example", &hash, supplyline::state::Role::Admin)
        .await
        .unwrap();
    for body in [
        "We can donate 3 boxes of nitrile exam gloves. Pickup in Torrance, CA 90501.",
        "We can donate 500 surgical masks. Pickup in Carson, CA 90745.",
    ] {
        app.donate(body).await;
    }
    app.wait_processed(2).await;
    // examples/needs.toml: 300 gloves × 0.5 = 150 < 500 masks × 1.
    let mut ids = (0, 0);
    for o in app.store.list_offers(None, 10).await.unwrap() {
        match app.store.items_full(o.id).await.unwrap()[0].item.as_str() {
            "exam_gloves" => ids.0 = o.id,
            "surgical_mask" => ids.1 = o.id,
            other => panic!("unexpected item {other}"),
        }
    }
    let (gloves, masks) = ids;
    assert_eq!(queue_order(&app).await, vec![masks, gloves]);

    let desk = Desk::login(
        &format!("http://127.0.0.1:{port}"),
        "admin@city.example",
        password,
    )
    .await;
    let (status, page) = desk.set_need("surgical_maks", "10000", "100000").await;
    assert_eq!(status, 400);
    assert!(page.contains("id=\"need-item-error\""), "{page}");
    // 70 days of masks left: they weigh little now.
    let (status, _) = desk.set_need("surgical_mask", "10000", "100000").await;
    assert_eq!(status, 303);
    assert_eq!(
        queue_order(&app).await,
        vec![gloves, masks],
        "no restart needed"
    );
    let page = desk.page("/needs").await;
    assert!(
        page.contains("admin@city.example") && page.contains("need_changed"),
        "{page}"
    );
    let offer = desk.page(&format!("/offers/{masks}")).await;
    assert!(
        offer.contains(
            "needed: 70 days of surgical masks supply left; offer covers less than a day"
        ),
        "{offer}"
    );

    // A restart reads the needs file again, but the desk's needs stay.
    app.restart().await;
    app.wait_processed(2).await;
    assert_eq!(queue_order(&app).await, vec![gloves, masks]);
    app.stop().await;
}

/// The dashboard's totals are kept as lines come and go (per line on
/// SQLite, per statement on PostgreSQL): offers read in one processing
/// batch, one with two lines of the same item, then a line staff add,
/// change and remove, and every pledged figure is still the sum of the
/// lines it stands for.
#[tokio::test(flavor = "multi_thread")]
async fn dashboard_totals_follow_item_lines_added_in_one_batch_and_edited_by_staff() {
    let mut app = App::prepare("").await;
    let bodies = [
        "We can donate 3 boxes of N95 respirators and 2 cases of isolation gowns.\n\
         We also found 1 more box of N95 respirators in the back.",
        "Our clinic has 5 boxes of N95 respirators to give.",
        "I have 200 nitrile exam gloves and 4 boxes of isolation gowns.",
        "We are a nursing home and need 10 boxes of N95 respirators, please help.",
    ];
    for body in bodies {
        app.donate(body).await;
    }
    app.restart().await;
    app.wait_processed(bodies.len()).await;
    app.stop().await;
    assert_totals_are_the_sum_of_lines(&app).await;

    let mut first = None;
    for offer in app.store.list_offers(None, 10).await.unwrap() {
        let lines = app.store.items_full(offer.id).await.unwrap();
        if offer.category != "request" && lines.len() >= 2 {
            first = Some((offer, lines));
        }
    }
    let (first, lines) = first.expect("an offer with two lines or more");
    let gloves = supplyline::store::ItemEdit {
        item: "exam_gloves".into(),
        quantity: Some(3.0),
        unit: Some("case".into()),
    };
    app.store
        .add_item(first.id, "staff@example.org", &gloves)
        .await
        .unwrap();
    assert_totals_are_the_sum_of_lines(&app).await;
    let fewer = supplyline::store::ItemEdit {
        item: lines[0].item.clone(),
        quantity: Some(1.0),
        unit: lines[0].unit.clone(),
    };
    app.store
        .update_item(first.id, lines[0].id, "staff@example.org", &fewer)
        .await
        .unwrap();
    assert_totals_are_the_sum_of_lines(&app).await;
    app.store
        .remove_item(first.id, lines[1].id, "staff@example.org")
        .await
        .unwrap();
    assert_totals_are_the_sum_of_lines(&app).await;

    // Accepted, then received in part: the line moves to the accepted
    // figures and counts as received; another offer is declined.
    let mut decision = app.store.begin_decision().await.unwrap();
    decision
        .set_status(first.id, OfferStatus::Received)
        .await
        .unwrap();
    decision
        .set_received(first.id, lines[0].id, 1.0)
        .await
        .unwrap();
    let declined = app.store.list_offers(None, 10).await.unwrap();
    let declined = declined
        .iter()
        .find(|o| o.id != first.id && o.category != "request");
    decision
        .set_status(declined.unwrap().id, OfferStatus::Declined)
        .await
        .unwrap();
    decision.commit().await.unwrap();
    assert_totals_are_the_sum_of_lines(&app).await;
    let stats = app.store.item_stats().await.unwrap();
    let received_item = stats.iter().find(|s| s.item == lines[0].item).unwrap();
    assert!(received_item.accepted > 0.0, "{received_item:?}");
    assert!(received_item.received > 0.0, "{received_item:?}");
}

/// Every item's pledged figure on the dashboard equals the sum of the base
/// quantities of its lines on offers (requests, and offers declined or
/// turned away, pledge nothing).
async fn assert_totals_are_the_sum_of_lines(app: &App) {
    let mut pledged = std::collections::BTreeMap::<String, f64>::new();
    for offer in app.store.list_offers(None, 100).await.unwrap() {
        if offer.category == "request" || offer.status.is_turned_away() {
            continue;
        }
        for line in app.store.items_full(offer.id).await.unwrap() {
            *pledged.entry(line.item).or_default() += line.base_quantity.unwrap_or(0.0);
        }
    }
    assert!(pledged.values().any(|q| *q > 0.0), "{pledged:?}");
    let stats = app.store.item_stats().await.unwrap();
    for (item, sum) in &pledged {
        let shown = stats.iter().find(|s| &s.item == item).map(|s| s.pledged);
        assert_eq!(shown, Some(*sum), "{item}: {stats:?}");
    }
    for s in stats.iter().filter(|s| !pledged.contains_key(&s.item)) {
        assert_eq!(s.pledged, 0.0, "no line pledges {}: {s:?}", s.item);
    }
}
