//! One unit everywhere and item names from the catalog (#15, parts 3 and
//! 5), end to end over the real mail stack: an operator adds an item with
//! its reply names and a pack size to a copy of the catalog; a donation of
//! it is read, normalised with the pack size (marked as assumed) and
//! acknowledged with the item named as the catalog says, in the donor's
//! language; a request for the same item pledges nothing.

use std::path::Path;
use std::time::Duration;

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
