//! Requests and inquiries, which are not offers: their own queues
//! (`/requests`, `/inquiries`) and pages (what is asked, by whom, for
//! when; note, mark handled or forwarded, reply), replies staff write on
//! any offer, request or inquiry (previewed as the donor will get it, then
//! sent through the outbox), and the reply snippets admins keep per
//! language for staff to insert.
//!
//! Owns: these pages and forms. Does not own: the rows (`store::lanes`,
//! `store::snippets`), the reply's rendering and queueing
//! (`decide::write_to_donor`), finding the needed-by words
//! ([`super::needed_by`]).

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;

use super::auth::{page, Role, Session};
use super::error::WebError;
use super::message;
use super::offer::bounded;
use super::{AppState, Page};
use crate::decide;
use crate::store::{Lane, LaneShow, OfferSummary, Outcome, SnippetEdit};
use crate::values::OfferRef;

const PER_PAGE: i64 = 50;
/// The longest reply or snippet staff may write.
const MAX_REPLY_CHARS: usize = 20_000;
/// The longest note on how a request was handled ("forwarded to …").
const MAX_DETAIL_CHARS: usize = 500;

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct LaneQuery {
    /// `open` (the default), `done` or `all`.
    show: String,
    page: String,
}

pub async fn requests_page(
    state: State<AppState>,
    session: Session,
    query: Query<LaneQuery>,
) -> Result<Page, WebError> {
    lane_page(state, session, query, Lane::Request).await
}

pub async fn inquiries_page(
    state: State<AppState>,
    session: Session,
    query: Query<LaneQuery>,
) -> Result<Page, WebError> {
    lane_page(state, session, query, Lane::Inquiry).await
}

async fn lane_page(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<LaneQuery>,
    lane: Lane,
) -> Result<Page, WebError> {
    let show = match q.show.as_str() {
        "" | "open" => LaneShow::Open,
        "done" => LaneShow::Done,
        "all" => LaneShow::All,
        other => return Err(WebError::Invalid(format!("no such list {other:?}"))),
    };
    let page_no = super::queue::page_number(&q.page);
    let (rows, total) = state
        .store
        .lane(lane, show, (page_no - 1) * PER_PAGE, PER_PAGE)
        .await?;
    let rows: Vec<_> = rows
        .iter()
        .map(|r| minijinja::context! { r, needed => needed_by(&r.text, r.created_at) })
        .collect();
    let ctx = minijinja::context! {
        lane, path => lane.path(), rows, total,
        show => if q.show.is_empty() { "open" } else { q.show.as_str() },
        page => page_no, pages => ((total + PER_PAGE - 1) / PER_PAGE).max(1),
        lanes => state.store.lane_counts().await?,
    };
    page(&state, &session, "lane.html", ctx)
}

/// The page of one request or inquiry; any other offer's page is `/offers/ID`.
pub fn page_of(offer: &OfferSummary) -> String {
    match Lane::of_category(&offer.category) {
        Some(lane) => format!("/{}/{}", lane.path(), offer.id),
        None => format!("/offers/{}", offer.id),
    }
}

pub async fn request_page(
    state: State<AppState>,
    session: Session,
    id: Path<OfferRef>,
) -> Result<Response, WebError> {
    item_page(state, session, id, Lane::Request).await
}

pub async fn inquiry_page(
    state: State<AppState>,
    session: Session,
    id: Path<OfferRef>,
) -> Result<Response, WebError> {
    item_page(state, session, id, Lane::Inquiry).await
}

async fn item_page(
    State(state): State<AppState>,
    session: Session,
    Path(offer): Path<OfferRef>,
    lane: Lane,
) -> Result<Response, WebError> {
    let store = &state.store;
    let detail = store.offer(offer.id()).await?;
    if Lane::of_category(&detail.offer.category) != Some(lane) {
        return Ok(Redirect::to(&page_of(&detail.offer)).into_response());
    }
    let decision = store.decision(offer.id()).await?;
    let raw = store.message_raw(decision.message_id).await?;
    let view = message::view(&raw, &[]);
    let text: String = view.segments.iter().map(|s| s.text.as_str()).collect();
    let contact = contact_fields(detail.contact_json.as_deref());
    let ctx = minijinja::context! {
        lane, path => lane.path(), o => &detail.offer, detail => &detail,
        view, contact,
        needed_by => needed_by(&format!("{}\n{text}", detail.offer.subject), detail.offer.created_at),
        items => store.items_full(offer.id()).await?,
        notes => store.notes(offer.id()).await?,
        handling => store.handling(offer.id()).await?,
        reply_box => reply_box(&state, &detail.offer, "").await?,
        lanes => store.lane_counts().await?,
    };
    Ok(page(&state, &session, "lane_item.html", ctx)?.into_response())
}

