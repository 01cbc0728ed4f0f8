//! A site's opening hours and slot capacity, as the operators' needs file
//! gives them:
//!
//! ```toml
//! [[sites]]
//! name = "Central depot"
//! address = "100 Main St, Torrance CA 90501"
//! hours = { mon = "09:00-17:00", tue = "09:00-12:00, 13:00-17:00", sat = "closed" }
//! capacity = 3   # drop-offs or pickups per hour
//! ```
//!
//! Owns: reading `hours` and `capacity` of each `[[sites]]` entry, with
//! errors that name the file, the key and the line. Pure: the store keeps
//! what this returns ([`SiteSlots`]), the grid is [`super::grid`].

use std::collections::BTreeMap;

use chrono::{NaiveTime, Weekday};
use serde::{Deserialize, Serialize};
use toml::Spanned;

/// The opening hours of one site: per weekday (Monday first) its ranges,
/// each `[start, end)`, in order and not overlapping.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeekHours {
    pub days: [Vec<(NaiveTime, NaiveTime)>; 7],
}

impl WeekHours {
    /// The ranges on `day` (empty when closed).
    pub fn on(&self, day: Weekday) -> &[(NaiveTime, NaiveTime)] {
        &self.days[day.num_days_from_monday() as usize]
    }
}

/// What the needs file says about one site's slots.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteSlots {
    pub site: String,
    pub hours: WeekHours,
    /// Drop-offs or pickups per hour.
    pub capacity: u32,
}

/// A `hours` or `capacity` value that is not what it should be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {key}: {problem}")]
pub struct HoursError {
    pub file: String,
    pub line: usize,
    /// The key, as `sites[1].hours.mon`.
    pub key: String,
    pub problem: String,
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Reads one day's value: `closed`, or ranges `HH:MM-HH:MM` separated by
/// commas, each ending after it starts, in order, not overlapping.
pub fn parse_day(text: &str) -> Result<Vec<(NaiveTime, NaiveTime)>, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("closed") || text.is_empty() {
        return Ok(Vec::new());
    }
    let mut out: Vec<(NaiveTime, NaiveTime)> = Vec::new();
    for range in text.split(',') {
        let range = range.trim();
        let (from, to) = range
            .split_once(['-', '–'])
            .ok_or_else(|| format!("{range:?} is not a range like \"09:00-17:00\""))?;
        let time = |t: &str| {
            NaiveTime::parse_from_str(t.trim(), "%H:%M")
                .map_err(|_| format!("{:?} is not a time like \"09:00\"", t.trim()))
        };
        let (from, to) = (time(from)?, time(to)?);
        if from >= to {
            return Err(format!("{range:?} ends before it starts"));
        }
        if out.last().is_some_and(|&(_, end)| from < end) {
            return Err(format!("{range:?} overlaps or precedes the range before"));
        }
        out.push((from, to));
    }
    Ok(out)
}

#[derive(Deserialize)]
struct File {
    #[serde(default)]
    sites: Vec<SiteEntry>,
}

/// A `[[sites]]` entry's `hours` as the file has them (each day's value
/// with where it is, for errors).
pub type HoursValue = Spanned<BTreeMap<String, Spanned<String>>>;

/// Only what this module reads; `web::operations` reads (and checks) the rest.
#[derive(Deserialize)]
struct SiteEntry {
    name: String,
    hours: Option<HoursValue>,
    capacity: Option<Spanned<i64>>,
}

/// The needs file's text and name, which errors point into (file and line).
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    pub text: &'a str,
    pub file: &'a str,
}

impl Source<'_> {
    /// An error about `key` at byte offset `at`.
    pub fn error(&self, key: String, at: usize, problem: String) -> HoursError {
        HoursError {
            file: self.file.to_string(),
            line: crate::error_text::line_of(self.text, at),
            key,
            problem,
        }
    }
}

/// The slots of every site in the needs file `text` (named `file` in
/// errors) that has `hours`: [`read_site`] for each `[[sites]]` entry. The
/// file is assumed to be valid TOML (`web::operations::parse` says where
/// it is not, and reads the file once for all its parts).
pub fn parse_sites(text: &str, file: &str) -> Result<Vec<SiteSlots>, HoursError> {
    let src = Source { text, file };
    let parsed: File = toml::from_str(text).map_err(|e| {
        let at = e.span().map(|s| s.start).unwrap_or(0);
        src.error("sites".into(), at, e.message().to_string())
    })?;
    let mut out = Vec::new();
    for (i, site) in parsed.sites.into_iter().enumerate() {
        out.extend(read_site(&src, i, site.name, site.hours, site.capacity)?);
    }
    Ok(out)
}

