//! Full-text search of offers (SQLite FTS5, table `offer_search`, one row
//! per offer; on PostgreSQL a table of the same name with a weighted
//! tsvector, see migrations/postgres/0024): writing an offer's row when it
//! is created and adding the clean text of the messages that join it, and
//! turning what staff type into an FTS5 query ([`pg_tsquery`] turns that
//! into a tsquery). The row's items, notes and the offer's own columns
//! are kept in step by triggers (migration 0017), in the transaction that
//! changes them. A search with no filter but itself ([`ranks_alone`]) is
//! ranked, cut to its page and counted inside the index, so a search that
//! matches most offers joins only its page to `offers`.
//!
//! What staff type: words (all must match), `"a phrase"`, `word*` (a
//! prefix), `OR` between two terms, a reference (`SL-000123`, `sl-123`) and
//! a phone number in any spacing (`+1 310 555 0100`, `310-555-0100`).

use sqlx::{Any, Transaction};

use super::{
    Engine, QueryBuilder, QueryContext, QueueFilter, QueueSort, StatusFilter, Store, StoreError,
};
use crate::values::OfferRef;

/// The most characters of clean text one offer keeps in the index; a
/// longer thread is searched by its start.
const MAX_TEXT_CHARS: usize = 32 * 1024;

/// Each column's weight in the ranking (bm25), in the table's column
/// order: reference, donor, subject, phones, pickup, items, notes, text.
pub(super) const RANK: &str = "bm25(offer_search, 20.0, 6.0, 4.0, 20.0, 2.0, 3.0, 2.0, 1.0)";

/// Whether the index alone answers the queue `f`: a search in every
/// status with no other filter and the default sort (best match first).
/// The index then ranks its matches and cuts the page before a row of
/// `offers` is read, and counts them itself; a search that matches most
/// offers otherwise joined every match to `offers` before the page was
/// cut. Other filters are columns of `offers`, so their matches are
/// joined first.
pub(super) fn ranks_alone(f: &QueueFilter) -> bool {
    f.status == StatusFilter::All
        && f.category.is_none()
        && f.item.is_none()
        && f.language.is_none()
        && f.postal.is_none()
        && f.owner.is_none()
        && f.sort == QueueSort::default()
}

/// The search condition on `offer_search`: FTS5's MATCH, or the tsvector
/// against the same query as a tsquery.
pub(super) fn push_match(qb: &mut QueryBuilder, fts: &str) {
    match qb.engine() {
        Engine::Sqlite => qb.push("offer_search MATCH ").push_bind(fts.to_string()),
        Engine::Postgres => qb
            .push("offer_search.tsv @@ to_tsquery('simple', ")
            .push_bind(pg_tsquery(fts))
            .push(")"),
    };
}

/// A row's score for the search `fts`, lower the better match: bm25 with
/// [`RANK`]'s weights, or PostgreSQL's `ts_rank` (higher the better there)
/// negated.
pub(super) fn push_score(qb: &mut QueryBuilder, fts: &str) {
    match qb.engine() {
        Engine::Sqlite => qb.push(RANK),
        Engine::Postgres => qb
            .push("-CAST(ts_rank(offer_search.tsv, to_tsquery('simple', ")
            .push_bind(pg_tsquery(fts))
            .push(")) AS DOUBLE PRECISION)"),
    };
}

/// Leaves requests and inquiries out of the index's own query when `f`
/// does: their ids are few, read once from the category index.
fn push_offers_only(qb: &mut QueryBuilder, f: &QueueFilter) {
    if f.offers_only && f.category.is_none() {
        let lanes = super::lane_categories_sql();
        qb.push(format!(
            " AND rowid NOT IN (SELECT id FROM offers WHERE category IN ({lanes}))"
        ));
    }
}

/// The FROM and ORDER BY of a queue [`ranks_alone`] answers: the best
/// `window` matches by rank (then by id, so pages never overlap), and only
/// those joined to `offers`.
pub(super) fn push_ranked_window(qb: &mut QueryBuilder, f: &QueueFilter, query: &str, window: i64) {
    qb.push(" FROM (SELECT rowid AS id, ");
    push_score(qb, query);
    qb.push(" AS score FROM offer_search WHERE ");
    push_match(qb, query);
    push_offers_only(qb, f);
    let join = match qb.engine() {
        Engine::Sqlite => "CROSS JOIN",
        Engine::Postgres => "JOIN",
    };
    qb.push(" ORDER BY score, rowid LIMIT ")
        .push_bind(window)
        .push(format!(
            ") p {join} offers o ON o.id = p.id ORDER BY p.score, p.id"
        ));
}

