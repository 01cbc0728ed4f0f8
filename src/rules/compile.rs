//! Compiling rule files into matchers, once: every word of every list goes
//! into one Aho-Corasick automaton (leftmost-longest, ASCII case-insensitive,
//! with plural and accent-free variants generated here), and every pattern
//! into a `Regex` with a `RegexSet` in front to skip the ones that cannot
//! match. Both are linear in the text.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::{Regex, RegexSet, RegexSetBuilder};

use super::format::{self, Decision, Example, RuleFile, Terms};
use super::RuleError;

/// The contract's units.
pub const UNITS: &[&str] = &[
    "each", "pair", "box", "case", "pallet", "bottle", "gallon", "liter", "roll", "kit",
];

/// The contract's categories.
pub const CATEGORIES: &[&str] = &[
    "offer",
    "sale",
    "request",
    "inquiry",
    "auto_reply",
    "bounce",
    "spam",
];

/// Grammatical roles of small words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Of,
    Per,
    Each,
    /// Words that may sit between an item and its count: "about", "qty".
    Filler,
    /// Words that end a quantity phrase: a number before them never counts
    /// an item after them ("our 3 offices have N95s").
    Break,
    /// Words that say a bare count is of the item named before: "we have
    /// about 450 finished", "ya tenemos trescientos listos".
    Ready,
    /// A table header naming the count column: "Qty", "Cantidad", "数量".
    CountColumn,
    /// A table header naming the unit column: "Unit", "UoM".
    UnitColumn,
    /// A table header naming the pack-size column: "Pack", "Case pack".
    PackColumn,
}

impl Role {
    /// Whether the role names a table column (kept apart from the word's
    /// other role: "qty" is also a filler).
    pub fn is_column(self) -> bool {
        matches!(
            self,
            Role::CountColumn | Role::UnitColumn | Role::PackColumn
        )
    }
}

/// What a lexicon entry means.
#[derive(Debug, Clone, PartialEq)]
pub enum Lex {
    Item {
        item: usize,
        generic: bool,
    },
    Unit(usize),
    Word(Role),
    NumValue(f64),
    /// "a", "an", "un", "una": one, but only right before what it counts.
    NumArticle,
    NumMult(f64),
}

/// A compiled regex with its name.
#[derive(Debug)]
pub struct Pattern {
    pub name: String,
    pub re: Regex,
}

/// A regex list with a `RegexSet` prefilter.
#[derive(Debug)]
pub struct PatternSet {
    pub set: RegexSet,
    pub list: Vec<Pattern>,
    /// Whether to search for any match first, which stops at the first
    /// one, before the overlapping scan: for model names, which most texts
    /// lack (and the set's literal prefilter makes that search quick), and
    /// for `never`, asked only of texts with numbers, a few of which it
    /// spares the scan.
    pub rare: bool,
}

impl PatternSet {
    /// Matches of every pattern, as (pattern index, start, end).
    pub fn find_all(&self, text: &str) -> Vec<(usize, usize, usize)> {
        let mut out = Vec::new();
        if self.rare && !self.set.is_match(text) {
            return out;
        }
        for i in self.set.matches(text).iter() {
            for m in self.list[i].re.find_iter(text) {
                out.push((i, m.start(), m.end()));
            }
        }
        out
    }
}

#[derive(Debug)]
pub struct Signal {
    pub name: String,
    pub category: String,
    pub weight: f64,
    pub scope: String,
    pub re: Regex,
}

/// Patterns by key, each key's as one [`RegexSet`] (so a text is scanned
/// once per key, not once per pattern) with the index of each pattern in
/// the list they came from.
pub type GroupedSets = BTreeMap<String, (RegexSet, Vec<usize>)>;

/// The patterns of one group of [`GroupedSets`] that may match `hay`, as
/// indexes into the list the group came from, in order: the set's matches;
/// for a group of at most [`SCAN_ALONE`] patterns, all of them without a
/// scan, since the caller's own search of each finds whether it matches
/// and the set's scan would mostly repeat it.
pub fn candidates<'a>(group: &'a (RegexSet, Vec<usize>), hay: &str) -> Cow<'a, [usize]> {
    let (set, index) = group;
    if index.len() <= SCAN_ALONE {
        return Cow::Borrowed(index);
    }
    Cow::Owned(set.matches(hay).into_iter().map(|k| index[k]).collect())
}

