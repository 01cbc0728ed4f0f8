//! The needs list on the desk (`/needs`): per catalog item, how many base
//! units are used a week and how many are on hand, so days of supply; admins
//! edit it, everyone reads it. A change takes effect at once (the store
//! recomputes the priority of the item's offers) and is in the audit history.
//!
//! Owns: how a need weighs on priority ([`weight`]) and how the offer page
//! explains an offer's priority ([`explain`]). Does not own: SQL (`store`),
//! the operators' file (`operations`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;

use super::auth::{page, Role, Session};
use super::error::WebError;
use super::AppState;
use crate::rules::catalog::Catalog;
use crate::store::{fmt_qty, ItemFull, Need};

/// Days of supply at which an item weighs as much per week covered as the
/// horizon: 4 weeks. An item with 12 days left weighs 28/12 per week covered.
pub const HORIZON_DAYS: f64 = 28.0;

/// Days the stock on hand lasts at `per_week`; `None` when nothing is used.
pub fn days_of_supply(per_week: f64, on_hand: f64) -> Option<f64> {
    (per_week > 0.0).then(|| on_hand.max(0.0) * 7.0 / per_week)
}

/// Priority per base unit offered: the weeks of use one unit covers
/// (1 / `per_week`) times the urgency (the horizon over days left, at
/// least one day). An offer's priority is then the sum, over its items, of
/// weeks covered × urgency; an item no longer used weighs nothing.
pub fn weight(per_week: f64, on_hand: f64) -> f64 {
    match days_of_supply(per_week, on_hand) {
        Some(days) => HORIZON_DAYS / days.max(1.0) / per_week,
        None => 0.0,
    }
}

/// Why an offer ranks where it does, one sentence per item line with a
/// need: "needed: 12 days of N95 respirators supply left; offer covers 3 weeks".
pub fn explain(items: &[ItemFull], needs: &[Need], catalog: &Catalog) -> Vec<String> {
    let mut out = Vec::new();
    for it in items {
        let Some(need) = needs.iter().find(|n| n.item == it.item) else {
            continue;
        };
        let label = catalog
            .get(&it.item)
            .map_or_else(|| it.item.replace('_', " "), |c| c.label.clone());
        let Some(per_week) = need.per_week.filter(|w| *w > 0.0) else {
            out.push(format!(
                "{label}: weight {} per unit (no weekly use set)",
                fmt_qty(Some(need.weight))
            ));
            continue;
        };
        let days = days_of_supply(per_week, need.on_hand.unwrap_or(0.0)).unwrap_or(0.0);
        let covers = match it.base_quantity {
            Some(q) => format!("offer covers {}", weeks(q / per_week)),
            None => "quantity unknown in base units, counted as 1".to_string(),
        };
        out.push(format!(
            "needed: {} of {label} supply left; {covers}",
            day_count(days)
        ));
    }
    out
}

/// Whole days: "12 days", "1 day" (sums of fractions land a hair below).
fn day_count(days: f64) -> String {
    let d = (days + 1e-9).floor();
    format!(
        "{} day{}",
        fmt_qty(Some(d)),
        if d == 1.0 { "" } else { "s" }
    )
}

/// "3 weeks", "1 week", "2 days", "less than a day".
fn weeks(w: f64) -> String {
    if w >= 1.0 {
        let n = (w * 10.0).round() / 10.0;
        let unit = if n == 1.0 { "week" } else { "weeks" };
        format!("{} {unit}", fmt_qty(Some(n)))
    } else if w * 7.0 + 1e-9 >= 1.0 {
        day_count(w * 7.0)
    } else {
        "less than a day".to_string()
    }
}

#[derive(Debug, Default, serde::Deserialize, serde::Serialize)]
pub struct NeedForm {
    #[serde(default)]
    #[serde(skip_serializing)]
    csrf: String,
    #[serde(default)]
    item: String,
    #[serde(default)]
    per_week: String,
    #[serde(default)]
    on_hand: String,
    #[serde(default)]
    target: String,
}

/// A refused field and why, shown beside it.
#[derive(Debug, serde::Serialize)]
struct FieldError {
    field: &'static str,
    message: String,
}

/// A number staff typed: blank is `None`; negative or not a number is refused.
fn number(text: &str, field: &'static str, what: &str) -> Result<Option<f64>, FieldError> {
    let text = text.trim().replace(',', "");
    if text.is_empty() {
        return Ok(None);
    }
    match text.parse::<f64>() {
        Ok(n) if n.is_finite() && n >= 0.0 => Ok(Some(n)),
        _ => Err(FieldError {
            field,
            message: format!("{what} must be a number, 0 or more"),
        }),
    }
}