/// How many offers a queue [`ranks_alone`] answers holds, counted in the
/// index.
pub(super) async fn count_alone(
    store: &Store,
    f: &QueueFilter,
    query: &str,
) -> Result<i64, StoreError> {
    let mut qb = QueryBuilder::new(store.engine, "SELECT COUNT(*) FROM offer_search WHERE ");
    push_match(&mut qb, query);
    push_offers_only(&mut qb, f);
    qb.build_query_scalar()
        .fetch_one(&store.reader)
        .await
        .during("counting a search's matches")
}

/// How many parts of the index a search [`ranks_alone`] answers is ranked
/// in at once, each on a reader connection of its own: ranking costs per
/// match (bm25 over 77,000 matches is most of a broad search's time), and
/// the parts share it among the cores. PostgreSQL shares a query among
/// its own workers: one part.
fn parts(engine: Engine) -> i64 {
    if engine == Engine::Postgres {
        return 1;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores.clamp(1, 4) as i64
}

/// The best `window` matches of a search [`ranks_alone`] answers, best
/// first (by rank, then id): the index is ranked in rowid ranges at once
/// and the parts' best merged. bm25 takes its word weights (IDF) and the
/// average length from the whole index whatever the range, so a row
/// scores the same in its part as in one query over everything, and the
/// merge is that query's answer.
pub(super) async fn ranked_ids(
    store: &Store,
    f: &QueueFilter,
    query: &str,
    window: i64,
) -> Result<Vec<i64>, StoreError> {
    let reader = &store.reader;
    let last: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM offers")
        .fetch_one(reader)
        .await
        .during("reading the last offer's id")?;
    let parts = parts(store.engine);
    let step = last / parts + 1;
    let ranked = (0..parts).map(|k| {
        let mut qb = QueryBuilder::new(store.engine, "SELECT rowid, ");
        push_score(&mut qb, query);
        qb.push(" AS score FROM offer_search WHERE ");
        push_match(&mut qb, query);
        qb.push(" AND rowid > ")
            .push_bind(k * step)
            .push(" AND rowid <= ")
            .push_bind((k + 1) * step);
        push_offers_only(&mut qb, f);
        qb.push(" ORDER BY score, rowid LIMIT ").push_bind(window);
        async move {
            qb.build_query_as::<(i64, f64)>()
                .fetch_all(reader)
                .await
                .during("ranking a search's matches")
        }
    });
    let mut best: Vec<(i64, f64)> = futures::future::try_join_all(ranked)
        .await?
        .into_iter()
        .flatten()
        .collect();
    best.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    best.truncate(usize::try_from(window).unwrap_or(0));
    Ok(best.into_iter().map(|(id, _)| id).collect())
}

/// Writes the search row of a just-created offer (its items already
/// written), with the clean text of its message.
pub(super) async fn insert_row(
    tx: &mut Transaction<'static, Any>,
    offer_id: i64,
    phone: Option<&str>,
    text: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO offer_search (rowid, reference, donor, subject, phones, pickup, items, notes, text)
         SELECT o.id, $2,
           COALESCE(o.donor_name, '') || ' ' || o.donor_email || ' '
             || COALESCE(json_extract(o.contact_json, '$.name'), '') || ' '
             || COALESCE(json_extract(o.contact_json, '$.organization'), ''),
           o.subject, $3,
           COALESCE(json_extract(o.pickup_json, '$.address'), '') || ' '
             || COALESCE(json_extract(o.pickup_json, '$.postal_code'), ''),
           COALESCE((SELECT group_concat(i.item || ' ' || COALESCE(i.model, '') || ' ' || COALESCE(i.unit, ''), ' ')
             FROM offer_items i WHERE i.offer_id = o.id), ''),
           COALESCE((SELECT group_concat(n.body, ' ') FROM notes n WHERE n.offer_id = o.id), ''),
           $4
         FROM offers o WHERE o.id = $1",
    )
    .bind(offer_id)
    .bind(OfferRef::from(offer_id).to_string())
    .bind(phone.map(phone_tokens).unwrap_or_default())
    .bind(bounded(text))
    .execute(&mut **tx)
    .await
    .during("indexing an offer for search")?;
    Ok(())
}

