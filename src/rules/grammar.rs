//! The item grammar: which number belongs to which item, in what unit.
//!
//! Reads the tokens of `lex` and tries, for each item name, in order:
//!
//! - a quantity before it: "300 N95s", "3 boxes of N95 masks", "20 kahon ng",
//!   "one box of 20 N95 masks" (1 × 20), "一万个KN95口罩";
//! - else one right after it: "KF94 마스크 1,000장", "Gloves: 500", or in the
//!   next table cell ("Shoe covers | 1,000");
//! - then, for a container, the pack size after it: "(20 per box)",
//!   "(100/box)", ", 50 per box", "(10 boxes per case, 100 gloves per box)",
//!   "(50 tubes each)", "(20 ct)", "每箱50个" — multiplied out into pieces.
//!
//! A container count with no item after it ("200 gallons", "500 bottles")
//! belongs to the item named just before. Items in a negation's scope
//! ("we don't have any N95s") are dropped. Adjacent names merge, the
//! specific one winning ("N95 masks", "mascarillas N95", "KN95口罩").

use std::collections::HashMap;
use std::ops::Range;

use super::compile::{NegationScope, Role, Rules};
use super::lex::{is_cjk, is_hangul, is_word_char, ItemHit, Tok};
use super::spans::SpanIndex;
use super::Span;

/// The rule of [`Ctx::containers_of_each`], whose comma between the
/// container count and the count in each does not end the phrase.
const EACH_AFTER_ITEM: &str = "container count × count in each before item";

/// A quantity read for one item.
#[derive(Debug, Clone, PartialEq)]
pub struct Qty {
    pub value: f64,
    pub unit: usize,
    pub start: usize,
    pub end: usize,
    pub rule: &'static str,
}

impl Qty {
    /// Where the quantity was read, for `--explain` and the triage desk.
    fn span(&self) -> Span {
        Span {
            field: "quantity".into(),
            start: self.start,
            end: self.end,
            rule: self.rule.into(),
        }
    }
}

/// One lot found in the text, before the catalog ids are put on it.
#[derive(Debug, Clone)]
pub struct Lot {
    pub hit: ItemHit,
    pub start: usize,
    pub end: usize,
    pub qty: Option<Qty>,
    pub spans: Vec<Span>,
}

impl Lot {
    /// This lot's item, counted by `q` found after it: the lot now runs
    /// from `start` to the count's end, its spans the name and the count.
    fn counted_from(&self, start: usize, q: Qty) -> Lot {
        let mut spans = self.spans[..self.spans.len().min(1)].to_vec();
        spans.push(q.span());
        Lot {
            hit: self.hit.clone(),
            start,
            end: q.end,
            qty: Some(q),
            spans,
        }
    }
}

/// What lies between two tokens.
#[derive(Debug, Default)]
struct Gap {
    words: usize,
    cjk: bool,
    sentence: bool,
    hard: bool,
    cells: usize,
    only_punct: bool,
}

struct Ctx<'a> {
    rules: &'a Rules,
    text: &'a str,
    toks: Vec<Tok>,
    used: Vec<bool>,
    each: Option<usize>,
    /// The item whose pack size is being read.
    pack_item: Option<usize>,
}

/// Finds the lots in `text`, given its tokens.
pub fn lots(rules: &Rules, text: &str, toks: Vec<Tok>) -> Vec<Lot> {
    let toks = merge_items(text, toks);
    let used = vec![false; toks.len()];
    let each = rules.units.iter().position(|(u, _)| u == "each");
    let mut cx = Ctx {
        rules,
        text,
        toks,
        used,
        each,
        pack_item: None,
    };
    let mut lots = Vec::new();
    let mut table = cx.table_counts();
    for t in 0..cx.toks.len() {
        let Some(hit) = cx.toks[t].item.clone() else {
            continue;
        };
        if cx.used[t] || cx.names_a_pack_size(t) {
            continue;
        }
        cx.used[t] = true;
        if let Some(q) = table.remove(&t) {
            lots.push(cx.lot(hit, t, Some(q)));
            continue;
        }
        if let Some(q) = cx.counted_by_pack(t) {
            lots.push(cx.lot(hit, t, Some(q)));
            continue;
        }
        // "AirSense 10 CPAP x 12": a count marked with x after the name wins
        // over a number before it, which is then a model's.
        let qty = match cx.x_count_follows(t) || cx.model_number_then_count(t) {
            true => cx.after(t).or_else(|| cx.before(t)),
            false => cx.before(t).or_else(|| cx.after(t)),
        };
        let qty = qty.or_else(|| cx.in_row(t));
        let item_end = cx.toks[t].end;
        let qty = qty.map(|q| cx.counted_in_its_own_unit(t, q));
        let qty = qty.map(|q| {
            let from = q.end.max(item_end);
            cx.pack_item = Some(hit.item);
            cx.pack(q, from)
        });
        lots.push(cx.lot(hit, t, qty));
    }
    lots.extend(cx.elliptical(&lots));
    lots.sort_by_key(|l| l.start);
    let ready = cx.ready_counts(&lots);
    lots.extend(ready);
    lots.sort_by_key(|l| l.start);
    let labelled = cx.labelled_counts(&lots);
    lots.extend(labelled);
    lots.sort_by_key(|l| l.start);
    let counted = cx.counter_counts(&lots);
    lots.extend(counted);
    lots.sort_by_key(|l| l.start);
    cx.declared_packs(&mut lots);
    let lots = cx.drop_article_mentions(lots);
    cx.negate(lots)
}

/// Merges adjacent item names and attaches a model in parentheses right
/// after a name ("N95 masks (3M 1860, ...)").
fn merge_items(text: &str, toks: Vec<Tok>) -> Vec<Tok> {
    let mut out: Vec<Tok> = Vec::with_capacity(toks.len());
    for tok in toks {
        let Some(prev) = out.last_mut() else {
            out.push(tok);
            continue;
        };
        let (Some(a), Some(b)) = (prev.item.clone(), tok.item.clone()) else {
            out.push(tok);
            continue;
        };
        let raw_gap = &text[prev.end..tok.start];
        let gap = raw_gap.trim().to_lowercase();
        // "filters\n - Tyvek coveralls": a dash after a line break is a
        // bullet, which starts another entry.
        let bullet = raw_gap.contains('\n') && !gap.is_empty();
        let adjacent = !bullet && matches!(gap.as_str(), "" | "-" | "de" | "del" | "para");
        let same = a.item == b.item || a.generic;
        let paren_model =
            b.model.is_some() && a.model.is_none() && same && matches!(gap.as_str(), "(" | ",");
        let paren_kind = a.generic && !b.generic && gap == "(";
        if !(adjacent || paren_model || paren_kind) {
            out.push(tok);
            continue;
        }
        let keep_b = a.generic && !b.generic;
        prev.item = Some(ItemHit {
            item: if keep_b { b.item } else { a.item },
            generic: a.generic && b.generic,
            model: a.model.or(b.model),
            rule: format!("{} + {}", a.rule, b.rule),
        });
        prev.end = tok.end;
    }
    out
}

