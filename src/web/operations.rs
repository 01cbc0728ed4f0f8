//! The operators' file: current needs per item (which set the queue's
//! priority: weight × quantity) and the pickup sites offered when accepting.
//!
//! ```toml
//! [needs.n95_respirator]
//! weight = 10        # priority per unit offered
//! target = 50000     # how many are wanted (the dashboard's line)
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

use crate::store::{Need, PickupSite, Store};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    needs: BTreeMap<String, NeedEntry>,
    #[serde(default)]
    sites: Vec<SiteEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NeedEntry {
    weight: f64,
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
}

/// Parses the operators' file text (named `file` in errors).
pub fn parse(text: &str, file: &str) -> anyhow::Result<(Vec<Need>, Vec<PickupSite>)> {
    let parsed: File = toml::from_str(text).with_context(|| format!("reading {file}"))?;
    let needs = parsed
        .needs
        .into_iter()
        .map(|(item, n)| Need {
            item,
            weight: n.weight,
            target: n.target,
        })
        .collect();
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

/// Reads and checks the file without loading it (`check-config`).
pub fn check_file(path: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the needs file {}", path.display()))?;
    parse(&text, &path.display().to_string())?;
    crate::slots::hours::parse_sites(&text, &path.display().to_string())?;
    Ok(())
}

/// Reads the file and replaces the needs and sites in the database.
pub async fn load_file(store: &Store, path: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the needs file {}", path.display()))?;
    let (needs, sites) = parse(&text, &path.display().to_string())?;
    store.load_operations(&needs, &sites).await?;
    let slots = crate::slots::hours::parse_sites(&text, &path.display().to_string())?;
    store.load_site_slots(&slots).await?;
    tracing::info!(
        needs = needs.len(),
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
        let err = format!("{:#}", check_file(&path).unwrap_err());
        let want = format!("{}:5: sites[1].hours.mon: ", path.display());
        assert!(err.contains(&want), "{err}");
    }

    #[test]
    fn unknown_key_is_an_error() {
        assert!(parse("[needs.x]\nweight = 1\nwieght = 2\n", "f").is_err());
    }
}
