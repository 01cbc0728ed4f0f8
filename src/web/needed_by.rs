//! When a facility needs what it asks for, as its message says it: "by
//! Friday", "before December 10", "no later than 12/10", "needed by
//! 2026-12-10", "as soon as possible". The rules extract no date for
//! requests, so the request page shows the words of the message that say
//! when, for staff to read, rather than a date we might get wrong.
//!
//! Owns: finding that phrase. Does not own: showing it (`web::inquiries`).

use std::sync::LazyLock;

use chrono::{Datelike, NaiveDate, Weekday};
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

/// When is needed: the words that say it, and the day they name when they
/// name one (read against the day the message came).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NeededBy {
    pub words: String,
    /// `2026-12-11`, when the words name a day.
    pub date: Option<String>,
}

/// [`needed_by`] with the day it names, read against `received`.
pub fn needed_by_on(text: &str, received: NaiveDate) -> Option<NeededBy> {
    let words = needed_by(text)?;
    let date = day_named(&words, received).map(|d| d.format("%Y-%m-%d").to_string());
    Some(NeededBy { words, date })
}

static ISO: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(\d{4})-(\d{2})-(\d{2})").expect("compiles"));
static SLASHED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b(\d{1,2})/(\d{1,2})(?:/(\d{2,4}))?\b").expect("compiles"));
static MONTH_DAY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"(?i)\b({MONTH})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(\d{{4}}))?|\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({MONTH})\b(?:,?\s+(\d{{4}}))?"
    ))
    .expect("compiles")
});
static WEEKDAY_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(mon|tue|wed|thu|fri|sat|sun)[a-z]*\b|\b(tomorrow|tonight)\b")
        .expect("compiles")
});

/// The day `words` name, if they name one: a date (month names, ISO,
/// month/day as in the US), else a weekday or tomorrow, the first after
/// `received`. A date without a year that has passed is next year's.
fn day_named(words: &str, received: NaiveDate) -> Option<NaiveDate> {
    let year_or = |y: Option<regex::Match>| y.and_then(|y| y.as_str().parse::<i32>().ok());
    let upcoming = |month: u32, day: u32, year: Option<i32>| {
        let year = year.map(|y| if y < 100 { 2000 + y } else { y });
        let this = NaiveDate::from_ymd_opt(year.unwrap_or(received.year()), month, day)?;
        match year.is_none() && this < received {
            true => NaiveDate::from_ymd_opt(received.year() + 1, month, day),
            false => Some(this),
        }
    };
    if let Some(c) = ISO.captures(words) {
        let n = |i: usize| c[i].parse::<u32>().ok();
        return NaiveDate::from_ymd_opt(c[1].parse().ok()?, n(2)?, n(3)?);
    }
    if let Some(c) = MONTH_DAY.captures(words) {
        let (month, day, year) = match c.get(1) {
            Some(m) => (m.as_str(), c.get(2)?, c.get(3)),
            None => (c.get(5)?.as_str(), c.get(4)?, c.get(6)),
        };
        return upcoming(
            month_number(month)?,
            day.as_str().parse().ok()?,
            year_or(year),
        );
    }
    if let Some(c) = SLASHED.captures(words) {
        let (month, day) = (c[1].parse().ok()?, c[2].parse().ok()?);
        return upcoming(month, day, year_or(c.get(3)));
    }
    let c = WEEKDAY_NAME.captures(words)?;
    if c.get(2).is_some() {
        return received.succ_opt();
    }
    let want: Weekday = c[1].parse().ok()?;
    let ahead = (7 + want.num_days_from_monday() - received.weekday().num_days_from_monday()) % 7;
    received.checked_add_days(chrono::Days::new(if ahead == 0 { 7 } else { ahead }.into()))
}

/// 1 for January: the month a name or abbreviation starts with.
fn month_number(name: &str) -> Option<u32> {
    const STARTS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let name = name.to_ascii_lowercase();
    STARTS
        .iter()
        .position(|s| name.starts_with(s))
        .map(|i| i as u32 + 1)
}

#[cfg(test)]
mod tests {
    use super::{needed_by, needed_by_on};
    use chrono::NaiveDate;

    #[test]
    fn the_day_named_is_read_against_the_day_the_message_came() {
        // A Thursday.
        let received = NaiveDate::from_ymd_opt(2026, 12, 3).unwrap();
        let day = |text: &str| needed_by_on(text, received).and_then(|n| n.date);
        assert_eq!(day("by Friday, December 11").as_deref(), Some("2026-12-11"));
        assert_eq!(day("by Friday").as_deref(), Some("2026-12-04"));
        assert_eq!(day("by Thursday").as_deref(), Some("2026-12-10"));
        assert_eq!(day("before 12/10").as_deref(), Some("2026-12-10"));
        assert_eq!(day("by January 5").as_deref(), Some("2027-01-05"));
        assert_eq!(
            day("for 3rd of January 2027").as_deref(),
            Some("2027-01-03")
        );
        assert_eq!(day("by 2026-12-24").as_deref(), Some("2026-12-24"));
        assert_eq!(day("by tomorrow").as_deref(), Some("2026-12-04"));
        assert_eq!(day("by the end of the week"), None);
        assert_eq!(day("urgently"), None);
        assert_eq!(day("by 2/30"), None);
    }

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
