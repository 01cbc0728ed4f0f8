//! Bulk decisions with Undo (#16): a bulk decline or spam from the queue
//! makes each offer's decision as the offer page does, with its undo
//! window (`web.undo_secs`; a decline's email waits in the outbox until
//! the window ends), all the windows one batch; the queue then shows one
//! confirmation ("3 offers declined") with one Undo that puts every offer
//! of the batch back and discards every email it held back, in one
//! transaction.
//!
//! Owns: the batch's decisions, its confirmation and the batch undo
//! route. Does not own: what a decision writes (`decide`), the undo
//! windows' SQL (`store::undos`, `store::undo_batches`), the other bulk
//! actions (`web::ownership`), the bulk form (`web::queue`).

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;

use super::auth::{CsrfOnly, Role, Session};
use super::error::WebError;
use super::flow::Trail;
use super::AppState;
use crate::decide;
use crate::state::OfferStatus;
use crate::store::UndoError;
use crate::values::OfferRef;

/// The decisions of one bulk action, as they are made.
pub struct Batch<'a> {
    state: &'a AppState,
    session: &'a Session,
    /// When their emails may leave: the end of the undo window (None: now).
    hold: Option<i64>,
    /// The end of the undo window (now, when there is no undo time).
    until: i64,
    /// The batch's id: its first window's, once there is one.
    id: Option<i64>,
}

impl<'a> Batch<'a> {
    pub fn new(state: &'a AppState, session: &'a Session) -> Batch<'a> {
        let now = crate::store::now_ms();
        let hold = (state.undo_ms > 0).then(|| now + state.undo_ms);
        Batch {
            state,
            session,
            hold,
            until: hold.unwrap_or(now),
            id: None,
        }
    }

    /// Declines (telling the donor) or marks as spam the offer `id`, its
    /// undo window in the batch. `action` is `decline` or `spam`.
    pub async fn decide(&mut self, id: i64, action: &str, reason: &str) -> Result<(), WebError> {
        let offer = OfferRef::from(id);
        let before = self.state.store.offer_before(id).await?;
        let desk = self.state.desk(self.session);
        let (mut tx, done, after) = match action {
            "decline" => (
                decide::decline_tx(desk, offer, reason, true, self.hold).await?,
                "declined",
                OfferStatus::Declined,
            ),
            _ => (
                decide::spam_tx(desk, offer).await?,
                "marked_spam",
                OfferStatus::Spam,
            ),
        };
        let actor = &self.session.user.email;
        let window = tx
            .open_undo_window(id, actor, done, after, &before, self.until)
            .await?;
        let batch = *self.id.get_or_insert(window);
        tx.join_undo_batch(window, batch).await?;
        Ok(tx.commit().await?)
    }

    /// The query key that shows the batch's confirmation (`&undo_batch=N`),
    /// empty when no decision was made.
    pub fn query(&self) -> String {
        self.id
            .map(|id| format!("&undo_batch={id}"))
            .unwrap_or_default()
    }
}

/// What the queue shows of a batch: the confirmation of the batch just
/// made (`?undo_batch=`), with Undo while its time lasts, or what an undo
/// of one did (`?undone_batch=N&kept=M`), or why it was refused
/// (`?undo_refused=`).
pub async fn banner(state: &AppState, raw: Option<&str>) -> Result<minijinja::Value, WebError> {
    #[derive(serde::Deserialize, Default)]
    #[serde(default)]
    struct Flags {
        undo_batch: String,
        undone_batch: String,
        kept: String,
        undo_refused: String,
    }
    let flags: Flags = super::flow::query_or_default(raw);
    let batch = match flags.undo_batch.parse::<i64>() {
        Ok(id) => state.store.undo_batch(id).await?,
        Err(_) => None,
    };
    let batch = batch.filter(|b| b.undone == 0);
    let left_ms = batch
        .as_ref()
        .map(|b| b.undo_until - crate::store::now_ms())
        .filter(|ms| *ms > 0);
    Ok(minijinja::context! {
        batch, left_ms,
        undone => flags.undone_batch.parse::<u32>().ok(),
        kept => flags.kept.parse::<u32>().ok().filter(|n| *n > 0),
        refused => match flags.undo_refused.as_str() {
            "expired" => Some("The time to undo these decisions is over; reopen each offer instead."),
            "undone" => Some("These decisions were already undone."),
            "changed" => Some("These offers have changed since; reopen each offer instead."),
            _ => None,
        },
    })
}

/// Undoes every decision of a batch within its window; back to the
/// queue, saying how many offers are back.
pub async fn undo(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<i64>,
    RawQuery(raw): RawQuery,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, WebError> {
    session.may_change(&form.csrf, Role::Triager)?;
    let qs = Trail::from_query(raw.as_deref()).qs();
    match state.store.undo_whole_batch(id, &session.user.email).await {
        Ok(done) => {
            for (offer, why) in &done.refused {
                tracing::info!(offer, reason = %why, "a batch undo left an offer as it was");
            }
            let (undone, kept) = (done.undone.len(), done.refused.len());
            Ok(Redirect::to(&format!("/?{qs}undone_batch={undone}&kept={kept}")).into_response())
        }
        Err(UndoError::Store(e)) => Err(e.into()),
        Err(UndoError::NotFound) => Err(WebError::NotFound),
        Err(e) => {
            let why = match e {
                UndoError::Expired => "expired",
                UndoError::AlreadyUndone => "undone",
                _ => "changed",
            };
            Ok(Redirect::to(&format!("/?{qs}undo_refused={why}")).into_response())
        }
    }
}
