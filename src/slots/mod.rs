//! Slots and pickups (#16): when and where a donation changes hands. Staff
//! book an accepted offer into an hourly slot of a site ([`book`]), as a
//! drop-off at the site or a pickup at the donor's address; a site's
//! opening hours and capacity ([`hours`]) say which slots exist and how
//! many each takes ([`grid`]). Booking again reschedules (the donor's
//! calendar event keeps its UID, with a higher SEQUENCE); [`cancel`] sends
//! a cancellation (`METHOD:CANCEL`) and frees the slot. A donor's reply
//! that asks for another time ([`asks_reschedule`]) reopens the offer.
//! Each site's times are wall-clock times in its own zone ([`zone`]): "now",
//! "past" and the first free slot are measured there, the donor reads the
//! window with the zone's abbreviation, and the invite has UTC times.
//! The command line books through here too ([`command`]).
//!
//! Owns: the rules of booking (no past time, inside opening hours, no
//! overbooking unless staff say so, checked under the decision's lock) and
//! the values of the emails. Does not own: SQL (`store::slots`), the pages
//! (`web::slots`), the calendar file (`outbox::ics`).

pub mod command;
pub mod grid;
pub mod hours;
pub mod zone;

use chrono::{DateTime, Duration, NaiveDateTime, Timelike, Utc};

use crate::decide::{self, DecideError, Desk};
use crate::outbox::kinds::ReplyKind;
use crate::state::OfferStatus;
use crate::store::{
    Booking, BookingMode, BookingState, DecisionTx, NewReply, PickupSite, Store, StoreError,
};
use crate::values::OfferRef;
use grid::SlotError;
use hours::SiteSlots;
pub use zone::Zone;

/// How many days the grid shows, from today.
pub const GRID_DAYS: u32 = 7;

/// The suggested slot starts at least this long from now, so the donor
/// has time to read the email (staff may still choose a sooner one).
pub const SUGGEST_AFTER: chrono::Duration = chrono::Duration::hours(1);

/// The template values that carry the calendar event's identity; not for
/// templates (they are checked without them), only for the `.ics`.
pub const CALENDAR_UID: &str = "calendar_uid";
pub const CALENDAR_SEQUENCE: &str = "calendar_sequence";
/// The window's start and end as UTC (`20261204T170000Z`), for a site with
/// a time zone; without them the invite reads the window's floating times.
pub const CALENDAR_START: &str = "calendar_start";
pub const CALENDAR_END: &str = "calendar_end";

/// What staff chose on the accept form.
#[derive(Debug, Clone)]
pub struct SlotChoice {
    pub site: String,
    pub mode: BookingMode,
    /// The donor's address, for a pickup there.
    pub address: Option<String>,
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
    /// For the donor; the site's own notes when `None`.
    pub notes: Option<String>,
    /// Book even when a slot is full.
    pub overbook: bool,
}

