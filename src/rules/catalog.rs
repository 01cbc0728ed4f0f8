//! The catalog as a data model: which item ids exist, the unit each one is
//! counted in once normalised (pieces, or litres for liquids) and its
//! default pack sizes, all from the `[[item]]` tables of the rule files
//! (`base_unit`, `[item.packs]` in `rules/catalog.toml`).
//!
//! Owns: [`Catalog`] and normalisation ([`Catalog::normalise`]): a stated
//! quantity and unit ("3 box") into base units ("300 piece"), marked
//! `pack_size_assumed` when a catalog default, not the email, said how many
//! a container holds. Fixed conversions (a pair is 2 pieces, a gallon
//! 3.785 litres) are never assumptions. Does not own: the words that name
//! items (the grammar) nor their names in replies ([`super::ReplyNames`]).

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::Serialize;

use super::format::{invalid, parse_file};
use super::{RuleError, EMBEDDED};

/// The contract's units (`extract --json`), which `[item.packs]` may name.
pub const UNITS: &[&str] = &[
    "each", "pair", "box", "case", "pallet", "bottle", "gallon", "liter", "roll", "kit",
];

/// Litres in one US gallon.
const LITRES_PER_GALLON: f64 = 3.785_411_784;

/// What an item's quantities are normalised to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum BaseUnit {
    #[default]
    Piece,
    Litre,
}

impl BaseUnit {
    pub fn as_str(self) -> &'static str {
        match self {
            BaseUnit::Piece => "piece",
            BaseUnit::Litre => "litre",
        }
    }

    /// Conversions that hold for every item of this base unit: not assumptions.
    fn fixed(self, unit: &str) -> Option<f64> {
        match (self, unit) {
            (BaseUnit::Piece, "each") => Some(1.0),
            (BaseUnit::Piece, "pair") => Some(2.0),
            (BaseUnit::Litre, "liter") => Some(1.0),
            (BaseUnit::Litre, "gallon") => Some(LITRES_PER_GALLON),
            _ => None,
        }
    }
}

impl fmt::Display for BaseUnit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One catalog item's unit and pack sizes.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CatalogItem {
    pub id: String,
    /// Its English name in replies, for staff picking it ("exam gloves").
    pub label: String,
    pub base_unit: BaseUnit,
    /// Base units per container when the email does not say (assumed).
    pub packs: BTreeMap<String, f64>,
}

impl CatalogItem {
    /// Base units in one `unit`, and whether that is a catalog default.
    pub fn per_unit(&self, unit: &str) -> Option<(f64, bool)> {
        if let Some(n) = self.base_unit.fixed(unit) {
            return Some((n, false));
        }
        self.packs.get(unit).map(|&n| (n, true))
    }
}

/// A stated quantity in the item's base unit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Normalised {
    pub base_quantity: f64,
    pub base_unit: BaseUnit,
    /// A catalog default said how many one container holds.
    pub pack_size_assumed: bool,
}

/// One row of the `pack_sizes` table: base units in one `unit` of `item`.
#[derive(Debug, Clone, PartialEq)]
pub struct PackSize {
    pub item: String,
    pub unit: String,
    pub base_unit: BaseUnit,
    pub per_unit: f64,
    pub assumed: bool,
}

/// Every catalog item, by id.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    items: BTreeMap<String, CatalogItem>,
}

impl Catalog {
    /// The catalog of the rule files built into the binary.
    pub fn embedded() -> Result<Catalog, RuleError> {
        let files: Vec<(String, String)> = EMBEDDED
            .iter()
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect();
        Catalog::from_files(&files)
    }

    /// The catalog of every `*.toml` rule file of `dir`.
    pub fn load_dir(dir: &Path) -> Result<Catalog, RuleError> {
        Catalog::from_files(&super::read_rule_dir(dir)?)
    }

