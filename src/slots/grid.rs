//! Slot arithmetic: a site's hourly slots over the next days with what is
//! left in each, the first free one, and whether a window may be booked.
//!
//! Owns: what a slot is (one hour inside an opening range, starting at the
//! range's start), how a booking counts (in every slot its window
//! overlaps), what "past" means (a slot that has started). Pure: the
//! bookings and "now" are given.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime};
use serde::Serialize;

use super::hours::SiteSlots;

/// One hour at a site, as the grid shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cell {
    pub date: NaiveDate,
    pub from: NaiveTime,
    pub to: NaiveTime,
    /// How many more may be booked (0 when full or overbooked).
    pub left: u32,
    pub booked: u32,
    /// It has started already: not offered.
    pub past: bool,
}

impl Cell {
    pub fn start(&self) -> NaiveDateTime {
        self.date.and_time(self.from)
    }

    pub fn is_free(&self) -> bool {
        !self.past && self.left > 0
    }
}

/// One day of the grid (no cells when the site is closed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Day {
    pub date: NaiveDate,
    pub cells: Vec<Cell>,
}

/// A window that may not be booked, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlotError {
    #[error("{0} has passed: choose a time from now on")]
    Past(String),
    #[error("{0} does not happen at the site: the clocks skip that hour; choose another time")]
    Skipped(String),
    #[error("{site} is closed then ({window}): choose a time in its opening hours")]
    Closed { site: String, window: String },
    #[error("the slot {slot} at {site} is full ({booked} of {capacity} booked): choose another or tick \"overbook\"")]
    Full {
        site: String,
        slot: String,
        booked: u32,
        capacity: u32,
    },
}

const HOUR: Duration = Duration::hours(1);

/// Whether `date` is one a booking can name: a four-digit year. chrono
/// reads `+262143-12-31` as a date, and adding an hour to its last slot
/// would overflow.
pub fn bookable(date: NaiveDate) -> bool {
    (1970..=9999).contains(&date.year())
}

/// The hourly slots of `slots`'s site on `date`, as `[start, end)`.
pub fn slots_on(slots: &SiteSlots, date: NaiveDate) -> Vec<(NaiveDateTime, NaiveDateTime)> {
    let mut out = Vec::new();
    for &(open, close) in slots.hours.on(date.weekday()) {
        let (mut at, close) = (date.and_time(open), date.and_time(close));
        while let Some(end) = at.checked_add_signed(HOUR).filter(|end| *end <= close) {
            out.push((at, end));
            at = end;
        }
    }
    out
}