impl Ctx<'_> {
    fn gap(&self, a: usize, b: usize) -> Gap {
        let mut g = gap(self.text, a, b);
        if b > a {
            self.read_through_clitics(&mut g, &self.text[a..b]);
        }
        g
    }

    /// Takes the clitics of `between` out of its word count: a gap of
    /// clitics alone is as if nothing stood there.
    fn read_through_clitics(&self, g: &mut Gap, between: &str) {
        if self.rules.clitics.is_empty() {
            return;
        }
        let clitics = between
            .split(|c: char| !is_word_char(c))
            .filter(|w| !w.is_empty() && self.is_clitic(w))
            .count();
        if clitics > 0 {
            g.words = g.words.saturating_sub(clitics);
            g.only_punct |= g.words == 0 && !g.cjk;
        }
    }

    /// Whether `word` is a clitic, in any case; lower-case ASCII words
    /// (most) are looked up as they are, without a lower-cased copy.
    fn is_clitic(&self, word: &str) -> bool {
        if word
            .bytes()
            .all(|b| b.is_ascii() && !b.is_ascii_uppercase())
        {
            return self.rules.clitics.contains(word);
        }
        self.rules.clitics.contains(&word.to_lowercase())
    }

    fn tok_gap(&self, i: usize, j: usize) -> Gap {
        self.gap(self.toks[i].end, self.toks[j].start)
    }

    fn num(&self, i: usize) -> Option<f64> {
        self.toks
            .get(i)
            .filter(|_| !self.used[i])
            .and_then(|t| t.num)
    }

    fn unit(&self, i: usize) -> Option<usize> {
        self.toks
            .get(i)
            .filter(|_| !self.used[i])
            .and_then(|t| t.unit)
    }

    fn role(&self, i: usize, role: Role) -> bool {
        self.toks
            .get(i)
            .is_some_and(|t| t.role == Some(role) && t.item.is_none())
    }

    fn is_container(&self, unit: usize) -> bool {
        self.rules.units.get(unit).is_some_and(|u| u.1)
    }

    fn each(&self) -> usize {
        self.each.unwrap_or(0)
    }

    /// A clean joint between tokens: same clause, at most `words` words.
    fn close(&self, i: usize, j: usize, words: usize) -> bool {
        let g = self.tok_gap(i, j);
        !g.sentence
            && !g.hard
            && g.cells == 0
            && g.words <= words
            && !(g.cjk && words < 9 && g.words > 0)
    }

    fn mark(&mut self, from: usize, to: usize) {
        for u in &mut self.used[from..=to] {
            *u = true;
        }
    }

    /// "300 N95s", "3 boxes of N95", "15 box gowns", "一万个KN95口罩",
    /// "one box of 20 N95 masks".
    fn before(&mut self, t: usize) -> Option<Qty> {
        let j = t.checked_sub(1)?;
        let end = self.toks[t].start;
        if self.used[j] {
            return None;
        }
        // "bottles x 48\nKN95 masks": a count marked with x closes the
        // entry before it and does not reach past the line's end.
        if self.toks[j].num.is_some()
            && self.x_marked(j)
            && self.text[self.toks[j].end..end].contains('\n')
        {
            return None;
        }
        let q = match self.before_unchecked(t, j, end) {
            Some(q) => q,
            None => self.count_before_name(t)?,
        };
        if q.rule == EACH_AFTER_ITEM {
            return Some(q);
        }
        let first = self.toks[..t].partition_point(|tok| tok.start < q.start);
        if (first..t).any(|i| closes_a_phrase(&self.text[self.toks[i].end..self.toks[i + 1].start]))
        {
            self.unmark(q.start, end);
            return None;
        }
        Some(q)
    }

    /// Whether the number at `j` is marked as a count with "x" or "×"
    /// before it ("gowns x 40", "×75").
    fn x_marked(&self, j: usize) -> bool {
        let head = self.text[..self.toks[j].start].trim_end();
        let Some(head) = head.strip_suffix(['x', 'X', '×']) else {
            return false;
        };
        !head.ends_with(is_word_char)
    }

    /// "14 boxes, 100 gloves each", "3 cases, 500 masks each": a container
    /// count, then the count `n` at `j` of the item at `t` with "each" right
    /// after it: the pieces in all the containers.
    fn containers_of_each(&mut self, j: usize, t: usize, n: f64) -> Option<Qty> {
        let each = t + 1;
        if !(self.role(each, Role::Each) && self.close(t, each, 0) && self.close(j, t, 0)) {
            return None;
        }
        let unit_at = j.checked_sub(1)?;
        let count_at = unit_at.checked_sub(1)?;
        let count = self.num(count_at)?;
        let g = self.tok_gap(unit_at, j);
        let joined = self.unit(unit_at).is_some_and(|u| self.is_container(u))
            && self.close(count_at, unit_at, 0)
            && g.words == 0
            && !g.sentence
            && !g.hard
            && g.cells == 0;
        if !joined {
            return None;
        }
        self.mark(count_at, each);
        let (s, e) = (self.toks[count_at].start, self.toks[each].end);
        Some(self.qty(count * n, self.each(), s, e, EACH_AFTER_ITEM))
    }

    /// "25 RT-PCR kits", "200 hygiene kits", "kits de higiene: 40": a bare
    /// count of an item whose name is a kit counts kits (then "(25 tests
    /// per kit)" multiplies them out).
    fn counted_in_its_own_unit(&self, t: usize, mut q: Qty) -> Qty {
        let bare = matches!(
            q.rule,
            "count before item" | "count after item" | "count in parentheses after item"
        );
        if !bare || q.unit != self.each() {
            return q;
        }
        let name = self.text[self.toks[t].start..self.toks[t].end].to_lowercase();
        let words: Vec<&str> = name
            .split(|c: char| !is_word_char(c))
            .filter(|w| !w.is_empty())
            .collect();
        let ends = [words.first(), words.last()];
        let kit = self.rules.units.iter().position(|(u, _)| u == "kit");
        if let Some(kit) =
            kit.filter(|_| ends.iter().flatten().any(|w| matches!(**w, "kit" | "kits")))
        {
            q.unit = kit;
        }
        q
    }

    /// Gives back the tokens inside `start..end`.
    fn unmark(&mut self, start: usize, end: usize) {
        for (tok, used) in self.toks.iter().zip(self.used.iter_mut()) {
            if tok.start >= start && tok.end <= end {
                *used = false;
            }
        }
    }

    fn before_unchecked(&mut self, t: usize, j: usize, end: usize) -> Option<Qty> {
        if !self.close(j, t, 3) {
            return self.before_in_table(j, t);
        }
        if let Some(n) = self.num(j) {
            if self.toks[j].article && !self.close(j, t, 1) {
                return None;
            }
            if let Some((c, first)) = self.container_of(j) {
                self.mark(first, j);
                return Some(self.qty(
                    c * n,
                    self.each(),
                    self.toks[first].start,
                    end,
                    "count × per-container before item",
                ));
            }
            if let Some(q) = self.containers_of_each(j, t, n) {
                return Some(q);
            }
            self.mark(j, j);
            return Some(self.qty(n, self.each(), self.toks[j].start, end, "count before item"));
        }
        // "150 finished face shields", "300 sewn masks": a ready word
        // between the count and the item.
        if self.role(j, Role::Ready) && j > 0 && self.close(j - 1, j, 0) {
            if let Some(n) = self.num(j - 1).filter(|_| !self.toks[j - 1].article) {
                self.mark(j - 1, j);
                let start = self.toks[j - 1].start;
                return Some(self.qty(n, self.each(), start, end, "count before item"));
            }
        }
        // "una docena de caretas", "hundreds of gowns", "500 of the masks".
        if self.role(j, Role::Of) && j > 0 {
            if let Some(n) = self.num(j - 1) {
                // "one of our gowns" names one thing of a kind, not a lot.
                if !self.toks[j - 1].article && n != 1.0 && self.close(j - 1, j, 0) {
                    self.mark(j - 1, j);
                    let start = self.toks[j - 1].start;
                    return Some(self.qty(n, self.each(), start, end, "count of item"));
                }
            }
        }
        // "40 pallets of 1-gallon hand sanitizer jugs": a size word ("1-gallon",
        // "5-liter") between the container phrase and the item.
        let j = match self.size_word(j) {
            true => j.checked_sub(1).filter(|&i| {
                let size = self.text[self.toks[i].end..self.toks[j].start].trim();
                size.trim_end_matches('-')
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == '.')
            })?,
            false => j,
        };
        let unit_at = if self.role(j, Role::Of) {
            j.checked_sub(1)?
        } else {
            j
        };
        let mut unit = self.unit(unit_at)?;
        if unit_at != j && !self.close(unit_at, j, 0) {
            return None;
        }
        let mut k = unit_at.checked_sub(1)?;
        // "5 cajas de tubos con medio de transporte", "3 cases of bottles of
        // sanitizer": containers of smaller units of the item count the
        // containers.
        if let Some(outer) = self.outer_container(k) {
            unit = self.unit(outer)?;
            k = outer - 1;
        }
        // "a couple of boxes of gloves", "dozens of cases of masks": a count
        // of the containers with "of".
        if self.role(k, Role::Of)
            && k > 0
            && self.num(k - 1).is_some_and(|n| n != 1.0)
            && self.close(k - 1, k, 0)
        {
            k -= 1;
        }
        // "100 gallon jugs of bleach": a size word before the container.
        if self.unit(k).is_some() && self.close(k, unit_at, 0) && k > 0 && self.num(k - 1).is_some()
        {
            k -= 1;
        }
        let n = self.num(k)?;
        let words = if self.toks[k].article { 1 } else { 2 };
        if !self.close(k, unit_at, words) && !self.cell_before(k, unit_at) {
            return None;
        }
        self.mark(k, j);
        Some(self.qty(
            n,
            unit,
            self.toks[k].start,
            end,
            "count and unit before item",
        ))
    }

    /// "14 Acme Flow3 5-liter oxygen concentrators", "22 Stryker Secure
    /// electric beds": a count, then a product's brand, model and size words
    /// (capitalised or with digits, at most two plain words) before the item.
    fn count_before_name(&mut self, t: usize) -> Option<Qty> {
        let mut k = t.checked_sub(1)?;
        while self.size_word(k) {
            k = k.checked_sub(1)?;
        }
        let n = self.num(k).filter(|_| !self.toks[k].article)?;
        let g = self.tok_gap(k, t);
        if g.sentence || g.hard || g.cells > 0 || g.cjk {
            return None;
        }
        let between = &self.text[self.toks[k].end..self.toks[t].start];
        let mut named = 0;
        let mut plain = 0;
        for w in between.split_whitespace() {
            let letters_ok = w
                .chars()
                .all(|c| is_word_char(c) || matches!(c, '-' | '/' | '.' | '+'));
            if !letters_ok {
                return None;
            }
            if w.starts_with(|c: char| c.is_uppercase() || c.is_ascii_digit())
                || w.chars().any(|c| c.is_ascii_digit())
            {
                named += 1;
            } else {
                plain += 1;
            }
        }
        if named == 0 || plain > 2 || named + plain > 7 {
            return None;
        }
        self.mark(k, t - 1);
        let (s, e) = (self.toks[k].start, self.toks[t].start);
        Some(self.qty(n, self.each(), s, e, "count before a named product"))
    }

    /// Whether the unit at `j` is the size of a piece, written with its
    /// number and a hyphen ("1-gallon", "5-liter").
    fn size_word(&self, j: usize) -> bool {
        let head = self.text[..self.toks[j].start].strip_suffix('-');
        self.unit(j).is_some() && head.is_some_and(|h| h.ends_with(|c: char| c.is_ascii_digit()))
    }

    /// For an "of" at `k`: the container right before it, when a count
    /// stands before that ("5 boxes of" + "tubes of ...").
    fn outer_container(&self, k: usize) -> Option<usize> {
        let outer = k.checked_sub(1)?;
        let count = outer.checked_sub(1)?;
        let ok = self.role(k, Role::Of)
            && self.num(k).is_none()
            && self.unit(outer).is_some_and(|u| self.is_container(u))
            && self.num(count).is_some()
            && self.close(outer, k, 0)
            && self.close(count, outer, 0);
        ok.then_some(outer)
    }

    /// "120 | N95 respirator": a count alone in the cell before the item's
    /// (with an optional unit cell between).
    fn before_in_table(&mut self, j: usize, t: usize) -> Option<Qty> {
        let g = self.tok_gap(j, t);
        if g.cells != 1 || g.words > 0 || g.hard {
            return None;
        }
        let (n_at, unit) = match self.unit(j) {
            Some(u) => (j.checked_sub(1)?, u),
            None => (j, self.each()),
        };
        let n = self.num(n_at)?;
        let line_start = self.text[..self.toks[n_at].start]
            .rfind('\n')
            .map_or(0, |i| i + 1);
        let lead = self.text[line_start..self.toks[n_at].start].trim_end();
        if !(lead.is_empty() || lead.ends_with('|'))
            || (n_at != j && self.tok_gap(n_at, j).words > 0)
        {
            return None;
        }
        self.mark(n_at, j);
        let end = self.toks[t].start;
        Some(self.qty(
            n,
            unit,
            self.toks[n_at].start,
            end,
            "count in the table cell before",
        ))
    }

    /// A count alone in the table cell right before token `j`'s cell.
    fn cell_before(&self, k: usize, j: usize) -> bool {
        let g = self.tok_gap(k, j);
        let line_start = self.text[..self.toks[k].start]
            .rfind('\n')
            .map_or(0, |i| i + 1);
        let lead = self.text[line_start..self.toks[k].start].trim_end();
        g.cells == 1 && g.words == 0 && !g.hard && (lead.is_empty() || lead.ends_with('|'))
    }

    /// "Gel antibacterial | 1 litro | 300 botellas": the volume at unit token
    /// `u` is the size of each container counted right after it.
    fn size_of_each(&self, u: usize) -> bool {
        let volume = self
            .unit(u)
            .is_some_and(|x| matches!(self.rules.units[x].0.as_str(), "liter" | "gallon"));
        if !(volume && self.num(u + 1).is_some() && self.unit(u + 2).is_some()) {
            return false;
        }
        let g = self.tok_gap(u, u + 1);
        g.words == 0 && !g.sentence && !g.hard && g.cells <= 1
    }

    /// "100,000 cajas (100 guantes por caja)": a container count whose pack
    /// size names the item. The lot is the item, in pieces.
    fn counted_by_pack(&mut self, t: usize) -> Option<Qty> {
        let j = t.checked_sub(1)?;
        let per_box = self.num(j)?;
        let per = self.role(t + 1, Role::Per) && self.close(t, t + 1, 0);
        let outer = self
            .unit(t + 2)
            .filter(|&u| per && self.is_container(u) && self.close(t + 1, t + 2, 0))?;
        let unit_at = j.checked_sub(1)?;
        let count_at = unit_at.checked_sub(1)?;
        let count = self.num(count_at)?;
        let joined = self.unit(unit_at) == Some(outer)
            && self.close(count_at, unit_at, 0)
            && self.tok_gap(unit_at, j).words == 0
            && !self.tok_gap(unit_at, j).hard
            && self.close(j, t, 1);
        if !joined {
            return None;
        }
        self.mark(count_at, t + 2);
        Some(self.qty(
            count * per_box,
            self.each(),
            self.toks[count_at].start,
            self.toks[t + 2].end,
            "container count × pack size naming the item",
        ))
    }

    /// For a number at `j`: "N UNIT of" before it ("one box of 20 ...").
    fn container_of(&self, j: usize) -> Option<(f64, usize)> {
        let of = j.checked_sub(1)?;
        let unit = of.checked_sub(1)?;
        let k = unit.checked_sub(1)?;
        let ok = self.role(of, Role::Of)
            && self.unit(unit).is_some_and(|u| self.is_container(u))
            && self.close(of, j, 0)
            && self.close(unit, of, 0)
            && self.close(k, unit, 2);
        Some((self.num(k).filter(|_| ok)?, k))
    }

    /// "KF94 마스크 1,000장", "Gloves: 500 boxes", "Shoe covers | 1,000".
    fn after(&mut self, t: usize) -> Option<Qty> {
        self.after_from(t, t + 1, false)
            .or_else(|| self.in_parenthetical(t))
            .or_else(|| self.after_parenthetical(t))
            .or_else(|| self.after_apposition(t))
    }

    /// "oxygen concentrators (at least 5)", "mascarillas N95 (unas 500)": a
    /// parenthetical right after the name that holds only a count, its
    /// filler words and a unit.
    fn in_parenthetical(&mut self, t: usize) -> Option<Qty> {
        let end = self.toks[t].end;
        let rest = &self.text[end..];
        let open = end + rest.len() - rest.trim_start().len();
        if !self.text[open..].starts_with('(') {
            return None;
        }
        let close = open + self.text[open..].find(')')?;
        let inside = t + 1..self.toks.partition_point(|x| x.start < close);
        let mut k = inside.start;
        while k < inside.end && self.role(k, Role::Filler) {
            k += 1;
        }
        let n = self.num(k).filter(|_| k < inside.end)?;
        let last = match self.unit(k + 1) {
            Some(_) if k + 1 < inside.end => k + 1,
            _ => k,
        };
        if self.toks[last].end > close || self.toks[inside.start].start <= open {
            return None;
        }
        let mut bare = self.text[open + 1..close].to_string();
        for i in (inside.start..=last).rev() {
            bare.replace_range(
                self.toks[i].start - open - 1..self.toks[i].end - open - 1,
                "",
            );
        }
        if last + 1 != inside.end || !bare.trim().is_empty() {
            return None;
        }
        let unit = if last > k {
            self.unit(last)?
        } else {
            self.each()
        };
        self.mark(k, last);
        let (s, e) = (self.toks[k].start, self.toks[last].end);
        Some(self.qty(n, unit, s, e, "count in parentheses after item"))
    }

    /// "KN95口罩（型号…，…标准）现货50万只": past a parenthetical.
    fn after_parenthetical(&mut self, t: usize) -> Option<Qty> {
        let end = self.toks[t].end;
        let rest = &self.text[end..];
        let open = rest.len() - rest.trim_start().len();
        if !rest[open..].starts_with(['(', '（']) {
            return None;
        }
        let close = rest[open..].find([')', '）']).map(|i| end + open + i)?;
        let k = (t + 1..self.toks.len()).find(|&k| self.toks[k].start > close)?;
        self.after_from(t, k, false)
    }

    /// Whether "x N" or "× N" follows the name at `t`, past at most one
    /// model word ("BiPAP A40 x 3").
    fn x_count_follows(&self, t: usize) -> bool {
        let rest = &self.text[self.toks[t].end..];
        let line = rest.split('\n').next().unwrap_or("");
        let mut words = line.split_whitespace();
        let mut next = words.next();
        let model_word = |w: &str| w.starts_with(|c: char| c.is_alphabetic());
        if next.is_some_and(|w| !matches!(w, "x" | "X" | "×") && model_word(w)) {
            next = words.next();
        }
        matches!(next, Some("x" | "X" | "×"))
            && words
                .next()
                .is_some_and(|w| w.starts_with(|c: char| c.is_ascii_digit()))
    }

    /// "(10 boxes per case, 100 gloves per box)": a count of the item per
    /// container is the size of a pack, not a lot of its own.
    fn names_a_pack_size(&self, t: usize) -> bool {
        let (Some(j), per) = (t.checked_sub(1), t + 1) else {
            return false;
        };
        self.num(j).is_some()
            && !self.toks[j].article
            && self.close(j, t, 0)
            && self.role(per, Role::Per)
            && self.close(t, per, 0)
            && self.unit(per + 1).is_some_and(|u| self.is_container(u))
            && self.close(per, per + 1, 0)
    }

    /// "Acme 3000 syringe pumps: 6": digits between a capitalised brand word
    /// and the name are its model when a colon and a count follow the name.
    fn model_number_then_count(&self, t: usize) -> bool {
        let Some(j) = t.checked_sub(1) else {
            return false;
        };
        if self.toks[j].num.is_none() || self.toks[j].article || self.tok_gap(j, t).words > 0 {
            return false;
        }
        let rest = self.text[self.toks[t].end..].trim_start_matches([' ', '\t']);
        let colon_count = rest.strip_prefix(':').is_some_and(|r| {
            r.trim_start_matches([' ', '\t'])
                .starts_with(|c: char| c.is_ascii_digit())
        });
        if !colon_count {
            return false;
        }
        let Some(head) = self.text[..self.toks[j].start].strip_suffix(' ') else {
            return false;
        };
        let word = head.rsplit(|c: char| !is_word_char(c)).next().unwrap_or("");
        let word_start = head.len() - word.len();
        let brand = word.starts_with(char::is_uppercase)
            && word.chars().any(char::is_lowercase)
            && word.chars().all(char::is_alphabetic);
        let taken = j > 0 && self.toks[j - 1].end > word_start;
        brand && !taken
    }

    /// "Tyvek coveralls, about 100", "N95s, 3M 8511 with valve, 3 boxes of
    /// 10", "cubrebocas de tres capas, como 800": a count after a short
    /// description of the item, set off by a comma, colon or dash.
    fn after_apposition(&mut self, t: usize) -> Option<Qty> {
        let mut k = t + 1;
        while self.num(k).is_none() {
            let tok = self.toks.get(k).filter(|_| k < t + 8)?;
            if tok.item.is_some() || tok.unit.is_some() || tok.num.is_some() {
                return None;
            }
            k += 1;
        }
        let g = self.tok_gap(t, k);
        if g.sentence || g.hard || g.cells > 0 || g.words > 5 {
            return None;
        }
        let mut m = k;
        while m > t + 1 && self.role(m - 1, Role::Filler) {
            m -= 1;
        }
        let lead = self.text[self.toks[m - 1].end..self.toks[m].start].trim_end();
        let x_mark = lead.ends_with(" x") || lead.ends_with(" X") || lead.ends_with('×');
        if !x_mark && !lead.ends_with([',', ':', '-', '–', '—', '=', '，', '：']) {
            return None;
        }
        self.after_from(t, k, true)
    }

    /// A count at token `k` (or after the filler words there) for the item
    /// at `t`; `described` allows a few words of description between them.
    fn after_from(&mut self, t: usize, k: usize, described: bool) -> Option<Qty> {
        let mut k = k;
        while self.role(k, Role::Filler) {
            k += 1;
        }
        let n = self.num(k)?;
        let g = self.loose_gap(t, k);
        let direct =
            g.cells == 0 && !g.sentence && !g.hard && (described || (g.words == 0 && g.only_punct));
        let table = g.cells == 1 && !g.hard && self.alone_in_cell(k);
        if !(direct || table) {
            return None;
        }
        let (unit, last) = match self.unit(k + 1) {
            Some(u) if self.tok_gap(k, k + 1).words == 0 && !self.tok_gap(k, k + 1).hard => {
                (u, k + 1)
            }
            // "Latex gloves - 2 opened boxes": one plain word (a condition or
            // size) between the count and its container.
            Some(u) if self.is_container(u) && self.one_plain_word(k, k + 1) => (u, k + 1),
            _ => (self.each(), k),
        };
        if last > k && self.size_of_each(last) {
            return None;
        }
        // "Surgical masks, 50pcs/box": a pack size, not a count.
        // "10箱，每箱2000只" is a count, then the pack size: a number follows.
        let pack_size = self.role(last + 1, Role::Per)
            && self.close(last, last + 1, 0)
            && self.unit(last + 2).is_some_and(|u| self.is_container(u))
            && !(self.num(last + 3).is_some()
                && self.text[self.toks[last + 2].end..self.toks[last + 3].start]
                    .trim()
                    .is_empty());
        if pack_size {
            return None;
        }
        // "마스크 삼천 장, 체온계 …": a Korean counter closes the count of the
        // noun before it, as a glued one does.
        let glued = self.toks[last].glued
            || (last > k && self.text[self.toks[last].start..].starts_with(is_hangul));
        let between = &self.text[self.toks[t].end..self.toks[k].start];
        let marked = between.contains([':', 'x', 'X', '×', '=', '-', '–', '—', '('])
            || between.contains("..");
        if self.of_item_follows(last) || (!glued && !table && !marked && self.item_follows(last)) {
            return None;
        }
        self.mark(k, last);
        let (s, e) = (self.toks[k].start, self.toks[last].end);
        let rule = if table {
            "count in next table cell"
        } else {
            "count after item"
        };
        Some(self.qty(n, unit, s, e, rule))
    }

    /// Whether a single lower-case word, and nothing else, stands between
    /// tokens `i` and `j`.
    fn one_plain_word(&self, i: usize, j: usize) -> bool {
        let gap = &self.text[self.toks[i].end..self.toks[j].start];
        let word = gap.trim();
        gap.starts_with(' ')
            && word.starts_with(char::is_alphabetic)
            && word.chars().all(|c| c.is_lowercase() || c == '-')
    }

    /// The gap from token `t` to `k`, across filler words, with text in
    /// parentheses ignored: "Gloves (nitrile), approx. 500".
    fn loose_gap(&self, t: usize, k: usize) -> Gap {
        let mut text = String::new();
        for i in t..k {
            text.push_str(&self.text[self.toks[i].end..self.toks[i + 1].start]);
            text.push(' ');
        }
        let mut plain = String::with_capacity(text.len());
        let mut depth = 0;
        for c in text.chars() {
            match c {
                '(' | '（' => depth += 1,
                ')' | '）' if depth > 0 => depth -= 1,
                _ if depth == 0 => plain.push(c),
                _ => {}
            }
        }
        // "monitors ........ 6": dot leaders of a price-list layout.
        let plain = plain
            .replace("..", ":")
            .replace(". ", " ")
            .replace(" x ", " ")
            .replace(" X ", " ")
            .replace('×', " ");
        let mut g = gap(&plain, 0, plain.len());
        self.read_through_clitics(&mut g, &plain);
        g.hard = (t..k).any(|i| self.tok_gap(i, i + 1).hard);
        g
    }

    fn alone_in_cell(&self, k: usize) -> bool {
        let rest = &self.text[self.toks[k].end..];
        let cell = rest.split(['\n', '|']).next().unwrap_or("");
        cell.trim().is_empty()
            || self
                .unit(k + 1)
                .is_some_and(|_| self.toks[k + 1].start - self.toks[k].end <= cell.len())
    }

    /// Whether an item name (or "of" + name) follows token `i` closely: then
    /// the number before belongs to that next item.
    fn item_follows(&self, i: usize) -> bool {
        let next = i + 1;
        self.toks.get(next).is_some_and(|t| t.item.is_some()) && self.close(i, next, 3)
            || self.of_item_follows(i)
    }

    /// "of" and an item (or "of N item") right after token `i`.
    fn of_item_follows(&self, i: usize) -> bool {
        let next = i + 1;
        if !self.role(next, Role::Of) || !self.close(i, next, 0) {
            return false;
        }
        let item_at = |j: usize| {
            self.toks.get(j).is_some_and(|t| t.item.is_some()) && self.close(j - 1, j, 3)
        };
        item_at(next + 1) || (self.num(next + 1).is_some() && item_at(next + 2))
    }

    fn qty(&self, value: f64, unit: usize, start: usize, end: usize, rule: &'static str) -> Qty {
        Qty {
            value,
            unit,
            start,
            end,
            rule,
        }
    }

    fn lot(&self, hit: ItemHit, t: usize, qty: Option<Qty>) -> Lot {
        let (start, end) = (self.toks[t].start, self.toks[t].end);
        let mut spans = vec![Span {
            field: "item".into(),
            start,
            end,
            rule: hit.rule.clone(),
        }];
        if let Some(q) = &qty {
            spans.push(q.span());
        }
        Lot {
            hit,
            start,
            end,
            qty,
            spans,
        }
    }
}

