//! The calendar invite attached to pickup instructions: one `VEVENT` in an
//! iCalendar object (RFC 5545), `METHOD:PUBLISH`, so the donor's calendar
//! offers to add the pickup without asking for an RSVP. A rescheduled slot
//! is the same event (same `UID`) with a higher `SEQUENCE`; a cancelled one
//! is `METHOD:CANCEL`, `STATUS:CANCELLED`, same `UID`, higher `SEQUENCE`.
//!
//! Owns: reading the pickup window that staff chose (the text the web form
//! writes, "Friday 1 May 2026 09:00–11:00", or "2026-05-01 09:00-11:00"),
//! escaping TEXT values, folding lines at 75 octets with CRLF ends.
//! Does not own: attaching the file to the message (that is `message`).
//!
//! Times are UTC (`Z`) when the site has a time zone (#16: the slot's
//! instant is known); otherwise floating local times (no `Z`, no `TZID`):
//! the pickup happens at 09:00 wherever the site is, which is what the
//! donor reads in the email too. A window may end with the zone's
//! abbreviation ("09:00–10:00 PST"), which is read past, not interpreted.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

/// The longest a content line may be, in octets, before it is folded.
const FOLD_AT: usize = 75;

/// A pickup slot as a calendar event.
#[derive(Debug, Clone, PartialEq)]
pub struct PickupEvent {
    /// Unique and stable: derived from the reply's Message-ID.
    pub uid: String,
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
    pub summary: String,
    pub location: String,
    pub description: String,
    /// The donations address, as `ORGANIZER`.
    pub organizer: String,
    /// Raised by every change to the event (RFC 5545 3.8.7.4).
    pub sequence: u32,
    /// The event is withdrawn: `METHOD:CANCEL`.
    pub cancelled: bool,
    /// `start` and `end` are UTC (written with `Z`), not floating times.
    pub utc: bool,
}

/// Reads a pickup window: a date, then `HH:MM–HH:MM` (en dash or hyphen).
/// Accepts the web form's "Friday 1 May 2026 09:00–11:00" and ISO dates.
/// `None` when the text is not such a window or the end is not after the start.
pub fn parse_window(text: &str) -> Option<(NaiveDateTime, NaiveDateTime)> {
    let text = split_zone(text).0;
    let (date, times) = text.rsplit_once(' ')?;
    let (from, to) = times
        .split_once('–')
        .or_else(|| times.split_once('-'))
        .or_else(|| times.split_once('—'))?;
    let time = |t: &str| NaiveTime::parse_from_str(t.trim(), "%H:%M").ok();
    let (from, to) = (time(from)?, time(to)?);
    let date = parse_date(date.trim()).filter(|d| crate::slots::grid::bookable(*d))?;
    (from < to).then(|| (date.and_time(from), date.and_time(to)))
}

/// The window without the zone label it may end with ("… 09:00–10:00 PST"
/// or "… UTC+08"), and that label. A label is a last word of letters,
/// digits, `+`, `-` and `:` (2 to 9 of them, a letter or sign first) after
/// a word with a digit in it.
pub fn split_zone(text: &str) -> (&str, Option<&str>) {
    let text = text.trim();
    let Some((rest, last)) = text.rsplit_once(' ') else {
        return (text, None);
    };
    let label = (2..=9).contains(&last.len())
        && last.starts_with(|c: char| c.is_ascii_alphabetic() || c == '+' || c == '-')
        && last
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | ':'))
        && !last.chars().all(|c| c.is_ascii_digit())
        && rest
            .rsplit(' ')
            .next()
            .is_some_and(|w| w.contains(|c: char| c.is_ascii_digit()) && w.contains(':'));
    match label {
        true => (rest.trim_end(), Some(last)),
        false => (text, None),
    }
}

fn parse_date(text: &str) -> Option<NaiveDate> {
    [
        "%Y-%m-%d",
        "%A %d %B %Y",
        "%d %B %Y",
        "%A, %d %B %Y",
        "%B %d, %Y",
    ]
    .iter()
    .find_map(|f| NaiveDate::parse_from_str(text, f).ok())
}

