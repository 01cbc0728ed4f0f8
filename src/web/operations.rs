//! The operators' file: current needs per item (which set the queue's
//! priority) and the pickup sites offered when accepting, with their
//! opening hours (`crate::slots::hours`) and time zones
//! (`crate::slots::zone`). The file is read once into a [`NeedsFile`]
//! (every error naming the file, key and line) and loaded in one
//! transaction, so a file wrong anywhere, or a write that fails, leaves
//! the database as it was. Needs are then edited on the desk
//! ([`super::needs`]); once they are, the file's needs are ignored at
//! start (its sites still load).
//!
//! ```toml
//! [needs.n95_respirator]
//! per_week = 7000    # pieces used a week (the item's base unit)
//! on_hand = 12000    # pieces on hand: 12 days of supply
//! target = 50000     # how many are wanted (the dashboard's line)
//!
//! [needs.hand_sanitizer]
//! weight = 0.2       # or a fixed priority per base unit offered
//!
//! [[sites]]
//! name = "Central depot"
//! address = "100 Main St, Torrance CA 90501"
//! notes = "Loading dock B; ring the bell."
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use serde::Deserialize;
use toml::Spanned;

use crate::rules::catalog::Catalog;
use crate::slots::hours::{self, HoursValue, SiteSlots, Source};
use crate::slots::zone::{self, Zone};
use crate::store::{Need, PickupSite, Store};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    needs: BTreeMap<String, Spanned<NeedEntry>>,
    #[serde(default)]
    sites: Vec<SiteEntry>,
    /// Every site's time zone (checked by `crate::slots::zone`).
    timezone: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NeedEntry {
    weight: Option<f64>,
    per_week: Option<f64>,
    on_hand: Option<f64>,
    target: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SiteEntry {
    name: String,
    address: String,
    #[serde(default)]
    notes: String,
    /// Opening hours and capacity (checked by `crate::slots::hours`).
    hours: Option<HoursValue>,
    capacity: Option<Spanned<i64>>,
    timezone: Option<Spanned<String>>,
}

/// The needs file, read once: what it sets in each table.
#[derive(Debug, Clone, Default)]
pub struct NeedsFile {
    pub needs: Vec<Need>,
    pub sites: Vec<PickupSite>,
    /// The opening hours and capacity of the sites that have them.
    pub slots: Vec<SiteSlots>,
    /// The time zone of the sites that (or whose file) name one.
    pub zones: Vec<(String, Zone)>,
}

/// Parses the operators' file text (named `file` in errors, which name the
/// key and line) into everything it sets, checked.
pub fn parse(text: &str, file: &str) -> anyhow::Result<NeedsFile> {
    let parsed: File = toml::from_str(text).with_context(|| format!("reading {file}"))?;
    let src = Source { text, file };
    let zones = {
        let sites = parsed.sites.iter().map(|s| (&s.name, s.timezone.as_ref()));
        zone::site_zones(&src, parsed.timezone.as_ref(), sites)?
    };
    let needs = parsed
        .needs
        .into_iter()
        .map(|(item, n)| need(&src, item, n))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut out = NeedsFile {
        needs,
        zones,
        ..NeedsFile::default()
    };
    for (i, s) in parsed.sites.into_iter().enumerate() {
        let name = s.name.clone();
        out.slots
            .extend(hours::read_site(&src, i, name, s.hours, s.capacity)?);
        out.sites.push(PickupSite {
            name: s.name,
            address: s.address,
            notes: s.notes,
        });
    }
    Ok(out)
}

/// One `[needs.ITEM]` entry, its weight from `weight` or `per_week`.
fn need(src: &Source, item: String, entry: Spanned<NeedEntry>) -> anyhow::Result<Need> {
    let at = entry.span().start;
    let n = entry.into_inner();
    let weight = match (n.weight, n.per_week) {
        (Some(w), None) => w,
        (None, Some(w)) => super::needs::weight(w, n.on_hand.unwrap_or(0.0)),
        _ => {
            let problem = "give either `weight` or `per_week` (with `on_hand`)".to_string();
            return Err(src.error(format!("needs.{item}"), at, problem).into());
        }
    };
    Ok(Need {
        item,
        weight,
        target: n.target,
        per_week: n.per_week,
        on_hand: n.on_hand,
    })
}

/// Refuses a need for an item the catalog does not have (a misspelling
/// would otherwise weigh nothing, silently).
fn check_items(needs: &[Need], catalog: &Catalog, file: &str) -> anyhow::Result<()> {
    match needs.iter().find(|n| !catalog.contains(&n.item)) {
        Some(n) => anyhow::bail!(
            "{file}: needs.{}: no such item in the catalog (rules/catalog.toml)",
            n.item
        ),
        None => Ok(()),
    }
}

/// Reads and checks the file (`check-config`, and before loading it).
pub fn read_file(path: &Path, catalog: &Catalog) -> anyhow::Result<NeedsFile> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the needs file {}", path.display()))?;
    let file = path.display().to_string();
    let read = parse(&text, &file)?;
    check_items(&read.needs, catalog, &file)?;
    Ok(read)
}

