//! The suppression list (`store::suppressions`): addresses no reply goes to
//! after bounces, why, and the button that lifts one.

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;

use super::auth::{page, Role, Session};
use super::error::WebError;
use super::return_to::local_path;
use super::{AppState, Page};

const LIST: &str = "/suppressions";

/// Every address on the list: suppressed ones first, then those counting
/// soft bounces or lifted.
pub async fn list_page(State(state): State<AppState>, session: Session) -> Result<Page, WebError> {
    let ctx = minijinja::context! { suppressions => state.store.suppressions().await? };
    page(&state, &session, "suppressions.html", ctx)
}

#[derive(serde::Deserialize)]
pub struct LiftForm {
    #[serde(default)]
    csrf: String,
    address: String,
    /// The page the button was on (the list, or an offer's page).
    #[serde(default)]
    back: String,
}

/// Lifts the suppression of `address` (triagers and admins): replies can
/// go to it again; those held meanwhile stay held for staff to send.
pub async fn lift(
    State(state): State<AppState>,
    session: Session,
    Form(form): Form<LiftForm>,
) -> Result<Response, WebError> {
    session.may_change(&form.csrf, Role::Triager)?;
    let actor = &session.user.email;
    if state.store.lift_suppression(&form.address, actor).await? {
        tracing::info!(address = %form.address, %actor, "suppression lifted");
    }
    Ok(Redirect::to(local_path(&form.back).unwrap_or(LIST)).into_response())
}
