//! The desk's flow (#16): after a decision the desk goes to the next offer
//! of the same filtered queue (the filters and sort ride along in the URL as
//! a [`Trail`]), or back to the queue saying it is empty; every decision
//! opens an undo window (`web.undo_secs`) during which its email waits in
//! the outbox, and Undo discards the email and puts the offer back; any
//! closed offer can be reopened; declines are previewed as accepts are; a
//! merge of two donors' offers and an item's removal ask first; and what
//! staff typed comes back beside the field with the error, on the offer
//! page, instead of an error page.
//!
//! Owns: the decision routes' answers (redirects after POST, so Back never
//! sends a form again), the undo and reopen routes, the confirmation and
//! decline preview pages. Does not own: what each decision writes
//! (`decide`), the SQL of undo windows and neighbours (`store::undos`).

use axum::extract::{Path, Query, RawQuery, State};
use axum::http::Uri;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;
use serde::Serialize;

use super::auth::{page, CsrfOnly, Role, Session};
use super::error::WebError;
use super::offer::{self, bounded, DeclineForm, MergeForm, ReceivedForm};
use super::queue::QueueForm;
use super::{message, AppState};
use crate::decide::{self, Decided};
use crate::state::OfferStatus;
use crate::store::{DecisionTx, OfferBefore, QueueFilter};
use crate::values::{BadQuantity, OfferRef, Quantity};

/// Query keys the flow itself adds, never carried further.
const OWN_KEYS: &[&str] = &[
    "undo",
    "undone",
    "empty",
    "done",
    "skipped",
    // web::batches
    "undo_batch",
    "undone_batch",
    "undone_what",
    "kept",
    "undo_refused",
];
/// The longest value of a carried key (as the queue cuts its filters).
const MAX_VALUE_CHARS: usize = 200;

/// The queue's filters, sort and page as they came in the URL, carried from
/// the queue to an offer, through its forms, and on to the next offer.
#[derive(Debug, Clone, Default)]
pub struct Trail {
    pairs: Vec<(String, String)>,
}

impl Trail {
    /// The trail in a request's query (the flow's own keys left out).
    pub fn from_query(raw: Option<&str>) -> Trail {
        let pairs: Vec<(String, String)> = query_or_default(raw);
        let pairs = pairs
            .into_iter()
            .filter(|(k, v)| !OWN_KEYS.contains(&k.as_str()) && !v.is_empty() && k.len() < 32)
            .map(|(k, mut v)| {
                if let Some((cut, _)) = v.char_indices().nth(MAX_VALUE_CHARS) {
                    v.truncate(cut);
                }
                (k, v)
            })
            .take(20)
            .collect();
        Trail { pairs }
    }

    /// The trail as a query string, each pair followed by `&` (empty when
    /// there is none), so a link appends its own keys after it.
    pub fn qs(&self) -> String {
        self.pairs
            .iter()
            .map(|(k, v)| format!("{}={}&", urlencode(k), urlencode(v)))
            .collect()
    }

    /// The queue filter the trail names (the default queue when it names
    /// none or one the queue would refuse).
    pub fn filter(&self, me: &str) -> QueueFilter {
        let uri: Option<Uri> = format!("/?{}", self.qs()).parse().ok();
        uri.and_then(|uri| Query::<QueueForm>::try_from_uri(&uri).ok())
            .and_then(|Query(form)| form.filter(me).ok())
            .unwrap_or_default()
    }
}

fn urlencode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The query string `raw` read as `T`; a missing or unreadable one is
/// `T::default()` (the flow's flags are hints, never required).
pub(super) fn query_or_default<T: serde::de::DeserializeOwned + Default>(raw: Option<&str>) -> T {
    let uri: Option<Uri> = raw.and_then(|q| format!("/?{q}").parse().ok());
    uri.and_then(|uri| Query::<T>::try_from_uri(&uri).ok())
        .map(|Query(v)| v)
        .unwrap_or_default()
}

/// How long a site without an undo time (`web.undo_secs = 0`) still shows
/// a decision's confirmation, without Undo, to the one who made it: long
/// enough for the page the decision leads to.
const CONFIRM_MS: i64 = 60_000;

/// Whether the confirmation of a change `actor` made, undoable until
/// `undo_until` (and `undone` or not), shows to `session` now: only to the
/// one who made it, and only while it can still be undone (`Some(Some(ms
/// left))`); a site without an undo time confirms it without Undo for
/// [`CONFIRM_MS`] (`Some(None)`). None: no confirmation, as for a window of
/// a colleague or one long over put in the URL.
pub(super) fn confirmation(
    state: &AppState,
    session: &Session,
    actor: &str,
    undo_until: i64,
    undone: bool,
) -> Option<Option<i64>> {
    if undone || actor != session.user.email {
        return None;
    }
    let left = undo_until - crate::store::now_ms();
    if left > 0 {
        return Some(Some(left));
    }
    (state.undo_ms == 0 && -left < CONFIRM_MS).then_some(None)
}