impl Ctx<'_> {
    /// Multiplies a container count by the pack sizes that follow it.
    fn pack(&mut self, mut q: Qty, from: usize) -> Qty {
        if !self.is_container(q.unit) {
            return q;
        }
        // Tokens are in text order.
        let mut i = self.toks.partition_point(|t| t.start < from);
        let mut prev_end = from;
        // "(50 per box, 40 boxes per case)" after a count of cases: sizes of
        // an inner container stated first wait for the outer one.
        let mut waiting: Vec<(f64, usize, usize, usize, usize)> = Vec::new();
        let stated = q.value;
        while i < self.toks.len() {
            let g = self.gap(prev_end, self.toks[i].start);
            if g.sentence || g.hard || g.cells > 0 || g.words > 3 {
                break;
            }
            let restated = self.toks[i]
                .item
                .as_ref()
                .is_some_and(|h| Some(h.item) == self.pack_item);
            // "2 boxes of N95s for our team of six": "of N" sizes the
            // container only right after it or its item.
            if self.role(i, Role::Of) && g.words > 0 {
                break;
            }
            let Some((n, inner, last, per)) = self.pack_at(i) else {
                if (self.toks[i].item.is_some() && !restated) || self.toks[i].num.is_some() {
                    break;
                }
                prev_end = self.toks[i].end;
                i += 1;
                continue;
            };
            if let Some(outer) = per.filter(|&u| u != q.unit && self.is_container(u)) {
                waiting.push((n, inner, outer, i, last));
                prev_end = self.toks[last].end;
                i = last + 1;
                continue;
            }
            self.apply_pack(&mut q, n, inner, i, last);
            prev_end = self.toks[last].end;
            i = last + 1;
            while let Some(w) = waiting.iter().position(|w| w.2 == q.unit) {
                let (n, inner, _, from, last) = waiting.remove(w);
                self.apply_pack(&mut q, n, inner, from, last);
            }
            if !self.is_container(q.unit) {
                break;
            }
        }
        // A size of another container and nothing else: read as before.
        if q.value == stated && q.rule != "container × pack size" {
            if let Some(&(n, inner, _, from, last)) = waiting.first() {
                self.apply_pack(&mut q, n, inner, from, last);
            }
        }
        q
    }

    /// Multiplies `q` by a pack size of `n` `inner` read at tokens `from..=last`.
    fn apply_pack(&mut self, q: &mut Qty, n: f64, inner: usize, from: usize, last: usize) {
        q.value *= n;
        q.unit = if self.is_container(inner) {
            inner
        } else {
            self.each()
        };
        q.end = q.end.max(self.toks[last].end);
        q.rule = "container × pack size";
        self.mark(from, last);
    }

    /// One pack size at token `i`: (count, inner unit, last token, the
    /// container it sizes when named: "per box").
    fn pack_at(&self, i: usize) -> Option<(f64, usize, usize, Option<usize>)> {
        let per = self.role(i, Role::Per) || self.role(i, Role::Each);
        if per && self.unit(i + 1).is_some() && self.close(i, i + 1, 0) {
            let mut at = i + 2;
            while at < i + 4
                && self
                    .toks
                    .get(at)
                    .is_some_and(|t| t.role.is_some() && t.num.is_none() && t.unit.is_none())
            {
                at += 1;
            }
            let n = self.num(at).filter(|_| self.close(i + 1, at, 2))?;
            let inner = self.unit(at + 1).filter(|_| self.close(at, at + 1, 0));
            let last = if inner.is_some() { at + 1 } else { at };
            let outer = self.unit(i + 1).filter(|_| self.role(i, Role::Per));
            return Some((n, inner.unwrap_or(self.each()), last, outer));
        }
        if self.role(i, Role::Of) && i + 1 < self.toks.len() && self.close(i, i + 1, 0) {
            let n = self.num(i + 1)?;
            let next_is_other_item = self.toks.get(i + 2).is_some_and(|t| t.item.is_some())
                && self.close(i + 1, i + 2, 3);
            return (!next_is_other_item).then_some((n, self.each(), i + 1, None));
        }
        let n = self.num(i)?;
        let mut k = i + 1;
        let mut inner = self.each();
        if let Some(u) = self.unit(k).filter(|_| self.close(i, k, 1)) {
            inner = u;
            k += 1;
        } else if self.toks.get(k).is_some_and(|t| t.item.is_some()) && self.close(i, k, 1) {
            k += 1;
        }
        if let Some(found) = self.packs_of_per(n, inner, k) {
            return Some(found);
        }
        if self.role(k, Role::Per) && self.close(k - 1, k, 1) && self.unit(k + 1).is_some() {
            return Some((n, inner, k + 1, self.unit(k + 1)));
        }
        if self.role(k, Role::Each) && self.close(k - 1, k, 1) {
            return Some((n, inner, k, None));
        }
        // "100 pieces" is a pack size, unless another item follows it
        // ("20 boxes, and 100 pieces of gowns" counts the gowns).
        let other_item_next = self
            .toks
            .get(k)
            .and_then(|t| t.item.as_ref())
            .is_some_and(|h| {
                !h.generic && Some(h.item) != self.pack_item && self.close(k - 1, k, 1)
            });
        let counted = k > i + 1
            && inner == self.each()
            && self.toks[k - 1].item.is_none()
            && !other_item_next;
        let item_in_parens = k > i + 1
            && self.toks[k - 1]
                .item
                .as_ref()
                .is_some_and(|h| h.generic || Some(h.item) == self.pack_item)
            && self.text[self.toks[k - 1].end..]
                .trim_start()
                .starts_with(')');
        (counted || item_in_parens).then_some((n, inner, k - 1, None))
    }

    /// "10 packs of 100 per case": `n` inner containers at `k - 1`, then
    /// "of" the pieces in each, then the outer container: n × pieces each.
    fn packs_of_per(
        &self,
        n: f64,
        inner: usize,
        k: usize,
    ) -> Option<(f64, usize, usize, Option<usize>)> {
        if !self.is_container(inner) || !self.role(k, Role::Of) || !self.close(k - 1, k, 0) {
            return None;
        }
        let m = self.num(k + 1).filter(|_| self.close(k, k + 1, 0))?;
        let mut p = k + 2;
        if self.unit(p) == Some(self.each()) && self.close(p - 1, p, 0) {
            p += 1;
        }
        let outer = self
            .unit(p + 1)
            .filter(|&u| self.is_container(u) && u != inner)?;
        let per = self.role(p, Role::Per) && self.close(p - 1, p, 1) && self.close(p, p + 1, 0);
        per.then_some((n * m, self.each(), p + 1, Some(outer)))
    }

    /// "200 gallons", "500 bottles" with no item after: the item named before.
    fn elliptical(&mut self, lots: &[Lot]) -> Vec<Lot> {
        let mut out = Vec::new();
        for k in 0..self.toks.len() {
            if let Some(lot) = self.unit_times_count(k, lots) {
                out.push(lot);
                continue;
            }
            let (Some(n), Some(unit)) = (self.num(k), self.unit(k + 1)) else {
                continue;
            };
            let unit_name = self.rules.units[unit].0.as_str();
            let pieces = self.pieces_word(k + 1);
            if (matches!(unit_name, "each" | "pair") && !pieces)
                || !self.close(k, k + 1, 0)
                || self.item_follows(k + 1)
                || (self.role(k + 2, Role::Of)
                    && self.close(k + 1, k + 2, 0)
                    && self.num(k + 3).is_none())
                || (self.role(k + 2, Role::Per) && self.close(k + 1, k + 2, 0))
                || (self.unit(k + 2).is_some() && self.close(k + 1, k + 2, 0))
                || self.size_of_each(k + 1)
            {
                continue;
            }
            let start = self.toks[k].start;
            let prev = lots
                .iter()
                .rev()
                .find(|l| l.end <= start && start - l.end < 400);
            let Some(prev) = prev.filter(|l| !self.gap(l.end, start).hard) else {
                continue;
            };
            // "8 cases of 150" counts the item before only when that has no count.
            if (self.role(k + 2, Role::Of) || pieces) && prev.qty.is_some() {
                continue;
            }
            // "Stock: 2 million pieces … minimum order 50,000 pieces": pieces
            // count the item only when no other count stands between.
            let counted_between = self.toks[..k]
                .iter()
                .any(|t| t.num.is_some() && t.start >= prev.end);
            if pieces && counted_between {
                continue;
            }
            self.mark(k, k + 1);
            let q = self.qty(
                n,
                unit,
                start,
                self.toks[k + 1].end,
                "container count for the item named before",
            );
            self.pack_item = Some(prev.hit.item);
            let q = self.pack(q, self.toks[k + 1].end);
            out.push(prev.counted_from(start, q));
        }
        out
    }

    /// "We have 60 units available": a word that counts pieces of whatever
    /// was named, at token `i`.
    fn pieces_word(&self, i: usize) -> bool {
        const PIECES: &[&str] = &[
            "unit", "units", "piece", "pieces", "pc", "pcs", "unidades", "piezas",
        ];
        self.toks.get(i).is_some_and(|t| {
            t.role.is_none()
                && t.unit == Some(self.each())
                && PIECES.contains(&self.text[t.start..t.end].to_lowercase().as_str())
        })
    }

    /// "16 oz bottles x 48": a container (a unit other than each or pair)
    /// with its count after it, marked with x, and no item after them on
    /// the line: that many containers of the item named before, when it has
    /// no count.
    fn unit_times_count(&mut self, k: usize, lots: &[Lot]) -> Option<Lot> {
        let unit = self.unit(k)?;
        let n = self.num(k + 1)?;
        if matches!(self.rules.units[unit].0.as_str(), "each" | "pair") {
            return None;
        }
        let (unit_end, n_end) = (self.toks[k].end, self.toks[k + 1].end);
        let between = self.text[unit_end..self.toks[k + 1].start].trim();
        let line_end = self.text[n_end..]
            .find('\n')
            .map_or(self.text.len(), |i| n_end + i);
        let item_next = self
            .toks
            .get(k + 2)
            .is_some_and(|t| t.item.is_some() && t.start < line_end);
        if !matches!(between, "x" | "X" | "×") || item_next {
            return None;
        }
        let start = self.toks[k].start;
        let prev = lots
            .iter()
            .rev()
            .find(|l| l.end <= start && start - l.end < 400)?;
        if prev.qty.is_some() || self.gap(prev.end, start).hard {
            return None;
        }
        self.mark(k, k + 1);
        let rule = "container count for the item named before";
        let q = self.qty(n, unit, start, n_end, rule);
        Some(prev.counted_from(start, q))
    }

    /// "Item | Qty | Unit" rows: the first cell after the item's that holds
    /// only a count, and a unit alone in the cell after it.
    fn in_row(&mut self, t: usize) -> Option<Qty> {
        let text = self.text;
        let from = self.toks[t].end;
        let line_end = text[from..].find('\n').map_or(text.len(), |i| from + i);
        let bar = from + text[from..line_end].find('|')?;
        let mut k = t + 1;
        while k < self.toks.len() && self.toks[k].start < line_end {
            if self.toks[k].start > bar {
                if self.toks[k].item.is_some() {
                    return None;
                }
                if self.num(k).is_some() && self.cell_is(k, line_end) {
                    let n = self.num(k)?;
                    let (unit, last) = match self.unit(k + 1) {
                        Some(u)
                            if self.toks[k + 1].start < line_end
                                && self.cell_is(k + 1, line_end) =>
                        {
                            (u, k + 1)
                        }
                        _ => (self.each(), k),
                    };
                    self.mark(k, last);
                    let (s, e) = (self.toks[k].start, self.toks[last].end);
                    return Some(self.qty(n, unit, s, e, "count in a cell of the item's row"));
                }
            }
            k += 1;
        }
        None
    }

    /// Whether token `k` fills its table cell alone.
    fn cell_is(&self, k: usize, line_end: usize) -> bool {
        let (s, e) = (self.toks[k].start, self.toks[k].end);
        let before = self.text[..s].rsplit(['|', '\n']).next().unwrap_or("");
        let after = self.text[e..line_end].split('|').next().unwrap_or("");
        before.trim().is_empty() && after.trim().is_empty() && self.text[..s].contains('|')
            || before.trim().is_empty()
                && after.trim().is_empty()
                && self.text[e..line_end].contains('|')
    }

    /// "We have about 450 finished", "ya tenemos trescientos listos": a bare
    /// count before a "ready" word counts the item named just before, when
    /// that item has no count of its own.
    fn ready_counts(&mut self, lots: &[Lot]) -> Vec<Lot> {
        let mut out = Vec::new();
        for k in 0..self.toks.len() {
            let Some(n) = self.num(k) else { continue };
            let mut r = k + 1;
            while self.role(r, Role::Filler) {
                r += 1;
            }
            let of_them = self.of_pronoun_follows(k) && !self.toks[k].article && n > 1.0;
            if of_them {
                r = k + 1;
            } else if !self.role(r, Role::Ready) || !self.close(k, r, 0) || self.item_follows(r) {
                continue;
            }
            let start = self.toks[k].start;
            let Some(prev) = self.uncounted_before(lots, &out, start, 300, true) else {
                continue;
            };
            self.mark(k, k);
            let q = self.qty(
                n,
                self.each(),
                start,
                self.toks[r].end,
                "count of the item named before",
            );
            out.push(prev.counted_from(start, q));
        }
        out
    }

    /// "donate 100 of them", "50 de ellas": "of" and a pronoun after the
    /// number at `k`, which then counts the item named before.
    fn of_pronoun_follows(&self, k: usize) -> bool {
        let of = k + 1;
        if !self.role(of, Role::Of) || !self.close(k, of, 0) {
            return false;
        }
        let rest = self.text[self.toks[of].end..].trim_start_matches([' ', '\t']);
        let word = rest.split(|c: char| !is_word_char(c)).next().unwrap_or("");
        matches!(
            word.to_lowercase().as_str(),
            "them" | "these" | "those" | "ellos" | "ellas" | "estos" | "estas" | "esos" | "esas"
        )
    }

    /// Pack sizes stated apart from any count ("Packing: 100 pcs/box, 10
    /// boxes/carton", a "50 per box" cell) multiply out container counts
    /// that have none: those on the same line, or any when stated on a line
    /// of their own.
    fn declared_packs(&mut self, lots: &mut [Lot]) {
        // (line start, outer unit, count, inner unit)
        let mut decls: Vec<(usize, usize, f64, usize)> = self.packs_per_first();
        for i in 0..self.toks.len() {
            let Some(n) = self.num(i) else { continue };
            let (inner, per) = match self.unit(i + 1) {
                Some(u) if self.close(i, i + 1, 0) => (u, i + 2),
                _ => (self.each(), i + 1),
            };
            if !self.role(per, Role::Per) || !self.close(per - 1, per, 0) {
                continue;
            }
            let Some(outer) = self.unit(per + 1).filter(|&u| self.is_container(u)) else {
                continue;
            };
            if !self.close(per, per + 1, 0) || outer == inner {
                continue;
            }
            let e = self.toks[per + 1].end;
            let tail = self.text[e..].trim_start_matches([' ', '\t']);
            if !(tail.is_empty() || tail.starts_with([',', ';', '.', ')', '\n', '|', '\r'])) {
                continue;
            }
            let line = self.text[..self.toks[i].start]
                .rfind('\n')
                .map_or(0, |p| p + 1);
            decls.push((line, outer, n, inner));
        }
        if decls.is_empty() {
            return;
        }
        let line_of = |at: usize| self.text[..at].rfind('\n').map_or(0, |p| p + 1);
        let lot_lines: Vec<usize> = lots.iter().map(|l| line_of(l.start)).collect();
        for lot in lots.iter_mut() {
            let line = line_of(lot.start);
            let Some(q) = lot.qty.as_mut() else { continue };
            if q.rule == "container × pack size" {
                continue;
            }
            for _ in 0..3 {
                if !self.is_container(q.unit) {
                    break;
                }
                let found = decls
                    .iter()
                    .find(|d| d.1 == q.unit && d.0 == line)
                    .or_else(|| {
                        decls
                            .iter()
                            .find(|d| d.1 == q.unit && !lot_lines.contains(&d.0))
                    });
                let Some(&(_, _, n, inner)) = found else {
                    break;
                };
                q.value *= n;
                q.unit = inner;
                q.rule = "container × declared pack size";
            }
        }
    }

    /// "leave a pulse oximeter with each patient … requesting 25 pulse
    /// oximeters": one thing counted by an article is a mention, not a lot,
    /// when the same name has a count of its own elsewhere.
    fn drop_article_mentions(&self, lots: Vec<Lot>) -> Vec<Lot> {
        let by_article = |l: &Lot| {
            l.qty.as_ref().is_some_and(|q| {
                q.value == 1.0 && self.toks.iter().any(|t| t.start == q.start && t.article)
            })
        };
        // The name as written, singular: "pulse oximeters" is "pulse oximeter".
        let name = |l: &Lot| {
            let s = l.spans.first().map_or("", |s| &self.text[s.start..s.end]);
            s.to_lowercase().trim_end_matches('s').to_string()
        };
        let counted: Vec<String> = lots
            .iter()
            .filter(|l| l.qty.is_some() && !by_article(l))
            .map(name)
            .collect();
        lots.into_iter()
            .filter(|l| !(by_article(l) && counted.contains(&name(l))))
            .collect()
    }

    /// Drops lots inside the scope of a negation cue.
    fn negate(&self, lots: Vec<Lot>) -> Vec<Lot> {
        if lots.is_empty() {
            return lots;
        }
        // Most texts negate nothing: a search that stops at the first cue
        // says so more cheaply than the set's overlapping scan.
        if !self.rules.negation_set.is_match(self.text) {
            return lots;
        }
        let mut scopes = Vec::new();
        for i in self.rules.negation_set.matches(self.text).iter() {
            let n = &self.rules.negations[i];
            for m in n.re.find_iter(self.text) {
                let scope = match n.scope {
                    NegationScope::Left => (clause_start(self.text, m.start()), m.start()),
                    NegationScope::Right => (m.end(), clause_end(self.text, m.end())),
                    NegationScope::Match => (m.start(), m.end()),
                };
                scopes.push(scope);
            }
        }
        let scopes = SpanIndex::new(scopes);
        lots.into_iter()
            .filter(|l| !scopes.overlaps(l.start, l.start + 1))
            .collect()
    }
}

