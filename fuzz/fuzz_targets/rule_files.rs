//! Arbitrary bytes as one of the rule files, beside the shipped others:
//! loading must answer with rules or a `RuleError` naming file, line and
//! reason, never panic, hang or blow up (regexes are linear-time).
//! Run with `cargo +nightly fuzz run rule_files` from the crate root.
#![no_main]

use libfuzzer_sys::fuzz_target;
use supplyline::rules::Rules;

const SHIPPED: &[(&str, &str)] = &[
    ("catalog.toml", include_str!("../../rules/catalog.toml")),
    ("categories.toml", include_str!("../../rules/categories.toml")),
    ("fields.toml", include_str!("../../rules/fields.toml")),
    ("languages.toml", include_str!("../../rules/languages.toml")),
    ("numbers.toml", include_str!("../../rules/numbers.toml")),
    ("units.toml", include_str!("../../rules/units.toml")),
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let dir = tempfile::tempdir().expect("a temp dir");
    let replaced = pick as usize % SHIPPED.len();
    for (i, (name, shipped)) in SHIPPED.iter().enumerate() {
        let body = if i == replaced { text } else { shipped };
        std::fs::write(dir.path().join(name), body).expect("writing a rule file");
    }
    if let Err(e) = Rules::load_dir(dir.path()) {
        assert!(!e.to_string().is_empty());
    }
});
