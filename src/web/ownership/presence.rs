//! Who has an offer's page open right now: each open page pings every
//! [`PING_SECS`] seconds, and a person counts as there while their last
//! ping is younger than [`SEEN_FOR`]. Each page load has its own token, so
//! the "left" of a page that was replaced (its beacon can arrive after the
//! next page's first ping) does not hide the person on the page that
//! replaced it. Kept in this process's memory: it is about the next half
//! minute, and one `serve` runs the site.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often an open offer page says it is still open (the page's script).
pub const PING_SECS: u64 = 15;
/// How long a ping counts: two pings, so one late ping does not hide anybody.
pub const SEEN_FOR: Duration = Duration::from_secs(2 * PING_SECS);

/// When a person last pinged, from which page load.
#[derive(Debug, Clone, Copy)]
struct Seen {
    at: Instant,
    page: u64,
}

type Seens = HashMap<i64, HashMap<String, Seen>>;

/// Offer id → (staff email → last ping).
#[derive(Debug, Default)]
pub struct Presence {
    seen: Mutex<Seens>,
}

impl Presence {
    /// `who` has `offer` open now, on page load `page`; returns the
    /// others who do, by email.
    pub fn ping(&self, offer: i64, who: &str, page: u64) -> Vec<String> {
        let now = Instant::now();
        let mut seen = self.lock();
        forget_old(&mut seen, now);
        let mark = Seen { at: now, page };
        seen.entry(offer).or_default().insert(who.to_string(), mark);
        others(seen.get(&offer), who)
    }

    /// `who` left `offer`'s page load `page`; a later page of theirs stays.
    pub fn leave(&self, offer: i64, who: &str, page: u64) {
        let mut seen = self.lock();
        if let Some(people) = seen.get_mut(&offer) {
            if people.get(who).is_some_and(|s| s.page == page) {
                people.remove(who);
            }
            if people.is_empty() {
                seen.remove(&offer);
            }
        }
    }

    /// For each of `offers` that somebody besides `me` has open, who.
    pub fn viewing(&self, offers: &[i64], me: &str) -> HashMap<String, Vec<String>> {
        let now = Instant::now();
        let mut seen = self.lock();
        forget_old(&mut seen, now);
        offers
            .iter()
            .filter_map(|id| {
                let people = others(seen.get(id), me);
                (!people.is_empty()).then(|| (id.to_string(), people))
            })
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Seens> {
        // A panic while holding it leaves plain data behind: still usable.
        self.seen.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn forget_old(seen: &mut Seens, now: Instant) {
    seen.retain(|_, people| {
        people.retain(|_, s| now.duration_since(s.at) < SEEN_FOR);
        !people.is_empty()
    });
}

fn others(people: Option<&HashMap<String, Seen>>, me: &str) -> Vec<String> {
    let mut out: Vec<String> = people
        .into_iter()
        .flat_map(|p| p.keys())
        .filter(|who| who.as_str() != me)
        .cloned()
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn others_are_seen_until_they_leave() {
        let p = Presence::default();
        assert!(p.ping(1, "a@x", 10).is_empty());
        assert_eq!(p.ping(1, "b@x", 20), ["a@x"]);
        assert_eq!(p.ping(1, "a@x", 10), ["b@x"]);
        assert_eq!(p.viewing(&[1, 2], "a@x")["1"], ["b@x"]);
        assert!(!p.viewing(&[2], "a@x").contains_key("2"));
        // b reloads: the old page's late "left" does not hide the new one.
        p.ping(1, "b@x", 21);
        p.leave(1, "b@x", 20);
        assert_eq!(p.ping(1, "a@x", 10), ["b@x"]);
        p.leave(1, "b@x", 21);
        assert!(p.ping(1, "a@x", 10).is_empty());
        p.leave(1, "a@x", 10);
        assert!(p.viewing(&[1], "z@x").is_empty());
    }
}