/// What the flow adds to the queue and offer pages: the trail, the undo
/// window just opened (`?undo=`, shown as [`confirmation`] says), an undo
/// just made (`?undone=1`), and the queue found empty after a decision
/// (`?empty=1`).
pub async fn banner(
    state: &AppState,
    session: &Session,
    raw: Option<&str>,
) -> Result<minijinja::Value, WebError> {
    #[derive(serde::Deserialize, Default)]
    #[serde(default)]
    struct Flags {
        undo: String,
        undone: String,
        empty: String,
    }
    let flags: Flags = query_or_default(raw);
    let window = match flags.undo.parse::<i64>() {
        Ok(id) => state.store.undo_window(id).await?,
        Err(_) => None,
    };
    let (window, left_ms) = window
        .and_then(|w| {
            let shown = confirmation(
                state,
                session,
                &w.actor,
                w.undo_until,
                w.undone_at.is_some(),
            );
            shown.map(|left| (w, left))
        })
        .unzip();
    let undo_ref = window
        .as_ref()
        .map(|w| OfferRef::from(w.offer_id).to_string());
    Ok(minijinja::context! {
        trail => Trail::from_query(raw).qs(),
        undo => window, undo_left_ms => left_ms.flatten(), undo_ref,
        undone => flags.undone == "1",
        queue_empty => flags.empty == "1",
    })
}

/// The offer page with `error` shown beside the form `form` and what staff
/// typed (`typed`) back in its fields, answered with the error's status
/// (400 for what was typed, 409 for a refusal); an error that is not
/// about what was typed (no session, no such offer, a failure of ours) is
/// answered as before.
pub async fn beside(
    state: &AppState,
    session: &Session,
    offer_id: i64,
    raw: Option<&str>,
    form: &str,
    typed: impl Serialize,
    error: WebError,
) -> Response {
    let message = match &error {
        WebError::Invalid(m) | WebError::Refused(m) => m.clone(),
        _ => return error.into_response(),
    };
    let status = error.status();
    let mut errors = std::collections::BTreeMap::new();
    errors.insert(form.to_string(), message);
    let extra = minijinja::context! {
        errors, typed => minijinja::Value::from_serialize(&typed),
    };
    match offer::render_offer(state, session, offer_id, raw, extra).await {
        Ok(page) => (status, page).into_response(),
        Err(e) => e.into_response(),
    }
}

/// A decision as the desk makes it: what the offer was, where the queue
/// goes next, and the undo window.
pub(super) struct Deciding<'a> {
    state: &'a AppState,
    session: &'a Session,
    offer: OfferRef,
    trail: Trail,
    before: OfferBefore,
    next: Option<i64>,
}

impl<'a> Deciding<'a> {
    pub(super) async fn start(
        state: &'a AppState,
        session: &'a Session,
        offer: OfferRef,
        raw: Option<&str>,
    ) -> Result<Deciding<'a>, WebError> {
        let trail = Trail::from_query(raw);
        let before = state.store.offer_before(offer.id()).await?;
        let (_, next) = state
            .store
            .queue_neighbours(&trail.filter(&session.user.email), offer.id())
            .await?;
        Ok(Deciding {
            state,
            session,
            offer,
            trail,
            before,
            next,
        })
    }

    /// When the decision's email may leave: the end of the undo window.
    pub(super) fn hold(&self) -> Option<i64> {
        (self.state.undo_ms > 0).then(|| crate::store::now_ms() + self.state.undo_ms)
    }

    /// Opens the undo window, commits, and goes to the next offer of the
    /// queue (or back to the queue, empty).
    pub(super) async fn finish(
        self,
        mut tx: DecisionTx,
        decided: Decided,
        hold: Option<i64>,
    ) -> Result<Response, WebError> {
        let (action, status_after) = (decided.action(), decided.status_after());
        let id = self.offer.id();
        // Without an undo time the window closes as it opens: the desk
        // still confirms the decision, without an Undo.
        let until = hold.unwrap_or_else(crate::store::now_ms);
        let actor = &self.session.user.email;
        let w = tx
            .open_undo_window(id, actor, action, status_after, &self.before, until)
            .await?;
        let undo = format!("undo={w}");
        tx.commit().await?;
        let filter = self.trail.filter(&self.session.user.email);
        let next = match self.next {
            Some(next) => Some(next),
            None => self.state.store.queue_first_except(&filter, id).await?,
        };
        let qs = self.trail.qs();
        let to = match next {
            Some(next) => format!("/offers/{next}?{qs}{undo}"),
            None => format!("/?{qs}empty=1&{undo}"),
        };
        Ok(Redirect::to(to.trim_end_matches(['&', '?'])).into_response())
    }
}