impl PickupEvent {
    /// The iCalendar method: `CANCEL` for a withdrawn event, else `PUBLISH`.
    pub fn method(&self) -> &'static str {
        match self.cancelled {
            true => "CANCEL",
            false => "PUBLISH",
        }
    }

    /// The whole `.ics` file, CRLF line ends, long lines folded. `stamp` is
    /// when the invite was made (`DTSTAMP`, UTC).
    pub fn to_ics(&self, stamp: NaiveDateTime) -> String {
        let z = if self.utc { "Z" } else { "" };
        let lines = [
            "BEGIN:VCALENDAR".to_string(),
            "VERSION:2.0".to_string(),
            "PRODID:-//supplyline//pickup//EN".to_string(),
            "CALSCALE:GREGORIAN".to_string(),
            format!("METHOD:{}", self.method()),
            "BEGIN:VEVENT".to_string(),
            format!("UID:{}", escape_text(&self.uid)),
            format!("DTSTAMP:{}Z", stamp.format("%Y%m%dT%H%M%S")),
            format!("SEQUENCE:{}", self.sequence),
            format!("DTSTART:{}{z}", self.start.format("%Y%m%dT%H%M%S")),
            format!("DTEND:{}{z}", self.end.format("%Y%m%dT%H%M%S")),
            format!("SUMMARY:{}", escape_text(&self.summary)),
            format!("LOCATION:{}", escape_text(&self.location)),
            format!("DESCRIPTION:{}", escape_text(&self.description)),
            format!("ORGANIZER:mailto:{}", strip_controls(&self.organizer)),
            match self.cancelled {
                true => "STATUS:CANCELLED".to_string(),
                false => "STATUS:CONFIRMED".to_string(),
            },
            "TRANSP:OPAQUE".to_string(),
            "END:VEVENT".to_string(),
            "END:VCALENDAR".to_string(),
        ];
        lines.iter().map(|l| fold(l)).collect()
    }
}

/// Escapes a TEXT value (RFC 5545 3.3.11): backslash, semicolon, comma,
/// and newlines as `\n`; other control characters are dropped.
pub fn escape_text(text: &str) -> String {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

fn strip_controls(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).collect()
}

