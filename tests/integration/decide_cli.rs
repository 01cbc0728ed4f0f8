//! `supplyline offers accept|decline|spam|merge`: the real binary against a
//! temporary SQLite store, deciding as the operator, with the donor's email
//! queued as the desk would queue it. No mail servers are needed.

use std::path::PathBuf;
use std::process::Output;

use supplyline::state::{OfferStatus, ReplyState};
use supplyline::values::OfferRef;

use crate::decide::Fixture;

/// The decide fixture's database, and a config naming only it.
struct Cli {
    f: Fixture,
}

impl Cli {
    async fn start() -> Cli {
        let f = Fixture::new().await;
        let config = format!("[database]\nurl = \"{}\"\n", f.db_url());
        std::fs::write(f.dir.path().join("supplyline.toml"), config).unwrap();
        Cli { f }
    }

    fn config(&self) -> PathBuf {
        self.f.dir.path().join("supplyline.toml")
    }

    /// Runs `supplyline offers ARGS` as the operator `ops`.
    fn offers(&self, args: &[&str]) -> Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_supplyline"))
            .arg("--config")
            .arg(self.config())
            .arg("offers")
            .args(args)
            .env("USER", "ops")
            .output()
            .unwrap()
    }

    async fn offer(&self, donor: &str) -> OfferRef {
        self.f.offer(donor).await
    }

    /// The offer's status, its replies (kind, state) and who made its last change.
    async fn outcome(&self, offer: OfferRef) -> (OfferStatus, Vec<(String, ReplyState)>, String) {
        let history = self.f.history(offer).await;
        let last = history.iter().rev().find(|h| !h.starts_with("system "));
        // "cli:ops accepted: Central depot, …" → "cli:ops accepted"
        let last = last.and_then(|h| h.split(": ").next()).unwrap_or_default();
        let status = self.f.status(offer).await;
        (status, self.f.replies(offer).await, last.to_string())
    }
}

fn succeeded(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    stdout
}

fn failed(out: &Output) -> String {
    assert!(
        !out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).to_string()
}

#[tokio::test]
async fn offers_accept_schedules_and_queues_the_pickup_email() {
    let cli = Cli::start().await;
    let offer = cli.offer("ana@dentist.example").await;
    let reference = offer.to_string();
    let window = "Friday 1 May 09:00–11:00";
    let args = [
        "accept",
        &reference,
        "--site",
        "Central depot",
        "--window",
        window,
    ];
    let out = succeeded(&cli.offers(&args));
    assert!(out.contains(&format!("{offer} scheduled")), "{out}");
    let (status, replies, last) = cli.outcome(offer).await;
    assert_eq!(status, OfferStatus::Scheduled);
    assert_eq!(replies, [("pickup".to_string(), ReplyState::Pending)]);
    assert_eq!(last, "cli:ops accepted");
    let decision = cli.f.store.decision(offer.id()).await.unwrap();
    assert_eq!(decision.pickup_window.as_deref(), Some(window));

    let args = ["accept", "42", "--site", "Nowhere", "--window", window];
    let err = failed(&cli.offers(&args));
    assert!(err.contains("no pickup site is named \"Nowhere\""), "{err}");
}

#[tokio::test]
async fn offers_decline_queues_the_decline_email_with_the_reason() {
    let cli = Cli::start().await;
    let offer = cli.offer("bo@salon.example").await;
    // The bare id works as well as SL-000001.
    let id = offer.id().to_string();
    let out = succeeded(&cli.offers(&["decline", &id, "--reason", "Enough gowns"]));
    assert!(out.contains("declined"), "{out}");
    let (status, replies, last) = cli.outcome(offer).await;
    assert_eq!(status, OfferStatus::Declined);
    assert_eq!(replies, [("decline".to_string(), ReplyState::Pending)]);
    assert_eq!(last, "cli:ops declined");
    let raw = cli
        .f
        .store
        .claim_due_replies(1)
        .await
        .unwrap()
        .remove(0)
        .raw;
    assert!(String::from_utf8_lossy(&raw).contains("Enough gowns"));

    let err = failed(&cli.offers(&["decline", &id, "--reason", "again"]));
    assert!(
        err.contains("this offer is declined and cannot be changed"),
        "{err}"
    );
}

#[tokio::test]
async fn offers_spam_closes_the_offer_and_sends_nothing() {
    let cli = Cli::start().await;
    let offer = cli.offer("win@prize.example").await;
    succeeded(&cli.offers(&["spam", &offer.to_string()]));
    let (status, replies, last) = cli.outcome(offer).await;
    assert_eq!((status, replies.len()), (OfferStatus::Spam, 0));
    assert_eq!(last, "cli:ops marked_spam");
    let err = failed(&cli.offers(&["spam", "SL-000999"]));
    assert!(err.contains("no offer with that id"), "{err}");
}

#[tokio::test]
async fn offers_merge_joins_the_duplicate_to_the_other_offer() {
    let cli = Cli::start().await;
    let (keep, dup) = (
        cli.offer("a@x.example").await,
        cli.offer("a2@x.example").await,
    );
    let (keep_ref, dup_ref) = (keep.to_string(), dup.to_string());
    let out = succeeded(&cli.offers(&["merge", &dup_ref, "--into", &keep_ref]));
    assert!(out.contains(&format!("merged into {keep}")), "{out}");
    let (status, replies, last) = cli.outcome(dup).await;
    assert_eq!((status, replies.len()), (OfferStatus::Merged, 0));
    assert_eq!(last, "cli:ops merged_into");
    assert_eq!(
        cli.f.store.offer(keep.id()).await.unwrap().messages.len(),
        2
    );
    let err = failed(&cli.offers(&["merge", &keep_ref, "--into", &keep_ref]));
    assert!(err.contains("cannot be merged into itself"), "{err}");
}

/// `supplyline doctor` passes on a fresh installation and names the file,
/// its mode and the fix once the database is readable by other users.
#[tokio::test]
async fn doctor_names_a_database_readable_by_others() {
    use std::os::unix::fs::PermissionsExt;
    let cli = Cli::start().await;
    // Replies need somewhere to go, or doctor fails on that (as serve would).
    let config = std::fs::read_to_string(cli.config()).unwrap();
    let outbox = cli.f.dir.path().join("outbox");
    let config = format!(
        "{config}[outbox]\nwrite_to_dir = \"{}\"\n",
        outbox.display()
    );
    std::fs::write(cli.config(), config).unwrap();
    let doctor = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_supplyline"))
            .arg("--config")
            .arg(cli.config())
            .arg("doctor")
            .output()
            .unwrap()
    };
    let out = doctor();
    let stdout = succeeded(&out);
    assert!(
        stdout.contains("ok    data files are readable by their owner only"),
        "{stdout}"
    );
    let db = cli.f.dir.path().join("supplyline.db");
    let db = if db.exists() {
        db
    } else {
        PathBuf::from(cli.f.db_url().trim_start_matches("sqlite://"))
    };
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = doctor();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    assert!(stdout.contains("FAIL  data files"), "{stdout}");
    assert!(stdout.contains("0644: chmod go-rwx it"), "{stdout}");
}
