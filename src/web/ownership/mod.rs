//! Ownership and overview on the desk (#16): assigning an offer to oneself
//! or a colleague (`#assign-to` on the offer page, audited), who else has
//! an offer open right now ([`presence`]), and on the queue the "mine"
//! filter, the age column against the answer target ([`target`]), sortable
//! columns, each person's saved views, and whom a bulk assign may assign
//! to and which status a bulk set-status may set (`web::batches` makes
//! them, with Undo).
//!
//! Does not own: the SQL (`store::ownership`), the queue's other filters
//! (`web::queue`), decisions that email the donor (`decide`).

pub mod presence;
pub mod target;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;

use super::auth::{Role, Session};
use super::error::WebError;
use super::offer::bounded;
use super::AppState;
use crate::state::OfferStatus;
use crate::store::{Owner, QueueRow, QueueSort, SortKey};
use crate::values::OfferRef;
pub use presence::Presence;
pub use target::AnswerWithin;

/// The owner filter of the queue's URL: empty (anyone), `me`, `nobody`, or
/// a staff email.
pub fn owner_filter(owner: &str, me: &str) -> Option<Owner> {
    match owner.trim() {
        "" => None,
        "me" => Some(Owner::Person(me.to_string())),
        "nobody" => Some(Owner::Nobody),
        email => Some(Owner::Person(email.to_string())),
    }
}

/// The sort of the queue's URL; an unknown one is refused with the choices.
pub fn sort(text: &str) -> Result<QueueSort, WebError> {
    text.trim()
        .parse()
        .map_err(|e: crate::store::UnknownSort| WebError::Invalid(e.to_string()))
}

/// What the offer page shows of ownership: the assignee, whom it can be
/// assigned to, and who else has it open (opening it counts as a ping).
pub async fn offer_context(
    state: &AppState,
    session: &Session,
    offer: i64,
) -> Result<minijinja::Value, WebError> {
    // This page load's token (a string: JavaScript numbers are not u64).
    let page: u64 = rand::random();
    Ok(minijinja::context! {
        assignee => state.store.assignee(offer).await?,
        staff => state.store.assignable_staff().await?,
        others => state.presence.ping(offer, &session.user.email, page),
        ping_secs => presence::PING_SECS,
        page => page.to_string(),
    })
}

/// A queue header: its label, the sort its link asks for, and whether
/// (and which way) the queue is sorted by it now.
#[derive(serde::Serialize)]
struct Header {
    key: &'static str,
    label: &'static str,
    /// The `sort=` of its link: its own column, reversed when already on.
    link: String,
    /// "ascending", "descending" or "none", for `aria-sort`.
    aria: &'static str,
}

fn headers(now: QueueSort) -> std::collections::BTreeMap<&'static str, Header> {
    let labels = [
        (SortKey::Priority, "Priority"),
        (SortKey::Reference, "Offer"),
        (SortKey::Donor, "Donor"),
        (SortKey::Received, "Age"),
        (SortKey::Status, "Status"),
        (SortKey::Assignee, "Assigned"),
    ];
    labels
        .into_iter()
        .map(|(key, label)| {
            let on = now.key == key;
            let next = QueueSort {
                key,
                reversed: on && !now.reversed,
            };
            // Priority reads best-first and age oldest-first: their
            // forward order is descending.
            let forward_descends = matches!(key, SortKey::Priority | SortKey::Received);
            let descending = forward_descends != now.reversed;
            let header = Header {
                key: key.as_str(),
                label,
                link: next.as_param(),
                aria: match (on, descending) {
                    (false, _) => "none",
                    (true, true) => "descending",
                    (true, false) => "ascending",
                },
            };
            (key.as_str(), header)
        })
        .collect()
}

