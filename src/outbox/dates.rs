//! Dates and times as donors read them, in the reply's language: the pickup
//! window staff chose ("Friday 1 May 2026 09:00–11:00") becomes "viernes 1
//! de mayo de 2026, de 09:00 a 11:00" or "2026년 5월 1일 금요일 09:00–11:00".
//!
//! Owns: the pattern of a window per reply language. Day and month names
//! come from chrono's locale data (glibc's); the window is read as the ICS
//! invite reads it ([`super::ics::parse_window`]), so a window staff wrote
//! as free text is left as written.

use chrono::{Locale, NaiveDateTime};

use super::ics::{parse_window, split_zone};

/// `window` in `lang`; `None` when it stays as written (English, a language
/// without a pattern, or a window that is not a date with times).
pub fn window_in(window: &str, lang: &str) -> Option<String> {
    let (locale, day, range) = pattern(lang)?;
    let (start, end) = parse_window(window)?;
    let date = start.date().format_localized(day, locale).to_string();
    // A site's zone label ("PST") stays after the times, as written.
    let zone = match split_zone(window).1 {
        Some(label) => format!(" {label}"),
        None => String::new(),
    };
    Some(format!("{date}{}{zone}", times(range, start, end)))
}

/// How a language writes a window's times after its date.
#[derive(Clone, Copy)]
enum Range {
    /// ", de 09:00 a 11:00"
    Spanish,
    /// " 09:00–11:00" (after a date ending in a word)
    Space,
    /// ", 09:00–11:00"
    Comma,
}

/// The locale, date pattern and time range of a language's windows.
fn pattern(lang: &str) -> Option<(Locale, &'static str, Range)> {
    Some(match lang {
        "es" => (Locale::es_US, "%A %-d de %B de %Y", Range::Spanish),
        "zh" => (Locale::zh_CN, "%Y年%-m月%-d日 %A", Range::Space),
        "ko" => (Locale::ko_KR, "%Y년 %-m월 %-d일 %A", Range::Space),
        "vi" => (Locale::vi_VN, "%A, ngày %-d tháng %-m năm %Y", Range::Comma),
        "tl" => (Locale::tl_PH, "%A, %B %-d, %Y", Range::Comma),
        _ => return None,
    })
}

fn times(range: Range, start: NaiveDateTime, end: NaiveDateTime) -> String {
    let (from, to) = (start.format("%H:%M"), end.format("%H:%M"));
    match range {
        Range::Spanish => format!(", de {from} a {to}"),
        Range::Space => format!(" {from}–{to}"),
        Range::Comma => format!(", {from}–{to}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: &str = "Friday 1 May 2026 09:00–11:00";

    #[test]
    fn a_window_reads_in_each_reply_language() {
        let cases = [
            ("es", "viernes 1 de mayo de 2026, de 09:00 a 11:00"),
            ("zh", "2026年5月1日 星期五 09:00–11:00"),
            ("ko", "2026년 5월 1일 금요일 09:00–11:00"),
            ("vi", "Thứ sáu, ngày 1 tháng 5 năm 2026, 09:00–11:00"),
            ("tl", "Biyernes, Mayo 1, 2026, 09:00–11:00"),
        ];
        for (lang, want) in cases {
            assert_eq!(window_in(WINDOW, lang).as_deref(), Some(want), "{lang}");
        }
    }

    #[test]
    fn a_sites_zone_label_stays_after_the_times() {
        let window = "Friday 1 May 2026 09:00–11:00 PDT";
        assert_eq!(
            window_in(window, "ko").as_deref(),
            Some("2026년 5월 1일 금요일 09:00–11:00 PDT")
        );
        assert_eq!(
            window_in(window, "es").as_deref(),
            Some("viernes 1 de mayo de 2026, de 09:00 a 11:00 PDT")
        );
    }

    #[test]
    fn english_and_free_text_stay_as_written() {
        assert_eq!(window_in(WINDOW, "en"), None);
        assert_eq!(window_in("any weekday morning", "es"), None);
    }
}
