//! The reply templates: loading them (from a folder, or the copies built
//! into the binary), checking every one at start, choosing the one for a
//! reply's kind and language, and rendering it.
//!
//! Templates are minijinja files named `KIND.LANG.txt` whose first line is
//! `Subject: …`, then a blank line, then the body; a `KIND.LANG.html` beside
//! one (autoescaped, by its extension) gives the reply an HTML part. A kind
//! missing in the donor's language falls back to English, text and HTML
//! together. Every template is rendered at start with the values its kind
//! gets ([`super::kinds`]), so a broken one names its file and line before
//! anything is sent (`templates/README.md` lists the values).
//!
//! Text from donors only ever enters as a value, never as template source.
//!
//! Owns: [`Templates`], [`Rendered`] and [`TemplateError`]. Does not own:
//! turning the rendered text into a message ([`super::message`]).

use std::collections::BTreeMap;
use std::path::Path;

use minijinja::Environment;
use serde::Serialize;

use super::context::{ItemLine, ReplyContext, ReplyItem};
use super::dates;
use super::kinds::{template_samples, LIST_VALUES};
use super::message::header_safe;
use crate::rules::ReplyNames;

/// `(file name, source)` of each template in `templates/replies/`.
macro_rules! embedded {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../templates/replies/", $name)))),*]
    };
}

/// The templates built into the binary: a copy of `templates/replies/`.
const EMBEDDED: &[(&str, &str)] = embedded![
    "ack.en.txt",
    "ack.en.html",
    "ack.es.txt",
    "ack.es.html",
    "ack.zh.txt",
    "ack.zh.html",
    "ack.ko.txt",
    "ack.ko.html",
    "ack.vi.txt",
    "ack.vi.html",
    "ack.tl.txt",
    "ack.tl.html",
    "needs_info.en.txt",
    "needs_info.en.html",
    "needs_info.es.txt",
    "needs_info.es.html",
    "needs_info.zh.txt",
    "needs_info.zh.html",
    "needs_info.ko.txt",
    "needs_info.ko.html",
    "needs_info.vi.txt",
    "needs_info.vi.html",
    "needs_info.tl.txt",
    "needs_info.tl.html",
    "pickup.en.txt",
    "pickup.en.html",
    "pickup.es.txt",
    "pickup.es.html",
    "pickup.zh.txt",
    "pickup.zh.html",
    "pickup.ko.txt",
    "pickup.ko.html",
    "pickup.vi.txt",
    "pickup.vi.html",
    "pickup.tl.txt",
    "pickup.tl.html",
    "collection.en.txt",
    "collection.en.html",
    "collection.es.txt",
    "collection.es.html",
    "collection.zh.txt",
    "collection.zh.html",
    "collection.ko.txt",
    "collection.ko.html",
    "collection.vi.txt",
    "collection.vi.html",
    "collection.tl.txt",
    "collection.tl.html",
    "cancellation.en.txt",
    "cancellation.en.html",
    "cancellation.es.txt",
    "cancellation.es.html",
    "cancellation.zh.txt",
    "cancellation.zh.html",
    "cancellation.ko.txt",
    "cancellation.ko.html",
    "cancellation.vi.txt",
    "cancellation.vi.html",
    "cancellation.tl.txt",
    "cancellation.tl.html",
    "decline.en.txt",
    "decline.en.html",
    "decline.es.txt",
    "decline.es.html",
    "decline.zh.txt",
    "decline.zh.html",
    "decline.ko.txt",
    "decline.ko.html",
    "decline.vi.txt",
    "decline.vi.html",
    "decline.tl.txt",
    "decline.tl.html",
    "thanks.en.txt",
    "thanks.en.html",
    "thanks.es.txt",
    "thanks.es.html",
    "thanks.zh.txt",
    "thanks.zh.html",
    "thanks.ko.txt",
    "thanks.ko.html",
    "thanks.vi.txt",
    "thanks.vi.html",
    "thanks.tl.txt",
    "thanks.tl.html",
    "message.en.txt",
    "message.en.html",
    "message.es.txt",
    "message.es.html",
    "message.zh.txt",
    "message.zh.html",
    "message.ko.txt",
    "message.ko.html",
    "message.vi.txt",
    "message.vi.html",
    "message.tl.txt",
    "message.tl.html",
];

/// The kind whose built-in templates a folder of the operator's own gets
/// when it has none of that kind: staff replies came after folders were
/// copied, and must not stop a start.
const ADDED_KIND: &str = "message.";