/// What the queue shows of ownership: sortable headers, who has each row
/// open, which rows are past the answer target, the person's saved views
/// and whom offers can be assigned to.
pub async fn queue_context(
    state: &AppState,
    session: &Session,
    rows: &[QueueRow],
    sort: QueueSort,
) -> Result<minijinja::Value, WebError> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let due_before = crate::store::now_ms() - state.answer_within.millis();
    let overdue: Vec<String> = rows
        .iter()
        .filter(|r| r.status.is_open() && r.created_at < due_before)
        .map(|r| r.id.to_string())
        .collect();
    Ok(minijinja::context! {
        headers => headers(sort),
        viewing => state.presence.viewing(&ids, &session.user.email),
        overdue,
        target => state.answer_within.label(),
        views => state.store.saved_views(session.user.id).await?,
        staff => state.store.assignable_staff().await?,
        open_statuses => open_statuses(),
    })
}

/// The statuses "set status" moves between: those still needing a
/// decision ([`OfferStatus::is_open`]), which send the donor nothing.
/// Closing an offer is a decision (decline, spam, accept), with its own
/// buttons.
fn open_statuses() -> Vec<&'static str> {
    OfferStatus::ALL
        .iter()
        .filter(|s| s.is_open())
        .map(|s| s.as_str())
        .collect()
}

#[derive(serde::Deserialize)]
pub struct AssignForm {
    #[serde(default)]
    csrf: String,
    /// A staff email, or empty for nobody.
    #[serde(default)]
    to: String,
}

/// Whom `to` names: nobody when empty, else one of the assignable staff.
pub async fn assignee(state: &AppState, to: &str) -> Result<Option<String>, WebError> {
    let to = to.trim();
    if to.is_empty() {
        return Ok(None);
    }
    state
        .store
        .assignable_staff()
        .await?
        .into_iter()
        .find(|s| s.eq_ignore_ascii_case(to))
        .map(Some)
        .ok_or_else(|| {
            WebError::Invalid(format!(
                "{to:?} is not a staff account that can take offers"
            ))
        })
}

/// Assigns the offer to the person chosen in `#assign-to`.
pub async fn assign(
    State(state): State<AppState>,
    session: Session,
    Path(offer): Path<OfferRef>,
    Form(form): Form<AssignForm>,
) -> Result<Response, WebError> {
    session.may_change(&form.csrf, Role::Triager)?;
    let to = assignee(&state, &form.to).await?;
    let id = offer.id();
    state
        .store
        .assign(id, &session.user.email, to.as_deref())
        .await?;
    Ok(Redirect::to(&format!("/offers/{id}")).into_response())
}

#[derive(serde::Deserialize)]
pub struct PingForm {
    #[serde(default)]
    csrf: String,
    /// `1` when the page is being left.
    #[serde(default)]
    leave: String,
    /// The page load's token, from the page.
    #[serde(default)]
    page: String,
}

