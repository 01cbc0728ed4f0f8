//! The queue: offers needing a decision, highest priority first, with
//! filters, search, paging, bulk decline and spam, and CSV export of what
//! the filters select (streamed, ISO 8601 dates, an optional BOM for Excel).

use axum::extract::{Query, RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;

use super::auth::{page, Role, Session};
use super::batches::BulkAction;
use super::error::WebError;
use super::offer::{bounded, MAX_REASON_CHARS};
use super::{ownership, AppState, Page};
use crate::state::{OfferStatus, UnknownState};
use crate::store::{fmt_qty, ExportOffer, ItemFull, QueueFilter, StatusFilter};
use crate::values::OfferRef;

const PER_PAGE: i64 = 50;

/// The 1-based page number of a `?page=` value: anything unreadable is the
/// first page, and a number too large for any queue is clamped so the
/// offset `(page - 1) * PER_PAGE` cannot overflow.
pub(super) fn page_number(raw: &str) -> i64 {
    raw.trim().parse::<i64>().unwrap_or(1).clamp(1, 1_000_000)
}

/// The filters of the queue, as typed in the page's form.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct QueueForm {
    /// `open` (the default: needing a decision), `all`, or one status.
    pub status: String,
    pub category: String,
    pub item: String,
    pub language: String,
    pub postal: String,
    /// What staff search for (`store::fts_query`: words, "phrases",
    /// prefix*, OR, a reference, a phone number).
    pub q: String,
    /// Whose offers: empty (anyone), `me`, `nobody` or a staff email
    /// ([`super::ownership::owner_filter`]).
    pub owner: String,
    /// The column sorted by, `-` before it to reverse (`store::QueueSort`).
    pub sort: String,
}

impl QueueForm {
    /// The filter the store applies; a status that is none of the menu's
    /// is refused.
    pub(crate) fn filter(&self, me: &str) -> Result<QueueFilter, WebError> {
        let status = match self.status.as_str() {
            "" | "open" => StatusFilter::Open,
            "all" => StatusFilter::All,
            s => StatusFilter::Only(
                s.parse()
                    .map_err(|e: UnknownState| WebError::Invalid(e.to_string()))?,
            ),
        };
        let given = |v: &str| Some(v.to_string()).filter(|v| !v.is_empty());
        Ok(QueueFilter {
            status,
            category: given(&self.category),
            item: given(&self.item),
            language: given(&self.language),
            postal: given(&self.postal),
            search: given(&self.q),
            owner: ownership::owner_filter(&self.owner, me),
            sort: ownership::sort(&self.sort)?,
            offers_only: true,
        })
    }
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct QueueQuery {
    #[serde(flatten)]
    pub filter: QueueForm,
    /// Strings, since flattened fields arrive as text.
    pub page: String,
    /// What the last bulk action did, shown once.
    pub done: String,
    pub skipped: String,
}

/// The most characters of each filter that are used: a search of a longer
/// text than this finds the same as its start (SQLite refuses LIKE
/// patterns past 50,000 bytes).
const MAX_FILTER_CHARS: usize = 200;

impl QueueQuery {
    /// The query with every filter cut to [`MAX_FILTER_CHARS`].
    fn bounded(mut self) -> QueueQuery {
        let f = &mut self.filter;
        for text in [
            &mut f.item,
            &mut f.language,
            &mut f.postal,
            &mut f.q,
            &mut f.owner,
        ] {
            if let Some((cut, _)) = text.char_indices().nth(MAX_FILTER_CHARS) {
                text.truncate(cut);
            }
        }
        self
    }
}

/// The filters as a query string, for paging and export links.
fn query_string(f: &QueueForm) -> String {
    let mut out = String::new();
    for (k, v) in [
        ("status", &f.status),
        ("category", &f.category),
        ("item", &f.item),
        ("language", &f.language),
        ("postal", &f.postal),
        ("q", &f.q),
        ("owner", &f.owner),
        ("sort", &f.sort),
    ] {
        if !v.is_empty() {
            out.push_str(&format!("{k}={}&", urlencode(v)));
        }
    }
    out
}

fn urlencode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub async fn queue_page(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<QueueQuery>,
    RawQuery(raw): RawQuery,
) -> Result<Page, WebError> {
    let q = q.bounded();
    let page_no = page_number(&q.page);
    let filter = q.filter.filter(&session.user.email)?;
    let (rows, total) = state
        .store
        .queue(&filter, (page_no - 1) * PER_PAGE, PER_PAGE)
        .await?;
    let [categories, items, languages] = state.store.filter_choices().await?;
    let pages = ((total + PER_PAGE - 1) / PER_PAGE).max(1);
    let ctx = minijinja::context! {
        rows, total, categories, items, languages,
        ranked_part => crate::store::ranked_part(&filter, total),
        filter => &q.filter,
        qs => query_string(&q.filter),
        qs_unsorted => query_string(&QueueForm { sort: String::new(), ..q.filter.clone() }),
        own => ownership::queue_context(&state, &session, &rows, filter.sort).await?,
        page => page_no, pages,
        done => q.done.parse::<u32>().ok(),
        skipped => q.skipped.parse::<u32>().ok().filter(|n| *n > 0),
        statuses => status_choices(),
        held => state.store.held_count().await?,
        flow => super::flow::banner(&state, &session, raw.as_deref()).await?,
        batch => super::batches::banner(&state, &session, raw.as_deref()).await?,
        lanes => state.store.lane_counts().await?,
    };
    page(&state, &session, "queue.html", ctx)
}

/// The queue's status menu: `open`, `all`, then every status.
fn status_choices() -> Vec<&'static str> {
    let each = OfferStatus::ALL.iter().map(|s| s.as_str());
    ["open", "all"].into_iter().chain(each).collect()
}

