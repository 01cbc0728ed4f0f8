//! Arbitrary bytes through parsing, cleaning and extraction: nothing may
//! panic, loop forever or allocate without bound. Run with
//! `cargo +nightly fuzz run parse_extract` from the crate root.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use supplyline::{mail, rules::Rules};

static RULES: OnceLock<Rules> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let rules = RULES.get_or_init(|| Rules::embedded().expect("embedded rules"));
    if let Ok(msg) = mail::parse(data) {
        let _ = rules.extract(&msg);
    }
    // The text path alone, as if the bytes were a clean body.
    let text = String::from_utf8_lossy(data).into_owned();
    let msg = mail::ParsedMessage { clean_text: text.clone(), body_text: text, ..Default::default() };
    let _ = rules.extract(&msg);
});
