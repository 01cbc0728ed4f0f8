//! Arbitrary bytes as a rule file: loading must answer with rules or a
//! `RuleError` naming file, line and reason, never panic, hang or blow up
//! (regexes are linear-time). The file is loaded alone, so each run is
//! fast enough to matter; references to items or units of other files
//! then fail, which is one of the error paths under test. Seed the corpus
//! with the shipped files (`cp rules/*.toml fuzz/corpus/rule_files/`).
//! Run with `cargo +nightly fuzz run rule_files` from the crate root.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use supplyline::rules::Rules;

/// One folder per process, holding only the file under test.
static DIR: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (dir, file) = DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temp dir");
        let file = dir.path().join("fuzzed.toml");
        (dir, file)
    });
    std::fs::write(file, text).expect("writing the rule file");
    if let Err(e) = Rules::load_dir(dir.path()) {
        let message = e.to_string();
        assert!(message.contains("fuzzed.toml"), "error without its file: {message}");
    }
});
