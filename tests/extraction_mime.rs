//! Every message of the MIME torture corpus parses (or fails cleanly) and
//! then extracts without a panic.

use std::path::Path;

use supplyline::{mail, rules::Rules};

#[test]
fn mime_corpus_never_panics() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mime/messages");
    let rules = Rules::embedded().expect("embedded rules load");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("fixture dir") {
        let path = entry.expect("dir entry").path();
        let raw = std::fs::read(&path).expect("read fixture");
        seen += 1;
        let Ok(msg) = mail::parse(&raw) else { continue };
        let crlf = String::from_utf8_lossy(&raw).replace('\n', "\r\n");
        let _ = mail::parse(crlf.as_bytes());
        let _ = rules.extract(&msg);
    }
    assert!(
        seen >= 100,
        "found only {seen} messages in {}",
        dir.display()
    );
}