    /// The catalog of rule files given as (name, text), in order; a later
    /// file's `base_unit` or pack size overrides an earlier one's.
    pub fn from_files(files: &[(String, String)]) -> Result<Catalog, RuleError> {
        let mut catalog = Catalog::default();
        for (file, text) in files {
            for rule in parse_file(file, text)?.item {
                let id = rule.id.get_ref().clone();
                let entry = catalog
                    .items
                    .entry(id.clone())
                    .or_insert_with(|| CatalogItem {
                        id: id.clone(),
                        label: id.replace('_', " "),
                        ..Default::default()
                    });
                if let Some(en) = rule.names.get("en") {
                    entry.label = en.clone();
                }
                if let Some(base) = &rule.base_unit {
                    entry.base_unit = match base.get_ref().as_str() {
                        "piece" => BaseUnit::Piece,
                        "litre" | "liter" => BaseUnit::Litre,
                        other => {
                            return Err(invalid(
                                file,
                                text,
                                base.span(),
                                format!(
                                    "item {id}: base_unit {other:?} is not \"piece\" or \"litre\""
                                ),
                            ))
                        }
                    };
                }
                for (unit, n) in &rule.packs {
                    let reason = if !UNITS.contains(&unit.as_str()) {
                        Some(format!(
                            "item {id}: packs.{unit}: not a unit (one of {})",
                            UNITS.join(", ")
                        ))
                    } else if !(n.get_ref().is_finite() && *n.get_ref() > 0.0) {
                        Some(format!("item {id}: packs.{unit}: must be a number above 0"))
                    } else {
                        None
                    };
                    if let Some(reason) = reason {
                        return Err(invalid(file, text, n.span(), reason));
                    }
                    entry.packs.insert(unit.clone(), *n.get_ref());
                }
            }
        }
        // A fixed conversion cannot be "assumed": checked once all files merged.
        for item in catalog.items.values() {
            if let Some(unit) = item
                .packs
                .keys()
                .find(|u| item.base_unit.fixed(u).is_some())
            {
                return Err(RuleError::Invalid {
                    file: "rules".into(),
                    line: 0,
                    reason: format!(
                        "item {}: packs.{unit}: a {unit} is always the same number of {}s; remove it",
                        item.id, item.base_unit
                    ),
                });
            }
        }
        Ok(catalog)
    }

    pub fn get(&self, id: &str) -> Option<&CatalogItem> {
        self.items.get(id)
    }

    pub fn contains(&self, id: &str) -> bool {
        self.items.contains_key(id)
    }

    /// The item staff typed or picked: its id, or its English name, in
    /// any case ("N95_respirator", "exam gloves").
    pub fn resolve(&self, typed: &str) -> Option<&CatalogItem> {
        let typed = typed.trim();
        self.items.get(typed).or_else(|| {
            self.items
                .values()
                .find(|i| i.id.eq_ignore_ascii_case(typed) || i.label.eq_ignore_ascii_case(typed))
        })
    }

    /// Every item, by id.
    pub fn items(&self) -> impl Iterator<Item = &CatalogItem> {
        self.items.values()
    }

    /// `quantity` `unit` of `item` in base units; `None` when the item is
    /// not in the catalog, the quantity is unknown, or nothing says how many
    /// base units one `unit` holds (3 pallets of gowns). No unit is `each`.
    pub fn normalise(
        &self,
        item: &str,
        quantity: Option<f64>,
        unit: Option<&str>,
    ) -> Option<Normalised> {
        let entry = self.items.get(item)?;
        let (per_unit, assumed) = entry.per_unit(unit.unwrap_or("each"))?;
        Some(Normalised {
            base_quantity: quantity? * per_unit,
            base_unit: entry.base_unit,
            pack_size_assumed: assumed,
        })
    }

    /// Every conversion, for the store's `pack_sizes` table (the database
    /// normalises stored item lines with it).
    pub fn pack_sizes(&self) -> Vec<PackSize> {
        let mut rows = Vec::new();
        for item in self.items.values() {
            for unit in UNITS {
                if let Some((per_unit, assumed)) = item.per_unit(unit) {
                    rows.push(PackSize {
                        item: item.id.clone(),
                        unit: unit.to_string(),
                        base_unit: item.base_unit,
                        per_unit,
                        assumed,
                    });
                }
            }
        }
        rows
    }
}

impl Catalog {
    /// `extraction` as `extract --json` prints it: the contract's fields
    /// untouched, and beside each item's stated quantity and unit its
    /// `base_quantity`, `base_unit` and `pack_size_assumed` (extra fields,
    /// which the contract allows) when the catalog can normalise it.
    pub fn extraction_json(&self, extraction: &super::Extraction) -> serde_json::Value {
        let mut json = serde_json::to_value(extraction).unwrap_or_default();
        let Some(items) = json.get_mut("items").and_then(|i| i.as_array_mut()) else {
            return json;
        };
        for (value, item) in items.iter_mut().zip(&extraction.items) {
            let (Some(obj), Some(n)) = (
                value.as_object_mut(),
                self.normalise(&item.item, item.quantity, item.unit.as_deref()),
            ) else {
                continue;
            };
            obj.insert("base_quantity".into(), n.base_quantity.into());
            obj.insert("base_unit".into(), n.base_unit.as_str().into());
            obj.insert("pack_size_assumed".into(), n.pack_size_assumed.into());
        }
        json
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        Catalog::embedded().unwrap()
    }

    #[test]
    fn a_box_of_exam_gloves_is_a_hundred_pieces_by_default() {
        let n = catalog()
            .normalise("exam_gloves", Some(3.0), Some("box"))
            .unwrap();
        assert_eq!(n.base_quantity, 300.0);
        assert_eq!(n.base_unit, BaseUnit::Piece);
        assert!(n.pack_size_assumed);
    }

