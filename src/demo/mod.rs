//! The self-contained demo: a SQLite file, a bundled sample mailbox, replies
//! written as .eml files into a folder. Runs the same stages as `serve`,
//! with the mailbox read from the binary instead of IMAP.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::config::{Config, WebConfig};
use crate::daemon::{open_store, Stages};
use crate::outbox::labels::item_text;
use crate::process::ProcessOutcome;
use crate::rules::ReplyNames;
use crate::state::Role;
use crate::store::{OfferSummary, Store};

/// The sample mailbox: a dozen messages of the kinds a donations address gets.
pub const SAMPLE_MAILBOX: &[(&str, &[u8])] = &[
    ("01-dentist.eml", include_bytes!("mailbox/01-dentist.eml")),
    ("02-factory.eml", include_bytes!("mailbox/02-factory.eml")),
    ("03-salon-es.eml", include_bytes!("mailbox/03-salon-es.eml")),
    (
        "04-factory-zh.eml",
        include_bytes!("mailbox/04-factory-zh.eml"),
    ),
    (
        "05-out-of-office.eml",
        include_bytes!("mailbox/05-out-of-office.eml"),
    ),
    ("06-bounce.eml", include_bytes!("mailbox/06-bounce.eml")),
    ("07-broker.eml", include_bytes!("mailbox/07-broker.eml")),
    (
        "08-clinic-request.eml",
        include_bytes!("mailbox/08-clinic-request.eml"),
    ),
    (
        "09-html-only.eml",
        include_bytes!("mailbox/09-html-only.eml"),
    ),
    ("10-vet.eml", include_bytes!("mailbox/10-vet.eml")),
    (
        "11-newsletter.eml",
        include_bytes!("mailbox/11-newsletter.eml"),
    ),
    ("12-question.eml", include_bytes!("mailbox/12-question.eml")),
];

/// Where the demo keeps its files.
pub struct DemoPaths {
    pub dir: PathBuf,
    pub database: PathBuf,
    pub outbox: PathBuf,
    pub config: PathBuf,
}

impl DemoPaths {
    pub fn new(dir: &Path) -> DemoPaths {
        DemoPaths {
            dir: dir.to_path_buf(),
            database: dir.join("supplyline.db"),
            outbox: dir.join("outbox"),
            config: dir.join("supplyline.toml"),
        }
    }
}

/// The demo's web UI account.
pub const DEMO_USER: &str = "demo@city.example";

/// Runs the demo in `dir` (started afresh), prints its report, then serves
/// the triage web UI on `listen` until `shutdown` (unless `listen` is None).
pub async fn run_and_serve(
    dir: &Path,
    listen: Option<String>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    print!("{}", run(dir).await?);
    let Some(listen) = listen else { return Ok(()) };
    let paths = DemoPaths::new(dir);
    let config = demo_config(&paths);
    let store = open_store(&config).await?;
    let password = format!("demo-{:08x}", rand::random::<u32>());
    let hash = crate::web::auth::hash_password(&password)?;
    store.upsert_user(DEMO_USER, &hash, Role::Admin).await?;
    let needs = paths.dir.join("needs.toml");
    std::fs::write(&needs, DEMO_NEEDS).with_context(|| format!("writing {}", needs.display()))?;
    let web = WebConfig {
        listen: listen.clone(),
        needs_file: Some(needs),
        ..WebConfig::default()
    };
    let composer = Arc::new(crate::daemon::load_composer(&config)?);
    println!("\nThe triage web UI: http://{listen}/  (log in as {DEMO_USER}, password {password})");
    println!("Press Ctrl-C to stop.");
    crate::web::run(web, store, composer, None, shutdown).await
}

/// Needs and pickup sites for the demo's queue priorities and dashboard.
const DEMO_NEEDS: &str = include_str!("../../examples/needs.toml");

fn demo_config(paths: &DemoPaths) -> Config {
    let mut config = Config::default();
    config.database.url = format!("sqlite://{}", paths.database.display());
    config.donations.address = "donations@city.example".into();
    config.donations.name = "City Donations Desk".into();
    config.outbox.write_to_dir = Some(paths.outbox.clone());
    config
}