/// Groups of this many patterns or fewer skip the set: each pattern's own
/// search (a literal prefilter, stopping at its first match) costs less
/// than one overlapping scan of the whole text for the set.
const SCAN_ALONE: usize = 4;

#[derive(Debug)]
pub struct Negation {
    /// Named in rule files for operators; not reported yet.
    #[allow(dead_code)]
    pub name: String,
    pub re: Regex,
    pub scope: NegationScope,
}

/// What a negation cue covers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NegationScope {
    /// From the cue to the end of its clause ("we don't have N95s").
    Right,
    /// From the clause start to the cue ("마스크는 없습니다").
    Left,
    /// The cue's own text, when the lot sits inside it ("a church
    /// donated 500 masks to us").
    Match,
}

/// The compiled rule set.
#[derive(Debug)]
pub struct Rules {
    /// Whether the receiving server's spam verdict counts (the operator's
    /// `donations.trust_spam_headers`); off unless set.
    pub(crate) trust_spam_headers: bool,
    pub(crate) items: Vec<String>,
    /// For each item, the items that refine its generic names.
    pub(crate) refined_by: Vec<Vec<usize>>,
    pub(crate) units: Vec<(String, bool)>,
    pub(crate) lexicon: AhoCorasick,
    /// Meanings of each lexicon pattern, and the term as written (the rule name).
    pub(crate) lex: Vec<(Vec<Lex>, String)>,
    pub(crate) models: PatternSet,
    pub(crate) model_item: Vec<usize>,
    pub(crate) never: PatternSet,
    pub(crate) negations: Vec<Negation>,
    /// All negation patterns at once: which of `negations` occur in a text.
    pub(crate) negation_set: RegexSet,
    pub(crate) signals: Vec<Signal>,
    /// [`Rules::signals`] by scope.
    pub(crate) signals_by_scope: GroupedSets,
    pub(crate) fields: Vec<(String, Pattern)>,
    /// `fields` by field name.
    pub(crate) field_sets: GroupedSets,
    /// The patterns of the fields read in an item's sentence
    /// ([`SENTENCE_FIELDS`]), all at once: whether any can match there.
    pub(crate) sentence_gate: RegexSet,
    /// The same for the vetting fields ([`VETTING_FIELDS`]) in the text.
    pub(crate) vetting_gate: RegexSet,
    /// The same for the pickup place ([`PLACE_FIELDS`]).
    pub(crate) place_gate: RegexSet,
    pub(crate) languages: Vec<(String, Vec<String>)>,
    /// Each stop word of `languages`, with the index of every language listing it.
    pub(crate) stop_words: HashMap<String, Vec<usize>, WordHash>,
    /// Small words the grammar reads through, as if absent: Tagalog
    /// enclitics ("20 kahon kami ng gloves", "Tyvek suit kami na 20 piraso").
    pub(crate) clitics: HashSet<String, WordHash>,
    pub(crate) decision: Decision,
    pub(crate) examples: Vec<(String, usize, Example)>,
    pub(crate) cjk_numerals: Regex,
}

/// Collects the parts of a rule set while files are read.
#[derive(Default)]
struct Builder {
    items: Vec<String>,
    /// (item, refining item id as written, file, line) until all ids are known.
    refinements: Vec<(usize, String, String, usize)>,
    units: Vec<(String, bool)>,
    terms: BTreeMap<String, Vec<Lex>>,
    models: Vec<Pattern>,
    model_item: Vec<usize>,
    never: Vec<Pattern>,
    negations: Vec<Negation>,
    signals: Vec<Signal>,
    fields: Vec<(String, Pattern)>,
    languages: Vec<(String, Vec<String>)>,
    clitics: HashSet<String, WordHash>,
    decision: Option<Decision>,
    examples: Vec<(String, usize, Example)>,
}

/// Hashing for the word tables read once per word of every message (stop
/// words, clitics): FNV-1a, much cheaper than SipHash on short words. The
/// keys come from the rule files, not from senders, and the tables are
/// only looked up, never iterated, so the order does not show.
pub type WordHash = std::hash::BuildHasherDefault<Fnv1a>;

/// The 64-bit FNV-1a hash.
pub struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Fnv1a {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }
}

