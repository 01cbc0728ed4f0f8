//! Scratch: prints the explain report for SCRATCH_TEXT (ignored by default).
#[test]
#[ignore]
fn scratch() {
    let rules = supplyline::rules::Rules::embedded().unwrap();
    let text = std::env::var("SCRATCH_TEXT").unwrap_or_default();
    let msg = supplyline::mail::ParsedMessage {
        clean_text: text.clone(),
        body_text: text,
        ..Default::default()
    };
    let ex = rules.extract(&msg);
    println!("{}", supplyline::rules::explain(&msg, &ex, true));
}

#[test]
#[ignore]
fn compile_time() {
    let t = std::time::Instant::now();
    let r = supplyline::rules::Rules::embedded().unwrap();
    println!("compile {:?}", t.elapsed());
    drop(r);
}

/// Where extraction time goes: run with --release and --ignored.
#[test]
#[ignore]
fn timing() {
    let rules = supplyline::rules::Rules::embedded().unwrap();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/donations");
    let mut msgs = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.path().extension().is_some_and(|x| x == "eml") {
            msgs.push(supplyline::mail::parse(&std::fs::read(e.path()).unwrap()).unwrap());
        }
    }
    let t = std::time::Instant::now();
    for _ in 0..20 {
        for m in &msgs {
            std::hint::black_box(rules.extract(m));
        }
    }
    println!("extract: {:?}/msg", t.elapsed() / (20 * msgs.len() as u32));
    let t = std::time::Instant::now();
    for _ in 0..20 {
        for m in &msgs {
            std::hint::black_box(rules.signals(m));
        }
    }
    println!("signals: {:?}/msg", t.elapsed() / (20 * msgs.len() as u32));
    let t = std::time::Instant::now();
    for _ in 0..20 {
        for m in &msgs {
            std::hint::black_box(rules.explain_full(m, &rules.extract(m), false));
        }
    }
    println!(
        "extract+explain: {:?}/msg",
        t.elapsed() / (20 * msgs.len() as u32)
    );
}
