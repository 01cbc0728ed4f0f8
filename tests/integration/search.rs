//! The desk's search on both engines, through the store's queue as the
//! desk runs it: an offer is found by its message's words, its items and
//! a note as soon as they are written, and still once `serve`'s search
//! indexer has indexed them (PostgreSQL computes the search vector after
//! the processing transaction, migration postgres/0031; until then a
//! search computes it itself).

use std::time::Duration;

use supplyline::process::ProcessOutcome;
use supplyline::store::{QueueFilter, StatusFilter, Store};

use crate::app::{eventually, on_postgres, App};

/// The offers a search finds, the desk's way: ranked in every status
/// (the index answers alone), and among open offers (joined to `offers`
/// first). Both must agree.
async fn found(store: &Store, search: &str) -> Vec<i64> {
    let mut seen = Vec::new();
    for status in [StatusFilter::All, StatusFilter::Open] {
        let filter = QueueFilter {
            status,
            search: Some(search.to_string()),
            ..QueueFilter::default()
        };
        let (rows, total) = store.queue(&filter, 0, 50).await.unwrap();
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        assert_eq!(total, ids.len() as i64, "{search:?}: count and list differ");
        seen.push(ids);
    }
    assert_eq!(seen[0], seen[1], "{search:?}: all statuses and open differ");
    seen.remove(0)
}

#[tokio::test]
async fn an_offer_is_found_by_its_words_items_and_notes_before_and_after_indexing() {
    let mut app = App::prepare("").await;
    app.donate(
        "Hello, our clinic in Westerbeke is closing. We can give 40 boxes of N95 masks \
         and 12 isolation gowns. Ask for Marguerite at the back door.",
    )
    .await;
    let other = "Good morning, we have 300 surgical masks left over from our dental office.";
    app.donate(other).await;
    let drained = app.drain().await;
    let offers: Vec<i64> = drained
        .processed
        .iter()
        .filter_map(|o| match o {
            ProcessOutcome::NewOffer { offer, .. } => Some(*offer),
            _ => None,
        })
        .collect();
    assert_eq!(offers.len(), 2, "{:?}", drained.processed);
    let (clinic, dental) = (offers[0], offers[1]);
    app.store
        .add_note(
            clinic,
            "triager@city.example",
            "Loading dock on Halvorsen Street",
        )
        .await
        .unwrap();

    // No serve has run: on PostgreSQL nothing is indexed yet.
    let pending = app.store.search_rows_pending().await.unwrap();
    assert_eq!(pending, if on_postgres() { 2 } else { 0 });
    let searches: [(&str, Vec<i64>); 7] = [
        ("marguerite", vec![clinic]),
        ("westerbeke n95", vec![clinic]),
        ("gown*", vec![clinic]),
        ("halvorsen", vec![clinic]),
        ("dental OR westerbeke", vec![clinic, dental]),
        ("\"back door\"", vec![clinic]),
        ("ventilator", vec![]),
    ];
    for (search, expected) in &searches {
        let mut got = found(&app.store, search).await;
        got.sort();
        assert_eq!(&got, expected, "before indexing: {search:?}");
    }

    // serve indexes what is waiting (PostgreSQL; SQLite has nothing waiting).
    app.restart().await;
    let store = app.store.clone();
    eventually(Duration::from_secs(30), "the search indexer", || {
        let store = store.clone();
        async move { store.search_rows_pending().await.unwrap() == 0 }
    })
    .await;
    for (search, expected) in &searches {
        let mut got = found(&app.store, search).await;
        got.sort();
        assert_eq!(&got, expected, "after indexing: {search:?}");
    }

    // A later note is found at once, indexed or not.
    app.store
        .add_note(dental, "triager@city.example", "Call Dr Okonkwo first")
        .await
        .unwrap();
    assert_eq!(found(&app.store, "okonkwo").await, vec![dental]);
    eventually(Duration::from_secs(30), "the note indexed", || {
        let store = store.clone();
        async move { store.search_rows_pending().await.unwrap() == 0 }
    })
    .await;
    assert_eq!(found(&app.store, "okonkwo").await, vec![dental]);
    assert_eq!(found(&app.store, "halvorsen").await, vec![clinic]);
}