impl std::hash::Hasher for Fnv1a {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// Compiles named rule files (name, text) into a rule set.
pub fn compile(files: &[(String, String)]) -> Result<Rules, RuleError> {
    let mut b = Builder::default();
    for (name, text) in files {
        let file = format::parse_file(name, text)?;
        b.add_file(name, text, file)?;
    }
    b.finish()
}

impl Builder {
    fn add_file(&mut self, name: &str, text: &str, f: RuleFile) -> Result<(), RuleError> {
        let re = |p: &toml::Spanned<String>| {
            Regex::new(&ascii_boundaries(p.get_ref()))
                .map_err(|e| format::invalid(name, text, p.span(), format!("bad pattern: {e}")))
        };
        for u in &f.unit {
            let unit = self.unit_index(u.id.get_ref(), u.container);
            let Some(unit) = unit else {
                let reason = format!("unknown unit {:?}; one of {UNITS:?}", u.id.get_ref());
                return Err(format::invalid(name, text, u.id.span(), reason));
            };
            self.add_terms(&u.terms, Lex::Unit(unit));
        }
        for w in &f.word {
            if w.role.get_ref() == "clitic" {
                let words = w.terms.values().flatten();
                self.clitics.extend(words.map(|t| t.trim().to_lowercase()));
                continue;
            }
            let role = match w.role.get_ref().as_str() {
                "of" => Role::Of,
                "per" => Role::Per,
                "each" => Role::Each,
                "filler" => Role::Filler,
                "break" => Role::Break,
                "ready" => Role::Ready,
                "count column" => Role::CountColumn,
                "unit column" => Role::UnitColumn,
                "pack column" => Role::PackColumn,
                other => {
                    let reason = format!(
                        "unknown word role {other:?}; one of of, per, each, filler, break, ready, \
                         count column, unit column, pack column, clitic"
                    );
                    return Err(format::invalid(name, text, w.role.span(), reason));
                }
            };
            for term in w.terms.values().flatten() {
                self.add_plain(term, Lex::Word(role));
            }
        }
        for n in &f.number {
            for (word, v) in &n.values {
                self.add_plain(word, Lex::NumValue(*v));
            }
            for (word, v) in &n.multipliers {
                self.add_plain(word, Lex::NumMult(*v));
            }
            for word in &n.articles {
                self.add_plain(word, Lex::NumArticle);
            }
        }
        for it in &f.item {
            let item = self.item_index(it.id.get_ref());
            self.add_terms(
                &it.terms,
                Lex::Item {
                    item,
                    generic: false,
                },
            );
            self.add_terms(
                &it.generic,
                Lex::Item {
                    item,
                    generic: true,
                },
            );
            for r in &it.refined_by {
                let line = crate::error_text::line_of(text, r.span().start);
                self.refinements
                    .push((item, r.get_ref().clone(), name.to_string(), line));
            }
            for m in &it.models {
                self.models.push(Pattern {
                    name: format!("{} model", it.id.get_ref()),
                    re: re(m)?,
                });
                self.model_item.push(item);
            }
        }
        for n in &f.never {
            self.never.push(Pattern {
                name: n.name.clone(),
                re: re(&n.pattern)?,
            });
        }
        for n in &f.negation {
            let scope = match n.scope.as_str() {
                "right" => NegationScope::Right,
                "left" => NegationScope::Left,
                "match" => NegationScope::Match,
                other => {
                    let reason =
                        format!("unknown negation scope {other:?}; one of right, left, match");
                    return Err(format::invalid(name, text, n.pattern.span(), reason));
                }
            };
            self.negations.push(Negation {
                name: n.name.clone(),
                re: re(&n.pattern)?,
                scope,
            });
        }
        self.add_signals(name, text, &f)?;
        self.add_fields(name, text, &f)?;
        for l in f.language {
            self.languages
                .push((l.lang, l.words.iter().map(|w| w.to_lowercase()).collect()));
        }
        if f.decision.is_some() {
            self.decision = f.decision;
        }
        for e in f.example {
            let line = crate::error_text::line_of(text, e.rule.span().start);
            self.examples.push((name.to_string(), line, e));
        }
        Ok(())
    }

    fn add_signals(&mut self, name: &str, text: &str, f: &RuleFile) -> Result<(), RuleError> {
        const SCOPES: &[&str] = &["subject", "body", "text", "message", "from", "headers"];
        for s in &f.signal {
            if !CATEGORIES.contains(&s.category.get_ref().as_str()) {
                let reason = format!("unknown category {:?}", s.category.get_ref());
                return Err(format::invalid(name, text, s.category.span(), reason));
            }
            if !SCOPES.contains(&s.scope.get_ref().as_str()) {
                let reason = format!("unknown scope {:?}; one of {SCOPES:?}", s.scope.get_ref());
                return Err(format::invalid(name, text, s.scope.span(), reason));
            }
            let re = Regex::new(&ascii_boundaries(s.pattern.get_ref())).map_err(|e| {
                format::invalid(name, text, s.pattern.span(), format!("bad pattern: {e}"))
            })?;
            self.signals.push(Signal {
                name: s.name.clone(),
                category: s.category.get_ref().clone(),
                weight: s.weight,
                scope: s.scope.get_ref().clone(),
                re,
            });
        }
        Ok(())
    }

