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
