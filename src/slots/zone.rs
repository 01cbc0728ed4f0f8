//! A site's time zone (#16): the IANA zone its opening hours, slots and
//! windows are written in. The needs file names one for every site at its
//! top, and a `[[sites]]` entry may name its own:
//!
//! ```toml
//! timezone = "America/Los_Angeles"   # before the first [table]
//!
//! [[sites]]
//! name = "Honolulu depot"
//! timezone = "Pacific/Honolulu"
//! ```
//!
//! A site with neither is in the server's own zone, as before zones existed.
//!
//! Owns: reading and checking `timezone` (errors name the file, key and
//! line, as [`HoursError`] does for hours), "now" at a site, and a
//! site-local time as an instant: a time the clocks skip (spring forward)
//! has none; one they pass twice (fall back) is the first. Bookings are
//! kept in site-local time; only the calendar invite needs the instant.

use std::str::FromStr;

use chrono::{DateTime, LocalResult, NaiveDateTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use serde::Deserialize;
use toml::Spanned;

use super::hours::{HoursError, Source};

/// Where a site's local times are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Zone {
    /// The server's local zone: the needs file names none for the site.
    #[default]
    Server,
    /// An IANA zone from the needs file.
    Iana(Tz),
}

impl Zone {
    /// An IANA name, as `America/Los_Angeles` (exactly as the tz database
    /// spells it).
    pub fn parse(name: &str) -> Result<Zone, String> {
        Tz::from_str(name.trim()).map(Zone::Iana).map_err(|_| {
            format!("{name:?} is not an IANA time zone (like \"America/Los_Angeles\" or \"UTC\")")
        })
    }

    /// The IANA name; `None` for the server's zone.
    pub fn name(self) -> Option<&'static str> {
        match self {
            Zone::Server => None,
            Zone::Iana(tz) => Some(tz.name()),
        }
    }

    /// The wall-clock time at the site at `now`, to the minute.
    pub fn local(self, now: DateTime<Utc>) -> NaiveDateTime {
        let local = match self {
            Zone::Server => now.with_timezone(&chrono::Local).naive_local(),
            Zone::Iana(tz) => now.with_timezone(&tz).naive_local(),
        };
        local
            .with_second(0)
            .and_then(|n| n.with_nanosecond(0))
            .unwrap_or(local)
    }

    /// The instant of the site-local time `local`: `None` when the clocks
    /// skip it, the earlier one when they pass it twice.
    pub fn instant(self, local: NaiveDateTime) -> Option<DateTime<Utc>> {
        fn first<T: TimeZone>(r: LocalResult<DateTime<T>>) -> Option<DateTime<Utc>> {
            match r {
                LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => Some(t.to_utc()),
                LocalResult::None => None,
            }
        }
        match self {
            Zone::Server => first(chrono::Local.from_local_datetime(&local)),
            Zone::Iana(tz) => first(tz.from_local_datetime(&local)),
        }
    }

    /// `[start, end)` in site-local time as instants: the end is as long
    /// after the start as the window is (so a window across a clock change
    /// lasts what it says). `None` when the clocks skip the start.
    pub fn window(
        self,
        start: NaiveDateTime,
        end: NaiveDateTime,
    ) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let from = self.instant(start)?;
        Some((from, from + (end - start)))
    }

    /// How a donor reads the zone after a time: its abbreviation at
    /// `local` ("PST", "PDT"), or "UTC+08" where the database has only an
    /// offset; `None` for the server's zone (times are written bare, as
    /// before zones existed).
    pub fn label(self, local: NaiveDateTime) -> Option<String> {
        let Zone::Iana(tz) = self else { return None };
        let at = match tz.from_local_datetime(&local) {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t,
            LocalResult::None => tz.from_utc_datetime(&local),
        };
        let abbr = at.format("%Z").to_string();
        Some(match abbr.starts_with(['+', '-']) {
            true => format!("UTC{abbr}"),
            false => abbr,
        })
    }
}

/// The zone each named site is in, per the needs file `text` (named `file`
/// in errors): [`site_zones`] of its `timezone` and its sites'. The file is
/// assumed to be valid TOML.
pub fn parse_zones(text: &str, file: &str) -> Result<Vec<(String, Zone)>, HoursError> {
    #[derive(Deserialize)]
    struct File {
        timezone: Option<Spanned<String>>,
        #[serde(default)]
        sites: Vec<Entry>,
    }
    #[derive(Deserialize)]
    struct Entry {
        name: String,
        timezone: Option<Spanned<String>>,
    }
    let src = Source { text, file };
    let parsed: File = toml::from_str(text).map_err(|e| {
        let at = e.span().map(|s| s.start).unwrap_or(0);
        src.error("timezone".into(), at, e.message().to_string())
    })?;
    let sites = parsed.sites.iter().map(|s| (&s.name, s.timezone.as_ref()));
    site_zones(&src, parsed.timezone.as_ref(), sites)
}

