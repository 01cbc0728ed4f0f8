//! `supplyline offers accept|decline|spam|merge`: the real binary against a
//! fresh database (SQLite, or PostgreSQL with `TEST_DATABASE=postgres`), deciding as the operator, with the donor's email
//! queued as the desk would queue it. No mail servers are needed. Accepting
//! books a slot through `supplyline::slots` as the desk does (#16): the
//! first free one by default, in the site's own time zone, which is not
//! the server's here (the binary runs with `TZ` = [`SERVER_TZ`]).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Output;

use chrono::{Duration, NaiveDateTime, Utc};
use mail_parser::{MessageParser, MimeHeaders};
use supplyline::slots::hours::{parse_day, SiteSlots, WeekHours};
use supplyline::slots::{self, SlotChoice, Zone};
use supplyline::state::{OfferStatus, ReplyState};
use supplyline::store::{Booking, BookingMode};
use supplyline::values::OfferRef;

use crate::decide::Fixture;

/// The decide fixture's database, and a config naming only it.
struct Cli {
    f: Fixture,
}

impl Cli {
    async fn start() -> Cli {
        let f = Fixture::new().await;
        // The desk's address and name are the fixture's, so the command
        // line's emails can be compared with the desk's.
        let config = format!(
            "[database]\nurl = \"{}\"\n\n[donations]\naddress = \"donations@city.example\"\nname = \"Desk\"\n",
            f.db_url()
        );
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
            .env("TZ", SERVER_TZ)
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

/// The server's zone for the command line: neither UTC nor the depot's.
const SERVER_TZ: &str = "America/New_York";
/// The depot's zone, 14 hours ahead of UTC: its "today" is often not the
/// server's, and its 09:00 is 19:00 UTC the day before.
const SITE_TZ: &str = "Pacific/Kiritimati";
const DEPOT: &str = "Central depot";

impl Cli {
    /// Opens the depot 09:00-10:00 every day in [`SITE_TZ`], `capacity` per hour.
    async fn depot_hours(&self, capacity: u32) {
        let mut hours = WeekHours::default();
        for day in &mut hours.days {
            *day = parse_day("09:00-10:00").unwrap();
        }
        let slots = SiteSlots {
            site: DEPOT.into(),
            hours,
            capacity,
        };
        self.f.store.load_site_slots(&[slots]).await.unwrap();
        let zone = Zone::parse(SITE_TZ).unwrap();
        let zones = [(DEPOT.to_string(), zone)];
        self.f.store.load_site_zones(&zones).await.unwrap();
    }

    async fn booking(&self, offer: OfferRef) -> Booking {
        self.f.store.booking(offer.id()).await.unwrap().unwrap()
    }

    /// Every queued email, by recipient.
    async fn emails(&self) -> BTreeMap<String, Vec<u8>> {
        let due = self.f.store.claim_due_replies(100).await.unwrap();
        due.into_iter().map(|r| (r.to_address, r.raw)).collect()
    }
}

/// The depot's first slot at least an hour away by its own clock (the
/// desk's suggestion), computed here without supplyline.
fn first_depot_slot() -> NaiveDateTime {
    let tz: chrono_tz::Tz = SITE_TZ.parse().unwrap();
    let local = Utc::now().with_timezone(&tz).naive_local();
    let nine = local.date().and_hms_opt(9, 0, 0).unwrap();
    match nine >= local + Duration::hours(1) {
        true => nine,
        false => nine + Duration::days(1),
    }
}

/// An email's subject and text with `reference` made generic, and the
/// lines of its `.ics` that say when and where.
fn email_as_read(raw: &[u8], reference: &str) -> (String, Vec<String>) {
    let msg = MessageParser::default().parse(raw).unwrap();
    let text = format!(
        "{}\n{}",
        msg.subject().unwrap_or_default(),
        msg.body_text(0).unwrap_or_default()
    )
    .replace(reference, "SL-REF");
    let ics = msg
        .parts
        .iter()
        .find(|p| {
            p.content_type()
                .is_some_and(|c| c.ctype() == "text" && c.subtype() == Some("calendar"))
        })
        .map(|p| String::from_utf8_lossy(p.contents()).replace("\r\n ", ""))
        .unwrap_or_else(|| panic!("no calendar in {}", String::from_utf8_lossy(raw)));
    let when = ["METHOD:", "SEQUENCE:", "DTSTART", "DTEND", "LOCATION:"];
    let lines = ics
        .split("\r\n")
        .filter(|l| when.iter().any(|w| l.starts_with(w)))
        .map(str::to_string)
        .collect();
    (text, lines)
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
    // The depot has no opening hours here: any window that is to come.
    let cli = Cli::start().await;
    let offer = cli.offer("ana@dentist.example").await;
    let reference = offer.to_string();
    let window = "2030-05-03 09:00-11:00";
    let args = ["accept", &reference, "--site", DEPOT, "--window", window];
    let out = succeeded(&cli.offers(&args));
    assert!(out.contains(&format!("{offer} scheduled")), "{out}");
    let (status, replies, last) = cli.outcome(offer).await;
    assert_eq!(status, OfferStatus::Scheduled);
    assert_eq!(replies, [("pickup".to_string(), ReplyState::Pending)]);
    assert_eq!(last, "cli:ops accepted");
    let decision = cli.f.store.decision(offer.id()).await.unwrap();
    let read = "Friday 3 May 2030 09:00–11:00";
    assert_eq!(decision.pickup_window.as_deref(), Some(read));
    assert_eq!(cli.booking(offer).await.mode, BookingMode::Dropoff);

    let args = ["accept", "42", "--site", "Nowhere", "--window", window];
    let err = failed(&cli.offers(&args));
    assert!(err.contains("no pickup site is named \"Nowhere\""), "{err}");
    // A window in free text books no slot; nor does a site without hours
    // have a first free slot to take.
    let other = cli.offer("bo@dentist.example").await.to_string();
    let free_text = [
        "accept",
        &other,
        "--site",
        DEPOT,
        "--window",
        "Friday 1 May 09:00–11:00",
    ];
    let err = failed(&cli.offers(&free_text));
    assert!(err.contains("is not a date and times like"), "{err}");
    let err = failed(&cli.offers(&["accept", &other, "--site", DEPOT]));
    assert!(err.contains("has no opening hours"), "{err}");
}

/// Without --slot the command line takes the first free slot the desk
/// would suggest, by the site's clock and opening hours (09:00 at
/// Kiritimati, UTC+14), not the server's (New York); the email names the
/// zone and the invite has the UTC instant.
#[tokio::test]
async fn offers_accept_books_the_first_free_slot_at_the_sites_own_hours() {
    let cli = Cli::start().await;
    cli.depot_hours(1).await;
    let offer = cli.offer("cy@clinic.example").await;
    let before = first_depot_slot();
    let out = succeeded(&cli.offers(&["accept", &offer.to_string(), "--site", DEPOT]));
    let after = first_depot_slot();
    let booking = cli.booking(offer).await;
    assert!(
        [before, after].contains(&booking.starts_at),
        "{} not {before} or {after}",
        booking.starts_at
    );
    assert_eq!(booking.ends_at, booking.starts_at + Duration::hours(1));
    assert_eq!((booking.sequence, booking.overbooked), (0, false));
    let window = slots::window_text(booking.starts_at, booking.ends_at);
    assert!(window.ends_with("09:00–10:00"), "{window}");
    let read = format!("{window} UTC+14");
    assert!(
        out.contains(&format!("scheduled: {DEPOT}, {read}")),
        "{out}"
    );

    let emails = cli.emails().await;
    let (text, ics) = email_as_read(&emails["cy@clinic.example"], &offer.to_string());
    assert!(text.contains(&read), "{text}");
    let utc = booking.starts_at - Duration::hours(14);
    let start = format!("DTSTART:{}", utc.format("%Y%m%dT%H%M%SZ"));
    assert!(ics.contains(&start), "{start} in {ics:?}");
    assert_eq!(utc.format("%H:%M").to_string(), "19:00");
}

/// A full slot is refused as on the desk and taken with --overbook; the
/// booking, email and invite are the desk's for the same slot.
#[tokio::test]
async fn offers_accept_refuses_a_full_slot_unless_overbook_and_books_as_the_desk_does() {
    let cli = Cli::start().await;
    cli.depot_hours(1).await;
    let (a, b, c) = (
        cli.offer("a@cli.example").await,
        cli.offer("b@cli.example").await,
        cli.offer("c@desk.example").await,
    );
    // Tomorrow's slot by the depot's clock, well clear of "now".
    let start = first_depot_slot() + Duration::days(1);
    let slot = start.format("%Y-%m-%dT%H:%M").to_string();
    let accept = |offer: OfferRef, more: &[&str]| {
        let mut args = vec!["accept".to_string(), offer.to_string(), "--site".into()];
        args.extend([DEPOT.to_string(), "--slot".into(), slot.clone()]);
        args.extend(more.iter().map(|m| m.to_string()));
        cli.offers(&args.iter().map(String::as_str).collect::<Vec<_>>())
    };
    succeeded(&accept(a, &[]));
    let err = failed(&accept(b, &[]));
    assert!(err.contains("is full (1 of 1 booked)"), "{err}");
    assert!(err.contains("overbook"), "{err}");
    let (status, replies, _) = cli.outcome(b).await;
    assert_eq!((status, replies.len()), (OfferStatus::New, 0));
    succeeded(&accept(b, &["--overbook"]));
    assert!(cli.booking(b).await.overbooked);

    // The desk books the same slot (overbooking too) through the same path.
    let choice = SlotChoice {
        site: DEPOT.into(),
        mode: BookingMode::Dropoff,
        address: None,
        start,
        end: start + Duration::hours(1),
        notes: None,
        overbook: true,
    };
    slots::book(cli.f.desk(), c, &choice, slots::now())
        .await
        .unwrap();
    let (by_cli, by_desk) = (cli.booking(a).await, cli.booking(c).await);
    assert_eq!(
        (
            by_cli.site,
            by_cli.starts_at,
            by_cli.ends_at,
            by_cli.mode,
            by_cli.sequence
        ),
        (
            by_desk.site,
            by_desk.starts_at,
            by_desk.ends_at,
            by_desk.mode,
            by_desk.sequence
        )
    );
    let emails = cli.emails().await;
    let cli_email = email_as_read(&emails["a@cli.example"], &a.to_string());
    let desk_email = email_as_read(&emails["c@desk.example"], &c.to_string());
    assert_eq!(cli_email, desk_email);
    assert!(
        cli_email.1.iter().any(|l| l.ends_with("Z")),
        "{:?}",
        cli_email.1
    );
    // Its cancellation withdraws the same instant, in UTC too.
    slots::cancel(cli.f.desk(), a).await.unwrap();
    let emails = cli.emails().await;
    let (text, cancel) = email_as_read(&emails["a@cli.example"], &a.to_string());
    assert!(text.contains("UTC+14"), "{text}");
    let when = |lines: &[String]| -> Vec<String> {
        let keep = |l: &&String| l.starts_with("DTSTART") || l.starts_with("DTEND");
        lines.iter().filter(keep).cloned().collect()
    };
    assert_eq!(when(&cancel), when(&cli_email.1));
    assert!(cancel.contains(&"METHOD:CANCEL".to_string()), "{cancel:?}");

    // A time that has passed, and one that is not a time, are refused.
    let past = (first_depot_slot() - Duration::days(2)).format("%Y-%m-%dT%H:%M");
    let args = [
        "accept",
        &c.to_string(),
        "--site",
        DEPOT,
        "--slot",
        &past.to_string(),
    ];
    let err = failed(&cli.offers(&args));
    assert!(err.contains("has passed"), "{err}");
    let args = [
        "accept",
        &c.to_string(),
        "--site",
        DEPOT,
        "--slot",
        "tomorrow 9",
    ];
    let err = failed(&cli.offers(&args));
    assert!(err.contains("is not a time like 2026-12-04T10:00"), "{err}");
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
/// its mode and the fix once the database is readable by other users. On
/// PostgreSQL there is no database file: only the first half runs.
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
    if crate::app::on_postgres() {
        return;
    }
    let db = PathBuf::from(cli.f.db_url().trim_start_matches("sqlite://"));
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = doctor();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    assert!(stdout.contains("FAIL  data files"), "{stdout}");
    assert!(stdout.contains("0644: chmod go-rwx it"), "{stdout}");
}