/// Adds the clean text of a message that joined an offer to its row.
pub(super) async fn append_text(
    tx: &mut Transaction<'static, Any>,
    offer_id: i64,
    text: &str,
) -> Result<(), StoreError> {
    if text.trim().is_empty() {
        return Ok(());
    }
    sqlx::query(
        "UPDATE offer_search SET text = substr(text || '\n' || $1, 1, CAST($2 AS INTEGER))
         WHERE rowid = $3",
    )
    .bind(bounded(text))
    .bind(MAX_TEXT_CHARS as i64)
    .bind(offer_id)
    .execute(&mut **tx)
    .await
    .during("indexing a reply for search")?;
    Ok(())
}

fn bounded(text: &str) -> &str {
    match text.char_indices().nth(MAX_TEXT_CHARS) {
        Some((cut, _)) => &text[..cut],
        None => text,
    }
}

/// The digits of a phone number, for the index: all of them, the last 10
/// and the last 7, so a number typed with or without its country or area
/// code finds it. Empty when it has fewer than 7 digits.
pub fn phone_tokens(phone: &str) -> String {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    if digits.len() < 7 {
        return String::new();
    }
    let tail = |n: usize| &digits[digits.len().saturating_sub(n)..];
    format!("{digits} {} {}", tail(10), tail(7))
}

/// One piece of what staff typed.
#[derive(Debug, PartialEq)]
enum Piece {
    Term { text: String, prefix: bool },
    Phrase(String),
    Or,
}

fn pieces(input: &str) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut rest = input;
    loop {
        rest = rest.trim_start();
        let Some(c) = rest.chars().next() else {
            return out;
        };
        if c == '"' {
            let body = &rest[1..];
            let end = body.find('"').unwrap_or(body.len());
            out.push(Piece::Phrase(body[..end].to_string()));
            rest = body.get(end + 1..).unwrap_or("");
            continue;
        }
        let end = rest
            .find(|c: char| c.is_whitespace() || c == '"')
            .unwrap_or(rest.len());
        let word = &rest[..end];
        rest = &rest[end..];
        if word == "OR" {
            out.push(Piece::Or);
        } else {
            let prefix = word.ends_with('*');
            out.push(Piece::Term {
                text: word.trim_end_matches('*').to_string(),
                prefix,
            });
        }
    }
}

