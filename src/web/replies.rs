//! Replies held for approval (an automatic reply to a sender the receiving
//! server did not authenticate, or over a per-domain or hourly limit): the
//! list of them, and the two buttons, on that list and on each offer's
//! page, that send one on or discard it through `crate::decide`.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;

use super::auth::{page, Role, Session};
use super::error::WebError;
use super::return_to::local_path;
use super::{AppState, Page};
use crate::decide;
use crate::store::now_ms;

/// Where the buttons return to when the form names no page of this site.
const HELD_PAGE: &str = "/replies/held";

/// Every held reply, oldest first: reference, recipient, reason, age.
pub async fn held_page(State(state): State<AppState>, session: Session) -> Result<Page, WebError> {
    let ctx = minijinja::context! {
        held => state.store.held_replies().await?,
        now => now_ms(),
    };
    page(&state, &session, "held.html", ctx)
}

#[derive(serde::Deserialize)]
pub struct HeldForm {
    #[serde(default)]
    csrf: String,
    /// The page the button was on (the list, or an offer's page).
    #[serde(default)]
    back: String,
}

impl HeldForm {
    fn back(&self) -> Response {
        Redirect::to(local_path(&self.back).unwrap_or(HELD_PAGE)).into_response()
    }
}

/// What staff do with a held reply: the last part of the button's path.
#[derive(Debug, Clone, Copy, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeldAction {
    /// Send it on: the sender delivers it next.
    Send,
    /// Keep it on record, never sent.
    Discard,
}

/// Sends on or discards held reply `id`, then returns to the page the button was on.
pub async fn settle(
    State(state): State<AppState>,
    session: Session,
    Path((id, action)): Path<(i64, HeldAction)>,
    Form(form): Form<HeldForm>,
) -> Result<Response, WebError> {
    session.may_change(&form.csrf, Role::Triager)?;
    let desk = state.desk(&session);
    match action {
        HeldAction::Send => decide::send_held(desk, id).await?,
        HeldAction::Discard => decide::discard_held(desk, id).await?,
    }
    Ok(form.back())
}
