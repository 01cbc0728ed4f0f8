//! Runs `mail::parse` + `Rules::extract` over the donations corpus a few
//! times (`EXTRACT_LOOPS`, default 3): a short, steady program for
//! `valgrind --tool=callgrind` instruction counts of the extraction path.
//!
//! `cargo build --release --example extract_loop && valgrind
//!  --tool=callgrind --collect-atstart=no --toggle-collect='*measured*'
//!  target/release/examples/extract_loop`

use std::path::Path;

use supplyline::{mail, rules::Rules};

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/donations");
    let mut msgs = Vec::new();
    for entry in std::fs::read_dir(dir).expect("fixture dir").flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|x| x == "eml") {
            msgs.push(std::fs::read(path).expect("read"));
        }
    }
    msgs.sort();
    let loops: usize = std::env::var("EXTRACT_LOOPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let rules = Rules::embedded().expect("rules");
    // The first pass builds the regex engines' lazy DFAs; the steady state
    // is in `measured` (`--collect-atstart=no --toggle-collect=*measured*`).
    let warm = run(&rules, &msgs, 1);
    let items = measured(&rules, &msgs, loops);
    println!(
        "{} messages x {loops}, {items} items ({warm} warm)",
        msgs.len()
    );
}

#[inline(never)]
fn measured(rules: &Rules, msgs: &[Vec<u8>], loops: usize) -> usize {
    run(rules, msgs, loops)
}

fn run(rules: &Rules, msgs: &[Vec<u8>], loops: usize) -> usize {
    let mut items = 0usize;
    for _ in 0..loops {
        for raw in msgs {
            if let Ok(m) = mail::parse(raw) {
                items += std::hint::black_box(rules.extract(&m)).items.len();
            }
        }
    }
    items
}