/// Where a table's columns are, by cell index, as its header row names
/// them, and the unit the count header names ("Qty (cases)").
struct Columns {
    count: usize,
    unit: Option<usize>,
    pack: Option<usize>,
    count_unit: Option<usize>,
}

/// The byte ranges of the cells of the line `s..e`, split at `|`.
fn cells(text: &str, s: usize, e: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut from = s;
    for (i, c) in text[s..e].char_indices() {
        if c == '|' {
            out.push((from, s + i));
            from = s + i + 1;
        }
    }
    out.push((from, e));
    out
}

fn cell_of(cells: &[(usize, usize)], at: usize) -> Option<usize> {
    cells.iter().position(|&(s, e)| at >= s && at < e)
}

impl Ctx<'_> {
    /// Rows of tables whose header names a count column ("Item | Qty |
    /// UoM", "Description | Cat. No. | Qty | Pack"): a row's first item is
    /// counted by its count cell, in the unit of its unit cell (or the one
    /// the header names), times the sizes in its pack cell when the count is
    /// of containers. The row's other numbers (part numbers, sizes) count
    /// nothing. Returns the count of each such item token.
    fn table_counts(&mut self) -> HashMap<usize, Qty> {
        let mut out = HashMap::new();
        let text = self.text;
        if !text.contains('|') {
            return out;
        }
        let mut columns: Option<Columns> = None;
        let mut s = 0;
        while s < text.len() {
            let e = text[s..].find('\n').map_or(text.len(), |i| s + i);
            let line = s..e;
            s = e + 1;
            if !text[line.clone()].contains('|') {
                columns = None;
                continue;
            }
            let toks = self.toks.partition_point(|t| t.start < line.start)
                ..self.toks.partition_point(|t| t.start < line.end);
            let cells = cells(text, line.start, line.end);
            if let Some(header) = self.header(toks.clone(), &cells) {
                columns = Some(header);
            } else if let Some(cols) = &columns {
                if let Some((t, q)) = self.row(toks, &cells, cols) {
                    out.insert(t, q);
                }
            }
        }
        out
    }

    /// The columns a header row names: one with no numbers or items and a
    /// count column word.
    fn header(&self, toks: Range<usize>, cells: &[(usize, usize)]) -> Option<Columns> {
        let line = &self.toks[toks];
        if line.iter().any(|t| t.num.is_some() || t.item.is_some()) {
            return None;
        }
        let named = |role: Role| {
            line.iter()
                .find(|t| t.column == Some(role))
                .and_then(|t| cell_of(cells, t.start))
        };
        let count = named(Role::CountColumn)?;
        let count_unit = line
            .iter()
            .filter(|t| t.column.is_none() && cell_of(cells, t.start) == Some(count))
            .find_map(|t| t.unit);
        Some(Columns {
            count,
            unit: named(Role::UnitColumn),
            pack: named(Role::PackColumn),
            count_unit,
        })
    }

    /// One row under a header: its first item and that item's count.
    fn row(
        &mut self,
        toks: Range<usize>,
        cells: &[(usize, usize)],
        cols: &Columns,
    ) -> Option<(usize, Qty)> {
        let cell = |i: usize| cell_of(cells, self.toks[i].start);
        let in_col = |i: usize, col: Option<usize>| col.is_some() && cell(i) == col;
        let t = toks.clone().find(|&i| {
            self.toks[i].item.is_some()
                && !self.used[i]
                && ![Some(cols.count), cols.unit, cols.pack].contains(&cell(i))
        })?;
        let n_at = toks
            .clone()
            .find(|&i| in_col(i, Some(cols.count)) && self.num(i).is_some())?;
        let (cs, ce) = cells[cols.count];
        let line_end = cells.last().map_or(ce, |c| c.1);
        if !self.text[cs..self.toks[n_at].start].trim().is_empty() {
            return None;
        }
        let mut value = self.num(n_at)?;
        // A unit right after the count, inside its cell ("60 boxes of 20").
        let unit_in_cell = self
            .unit(n_at + 1)
            .filter(|_| self.toks[n_at + 1].end <= ce);
        let unit = unit_in_cell
            .or_else(|| {
                // The unit column, or a unit alone in the cell after the count.
                let col = cols.unit.or(Some(cols.count + 1));
                toks.clone()
                    .filter(|&i| in_col(i, col))
                    .find(|&i| cols.unit.is_some() || self.cell_is(i, line_end))
                    .and_then(|i| self.unit(i))
            })
            .or(cols.count_unit);
        // "20 | boxes of 50", "4 | cases x 10 boxes x 100": a container
        // opening the cell after the count is the count's unit, and the
        // numbers of that cell its pack sizes.
        let mut pack_col = cols.pack;
        let mut unit = match unit {
            Some(u) => u,
            None => match self.opening_unit(toks.clone(), cells, cols.count + 1) {
                Some(u) => {
                    pack_col = pack_col.or(Some(cols.count + 1));
                    u
                }
                None => self.each(),
            },
        };
        if self.is_container(unit) {
            let packs: Vec<f64> = toks
                .clone()
                .filter(|&i| in_col(i, pack_col))
                .filter_map(|i| self.num(i))
                .filter(|&n| n > 0.0)
                .collect();
            let pack = match packs.is_empty() {
                false => Some(packs.iter().product::<f64>()),
                true => self.row_pack(toks.clone(), unit),
            };
            if let Some(n) = pack {
                value *= n;
                unit = self.each();
            } else if let Some(u) = unit_in_cell {
                // "60 boxes of 20", "36 cases (10 boxes per case, 100 gloves
                // per box)": pack sizes after the container in the count's cell.
                self.pack_item = self.toks[t].item.as_ref().map(|h| h.item);
                let (s, e) = (self.toks[n_at].start, self.toks[n_at + 1].end);
                let q = self.qty(value, u, s, e, "count column of the item's table row");
                let q = self.pack(q, e);
                value = q.value;
                unit = q.unit;
            }
        }
        let (s, e) = (self.toks[n_at].start, self.toks[n_at].end);
        for i in toks {
            if self.toks[i].num.is_some() || self.toks[i].unit.is_some() {
                self.used[i] = true;
            }
        }
        Some((
            t,
            self.qty(value, unit, s, e, "count column of the item's table row"),
        ))
    }
}

