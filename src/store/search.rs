//! Full-text search of offers (SQLite FTS5, table `offer_search`, one row
//! per offer; on PostgreSQL a table of the same name with a weighted
//! tsvector, see migrations/postgres/0024): writing an offer's row when it
//! is created and adding the clean text of the messages that join it, and
//! turning what staff type into an FTS5 query ([`pg_tsquery`] turns that
//! into a tsquery). The row's items, notes and the offer's own columns
//! are kept in step by triggers (migration 0017), in the transaction that
//! changes them. On PostgreSQL the vector itself is computed after that
//! transaction, by `serve`'s search indexer ([`Store::index_pending`]);
//! a search computes the vectors of rows not yet indexed itself
//! ([`push_source`]). A search with no filter but itself ([`ranks_alone`]) is
//! ranked, cut to its page and counted inside the index, so a search that
//! matches most offers joins only its page to `offers`; it ranks its newest
//! [`RANKED_MATCHES`] matches, and lists older ones after them.
//!
//! What staff type: words (all must match), `"a phrase"`, `word*` (a
//! prefix), `OR` between two terms, a reference (`SL-000123`, `sl-123`) and
//! a phone number in any spacing (`+1 310 555 0100`, `310-555-0100`).

use sqlx::{Any, AnyPool, Transaction};

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

/// A PostgreSQL search row's vector, computed from its columns: what a
/// row not yet indexed ([`Store::index_pending`]) is searched by.
const PG_VECTOR: &str = "offer_search_vector(offer_search)";

/// What a search reads, named `offer_search` (with `rowid`): FTS5's table
/// on SQLite; on PostgreSQL the rows whose vector matches the query `fts`,
/// with that vector as `tsv`: the indexed rows through the GIN index,
/// and the rows not yet indexed with their vector computed here. Two
/// arms, not one `OR`: an `OR` made PostgreSQL test every indexed row's
/// vector again (13 ms against 5 ms for a surname's 2,400 matches).
pub(super) fn push_source(qb: &mut QueryBuilder, fts: &str) {
    match qb.engine() {
        Engine::Sqlite => qb.push("offer_search"),
        Engine::Postgres => {
            let query = pg_tsquery(fts);
            qb.push("(SELECT rowid, tsv FROM offer_search WHERE tsv @@ to_tsquery('simple', ")
                .push_bind(query.clone())
                .push(format!(
                    ") UNION ALL SELECT rowid, {PG_VECTOR} FROM offer_search \
                     WHERE tsv IS NULL AND {PG_VECTOR} @@ to_tsquery('simple', "
                ))
                .push_bind(query)
                .push(")) AS offer_search")
        }
    };
}

/// The search condition on [`push_source`]'s `offer_search`: FTS5's
/// MATCH; nothing more on PostgreSQL, whose source holds only matches.
pub(super) fn push_match(qb: &mut QueryBuilder, fts: &str) {
    match qb.engine() {
        Engine::Sqlite => qb.push("offer_search MATCH ").push_bind(fts.to_string()),
        Engine::Postgres => qb.push("TRUE"),
    };
}

