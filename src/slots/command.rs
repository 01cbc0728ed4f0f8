//! `supplyline offers accept` through the slots (#16): the command line
//! books as the desk does ([`super::book`]), so both give the same booking,
//! email and calendar event, with the same refusals (a past time, a closed
//! hour, a full slot unless `--overbook`). Without `--slot` or `--window`
//! it takes the first free slot the desk would suggest.
//!
//! Owns: reading `--slot` and `--window` as a window at the site (in the
//! site's own time zone) and picking the first free slot. Does not own
//! the rules of booking (`super`) nor the arguments (`main.rs`).

use chrono::{DateTime, Duration, NaiveDateTime, Utc};

use super::{book, site_grid, window_text_in, SlotChoice, SlotsError, GRID_DAYS};
use crate::decide::{DecideError, Desk};
use crate::outbox::ics::parse_window;
use crate::store::{BookingMode, StoreError};
use crate::values::OfferRef;

/// What the command line says about the slot.
#[derive(Debug, Clone, Default)]
pub struct AcceptArgs {
    pub site: String,
    /// `2026-12-04T10:00`: the one-hour slot from then, the site's time.
    pub slot: Option<String>,
    /// A date and times, `2026-12-04 10:00-12:00`: a longer window.
    pub window: Option<String>,
    /// The donor's address: a pickup there instead of a drop-off at the site.
    pub pickup_at: Option<String>,
    /// For the donor; the site's own notes when `None`.
    pub notes: Option<String>,
    pub overbook: bool,
}

/// Why the command line booked nothing.
#[derive(Debug, thiserror::Error)]
pub enum AcceptError {
    #[error("--slot {0:?} is not a time like 2026-12-04T10:00 (the site's own time)")]
    BadSlot(String),
    #[error("--window {0:?} is not a date and times like \"2026-12-04 10:00-12:00\"")]
    BadWindow(String),
    #[error("{0} has no opening hours, so there is no slot to suggest: give --slot or --window")]
    NoHours(String),
    #[error("{0} has no free slot in the next {GRID_DAYS} days: give --slot (and --overbook for a full one)")]
    NoFreeSlot(String),
    #[error(transparent)]
    Slots(#[from] SlotsError),
}

impl From<StoreError> for AcceptError {
    fn from(e: StoreError) -> Self {
        AcceptError::Slots(e.into())
    }
}

/// Books `offer` as `args` say, at `now`; says what was booked ("Central
/// depot, Friday 4 December 2026 10:00–11:00 PST").
pub async fn accept(
    desk: Desk<'_>,
    offer: OfferRef,
    args: &AcceptArgs,
    now: DateTime<Utc>,
) -> Result<String, AcceptError> {
    let (start, end) = window(desk, offer, args, now).await?;
    let address = args.pickup_at.as_deref().map(str::trim);
    let choice = SlotChoice {
        site: args.site.clone(),
        mode: match address {
            Some(_) => BookingMode::Pickup,
            None => BookingMode::Dropoff,
        },
        address: address.map(str::to_string),
        start,
        end,
        notes: args.notes.clone(),
        overbook: args.overbook,
    };
    book(desk, offer, &choice, now).await?;
    let zone = desk.store.site_zone(&args.site).await?;
    let mut done = format!("{}, {}", args.site, window_text_in(zone, start, end));
    if let Some(address) = address {
        done.push_str(&format!(", pickup at {address}"));
    }
    Ok(done)
}

/// The window `args` name, or the site's first free slot.
async fn window(
    desk: Desk<'_>,
    offer: OfferRef,
    args: &AcceptArgs,
    now: DateTime<Utc>,
) -> Result<(NaiveDateTime, NaiveDateTime), AcceptError> {
    if let Some(slot) = &args.slot {
        let start = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]
            .iter()
            .find_map(|f| NaiveDateTime::parse_from_str(slot.trim(), f).ok())
            .filter(|start| super::grid::bookable(start.date()))
            .ok_or_else(|| AcceptError::BadSlot(slot.clone()))?;
        return Ok((start, start + Duration::hours(1)));
    }
    if let Some(text) = &args.window {
        return parse_window(text).ok_or_else(|| AcceptError::BadWindow(text.clone()));
    }
    let store = desk.store;
    if !store
        .pickup_sites()
        .await?
        .iter()
        .any(|s| s.name == args.site)
    {
        let unknown = DecideError::UnknownSite(args.site.clone());
        return Err(SlotsError::Decide(unknown).into());
    }
    let stored = store.site_slots().await?;
    let slots = stored
        .of(&args.site)
        .map_err(SlotsError::from)?
        .ok_or_else(|| AcceptError::NoHours(args.site.clone()))?;
    let grid = site_grid(store, slots, offer.id(), now).await?;
    grid.first
        .map(|c| (c.start(), c.date.and_time(c.to)))
        .ok_or_else(|| AcceptError::NoFreeSlot(args.site.clone()))
}