    fn add_fields(&mut self, name: &str, text: &str, f: &RuleFile) -> Result<(), RuleError> {
        const FIELDS: &[&str] = &[
            "phone",
            "fax",
            "postal_code",
            "address",
            "deliver",
            "pickup",
            "price",
            "condition_new",
            "condition_used",
            "condition_expired",
            "expires",
            "organization",
            "unit_price",
            "minimum_order",
            "niosh_approval",
            "fda_number",
        ];
        for fr in &f.field {
            if !FIELDS.contains(&fr.field.get_ref().as_str()) {
                let reason = format!("unknown field {:?}; one of {FIELDS:?}", fr.field.get_ref());
                return Err(format::invalid(name, text, fr.field.span(), reason));
            }
            let re = Regex::new(&ascii_boundaries(fr.pattern.get_ref())).map_err(|e| {
                format::invalid(name, text, fr.pattern.span(), format!("bad pattern: {e}"))
            })?;
            let pattern = Pattern {
                name: fr.name.clone(),
                re,
            };
            self.fields.push((fr.field.get_ref().clone(), pattern));
        }
        Ok(())
    }

    fn item_index(&mut self, id: &str) -> usize {
        match self.items.iter().position(|i| i == id) {
            Some(i) => i,
            None => {
                self.items.push(id.to_string());
                self.items.len() - 1
            }
        }
    }

    fn unit_index(&mut self, id: &str, container: bool) -> Option<usize> {
        UNITS.contains(&id).then_some(())?;
        if let Some(i) = self.units.iter().position(|(u, _)| u == id) {
            self.units[i].1 |= container;
            return Some(i);
        }
        self.units.push((id.to_string(), container));
        Some(self.units.len() - 1)
    }

    fn add_terms(&mut self, terms: &Terms, lex: Lex) {
        for list in terms.values() {
            for term in list {
                self.add_term(term, lex.clone());
            }
        }
    }

    fn add_term(&mut self, term: &str, lex: Lex) {
        for v in variants(term) {
            self.add_variant(v, &lex);
        }
    }

    /// Number words and small words: no plural forms ("dozens" is not 12).
    fn add_plain(&mut self, term: &str, lex: Lex) {
        let lower = term.trim().to_lowercase();
        let folded = fold_accents(&lower);
        // The matcher folds ASCII case only: "Đơn vị" heading a column.
        if !lower.is_ascii() {
            self.add_variant(capitalise(&lower), &lex);
        }
        self.add_variant(lower, &lex);
        self.add_variant(folded, &lex);
    }

    fn add_variant(&mut self, v: String, lex: &Lex) {
        if v.is_empty() {
            return;
        }
        let entry = self.terms.entry(v).or_default();
        if !entry.contains(lex) {
            entry.push(lex.clone());
        }
    }

    fn refined_by(&self) -> Result<Vec<Vec<usize>>, RuleError> {
        let mut out = vec![Vec::new(); self.items.len()];
        for (item, id, file, line) in &self.refinements {
            let Some(by) = self.items.iter().position(|i| i == id) else {
                let reason = format!("refined_by names unknown item {id:?}");
                return Err(RuleError::Invalid {
                    file: file.clone(),
                    line: *line,
                    reason,
                });
            };
            out[*item].push(by);
        }
        Ok(out)
    }

