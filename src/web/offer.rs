//! The offer page and everything staff change there: item corrections,
//! notes, and the decisions (accept with a pickup slot after previewing the
//! email, decline with a reason, spam, merge, received quantities), each
//! read from its form and made by `crate::decide`. Also the message page
//! and attachment downloads.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;

use super::auth::{page, Role, Session};
use super::error::WebError;
use super::message::{self, safe_filename};
use super::{AppState, Page};
use crate::decide::{self, Pickup};
use crate::store::ItemEdit;
use crate::values::{BadQuantity, OfferRef, Quantity};

pub async fn offer_page(
    State(state): State<AppState>,
    session: Session,
    Path(offer): Path<OfferRef>,
) -> Result<Page, WebError> {
    let id = offer.id();
    let store = &state.store;
    let detail = store.offer(id).await?;
    let items = store.items_full(id).await?;
    let decision = store.decision(id).await?;
    // The offer's own message first: the items' spans point into it. Then
    // the thread (donor replies, merged duplicates) in order.
    let mut thread = detail.messages.clone();
    thread.sort_by_key(|m| (m.id != decision.message_id, m.id));
    let mut messages = Vec::new();
    for m in &thread {
        let raw = store.message_raw(m.id).await?;
        let spans_from: &[_] = if m.id == decision.message_id {
            &items
        } else {
            &[]
        };
        messages.push(minijinja::context! {
            id => m.id, summary => m, view => message::view(&raw, spans_from),
        });
    }
    let other_offers: Vec<(i64, String)> = detail
        .donor_offers
        .iter()
        .map(|&other| (other, OfferRef::from(other).to_string()))
        .collect();
    let ctx = minijinja::context! {
        o => &detail.offer,
        detail => &detail,
        other_offers,
        items,
        messages,
        decision,
        contact => json_fields(detail.contact_json.as_deref()),
        pickup => json_fields(detail.pickup_json.as_deref()),
        notes => store.notes(id).await?,
        sites => store.pickup_sites().await?,
        open => !detail.offer.status.is_closed(),
        awaits_delivery => detail.offer.status.awaits_delivery(),
        reply_language => state.composer.reply_language(detail.offer.language.as_deref()),
        suppression => store.suppression(&detail.offer.donor_email).await?,
        reply_box => super::inquiries::reply_box(&state, &detail.offer, "").await?,
    };
    page(&state, &session, "offer.html", ctx)
}

/// The fields of a JSON object the rules wrote (contact, pickup), as
/// (name, text) pairs for the page; anything else is shown as nothing.
fn json_fields(json: Option<&str>) -> Vec<(String, String)> {
    let Some(serde_json::Value::Object(map)) = json.and_then(|j| serde_json::from_str(j).ok())
    else {
        return Vec::new();
    };
    map.into_iter()
        .filter_map(|(k, v)| {
            let text = match v {
                serde_json::Value::String(s) => s,
                serde_json::Value::Bool(b) => if b { "yes" } else { "no" }.to_string(),
                serde_json::Value::Number(n) => n.to_string(),
                _ => return None,
            };
            Some((k.replace('_', " "), text))
        })
        .collect()
}

/// The longest unit staff may type ("box of 100" fits).
const MAX_UNIT_CHARS: usize = 32;
/// The longest decline reason or pickup note staff may type.
pub(crate) const MAX_REASON_CHARS: usize = 4000;

/// `text` trimmed, or a clear refusal when it has more than `max` characters.
pub(crate) fn bounded<'a>(text: &'a str, what: &str, max: usize) -> Result<&'a str, WebError> {
    let text = text.trim();
    if text.chars().count() > max {
        return Err(WebError::Invalid(format!(
            "{what} can have at most {max} characters"
        )));
    }
    Ok(text)
}

fn back(id: i64, anchor: &str) -> Response {
    Redirect::to(&format!("/offers/{id}#{anchor}")).into_response()
}

#[derive(serde::Deserialize)]
pub struct ItemForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    item: String,
    #[serde(default)]
    quantity: String,
    #[serde(default)]
    unit: String,
}