/// The slots of the `index`th (from 0) `[[sites]]` entry, named `name`:
/// None when it has neither `hours` nor `capacity`; having one without
/// the other is an error.
pub fn read_site(
    src: &Source,
    index: usize,
    name: String,
    hours: Option<HoursValue>,
    capacity: Option<Spanned<i64>>,
) -> Result<Option<SiteSlots>, HoursError> {
    let err = |key: &str, at: usize, problem: String| {
        src.error(format!("sites[{}].{key}", index + 1), at, problem)
    };
    let (hours, capacity) = match (hours, capacity) {
        (None, None) => return Ok(None),
        (Some(h), None) => {
            let problem = "a site with hours needs a capacity (per hour)".to_string();
            return Err(err("capacity", h.span().start, problem));
        }
        (None, Some(c)) => {
            let problem = "a site with a capacity needs opening hours".to_string();
            return Err(err("hours", c.span().start, problem));
        }
        (Some(h), Some(c)) => (h, c),
    };
    let cap = *capacity.get_ref();
    if !(1..=1000).contains(&cap) {
        let problem = format!("{cap} is not a number of slots per hour from 1 to 1000");
        return Err(err("capacity", capacity.span().start, problem));
    }
    let mut week = WeekHours::default();
    for (day, value) in hours.into_inner() {
        let key = format!("hours.{day}");
        let Some(index) = DAYS.iter().position(|d| *d == day) else {
            let problem = format!("{day:?} is not a day; use {}", DAYS.join(", "));
            return Err(err(&key, value.span().start, problem));
        };
        week.days[index] =
            parse_day(value.get_ref()).map_err(|problem| err(&key, value.span().start, problem))?;
    }
    Ok(Some(SiteSlots {
        site: name,
        hours: week,
        capacity: cap as u32,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    #[test]
    fn a_day_is_closed_or_ranges_in_order() {
        assert_eq!(parse_day("closed"), Ok(vec![]));
        assert_eq!(parse_day("09:00-17:00"), Ok(vec![(t(9, 0), t(17, 0))]));
        assert_eq!(
            parse_day("09:00-12:00, 13:30–17:00"),
            Ok(vec![(t(9, 0), t(12, 0)), (t(13, 30), t(17, 0))])
        );
        assert!(parse_day("17:00-09:00")
            .unwrap_err()
            .contains("ends before"));
        assert!(parse_day("9am-5pm").unwrap_err().contains("not a time"));
        assert!(parse_day("09:00").unwrap_err().contains("not a range"));
        assert!(parse_day("09:00-12:00,11:00-13:00")
            .unwrap_err()
            .contains("overlaps"));
    }

    #[test]
    fn the_example_file_has_hours_for_the_depot() {
        let sites = parse_sites(include_str!("../../examples/needs.toml"), "needs.toml").unwrap();
        let depot = sites.iter().find(|s| s.site == "Central depot").unwrap();
        assert!(depot.capacity >= 1);
        assert_eq!(depot.hours.on(Weekday::Mon), &[(t(9, 0), t(17, 0))]);
    }

    const SITE: &str = "[[sites]]\nname = \"Depot\"\naddress = \"1 Main St\"\n";

    fn error(rest: &str) -> HoursError {
        parse_sites(&format!("{SITE}{rest}"), "needs.toml").unwrap_err()
    }

    #[test]
    fn a_bad_value_names_file_key_and_line() {
        let e =
            error("capacity = 2\n[sites.hours]\nmon = \"09:00-17:00\"\ntue = \"17:00-09:00\"\n");
        assert_eq!((e.file.as_str(), e.line), ("needs.toml", 7));
        assert_eq!(e.key, "sites[1].hours.tue");
        assert!(
            e.to_string()
                .starts_with("needs.toml:7: sites[1].hours.tue: "),
            "{e}"
        );

        let e = error("capacity = 0\nhours = { mon = \"09:00-17:00\" }\n");
        assert_eq!((e.key.as_str(), e.line), ("sites[1].capacity", 4));

        let e = error("capacity = 2\nhours = { monday = \"09:00-17:00\" }\n");
        assert_eq!((e.key.as_str(), e.line), ("sites[1].hours.monday", 5));

        let e = error("hours = { mon = \"09:00-17:00\" }\n");
        assert_eq!((e.key.as_str(), e.line), ("sites[1].capacity", 4));
    }

    #[test]
    fn a_site_without_hours_has_no_slots() {
        assert_eq!(parse_sites(SITE, "f"), Ok(vec![]));
    }
}