#[derive(serde::Deserialize)]
pub struct BulkForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    ids: Vec<i64>,
    #[serde(default)]
    action: String,
    #[serde(default)]
    reason: String,
    /// For `assign`: a staff email, empty for nobody.
    #[serde(default)]
    to: String,
    /// For `status`: the open status to set.
    #[serde(default)]
    status: String,
}

/// Declines, marks as spam, assigns or sets the status of every offer
/// ticked in the queue, as one batch with one Undo.
pub async fn bulk(
    State(state): State<AppState>,
    session: Session,
    RawQuery(raw): RawQuery,
    Form(form): Form<BulkForm>,
) -> Result<Response, WebError> {
    session.may_change(&form.csrf, Role::Triager)?;
    let action = bulk_action(&state, &form).await?;
    let ids: Vec<i64> = form.ids.iter().copied().take(500).collect();
    let mut refused = 0;
    // One batch, undone with one Undo.
    let mut batch = super::batches::Batch::new(&state, &session);
    for &id in &ids {
        let one = batch.apply(id, &action).await;
        if let Err(e) = one {
            if let WebError::Unexpected(_) = e {
                return Err(e);
            }
            tracing::info!(offer = id, reason = %e, "bulk action skipped an offer");
            refused += 1;
        }
    }
    let trail = super::flow::Trail::from_query(raw.as_deref()).qs();
    let done = ids.len() - refused;
    let undo = batch.query();
    Ok(Redirect::to(&format!("/?{trail}done={done}&skipped={refused}{undo}")).into_response())
}

/// The bulk action the form asks for, checked once before any offer.
async fn bulk_action(state: &AppState, form: &BulkForm) -> Result<BulkAction, WebError> {
    Ok(match form.action.as_str() {
        "decline" => {
            bounded(&form.reason, "a decline reason", MAX_REASON_CHARS)?;
            BulkAction::Decline(form.reason.clone())
        }
        "spam" => BulkAction::Spam,
        "assign" => BulkAction::Assign(ownership::assignee(state, &form.to).await?),
        "status" => BulkAction::SetStatus(ownership::open_status(&form.status)?),
        _ => {
            return Err(WebError::Invalid(
                "choose decline, spam, assign or set status".into(),
            ))
        }
    })
}

/// Characters that make a spreadsheet read a cell as a formula.
const FORMULA_START: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// A CSV cell that a spreadsheet will not run as a formula, whichever
/// separator it splits on: the text, and every part of it after a `,` or
/// `;`, that starts with a formula character gets a `'` before it.
/// Bidirectional controls are defused ([`super::bidi`]).
fn cell(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 1);
    let mut part_start = true;
    for c in super::bidi::defuse(text).chars() {
        if part_start && FORMULA_START.contains(&c) {
            out.push('\'');
        }
        // Spaces between a separator and a formula do not make it text.
        part_start = matches!(c, ',' | ';') || (part_start && c == ' ');
        out.push(c);
    }
    out
}