impl Ctx<'_> {
    /// The container that opens cell `col` of a row ("boxes of 50"),
    /// with no count before it in that cell.
    fn opening_unit(
        &self,
        toks: Range<usize>,
        cells: &[(usize, usize)],
        col: usize,
    ) -> Option<usize> {
        let &(cs, ce) = cells.get(col)?;
        let i = toks
            .clone()
            .find(|&i| self.toks[i].start >= cs && self.toks[i].start < ce)?;
        let u = self.unit(i)?;
        let opens = self.text[cs..self.toks[i].start].trim().is_empty();
        (opens && self.is_container(u)).then_some(u)
    }

    /// A pack size of `unit` anywhere in a table row: "50 per box",
    /// "50/bx", "(25 por caja)", "100 pcs/box".
    fn row_pack(&self, toks: Range<usize>, unit: usize) -> Option<f64> {
        toks.clone().find_map(|i| {
            let n = self.num(i)?;
            let per = if self.unit(i + 1) == Some(self.each()) {
                i + 2
            } else {
                i + 1
            };
            let of_unit =
                self.role(per, Role::Per) && self.unit(per + 1) == Some(unit) && per + 1 < toks.end;
            // Alone in its cell but for brackets: "50 per box", not "10 per box unknown".
            let rest = self.text[self.toks.get(per + 1)?.end..]
                .split(['|', '\n'])
                .next()
                .unwrap_or("");
            let alone = rest.trim_matches(|c: char| c.is_whitespace() || ")].,;".contains(c));
            (of_unit && alone.is_empty()).then_some(n)
        })
    }
}