    #[test]
    fn pieces_and_pairs_are_exact() {
        let c = catalog();
        let each = c
            .normalise("exam_gloves", Some(500.0), Some("each"))
            .unwrap();
        assert_eq!((each.base_quantity, each.pack_size_assumed), (500.0, false));
        let bare = c.normalise("n95_respirator", Some(2000.0), None).unwrap();
        assert_eq!(
            (bare.base_quantity, bare.pack_size_assumed),
            (2000.0, false)
        );
        let pairs = c
            .normalise("exam_gloves", Some(50.0), Some("pair"))
            .unwrap();
        assert_eq!(
            (pairs.base_quantity, pairs.pack_size_assumed),
            (100.0, false)
        );
    }

    #[test]
    fn liquids_are_litres() {
        let c = catalog();
        let gal = c
            .normalise("hand_sanitizer", Some(5.0), Some("gallon"))
            .unwrap();
        assert_eq!(gal.base_unit, BaseUnit::Litre);
        assert!((gal.base_quantity - 18.927_058_92).abs() < 1e-6);
        assert!(!gal.pack_size_assumed);
        let bottles = c
            .normalise("hand_sanitizer", Some(12.0), Some("bottle"))
            .unwrap();
        assert_eq!(
            (bottles.base_quantity, bottles.pack_size_assumed),
            (6.0, true)
        );
    }

    #[test]
    fn nothing_to_go_on_is_none() {
        let c = catalog();
        assert_eq!(
            c.normalise("ventilator_invasive", Some(3.0), Some("pallet")),
            None
        );
        assert_eq!(c.normalise("exam_gloves", None, Some("box")), None);
        assert_eq!(c.normalise("no_such_item", Some(3.0), None), None);
        // A liquid has no fixed "each": only a catalog default says what one is.
        assert_eq!(c.normalise("hand_sanitizer", Some(3.0), Some("pair")), None);
    }

    #[test]
    fn an_operator_overrides_a_pack_size_in_a_later_file() {
        let files = vec![
            ("catalog.toml".to_string(), EMBEDDED[0].1.to_string()),
            (
                "zz-local.toml".to_string(),
                "[[item]]\nid = \"exam_gloves\"\n[item.packs]\nbox = 250\n\n\
                 [[item]]\nid = \"cot\"\n[item.packs]\ncase = 4\n"
                    .to_string(),
            ),
        ];
        let c = Catalog::from_files(&files).unwrap();
        let n = c.normalise("exam_gloves", Some(2.0), Some("box")).unwrap();
        assert_eq!(n.base_quantity, 500.0);
        assert_eq!(
            c.normalise("cot", Some(2.0), Some("case"))
                .unwrap()
                .base_quantity,
            8.0
        );
        assert!(c.contains("cot"));
        assert!(c
            .pack_sizes()
            .iter()
            .any(|p| p.item == "cot" && p.unit == "case" && p.assumed));
        assert!(c
            .pack_sizes()
            .iter()
            .any(|p| p.item == "cot" && p.unit == "each" && !p.assumed));
    }

    #[test]
    fn bad_pack_sizes_name_the_item_and_line() {
        let bad = |text: &str| {
            Catalog::from_files(&[("local.toml".to_string(), text.to_string())])
                .unwrap_err()
                .to_string()
        };
        let e = bad("[[item]]\nid = \"cot\"\n[item.packs]\ncrate = 4\n");
        assert!(
            e.starts_with("local.toml:4:") && e.contains("packs.crate"),
            "{e}"
        );
        let e = bad("[[item]]\nid = \"cot\"\n[item.packs]\nbox = 0\n");
        assert!(e.contains("above 0"), "{e}");
        let e = bad("[[item]]\nid = \"cot\"\nbase_unit = \"kg\"\n");
        assert!(
            e.starts_with("local.toml:3:") && e.contains("base_unit"),
            "{e}"
        );
        let e = bad("[[item]]\nid = \"cot\"\n[item.packs]\npair = 3\n");
        assert!(e.contains("packs.pair"), "{e}");
    }

    #[test]
    fn every_built_in_item_has_a_base_unit_and_the_liquids_are_litres() {
        let c = catalog();
        assert_eq!(c.get("hand_sanitizer").unwrap().base_unit, BaseUnit::Litre);
        assert_eq!(c.get("n95_respirator").unwrap().base_unit, BaseUnit::Piece);
        assert_eq!(c.get("exam_gloves").unwrap().label, "exam gloves");
        assert_eq!(c.resolve(" Exam Gloves ").unwrap().id, "exam_gloves");
        assert_eq!(c.resolve("N95_RESPIRATOR").unwrap().id, "n95_respirator");
        assert!(c.resolve("n59_respirator").is_none());
        assert!(c.items().count() >= 25);
    }
}