/// Why a slot was not booked or cancelled.
#[derive(Debug, thiserror::Error)]
pub enum SlotsError {
    #[error(transparent)]
    Slot(#[from] SlotError),
    #[error("a pickup at the donor's address needs the address")]
    NoAddress,
    #[error("this offer has no booked pickup to cancel")]
    NothingBooked,
    #[error(transparent)]
    Decide(#[from] DecideError),
    /// The site's stored hours cannot be read: nothing is booked there
    /// until the needs file is loaded again.
    #[error(transparent)]
    BadHours(#[from] crate::store::BadSiteHours),
}

impl From<crate::store::StoreError> for SlotsError {
    fn from(e: crate::store::StoreError) -> Self {
        SlotsError::Decide(e.into())
    }
}

/// The window as the donor reads it: "Friday 4 December 2026 09:00–10:00".
pub fn window_text(start: NaiveDateTime, end: NaiveDateTime) -> String {
    format!(
        "{} {}–{}",
        start.format("%A %-d %B %Y"),
        start.format("%H:%M"),
        end.format("%H:%M")
    )
}

/// The window with the site's zone after it when the needs file names
/// one: "Friday 4 December 2026 09:00–10:00 PST".
pub fn window_text_in(zone: Zone, start: NaiveDateTime, end: NaiveDateTime) -> String {
    let text = window_text(start, end);
    match zone.label(start) {
        Some(label) => format!("{text} {label}"),
        None => text,
    }
}

/// The current time, to the minute: what "past" is measured against, at
/// each site in its own zone ([`Zone::local`]).
pub fn now() -> DateTime<Utc> {
    let now = Utc::now();
    now.with_second(0)
        .and_then(|n| n.with_nanosecond(0))
        .unwrap_or(now)
}

/// A site's slot grid as staff see it, from "now" at the site.
#[derive(Debug, Clone)]
pub struct SiteGrid {
    pub zone: Zone,
    /// The wall-clock time at the site.
    pub now: NaiveDateTime,
    /// [`GRID_DAYS`] days; an hour the clocks skip is left out.
    pub days: Vec<grid::Day>,
    /// The first free slot at least [`SUGGEST_AFTER`] from now.
    pub first: Option<grid::Cell>,
}

/// The grid of `slots`'s site at `now`, with `offer_id`'s own booking not
/// counted (it is the one being moved).
pub async fn site_grid(
    store: &Store,
    slots: &SiteSlots,
    offer_id: i64,
    now: DateTime<Utc>,
) -> Result<SiteGrid, StoreError> {
    let zone = store.site_zone(&slots.site).await?;
    let local = zone.local(now);
    let until = local + Duration::days(GRID_DAYS.into());
    let bookings = store
        .site_bookings(&slots.site, (local, until), offer_id)
        .await?;
    let mut days = grid::grid(slots, &bookings, local, GRID_DAYS);
    for day in &mut days {
        day.cells.retain(|c| zone.instant(c.start()).is_some());
    }
    let first = grid::first_free(&days, local + SUGGEST_AFTER).cloned();
    Ok(SiteGrid {
        zone,
        now: local,
        days,
        first,
    })
}

/// The email [`book`] would send for `choice`, and whether it would overbook.
pub async fn preview(
    desk: Desk<'_>,
    offer: OfferRef,
    choice: &SlotChoice,
    now: DateTime<Utc>,
) -> Result<(NewReply, bool), SlotsError> {
    let (site, zone, now) = checked_site(desk, choice, now).await?;
    let bookings = desk
        .store
        .site_bookings(&choice.site, (choice.start, choice.end), offer.id())
        .await?;
    let over = fits(desk, choice, &bookings, now).await?;
    let existing = desk.store.booking(offer.id()).await?;
    let booking = next_booking(offer, choice, existing.as_ref(), over);
    Ok((
        email(desk, offer, choice, &site, zone, &booking).await?,
        over,
    ))
}

/// Accepts `offer` into `choice`'s slot (or moves it there): refuses a past
/// time, a time the site is closed, and a full slot unless overbooking;
/// queues the drop-off or pickup email with the calendar event.
pub async fn book(
    desk: Desk<'_>,
    offer: OfferRef,
    choice: &SlotChoice,
    now: DateTime<Utc>,
) -> Result<(), SlotsError> {
    let tx = book_tx(desk, offer, choice, now, None).await?;
    Ok(tx.commit().await.map_err(DecideError::from)?)
}

/// [`book`] up to its commit, its email due at `hold` (the end of the
/// desk's undo window; now when `None`).
pub async fn book_tx(
    desk: Desk<'_>,
    offer: OfferRef,
    choice: &SlotChoice,
    now: DateTime<Utc>,
    hold: Option<i64>,
) -> Result<DecisionTx, SlotsError> {
    let (site, zone, now) = checked_site(desk, choice, now).await?;
    let id = offer.id();
    let mut tx = decide::begin(desk, offer, OfferStatus::Scheduled, hold).await?;
    let bookings = tx
        .site_bookings(&choice.site, (choice.start, choice.end), id)
        .await?;
    let over = fits(desk, choice, &bookings, now).await?;
    let existing = tx.booking(id).await?;
    let booking = next_booking(offer, choice, existing.as_ref(), over);
    let email = email(desk, offer, choice, &site, zone, &booking).await?;
    let window = window_text_in(zone, choice.start, choice.end);
    tx.set_pickup(id, &choice.site, &window).await?;
    tx.save_booking(&booking).await?;
    let mut detail = format!("{}, {window}", choice.site);
    if let Some(address) = &booking.address {
        detail.push_str(&format!(", pickup at {address}"));
    }
    if over {
        detail.push_str(", overbooked");
    }
    let action = match existing.map(|b| b.state) {
        Some(BookingState::Booked) => "rescheduled",
        _ => "accepted",
    };
    tx.audit(desk.actor, Some(id), action, &detail).await?;
    tx.enqueue(id, &email).await?;
    Ok(tx)
}

/// Cancels the offer's booked pickup or drop-off: the donor gets a
/// cancellation of the same calendar event, the slot is freed, and the
/// offer goes back to staff as `new`.
pub async fn cancel(desk: Desk<'_>, offer: OfferRef) -> Result<(), SlotsError> {
    let id = offer.id();
    let mut tx = desk.store.begin_decision().await?;
    let status = tx.offer_status(id).await?;
    let booking = match tx.booking(id).await? {
        Some(b) if b.state == BookingState::Booked && !status.is_closed() => b,
        _ => return Err(SlotsError::NothingBooked),
    };
    let cancelled = Booking {
        sequence: booking.sequence + 1,
        state: BookingState::Cancelled,
        ..booking
    };
    let site = site_named(desk, &cancelled.site).await?;
    let zone = desk.store.site_zone(&cancelled.site).await?;
    let address = cancelled.address.clone().unwrap_or(site.address);
    let (start, end) = (cancelled.starts_at, cancelled.ends_at);
    let window = window_text_in(zone, start, end);
    let sequence = cancelled.sequence.to_string();
    let mut values = vec![
        ("pickup_site", cancelled.site.clone()),
        ("pickup_address", address),
        ("pickup_window", window.clone()),
        (CALENDAR_UID, cancelled.uid.clone()),
        (CALENDAR_SEQUENCE, sequence),
    ];
    values.extend(calendar_times(zone, start, end));
    let values: Vec<(&str, &str)> = values.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let email = decide::staff_email(desk, offer, ReplyKind::Cancellation, &values).await?;
    tx.set_status(id, OfferStatus::New).await?;
    tx.clear_pickup(id).await?;
    tx.save_booking(&cancelled).await?;
    let detail = format!("{}, {window}", cancelled.site);
    tx.audit(desk.actor, Some(id), "pickup_cancelled", &detail)
        .await?;
    tx.enqueue(id, &email).await?;
    Ok(tx.commit().await.map_err(DecideError::from)?)
}

/// Whether a donor's reply asks for another time. Quoted lines (our own
/// email, which offers to find another time) are not read.
pub fn asks_reschedule(text: &str) -> bool {
    const ASKS: &[&str] = &[
        "reschedul",
        "another time",
        "another day",
        "different time",
        "different day",
        "other time",
        "can't make it",
        "can’t make it",
        "cannot make it",
        "can not make it",
        "change the time",
        "change the date",
        "move the pickup",
        "move the drop",
        "postpone",
        "otro día",
        "otra hora",
        "cambiar la fecha",
    ];
    let own: String = text
        .lines()
        .take_while(|l| !(l.starts_with("On ") && l.trim_end().ends_with("wrote:")))
        .filter(|l| !l.trim_start().starts_with('>'))
        .collect::<Vec<_>>()
        .join("\n")
        .to_lowercase();
    ASKS.iter().any(|a| own.contains(a))
}

async fn site_named(desk: Desk<'_>, name: &str) -> Result<PickupSite, SlotsError> {
    Ok(desk
        .store
        .pickup_sites()
        .await?
        .into_iter()
        .find(|s| s.name == name)
        .ok_or_else(|| DecideError::UnknownSite(name.to_string()))?)
}

/// The site, its zone and the time there at `now`, once the choice is
/// known not to be past there, to happen (not an hour the clocks skip),
/// and to have an address when it needs one.
async fn checked_site(
    desk: Desk<'_>,
    choice: &SlotChoice,
    now: DateTime<Utc>,
) -> Result<(PickupSite, Zone, NaiveDateTime), SlotsError> {
    let zone = desk.store.site_zone(&choice.site).await?;
    let now = zone.local(now);
    grid::check_not_past(choice.start, now)?;
    if zone.instant(choice.start).is_none() {
        let at = choice.start.format("%A %-d %B %Y %H:%M").to_string();
        return Err(SlotError::Skipped(at).into());
    }
    if choice.mode == BookingMode::Pickup
        && choice
            .address
            .as_deref()
            .is_none_or(|a| a.trim().is_empty())
    {
        return Err(SlotsError::NoAddress);
    }
    Ok((site_named(desk, &choice.site).await?, zone, now))
}

/// The invite's UTC start and end for a site with a zone; none for the
/// server's zone (the invite keeps floating times, as the email reads).
fn calendar_times(
    zone: Zone,
    start: NaiveDateTime,
    end: NaiveDateTime,
) -> Vec<(&'static str, String)> {
    let (Zone::Iana(_), Some((from, to))) = (zone, zone.window(start, end)) else {
        return Vec::new();
    };
    let utc = |t: DateTime<Utc>| t.format("%Y%m%dT%H%M%SZ").to_string();
    vec![(CALENDAR_START, utc(from)), (CALENDAR_END, utc(to))]
}

/// Whether the choice fits the site's hours and capacity given the other
/// `bookings`; `Ok(true)` when it overbooks. A site without hours takes any
/// time that is not past.
async fn fits(
    desk: Desk<'_>,
    choice: &SlotChoice,
    bookings: &[(NaiveDateTime, NaiveDateTime)],
    now: NaiveDateTime,
) -> Result<bool, SlotsError> {
    let stored = desk.store.site_slots().await?;
    match stored.of(&choice.site)? {
        Some(slots) => Ok(grid::check(
            slots,
            bookings,
            (choice.start, choice.end),
            now,
            choice.overbook,
        )?),
        None => Ok(false),
    }
}

/// The booking after this choice: the same event (UID) one SEQUENCE on
/// when one is booked, else a new event (after a cancellation too: the
/// donor's calendar has removed the old one).
fn next_booking(
    offer: OfferRef,
    choice: &SlotChoice,
    existing: Option<&Booking>,
    overbooked: bool,
) -> Booking {
    let (uid, sequence) = match existing.filter(|b| b.state == BookingState::Booked) {
        Some(b) => (b.uid.clone(), b.sequence + 1),
        None => {
            let tag: u64 = rand::random();
            let uid = format!(
                "slot.{}.{tag:016x}@supplyline",
                offer.to_string().to_lowercase()
            );
            (uid, 0)
        }
    };
    Booking {
        offer_id: offer.id(),
        site: choice.site.clone(),
        starts_at: choice.start,
        ends_at: choice.end,
        mode: choice.mode,
        address: match choice.mode {
            BookingMode::Pickup => choice.address.as_ref().map(|a| a.trim().to_string()),
            BookingMode::Dropoff => None,
        },
        uid,
        sequence,
        state: BookingState::Booked,
        overbooked,
    }
}

/// The drop-off or pickup email for `booking`, with its calendar event.
async fn email(
    desk: Desk<'_>,
    offer: OfferRef,
    choice: &SlotChoice,
    site: &PickupSite,
    zone: Zone,
    booking: &Booking,
) -> Result<NewReply, SlotsError> {
    let window = window_text_in(zone, choice.start, choice.end);
    let notes = choice.notes.as_deref().unwrap_or(&site.notes);
    let (kind, address) = match &booking.address {
        Some(address) => (ReplyKind::Collection, address.as_str()),
        None => (ReplyKind::Pickup, site.address.as_str()),
    };
    let sequence = booking.sequence.to_string();
    let calendar = calendar_times(zone, choice.start, choice.end);
    let mut values = vec![
        ("pickup_site", site.name.as_str()),
        ("pickup_address", address),
        ("pickup_window", window.as_str()),
        ("pickup_notes", notes),
        (CALENDAR_UID, booking.uid.as_str()),
        (CALENDAR_SEQUENCE, sequence.as_str()),
    ];
    values.extend(calendar.iter().map(|(k, v)| (*k, v.as_str())));
    Ok(decide::staff_email(desk, offer, kind, &values).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_asking_for_another_time_is_recognised() {
        assert!(asks_reschedule("Hi, can we reschedule to Monday?"));
        assert!(asks_reschedule("Sorry, I can't make it on Friday."));
        assert!(asks_reschedule("¿Podemos cambiar la fecha?"));
        assert!(!asks_reschedule("Thanks, see you Friday!"));
        let quoted = "See you then.\n\nOn Fri, 4 Dec 2026, Desk wrote:\n> If this time does not work, reply; we can reschedule.";
        assert!(!asks_reschedule(quoted));
        assert!(!asks_reschedule("Great.\n> we can find another time"));
    }

    #[test]
    fn a_booked_event_moves_and_a_cancelled_one_is_replaced() {
        let d = chrono::NaiveDate::from_ymd_opt(2026, 12, 7).unwrap();
        let choice = SlotChoice {
            site: "Depot".into(),
            mode: BookingMode::Pickup,
            address: Some(" 22 Ocean Ave ".into()),
            start: d.and_hms_opt(9, 0, 0).unwrap(),
            end: d.and_hms_opt(10, 0, 0).unwrap(),
            notes: None,
            overbook: false,
        };
        let offer = OfferRef::from(7);
        let first = next_booking(offer, &choice, None, false);
        assert_eq!(
            (first.sequence, first.address.as_deref()),
            (0, Some("22 Ocean Ave"))
        );
        assert!(first.uid.starts_with("slot.sl-000007."), "{}", first.uid);
        let moved = next_booking(offer, &choice, Some(&first), true);
        assert_eq!(
            (moved.uid.as_str(), moved.sequence),
            (first.uid.as_str(), 1)
        );
        assert!(moved.overbooked);
        let cancelled = Booking {
            state: BookingState::Cancelled,
            sequence: 2,
            ..moved
        };
        let again = next_booking(offer, &choice, Some(&cancelled), false);
        assert_ne!(again.uid, first.uid);
        assert_eq!(again.sequence, 0);
        let dropoff = SlotChoice {
            mode: BookingMode::Dropoff,
            ..choice
        };
        assert_eq!(next_booking(offer, &dropoff, None, false).address, None);
    }

    #[tokio::test]
    async fn the_grid_follows_the_sites_clock_and_leaves_out_the_hour_skipped_in_spring() {
        let store = Store::open("sqlite::memory:").await.unwrap();
        let mut week = hours::WeekHours::default();
        week.days[6] = hours::parse_day("00:00-04:00").unwrap(); // Sundays
        let site = SiteSlots {
            site: "Night depot".into(),
            hours: week,
            capacity: 1,
        };
        store
            .load_site_slots(std::slice::from_ref(&site))
            .await
            .unwrap();
        let la = Zone::parse("America/Los_Angeles").unwrap();
        store
            .load_site_zones(&[(site.site.clone(), la)])
            .await
            .unwrap();
        // Saturday 7 March 2026 23:30 in Los Angeles; the clocks skip 02:00
        // that night. The server's zone plays no part.
        let now = chrono::NaiveDate::from_ymd_opt(2026, 3, 8)
            .unwrap()
            .and_hms_opt(7, 30, 0)
            .unwrap()
            .and_utc();
        let g = site_grid(&store, &site, 0, now).await.unwrap();
        assert_eq!(
            (g.zone, g.now.format("%a %H:%M").to_string()),
            (la, "Sat 23:30".into())
        );
        let sunday = g.days.iter().find(|d| !d.cells.is_empty()).unwrap();
        let hours: Vec<_> = sunday
            .cells
            .iter()
            .map(|c| c.from.format("%H:%M").to_string())
            .collect();
        assert_eq!(hours, ["00:00", "01:00", "03:00"]);
        let first = g.first.unwrap();
        assert_eq!(first.start().format("%a %H:%M").to_string(), "Sun 01:00");
        assert_eq!(
            window_text_in(
                la,
                first.start(),
                first.start() + chrono::Duration::hours(1)
            ),
            "Sunday 8 March 2026 01:00–02:00 PST"
        );
        assert_eq!(
            calendar_times(
                la,
                first.start(),
                first.start() + chrono::Duration::hours(1)
            ),
            [
                (CALENDAR_START, "20260308T090000Z".to_string()),
                (CALENDAR_END, "20260308T100000Z".to_string())
            ]
        );
        assert!(calendar_times(Zone::Server, first.start(), first.start()).is_empty());
    }

    #[test]
    fn the_window_reads_as_the_donor_sees_it() {
        let d = chrono::NaiveDate::from_ymd_opt(2026, 12, 4).unwrap();
        let w = window_text(
            d.and_hms_opt(9, 0, 0).unwrap(),
            d.and_hms_opt(10, 0, 0).unwrap(),
        );
        assert_eq!(w, "Friday 4 December 2026 09:00–10:00");
    }
}