/// `result`, or the offer page with its error beside `form`.
pub(super) async fn or_beside(
    result: Result<Response, WebError>,
    (state, session, offer): (&AppState, &Session, OfferRef),
    raw: Option<&str>,
    form: &str,
    typed: impl Serialize,
) -> Response {
    match result {
        Ok(r) => r,
        Err(e) => beside(state, session, offer.id(), raw, form, typed, e).await,
    }
}

/// The decline email as it would go (or a note that none goes), before
/// staff decline.
pub async fn decline_preview(
    State(state): State<AppState>,
    session: Session,
    Path(offer): Path<OfferRef>,
    RawQuery(raw): RawQuery,
    Form(form): Form<DeclineForm>,
) -> Result<Response, WebError> {
    session.may_change(&form.csrf, Role::Triager)?;
    let shown = async {
        let reason = bounded(&form.reason, "a decline reason", offer::MAX_REASON_CHARS)?;
        let o = state.store.offer(offer.id()).await?.offer;
        if !o.status.can_become(OfferStatus::Declined) {
            return Err(decide::DecideError::Closed(o.status).into());
        }
        let email = match form.notify.is_some() {
            true => {
                let reply = decide::decline_email(state.desk(&session), offer, reason).await?;
                let body = message::view(&reply.raw, &[]).segments;
                Some(minijinja::context! { to => reply.to_address, subject => reply.subject, body })
            }
            false => None,
        };
        let ctx = minijinja::context! {
            o, email, form => &form, trail => Trail::from_query(raw.as_deref()).qs(),
        };
        Ok(page(&state, &session, "decline_preview.html", ctx)?.into_response())
    }
    .await;
    let at = (&state, &session, offer);
    Ok(or_beside(shown, at, raw.as_deref(), "decline", &form).await)
}

pub async fn decline(
    State(state): State<AppState>,
    session: Session,
    Path(offer): Path<OfferRef>,
    RawQuery(raw): RawQuery,
    Form(form): Form<DeclineForm>,
) -> Result<Response, WebError> {
    session.may_change(&form.csrf, Role::Triager)?;
    let done = async {
        let reason = bounded(&form.reason, "a decline reason", offer::MAX_REASON_CHARS)?;
        let notify = form.notify.is_some();
        let d = Deciding::start(&state, &session, offer, raw.as_deref()).await?;
        let hold = d.hold();
        let tx = decide::decline_tx(state.desk(&session), offer, reason, notify, hold).await?;
        d.finish(tx, Decided::Declined, hold).await
    }
    .await;
    let at = (&state, &session, offer);
    Ok(or_beside(done, at, raw.as_deref(), "decline", &form).await)
}

