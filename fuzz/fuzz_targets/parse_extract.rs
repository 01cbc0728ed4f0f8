//! Arbitrary bytes through parsing, cleaning and extraction: nothing may
//! panic, loop forever or allocate without bound. Run with
//! `cargo +nightly fuzz run parse_extract` from the crate root.
//!
//! `mail::parse` catches a panic inside the MIME parser and returns it as
//! an error, as it does in production; libfuzzer-sys's panic hook would
//! abort before that catch, so this target installs a hook that only
//! prints. A panic anywhere else still reaches libfuzzer-sys's own
//! `catch_unwind` and aborts: that is a finding.
#![no_main]

use std::sync::{Once, OnceLock};

use libfuzzer_sys::fuzz_target;
use supplyline::{mail, rules::Rules};

static RULES: OnceLock<Rules> = OnceLock::new();
static PRINT_ONLY_HOOK: Once = Once::new();

fuzz_target!(|data: &[u8]| {
    PRINT_ONLY_HOOK.call_once(|| std::panic::set_hook(Box::new(|info| eprintln!("{info}"))));
    let rules = RULES.get_or_init(|| Rules::embedded().expect("embedded rules"));
    if let Ok(msg) = mail::parse(data) {
        let _ = rules.extract(&msg);
    }
    // The text path alone, as if the bytes were a clean body.
    let text = String::from_utf8_lossy(data).into_owned();
    let msg = mail::ParsedMessage { clean_text: text.clone(), body_text: text, ..Default::default() };
    let _ = rules.extract(&msg);
});
