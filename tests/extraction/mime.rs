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

/// Token soups of catalog words, numbers, CJK, table and list marks: the
/// extractor must not panic on any of them (a cheap stand-in for `fuzz/`).
#[test]
fn token_soup_never_panics() {
    const PARTS: &[&str] = &[
        "N95",
        " masks",
        " 3M 1860",
        "(",
        ")",
        " 20 per box",
        ", ",
        ". ",
        "\n",
        "\n\n",
        " | ",
        "- ",
        "2,000",
        "2.000",
        "1.5k",
        " two thousand",
        " a dozen",
        "一万个",
        "KN95口罩",
        "两千件",
        "隔离衣",
        "마스크 ",
        "1,000장",
        "과 ",
        "每箱50个",
        " cajas de ",
        "guantes",
        " 10 boxes of",
        " gloves",
        " each",
        " x ",
        "$2.45/pc",
        " we don't have",
        " CA 90210",
        "310-555-0100",
        "é",
        "—",
        "/",
        "200-300",
        " of ",
        "",
        "\u{feff}",
        "ñ",
        "> quoted",
        "-- \n",
        "On Mon wrote:\n",
        "Best,\n",
        "😷",
        " 50병",
        "(",
        "|",
    ];
    let rules = Rules::embedded().expect("embedded rules load");
    let mut seed: u64 = 0x5eed_1234_abcd_0001;
    for _ in 0..3_000 {
        let mut text = String::new();
        let len = (seed % 40) as usize;
        for _ in 0..len {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            text.push_str(PARTS[(seed >> 33) as usize % PARTS.len()]);
        }
        let msg = mail::ParsedMessage {
            subject: text.chars().take(30).collect(),
            body_text: text.clone(),
            clean_text: mail::clean::clean(&text, "").text,
            ..Default::default()
        };
        let _ = rules.extract(&msg);
        let _ = supplyline::rules::explain(&msg, &rules.extract(&msg), true);
    }
}
