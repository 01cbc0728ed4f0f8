//! The offer page and what staff correct there: item lines (picked from
//! the catalog) and notes, and the forms the decisions read (decline,
//! merge, received); the decisions' routes are [`super::flow`]'s and
//! accepting into a slot is [`super::slots`]'. Also the message page and
//! attachment downloads.

use axum::extract::{Path, RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;

use super::auth::{page, Role, Session};
use super::error::WebError;
use super::message::{self, safe_filename};
use super::{flow, AppState, Page};
use crate::rules::catalog::Catalog;
use crate::store::ItemEdit;
use crate::values::{OfferRef, Quantity};

pub async fn offer_page(
    State(state): State<AppState>,
    session: Session,
    Path(offer): Path<OfferRef>,
    RawQuery(raw): RawQuery,
) -> Result<Page, WebError> {
    let none = minijinja::context! {};
    render_offer(&state, &session, offer.id(), raw.as_deref(), none).await
}

/// The offer page, with the flow's trail, neighbours and banner from the
/// query `raw` ([`super::flow`]), and `extra` (errors beside fields, what
/// staff typed).
pub(crate) async fn render_offer(
    state: &AppState,
    session: &Session,
    id: i64,
    raw: Option<&str>,
    extra: minijinja::Value,
) -> Result<Page, WebError> {
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
        catalog => state.catalog.items().collect::<Vec<_>>(),
        priority_reasons => priority_reasons(state, &detail.offer.category, &items).await?,
        slots => super::slots::offer_context(store, id, extracted_address(detail.pickup_json.as_deref())).await?,
        flow => super::flow::banner(state, session, raw).await?,
        neighbours => store
            .queue_neighbours(&super::flow::Trail::from_query(raw).filter(&session.user.email), id)
            .await?,
        own => super::ownership::offer_context(state, session, id).await?,
        reply_box => super::inquiries::reply_box(state, &detail.offer, "").await?,
        ..extra
    };
    page(state, session, "offer.html", ctx)
}

/// Why the offer ranks where it does ("needed: 12 days of N95 respirators
/// supply left; offer covers 3 weeks"); requests and sales pledge nothing.
async fn priority_reasons(
    state: &AppState,
    category: &str,
    items: &[crate::store::ItemFull],
) -> Result<Vec<String>, WebError> {
    if matches!(category, "request" | "sale") {
        return Ok(vec![format!(
            "a {category}: not a pledge of supplies, so no priority"
        )]);
    }
    let needs: Vec<_> = state
        .store
        .needs()
        .await?
        .into_iter()
        .map(|r| r.need)
        .collect();
    Ok(super::needs::explain(items, &needs, &state.catalog))
}

/// The pickup address the rules found in the donor's message, if any.
fn extracted_address(json: Option<&str>) -> Option<String> {
    crate::outbox::needs::pickup_from_json(json)?.address
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

/// A staff note's text, trimmed: between 1 and 10,000 characters.
pub(crate) fn note_body(text: &str) -> Result<&str, WebError> {
    let body = text.trim();
    if body.is_empty() || body.chars().count() > 10_000 {
        return Err(WebError::Invalid(
            "a note needs between 1 and 10,000 characters".into(),
        ));
    }
    Ok(body)
}

/// Back to the offer (with the queue's trail) at `anchor`, after a POST.
fn back(id: i64, raw: Option<&str>, anchor: &str) -> Response {
    let qs = flow::Trail::from_query(raw).qs();
    let qs = qs.trim_end_matches('&');
    let sep = if qs.is_empty() { "" } else { "?" };
    Redirect::to(&format!("/offers/{id}{sep}{qs}#{anchor}")).into_response()
}

#[derive(serde::Deserialize, serde::Serialize)]
pub struct ItemForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    item: String,
    #[serde(default)]
    quantity: String,
    #[serde(default)]
    unit: String,
    /// Present once staff confirmed a removal.
    #[serde(default)]
    confirmed: Option<String>,
}

impl ItemForm {
    /// The item as the catalog names it, or why not (shown beside the field).
    fn catalog_item(&self, catalog: &Catalog) -> Result<String, WebError> {
        let typed = self.item.trim();
        match catalog.resolve(typed) {
            Some(item) => Ok(item.id.clone()),
            None if typed.is_empty() => {
                Err(WebError::Invalid("pick an item from the catalog".into()))
            }
            None => {
                let typed: String = typed.chars().take(100).collect();
                Err(WebError::Invalid(format!(
                    "{typed:?} is not in the catalog: pick an item from the list"
                )))
            }
        }
    }

