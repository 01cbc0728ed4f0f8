//! Throughput of the process stage's text work on the donations corpus:
//! bare mail-parser parsing (the floor), `mail::parse` (parse + clean +
//! attachments), and `mail::parse` + `Rules::extract`. The target is at
//! least 5,000 messages per second per core for the last.

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use supplyline::{mail, rules::Rules};

fn corpus() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/donations");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("fixture dir").flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|x| x == "eml") {
            out.push(std::fs::read(path).expect("read"));
        }
    }
    assert!(!out.is_empty(), "no messages");
    out
}

fn bench(c: &mut Criterion) {
    let msgs = corpus();
    let rules = Rules::embedded().expect("rules");
    let mut g = c.benchmark_group("donations");
    g.throughput(Throughput::Elements(msgs.len() as u64));
    g.bench_function("mail_parser_only", |b| {
        b.iter(|| {
            for raw in &msgs {
                std::hint::black_box(mail_parser::MessageParser::default().parse(raw));
            }
        })
    });
    g.bench_function("parse_clean", |b| {
        b.iter(|| {
            for raw in &msgs {
                let _ = std::hint::black_box(mail::parse(raw));
            }
        })
    });
    g.bench_function("parse_clean_extract", |b| {
        b.iter(|| {
            for raw in &msgs {
                if let Ok(m) = mail::parse(raw) {
                    std::hint::black_box(rules.extract(&m));
                }
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
