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

/// Sends a held reply on: the sender delivers it next.
pub async fn send(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<i64>,
    Form(form): Form<HeldForm>,
) -> Result<Response, WebError> {
    session.may_change(&form.csrf, Role::Triager)?;
    decide::send_held(state.desk(&session), id).await?;
    Ok(form.back())
}

/// Discards a held reply: kept on record, never sent.
pub async fn discard(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<i64>,
    Form(form): Form<HeldForm>,
) -> Result<Response, WebError> {
    session.may_change(&form.csrf, Role::Triager)?;
    decide::discard_held(state.desk(&session), id).await?;
    Ok(form.back())
}