impl Ctx<'_> {
    /// "Available: 10,000 kits", "现货：200万只", "Existencia: 2 millones",
    /// "Ready stock | 150,000 pcs": a count after a filler or ready word
    /// that heads an entry (a line, a list item, a clause after a comma)
    /// counts the item named just before, when that item has no count.
    fn labelled_counts(&mut self, lots: &[Lot]) -> Vec<Lot> {
        let mut out: Vec<Lot> = Vec::new();
        for j in 0..self.toks.len() {
            let label = self.role(j, Role::Filler) || self.role(j, Role::Ready);
            if !label || !self.heads_entry(j) {
                continue;
            }
            let mut k = j + 1;
            while k < j + 3 && self.role(k, Role::Filler) {
                k += 1;
            }
            let Some(n) = self.num(k) else { continue };
            let between = &self.text[self.toks[k - 1].end..self.toks[k].start];
            let plain = between
                .chars()
                .all(|c| (c.is_whitespace() && c != '\n') || ":：|=".contains(c));
            if !plain || self.item_follows(k) {
                continue;
            }
            let (unit, last) = match self.unit(k + 1) {
                Some(u) if self.close(k, k + 1, 0) => (u, k + 1),
                _ => (self.each(), k),
            };
            let start = self.toks[j].start;
            let Some(prev) = self.uncounted_before(lots, &out, start, 600, false) else {
                continue;
            };
            self.mark(k, last);
            let (s, e) = (self.toks[k].start, self.toks[last].end);
            let q = self.qty(n, unit, s, e, "labelled count of the item named before");
            self.pack_item = Some(prev.hit.item);
            let q = self.pack(q, e);
            out.push(prev.counted_from(start, q));
        }
        out
    }

    /// "包装：每盒20人份", "Packing: per case 10 boxes": pack sizes stated
    /// with the container first, alone on their line (line start, outer
    /// unit, count, inner unit).
    fn packs_per_first(&self) -> Vec<(usize, usize, f64, usize)> {
        let mut decls = Vec::new();
        for i in 0..self.toks.len() {
            if !self.role(i, Role::Per) {
                continue;
            }
            let Some(outer) = self.unit(i + 1).filter(|&u| self.is_container(u)) else {
                continue;
            };
            let Some(n) = self.num(i + 2) else { continue };
            if !self.close(i, i + 1, 0) || !self.close(i + 1, i + 2, 0) {
                continue;
            }
            let (inner, last) = match self.unit(i + 3) {
                Some(u) if self.close(i + 2, i + 3, 0) => (u, i + 3),
                _ => (self.each(), i + 2),
            };
            let tail = self.text[self.toks[last].end..].trim_start_matches([' ', '\t']);
            if inner == outer || !(tail.is_empty() || tail.starts_with(['\n', '\r', '|'])) {
                continue;
            }
            let line = self.text[..self.toks[i].start]
                .rfind('\n')
                .map_or(0, |p| p + 1);
            decls.push((line, outer, n, inner));
        }
        decls
    }

    /// "布口罩……现在有三百多个了", "면 마스크를 … 약 400개를 만들었고": in
    /// Chinese and Korean a count with its counter glued on and no item
    /// after it counts the item named just before, when that has no count.
    fn counter_counts(&mut self, lots: &[Lot]) -> Vec<Lot> {
        let mut out: Vec<Lot> = Vec::new();
        for k in 0..self.toks.len() {
            let Some(n) = self.num(k) else { continue };
            let glued = self.unit(k + 1).is_some() && self.toks[k + 1].glued;
            if !glued || self.item_follows(k + 1) {
                continue;
            }
            let start = self.toks[k].start;
            let Some(prev) = self.uncounted_before(lots, &out, start, 300, true) else {
                continue;
            };
            let unit = self.unit(k + 1).unwrap_or(self.each());
            self.mark(k, k + 1);
            let e = self.toks[k + 1].end;
            let q = self.qty(n, unit, start, e, "counted with a counter after the item");
            self.pack_item = Some(prev.hit.item);
            let q = self.pack(q, e);
            out.push(prev.counted_from(start, q));
        }
        out
    }

    /// The item named last before `start`, for a count stated after it:
    /// only when that item has no count yet, is not counted in `out`
    /// already, ends at most `reach` bytes before `start` and, with
    /// `same_clause`, no hard break (a new line or sentence) lies between.
    fn uncounted_before<'l>(
        &self,
        lots: &'l [Lot],
        out: &[Lot],
        start: usize,
        reach: usize,
        same_clause: bool,
    ) -> Option<&'l Lot> {
        let prev = lots.iter().rev().find(|l| l.end <= start)?;
        let fits = prev.qty.is_none()
            && start - prev.end <= reach
            && !(same_clause && self.gap(prev.end, start).hard)
            && !out.iter().any(|l| l.hit.item == prev.hit.item);
        fits.then_some(prev)
    }

    /// Whether token `j` heads an entry: first on its line (after a bullet
    /// or a list number), or first after a comma, semicolon or cell bar.
    fn heads_entry(&self, j: usize) -> bool {
        let s = self.toks[j].start;
        let line = self.text[..s].rsplit('\n').next().unwrap_or("").trim();
        let bullet = line.trim_start_matches(|c: char| c.is_ascii_digit());
        matches!(bullet, "" | "-" | "*" | "•" | "·" | "." | ")")
            || line.ends_with([',', ';', '|', '，', '；', '、'])
    }
}

