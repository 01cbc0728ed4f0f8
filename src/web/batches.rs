//! Bulk actions with Undo (#16): a bulk decline or spam from the queue
//! makes each offer's decision as the offer page does, with its undo
//! window (`web.undo_secs`; a decline's email waits in the outbox until
//! the window ends); a bulk assign or set-status changes that one field of
//! each offer, with its window too (it sends nothing, so its undo is
//! immediate). All the windows of one action are one batch; the queue then
//! shows one confirmation ("3 offers declined") with one Undo that puts
//! every offer of the batch back (and discards every email it held back),
//! in one transaction. Only the staff member who made a batch sees its
//! confirmation, and only while it can still be undone.
//!
//! Owns: the batch's changes, its confirmation and the batch undo route.
//! Does not own: what a decision writes (`decide`), the undo windows' SQL
//! (`store::undos`, `store::undo_batches`), whom one may assign to and
//! which status one may set (`web::ownership`), the bulk form
//! (`web::queue`).

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;

use super::auth::{CsrfOnly, Role, Session};
use super::error::WebError;
use super::flow::{confirmation, Trail};
use super::AppState;
use crate::decide::{self, Decided};
use crate::state::OfferStatus;
use crate::store::{Change, DecisionTx, UndoError, ASSIGNED, STATUS_SET};
use crate::values::OfferRef;

/// What a bulk action does to each offer ticked.
#[derive(Debug, Clone)]
pub enum BulkAction {
    /// Decline, telling the donor this reason.
    Decline(String),
    Spam,
    /// Assign to this staff email (None: nobody).
    Assign(Option<String>),
    /// Move to this open status.
    SetStatus(OfferStatus),
}