/// The languages of the built-in templates, in the order they are listed.
pub fn built_in_languages() -> Vec<&'static str> {
    let mut languages: Vec<&str> = Vec::new();
    for lang in EMBEDDED
        .iter()
        .filter_map(|(name, _)| name.split('.').nth(1))
    {
        if !languages.contains(&lang) {
            languages.push(lang);
        }
    }
    languages
}

/// A template that cannot be loaded or rendered: names the file and line.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("{file}:{line}: {reason}")]
    Invalid {
        file: String,
        line: usize,
        reason: String,
    },
    #[error("cannot read template folder {dir}: {source}")]
    Io {
        dir: String,
        #[source]
        source: std::io::Error,
    },
    #[error("no template for {0}")]
    Missing(String),
    #[error("{0}: the first line must be \"Subject: …\" followed by a blank line")]
    NoSubject(String),
    #[error("{0}:1: an HTML template needs its text template {1} beside it")]
    HtmlWithoutText(String, String),
    #[error("invalid address {0:?}")]
    Address(String),
    #[error("cannot build the message: {0}")]
    Build(String),
    #[error("reading item names from the rule files: {0}")]
    Names(#[source] crate::rules::RuleError),
}

/// What the templates produced for one reply, before it becomes a message.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
}

/// The loaded templates, with the desk's name and address they all get.
pub struct Templates {
    env: Environment<'static>,
    desk_name: String,
    desk_address: String,
    /// Item and unit names per language, from the rule files.
    names: ReplyNames,
}

#[derive(Serialize)]
struct TemplateValues<'a> {
    reference: &'a str,
    donor_name: Option<&'a str>,
    donor_email: &'a str,
    items: &'a [ItemLine],
    desk_name: &'a str,
    desk_address: &'a str,
    /// The language of the template in use (after any fallback).
    language: &'a str,
}

/// The templates chosen for one reply: the text one, and HTML when there is one.
#[derive(Debug, Clone, PartialEq)]
struct Chosen {
    language: String,
    text: String,
    html: Option<String>,
}

impl Templates {
    /// Loads the templates from `dir` (or the built-in ones) and renders each
    /// once with sample values, so a broken template stops the start, not a send.
    pub fn load(
        dir: Option<&Path>,
        desk_address: &str,
        desk_name: &str,
        names: ReplyNames,
    ) -> Result<Templates, TemplateError> {
        let mut env = Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        let sources = match dir {
            Some(dir) => with_added_kind(read_dir(dir)?),
            None => EMBEDDED
                .iter()
                .map(|(n, s)| (n.to_string(), s.to_string()))
                .collect(),
        };
        for (name, source) in sources {
            env.add_template_owned(name.clone(), source)
                .map_err(|e| template_error(&name, &e))?;
        }
        let templates = Templates {
            env,
            desk_name: desk_name.to_string(),
            desk_address: desk_address.to_string(),
            names,
        };
        templates.check_all()?;
        Ok(templates)
    }

