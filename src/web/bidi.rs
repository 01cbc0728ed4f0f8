//! Bidirectional control characters (U+202A–U+202E, U+2066–U+2069) turn
//! the text after them around on screen: `gpj.exe` shows as `exe.jpg`, a
//! reference or an amount reads backwards. From donors they are never
//! needed, so every page value and CSV cell shows each as U+FFFD instead.
//!
//! Owns: recognising and replacing them. Callers: the page formatter
//! ([`super::Views`]), error pages and CSV export.

use std::borrow::Cow;

/// What each control becomes: visible, and inert.
const REPLACEMENT: char = '\u{FFFD}';

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `text` with every bidirectional control replaced by U+FFFD.
pub fn defuse(text: &str) -> Cow<'_, str> {
    if text.contains(is_bidi_control) {
        Cow::Owned(
            text.chars()
                .map(|c| if is_bidi_control(c) { REPLACEMENT } else { c })
                .collect(),
        )
    } else {
        Cow::Borrowed(text)
    }
}

/// The page formatter: values as minijinja's escaping formatter writes
/// them, with bidirectional controls defused first.
pub fn formatter(
    out: &mut minijinja::Output,
    state: &minijinja::State,
    value: &minijinja::Value,
) -> Result<(), minijinja::Error> {
    match value.as_str().map(defuse) {
        Some(Cow::Owned(text)) => {
            let value = if value.is_safe() {
                minijinja::Value::from_safe_string(text)
            } else {
                minijinja::Value::from(text)
            };
            minijinja::escape_formatter(out, state, &value)
        }
        _ => minijinja::escape_formatter(out, state, value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_become_visible_and_the_rest_stays() {
        assert_eq!(defuse("invoice\u{202E}gpj.exe"), "invoice\u{FFFD}gpj.exe");
        assert_eq!(
            defuse("\u{2066}a\u{2069} \u{202A}"),
            "\u{FFFD}a\u{FFFD} \u{FFFD}"
        );
        assert!(matches!(defuse("שלום masks"), Cow::Borrowed(_)));
    }
}