/// ` FROM` [`push_source`] ` WHERE` [`push_match`].
pub(super) fn push_from_matches(qb: &mut QueryBuilder, fts: &str) {
    qb.push(" FROM ");
    push_source(qb, fts);
    qb.push(" WHERE ");
    push_match(qb, fts);
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

/// How many of a search's matches are ranked: the newest this many. bm25
/// costs per match (about 1 µs), so ranking all 77,000 offers that match
/// `gown* OR ventilator` took 70–100 ms while the newest 10,000 take about
/// 15 ms. Older matches follow the ranked ones, newest first: a search
/// that broad is narrowed by another word, not read to its end.
pub const RANKED_MATCHES: i64 = 10_000;

/// How many of the `total` matches of the queue `f` are ranked, when not
/// all of them are: the desk says so above the list.
pub fn ranked_part(f: &QueueFilter, total: i64) -> Option<i64> {
    let searched = f.search.as_deref().and_then(fts_query).is_some();
    (searched && ranks_alone(f) && total > RANKED_MATCHES).then_some(RANKED_MATCHES)
}

/// The matches of `query` that are ranked, with their score: the newest
/// `ranked` (the index walks its rowids backwards and stops).
fn push_ranked_matches(qb: &mut QueryBuilder, f: &QueueFilter, query: &str, ranked: i64) {
    qb.push("SELECT offer_search.rowid AS id, ");
    push_score(qb, query);
    qb.push(" AS score");
    match qb.engine() {
        Engine::Sqlite => push_newest_matches(qb, f, query, ranked),
        Engine::Postgres => {
            // The cut sorts row ids alone; only the rows kept have their
            // vector read (the message text's is most of a row) and scored.
            qb.push(" FROM (SELECT rowid");
            push_newest_matches(qb, f, query, ranked);
            qb.push(format!(
                ") AS newest JOIN (SELECT rowid, COALESCE(tsv, {PG_VECTOR}) AS tsv \
                 FROM offer_search) AS offer_search ON offer_search.rowid = newest.rowid"
            ));
        }
    }
}

/// ` FROM` the matches of `query` (less the lanes `f` leaves out), newest
/// `limit` first.
fn push_newest_matches(qb: &mut QueryBuilder, f: &QueueFilter, query: &str, limit: i64) {
    push_from_matches(qb, query);
    push_offers_only(qb, f);
    qb.push(" ORDER BY rowid DESC LIMIT ").push_bind(limit);
}

/// The FROM and ORDER BY of a queue [`ranks_alone`] answers: the best
/// `window` of the ranked matches by rank (then by id, so pages never
/// overlap), and only those joined to `offers`. `window` is at most a few
/// pages here, well inside the ranked matches.
pub(super) fn push_ranked_window(qb: &mut QueryBuilder, f: &QueueFilter, query: &str, window: i64) {
    qb.push(" FROM (SELECT id, score FROM (");
    push_ranked_matches(qb, f, query, RANKED_MATCHES);
    let join = match qb.engine() {
        Engine::Sqlite => "CROSS JOIN",
        Engine::Postgres => "JOIN",
    };
    qb.push(") AS ranked ORDER BY score, id LIMIT ")
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
    let mut qb = QueryBuilder::new(store.engine, "SELECT COUNT(*)");
    push_from_matches(&mut qb, query);
    push_offers_only(&mut qb, f);
    qb.build_query_scalar()
        .fetch_one(&store.reader)
        .await
        .during("counting a search's matches")
}

/// The first `window` offers of a search [`ranks_alone`] answers, in its
/// order: the ranked matches best first (by rank, then id), then, for a
/// window reaching past them, the older matches newest first.
pub(super) async fn ranked_ids(
    store: &Store,
    f: &QueueFilter,
    query: &str,
    window: i64,
) -> Result<Vec<i64>, StoreError> {
    ranked_ids_of(
        store.engine,
        &store.reader,
        f,
        query,
        window,
        RANKED_MATCHES,
    )
    .await
}

/// [`ranked_ids`] with the newest `ranked` matches ranked.
async fn ranked_ids_of(
    engine: Engine,
    reader: &AnyPool,
    f: &QueueFilter,
    query: &str,
    window: i64,
    ranked: i64,
) -> Result<Vec<i64>, StoreError> {
    let mut qb = QueryBuilder::new(engine, "SELECT id FROM (");
    push_ranked_matches(&mut qb, f, query, ranked);
    qb.push(") AS ranked ORDER BY score, id LIMIT ")
        .push_bind(window);
    let mut ids: Vec<i64> = qb
        .build_query_scalar()
        .fetch_all(reader)
        .await
        .during("ranking a search's matches")?;
    let past_ranked = window - ranked;
    if past_ranked > 0 && ids.len() as i64 == ranked {
        let oldest_ranked = ids.iter().copied().min().unwrap_or(0);
        let mut qb = QueryBuilder::new(engine, "SELECT rowid");
        push_from_matches(&mut qb, query);
        qb.push(" AND rowid < ").push_bind(oldest_ranked);
        push_offers_only(&mut qb, f);
        qb.push(" ORDER BY rowid DESC LIMIT ")
            .push_bind(past_ranked);
        let older: Vec<i64> = qb
            .build_query_scalar()
            .fetch_all(reader)
            .await
            .during("listing a search's older matches")?;
        ids.extend(older);
    }
    Ok(ids)
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

/// Search rows [`Store::index_pending`] indexes in one statement.
const INDEX_BATCH: i64 = 256;

impl Store {
    /// Computes the search vector of up to [`INDEX_BATCH`] PostgreSQL rows
    /// written or changed since they were last indexed, oldest first, and
    /// returns how many. It runs after the transactions that wrote them,
    /// off the acknowledgement's path (migration postgres/0031); until
    /// then a search computes those rows' vectors itself. Rows another
    /// indexer holds are skipped. SQLite's FTS5 indexes a row as it is
    /// written: 0 there.
    pub async fn index_pending(&self) -> Result<u64, StoreError> {
        if self.engine == Engine::Sqlite {
            return Ok(0);
        }
        let done = sqlx::query(&format!(
            "UPDATE offer_search SET tsv = {PG_VECTOR}
             WHERE rowid IN (SELECT rowid FROM offer_search WHERE tsv IS NULL
                             ORDER BY rowid LIMIT $1 FOR UPDATE SKIP LOCKED)"
        ))
        .bind(INDEX_BATCH)
        .execute(&self.writer)
        .await
        .during("indexing offers for search")?;
        Ok(done.rows_affected())
    }

    /// Runs [`Store::index_pending`] until no row is left (or only rows
    /// another indexer holds); returns how many it indexed.
    pub async fn index_all_pending(&self) -> Result<u64, StoreError> {
        let mut indexed = 0;
        loop {
            match self.index_pending().await? {
                0 => return Ok(indexed),
                n => indexed += n,
            }
        }
    }

    /// How many search rows wait for [`Store::index_pending`].
    pub async fn search_rows_pending(&self) -> Result<i64, StoreError> {
        if self.engine == Engine::Sqlite {
            return Ok(0);
        }
        sqlx::query_scalar("SELECT COUNT(*) FROM offer_search WHERE tsv IS NULL")
            .fetch_one(&self.reader)
            .await
            .during("counting offers waiting for the search index")
    }
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

    /// An index of offers 1..=`n` where offer `i` mentions "gowns" `i % 7 + 1`
    /// times, so ranks differ, and every offer matches.
    async fn index_of(n: i64) -> AnyPool {
        sqlx::any::install_default_drivers();
        // One connection: each would open a database of its own in memory.
        let pool = sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .unwrap();
        sqlx::query(
            "CREATE VIRTUAL TABLE offer_search USING fts5 (
               reference, donor, subject, phones, pickup, items, notes, text)",
        )
        .execute(&pool)
        .await
        .unwrap();
        for i in 1..=n {
            let text = vec!["gowns"; (i % 7 + 1) as usize].join(" ") + " and some more words";
            sqlx::query("INSERT INTO offer_search (rowid, text) VALUES ($1, $2)")
                .bind(i)
                .bind(text)
                .execute(&pool)
                .await
                .unwrap();
        }
        pool
    }

    #[tokio::test]
    async fn a_broad_search_ranks_its_newest_matches_then_lists_the_older_newest_first() {
        let pool = index_of(40).await;
        let f = QueueFilter::default();
        let all = ranked_ids_of(Engine::Sqlite, &pool, &f, r#""gowns""#, 100, 10)
            .await
            .unwrap();
        assert_eq!(all.len(), 40, "every match listed once: {all:?}");
        let mut unique = all.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique, (1..=40).collect::<Vec<_>>());
        // The first ten are the newest ten (31..=40), best first: the most
        // mentions (i % 7 == 6: 34) lead.
        let mut head = all[..10].to_vec();
        assert_eq!(head[0], 34);
        head.sort();
        assert_eq!(head, (31..=40).collect::<Vec<_>>());
        // Then the older ones, newest first.
        assert_eq!(all[10..], (1..=30).rev().collect::<Vec<_>>());
        // A page inside the ranked part is the same whatever the window.
        let first = ranked_ids_of(Engine::Sqlite, &pool, &f, r#""gowns""#, 3, 10)
            .await
            .unwrap();
        assert_eq!(first, all[..3]);
    }

    #[test]
    fn the_desk_is_told_only_when_part_of_a_searchs_matches_is_ranked() {
        let searched = QueueFilter {
            search: Some("gown* OR ventilator".into()),
            status: StatusFilter::All,
            ..QueueFilter::default()
        };
        let over = RANKED_MATCHES + 1;
        assert_eq!(ranked_part(&searched, over), Some(RANKED_MATCHES));
        assert_eq!(ranked_part(&searched, RANKED_MATCHES), None);
        // Filtered or sorted otherwise, every match is ranked in `offers`.
        let open = QueueFilter {
            status: StatusFilter::Open,
            ..searched.clone()
        };
        assert_eq!(ranked_part(&open, over), None);
        assert_eq!(ranked_part(&QueueFilter::default(), over), None);
    }

    #[tokio::test]
    async fn a_search_with_fewer_matches_than_ranked_is_ranked_whole() {
        let pool = index_of(12).await;
        let f = QueueFilter::default();
        let all = ranked_ids_of(Engine::Sqlite, &pool, &f, r#""gowns""#, 50, 100)
            .await
            .unwrap();
        let best_first: Vec<i64> = {
            let mut by_mentions: Vec<i64> = (1..=12).collect();
            by_mentions.sort_by_key(|i| (std::cmp::Reverse(i % 7), *i));
            by_mentions
        };
        assert_eq!(all, best_first);
    }

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
