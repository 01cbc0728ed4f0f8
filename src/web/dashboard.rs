//! The dashboard (per item: pledged, accepted and received against the
//! current need; offers per day; both as server-side SVG) and the list of
//! failed messages with retry.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;
use serde::Serialize;

use super::auth::{page, CsrfOnly, Role, Session};
use super::error::WebError;
use super::{AppState, Page};
use crate::state::MessageState;
use crate::store::{fmt_qty, ItemStats};

/// One row of the items chart, in SVG units.
#[derive(Debug, Serialize)]
struct ItemBar {
    label: String,
    y: f64,
    pledged: f64,
    accepted: f64,
    received: f64,
    /// The target's x, when there is one.
    target: Option<f64>,
    numbers: String,
}

/// One column of the offers-per-day chart.
#[derive(Debug, Serialize)]
struct DayBar {
    day: String,
    count: i64,
    x: f64,
    y: f64,
    height: f64,
}

const BAR_WIDTH: f64 = 420.0;
const ROW_HEIGHT: f64 = 34.0;
const DAY_HEIGHT: f64 = 120.0;

/// Each row on its own scale: the item's need, or what was pledged when
/// that is more (needs differ by orders of magnitude: 40 ventilators, 200,000 masks).
fn item_bars(stats: &[ItemStats]) -> Vec<ItemBar> {
    stats
        .iter()
        .enumerate()
        .map(|(n, s)| {
            let full = s
                .pledged
                .max(s.target.unwrap_or(0.0))
                .max(s.received)
                .max(1.0);
            let x = |v: f64| (v / full * BAR_WIDTH).clamp(0.0, BAR_WIDTH);
            ItemBar {
                label: s.item.clone(),
                y: n as f64 * ROW_HEIGHT,
                pledged: x(s.pledged),
                accepted: x(s.accepted),
                received: x(s.received),
                target: s.target.map(x),
                numbers: format!(
                    "{} pledged · {} accepted · {} received{}",
                    fmt_qty(Some(s.pledged)),
                    fmt_qty(Some(s.accepted)),
                    fmt_qty(Some(s.received)),
                    s.target
                        .map(|t| format!(" · need {}", fmt_qty(Some(t))))
                        .unwrap_or_default()
                ),
            }
        })
        .collect()
}

/// Every one of the last `n` days (UTC), with zero where no offer came.
fn fill_days(counts: &[(String, i64)], n: i64) -> Vec<(String, i64)> {
    let today = chrono::Utc::now().date_naive();
    (0..n)
        .rev()
        .map(|back| {
            let day = (today - chrono::Duration::days(back))
                .format("%Y-%m-%d")
                .to_string();
            let count = counts.iter().find(|(d, _)| *d == day).map_or(0, |c| c.1);
            (day, count)
        })
        .collect()
}

fn day_bars(days: &[(String, i64)]) -> Vec<DayBar> {
    let max = days.iter().map(|d| d.1).max().unwrap_or(1).max(1) as f64;
    days.iter()
        .enumerate()
        .map(|(n, (day, count))| {
            let height = *count as f64 / max * DAY_HEIGHT;
            DayBar {
                day: day.clone(),
                count: *count,
                x: n as f64 * 22.0,
                y: DAY_HEIGHT - height,
                height,
            }
        })
        .collect()
}

pub async fn dashboard_page(
    State(state): State<AppState>,
    session: Session,
) -> Result<Page, WebError> {
    // Independent reads, on reader connections at once.
    let store = &state.store;
    let (stats, days, counts, replies, shortfalls) = tokio::try_join!(
        store.item_stats(),
        store.offers_per_day(30),
        store.message_counts(),
        store.reply_counts(),
        super::slots::dashboard_shortfalls(store),
    )?;
    let days = fill_days(&days, 30);
    let bars = item_bars(&stats);
    let ctx = minijinja::context! {
        stats, bars,
        items_height => (bars.len() as f64 * ROW_HEIGHT).max(ROW_HEIGHT),
        bar_width => BAR_WIDTH,
        days => day_bars(&days),
        days_width => (days.len() as f64 * 22.0).max(22.0),
        day_height => DAY_HEIGHT,
        counts, replies, shortfalls,
    };
    page(&state, &session, "dashboard.html", ctx)
}

pub async fn failed_page(
    State(state): State<AppState>,
    session: Session,
) -> Result<Page, WebError> {
    let failed = state
        .store
        .list_messages(Some(MessageState::Failed), 500)
        .await?;
    let oversize = state
        .store
        .list_messages(Some(MessageState::Oversize), 500)
        .await?;
    page(
        &state,
        &session,
        "failed.html",
        minijinja::context! { failed, oversize },
    )
}

pub async fn retry(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<i64>,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, WebError> {
    session.may_change(&form.csrf, Role::Admin)?;
    if !state.store.retry_message(id, &session.user.email).await? {
        return Err(WebError::Refused("this message is not failed".into()));
    }
    Ok(Redirect::to("/failed").into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_per_item_and_days_are_filled() {
        let s = [ItemStats {
            item: "n95".into(),
            pledged: 50.0,
            accepted: 25.0,
            received: 0.0,
            target: Some(100.0),
            base_unit: Some("piece".into()),
            assumed_lines: 0,
            unconverted_lines: 0,
            stated: "50 each".into(),
        }];
        let b = &item_bars(&s)[0];
        assert_eq!(b.target, Some(BAR_WIDTH));
        assert_eq!(b.pledged, BAR_WIDTH / 2.0);
        let days = fill_days(&[], 30);
        assert_eq!(days.len(), 30);
        assert!(days.iter().all(|d| d.1 == 0));
        assert_eq!(day_bars(&[("d".into(), 0)])[0].height, 0.0);
    }
}