    fn edit(&self, item: String) -> Result<ItemEdit, WebError> {
        let quantity = Quantity::parse_optional(&self.quantity)
            .map_err(|e| WebError::Invalid(e.to_string()))?
            .map(Quantity::value);
        let unit = bounded(&self.unit, "a unit", MAX_UNIT_CHARS)?;
        let unit = Some(unit.to_string()).filter(|u| !u.is_empty());
        Ok(ItemEdit {
            item,
            quantity,
            unit,
        })
    }
}

pub async fn add_item(
    State(state): State<AppState>,
    session: Session,
    Path(offer): Path<OfferRef>,
    RawQuery(raw): RawQuery,
    Form(form): Form<ItemForm>,
) -> Result<Response, WebError> {
    let id = offer.id();
    session.may_change(&form.csrf, Role::Triager)?;
    let done = async {
        let item = form.catalog_item(&state.catalog)?;
        let edit = form.edit(item)?;
        state.store.add_item(id, &session.user.email, &edit).await?;
        Ok(back(id, raw.as_deref(), "items"))
    }
    .await;
    match done {
        Ok(r) => Ok(r),
        Err(e) => {
            Ok(flow::beside(&state, &session, id, raw.as_deref(), "item-new", &form, e).await)
        }
    }
}

pub async fn update_item(
    State(state): State<AppState>,
    session: Session,
    Path((offer, item)): Path<(OfferRef, i64)>,
    RawQuery(raw): RawQuery,
    Form(form): Form<ItemForm>,
) -> Result<Response, WebError> {
    let id = offer.id();
    session.may_change(&form.csrf, Role::Triager)?;
    let done = async {
        let name = form.catalog_item(&state.catalog)?;
        let edit = form.edit(name)?;
        let actor = &session.user.email;
        state.store.update_item(id, item, actor, &edit).await?;
        Ok(back(id, raw.as_deref(), "items"))
    }
    .await;
    match done {
        Ok(r) => Ok(r),
        Err(e) => {
            let at = format!("item-{item}");
            Ok(flow::beside(&state, &session, id, raw.as_deref(), &at, &form, e).await)
        }
    }
}

/// Removes an item line once staff confirmed; before, asks.
pub async fn remove_item(
    State(state): State<AppState>,
    session: Session,
    Path((offer, item)): Path<(OfferRef, i64)>,
    RawQuery(raw): RawQuery,
    Form(form): Form<ItemForm>,
) -> Result<Response, WebError> {
    let id = offer.id();
    session.may_change(&form.csrf, Role::Triager)?;
    if form.confirmed.is_none() {
        return flow::confirm_remove(&state, &session, offer, item, raw.as_deref()).await;
    }
    state
        .store
        .remove_item(id, item, &session.user.email)
        .await?;
    Ok(back(id, raw.as_deref(), "items"))
}

#[derive(serde::Deserialize, serde::Serialize)]
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
    RawQuery(raw): RawQuery,
    Form(form): Form<NoteForm>,
) -> Result<Response, WebError> {
    let id = offer.id();
    session.may_change(&form.csrf, Role::Triager)?;
    let body = match note_body(&form.body) {
        Ok(body) => body,
        Err(e) => {
            return Ok(flow::beside(&state, &session, id, raw.as_deref(), "note", &form, e).await)
        }
    };
    state.store.add_note(id, &session.user.email, body).await?;
    Ok(back(id, raw.as_deref(), "notes"))
}

#[derive(serde::Deserialize, serde::Serialize)]
pub struct DeclineForm {
    #[serde(default)]
    pub(crate) csrf: String,
    #[serde(default)]
    pub(crate) reason: String,
    /// Present when the donor should be told.
    #[serde(default)]
    pub(crate) notify: Option<String>,
}

#[derive(serde::Deserialize, serde::Serialize)]
pub struct MergeForm {
    #[serde(default)]
    pub(crate) csrf: String,
    #[serde(default)]
    pub(crate) into: String,
    /// Present once staff confirmed merging two donors' offers.
    #[serde(default)]
    pub(crate) confirmed: Option<String>,
}

#[derive(serde::Deserialize, serde::Serialize)]
pub struct ReceivedForm {
    #[serde(default)]
    pub(crate) csrf: String,
    #[serde(default)]
    pub(crate) item_id: Vec<i64>,
    #[serde(default)]
    pub(crate) received: Vec<String>,
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