pub async fn spam(
    State(state): State<AppState>,
    session: Session,
    Path(offer): Path<OfferRef>,
    RawQuery(raw): RawQuery,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, WebError> {
    session.may_change(&form.csrf, Role::Triager)?;
    let done = async {
        let d = Deciding::start(&state, &session, offer, raw.as_deref()).await?;
        let hold = d.hold();
        let tx = decide::spam_tx(state.desk(&session), offer).await?;
        d.finish(tx, Decided::MarkedSpam, hold).await
    }
    .await;
    let at = (&state, &session, offer);
    Ok(or_beside(done, at, raw.as_deref(), "spam", ()).await)
}

/// Merges; when the two offers are from different donors, asks first.
pub async fn merge(
    State(state): State<AppState>,
    session: Session,
    Path(offer): Path<OfferRef>,
    RawQuery(raw): RawQuery,
    Form(form): Form<MergeForm>,
) -> Result<Response, WebError> {
    session.may_change(&form.csrf, Role::Triager)?;
    let done = async {
        let into: OfferRef = form.into.trim().parse().map_err(|_| {
            WebError::Invalid(
                "type the reference of the offer to merge into, like SL-000042".into(),
            )
        })?;
        let from = state.store.offer(offer.id()).await?.offer;
        let target = match state.store.offer(into.id()).await {
            Err(crate::store::StoreError::NotFound(_)) => {
                return Err(WebError::Invalid(format!("there is no offer {into}")));
            }
            other => other?.offer,
        };
        if !from.donor_email.eq_ignore_ascii_case(&target.donor_email) && form.confirmed.is_none() {
            let ctx = minijinja::context! {
                o => from, target, form => &form, trail => Trail::from_query(raw.as_deref()).qs(),
            };
            return Ok(page(&state, &session, "merge_confirm.html", ctx)?.into_response());
        }
        let d = Deciding::start(&state, &session, offer, raw.as_deref()).await?;
        let hold = d.hold();
        let tx = decide::merge_tx(state.desk(&session), offer, into).await?;
        d.finish(tx, Decided::MergedInto, hold).await
    }
    .await;
    let at = (&state, &session, offer);
    Ok(or_beside(done, at, raw.as_deref(), "merge", &form).await)
}

pub async fn received(
    State(state): State<AppState>,
    session: Session,
    Path(offer): Path<OfferRef>,
    RawQuery(raw): RawQuery,
    Form(form): Form<ReceivedForm>,
) -> Result<Response, WebError> {
    session.may_change(&form.csrf, Role::Triager)?;
    let done = async {
        if form.item_id.len() != form.received.len() {
            return Err(WebError::Invalid(
                "each item needs one received quantity".into(),
            ));
        }
        let mut quantities = Vec::new();
        for (item, text) in form.item_id.iter().zip(&form.received) {
            let q: Quantity = text
                .parse()
                .map_err(|e: BadQuantity| WebError::Invalid(e.to_string()))?;
            quantities.push((*item, q.value()));
        }
        let d = Deciding::start(&state, &session, offer, raw.as_deref()).await?;
        let hold = d.hold();
        let tx = decide::received_tx(state.desk(&session), offer, &quantities, hold).await?;
        d.finish(tx, Decided::Received, hold).await
    }
    .await;
    let at = (&state, &session, offer);
    Ok(or_beside(done, at, raw.as_deref(), "received", &form).await)
}

/// Undoes a decision within its window; back to the offer, as it was.
pub async fn undo(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<i64>,
    RawQuery(raw): RawQuery,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, WebError> {
    session.may_change(&form.csrf, Role::Triager)?;
    let window = state
        .store
        .undo_window(id)
        .await?
        .ok_or(WebError::NotFound)?;
    let qs = Trail::from_query(raw.as_deref()).qs();
    match state.store.undo_decision(id, &session.user.email).await {
        Ok(offer) => Ok(Redirect::to(&format!("/offers/{offer}?{qs}undone=1")).into_response()),
        Err(crate::store::UndoError::Store(e)) => Err(e.into()),
        Err(e) => {
            let refused = WebError::Refused(e.to_string());
            let at = window.offer_id;
            Ok(beside(&state, &session, at, raw.as_deref(), "undo", (), refused).await)
        }
    }
}

/// Reopens a closed offer.
pub async fn reopen(
    State(state): State<AppState>,
    session: Session,
    Path(offer): Path<OfferRef>,
    RawQuery(raw): RawQuery,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, WebError> {
    session.may_change(&form.csrf, Role::Triager)?;
    let qs = Trail::from_query(raw.as_deref()).qs();
    match state
        .store
        .reopen_offer(offer.id(), &session.user.email)
        .await
    {
        Ok(_) => {
            let to = format!("/offers/{}?{qs}", offer.id());
            Ok(Redirect::to(to.trim_end_matches(['&', '?'])).into_response())
        }
        Err(crate::store::UndoError::Store(e)) => Err(e.into()),
        Err(e) => {
            let refused = WebError::Refused(e.to_string());
            Ok(beside(
                &state,
                &session,
                offer.id(),
                raw.as_deref(),
                "reopen",
                (),
                refused,
            )
            .await)
        }
    }
}

/// The page that asks before an item line is removed.
pub async fn confirm_remove(
    state: &AppState,
    session: &Session,
    offer: OfferRef,
    item: i64,
    raw: Option<&str>,
) -> Result<Response, WebError> {
    let items = state.store.items_full(offer.id()).await?;
    let line = items
        .into_iter()
        .find(|i| i.id == item)
        .ok_or(WebError::NotFound)?;
    let ctx = minijinja::context! {
        o => state.store.offer(offer.id()).await?.offer, line,
        trail => Trail::from_query(raw).qs(),
    };
    Ok(page(state, session, "remove_confirm.html", ctx)?.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StatusFilter;

    #[test]
    fn the_trail_keeps_filters_and_sort_and_drops_the_flows_own_keys() {
        let t = Trail::from_query(Some(
            "status=all&q=n95%20masks&sort=received&undo=4&empty=1&page=2",
        ));
        assert_eq!(t.qs(), "status=all&q=n95%20masks&sort=received&page=2&");
        let f = t.filter("triager@city.example");
        assert_eq!(f.status, StatusFilter::All);
        assert_eq!(f.search.as_deref(), Some("n95 masks"));
        assert_eq!(Trail::from_query(None).qs(), "");
        assert_eq!(
            Trail::from_query(Some("status=bogus"))
                .filter("triager@city.example")
                .status,
            StatusFilter::Open
        );
    }
}