/// The zone of each site of `sites` (its name and own `timezone`): its
/// own, else the file's `default`; sites in neither are left out (the
/// server's zone). Errors name the key and line in `src`.
pub fn site_zones<'a>(
    src: &Source,
    default: Option<&Spanned<String>>,
    sites: impl Iterator<Item = (&'a String, Option<&'a Spanned<String>>)>,
) -> Result<Vec<(String, Zone)>, HoursError> {
    let read = |key: String, value: &Spanned<String>| {
        Zone::parse(value.get_ref()).map_err(|problem| src.error(key, value.span().start, problem))
    };
    let default = match default {
        Some(v) => Some(read("timezone".into(), v)?),
        None => None,
    };
    let mut out = Vec::new();
    for (i, (name, own)) in sites.enumerate() {
        let zone = match own {
            Some(v) => Some(read(format!("sites[{}].timezone", i + 1), v)?),
            None => default,
        };
        if let Some(zone) = zone {
            out.push((name.clone(), zone));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(m: u32, d: u32, h: u32, min: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, m, d)
            .unwrap()
            .and_hms_opt(h, min, 0)
            .unwrap()
    }

    fn utc(m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        at(m, d, h, min).and_utc()
    }

    fn la() -> Zone {
        Zone::parse("America/Los_Angeles").unwrap()
    }

    #[test]
    fn opening_hours_move_with_the_clocks_in_spring() {
        // Los Angeles springs forward on Sunday 8 March 2026, 02:00 -> 03:00.
        assert_eq!(la().instant(at(3, 7, 9, 0)), Some(utc(3, 7, 17, 0)));
        assert_eq!(la().instant(at(3, 8, 9, 0)), Some(utc(3, 8, 16, 0)));
        assert_eq!(la().instant(at(3, 8, 2, 30)), None, "skipped by the clocks");
        assert_eq!(la().label(at(3, 7, 9, 0)).as_deref(), Some("PST"));
        assert_eq!(la().label(at(3, 8, 9, 0)).as_deref(), Some("PDT"));
        // A window across the change lasts what it says: 01:00-03:00 local
        // is one hour of real time.
        let (from, to) = la().window(at(3, 8, 1, 0), at(3, 8, 3, 0)).unwrap();
        assert_eq!((from, to), (utc(3, 8, 9, 0), utc(3, 8, 11, 0)));
        // "Now" at the site across the change.
        assert_eq!(la().local(utc(3, 8, 9, 59)), at(3, 8, 1, 59));
        assert_eq!(la().local(utc(3, 8, 10, 0)), at(3, 8, 3, 0));
    }

    #[test]
    fn an_hour_passed_twice_in_autumn_is_the_first() {
        // Falls back on Sunday 1 November 2026, 02:00 PDT -> 01:00 PST.
        assert_eq!(la().instant(at(11, 1, 1, 30)), Some(utc(11, 1, 8, 30)));
        assert_eq!(la().instant(at(11, 1, 9, 0)), Some(utc(11, 1, 17, 0)));
        assert_eq!(la().instant(at(10, 31, 9, 0)), Some(utc(10, 31, 16, 0)));
        assert_eq!(la().local(utc(11, 1, 8, 30)), at(11, 1, 1, 30));
        assert_eq!(la().local(utc(11, 1, 9, 30)), at(11, 1, 1, 30));
        assert_eq!(la().local(utc(11, 1, 17, 0)), at(11, 1, 9, 0));
    }

    #[test]
    fn a_zone_with_only_an_offset_reads_as_utc_plus() {
        let singapore = Zone::parse("Asia/Singapore").unwrap();
        assert_eq!(singapore.label(at(12, 4, 9, 0)).as_deref(), Some("UTC+08"));
        assert_eq!(Zone::Server.label(at(12, 4, 9, 0)), None);
        assert_eq!(Zone::parse("UTC").unwrap().name(), Some("UTC"));
    }

    #[test]
    fn the_site_overrides_the_file_and_a_bad_zone_is_named_by_file_key_and_line() {
        let text = "timezone = \"America/Los_Angeles\"\n\n[[sites]]\nname = \"A\"\n\n\
                    [[sites]]\nname = \"B\"\ntimezone = \"Pacific/Honolulu\"\n";
        let zones = parse_zones(text, "needs.toml").unwrap();
        assert_eq!(
            zones,
            [
                ("A".to_string(), la()),
                ("B".to_string(), Zone::parse("Pacific/Honolulu").unwrap())
            ]
        );
        assert_eq!(parse_zones("[[sites]]\nname = \"A\"\n", "f"), Ok(vec![]));

        let bad = "[[sites]]\nname = \"A\"\n\n[[sites]]\nname = \"B\"\ntimezone = \"America/Los_Angles\"\n";
        let e = parse_zones(bad, "needs.toml").unwrap_err();
        assert_eq!(
            (e.file.as_str(), e.key.as_str(), e.line),
            ("needs.toml", "sites[2].timezone", 6)
        );
        assert!(
            e.to_string().starts_with(
                "needs.toml:6: sites[2].timezone: \"America/Los_Angles\" is not an IANA time zone"
            ),
            "{e}"
        );
        let e = parse_zones("timezone = \"PST\"\n", "needs.toml").unwrap_err();
        assert_eq!((e.key.as_str(), e.line), ("timezone", 1));
    }
}