/// Runs the demo in `dir` (started afresh) and returns the report to print.
pub async fn run(dir: &Path) -> anyhow::Result<String> {
    let paths = DemoPaths::new(dir);
    if paths.dir.exists() {
        std::fs::remove_dir_all(&paths.dir)
            .with_context(|| format!("clearing {}", paths.dir.display()))?;
    }
    crate::files::create_private_dir(&paths.dir)
        .with_context(|| format!("creating {}", paths.dir.display()))?;
    let config = demo_config(&paths);
    std::fs::write(&paths.config, demo_config_file(&paths))
        .with_context(|| format!("writing {}", paths.config.display()))?;
    let store = open_store(&config).await?;
    for (_, raw) in SAMPLE_MAILBOX {
        store.store_local("demo", raw).await?;
    }
    let stages = Stages::build(&config, store.clone()).await?;
    let processed = stages.process_all().await?;
    let sent = stages.send_all().await?;
    let report = report(&store, &paths, &processed, sent.len()).await?;
    store.close().await;
    Ok(report)
}

async fn report(
    store: &Store,
    paths: &DemoPaths,
    processed: &[ProcessOutcome],
    sent: usize,
) -> anyhow::Result<String> {
    let mut out = String::new();
    let offers = store.list_offers(None, 100).await?;
    writeln!(
        out,
        "supplyline demo: {} sample emails read from the bundled mailbox.\n",
        SAMPLE_MAILBOX.len()
    )?;
    writeln!(out, "Offers in the triage queue ({}):", offers.len())?;
    let names = ReplyNames::embedded()?;
    for offer in offers.iter().rev() {
        writeln!(out, "{}", offer_line(store, &names, offer).await?)?;
    }
    let no_offer: Vec<&ProcessOutcome> = processed
        .iter()
        .filter(|p| matches!(p, ProcessOutcome::NoOffer { .. }))
        .collect();
    let failed = processed
        .iter()
        .filter(|p| matches!(p, ProcessOutcome::Failed { .. }))
        .count();
    let unanswered = processed
        .iter()
        .filter(|p| {
            matches!(
                p,
                ProcessOutcome::NewOffer {
                    acknowledged: false,
                    ..
                }
            )
        })
        .count();
    writeln!(
        out,
        "\nStored without an offer (automatic mail, bounces): {}",
        no_offer.len()
    )?;
    writeln!(
        out,
        "Offers not acknowledged (mailing lists, spam, rate limit): {unanswered}"
    )?;
    writeln!(out, "Failed messages (kept, can be retried): {failed}")?;
    writeln!(
        out,
        "Acknowledgements written: {sent}, in {}",
        paths.outbox.display()
    )?;
    writeln!(out, "\nWhere to look:")?;
    writeln!(out, "  the database:   {}", paths.database.display())?;
    writeln!(out, "  the replies:    {}/*.eml", paths.outbox.display())?;
    let cfg = paths.config.display();
    writeln!(
        out,
        "  the queue:      cargo run --release -- --config {cfg} offers list"
    )?;
    writeln!(
        out,
        "  one offer:      cargo run --release -- --config {cfg} offers show 1"
    )?;
    writeln!(
        out,
        "  the messages:   cargo run --release -- --config {cfg} messages list"
    )?;
    Ok(out)
}

async fn offer_line(
    store: &Store,
    names: &ReplyNames,
    offer: &OfferSummary,
) -> anyhow::Result<String> {
    let items = store.offer_items(offer.id).await?;
    let lang = offer.language.as_deref().unwrap_or("en");
    let listed: Vec<String> = items
        .iter()
        .map(|i| {
            item_text(
                names,
                &i.item,
                i.quantity,
                i.unit.as_deref(),
                i.model.as_deref(),
                "en",
            )
        })
        .collect();
    Ok(format!(
        "  {} [{}, {lang}] {} <{}>: {}",
        offer.reference,
        offer.category,
        offer.donor_name.as_deref().unwrap_or(""),
        offer.donor_email,
        if listed.is_empty() {
            "(no items found)".to_string()
        } else {
            listed.join("; ")
        }
    ))
}

/// A config file for looking at the demo's database with the other commands.
fn demo_config_file(paths: &DemoPaths) -> String {
    format!(
        "# Written by `supplyline demo`.\n[database]\nurl = \"sqlite://{}\"\n\n[donations]\naddress = \"donations@city.example\"\nname = \"City Donations Desk\"\n\n[outbox]\nwrite_to_dir = \"{}\"\n",
        paths.database.display(),
        paths.outbox.display()
    )
}