/// When `text` says the supplies are needed, read against the day it came
/// (`received`, milliseconds since the epoch).
fn needed_by(text: &str, received: i64) -> Option<super::needed_by::NeededBy> {
    let day = chrono::DateTime::from_timestamp_millis(received)?.date_naive();
    super::needed_by::needed_by_on(text, day)
}

/// Organization, phone and the like, as the rules found them.
fn contact_fields(json: Option<&str>) -> serde_json::Map<String, serde_json::Value> {
    match json.and_then(|j| serde_json::from_str(j).ok()) {
        Some(serde_json::Value::Object(map)) => map,
        _ => Default::default(),
    }
}

/// What the reply form on any offer, request or inquiry page needs: the
/// reply's language, the snippets in it, and the text so far.
pub async fn reply_box(
    state: &AppState,
    offer: &OfferSummary,
    draft: &str,
) -> Result<minijinja::Value, WebError> {
    let language = state.composer.reply_language(offer.language.as_deref());
    let snippets = state.store.snippets(Some(&language)).await?;
    Ok(minijinja::context! { language, snippets, draft, offer_id => offer.id })
}

#[derive(serde::Deserialize)]
pub struct HandledForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    detail: String,
}

/// Marks a request or inquiry handled, or forwarded to someone, or opens
/// it again (`outcome=open`).
pub async fn mark_handled(
    State(state): State<AppState>,
    session: Session,
    Path(offer): Path<OfferRef>,
    Form(form): Form<HandledForm>,
) -> Result<Response, WebError> {
    session.may_change(&form.csrf, Role::Triager)?;
    let store = &state.store;
    let outcome = match form.outcome.as_str() {
        "handled" => Outcome::Handled,
        "forwarded" => Outcome::Forwarded,
        "open" => {
            store
                .reopen_handled(offer.id(), &session.user.email)
                .await?;
            return back_to_handling(store, offer).await;
        }
        _ => return Err(WebError::Invalid("choose handled or forwarded".into())),
    };
    let detail = bounded(&form.detail, "the note on handling", MAX_DETAIL_CHARS)?;
    if outcome == Outcome::Forwarded && detail.is_empty() {
        return Err(WebError::Invalid(
            "say to whom the request was forwarded".into(),
        ));
    }
    store
        .mark_handled(offer.id(), &session.user.email, outcome, detail)
        .await?;
    back_to_handling(store, offer).await
}

async fn back_to_handling(
    store: &crate::store::Store,
    offer: OfferRef,
) -> Result<Response, WebError> {
    let summary = store.offer(offer.id()).await?.offer;
    Ok(Redirect::to(&format!("{}#handling", page_of(&summary))).into_response())
}

#[derive(serde::Deserialize)]
pub struct NoteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    body: String,
}

/// A note on a request or inquiry; back to its page.
pub async fn add_note(
    State(state): State<AppState>,
    session: Session,
    Path(offer): Path<OfferRef>,
    Form(form): Form<NoteForm>,
) -> Result<Response, WebError> {
    session.may_change(&form.csrf, Role::Triager)?;
    let body = super::offer::note_body(&form.body)?;
    let store = &state.store;
    store
        .add_note(offer.id(), &session.user.email, body)
        .await?;
    let summary = store.offer(offer.id()).await?.offer;
    Ok(Redirect::to(&format!("{}#notes", page_of(&summary))).into_response())
}

#[derive(serde::Deserialize)]
pub struct ReplyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    body: String,
    /// The snippet to insert, with `insert` set (the form without script).
    #[serde(default)]
    snippet: String,
    #[serde(default)]
    insert: Option<String>,
}

impl ReplyForm {
    /// The reply's text: something, and not too long.
    fn text(&self) -> Result<&str, WebError> {
        let body = bounded(&self.body, "a reply", MAX_REPLY_CHARS)?;
        if body.is_empty() {
            return Err(WebError::Invalid("write the reply first".into()));
        }
        Ok(body)
    }
}

/// Shows the reply as the donor will get it, with Send, and the text to
/// edit again; or, asked to insert a snippet, the text with it added.
pub async fn reply_preview(
    State(state): State<AppState>,
    session: Session,
    Path(offer): Path<OfferRef>,
    Form(form): Form<ReplyForm>,
) -> Result<Page, WebError> {
    session.may_change(&form.csrf, Role::Triager)?;
    let detail = state.store.offer(offer.id()).await?;
    if form.insert.is_some() {
        let draft = with_snippet(&state, &form).await?;
        let ctx = minijinja::context! {
            o => &detail.offer, back => page_of(&detail.offer),
            reply_box => reply_box(&state, &detail.offer, &draft).await?,
        };
        return page(&state, &session, "reply_preview.html", ctx);
    }
    let body = form.text()?;
    let email = decide::message_email(state.desk(&session), offer, body).await?;
    let ctx = minijinja::context! {
        o => &detail.offer, back => page_of(&detail.offer),
        to => &email.to_address, subject => &email.subject,
        shown => message::view(&email.raw, &[]).segments, body,
        reply_box => reply_box(&state, &detail.offer, body).await?,
    };
    page(&state, &session, "reply_preview.html", ctx)
}