    fn finish(self) -> Result<Rules, RuleError> {
        let refined_by = self.refined_by()?;
        let patterns: Vec<&String> = self.terms.keys().collect();
        let lexicon = AhoCorasickBuilder::new()
            .match_kind(MatchKind::LeftmostLongest)
            .ascii_case_insensitive(true)
            .build(&patterns)
            .map_err(|e| internal(format!("lexicon: {e}")))?;
        let lex = self.terms.into_iter().map(|(k, v)| (v, k)).collect();
        let decision = self.decision.unwrap_or(Decision {
            threshold: BTreeMap::new(),
            items_weight: 3.0,
        });
        Ok(Rules {
            trust_spam_headers: false,
            items: self.items,
            refined_by,
            units: self.units,
            lexicon,
            lex,
            models: PatternSet {
                rare: true,
                ..pattern_set(self.models)?
            },
            model_item: self.model_item,
            never: PatternSet {
                rare: true,
                ..pattern_set(self.never)?
            },
            negation_set: RegexSet::new(self.negations.iter().map(|n| n.re.as_str()))
                .map_err(|e| internal(format!("negation set: {e}")))?,
            negations: self.negations,
            signals_by_scope: grouped_sets(
                self.signals.iter().map(|s| (s.scope.as_str(), &s.re)),
                "signal scope",
            )?,
            signals: self.signals,
            field_sets: grouped_sets(
                self.fields.iter().map(|(f, p)| (f.as_str(), &p.re)),
                "field",
            )?,
            sentence_gate: field_union(&self.fields, SENTENCE_FIELDS)?,
            vetting_gate: field_union(&self.fields, VETTING_FIELDS)?,
            place_gate: field_union(&self.fields, PLACE_FIELDS)?,
            fields: self.fields,
            stop_words: stop_words(&self.languages),
            clitics: self.clitics,
            languages: self.languages,
            decision,
            examples: self.examples,
            cjk_numerals: Regex::new("[零〇一二两兩三四五六七八九十百千万萬亿億]+")
                .map_err(|e| internal(e.to_string()))?,
        })
    }
}

/// Rewrites `\b` as an ASCII word boundary. A Unicode `\b` makes the fast
/// regex engines give up on any non-ASCII text, and the rules' words start
/// and end with ASCII letters or digits where it matters.
pub fn ascii_boundaries(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('b') => out.push_str("(?-u:\\b)"),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

fn internal(reason: String) -> RuleError {
    RuleError::Invalid {
        file: "(compiled rules)".to_string(),
        line: 0,
        reason,
    }
}

/// Patterns grouped by a key (a signal's scope, a field's name), each
/// group as one `RegexSet` with the index of each of its patterns.
fn grouped_sets<'a>(
    patterns: impl Iterator<Item = (&'a str, &'a Regex)>,
    what: &str,
) -> Result<GroupedSets, RuleError> {
    let mut groups: BTreeMap<&str, Vec<(usize, &Regex)>> = BTreeMap::new();
    for (i, (key, re)) in patterns.enumerate() {
        groups.entry(key).or_default().push((i, re));
    }
    groups
        .into_iter()
        .map(|(key, members)| {
            // A lazy DFA cache larger than the default 2 MB: the many
            // alternations of a scope's signals otherwise thrash it on long
            // messages and the search falls back to the slow PikeVM.
            let set = RegexSetBuilder::new(members.iter().map(|(_, re)| re.as_str()))
                .dfa_size_limit(SET_DFA_CACHE)
                .build()
                .map_err(|e| internal(format!("{what} set for {key}: {e}")))?;
            let index = members.iter().map(|(i, _)| *i).collect();
            Ok((key.to_string(), (set, index)))
        })
        .collect()
}

/// The fields `fields::to_item` reads in the sentence around an item.
pub const SENTENCE_FIELDS: &[&str] = &[
    "condition_expired",
    "condition_used",
    "condition_new",
    "expires",
];

/// The fields of the pickup place `fields::pickup` reads.
pub const PLACE_FIELDS: &[&str] = &["address", "postal_code"];

/// The fields `vetting::vetting` reads.
pub const VETTING_FIELDS: &[&str] = &[
    "unit_price",
    "minimum_order",
    "fda_number",
    "niosh_approval",
];

/// The patterns of the fields `names`, as one set: a text none of them
/// matches needs no search field by field.
fn field_union(fields: &[(String, Pattern)], names: &[&str]) -> Result<RegexSet, RuleError> {
    RegexSetBuilder::new(
        fields
            .iter()
            .filter(|(f, _)| names.contains(&f.as_str()))
            .map(|(_, p)| p.re.as_str()),
    )
    .dfa_size_limit(SET_DFA_CACHE)
    .build()
    .map_err(|e| internal(format!("field set {names:?}: {e}")))
}

/// Lazy DFA cache per pattern set, per thread.
const SET_DFA_CACHE: usize = 16 << 20;

fn stop_words(languages: &[(String, Vec<String>)]) -> HashMap<String, Vec<usize>, WordHash> {
    let mut words: HashMap<String, Vec<usize>, WordHash> = HashMap::default();
    for (lang, (_, list)) in languages.iter().enumerate() {
        for w in list.iter().filter(|w| !w.is_empty()) {
            let langs = words.entry(w.clone()).or_default();
            if !langs.contains(&lang) {
                langs.push(lang);
            }
        }
    }
    words
}

fn pattern_set(list: Vec<Pattern>) -> Result<PatternSet, RuleError> {
    let set = RegexSet::new(list.iter().map(|p| p.re.as_str()))
        .map_err(|e| internal(format!("pattern set: {e}")))?;
    Ok(PatternSet {
        set,
        list,
        rare: false,
    })
}

/// The forms of a term the lexicon matches: lower case, with and without
/// accents, hyphen and space interchanged, and with plural endings ("s",
/// "es") on each Latin word. Terms in other scripts are used as written.
pub fn variants(term: &str) -> Vec<String> {
    let term = term.trim().to_lowercase();
    if term.is_empty() {
        return Vec::new();
    }
    let mut bases = vec![term.clone(), fold_accents(&term)];
    // Vietnamese is often typed without tone marks; one syllable without
    // them is another word ("cồn" alcohol, "con" child), two rarely are.
    if term.contains(' ') && is_latin(&term) {
        bases.push(strip_marks(&term));
    }
    if term.contains(' ') && term.is_ascii() {
        bases.push(term.replace(' ', "-"));
    }
    if term.contains('-') {
        bases.push(term.replace('-', " "));
    }
    let mut out: HashMap<String, ()> = HashMap::new();
    for base in bases {
        for v in plurals(&base) {
            out.insert(v, ());
        }
    }
    // The lexicon ignores case for ASCII only: "Áo choàng", "Маски" and
    // "ĐỒ BẢO HỘ" need their capitalised and upper-case forms listed.
    let cased: Vec<String> = out
        .keys()
        .filter(|v| !v.is_ascii())
        .flat_map(|v| [capitalise(v), v.to_uppercase()])
        .collect();
    for v in cased {
        out.insert(v, ());
    }
    let mut out: Vec<String> = out.into_keys().collect();
    out.sort();
    out
}

/// The first letter in upper case: "áo choàng" → "Áo choàng".
fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map_or_else(String::new, |c| c.to_uppercase().chain(chars).collect())
}