/// A CSV writer that quotes every field, so no separator inside a cell is
/// read as the end of it.
fn csv_writer() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .quote_style(csv::QuoteStyle::Always)
        .from_writer(Vec::new())
}

/// What an export asks besides the filters.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct ExportQuery {
    #[serde(flatten)]
    pub query: QueueQuery,
    /// `1`: start with a UTF-8 byte order mark, so Excel reads the file as UTF-8.
    pub bom: String,
}

/// A CSV download written as its rows arrive: `head`, then each row that
/// `record` turns into cells (defused by [`cell`]). Memory holds a few rows
/// at a time whatever the total; an error cuts the download short.
fn csv_download<T: Send + 'static>(
    name: &str,
    bom: bool,
    head: &'static [&'static str],
    rows: tokio::sync::mpsc::Receiver<Result<T, crate::store::StoreError>>,
    record: fn(T) -> Vec<String>,
) -> Response {
    let mut first = if bom {
        "\u{feff}".as_bytes().to_vec()
    } else {
        Vec::new()
    };
    first.extend(csv_line(head.iter().map(|h| h.to_string())));
    let start = futures::stream::once(async move { Ok::<_, std::io::Error>(first.into()) });
    let body = futures::stream::unfold(rows, move |mut rows| async move {
        let line = match rows.recv().await? {
            Ok(row) => Ok(csv_line(record(row).iter().map(|c| cell(c))).into()),
            Err(e) => {
                tracing::error!(error = %e, "CSV export cut short");
                Err(std::io::Error::other(e.to_string()))
            }
        };
        Some((line, rows))
    });
    let body: futures::stream::BoxStream<'static, Result<axum::body::Bytes, std::io::Error>> =
        Box::pin(futures::StreamExt::chain(start, body));
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        axum::body::Body::from_stream(body),
    )
        .into_response()
}

/// One CSV line of `cells`, every field quoted.
fn csv_line(cells: impl IntoIterator<Item = String>) -> Vec<u8> {
    let mut w = csv_writer();
    // Writing into memory cannot fail.
    let _ = w.write_record(cells.into_iter().collect::<Vec<_>>());
    w.into_inner().unwrap_or_default()
}

/// Milliseconds since the epoch as ISO 8601 in UTC: `2026-05-01T14:03:09Z`.
fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

const OFFER_HEAD: &[&str] = &[
    "reference",
    "status",
    "category",
    "priority",
    "donor_email",
    "donor_name",
    "organization",
    "phone",
    "subject",
    "language",
    "postal_code",
    "pickup_address",
    "items",
    "site",
    "window",
    "decline_reason",
    "merged_into",
    "notes",
    "created_at",
    "updated_at",
    "assigned_to",
];

fn offer_record(o: ExportOffer) -> Vec<String> {
    let r = o.row;
    vec![
        r.reference.to_string(),
        r.status.as_str().to_string(),
        r.category,
        fmt_qty(Some(r.priority)),
        r.donor_email,
        r.donor_name.unwrap_or_default(),
        o.organization.unwrap_or_default(),
        o.phone.unwrap_or_default(),
        r.subject,
        r.language.unwrap_or_default(),
        r.postal_code.unwrap_or_default(),
        o.pickup_address.unwrap_or_default(),
        r.items,
        o.pickup_site.unwrap_or_default(),
        o.pickup_window.unwrap_or_default(),
        o.decline_reason.unwrap_or_default(),
        o.merged_into
            .map(|id| OfferRef::from(id).to_string())
            .unwrap_or_default(),
        o.notes,
        iso(r.created_at),
        iso(o.updated_at),
        r.assigned_to.unwrap_or_default(),
    ]
}

pub async fn export_offers(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<ExportQuery>,
) -> Result<Response, WebError> {
    let bom = q.bom == "1";
    let q = q.query.bounded();
    let rows = state
        .store
        .export_offers(&q.filter.filter(&session.user.email)?);
    Ok(csv_download(
        "offers.csv",
        bom,
        OFFER_HEAD,
        rows,
        offer_record,
    ))
}

const ITEM_HEAD: &[&str] = &[
    "reference",
    "item",
    "quantity",
    "unit",
    "model",
    "condition",
    "received",
    "source",
    "base_quantity",
    "base_unit",
    "pack_size_assumed",
    "pledged",
];