/// An open offer page's ping: answers who else has it open. Without a
/// session it answers 401, not the login page: a background request that
/// followed a redirect there would replace the login form's cookie under a
/// person about to log in.
pub async fn ping(
    State(state): State<AppState>,
    session: Result<Session, WebError>,
    Path(offer): Path<OfferRef>,
    Form(form): Form<PingForm>,
) -> Result<Response, WebError> {
    let session = match session {
        Ok(session) => session,
        Err(WebError::Unauthenticated { .. }) => {
            return Ok(StatusCode::UNAUTHORIZED.into_response())
        }
        Err(e) => return Err(e),
    };
    session.check_csrf(&form.csrf)?;
    let (id, me) = (offer.id(), &session.user.email);
    let page = form.page.parse().unwrap_or_default();
    if form.leave == "1" {
        state.presence.leave(id, me, page);
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let others = state.presence.ping(id, me, page);
    let body = serde_json::json!({ "others": others }).to_string();
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// The longest name of a saved view.
const MAX_VIEW_NAME_CHARS: usize = 60;
/// The longest query a saved view keeps (the filters are cut at 200 each).
const MAX_VIEW_QUERY_CHARS: usize = 2000;

#[derive(serde::Deserialize)]
pub struct ViewForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    /// The queue's query string: filters and sort.
    #[serde(default)]
    query: String,
}

/// Saves the queue as shown under a name of the person's; then shows it.
pub async fn save_view(
    State(state): State<AppState>,
    session: Session,
    Form(form): Form<ViewForm>,
) -> Result<Response, WebError> {
    session.check_csrf(&form.csrf)?;
    let name = bounded(&form.name, "a view's name", MAX_VIEW_NAME_CHARS)?;
    if name.is_empty() {
        return Err(WebError::Invalid("give the view a name".into()));
    }
    let query = bounded(&form.query, "a view's filters", MAX_VIEW_QUERY_CHARS)?;
    let query = safe_query(query).ok_or_else(|| {
        WebError::Invalid("a view's filters are a query string of the queue".into())
    })?;
    // Refuse now what the queue would refuse when the view is opened.
    let uri: axum::http::Uri = format!("/?{query}").parse().map_err(|_| {
        WebError::Invalid("a view's filters are a query string of the queue".into())
    })?;
    let axum::extract::Query(parsed) =
        axum::extract::Query::<super::queue::QueueForm>::try_from_uri(&uri)
            .map_err(|e| WebError::Invalid(format!("a view's filters: {e}")))?;
    sort(&parsed.sort)?;
    state.store.save_view(session.user.id, name, query).await?;
    Ok(Redirect::to(&format!("/?{query}")).into_response())
}

/// Deletes one of the person's saved views.
pub async fn delete_view(
    State(state): State<AppState>,
    session: Session,
    Path(view): Path<i64>,
    Form(form): Form<super::auth::CsrfOnly>,
) -> Result<Response, WebError> {
    session.check_csrf(&form.csrf)?;
    if !state.store.delete_view(session.user.id, view).await? {
        return Err(WebError::NotFound);
    }
    Ok(Redirect::to("/").into_response())
}

/// `query` when it is made only of what a query string of the queue is
/// made of (so a redirect to `/?{query}` stays on this site and is a
/// valid header); None otherwise.
pub fn safe_query(query: &str) -> Option<&str> {
    let ok = query
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-_.~%&=+*".contains(&b));
    ok.then_some(query)
}

/// The open status a bulk set-status asks for; a closing one is refused.
pub fn open_status(status: &str) -> Result<OfferStatus, WebError> {
    let status: OfferStatus = status
        .parse()
        .map_err(|e: crate::state::UnknownState| WebError::Invalid(e.to_string()))?;
    if !status.is_open() {
        return Err(WebError::Invalid(format!(
            "set status moves an open offer to {}; closing one is a decision (decline, spam, accept)",
            open_statuses().join(" or ")
        )));
    }
    Ok(status)
}

/// The presence script, served as `/static/ownership.js`.
pub const JS: &str = include_str!("../../../templates/web/ownership.js");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_link_to_their_sort_and_reverse_the_one_on() {
        let h = headers("received".parse().unwrap());
        let age = &h["received"];
        // Oldest first: the ages descend.
        assert_eq!((age.link.as_str(), age.aria), ("-received", "descending"));
        let donor = &h["donor"];
        assert_eq!((donor.link.as_str(), donor.aria), ("donor", "none"));
        let d = headers("-donor".parse().unwrap());
        assert_eq!(
            (d["donor"].link.as_str(), d["donor"].aria),
            ("donor", "descending")
        );
        let p = headers(QueueSort::default());
        assert_eq!(p["priority"].aria, "descending");
        assert_eq!(p["priority"].link, "-priority");
    }

    #[test]
    fn owners_and_queries() {
        assert_eq!(owner_filter("", "a@x"), None);
        assert_eq!(owner_filter("me", "a@x"), Some(Owner::Person("a@x".into())));
        assert_eq!(owner_filter("nobody", "a@x"), Some(Owner::Nobody));
        assert!(safe_query("status=all&q=n95%20gowns&sort=-received&").is_some());
        assert!(safe_query("x\r\nSet-Cookie: a").is_none());
        assert!(safe_query("//evil.example").is_none());
    }
}