impl NeedForm {
    fn need(&self, catalog: &Catalog) -> Result<Need, FieldError> {
        let Some(item) = catalog.resolve(&self.item) else {
            return Err(FieldError {
                field: "item",
                message: format!(
                    "{:?} is not in the catalog: pick an item from the list",
                    self.item.trim()
                ),
            });
        };
        let per_week =
            number(&self.per_week, "per_week", "Needed per week")?.ok_or(FieldError {
                field: "per_week",
                message: "Needed per week is required".into(),
            })?;
        let on_hand = number(&self.on_hand, "on_hand", "On hand")?.unwrap_or(0.0);
        let target = number(&self.target, "target", "Target")?;
        Ok(Need {
            item: item.id.clone(),
            weight: weight(per_week, on_hand),
            target,
            per_week: Some(per_week),
            on_hand: Some(on_hand),
        })
    }
}

pub async fn needs_page(
    State(state): State<AppState>,
    session: Session,
) -> Result<Response, WebError> {
    render(&state, &session, None, None).await
}

async fn render(
    state: &AppState,
    session: &Session,
    form: Option<&NeedForm>,
    error: Option<FieldError>,
) -> Result<Response, WebError> {
    let rows: Vec<_> = state
        .store
        .needs()
        .await?
        .into_iter()
        .map(|row| {
            let need = &row.need;
            let days = need
                .per_week
                .and_then(|w| days_of_supply(w, need.on_hand.unwrap_or(0.0)));
            let item = state.catalog.get(&need.item);
            minijinja::context! {
                row => &row,
                label => item.map_or(need.item.clone(), |i| i.label.clone()),
                base_unit => item.map_or("piece", |i| i.base_unit.as_str()),
                days => days.map(|d| (d + 1e-9).floor()),
                in_catalog => item.is_some(),
            }
        })
        .collect();
    let catalog: Vec<_> = state.catalog.items().collect();
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let ctx = minijinja::context! {
        needs => rows,
        catalog,
        history => state.store.needs_history(50).await?,
        form => form,
        error => error,
        horizon => HORIZON_DAYS,
    };
    Ok((status, page(state, session, "needs.html", ctx)?).into_response())
}

pub async fn set_need(
    State(state): State<AppState>,
    session: Session,
    Form(form): Form<NeedForm>,
) -> Result<Response, WebError> {
    session.may_change(&form.csrf, Role::Admin)?;
    let need = match form.need(&state.catalog) {
        Ok(need) => need,
        Err(error) => return render(&state, &session, Some(&form), Some(error)).await,
    };
    state.store.set_need(&session.user.email, &need).await?;
    tracing::info!(item = %need.item, by = %session.user.email, "need changed");
    Ok(Redirect::to(&format!("/needs#need-{}", need.item)).into_response())
}

#[derive(serde::Deserialize)]
pub struct RemoveForm {
    #[serde(default)]
    csrf: String,
}

pub async fn remove_need(
    State(state): State<AppState>,
    session: Session,
    Path(item): Path<String>,
    Form(form): Form<RemoveForm>,
) -> Result<Response, WebError> {
    session.may_change(&form.csrf, Role::Admin)?;
    state.store.remove_need(&session.user.email, &item).await?;
    Ok(Redirect::to("/needs").into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fewer_days_left_weigh_more_and_no_use_weighs_nothing() {
        assert_eq!(days_of_supply(700.0, 1200.0), Some(12.0));
        assert!(weight(700.0, 1200.0) > weight(700.0, 7000.0));
        assert_eq!(weight(0.0, 100.0), 0.0);
        // Covering a week of an item with 28 days left weighs 1.
        assert!((weight(700.0, 2800.0) * 700.0 - 1.0).abs() < 1e-9);
        // Nothing on hand counts as one day left, not infinitely urgent.
        assert_eq!(weight(700.0, 0.0), 28.0 / 700.0);
    }

    #[test]
    fn weeks_read_naturally() {
        assert_eq!(weeks(3.0), "3 weeks");
        assert_eq!(weeks(1.0), "1 week");
        assert_eq!(weeks(2.0 / 7.0), "2 days");
        assert_eq!(weeks(2000.0 / 7000.0), "2 days");
        assert_eq!(day_count(1.0), "1 day");
        assert_eq!(weeks(0.01), "less than a day");
    }

    #[test]
    fn the_form_refuses_what_is_not_in_the_catalog() {
        let catalog = Catalog::embedded().unwrap();
        let form = |item: &str, per_week: &str| NeedForm {
            item: item.into(),
            per_week: per_week.into(),
            on_hand: "1200".into(),
            ..Default::default()
        };
        let e = form("n59_respirator", "700").need(&catalog).unwrap_err();
        assert_eq!(e.field, "item");
        let e = form("n95_respirator", "-3").need(&catalog).unwrap_err();
        assert_eq!(e.field, "per_week");
        let need = form("N95 respirators", "7,000").need(&catalog).unwrap();
        assert_eq!(
            (need.item.as_str(), need.per_week),
            ("n95_respirator", Some(7000.0))
        );
    }
}