    /// The names of the loaded templates, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.env.templates().map(|(n, _)| n.to_string()).collect();
        names.sort();
        names
    }

    /// Renders the reply's subject, text and HTML in the donor's language
    /// (else English), with `extra` values for its kind.
    pub fn render(
        &self,
        ctx: &ReplyContext,
        extra: &BTreeMap<String, String>,
    ) -> Result<Rendered, TemplateError> {
        let chosen = self.choose(ctx.kind.as_str(), ctx.language.as_deref())?;
        // A name is one line of text wherever it appears.
        let donor_name = ctx.donor_name.as_deref().map(header_safe);
        let items = self.item_lines(&ctx.items, &chosen.language);
        let values = TemplateValues {
            reference: &ctx.reference,
            donor_name: donor_name.as_deref(),
            donor_email: &ctx.donor_email,
            items: &items,
            desk_name: &self.desk_name,
            desk_address: &self.desk_address,
            language: &chosen.language,
        };
        let extra = &in_language(extra, &chosen.language);
        let (subject, text) = self.render_text(&chosen.text, &values, extra)?;
        let html = match &chosen.html {
            Some(name) => Some(self.render_html(name, &values, extra)?),
            None => None,
        };
        Ok(Rendered {
            subject,
            text,
            html,
        })
    }

    /// The language replies to a donor writing in `lang` are written in:
    /// `lang` when it has templates (an acknowledgement, at least), else English.
    pub fn reply_language(&self, lang: Option<&str>) -> String {
        self.choose("ack", lang)
            .map(|c| c.language)
            .unwrap_or_else(|_| "en".into())
    }

    /// The offer's items as the templates see them, named in `lang`.
    pub fn item_lines(&self, items: &[ReplyItem], lang: &str) -> Vec<ItemLine> {
        items
            .iter()
            .map(|i| ItemLine::new(i, &self.names, lang))
            .collect()
    }

    /// Renders every template with sample values: with items (one without a
    /// quantity) and without, with something missing and nothing missing.
    fn check_all(&self) -> Result<(), TemplateError> {
        let names = self.names();
        if !names.iter().any(|n| n == "ack.en.txt") {
            return Err(TemplateError::Missing("ack.en.txt".into()));
        }
        for name in names.iter().filter(|n| n.ends_with(".html")) {
            let text = format!("{}.txt", name.trim_end_matches(".html"));
            if !names.contains(&text) {
                return Err(TemplateError::HtmlWithoutText(name.clone(), text));
            }
        }
        for items in [sample_items(), vec![]] {
            for name in &names {
                let mut parts = name.split('.');
                let (kind, lang) = (parts.next().unwrap_or(""), parts.next().unwrap_or("en"));
                let items = self.item_lines(&items, lang);
                let values = self.sample_values(&items, lang);
                let full = template_samples(kind);
                // Each value also empty: the web passes "" for what staff left out.
                let empty = full.keys().map(|k| (k.clone(), String::new())).collect();
                for extra in [full, empty] {
                    self.render_one(name, &values, &extra)?;
                }
            }
        }
        Ok(())
    }

    fn sample_values<'a>(&'a self, items: &'a [ItemLine], lang: &'a str) -> TemplateValues<'a> {
        TemplateValues {
            reference: "SL-000001",
            donor_name: Some("Sample Donor"),
            donor_email: "donor@example.org",
            items,
            desk_name: &self.desk_name,
            desk_address: &self.desk_address,
            language: lang,
        }
    }

    /// Renders template `name`: a text one must give a subject line.
    fn render_one(
        &self,
        name: &str,
        values: &TemplateValues,
        extra: &BTreeMap<String, String>,
    ) -> Result<(), TemplateError> {
        if name.ends_with(".html") {
            self.render_html(name, values, extra).map(drop)
        } else {
            self.render_text(name, values, extra).map(drop)
        }
    }

    /// The template's output for `values` and `extra` (lists split).
    fn render_raw(
        &self,
        name: &str,
        values: &TemplateValues,
        extra: &BTreeMap<String, String>,
    ) -> Result<String, TemplateError> {
        let tmpl = self
            .env
            .get_template(name)
            .map_err(|e| template_error(name, &e))?;
        let ctx = minijinja::context! {
            ..minijinja::Value::from_serialize(values),
            ..extra_value(extra)
        };
        tmpl.render(ctx).map_err(|e| template_error(name, &e))
    }

    /// Renders `(subject, body)` from text template `name`.
    fn render_text(
        &self,
        name: &str,
        values: &TemplateValues,
        extra: &BTreeMap<String, String>,
    ) -> Result<(String, String), TemplateError> {
        let text = self.render_raw(name, values, extra)?;
        let (first, body) = text
            .split_once('\n')
            .ok_or_else(|| TemplateError::NoSubject(name.into()))?;
        let subject = first
            .strip_prefix("Subject:")
            .ok_or_else(|| TemplateError::NoSubject(name.into()))?;
        Ok((
            subject.trim().to_string(),
            body.trim_start_matches(['\r', '\n']).to_string(),
        ))
    }

    /// Renders HTML template `name` (autoescaped, by its extension).
    fn render_html(
        &self,
        name: &str,
        values: &TemplateValues,
        extra: &BTreeMap<String, String>,
    ) -> Result<String, TemplateError> {
        Ok(self.render_raw(name, values, extra)?.trim().to_string() + "\n")
    }

    /// The templates for `kind` in `lang`, else in English: the language is
    /// chosen by the text template, and the HTML one is used when that
    /// language has it too, so one message never mixes two languages.
    fn choose(&self, kind: &str, lang: Option<&str>) -> Result<Chosen, TemplateError> {
        let exists = |n: &str| self.env.get_template(n).is_ok();
        // "es-MX" and "zh_CN" use the "es" and "zh" templates.
        let wanted = lang
            .and_then(|l| l.split(['-', '_']).next())
            .map(str::to_ascii_lowercase)
            .unwrap_or_else(|| "en".into());
        let wanted = wanted.as_str();
        let language = [wanted, "en"]
            .into_iter()
            .find(|l| exists(&format!("{kind}.{l}.txt")))
            .ok_or_else(|| TemplateError::Missing(format!("{kind}.{wanted}.txt")))?;
        let html = format!("{kind}.{language}.html");
        Ok(Chosen {
            language: language.to_string(),
            text: format!("{kind}.{language}.txt"),
            html: exists(&html).then_some(html),
        })
    }
}