/// Whether the text between two tokens of a quantity phrase read before an
/// item ends the phrase: "(60), thermometer". A count reaches forward only
/// through words and spaces.
fn closes_a_phrase(gap: &str) -> bool {
    const CLOSING: [char; 8] = [',', ';', ':', ')', '，', '；', '：', '）'];
    if !gap.contains(['(', '（']) {
        return gap.contains(CLOSING);
    }
    // "500 medical (surgical) masks": an aside of words only is read through.
    let mut plain = String::with_capacity(gap.len());
    let mut aside = String::new();
    let mut depth = 0;
    for c in gap.chars() {
        match c {
            '(' | '（' => depth += 1,
            ')' | '）' if depth > 0 => {
                depth -= 1;
                if aside.chars().any(|c| c.is_ascii_digit()) {
                    plain.push(')');
                }
                aside.clear();
            }
            _ if depth > 0 => aside.push(c),
            _ => plain.push(c),
        }
    }
    plain.push_str(&aside);
    plain.contains(CLOSING)
}

fn clause_end(text: &str, from: usize) -> usize {
    let rest = &text[from..];
    let cut = [",", ";", ".", "\n\n", " but ", " pero ", "，", "。", "但"]
        .iter()
        .filter_map(|p| rest.find(p))
        .min()
        .unwrap_or(rest.len());
    from + cut
}

