//! Slots and pickups on the offer page (#16): the slot grid (`slot-grid`)
//! with what is left in each hour at each site and the first free slot
//! preselected; accepting into a slot as a drop-off at the site or a
//! pickup at the donor's (editable) address, after previewing the email;
//! cancelling a booking; the shortfalls of what arrived. The rules are
//! `crate::slots`'; this module reads forms and builds pages.

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;
use chrono::{Duration, NaiveDate, NaiveDateTime, NaiveTime};

use super::auth::{page, CsrfOnly, Role, Session};
use super::error::WebError;
use super::message;
use super::offer::{bounded, MAX_REASON_CHARS};
use super::{flow, AppState};
use crate::decide::Decided;
use crate::slots::{self, grid, SlotChoice, SlotsError, GRID_DAYS};
use crate::store::{BookingMode, BookingState, Store, StoreError};
use crate::values::OfferRef;

impl From<SlotsError> for WebError {
    fn from(e: SlotsError) -> Self {
        match e {
            SlotsError::Decide(d) => d.into(),
            SlotsError::Slot(_) | SlotsError::NoAddress => WebError::Invalid(e.to_string()),
            SlotsError::NothingBooked | SlotsError::BadHours(_) => WebError::Refused(e.to_string()),
        }
    }
}

/// What the offer page shows of slots: the grid per site with its
/// suggestion, the booking, and the shortfalls.
pub async fn offer_context(
    store: &Store,
    offer_id: i64,
    extracted_address: Option<String>,
) -> Result<minijinja::Value, StoreError> {
    let instant = slots::now();
    // The date field's first day: the earliest "today" of any site's zone.
    let mut today = slots::Zone::Server.local(instant).date();
    let mut grids = Vec::new();
    let stored = store.site_slots().await?;
    for bad in &stored.invalid {
        tracing::error!(site = %bad.site, value = %bad.value, problem = %bad.problem,
            "a site's stored opening hours are invalid: no slots shown for it");
    }
    for s in &stored.sites {
        let slots::SiteGrid {
            zone,
            now,
            days,
            first,
        } = slots::site_grid(store, s, offer_id, instant).await?;
        today = today.min(now.date());
        let days: Vec<_> = days
            .iter()
            .map(|d| {
                minijinja::context! {
                    date => d.date.format("%Y-%m-%d").to_string(),
                    label => d.date.format("%a %-d %b").to_string(),
                    cells => d.cells.iter().map(|c| minijinja::context! {
                        from => c.from.format("%H:%M").to_string(),
                        to => c.to.format("%H:%M").to_string(),
                        left => c.left, booked => c.booked, past => c.past, free => c.is_free(),
                        suggested => first.as_ref() == Some(c),
                    }).collect::<Vec<_>>(),
                }
            })
            .collect();
        let hours = (0..GRID_DAYS)
            .flat_map(|d| {
                let date = now.date() + Duration::days(d.into());
                grid::slots_on(s, date).into_iter().map(|(f, _)| f.time())
            })
            .collect::<std::collections::BTreeSet<NaiveTime>>()
            .into_iter()
            .map(|t| t.format("%H:%M").to_string())
            .collect::<Vec<_>>();
        grids.push(minijinja::context! {
            site => &s.site, capacity => s.capacity, days, hours, timezone => zone.name(),
            suggested => first.map(|c| minijinja::context! {
                date => c.date.format("%Y-%m-%d").to_string(),
                from => c.from.format("%H:%M").to_string(),
                to => c.to.format("%H:%M").to_string(),
            }),
        });
    }
    let booking = store.booking(offer_id).await?;
    let booked = booking
        .as_ref()
        .is_some_and(|b| b.state == BookingState::Booked);
    let booking_zone = match &booking {
        Some(b) => store.site_zone(&b.site).await?.label(b.starts_at),
        None => None,
    };
    Ok(minijinja::context! {
        grids,
        invalid_hours => stored.invalid,
        today => today.format("%Y-%m-%d").to_string(),
        booking, booked, booking_zone,
        address => booking.as_ref().and_then(|b| b.address.clone()).or(extracted_address),
        shortfalls => store.shortfalls(offer_id).await?,
    })
}

#[derive(serde::Deserialize, serde::Serialize)]
pub struct SlotForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    site: String,
    #[serde(default)]
    mode: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    date: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    notes: String,
    /// Present when staff ticked "overbook".
    #[serde(default)]
    overbook: Option<String>,
}