/// How many of `bookings` (windows `[start, end)`) overlap `[from, to)`.
pub fn overlapping(
    bookings: &[(NaiveDateTime, NaiveDateTime)],
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> u32 {
    bookings
        .iter()
        .filter(|(s, e)| *s < to && from < *e)
        .count() as u32
}

/// The grid for `days` days from `now`'s date, given the site's current
/// `bookings`.
pub fn grid(
    slots: &SiteSlots,
    bookings: &[(NaiveDateTime, NaiveDateTime)],
    now: NaiveDateTime,
    days: u32,
) -> Vec<Day> {
    (0..days)
        .map(|d| now.date() + Duration::days(d.into()))
        .map(|date| Day {
            date,
            cells: slots_on(slots, date)
                .into_iter()
                .map(|(from, to)| {
                    let booked = overlapping(bookings, from, to);
                    Cell {
                        date,
                        from: from.time(),
                        to: to.time(),
                        left: slots.capacity.saturating_sub(booked),
                        booked,
                        past: from <= now,
                    }
                })
                .collect(),
        })
        .collect()
}

/// The first slot of the grid that is not full and starts at `earliest`
/// or later (the suggestion leaves the donor time to read the email).
pub fn first_free(grid: &[Day], earliest: NaiveDateTime) -> Option<&Cell> {
    grid.iter()
        .flat_map(|d| &d.cells)
        .find(|c| c.is_free() && c.start() >= earliest)
}

/// Whether `[from, to)` may be booked at the site: not started, inside
/// one opening range, and every slot it overlaps has room unless
/// `overbook`. `Ok(true)` when it is booked over capacity.
pub fn check(
    slots: &SiteSlots,
    bookings: &[(NaiveDateTime, NaiveDateTime)],
    (from, to): (NaiveDateTime, NaiveDateTime),
    now: NaiveDateTime,
    overbook: bool,
) -> Result<bool, SlotError> {
    let window = format!(
        "{} {}–{}",
        from.format("%a %-d %b %Y"),
        from.format("%H:%M"),
        to.format("%H:%M")
    );
    check_not_past(from, now)?;
    let inside = from.date() == to.date()
        && slots
            .hours
            .on(from.weekday())
            .iter()
            .any(|&(open, close)| from.time() >= open && to.time() <= close);
    if !inside {
        return Err(SlotError::Closed {
            site: slots.site.clone(),
            window,
        });
    }
    let mut over = false;
    for (s, e) in slots_on(slots, from.date())
        .into_iter()
        .filter(|(s, e)| *s < to && from < *e)
    {
        let booked = overlapping(bookings, s, e);
        if booked >= slots.capacity {
            if !overbook {
                return Err(SlotError::Full {
                    site: slots.site.clone(),
                    slot: format!(
                        "{} {}–{}",
                        s.format("%a %-d %b"),
                        s.format("%H:%M"),
                        e.format("%H:%M")
                    ),
                    booked,
                    capacity: slots.capacity,
                });
            }
            over = true;
        }
    }
    Ok(over)
}

/// A window that starts before `now` is refused.
pub fn check_not_past(from: NaiveDateTime, now: NaiveDateTime) -> Result<(), SlotError> {
    match from <= now {
        true => Err(SlotError::Past(
            from.format("%A %-d %B %Y %H:%M").to_string(),
        )),
        false => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slots::hours::{parse_day, WeekHours};

    fn at(d: u32, h: u32, m: u32) -> NaiveDateTime {
        // December 2026: the 7th is a Monday.
        NaiveDate::from_ymd_opt(2026, 12, d)
            .unwrap()
            .and_hms_opt(h, m, 0)
            .unwrap()
    }

    fn depot(capacity: u32) -> SiteSlots {
        let mut hours = WeekHours::default();
        hours.days[0] = parse_day("09:00-12:00, 13:00-15:30").unwrap();
        hours.days[1] = parse_day("10:00-11:00").unwrap();
        SiteSlots {
            site: "Depot".into(),
            hours,
            capacity,
        }
    }

    #[test]
    fn slots_are_whole_hours_inside_the_ranges() {
        let slots = slots_on(&depot(2), at(7, 0, 0).date());
        let starts: Vec<_> = slots
            .iter()
            .map(|(s, _)| s.format("%H:%M").to_string())
            .collect();
        assert_eq!(starts, ["09:00", "10:00", "11:00", "13:00", "14:00"]);
        assert!(
            slots_on(&depot(2), at(9, 0, 0).date()).is_empty(),
            "closed on Wednesday"
        );
    }

    #[test]
    fn the_last_date_chrono_holds_is_not_bookable_and_its_slots_do_not_overflow() {
        let last = NaiveDate::MAX;
        assert!(!bookable(last));
        assert!(bookable(at(7, 0, 0).date()));
        let mut hours = WeekHours::default();
        hours.days[last.weekday().num_days_from_monday() as usize] =
            parse_day("22:00-23:59").unwrap();
        let site = SiteSlots {
            site: "Late".into(),
            hours,
            capacity: 1,
        };
        assert_eq!(slots_on(&site, last).len(), 1);
    }

    #[test]
    fn the_grid_counts_what_is_left_and_skips_what_has_started() {
        let bookings = [(at(7, 9, 0), at(7, 10, 0)), (at(7, 9, 0), at(7, 11, 0))];
        let g = grid(&depot(2), &bookings, at(7, 9, 30), 2);
        assert_eq!(g.len(), 2);
        let monday = &g[0].cells;
        assert_eq!(
            (monday[0].booked, monday[0].left, monday[0].past),
            (2, 0, true)
        );
        assert_eq!(
            (monday[1].booked, monday[1].left, monday[1].past),
            (1, 1, false)
        );
        assert_eq!(first_free(&g, at(7, 9, 30)).unwrap().start(), at(7, 10, 0));
        assert_eq!(first_free(&g, at(7, 10, 30)).unwrap().start(), at(7, 11, 0));
        let full = [(at(7, 10, 0), at(7, 15, 0)), (at(7, 10, 0), at(7, 15, 0))];
        let g = grid(&depot(2), &full, at(7, 9, 30), 2);
        assert_eq!(
            first_free(&g, at(7, 9, 30)).unwrap().start(),
            at(8, 10, 0),
            "Tuesday, the next day"
        );
        assert_eq!(
            first_free(&grid(&depot(2), &full, at(7, 9, 30), 1), at(7, 9, 30)),
            None
        );
    }

    #[test]
    fn a_full_slot_is_refused_unless_overbooked() {
        let bookings = [(at(8, 10, 0), at(8, 11, 0))];
        let now = at(7, 8, 0);
        let window = (at(8, 10, 0), at(8, 11, 0));
        let e = check(&depot(1), &bookings, window, now, false).unwrap_err();
        assert!(
            matches!(
                e,
                SlotError::Full {
                    booked: 1,
                    capacity: 1,
                    ..
                }
            ),
            "{e}"
        );
        assert_eq!(check(&depot(1), &bookings, window, now, true), Ok(true));
        assert_eq!(check(&depot(2), &bookings, window, now, false), Ok(false));
        // Two hours overlap both slots: one full slot is enough to refuse.
        let two = (at(7, 10, 0), at(7, 12, 0));
        let busy = [(at(7, 11, 0), at(7, 12, 0))];
        assert!(check(&depot(1), &busy, two, now, false).is_err());
    }

    #[test]
    fn past_and_closed_windows_are_refused_even_when_overbooking() {
        let now = at(7, 10, 0);
        let past = (at(7, 9, 0), at(7, 10, 0));
        assert!(matches!(
            check(&depot(5), &[], past, now, true),
            Err(SlotError::Past(_))
        ));
        let lunch = (at(7, 11, 30), at(7, 13, 30));
        assert!(matches!(
            check(&depot(5), &[], lunch, now, true),
            Err(SlotError::Closed { .. })
        ));
        let wednesday = (at(9, 10, 0), at(9, 11, 0));
        assert!(matches!(
            check(&depot(5), &[], wednesday, now, true),
            Err(SlotError::Closed { .. })
        ));
        assert_eq!(
            check(&depot(5), &[], (at(7, 13, 0), at(7, 15, 30)), now, false),
            Ok(false)
        );
    }
}