fn clause_start(text: &str, to: usize) -> usize {
    let head = &text[..to];
    [",", ";", ". ", "\n", "，", "。"]
        .iter()
        .filter_map(|p| head.rfind(p).map(|i| i + p.len()))
        .max()
        .unwrap_or(0)
}

/// Describes the text between byte offsets `a` and `b`.
fn gap(text: &str, a: usize, b: usize) -> Gap {
    if b <= a {
        return Gap {
            only_punct: true,
            ..Gap::default()
        };
    }
    let s = &text[a..b];
    let mut g = Gap {
        only_punct: true,
        ..Gap::default()
    };
    let mut in_word = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if is_cjk(c) {
            g.words += 1;
            g.cjk = true;
            g.only_punct = false;
            in_word = false;
            continue;
        }
        if is_word_char(c) {
            if !in_word {
                g.words += 1;
                if !matches!(c, 'x' | 'X' | '×') {
                    g.only_punct = false;
                }
            }
            in_word = true;
            continue;
        }
        in_word = false;
        let next = chars.peek().copied();
        if matches!(c, '.' | '!' | '?' | ';') && next.is_none_or(char::is_whitespace)
            || matches!(c, '。' | '！' | '？' | '；')
        {
            g.sentence = true;
        }
        if c == '|' {
            g.cells += 1;
        }
    }
    g.hard = s.contains('\n') && (s.contains("\n\n") || hard_line_break(text, a, b));
    g
}

/// A line break that ends an entry: before a bullet or numbered line, or
/// between table rows.
fn hard_line_break(text: &str, a: usize, b: usize) -> bool {
    let Some(nl) = text[a..b].find('\n').map(|i| a + i) else {
        return false;
    };
    let line_before = text[..nl].rsplit('\n').next().unwrap_or("");
    let line_after = text[nl + 1..].split('\n').next().unwrap_or("");
    let after = line_after.trim_start();
    let bullet = after.starts_with(['-', '*', '•', '·', '+'])
        || after.split_once(['.', ')']).is_some_and(|(n, rest)| {
            // "2. Gowns" or "3) Gloves", not "10.000 piezas" (Spanish thousands).
            !n.is_empty()
                && n.len() <= 2
                && n.chars().all(|c| c.is_ascii_digit())
                && !rest.starts_with(|c: char| c.is_ascii_digit())
        });
    let short_entry = columns(line_before.trim()) <= 40 && columns(after) <= 60;
    bullet
        || short_entry
        || line_before.contains(" | ")
        || line_after.contains(" | ")
        || (counted_entry(line_before) && after.starts_with(char::is_uppercase))
}

/// Whether a line reads as a list entry with its count after a dash or
/// colon ("Bleach concentrate — 4 gallons (sealed)", "Gowns: 200 in
/// bags"): the next line that starts a new name is a new entry, even when
/// this one is too long to look like a list line.
fn counted_entry(line: &str) -> bool {
    let line = line.trim();
    if !line.starts_with(char::is_alphabetic) {
        return false;
    }
    [" — ", " – ", " - ", ": "].iter().any(|sep| {
        line.split_once(sep).is_some_and(|(_, rest)| {
            rest.trim_start_matches(['~', '≈', ' '])
                .starts_with(|c: char| c.is_ascii_digit())
        })
    })
}

/// How wide a line is on screen: a Chinese, Japanese or Korean character
/// takes two columns, so a mail client wraps their prose after about half
/// as many characters ("…대신 라텍스 장갑\n50박스와…" is one sentence).
fn columns(line: &str) -> usize {
    line.chars().map(|c| if is_cjk(c) { 2 } else { 1 }).sum()
}

/// Makes counted generic names precise: "200 masks" are N95s when the
/// message (body or subject) names N95s without a count and no other kind
/// of mask that could refine them.
pub fn refine(rules: &Rules, mut lots: Vec<Lot>, subject: &[Lot]) -> Vec<Lot> {
    let counted: Vec<usize> = lots
        .iter()
        .filter(|l| l.qty.is_some())
        .map(|l| l.hit.item)
        .collect();
    let named: Vec<usize> = lots
        .iter()
        .chain(subject)
        .filter(|l| !l.hit.generic && !counted.contains(&l.hit.item))
        .map(|l| l.hit.item)
        .collect();
    let any_named: Vec<usize> = lots
        .iter()
        .chain(subject)
        .filter(|l| !l.hit.generic)
        .map(|l| l.hit.item)
        .collect();
    for lot in lots.iter_mut().filter(|l| l.hit.generic) {
        let Some(by) = rules.refined_by.get(lot.hit.item) else {
            continue;
        };
        // A counted "200 masks" takes a kind named without a count; a bare
        // "masks" takes any kind named (and then merges into its lot).
        let pool = if lot.qty.is_some() {
            &named
        } else {
            &any_named
        };
        let mut found: Vec<usize> = by.iter().copied().filter(|i| pool.contains(i)).collect();
        found.dedup();
        if let [only] = found.as_slice() {
            lot.hit.item = *only;
            lot.hit.generic = false;
            if let Some(s) = lot.spans.first_mut() {
                s.rule = format!(
                    "{} (refined by {} named elsewhere)",
                    s.rule, rules.items[*only]
                );
            }
        }
    }
    lots
}

#[cfg(test)]
mod tests {
    use super::super::compile::{compile, Rules};
    use super::super::EMBEDDED;
    use super::*;

    /// The embedded rule files and one more, `extra`.
    fn files_with(extra: &str) -> Vec<(String, String)> {
        let mut files: Vec<(String, String)> = EMBEDDED
            .iter()
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect();
        files.push(("zz-test.toml".to_string(), extra.to_string()));
        files
    }

    fn rules_with(extra: &str) -> Rules {
        compile(&files_with(extra)).unwrap()
    }

    fn items(rules: &Rules, text: &str) -> Vec<String> {
        let lots = super::lots(rules, text, super::super::lex::tokenize(rules, text));
        lots.iter()
            .map(|l| text[l.start..l.end].to_string())
            .collect()
    }

    #[test]
    fn a_match_scope_negates_only_the_lots_inside_the_cue() {
        let rules = rules_with(
            "[[negation]]\nname = \"t\"\npattern = '(?i)\\bborrowed\\b[^.]*\\bfrom the school\\b'\nscope = \"match\"\n",
        );
        let got = items(
            &rules,
            "We borrowed 30 face shields from the school, and we can give 200 gowns.",
        );
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(got[0].contains("gowns"), "{got:?}");
    }

    #[test]
    fn an_unknown_negation_scope_is_refused() {
        let files = files_with("[[negation]]\nname = \"t\"\npattern = 'x'\nscope = \"both\"\n");
        assert!(compile(&files).is_err());
    }

    #[test]
    fn a_wrapped_line_of_hangul_or_hanzi_is_not_a_short_entry() {
        // 24 Hangul characters fill 48 columns: wrapped prose, not a list line.
        let ko =
            "어제 회의에서 말씀드린 대로 저희 창고에 남은 니트릴 장갑\n30박스를 보내 드리겠습니다.";
        let nl = ko.find('\n').unwrap();
        assert!(!hard_line_break(ko, nl - 3, nl + 3));
        let zh = "我们仓库里还有上次活动剩下的一些医用外科口罩和\n手套，可以全部捐出。";
        let nl = zh.find('\n').unwrap();
        assert!(!hard_line_break(zh, nl - 3, nl + 4));
        // A line opening with "10.000" (Spanish thousands) is no numbered entry.
        let es =
            "Guantes de nitrilo en caja, precio por caja 8 dólares, pedido mínimo\n10.000 piezas.";
        let nl = es.find('\n').unwrap();
        assert!(!hard_line_break(es, nl - 3, nl + 3));
        // A short line of a list still ends its entry.
        let list = "장갑 30박스\n마스크 200장";
        let nl = list.find('\n').unwrap();
        assert!(hard_line_break(list, nl - 3, nl + 1));
    }

    #[test]
    fn a_counted_entry_ends_at_the_next_named_line() {
        let text = "Chlorine tablets for the clinic — 3 cases (still shrink-wrapped)\nPaper gowns — 80, assorted sizes";
        let at = text.find("wrapped)").unwrap();
        assert!(hard_line_break(text, at, text.len()));
        // Prose wrapped mid-sentence stays one entry.
        let prose = "Our neighbours dropped off quite a few things this morning, among them 3\nboxes of gowns";
        let at = prose.find(" 3").unwrap();
        assert!(!hard_line_break(prose, at, prose.len()));
    }

    #[test]
    fn counted_entries_are_dashed_or_colon_lines_with_a_count() {
        assert!(counted_entry("Bleach concentrate — 4 gallons (sealed)"));
        assert!(counted_entry("  Gowns: 200 in bags from the ward"));
        assert!(counted_entry("Face shields - ~60 assembled"));
        assert!(!counted_entry("Note: the loading dock closes early"));
        assert!(!counted_entry("- 40 boxes of gloves"));
    }
}