/// Whether `s` is written in Latin letters (with any diacritics).
fn is_latin(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_ascii() || matches!(c, '\u{00C0}'..='\u{024F}' | '\u{1E00}'..='\u{1EFF}'))
}

/// Removes every diacritic of Latin letters, tone marks included, and
/// writes đ as d: "khẩu trang" → "khau trang", "găng tay" → "gang tay".
pub fn strip_marks(s: &str) -> String {
    use unicode_normalization::{char::is_combining_mark, UnicodeNormalization};
    s.nfd()
        .filter(|c| !is_combining_mark(*c))
        .map(|c| match c {
            'đ' => 'd',
            'Đ' => 'D',
            other => other,
        })
        .collect()
}

fn plurals(base: &str) -> Vec<String> {
    let words: Vec<&str> = base.split(' ').collect();
    let latin = |w: &str| {
        w.chars()
            .last()
            .is_some_and(|c| c.is_ascii_alphanumeric() || "áéíóú".contains(c))
    };
    let mut acc = vec![String::new()];
    for (i, w) in words.iter().enumerate() {
        let mut forms = vec![w.to_string()];
        // Spanish and French put the plural on the head noun, first:
        // "respiradores de media cara"; English on the last word.
        let pluralize =
            latin(w) && w.len() >= 2 && (words.len() <= 3 || i == 0 || i == words.len() - 1);
        if pluralize {
            forms.push(format!("{w}s"));
            forms.push(format!("{w}es"));
        }
        let mut next = Vec::with_capacity(acc.len() * forms.len());
        for a in &acc {
            for f in &forms {
                next.push(if a.is_empty() {
                    f.clone()
                } else {
                    format!("{a} {f}")
                });
            }
        }
        acc = next;
    }
    acc
}

/// Removes Spanish and Tagalog accents: "quirúrgica" → "quirurgica".
pub fn fold_accents(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'á' | 'à' | 'â' | 'ä' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'í' | 'ì' | 'î' | 'ï' => 'i',
            'ó' | 'ò' | 'ô' | 'ö' => 'o',
            'ú' | 'ù' | 'û' | 'ü' => 'u',
            'ñ' => 'n',
            other => other,
        })
        .collect()
}
