//! Prints, for every `.eml` under the folders given, what
//! `supplyline extract --json` and `supplyline extract --explain` print with
//! the built-in rules, in one process: a byte-for-byte reference for engine
//! changes that must not change the output.
//!
//! `cargo run --release --example extract_dump -- tests/fixtures > out.txt`

use std::path::{Path, PathBuf};

use supplyline::{mail, rules};

fn emls(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            emls(&p, out);
        } else if p.extension().is_some_and(|x| x == "eml") {
            out.push(p);
        }
    }
}

fn main() -> anyhow::Result<()> {
    let rules = rules::Rules::embedded()?;
    let catalog = rules::catalog::Catalog::embedded()?;
    let mut files = Vec::new();
    for dir in std::env::args().skip(1) {
        emls(Path::new(&dir), &mut files);
    }
    files.sort();
    for f in &files {
        println!("=== {}", f.display());
        let raw = std::fs::read(f)?;
        let msg = match mail::parse(&raw) {
            Ok(m) => m,
            Err(e) => {
                println!("parse error: {e}");
                continue;
            }
        };
        let extraction = rules.extract(&msg);
        let json = catalog.extraction_json(&extraction);
        println!("{}", serde_json::to_string_pretty(&json)?);
        print!("{}", rules.explain_full(&msg, &extraction, true));
    }
    Ok(())
}