/// The form's text with the chosen snippet after it.
async fn with_snippet(state: &AppState, form: &ReplyForm) -> Result<String, WebError> {
    let id: i64 = form
        .snippet
        .parse()
        .map_err(|_| WebError::Invalid("choose a snippet to insert".into()))?;
    let snippets = state.store.snippets(None).await?;
    let snippet = snippets
        .iter()
        .find(|s| s.id == id)
        .ok_or(WebError::NotFound)?;
    let draft = form.body.trim_end();
    Ok(match draft.is_empty() {
        true => snippet.body.clone(),
        false => format!("{draft}\n\n{}", snippet.body),
    })
}

/// Sends what was previewed: queued in the outbox, in the donor's thread.
pub async fn reply_send(
    State(state): State<AppState>,
    session: Session,
    Path(offer): Path<OfferRef>,
    Form(form): Form<ReplyForm>,
) -> Result<Response, WebError> {
    session.may_change(&form.csrf, Role::Triager)?;
    let body = form.text()?;
    decide::write_to_donor(state.desk(&session), offer, body).await?;
    let summary = state.store.offer(offer.id()).await?.offer;
    Ok(Redirect::to(&format!("{}#replies", page_of(&summary))).into_response())
}

pub async fn snippets_page(
    State(state): State<AppState>,
    session: Session,
) -> Result<Page, WebError> {
    let ctx = minijinja::context! {
        snippets => state.store.snippets(None).await?,
        languages => crate::outbox::templates::built_in_languages(),
    };
    page(&state, &session, "snippets.html", ctx)
}

#[derive(serde::Deserialize)]
pub struct SnippetForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    language: String,
    #[serde(default)]
    body: String,
}

impl SnippetForm {
    fn edit(&self) -> Result<SnippetEdit, WebError> {
        let name = bounded(&self.name, "a snippet's name", 100)?;
        let language = self.language.trim().to_ascii_lowercase();
        let body = bounded(&self.body, "a snippet", MAX_REPLY_CHARS)?;
        if name.is_empty() || body.is_empty() {
            return Err(WebError::Invalid(
                "a snippet needs a name and a text".into(),
            ));
        }
        if language.len() != 2 || !language.bytes().all(|b| b.is_ascii_lowercase()) {
            return Err(WebError::Invalid(
                "a snippet's language is a two-letter code, like en or es".into(),
            ));
        }
        Ok(SnippetEdit {
            name: name.to_string(),
            language,
            body: body.to_string(),
        })
    }
}

/// Creates a snippet (`id` absent) or changes one; admins only.
async fn save_snippet(
    state: &AppState,
    session: &Session,
    id: Option<i64>,
    form: &SnippetForm,
) -> Result<Response, WebError> {
    session.may_change(&form.csrf, Role::Admin)?;
    let edit = form.edit()?;
    let taken = state.store.snippets(Some(&edit.language)).await?;
    if taken
        .iter()
        .any(|s| s.name == edit.name && Some(s.id) != id)
    {
        return Err(WebError::Invalid(format!(
            "there is a snippet {:?} in {} already; change that one",
            edit.name, edit.language
        )));
    }
    let saved = state
        .store
        .save_snippet(id, &session.user.email, &edit)
        .await?;
    Ok(Redirect::to(&format!("/snippets#snippet-{saved}")).into_response())
}

pub async fn create_snippet(
    State(state): State<AppState>,
    session: Session,
    Form(form): Form<SnippetForm>,
) -> Result<Response, WebError> {
    save_snippet(&state, &session, None, &form).await
}

pub async fn update_snippet(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<i64>,
    Form(form): Form<SnippetForm>,
) -> Result<Response, WebError> {
    save_snippet(&state, &session, Some(id), &form).await
}

pub async fn delete_snippet(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<i64>,
    Form(form): Form<super::auth::CsrfOnly>,
) -> Result<Response, WebError> {
    session.may_change(&form.csrf, Role::Admin)?;
    state.store.delete_snippet(id, &session.user.email).await?;
    Ok(Redirect::to("/snippets").into_response())
}