/// A string as an FTS5 string literal: its tokens, as a phrase.
fn quoted(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// Whether `text` has anything the tokenizer keeps (letters or digits).
fn has_token(text: &str) -> bool {
    text.chars().any(char::is_alphanumeric)
}

fn is_phoneish(text: &str) -> bool {
    text.chars()
        .all(|c| c.is_ascii_digit() || "+-().".contains(c))
}

/// The FTS5 expression for a term: a reference matches as one, a phone
/// run by its digits or its words.
fn term_expr(words: &[&str], prefix: bool) -> String {
    if let [word] = words {
        if let Some(reference) = reference_in(word) {
            return quoted(&reference.to_string());
        }
    }
    let plain = words
        .iter()
        .map(|w| quoted(w))
        .collect::<Vec<_>>()
        .join(" AND ");
    let digits: String = words
        .concat()
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    if words.iter().all(|w| is_phoneish(w)) && digits.len() >= 7 {
        let mut forms = vec![quoted(&digits)];
        if digits.len() > 10 {
            forms.push(quoted(&digits[digits.len() - 10..]));
        }
        return format!("(phones : ({}) OR ({plain}))", forms.join(" OR "));
    }
    if prefix {
        format!("{plain}*")
    } else {
        plain
    }
}

/// `SL-000123`, `sl-123` (not a bare number: that is a word).
fn reference_in(word: &str) -> Option<OfferRef> {
    let starts = word.get(..3)?.eq_ignore_ascii_case("SL-");
    starts.then(|| word.parse().ok()).flatten()
}

/// What staff typed as an FTS5 query, or None when it has nothing to
/// search for. Every word reaches FTS5 quoted, so nothing typed is read
/// as FTS5 syntax; consecutive parts of a phone number are one term.
pub fn fts_query(input: &str) -> Option<String> {
    let pieces = pieces(input);
    let mut exprs: Vec<String> = Vec::new();
    let mut i = 0;
    while i < pieces.len() {
        match &pieces[i] {
            Piece::Or => {
                if exprs.last().is_some_and(|e| e != "OR") {
                    exprs.push("OR".into());
                }
                i += 1;
            }
            Piece::Phrase(p) => {
                if has_token(p) {
                    exprs.push(quoted(p));
                }
                i += 1;
            }
            Piece::Term { text, prefix } => {
                // A run of phone-like words is one number: "310 555 0100".
                let mut run = vec![text.as_str()];
                let mut prefix = *prefix;
                i += 1;
                while let (false, Some(Piece::Term { text, prefix: p })) = (prefix, pieces.get(i)) {
                    if !is_phoneish(run[0]) || !is_phoneish(text) {
                        break;
                    }
                    run.push(text.as_str());
                    prefix = *p;
                    i += 1;
                }
                run.retain(|w| has_token(w));
                if !run.is_empty() {
                    exprs.push(term_expr(&run, prefix));
                }
            }
        }
    }
    while exprs.last().is_some_and(|e| e == "OR") {
        exprs.pop();
    }
    if exprs.is_empty() {
        return None;
    }
    let mut out = String::new();
    for (n, e) in exprs.iter().enumerate() {
        let joined_by_or = e == "OR" || exprs.get(n.wrapping_sub(1)).is_some_and(|p| p == "OR");
        if n > 0 && !joined_by_or {
            out.push_str(" AND ");
        } else if n > 0 {
            out.push(' ');
        }
        out.push_str(e);
    }
    Some(out)
}

/// An FTS5 query of [`fts_query`] as a PostgreSQL `to_tsquery('simple', …)`
/// text: each quoted string a phrase of its words (`<->`), `AND` `&`, `OR`
/// `|`, a trailing `*` a prefix (`:*`); column filters (`phones :`) search
/// every column.
pub fn pg_tsquery(fts: &str) -> String {
    let mut out = String::new();
    let mut chars = fts.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                let mut body = String::new();
                while let Some(c) = chars.next() {
                    if c == '"' {
                        if chars.peek() == Some(&'"') {
                            chars.next();
                            body.push('"');
                            continue;
                        }
                        break;
                    }
                    body.push(c);
                }
                let prefix = chars.peek() == Some(&'*');
                if prefix {
                    chars.next();
                }
                let words: Vec<String> = body
                    .split(|c: char| !c.is_alphanumeric())
                    .filter(|w| !w.is_empty())
                    .map(|w| format!("'{}'", w.to_lowercase()))
                    .collect();
                let mut phrase = words.join(" <-> ");
                if phrase.is_empty() {
                    phrase = "''".into();
                }
                if prefix {
                    phrase.push_str(":*");
                }
                out.push_str(&format!("({phrase})"));
            }
            '(' | ')' => out.push(c),
            c if c.is_whitespace() => {}
            _ => {
                let mut word = String::from(c);
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || "()\"".contains(c) {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                match word.as_str() {
                    "AND" => out.push_str(" & "),
                    "OR" => out.push_str(" | "),
                    // A column filter: the words after it search every column.
                    _ => {}
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_phrases_prefixes_and_or_become_fts5() {
        assert_eq!(fts_query("ruiz masks").unwrap(), r#""ruiz" AND "masks""#);
        assert_eq!(
            fts_query(r#""isolation gowns" OR glove*"#).unwrap(),
            r#""isolation gowns" OR "glove"*"#
        );
        assert_eq!(fts_query("OR masks OR").unwrap(), r#""masks""#);
        assert_eq!(fts_query(r#"a"b NEAR( "#).unwrap(), r#""a" AND "b NEAR( ""#);
        assert_eq!(fts_query("  -- ").as_deref(), None);
    }

    #[test]
    fn references_and_phone_numbers_are_one_term() {
        assert_eq!(fts_query("sl-123").unwrap(), r#""SL-000123""#);
        assert_eq!(
            fts_query("+1 310 555-0100 ruiz").unwrap(),
            r#"(phones : ("13105550100" OR "3105550100") OR ("+1" AND "310" AND "555-0100")) AND "ruiz""#
        );
        assert_eq!(fts_query("2000 masks").unwrap(), r#""2000" AND "masks""#);
        assert_eq!(
            pg_tsquery(&fts_query(r#""isolation gowns" OR glove*"#).unwrap()),
            "('isolation' <-> 'gowns') | ('glove':*)"
        );
        assert_eq!(
            pg_tsquery(&fts_query("+1 310 555-0100 ruiz").unwrap()),
            "((('13105550100') | ('3105550100')) | (('1') & ('310') & ('555' <-> '0100'))) & ('ruiz')"
        );
        assert_eq!(
            phone_tokens("+1 (310) 555-0100"),
            "13105550100 3105550100 5550100"
        );
        assert_eq!(phone_tokens("12 34"), "");
    }
}
