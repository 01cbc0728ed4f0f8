//! What an import (and `migrate-db`) shows while it runs: a progress bar
//! (count, rate, ETA) on a terminal, plain lines every few seconds otherwise
//! (a log, a pipe).

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often a plain line is written when stderr is not a terminal.
const PLAIN_EVERY: Duration = Duration::from_secs(2);

/// Progress through `total` messages, or other units (those done before
/// this run included).
pub struct Progress {
    what: &'static str,
    unit: &'static str,
    bar: Option<ProgressBar>,
    total: u64,
    done: u64,
    /// Done when this run started (the rate counts only this run's).
    start_done: u64,
    started: Instant,
    last_line: Instant,
}

impl Progress {
    /// `what` is the verb shown ("imported", "processed").
    pub fn new(what: &'static str, total: u64, done: u64) -> Progress {
        Self::counting(what, "messages", total, done)
    }

    /// Like [`Progress::new`], counting `unit` ("rows") instead of messages.
    pub fn counting(what: &'static str, unit: &'static str, total: u64, done: u64) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(&format!(
                "{{prefix}} [{{bar:30}}] {{human_pos}}/{{human_len}} {unit}, {{per_sec}}, ETA {{eta}}"
            ))
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            bar.set_style(style);
            bar.set_prefix(what);
            bar.set_position(done);
            bar
        });
        Progress {
            what,
            unit,
            bar,
            total,
            done,
            start_done: done,
            started: Instant::now(),
            last_line: Instant::now(),
        }
    }

    /// `n` more messages done.
    pub fn advance(&mut self, n: u64) {
        self.done += n;
        match &self.bar {
            Some(bar) => bar.set_position(self.done),
            None if self.last_line.elapsed() >= PLAIN_EVERY => {
                self.last_line = Instant::now();
                eprintln!("{}", self.line());
            }
            None => {}
        }
    }

    /// A line above the bar (a skipped input, a warning).
    pub fn say(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None => eprintln!("{text}"),
        }
    }

    /// Ends the bar (or writes the last plain line).
    pub fn finish(self) {
        match self.bar {
            Some(bar) => bar.finish(),
            None => eprintln!("{}", self.line()),
        }
    }

    fn line(&self) -> String {
        let secs = self.started.elapsed().as_secs_f64().max(0.001);
        let rate = (self.done - self.start_done) as f64 / secs;
        let left = self.total.saturating_sub(self.done);
        let eta = match (left, rate > 0.0) {
            (0, _) => "0 s".into(),
            (_, true) => format!("{:.0} s", left as f64 / rate),
            (_, false) => "unknown".into(),
        };
        format!(
            "{} {} of {} {} ({rate:.0}/s, ETA {eta})",
            self.what, self.done, self.total, self.unit
        )
    }
}

/// Computes the search vectors of offers a command wrote without a
/// `serve` running ([`Store::index_pending`]; PostgreSQL only), with a
/// progress bar. A `serve` would index them too, and searches find them
/// meanwhile; this leaves the desk's searches at their indexed speed.
/// Stops early at `stop` (Ctrl-C), leaving the rest to `serve`.
pub async fn index_search(
    store: &crate::store::Store,
    stop: &tokio_util::sync::CancellationToken,
) -> Result<(), crate::store::StoreError> {
    let pending = store.search_rows_pending().await?.max(0) as u64;
    if pending == 0 {
        return Ok(());
    }
    let mut progress = Progress::counting("indexed", "offers", pending, 0);
    while !stop.is_cancelled() {
        match store.index_pending().await? {
            0 => break,
            n => progress.advance(n),
        }
    }
    progress.finish();
    Ok(())
}
