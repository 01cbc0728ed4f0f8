//! When a facility needs what it asks for, as its message says it: "by
//! Friday", "before December 10", "no later than 12/10", "needed by
//! 2026-12-10", "as soon as possible". The rules extract no date for
//! requests, so the request page shows the words of the message that say
//! when, for staff to read, rather than a date we might get wrong.
//!
//! Owns: finding that phrase. Does not own: showing it (`web::inquiries`).

use std::sync::LazyLock;

use regex::Regex;

/// A month's name or its abbreviation.
const MONTH: &str = r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)";

/// A weekday, with the date after it if one is given ("Friday, December 11").
const WEEKDAY: &str = r"(?:(?:next|this|coming)\s+)?(?:mon|tues?|wed(?:nes)?|thu(?:rs?)?|fri|sat(?:ur)?|sun)(?:day)?\b";

/// The pattern of a deadline: a word that says "not after", then a day
/// named by a weekday, a relative word, a month and day, or digits.
fn deadline_pattern() -> String {
    let date = format!(
        r"{MONTH}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?\b(?:,?\s+\d{{4}})?|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{MONTH}\b(?:,?\s+\d{{4}})?|\d{{4}}-\d{{2}}-\d{{2}}|\d{{1,2}}/\d{{1,2}}(?:/\d{{2,4}})?"
    );
    let relative = r"tomorrow|tonight|(?:the\s+)?end\s+of\s+(?:the\s+|this\s+|next\s+)?(?:day|week|month)|(?:next|this)\s+(?:week|month)";
    format!(
        r"(?i)\b(?:by|before|no\s+later\s+than|not\s+later\s+than|until|for)\s+(?:{WEEKDAY}(?:,?\s+(?:the\s+)?(?:{date}))?|{relative}|{date})"
    )
}

static DEADLINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&deadline_pattern()).expect("the deadline pattern compiles"));

static URGENT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:as\s+soon\s+as\s+possible|asap|urgent(?:ly)?|immediately|right\s+away)\b")
        .expect("the urgency pattern compiles")
});

/// The words of `text` that say when the supplies are needed: a deadline
/// if one is named, else a word of urgency; `None` when it says neither.
pub fn needed_by(text: &str) -> Option<String> {
    let found = DEADLINE.find(text).or_else(|| URGENT.find(text))?;
    Some(
        found
            .as_str()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
    )
}

#[cfg(test)]
mod tests {
    use super::needed_by;

    #[test]
    fn a_deadline_is_found_in_its_many_forms() {
        let cases = [
            ("We need 200 gowns by Friday, please.", "by Friday"),
            (
                "Needed before December 10, 2026 for the clinic",
                "before December 10, 2026",
            ),
            ("no later than 12/10 if you can", "no later than 12/10"),
            ("delivery by 2026-12-10", "by 2026-12-10"),
            (
                "we need them by the end of the week",
                "by the end of the week",
            ),
            (
                "need them by Friday, December 11.",
                "by Friday, December 11",
            ),
            ("please send by next\nMonday", "by next Monday"),
            ("for 3rd of January", "for 3rd of January"),
        ];
        for (text, want) in cases {
            assert_eq!(needed_by(text).as_deref(), Some(want), "{text}");
        }
    }

    #[test]
    fn urgency_counts_when_no_day_is_named_and_nothing_else_does() {
        assert_eq!(
            needed_by("We urgently need masks").as_deref(),
            Some("urgently")
        );
        assert_eq!(
            needed_by("Masks by Friday, it is urgent").as_deref(),
            Some("by Friday")
        );
        assert_eq!(needed_by("Sent by email for our clinic"), None);
        assert_eq!(needed_by("for 200 patients, by our nurses"), None);
    }
}