impl ItemForm {
    fn edit(&self) -> Result<ItemEdit, WebError> {
        let item = self.item.trim();
        if item.is_empty() || item.len() > 100 {
            return Err(WebError::Invalid(
                "an item needs a name of at most 100 characters".into(),
            ));
        }
        let quantity = Quantity::parse_optional(&self.quantity)
            .map_err(|e| WebError::Invalid(e.to_string()))?
            .map(Quantity::value);
        let unit = bounded(&self.unit, "a unit", MAX_UNIT_CHARS)?;
        let unit = Some(unit.to_string()).filter(|u| !u.is_empty());
        Ok(ItemEdit {
            item: item.to_string(),
            quantity,
            unit,
        })
    }
}

pub async fn add_item(
    State(state): State<AppState>,
    session: Session,
    Path(offer): Path<OfferRef>,
    Form(form): Form<ItemForm>,
) -> Result<Response, WebError> {
    let id = offer.id();
    session.may_change(&form.csrf, Role::Triager)?;
    state
        .store
        .add_item(id, &session.user.email, &form.edit()?)
        .await?;
    Ok(back(id, "items"))
}

pub async fn update_item(
    State(state): State<AppState>,
    session: Session,
    Path((offer, item)): Path<(OfferRef, i64)>,
    Form(form): Form<ItemForm>,
) -> Result<Response, WebError> {
    let id = offer.id();
    session.may_change(&form.csrf, Role::Triager)?;
    state
        .store
        .update_item(id, item, &session.user.email, &form.edit()?)
        .await?;
    Ok(back(id, "items"))
}

pub async fn remove_item(
    State(state): State<AppState>,
    session: Session,
    Path((offer, item)): Path<(OfferRef, i64)>,
    Form(form): Form<ItemForm>,
) -> Result<Response, WebError> {
    let id = offer.id();
    session.may_change(&form.csrf, Role::Triager)?;
    state
        .store
        .remove_item(id, item, &session.user.email)
        .await?;
    Ok(back(id, "items"))
}

#[derive(serde::Deserialize)]
pub struct NoteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    body: String,
}

pub async fn add_note(
    State(state): State<AppState>,
    session: Session,
    Path(offer): Path<OfferRef>,
    Form(form): Form<NoteForm>,
) -> Result<Response, WebError> {
    let id = offer.id();
    session.may_change(&form.csrf, Role::Triager)?;
    let body = form.body.trim();
    if body.is_empty() || body.len() > 10_000 {
        return Err(WebError::Invalid(
            "a note needs between 1 and 10,000 characters".into(),
        ));
    }
    state.store.add_note(id, &session.user.email, body).await?;
    Ok(back(id, "notes"))
}

#[derive(serde::Deserialize, serde::Serialize)]
pub struct AcceptForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    site: String,
    #[serde(default)]
    date: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    notes: String,
}

impl AcceptForm {
    fn window(&self) -> Result<String, WebError> {
        let date = chrono::NaiveDate::parse_from_str(self.date.trim(), "%Y-%m-%d")
            .map_err(|_| WebError::Invalid("choose a pickup date".into()))?;
        let time = |t: &str| chrono::NaiveTime::parse_from_str(t.trim(), "%H:%M");
        let (from, to) = match (time(&self.from), time(&self.to)) {
            (Ok(f), Ok(t)) if f < t => (f, t),
            _ => {
                return Err(WebError::Invalid(
                    "choose a time window that ends after it starts".into(),
                ))
            }
        };
        Ok(format!(
            "{} {}–{}",
            date.format("%A %-d %B %Y"),
            from.format("%H:%M"),
            to.format("%H:%M")
        ))
    }
}

impl AcceptForm {
    /// The slot the form chose.
    fn pickup(&self) -> Result<Pickup, WebError> {
        let notes = bounded(&self.notes, "pickup notes", MAX_REASON_CHARS)?;
        Ok(Pickup {
            site: self.site.clone(),
            window: self.window()?,
            notes: (!notes.is_empty()).then(|| notes.to_string()),
        })
    }
}

