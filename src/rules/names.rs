//! What donors read: the names of catalog items and units in each reply
//! language, from the `names` tables of the rule files (`rules/catalog.toml`,
//! `rules/units.toml`), so an item an operator adds is named in replies too.
//!
//! Owns: [`ReplyNames`], read from the same files as the rules but without
//! compiling them (the reply templates load it; the process stage compiles
//! the rules). Does not own: how a line of an item list is put together in
//! a language ([`crate::outbox::labels`]).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use super::format::{parse_file, Names};
use super::{RuleError, EMBEDDED};

/// Names of items and units per language; later files override earlier
/// ones language by language, as the rule files merge.
#[derive(Debug, Clone, Default)]
pub struct ReplyNames {
    items: HashMap<String, Names>,
    units: HashMap<String, Names>,
}

impl ReplyNames {
    /// The names in the rule files built into the binary.
    pub fn embedded() -> Result<ReplyNames, RuleError> {
        let files: Vec<(String, String)> = EMBEDDED
            .iter()
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect();
        ReplyNames::from_files(&files)
    }

    /// The names in every `*.toml` rule file of `dir`.
    pub fn load_dir(dir: &Path) -> Result<ReplyNames, RuleError> {
        ReplyNames::from_files(&super::read_rule_dir(dir)?)
    }

    /// The names in rule files given as (name, text), in order.
    pub fn from_files(files: &[(String, String)]) -> Result<ReplyNames, RuleError> {
        let mut names = ReplyNames::default();
        for (file, text) in files {
            let parsed = parse_file(file, text)?;
            for item in parsed.item {
                merge(&mut names.items, item.id.get_ref(), item.names);
            }
            for unit in parsed.unit {
                merge(&mut names.units, unit.id.get_ref(), unit.names);
            }
        }
        Ok(names)
    }

    /// The name of item `id` in `lang`: else its English name, else the id
    /// in words ("face_shield" → "face shield").
    pub fn item(&self, id: &str, lang: &str) -> String {
        pick(self.items.get(id), lang).unwrap_or_else(|| id.replace('_', " "))
    }

    /// How a count of `unit` reads in `lang` ("boxes of", "盒"); `None` for
    /// a unit without a name (pieces: the number alone).
    pub fn unit(&self, unit: &str, lang: &str) -> Option<String> {
        pick(self.units.get(unit), lang)
    }

    /// The items with no name in `lang`, sorted (for `rules test`).
    pub fn items_unnamed_in(&self, lang: &str) -> Vec<String> {
        let mut ids: Vec<String> = self
            .items
            .iter()
            .filter(|(_, n)| !n.contains_key(lang))
            .map(|(id, _)| id.clone())
            .collect();
        ids.sort();
        ids
    }
}

fn merge(into: &mut HashMap<String, Names>, id: &str, names: BTreeMap<String, String>) {
    let entry = into.entry(id.to_string()).or_default();
    entry.extend(
        names
            .into_iter()
            .map(|(lang, name)| (lang, name.trim().to_string()))
            .filter(|(_, name)| !name.is_empty()),
    );
}

fn pick(names: Option<&Names>, lang: &str) -> Option<String> {
    let names = names?;
    names.get(lang).or_else(|| names.get("en")).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_item_is_named_in_every_reply_language() {
        let names = ReplyNames::embedded().unwrap();
        for lang in ["en", "es", "zh", "ko", "vi", "tl"] {
            assert_eq!(names.items_unnamed_in(lang), Vec::<String>::new(), "{lang}");
        }
        assert_eq!(names.item("exam_gloves", "ko"), "검사용 장갑");
        assert_eq!(names.unit("box", "vi").as_deref(), Some("hộp"));
        assert_eq!(names.unit("each", "en"), None);
    }

    #[test]
    fn a_later_file_adds_a_language_and_a_new_item_falls_back_to_english() {
        let files = [
            (
                "a.toml".to_string(),
                "[[item]]\nid = \"cot\"\n[item.names]\nen = \"folding cots\"\n".to_string(),
            ),
            (
                "b.toml".to_string(),
                "[[item]]\nid = \"cot\"\n[item.names]\nes = \"catres plegables\"\n".to_string(),
            ),
        ];
        let names = ReplyNames::from_files(&files).unwrap();
        assert_eq!(names.item("cot", "es"), "catres plegables");
        assert_eq!(names.item("cot", "vi"), "folding cots");
        assert_eq!(names.item("field_tent", "en"), "field tent");
    }

    #[test]
    fn a_malformed_names_table_names_its_file_and_line() {
        let files = [(
            "mine.toml".to_string(),
            "[[item]]\nid = \"cot\"\n[item.names]\nen = 3\n".to_string(),
        )];
        let err = ReplyNames::from_files(&files).unwrap_err().to_string();
        assert!(err.starts_with("mine.toml:4:"), "{err}");
    }
}