/// `extra` as donors read it in `lang`: the pickup window's date and
/// times in that language ([`dates::window_in`]); the rest as given.
fn in_language(extra: &BTreeMap<String, String>, lang: &str) -> BTreeMap<String, String> {
    let mut extra = extra.clone();
    if let Some(window) = extra.get_mut("pickup_window") {
        if let Some(local) = dates::window_in(window, lang) {
            *window = local;
        }
    }
    extra
}

/// Items the templates are checked with: one counted, one not.
fn sample_items() -> Vec<ReplyItem> {
    let counted = ReplyItem {
        item: "n95_respirator".into(),
        quantity: Some(2000.0),
        unit: Some("each".into()),
        model: None,
    };
    let uncounted = ReplyItem {
        item: "isolation_gown".into(),
        quantity: None,
        unit: None,
        model: None,
    };
    vec![counted, uncounted]
}

/// The extra values as the template sees them: text, except [`LIST_VALUES`],
/// which are split on commas into lists (empty text is an empty list).
fn extra_value(extra: &BTreeMap<String, String>) -> minijinja::Value {
    let map: BTreeMap<&str, minijinja::Value> = extra
        .iter()
        .map(|(k, v)| {
            let value = if LIST_VALUES.contains(&k.as_str()) {
                let list: Vec<&str> = v
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .collect();
                minijinja::Value::from_serialize(list)
            } else {
                minijinja::Value::from(v.as_str())
            };
            (k.as_str(), value)
        })
        .collect();
    minijinja::Value::from_serialize(map)
}

/// An operator's `sources` with the built-in [`ADDED_KIND`] templates
/// when it has none of that kind.
fn with_added_kind(mut sources: Vec<(String, String)>) -> Vec<(String, String)> {
    if !sources.iter().any(|(name, _)| name.starts_with(ADDED_KIND)) {
        sources.extend(
            EMBEDDED
                .iter()
                .filter(|(name, _)| name.starts_with(ADDED_KIND))
                .map(|(n, s)| (n.to_string(), s.to_string())),
        );
    }
    sources
}

fn read_dir(dir: &Path) -> Result<Vec<(String, String)>, TemplateError> {
    let io = |source| TemplateError::Io {
        dir: dir.display().to_string(),
        source,
    };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.extension().is_some_and(|e| e == "txt" || e == "html") {
            let name = path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .to_string();
            out.push((name, std::fs::read_to_string(&path).map_err(io)?));
        }
    }
    Ok(out)
}