/// One content line, folded so no line passes 75 octets (continuations
/// start with a space, which counts), never splitting a UTF-8 character;
/// ends with CRLF.
pub fn fold(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + line.len() / 70 * 3 + 2);
    let mut used = 0;
    for c in line.chars() {
        if used + c.len_utf8() > FOLD_AT {
            out.push_str("\r\n ");
            used = 1;
        }
        out.push(c);
        used += c.len_utf8();
    }
    out.push_str("\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(h, min, 0)
            .unwrap()
    }

    fn event() -> PickupEvent {
        PickupEvent {
            uid: "pickup.sl-000007.0123abcd@city.example".into(),
            start: at(2026, 5, 1, 9, 0),
            end: at(2026, 5, 1, 11, 30),
            summary: "Donation drop-off SL-000007".into(),
            location: "Central depot, 100 Main St; Torrance CA".into(),
            description: "Reference SL-000007.\nLoading dock B, ring the bell.".into(),
            organizer: "donations@city.example".into(),
            sequence: 0,
            cancelled: false,
            utc: false,
        }
    }

    #[test]
    fn reads_the_web_forms_window_and_iso_dates() {
        let want = Some((at(2026, 5, 1, 9, 0), at(2026, 5, 1, 11, 30)));
        assert_eq!(parse_window("Friday 1 May 2026 09:00–11:30"), want);
        assert_eq!(parse_window("Friday 01 May 2026 09:00–11:30"), want);
        assert_eq!(parse_window("2026-05-01 09:00-11:30"), want);
        assert_eq!(parse_window(" 2026-05-01 09:00 – 11:30 "), None);
    }

    #[test]
    fn reads_past_the_zone_label_of_a_site_with_a_time_zone() {
        let want = Some((at(2026, 5, 1, 9, 0), at(2026, 5, 1, 11, 30)));
        assert_eq!(parse_window("Friday 1 May 2026 09:00–11:30 PDT"), want);
        assert_eq!(parse_window("2026-05-01 09:00-11:30 UTC+08"), want);
        assert_eq!(
            split_zone("Friday 1 May 2026 09:00–11:30 PDT"),
            ("Friday 1 May 2026 09:00–11:30", Some("PDT"))
        );
        assert_eq!(split_zone("Friday 1 May 2026"), ("Friday 1 May 2026", None));
        assert_eq!(
            split_zone("any weekday morning"),
            ("any weekday morning", None)
        );
        let utc = PickupEvent {
            utc: true,
            ..event()
        };
        let ics = utc.to_ics(at(2026, 4, 28, 17, 5));
        assert!(ics.contains("DTSTART:20260501T090000Z\r\n"), "{ics}");
        assert!(ics.contains("DTEND:20260501T113000Z\r\n"), "{ics}");
    }

    #[test]
    fn rejects_what_is_not_a_window() {
        assert_eq!(parse_window(""), None);
        assert_eq!(parse_window("sample pickup_window"), None);
        assert_eq!(parse_window("2026-05-01 11:00-09:00"), None);
        assert_eq!(parse_window("2026-02-30 09:00-11:00"), None);
        assert_eq!(parse_window("tomorrow morning"), None);
    }

    #[test]
    fn escapes_text_values() {
        assert_eq!(
            escape_text("a,b;c\\d\ne\r\nf\rg"),
            "a\\,b\\;c\\\\d\\ne\\nf\\ng"
        );
        assert_eq!(escape_text("x\u{7}y"), "xy");
    }

    #[test]
    fn folds_at_75_octets_without_splitting_characters() {
        let line = format!("DESCRIPTION:{}", "取货地点".repeat(20));
        let folded = fold(&line);
        assert!(folded.ends_with("\r\n"));
        for part in folded.trim_end_matches("\r\n").split("\r\n") {
            assert!(part.len() <= 75, "{} octets: {part}", part.len());
        }
        let unfolded = folded.trim_end_matches("\r\n").replace("\r\n ", "");
        assert_eq!(unfolded, line);
        assert_eq!(fold("SHORT:x"), "SHORT:x\r\n");
    }

    #[test]
    fn invite_has_the_event_with_crlf_lines() {
        let ics = event().to_ics(at(2026, 4, 28, 17, 5));
        assert!(ics.starts_with("BEGIN:VCALENDAR\r\n"), "{ics}");
        assert!(ics.ends_with("END:VCALENDAR\r\n"), "{ics}");
        assert!(!ics.replace("\r\n", "").contains('\n'), "{ics}");
        assert!(!ics.replace("\r\n", "").contains('\r'), "{ics}");
        let unfolded = ics.replace("\r\n ", "");
        for want in [
            "METHOD:PUBLISH",
            "UID:pickup.sl-000007.0123abcd@city.example",
            "DTSTAMP:20260428T170500Z",
            "SEQUENCE:0",
            "STATUS:CONFIRMED",
            "DTSTART:20260501T090000",
            "DTEND:20260501T113000",
            "SUMMARY:Donation drop-off SL-000007",
            "LOCATION:Central depot\\, 100 Main St\\; Torrance CA",
            "DESCRIPTION:Reference SL-000007.\\nLoading dock B\\, ring the bell.",
            "ORGANIZER:mailto:donations@city.example",
        ] {
            assert!(unfolded.contains(&format!("{want}\r\n")), "{want}\n{ics}");
        }
        for line in ics.split("\r\n") {
            assert!(line.len() <= 75, "{line}");
        }
    }
}

#[cfg(test)]
mod cancel_tests {
    use super::*;

    #[test]
    fn a_cancellation_is_the_same_event_withdrawn() {
        let date = NaiveDate::from_ymd_opt(2026, 5, 1).unwrap();
        let event = PickupEvent {
            uid: "slot.sl-000007.1@supplyline".into(),
            start: date.and_hms_opt(9, 0, 0).unwrap(),
            end: date.and_hms_opt(10, 0, 0).unwrap(),
            summary: "Cancelled".into(),
            location: "Depot".into(),
            description: "SL-000007".into(),
            organizer: "donations@city.example".into(),
            sequence: 2,
            cancelled: true,
            utc: false,
        };
        let ics = event.to_ics(date.and_hms_opt(8, 0, 0).unwrap());
        for want in [
            "METHOD:CANCEL\r\n",
            "UID:slot.sl-000007.1@supplyline\r\n",
            "SEQUENCE:2\r\n",
            "STATUS:CANCELLED\r\n",
        ] {
            assert!(ics.contains(want), "{want}\n{ics}");
        }
    }
}