/// Reads and checks the file without loading it (`check-config`).
pub fn check_file(path: &Path, catalog: &Catalog) -> anyhow::Result<()> {
    read_file(path, catalog).map(drop)
}

/// Reads the file and replaces the needs, sites, their hours and zones in
/// the database in one transaction (the needs only while none was changed
/// on the desk): a file that is wrong anywhere, or a failed write, leaves
/// the database as it was.
pub async fn load_file(store: &Store, path: &Path, catalog: &Catalog) -> anyhow::Result<()> {
    let f = read_file(path, catalog)?;
    let loaded = store
        .load_needs_file(&f.needs, &f.sites, &f.slots, &f.zones)
        .await
        .with_context(|| format!("loading the needs file {}", path.display()))?;
    if !loaded {
        tracing::warn!(
            file = %path.display(),
            "needs were changed on the desk (/needs): the file's needs are ignored"
        );
    }
    tracing::info!(
        needs = if loaded { f.needs.len() } else { 0 },
        sites = f.sites.len(),
        "loaded needs and pickup sites"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_file_parses() {
        let f = parse(include_str!("../../examples/needs.toml"), "needs.toml").unwrap();
        assert!(!f.slots.is_empty());
        let (needs, sites) = (f.needs, f.sites);
        assert!(needs
            .iter()
            .any(|n| n.item == "n95_respirator" && n.weight > 0.0));
        assert!(!sites.is_empty());
    }

    #[test]
    fn a_bad_opening_hour_is_named_by_file_key_and_line_when_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("needs.toml");
        let text = "[[sites]]\nname = \"Depot\"\naddress = \"1 Main St\"\ncapacity = 2\n\
                    hours = { mon = \"9-5\" }\n";
        std::fs::write(&path, text).unwrap();
        let err = format!(
            "{:#}",
            check_file(&path, &Catalog::embedded().unwrap()).unwrap_err()
        );
        let want = format!("{}:5: sites[1].hours.mon: ", path.display());
        assert!(err.contains(&want), "{err}");
    }

    #[test]
    fn a_bad_time_zone_is_named_by_file_key_and_line_when_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("needs.toml");
        let catalog = Catalog::embedded().unwrap();
        let good = "timezone = \"America/Los_Angeles\"\n\n[[sites]]\nname = \"Depot\"\n\
                    address = \"1 Main St\"\ntimezone = \"Pacific/Honolulu\"\n";
        std::fs::write(&path, good).unwrap();
        check_file(&path, &catalog).unwrap();
        std::fs::write(&path, good.replace("Pacific/Honolulu", "Hawaii/Honolulu")).unwrap();
        let err = format!("{:#}", check_file(&path, &catalog).unwrap_err());
        let want = format!("{}:6: sites[1].timezone: ", path.display());
        assert!(err.contains(&want), "{err}");
        assert!(
            err.contains("\"Hawaii/Honolulu\" is not an IANA time zone"),
            "{err}"
        );
    }

    #[test]
    fn unknown_key_is_an_error() {
        assert!(parse("[needs.x]\nweight = 1\nwieght = 2\n", "f").is_err());
    }

    #[test]
    fn a_need_by_the_week_gets_its_weight_and_a_misspelled_item_is_refused() {
        let needs = parse(
            "[needs.n95_respirator]\nper_week = 700\non_hand = 1400\n",
            "f",
        )
        .unwrap()
        .needs;
        assert_eq!(needs[0].weight, super::super::needs::weight(700.0, 1400.0));
        assert!(parse("[needs.x]\nweight = 1\nper_week = 2\n", "f").is_err());
        let catalog = Catalog::embedded().unwrap();
        let needs = parse("[needs.n59_respirator]\nweight = 1\n", "f")
            .unwrap()
            .needs;
        let e = check_items(&needs, &catalog, "needs.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("needs.n59_respirator: no such item"), "{e}");
    }

    const GOOD: &str = "timezone = \"America/Los_Angeles\"\n\
        [needs.n95_respirator]\nweight = 1\n\n\
        [[sites]]\nname = \"Depot\"\naddress = \"1 Main St\"\ncapacity = 2\n\
        hours = { mon = \"09:00-17:00\" }\n";

    /// What the database holds of the needs file: needs, sites, hours, zone.
    async fn loaded(store: &Store) -> (Vec<String>, Vec<String>, Vec<String>, Option<String>) {
        let needs = store.needs().await.unwrap();
        let sites = store.pickup_sites().await.unwrap();
        let hours = store.site_slots().await.unwrap().sites;
        (
            needs.into_iter().map(|n| n.need.item).collect(),
            sites.into_iter().map(|s| s.name).collect(),
            hours.into_iter().map(|h| h.site).collect(),
            store
                .site_zone("Depot")
                .await
                .unwrap()
                .name()
                .map(str::to_string),
        )
    }

    /// A store in `dir` with [`GOOD`] loaded from `dir/needs.toml`: its URL,
    /// the store, the catalog and the file's path.
    async fn good_loaded(dir: &tempfile::TempDir) -> (String, Store, Catalog, std::path::PathBuf) {
        let url = format!("sqlite://{}", dir.path().join("ops.db").display());
        let store = Store::open(&url).await.unwrap();
        let catalog = Catalog::embedded().unwrap();
        let path = dir.path().join("needs.toml");
        std::fs::write(&path, GOOD).unwrap();
        load_file(&store, &path, &catalog).await.unwrap();
        (url, store, catalog, path)
    }

    #[tokio::test]
    async fn a_file_wrong_in_its_third_part_loads_nothing_and_names_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let (_, store, catalog, path) = good_loaded(&dir).await;
        let before = loaded(&store).await;
        assert_eq!(before.0, ["n95_respirator"]);
        assert_eq!(before.2, ["Depot"]);
        assert_eq!(before.3.as_deref(), Some("America/Los_Angeles"));

        // New needs and a new site, both fine; the new site's hours are not.
        let bad = "[needs.exam_gloves]\nweight = 2\n\n\
            [[sites]]\nname = \"Clinic\"\naddress = \"2 Main St\"\n\n\
            [[sites]]\nname = \"Annex\"\naddress = \"3 Main St\"\ncapacity = 1\n\
            hours = { tue = \"17:00-09:00\" }\n";
        std::fs::write(&path, bad).unwrap();
        let err = format!(
            "{:#}",
            load_file(&store, &path, &catalog).await.unwrap_err()
        );
        let want = format!("{}:12: sites[2].hours.tue: ", path.display());
        assert!(err.contains(&want), "{err}");
        assert_eq!(loaded(&store).await, before);

        // A need without its weight is named by its line too.
        std::fs::write(&path, "\n[needs.exam_gloves]\ntarget = 3\n").unwrap();
        let err = format!(
            "{:#}",
            load_file(&store, &path, &catalog).await.unwrap_err()
        );
        let want = format!("{}:2: needs.exam_gloves: give either", path.display());
        assert!(err.contains(&want), "{err}");
        assert_eq!(loaded(&store).await, before);
    }

    #[tokio::test]
    async fn a_write_that_fails_late_leaves_the_earlier_parts_unloaded() {
        use sqlx::Connection;
        let dir = tempfile::tempdir().unwrap();
        let (url, store, catalog, path) = good_loaded(&dir).await;
        let before = loaded(&store).await;

        // The zones, written last, fail: the needs, sites and hours written
        // before them in the same transaction are rolled back.
        let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query(
            "CREATE TRIGGER zones_fail BEFORE INSERT ON site_zones
             BEGIN SELECT RAISE(ABORT, 'zones refused'); END",
        )
        .execute(&mut db)
        .await
        .unwrap();
        let changed = GOOD
            .replace("n95_respirator", "exam_gloves")
            .replace("Depot", "Annex");
        std::fs::write(&path, &changed).unwrap();
        let err = format!(
            "{:#}",
            load_file(&store, &path, &catalog).await.unwrap_err()
        );
        assert!(err.contains("loading the needs file"), "{err}");
        assert!(err.contains("zones refused"), "{err}");
        assert_eq!(loaded(&store).await, before);

        sqlx::query("DROP TRIGGER zones_fail")
            .execute(&mut db)
            .await
            .unwrap();
        load_file(&store, &path, &catalog).await.unwrap();
        let after = loaded(&store).await;
        assert_eq!(
            (after.0, after.1),
            (vec!["exam_gloves".to_string()], vec!["Annex".to_string()])
        );
    }
}