fn item_record((reference, i): (OfferRef, ItemFull)) -> Vec<String> {
    vec![
        reference.to_string(),
        i.item,
        opt_qty(i.quantity),
        i.unit.unwrap_or_default(),
        i.model.unwrap_or_default(),
        i.condition.unwrap_or_default(),
        opt_qty(i.received_quantity),
        i.source,
        opt_qty(i.base_quantity),
        i.base_unit.unwrap_or_default(),
        if i.base_quantity.is_some() && i.pack_assumed {
            "yes"
        } else {
            ""
        }
        .to_string(),
        // Requests and sale offers are not supply pledged to us.
        if i.pledges { "yes" } else { "no" }.to_string(),
    ]
}

pub async fn export_items(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<ExportQuery>,
) -> Result<Response, WebError> {
    let bom = q.bom == "1";
    let q = q.query.bounded();
    let rows = state
        .store
        .export_items(&q.filter.filter(&session.user.email)?);
    Ok(csv_download("items.csv", bom, ITEM_HEAD, rows, item_record))
}

/// A quantity for a spreadsheet: empty when unknown, never `0` or `?`.
fn opt_qty(q: Option<f64>) -> String {
    q.map(|q| fmt_qty(Some(q))).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_page_value_gives_a_page_whose_offset_fits() {
        assert_eq!(page_number(""), 1);
        assert_eq!(page_number("abc"), 1);
        assert_eq!(page_number("-5"), 1);
        assert_eq!(page_number("3"), 3);
        let huge = page_number("9223372036854775807");
        assert!((huge - 1).checked_mul(PER_PAGE).is_some());
    }

    #[test]
    fn formulas_are_defused() {
        assert_eq!(cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(cell("masks"), "masks");
        assert_eq!(cell("Bob;=1+1"), "Bob;'=1+1");
        assert_eq!(cell("a, -2"), "a, '-2");
        assert_eq!(cell("1-2=3 @home"), "1-2=3 @home");
    }

    /// What a spreadsheet splitting on `sep` sees, quotes or not: cells
    /// split at every separator, with quotes and spaces trimmed.
    fn naive_cells(csv: &str, sep: char) -> Vec<String> {
        csv.lines()
            .flat_map(|line| line.split(sep))
            .map(|c| c.trim_matches(|c| c == '"' || c == ' ').to_string())
            .collect()
    }

    #[test]
    fn no_cell_starts_a_formula_with_either_separator() {
        let hostile = [
            "Bob;=1+1",
            "Bob,=1+1",
            "=cmd|' /C calc'!A0",
            "x; +SUM(A1)",
            "@SUM(1)",
            "-2+3",
            "a;\t=1",
            "a,\r=1",
            "plain",
        ];
        let mut w = csv_writer();
        w.write_record(hostile.map(cell)).unwrap();
        let text = String::from_utf8(w.into_inner().unwrap()).unwrap();
        for sep in [',', ';'] {
            for c in naive_cells(&text, sep) {
                assert!(
                    !c.starts_with(FORMULA_START),
                    "{c:?} with {sep:?} in {text}"
                );
            }
        }
        // Every field is quoted, and a CSV reader gets the text back with its marks.
        assert!(text.starts_with("\"Bob;'=1+1\",\"Bob,'=1+1\","), "{text}");
        let mut r = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(text.as_bytes());
        let row = r.records().next().unwrap().unwrap();
        assert_eq!(&row[8], "plain");
    }

    #[test]
    fn filters_round_trip_into_links() {
        let f = QueueForm {
            q: "n95 & gowns".into(),
            postal: "90501".into(),
            ..Default::default()
        };
        assert_eq!(query_string(&f), "postal=90501&q=n95%20%26%20gowns&");
    }

    #[test]
    fn the_form_parses_into_the_store_filter() {
        let form = |status: &str| QueueForm {
            status: status.into(),
            item: "n95_respirator".into(),
            ..Default::default()
        };
        let f = form("").filter("a@x").unwrap();
        assert_eq!(f.status, StatusFilter::Open);
        assert_eq!(f.item.as_deref(), Some("n95_respirator"));
        assert_eq!((f.category, f.search), (None, None));
        assert_eq!(form("all").filter("a@x").unwrap().status, StatusFilter::All);
        assert_eq!(
            form("needs_info").filter("a@x").unwrap().status,
            StatusFilter::Only(OfferStatus::NeedsInfo)
        );
        assert!(matches!(
            form("acepted").filter("a@x"),
            Err(WebError::Invalid(_))
        ));
        assert_eq!(status_choices()[..3], ["open", "all", "new"]);
    }
}