/// The changes of one bulk action, as they are made.
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

    /// Does `action` to the offer `id`, its undo window in the batch.
    pub async fn apply(&mut self, id: i64, action: &BulkAction) -> Result<(), WebError> {
        match action {
            BulkAction::Decline(reason) => self.decide(id, Some(reason)).await,
            BulkAction::Spam => self.decide(id, None).await,
            BulkAction::Assign(to) => self.assign(id, to.as_deref()).await,
            BulkAction::SetStatus(next) => self.set_status(id, *next).await,
        }
    }

    /// Declines the offer `id` telling the donor `reason` (None: marks it
    /// as spam), its undo window in the batch.
    async fn decide(&mut self, id: i64, reason: Option<&str>) -> Result<(), WebError> {
        let offer = OfferRef::from(id);
        let before = self.state.store.offer_before(id).await?;
        let desk = self.state.desk(self.session);
        let (mut tx, done) = match reason {
            Some(reason) => (
                decide::decline_tx(desk, offer, reason, true, self.hold).await?,
                Decided::Declined,
            ),
            None => (decide::spam_tx(desk, offer).await?, Decided::MarkedSpam),
        };
        let actor = &self.session.user.email;
        let (action, after) = (done.action(), done.status_after());
        let window = tx
            .open_undo_window(id, actor, action, after, &before, self.until)
            .await?;
        self.join(tx, window).await
    }

    /// Assigns the offer `id` to `to` (None: nobody), its undo window in
    /// the batch; an offer already assigned so is left as it is.
    async fn assign(&mut self, id: i64, to: Option<&str>) -> Result<(), WebError> {
        let mut tx = self.state.store.begin_decision().await?;
        let status = tx.offer_status(id).await?;
        let before = tx.assignee(id).await?;
        if before.as_deref() == to {
            return Ok(());
        }
        tx.set_assignee(id, to).await?;
        let actor = &self.session.user.email;
        let detail = format!("to {}", crate::store::who(to));
        tx.audit(actor, Some(id), ASSIGNED, &detail).await?;
        let after = to.map(str::to_string);
        let change = Change::Assignee { before, after };
        let window = tx
            .open_change_window(id, actor, status, &change, self.until)
            .await?;
        self.join(tx, window).await
    }

    /// Moves the open offer `id` to the open status `next`, its undo window
    /// in the batch; an offer already decided is refused (and skipped by
    /// the bulk action), one already `next` left as it is.
    async fn set_status(&mut self, id: i64, next: OfferStatus) -> Result<(), WebError> {
        let mut tx = self.state.store.begin_decision().await?;
        let now = tx.offer_status(id).await?;
        if !now.is_open() {
            return Err(WebError::Refused(format!(
                "this offer is {now} and cannot be changed"
            )));
        }
        if now == next {
            return Ok(());
        }
        tx.set_status(id, next).await?;
        let actor = &self.session.user.email;
        tx.audit(actor, Some(id), STATUS_SET, &format!("{now} → {next}"))
            .await?;
        let change = Change::Status { before: now };
        let window = tx
            .open_change_window(id, actor, next, &change, self.until)
            .await?;
        self.join(tx, window).await
    }

    /// Puts the window just opened in the batch and commits.
    async fn join(&mut self, mut tx: DecisionTx, window: i64) -> Result<(), WebError> {
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
/// made (`?undo_batch=`), with Undo while its time lasts, to its maker
/// only ([`confirmation`]), or what an undo
/// of one did (`?undone_batch=N&kept=M`), or why it was refused
/// (`?undo_refused=`).
pub async fn banner(
    state: &AppState,
    session: &Session,
    raw: Option<&str>,
) -> Result<minijinja::Value, WebError> {
    #[derive(serde::Deserialize, Default)]
    #[serde(default)]
    struct Flags {
        undo_batch: String,
        undone_batch: String,
        undone_what: String,
        kept: String,
        undo_refused: String,
    }
    let flags: Flags = super::flow::query_or_default(raw);
    let batch = match flags.undo_batch.parse::<i64>() {
        Ok(id) => state.store.undo_batch(id).await?,
        Err(_) => None,
    };
    // Shown only to its maker while it can be undone (`flow::confirmation`).
    let (batch, left_ms) = batch
        .and_then(|b| {
            let shown = confirmation(state, session, &b.actor, b.undo_until, b.undone > 0);
            shown.map(|left| (b, left))
        })
        .unzip();
    let left_ms = left_ms.flatten();
    Ok(minijinja::context! {
        batch, left_ms,
        undone => flags.undone_batch.parse::<u32>().ok(),
        undone_emails => flags.undone_what == Decided::Declined.action(),
        kept => flags.kept.parse::<u32>().ok().filter(|n| *n > 0),
        refused => match flags.undo_refused.as_str() {
            "expired" => Some("The time to undo this is over; reopen or change each offer instead."),
            "undone" => Some("This was already undone."),
            "not_yours" => Some("Only the staff member who did this can undo it."),
            "changed" => Some("These offers have changed since, so they were left as they are."),
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
    let batch = state
        .store
        .undo_batch(id)
        .await?
        .ok_or(WebError::NotFound)?;
    match state.store.undo_whole_batch(id, &session.user.email).await {
        Ok(done) => {
            for (offer, why) in &done.refused {
                tracing::info!(offer, reason = %why, "a batch undo left an offer as it was");
            }
            let (undone, kept) = (done.undone.len(), done.refused.len());
            let what = &batch.action;
            let to = format!("/?{qs}undone_batch={undone}&kept={kept}&undone_what={what}");
            Ok(Redirect::to(&to).into_response())
        }
        Err(UndoError::Store(e)) => Err(e.into()),
        Err(UndoError::NotFound) => Err(WebError::NotFound),
        Err(e) => {
            let why = match e {
                UndoError::Expired => "expired",
                UndoError::AlreadyUndone => "undone",
                UndoError::NotYours(_) => "not_yours",
                _ => "changed",
            };
            Ok(Redirect::to(&format!("/?{qs}undo_refused={why}")).into_response())
        }
    }
}