impl SlotForm {
    fn choice(&self) -> Result<SlotChoice, WebError> {
        let date = NaiveDate::parse_from_str(self.date.trim(), "%Y-%m-%d")
            .ok()
            .filter(|d| grid::bookable(*d))
            .ok_or_else(|| WebError::Invalid("choose a date for the slot".into()))?;
        let time = |t: &str| NaiveTime::parse_from_str(t.trim(), "%H:%M");
        let (from, to) = match (time(&self.from), time(&self.to)) {
            (Ok(f), Ok(t)) if f < t => (f, t),
            _ => {
                return Err(WebError::Invalid(
                    "choose a time window that ends after it starts".into(),
                ))
            }
        };
        let mode = match self.mode.as_str() {
            "pickup" => BookingMode::Pickup,
            "dropoff" | "" => BookingMode::Dropoff,
            other => return Err(WebError::Invalid(format!("no way to hand over {other:?}"))),
        };
        let notes = bounded(&self.notes, "pickup notes", MAX_REASON_CHARS)?;
        let address = bounded(&self.address, "the pickup address", 500)?;
        Ok(SlotChoice {
            site: self.site.clone(),
            mode,
            address: (!address.is_empty()).then(|| address.to_string()),
            start: NaiveDateTime::new(date, from),
            end: NaiveDateTime::new(date, to),
            notes: (!notes.is_empty()).then(|| notes.to_string()),
            overbook: self.overbook.is_some(),
        })
    }
}

/// The email of an accept into the chosen slot, as it would go; a bad
/// choice comes back beside the accept form.
pub async fn preview(
    State(state): State<AppState>,
    session: Session,
    Path(offer): Path<OfferRef>,
    RawQuery(raw): RawQuery,
    Form(form): Form<SlotForm>,
) -> Result<Response, WebError> {
    session.may_change(&form.csrf, Role::Triager)?;
    let shown = async {
        let choice = form.choice()?;
        let (reply, overbooked) =
            slots::preview(state.desk(&session), offer, &choice, slots::now()).await?;
        let body = message::view(&reply.raw, &[]);
        let zone = state.store.site_zone(&choice.site).await?;
        let ctx = minijinja::context! {
            o => state.store.offer(offer.id()).await?.offer,
            to => &reply.to_address, subject => &reply.subject, body => body.segments,
            window => slots::window_text_in(zone, choice.start, choice.end), form => &form, overbooked,
            pickup => choice.mode == BookingMode::Pickup,
            trail => flow::Trail::from_query(raw.as_deref()).qs(),
        };
        Ok(page(&state, &session, "slots_preview.html", ctx)?.into_response())
    }
    .await;
    let at = (&state, &session, offer);
    Ok(flow::or_beside(shown, at, raw.as_deref(), "accept", &form).await)
}

/// Accepts into the chosen slot, with the desk's undo window, and goes on
/// to the next offer of the queue ([`flow`]).
pub async fn accept(
    State(state): State<AppState>,
    session: Session,
    Path(offer): Path<OfferRef>,
    RawQuery(raw): RawQuery,
    Form(form): Form<SlotForm>,
) -> Result<Response, WebError> {
    session.may_change(&form.csrf, Role::Triager)?;
    let done = async {
        let choice = form.choice()?;
        let d = flow::Deciding::start(&state, &session, offer, raw.as_deref()).await?;
        let hold = d.hold();
        let desk = state.desk(&session);
        let tx = slots::book_tx(desk, offer, &choice, slots::now(), hold).await?;
        d.finish(tx, Decided::Accepted, hold).await
    }
    .await;
    let at = (&state, &session, offer);
    Ok(flow::or_beside(done, at, raw.as_deref(), "accept", &form).await)
}

pub async fn cancel(
    State(state): State<AppState>,
    session: Session,
    Path(offer): Path<OfferRef>,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, WebError> {
    session.may_change(&form.csrf, Role::Triager)?;
    slots::cancel(state.desk(&session), offer).await?;
    Ok(Redirect::to(&format!("/offers/{}#decision", offer.id())).into_response())
}

/// The dashboard's shortfalls, newest offers first, with their references.
pub async fn dashboard_shortfalls(store: &Store) -> Result<Vec<minijinja::Value>, StoreError> {
    Ok(store
        .recent_shortfalls(100)
        .await?
        .into_iter()
        .map(|s| {
            minijinja::context! {
                reference => OfferRef::from(s.offer_id).to_string(), ..minijinja::Value::from_serialize(&s)
            }
        })
        .collect())
}