fn template_error(name: &str, err: &minijinja::Error) -> TemplateError {
    TemplateError::Invalid {
        file: err.name().unwrap_or(name).to_string(),
        line: err.line().unwrap_or(0),
        reason: err
            .detail()
            .map(str::to_string)
            .unwrap_or_else(|| err.kind().to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::compose::samples::{composer, ctx, leaves, part};
    use super::super::context::ReplyItem;
    use super::super::kinds::ReplyKind;
    use super::super::Composer;

    #[test]
    fn unknown_language_falls_back_to_english() {
        let mut x = ctx();
        x.language = Some("es-MX".into());
        assert!(composer()
            .compose(&x)
            .unwrap()
            .subject
            .starts_with("Recibimos"));
        x.language = Some("fa".into());
        assert!(composer()
            .compose(&x)
            .unwrap()
            .subject
            .starts_with("We received"));
    }

    #[test]
    fn broken_template_names_file_and_line() {
        let err = ack_error("Subject: x\n\nline two\n{% for %}\n");
        assert!(err.starts_with("ack.en.txt:4:"), "{err}");
    }

    /// Why the templates in `dir` stop the start.
    fn start_error(dir: &std::path::Path) -> String {
        Composer::new(Some(dir), "d@x.example", "D", None)
            .err()
            .unwrap()
            .to_string()
    }

    /// Why a folder holding only `ack.en.txt` with `source` stops the start.
    fn ack_error(source: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ack.en.txt"), source).unwrap();
        start_error(dir.path())
    }

    #[test]
    fn donor_markup_is_escaped_in_the_html_part() {
        let mut x = ctx();
        x.donor_name = Some("<script>alert(1)</script>".into());
        x.items[0].model =
            Some("<script>boxes</script> & <b>gloves</b> <img src=x onerror=alert(2)>".into());
        x.language = Some("en".into());
        let reply = composer().compose(&x).unwrap();
        let parts = leaves(&reply.raw);
        let html = part(&parts, "text/html");
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"),
            "{html}"
        );
        assert!(html.contains("&lt;b&gt;gloves&lt;&#x2f;b&gt;"), "{html}");
        assert!(html.contains("&amp;"), "{html}");
        // The text part is plain text: no escaping there.
        assert!(part(&parts, "text/plain").contains("(<script>boxes</script>"));
    }

    #[test]
    fn a_kind_missing_in_the_language_falls_back_to_english_for_both_parts() {
        let dir = tempfile::tempdir().unwrap();
        let write = |n: &str, s: &str| std::fs::write(dir.path().join(n), s).unwrap();
        write("ack.en.txt", "Subject: Got it {{ reference }}\n\nThanks.\n");
        write("ack.en.html", "<p>Thanks, {{ reference }}.</p>\n");
        write(
            "ack.es.txt",
            "Subject: Recibido {{ reference }}\n\nGracias.\n",
        );
        write(
            "thanks.en.txt",
            "Subject: Thank you {{ reference }}\n\nArrived.\n",
        );
        write("thanks.en.html", "<p>Arrived {{ reference }}</p>\n");
        let c = Composer::new(Some(dir.path()), "d@x.example", "D", None).unwrap();
        // Spanish text exists, HTML does not: Spanish text alone, never mixed.
        let reply = c.compose(&ctx()).unwrap();
        let parts = leaves(&reply.raw);
        assert_eq!(parts.len(), 1, "{parts:?}");
        assert!(reply.subject.starts_with("Recibido"));
        // No Spanish thanks at all: English text and HTML.
        let mut x = ctx();
        x.kind = ReplyKind::Thanks;
        let reply = c.compose(&x).unwrap();
        let parts = leaves(&reply.raw);
        assert!(reply.subject.starts_with("Thank you"));
        assert!(part(&parts, "text/html").contains("Arrived SL-000007"));
    }

    #[test]
    fn a_folder_without_message_templates_gets_the_built_in_ones() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ack.en.txt"), "Subject: x\n\nok\n").unwrap();
        let c = Composer::new(Some(dir.path()), "d@x.example", "D", None).unwrap();
        let mut x = ctx();
        x.kind = ReplyKind::Message;
        let r = c.render(&x, &ReplyKind::Message.sample_extra()).unwrap();
        assert_eq!(r.subject, "Re: su mensaje (SL-000007)");
        assert!(r.text.starts_with("Hello,\n\nYes, we take"), "{}", r.text);
        // The operator's own message templates are used when there are some.
        std::fs::write(
            dir.path().join("message.en.txt"),
            "Subject: Ours\n\n{{ body }}\n",
        )
        .unwrap();
        let c = Composer::new(Some(dir.path()), "d@x.example", "D", None).unwrap();
        assert_eq!(
            c.render(&x, &ReplyKind::Message.sample_extra())
                .unwrap()
                .subject,
            "Ours"
        );
    }

    /// The values (`{{ name`) a template source uses, and the ones its
    /// `{% if name %}` tests.
    fn placeholders(source: &str) -> std::collections::BTreeSet<String> {
        let name = |rest: &str| {
            rest.trim_start()
                .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.'))
                .next()
                .unwrap_or_default()
                .to_string()
        };
        let mut out: std::collections::BTreeSet<String> =
            source.split("{{").skip(1).map(name).collect();
        out.extend(source.split("{% if ").skip(1).map(name));
        out
    }

    #[test]
    fn every_language_of_a_builtin_kind_uses_the_values_english_does() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/templates/replies");
        let on_disk = std::fs::read_dir(dir).unwrap().count();
        assert_eq!(
            on_disk,
            super::EMBEDDED.len(),
            "every file in {dir} is built in"
        );
        for kind in ReplyKind::ALL {
            for ext in ["txt", "html"] {
                let source = |lang: &str| {
                    let file = format!("{kind}.{lang}.{ext}");
                    super::EMBEDDED
                        .iter()
                        .find(|(n, _)| *n == file)
                        .unwrap_or_else(|| panic!("{file} is not built in"))
                        .1
                };
                let english = placeholders(source("en"));
                for lang in ["es", "zh", "ko", "vi", "tl"] {
                    let theirs = placeholders(source(lang));
                    assert_eq!(
                        theirs, english,
                        "{kind}.{lang}.{ext} against {kind}.en.{ext}"
                    );
                }
            }
        }
    }

    #[test]
    fn every_builtin_kind_renders_in_every_language() {
        let c = composer();
        for kind in ReplyKind::ALL {
            for lang in ["en", "es", "zh", "ko", "vi", "tl"] {
                let mut x = ctx();
                x.kind = kind;
                x.language = Some(lang.into());
                let r = c.render(&x, &kind.sample_extra()).unwrap();
                assert!(
                    r.subject.contains("SL-000007"),
                    "{kind}.{lang}: {}",
                    r.subject
                );
                let html = r.html.unwrap();
                // Every kind is in every language: none falls back to English.
                assert!(html.contains(&format!("lang=\"{lang}\"")), "{kind}.{lang}");
                assert!(html.contains("SL-000007") && r.text.contains("SL-000007"));
            }
        }
    }

    #[test]
    fn needs_info_asks_exactly_for_what_is_missing() {
        let c = composer();
        let mut x = ctx();
        x.kind = ReplyKind::NeedsInfo;
        x.language = Some("en".into());
        x.items.push(ReplyItem {
            item: "isolation_gown".into(),
            quantity: None,
            unit: None,
            model: None,
        });
        let both = c.render(&x, &ReplyKind::NeedsInfo.sample_extra()).unwrap();
        assert!(both.text.contains("How many?"), "{}", both.text);
        assert!(both.text.contains("- isolation gowns"), "{}", both.text);
        // Every item as understood is listed once; the question names only
        // the one without a quantity; items are named in the template's language.
        assert!(
            both.text.contains("- 3 boxes of exam gloves"),
            "{}",
            both.text
        );
        let question = both.text.split("How many?").nth(1).unwrap();
        assert!(!question.contains("exam gloves"), "{question}");
        assert!(both.text.contains("street address"), "{}", both.text);
        let only_address =
            super::super::needs::extra_values(&[super::super::needs::Missing::PickupAddress]);
        let one = c.render(&x, &only_address).unwrap();
        assert!(!one.text.contains("How many?"), "{}", one.text);
        assert!(one.text.contains("one more detail"), "{}", one.text);
        assert!(one.html.unwrap().contains("street address"));
    }

    #[test]
    fn a_korean_pickup_names_items_and_the_window_in_korean() {
        let mut x = ctx();
        x.kind = ReplyKind::Pickup;
        x.language = Some("ko".into());
        let r = composer()
            .render(&x, &ReplyKind::Pickup.sample_extra())
            .unwrap();
        assert!(r.text.contains("- 검사용 장갑 3상자"), "{}", r.text);
        assert!(
            r.text.contains("2026년 5월 1일 금요일 09:00–11:00"),
            "{}",
            r.text
        );
        assert!(r.html.unwrap().contains("검사용 장갑 3상자"));
        // A language without templates gets English throughout.
        x.language = Some("fa".into());
        let r = composer()
            .render(&x, &ReplyKind::Pickup.sample_extra())
            .unwrap();
        assert!(r.text.contains("- 3 boxes of exam gloves"), "{}", r.text);
        assert!(
            r.text.contains("Friday 1 May 2026 09:00–11:00"),
            "{}",
            r.text
        );
    }

    #[test]
    fn a_template_using_another_kinds_value_fails_at_start() {
        let err = ack_error("Subject: x\n\nCome to\n{{ pickup_site }}\n");
        assert!(err.starts_with("ack.en.txt:4:"), "{err}");
    }

    #[test]
    fn a_broken_html_template_names_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ack.en.txt"), "Subject: x\n\nok\n").unwrap();
        std::fs::write(dir.path().join("ack.en.html"), "<p>\n{{ nope }}\n</p>\n").unwrap();
        std::fs::write(dir.path().join("ack.fr.html"), "<p>x</p>\n").unwrap();
        let err = start_error(dir.path());
        assert!(
            err.starts_with("ack.fr.html:1:") || err.starts_with("ack.en.html:2:"),
            "{err}"
        );
        std::fs::remove_file(dir.path().join("ack.fr.html")).unwrap();
        let err = start_error(dir.path());
        assert!(err.starts_with("ack.en.html:2:"), "{err}");
    }
}
