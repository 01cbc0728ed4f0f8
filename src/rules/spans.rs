//! Overlap queries over byte spans of the text in O(log n), so that a long
//! message full of matches costs n log n, not n².

use std::collections::BTreeMap;

/// A fixed set of spans, which may overlap one another.
pub struct SpanIndex {
    /// Spans sorted by start.
    spans: Vec<(usize, usize)>,
    /// The largest end among `spans[..=i]`.
    max_end: Vec<usize>,
}

impl SpanIndex {
    pub fn new(spans: impl IntoIterator<Item = (usize, usize)>) -> SpanIndex {
        let mut spans: Vec<(usize, usize)> = spans.into_iter().collect();
        spans.sort_unstable();
        let max_end = spans
            .iter()
            .scan(0, |max, &(_, e)| {
                *max = (*max).max(e);
                Some(*max)
            })
            .collect();
        SpanIndex { spans, max_end }
    }

    /// Whether any span shares a byte with `s..e`.
    pub fn overlaps(&self, s: usize, e: usize) -> bool {
        let before_end = self.spans.partition_point(|&(a, _)| a < e);
        before_end > 0 && self.max_end[before_end - 1] > s
    }
}

/// A growing set of spans that never overlap one another.
#[derive(Default)]
pub struct Occupied(BTreeMap<usize, usize>);

impl Occupied {
    /// Whether any span shares a byte with `s..e`. Spans do not overlap, so
    /// the one starting last before `e` ends last among those.
    pub fn overlaps(&self, s: usize, e: usize) -> bool {
        self.0
            .range(..e)
            .next_back()
            .is_some_and(|(_, &end)| end > s)
    }

    /// Adds `s..e`, which must not overlap a span already held.
    pub fn insert(&mut self, s: usize, e: usize) {
        debug_assert!(!self.overlaps(s, e));
        self.0.insert(s, e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brute(spans: &[(usize, usize)], s: usize, e: usize) -> bool {
        spans.iter().any(|&(a, b)| a < e && s < b)
    }

    #[test]
    fn index_answers_as_a_scan_would() {
        let spans = [(5, 9), (0, 2), (7, 30), (12, 13), (40, 41), (3, 3)];
        let index = SpanIndex::new(spans);
        for s in 0..45 {
            for e in s + 1..46 {
                assert_eq!(index.overlaps(s, e), brute(&spans, s, e), "{s}..{e}");
            }
        }
    }

    #[test]
    fn occupied_answers_as_a_scan_would() {
        let spans = [(10, 14), (0, 3), (20, 21), (5, 10)];
        let mut occupied = Occupied::default();
        for &(s, e) in &spans {
            occupied.insert(s, e);
        }
        for s in 0..25 {
            for e in s + 1..26 {
                assert_eq!(occupied.overlaps(s, e), brute(&spans, s, e), "{s}..{e}");
            }
        }
    }
}