pub async fn accept_preview(
    State(state): State<AppState>,
    session: Session,
    Path(offer): Path<OfferRef>,
    Form(form): Form<AcceptForm>,
) -> Result<Page, WebError> {
    session.may_change(&form.csrf, Role::Triager)?;
    let pickup = form.pickup()?;
    let reply = decide::pickup_email(state.desk(&session), offer, &pickup).await?;
    let body = message::view(&reply.raw, &[]);
    let ctx = minijinja::context! {
        o => state.store.offer(offer.id()).await?.offer,
        to => &reply.to_address, subject => &reply.subject, body => body.segments,
        window => pickup.window, form => &form,
    };
    page(&state, &session, "preview.html", ctx)
}

pub async fn accept(
    State(state): State<AppState>,
    session: Session,
    Path(offer): Path<OfferRef>,
    Form(form): Form<AcceptForm>,
) -> Result<Response, WebError> {
    session.may_change(&form.csrf, Role::Triager)?;
    decide::accept(state.desk(&session), offer, &form.pickup()?).await?;
    Ok(back(offer.id(), "decision"))
}

#[derive(serde::Deserialize)]
pub struct DeclineForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
    /// Present when the donor should be told.
    #[serde(default)]
    notify: Option<String>,
}

pub async fn decline(
    State(state): State<AppState>,
    session: Session,
    Path(offer): Path<OfferRef>,
    Form(form): Form<DeclineForm>,
) -> Result<Response, WebError> {
    session.may_change(&form.csrf, Role::Triager)?;
    let reason = bounded(&form.reason, "a decline reason", MAX_REASON_CHARS)?;
    let notify = form.notify.is_some();
    decide::decline(state.desk(&session), offer, reason, notify).await?;
    Ok(back(offer.id(), "decision"))
}

pub async fn spam(
    State(state): State<AppState>,
    session: Session,
    Path(offer): Path<OfferRef>,
    Form(form): Form<super::auth::CsrfOnly>,
) -> Result<Response, WebError> {
    session.may_change(&form.csrf, Role::Triager)?;
    decide::spam(state.desk(&session), offer).await?;
    Ok(back(offer.id(), "decision"))
}

#[derive(serde::Deserialize)]
pub struct MergeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    into: String,
}

pub async fn merge(
    State(state): State<AppState>,
    session: Session,
    Path(offer): Path<OfferRef>,
    Form(form): Form<MergeForm>,
) -> Result<Response, WebError> {
    session.may_change(&form.csrf, Role::Triager)?;
    let into: OfferRef = form.into.parse().map_err(|_| {
        WebError::Invalid("type the reference of the offer to merge into, like SL-000042".into())
    })?;
    decide::merge(state.desk(&session), offer, into).await?;
    Ok(Redirect::to(&format!("/offers/{}", into.id())).into_response())
}

#[derive(serde::Deserialize)]
pub struct ReceivedForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    item_id: Vec<i64>,
    #[serde(default)]
    received: Vec<String>,
}

pub async fn received(
    State(state): State<AppState>,
    session: Session,
    Path(offer): Path<OfferRef>,
    Form(form): Form<ReceivedForm>,
) -> Result<Response, WebError> {
    session.may_change(&form.csrf, Role::Triager)?;
    let mut quantities = Vec::new();
    for (item, text) in form.item_id.iter().zip(&form.received) {
        let q: Quantity = text
            .parse()
            .map_err(|e: BadQuantity| WebError::Invalid(e.to_string()))?;
        quantities.push((*item, q.value()));
    }
    decide::received(state.desk(&session), offer, &quantities).await?;
    Ok(back(offer.id(), "decision"))
}

/// One stored message on its own (failed messages have no offer).
pub async fn message_page(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<i64>,
) -> Result<Page, WebError> {
    let raw = state.store.message_raw(id).await?;
    let summary = state.store.message_summary(id).await?;
    let ctx = minijinja::context! { id, summary, view => message::view(&raw, &[]) };
    page(&state, &session, "message.html", ctx)
}

/// An attachment, always as a download of opaque bytes: never rendered inline.
pub async fn attachment(
    State(state): State<AppState>,
    _session: Session,
    Path((id, n)): Path<(i64, usize)>,
) -> Result<Response, WebError> {
    let raw = state.store.message_raw(id).await?;
    let (name, bytes) = message::attachment(&raw, n).ok_or(WebError::NotFound)?;
    let disposition = format!("attachment; filename=\"{}\"", safe_filename(&name));
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}
