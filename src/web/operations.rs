//! The operators' file: current needs per item (which set the queue's
//! priority) and the pickup sites offered when accepting. Needs are then
//! edited on the desk ([`super::needs`]); once they are, the file's needs
//! are ignored at start (its sites still load).
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

use crate::rules::catalog::Catalog;
use crate::store::{Need, PickupSite, Store};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    needs: BTreeMap<String, NeedEntry>,
    #[serde(default)]
    sites: Vec<SiteEntry>,
    /// Every site's time zone: read and checked by `crate::slots::zone`.
    #[serde(default, rename = "timezone")]
    _timezone: Option<toml::Value>,
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
    /// Opening hours and capacity: read and checked by `crate::slots::hours`.
    #[serde(default, rename = "hours")]
    _hours: Option<toml::Value>,
    #[serde(default, rename = "capacity")]
    _capacity: Option<toml::Value>,
    #[serde(default, rename = "timezone")]
    _timezone: Option<toml::Value>,
}

/// Parses the operators' file text (named `file` in errors).
pub fn parse(text: &str, file: &str) -> anyhow::Result<(Vec<Need>, Vec<PickupSite>)> {
    let parsed: File = toml::from_str(text).with_context(|| format!("reading {file}"))?;
    let needs = parsed
        .needs
        .into_iter()
        .map(|(item, n)| {
            let weight = match (n.weight, n.per_week) {
                (Some(w), None) => w,
                (None, Some(w)) => super::needs::weight(w, n.on_hand.unwrap_or(0.0)),
                _ => anyhow::bail!(
                    "{file}: needs.{item}: give either `weight` or `per_week` (with `on_hand`)"
                ),
            };
            Ok(Need {
                item,
                weight,
                target: n.target,
                per_week: n.per_week,
                on_hand: n.on_hand,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let sites = parsed
        .sites
        .into_iter()
        .map(|s| PickupSite {
            name: s.name,
            address: s.address,
            notes: s.notes,
        })
        .collect();
    Ok((needs, sites))
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

/// Reads and checks the file without loading it (`check-config`).
pub fn check_file(path: &Path, catalog: &Catalog) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the needs file {}", path.display()))?;
    let file = path.display().to_string();
    check_items(&parse(&text, &file)?.0, catalog, &file)?;
    crate::slots::hours::parse_sites(&text, &file)?;
    crate::slots::zone::parse_zones(&text, &file)?;
    Ok(())
}

/// Reads the file and replaces the needs and sites in the database (the
/// needs only while none was changed on the desk).
pub async fn load_file(store: &Store, path: &Path, catalog: &Catalog) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the needs file {}", path.display()))?;
    let file = path.display().to_string();
    let (needs, sites) = parse(&text, &file)?;
    check_items(&needs, catalog, &file)?;
    let slots = crate::slots::hours::parse_sites(&text, &file)?;
    let zones = crate::slots::zone::parse_zones(&text, &file)?;
    let loaded = store.load_operations(&needs, &sites).await?;
    store.load_site_slots(&slots).await?;
    store.load_site_zones(&zones).await?;
    if !loaded {
        tracing::warn!(
            file = %file,
            "needs were changed on the desk (/needs): the file's needs are ignored"
        );
    }
    tracing::info!(
        needs = if loaded { needs.len() } else { 0 },
        sites = sites.len(),
        "loaded needs and pickup sites"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_file_parses() {
        let (needs, sites) =
            parse(include_str!("../../examples/needs.toml"), "needs.toml").unwrap();
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
        let (needs, _) = parse(
            "[needs.n95_respirator]\nper_week = 700\non_hand = 1400\n",
            "f",
        )
        .unwrap();
        assert_eq!(needs[0].weight, super::super::needs::weight(700.0, 1400.0));
        assert!(parse("[needs.x]\nweight = 1\nper_week = 2\n", "f").is_err());
        let catalog = Catalog::embedded().unwrap();
        let (needs, _) = parse("[needs.n59_respirator]\nweight = 1\n", "f").unwrap();
        let e = check_items(&needs, &catalog, "needs.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("needs.n59_respirator: no such item"), "{e}");
    }
}
