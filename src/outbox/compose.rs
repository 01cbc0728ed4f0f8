//! Rendering replies from the templates into whole RFC 5322 messages.
//!
//! Templates are minijinja files named `KIND.LANG.txt` whose first line is
//! `Subject: …`, then a blank line, then the body; a `KIND.LANG.html` beside
//! one (autoescaped, by its extension) makes the reply multipart/alternative.
//! A kind missing in the donor's language falls back to English, text and
//! HTML together. Pickup replies carry an `.ics` invite ([`super::ics`]).
//! Every template is rendered at start with the values its kind gets, so a
//! broken one names its file and line before anything is sent
//! (`templates/README.md` lists the values).
//!
//! Text from donors only ever enters as a value, never as template source,
//! and headers are built by lettre, which encodes them; CR and LF are
//! removed from anything that goes into a header first.

use std::collections::BTreeMap;
use std::path::Path;

use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MessageBuilder, MultiPart, SinglePart};
use lettre::Message;
use minijinja::Environment;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::ics;
use crate::store::NewReply;

/// The templates built into the binary: a copy of `templates/replies/`.
const EMBEDDED: &[(&str, &str)] = &[
    (
        "ack.en.txt",
        include_str!("../../templates/replies/ack.en.txt"),
    ),
    (
        "ack.en.html",
        include_str!("../../templates/replies/ack.en.html"),
    ),
    (
        "ack.es.txt",
        include_str!("../../templates/replies/ack.es.txt"),
    ),
    (
        "ack.es.html",
        include_str!("../../templates/replies/ack.es.html"),
    ),
    (
        "ack.zh.txt",
        include_str!("../../templates/replies/ack.zh.txt"),
    ),
    (
        "ack.zh.html",
        include_str!("../../templates/replies/ack.zh.html"),
    ),
    (
        "needs_info.en.txt",
        include_str!("../../templates/replies/needs_info.en.txt"),
    ),
    (
        "needs_info.en.html",
        include_str!("../../templates/replies/needs_info.en.html"),
    ),
    (
        "needs_info.es.txt",
        include_str!("../../templates/replies/needs_info.es.txt"),
    ),
    (
        "needs_info.es.html",
        include_str!("../../templates/replies/needs_info.es.html"),
    ),
    (
        "needs_info.zh.txt",
        include_str!("../../templates/replies/needs_info.zh.txt"),
    ),
    (
        "needs_info.zh.html",
        include_str!("../../templates/replies/needs_info.zh.html"),
    ),
    (
        "pickup.en.txt",
        include_str!("../../templates/replies/pickup.en.txt"),
    ),
    (
        "pickup.en.html",
        include_str!("../../templates/replies/pickup.en.html"),
    ),
    (
        "pickup.es.txt",
        include_str!("../../templates/replies/pickup.es.txt"),
    ),
    (
        "pickup.es.html",
        include_str!("../../templates/replies/pickup.es.html"),
    ),
    (
        "pickup.zh.txt",
        include_str!("../../templates/replies/pickup.zh.txt"),
    ),
    (
        "pickup.zh.html",
        include_str!("../../templates/replies/pickup.zh.html"),
    ),
    (
        "decline.en.txt",
        include_str!("../../templates/replies/decline.en.txt"),
    ),
    (
        "decline.en.html",
        include_str!("../../templates/replies/decline.en.html"),
    ),
    (
        "decline.es.txt",
        include_str!("../../templates/replies/decline.es.txt"),
    ),
    (
        "decline.es.html",
        include_str!("../../templates/replies/decline.es.html"),
    ),
    (
        "decline.zh.txt",
        include_str!("../../templates/replies/decline.zh.txt"),
    ),
    (
        "decline.zh.html",
        include_str!("../../templates/replies/decline.zh.html"),
    ),
    (
        "thanks.en.txt",
        include_str!("../../templates/replies/thanks.en.txt"),
    ),
    (
        "thanks.en.html",
        include_str!("../../templates/replies/thanks.en.html"),
    ),
    (
        "thanks.es.txt",
        include_str!("../../templates/replies/thanks.es.txt"),
    ),
    (
        "thanks.es.html",
        include_str!("../../templates/replies/thanks.es.html"),
    ),
    (
        "thanks.zh.txt",
        include_str!("../../templates/replies/thanks.zh.txt"),
    ),
    (
        "thanks.zh.html",
        include_str!("../../templates/replies/thanks.zh.html"),
    ),
];

/// The kinds of reply there are templates for.
pub const KINDS: &[&str] = &["ack", "needs_info", "pickup", "decline", "thanks"];

/// The values staff decisions add for `pickup` and `decline` templates; every
/// template is checked at start with these set to samples.
pub const DECISION_VALUES: &[&str] = &[
    "pickup_site",
    "pickup_address",
    "pickup_window",
    "pickup_notes",
    "decline_reason",
];

/// Extra values given as comma-separated text that templates see as a list:
/// `missing` (see [`needs`](super::needs)).
pub const LIST_VALUES: &[&str] = &["missing"];

/// The extra values a kind of reply is given when it is sent: what its
/// templates may use, and all they are checked with at start, so a template
/// that uses another kind's value fails at start, not at send time.
/// An unknown kind (a template an operator added) gets every value.
pub fn extra_keys(kind: &str) -> Vec<&'static str> {
    match kind {
        "ack" | "thanks" => vec![],
        "needs_info" => vec!["missing"],
        "pickup" | "decline" => DECISION_VALUES.to_vec(),
        _ => DECISION_VALUES.iter().chain(LIST_VALUES).copied().collect(),
    }
}

/// Realistic samples of the extra values `kind` gets: what templates are
/// checked with at start and what `templates preview` shows by default.
pub fn sample_extra(kind: &str) -> BTreeMap<String, String> {
    let sample = |key: &str| match key {
        "pickup_site" => "Central depot",
        "pickup_address" => "100 Main St, Torrance CA 90501",
        "pickup_window" => "Friday 1 May 2026 09:00–11:00",
        "pickup_notes" => "Loading dock B; ring the bell.",
        "decline_reason" => "We have enough isolation gowns for the coming weeks.",
        "missing" => "quantity,pickup_address",
        _ => "sample",
    };
    extra_keys(kind)
        .into_iter()
        .map(|k| (k.to_string(), sample(k).to_string()))
        .collect()
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
}

/// One item as the template sees it.
#[derive(Debug, Clone, Serialize)]
pub struct ItemLine {
    pub item: String,
    pub quantity: Option<f64>,
    pub unit: Option<String>,
    /// Ready to print: "2,000 N95 respirators".
    pub text: String,
}

impl ItemLine {
    /// An item as the templates see it, its text in `lang`: "2,000 N95 respirators".
    pub fn new(
        item: &str,
        quantity: Option<f64>,
        unit: Option<&str>,
        model: Option<&str>,
        lang: &str,
    ) -> ItemLine {
        ItemLine {
            item: item.to_string(),
            quantity,
            unit: unit.map(str::to_string),
            text: super::labels::item_text(item, quantity, unit, model, lang),
        }
    }
}

/// What a reply is about; every field is a plain value for the template.
#[derive(Debug, Clone)]
pub struct ReplyContext {
    /// Template kind: `ack`, …
    pub kind: String,
    pub offer_id: i64,
    pub reference: String,
    pub donor_email: String,
    pub donor_name: Option<String>,
    /// The donor's language; the template falls back to English.
    pub language: Option<String>,
    pub items: Vec<ItemLine>,
    pub received_subject: String,
    /// The donor message's Message-ID (for In-Reply-To and References).
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
}

/// Renders replies. Built once at start, which is when template errors show.
pub struct Composer {
    env: Environment<'static>,
    from: Mailbox,
    desk_name: String,
    message_id_domain: String,
}

#[derive(Serialize)]
struct TemplateValues<'a> {
    reference: &'a str,
    donor_name: Option<&'a str>,
    donor_email: &'a str,
    items: &'a [ItemLine],
    received_subject: &'a str,
    desk_name: &'a str,
    desk_address: String,
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

/// What the templates produced for one reply, before it becomes a message.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
}

impl Composer {
    /// Loads the templates from `dir` (or the built-in ones) and renders each
    /// once with sample values, so a broken template stops the start, not a send.
    pub fn new(
        dir: Option<&Path>,
        desk_address: &str,
        desk_name: &str,
        message_id_domain: Option<&str>,
    ) -> Result<Composer, TemplateError> {
        let mut env = Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        let sources = match dir {
            Some(dir) => read_dir(dir)?,
            None => EMBEDDED
                .iter()
                .map(|(n, s)| (n.to_string(), s.to_string()))
                .collect(),
        };
        for (name, source) in sources {
            env.add_template_owned(name.clone(), source)
                .map_err(|e| template_error(&name, &e))?;
        }
        let from = Mailbox::new(
            Some(header_safe(desk_name)),
            desk_address
                .parse()
                .map_err(|_| TemplateError::Address(desk_address.into()))?,
        );
        let domain = message_id_domain.map(str::to_string).unwrap_or_else(|| {
            desk_address
                .rsplit('@')
                .next()
                .unwrap_or("localhost")
                .to_string()
        });
        let composer = Composer {
            env,
            from,
            desk_name: desk_name.to_string(),
            message_id_domain: domain,
        };
        composer.check_all()?;
        Ok(composer)
    }

    /// The names of the loaded templates, sorted.
    pub fn template_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.env.templates().map(|(n, _)| n.to_string()).collect();
        names.sort();
        names
    }

    /// Renders every template with sample values: with items (one without a
    /// quantity) and without, with something missing and nothing missing.
    fn check_all(&self) -> Result<(), TemplateError> {
        let names = self.template_names();
        if !names.iter().any(|n| n == "ack.en.txt") {
            return Err(TemplateError::Missing("ack.en.txt".into()));
        }
        for name in names.iter().filter(|n| n.ends_with(".html")) {
            let text = format!("{}.txt", name.trim_end_matches(".html"));
            if !names.contains(&text) {
                return Err(TemplateError::HtmlWithoutText(name.clone(), text));
            }
        }
        let counted = ItemLine {
            item: "n95_respirator".into(),
            quantity: Some(2000.0),
            unit: Some("each".into()),
            text: "2,000 N95 respirators".into(),
        };
        let uncounted = ItemLine {
            item: "isolation_gown".into(),
            quantity: None,
            unit: None,
            text: "isolation gowns".into(),
        };
        for items in [vec![counted, uncounted], vec![]] {
            for name in &names {
                let mut parts = name.split('.');
                let (kind, lang) = (parts.next().unwrap_or(""), parts.next().unwrap_or("en"));
                let values = self.values_for_check(&items, lang);
                let full = sample_extra(kind);
                // Each value also empty: the web passes "" for what staff left out.
                let empty = full.keys().map(|k| (k.clone(), String::new())).collect();
                for extra in [full, empty] {
                    self.render_one(name, &values, &extra)?;
                }
            }
        }
        Ok(())
    }

    fn values_for_check<'a>(&'a self, items: &'a [ItemLine], lang: &'a str) -> TemplateValues<'a> {
        TemplateValues {
            reference: "SL-000001",
            donor_name: Some("Sample Donor"),
            donor_email: "donor@example.org",
            items,
            received_subject: "Sample",
            desk_name: &self.desk_name,
            desk_address: self.from.email.to_string(),
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
            self.render_named(name, values, extra).map(drop)
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
    fn render_named(
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

    /// Renders the reply's subject, text and HTML, without building a message.
    pub fn render(
        &self,
        ctx: &ReplyContext,
        extra: &BTreeMap<String, String>,
    ) -> Result<Rendered, TemplateError> {
        let chosen = self.choose(&ctx.kind, ctx.language.as_deref())?;
        // A name is one line of text wherever it appears.
        let donor_name = ctx.donor_name.as_deref().map(header_safe);
        let values = TemplateValues {
            reference: &ctx.reference,
            donor_name: donor_name.as_deref(),
            donor_email: &ctx.donor_email,
            items: &ctx.items,
            received_subject: &ctx.received_subject,
            desk_name: &self.desk_name,
            desk_address: self.from.email.to_string(),
            language: &chosen.language,
        };
        let (subject, text) = self.render_named(&chosen.text, &values, extra)?;
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

    /// Renders the reply and builds the whole message, ready to enqueue.
    pub fn compose(&self, ctx: &ReplyContext) -> Result<NewReply, TemplateError> {
        self.compose_kind(ctx, &BTreeMap::new())
    }

    /// Like [`compose`](Self::compose), with `extra` values for the template
    /// (see [`DECISION_VALUES`] and [`LIST_VALUES`]): a staff decision's
    /// pickup site and window, a decline reason, what is missing. They take
    /// part in the Message-ID and dedup key, so a rescheduled pickup is a
    /// new reply and a retry is the same one.
    pub fn compose_kind(
        &self,
        ctx: &ReplyContext,
        extra: &BTreeMap<String, String>,
    ) -> Result<NewReply, TemplateError> {
        let rendered = self.render(ctx, extra)?;
        let variant = variant_digest(extra);
        let message_id = self.message_id(ctx, variant.as_deref());
        let invite = self.invite(ctx, extra, &rendered, &message_id);
        let builder = self.headers(ctx, &rendered.subject, &message_id)?;
        let message = with_body(builder, &rendered, invite)?;
        Ok(NewReply {
            kind: ctx.kind.clone(),
            dedup_key: Some(match &variant {
                Some(v) => format!("{}:{}:{v}", ctx.kind, ctx.offer_id),
                None => format!("{}:{}", ctx.kind, ctx.offer_id),
            }),
            rfc_message_id: message_id,
            to_address: ctx.donor_email.clone(),
            subject: rendered.subject,
            raw: message.formatted(),
            automatic: true,
        })
    }

    /// From, Reply-To (the donations address), To, Subject, Message-ID,
    /// Auto-Submitted and the thread headers; donor text made header-safe.
    fn headers(
        &self,
        ctx: &ReplyContext,
        subject: &str,
        message_id: &str,
    ) -> Result<MessageBuilder, TemplateError> {
        let to = Mailbox::new(
            ctx.donor_name.as_deref().map(header_safe),
            ctx.donor_email
                .parse()
                .map_err(|_| TemplateError::Address(ctx.donor_email.clone()))?,
        );
        let mut builder = Message::builder()
            .from(self.from.clone())
            .reply_to(self.from.clone())
            .to(to)
            .subject(header_safe(subject))
            .message_id(Some(format!("<{message_id}>")))
            .header(AutoSubmitted("auto-replied".into()));
        if let Some(parent) = &ctx.in_reply_to {
            builder = builder.in_reply_to(format!("<{}>", header_safe(parent)));
        }
        let mut refs: Vec<String> = ctx
            .references
            .iter()
            .map(|r| format!("<{}>", header_safe(r)))
            .collect();
        if let Some(parent) = &ctx.in_reply_to {
            refs.push(format!("<{}>", header_safe(parent)));
        }
        if !refs.is_empty() {
            builder = builder.references(refs.join(" "));
        }
        Ok(builder)
    }

    /// The `.ics` invite of a pickup reply whose window reads as a date and
    /// times; `None` for other kinds or a window in free text.
    fn invite(
        &self,
        ctx: &ReplyContext,
        extra: &BTreeMap<String, String>,
        rendered: &Rendered,
        message_id: &str,
    ) -> Option<Invite> {
        if ctx.kind != "pickup" {
            return None;
        }
        let value = |k: &str| extra.get(k).map(|v| v.trim()).unwrap_or("");
        let (start, end) = ics::parse_window(value("pickup_window"))?;
        let location = [value("pickup_site"), value("pickup_address")]
            .into_iter()
            .filter(|v| !v.is_empty())
            .collect::<Vec<_>>()
            .join(", ");
        let event = ics::PickupEvent {
            uid: message_id.to_string(),
            start,
            end,
            summary: header_safe(&rendered.subject),
            location,
            description: format!("{}\n\n{}", ctx.reference, rendered.text.trim()),
            organizer: self.from.email.to_string(),
        };
        Some(Invite {
            filename: format!("{}.ics", ctx.reference),
            content: event.to_ics(chrono::Utc::now().naive_utc()),
        })
    }

    /// A Message-ID that is the same for the same reply to the same message,
    /// so a retry after a crash is recognisable.
    fn message_id(&self, ctx: &ReplyContext, variant: Option<&str>) -> String {
        let mut h = Sha256::new();
        if let Some(v) = variant {
            h.update(v.as_bytes());
            h.update([0]);
        }
        h.update(ctx.kind.as_bytes());
        h.update([0]);
        h.update(ctx.reference.as_bytes());
        h.update([0]);
        h.update(ctx.in_reply_to.as_deref().unwrap_or("").as_bytes());
        let digest = hex::encode(&h.finalize()[..8]);
        format!(
            "{}.{}.{digest}@{}",
            ctx.kind,
            ctx.reference.to_ascii_lowercase(),
            self.message_id_domain
        )
    }
}

/// A calendar file to attach.
struct Invite {
    filename: String,
    content: String,
}

/// The body: text alone; text and HTML as multipart/alternative; and with
/// an invite, that inside multipart/mixed with the `.ics` after it.
fn with_body(
    builder: MessageBuilder,
    rendered: &Rendered,
    invite: Option<Invite>,
) -> Result<Message, TemplateError> {
    let build = |e: lettre::error::Error| TemplateError::Build(e.to_string());
    let text = rendered.text.clone();
    let readable = match &rendered.html {
        Some(html) => Readable::Both(MultiPart::alternative_plain_html(text, html.clone())),
        None => Readable::Text(SinglePart::plain(text)),
    };
    let Some(invite) = invite else {
        return match readable {
            Readable::Both(alt) => builder.multipart(alt),
            Readable::Text(part) => builder.singlepart(part),
        }
        .map_err(build);
    };
    let calendar = ContentType::parse("text/calendar; charset=utf-8; method=PUBLISH")
        .map_err(|e| TemplateError::Build(e.to_string()))?;
    let attachment = Attachment::new(invite.filename).body(invite.content, calendar);
    let mixed = match readable {
        Readable::Both(alt) => MultiPart::mixed().multipart(alt),
        Readable::Text(part) => MultiPart::mixed().singlepart(part),
    };
    builder
        .multipart(mixed.singlepart(attachment))
        .map_err(build)
}

enum Readable {
    Text(SinglePart),
    Both(MultiPart),
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

/// A short digest of the extra values, `None` when there are none.
fn variant_digest(extra: &BTreeMap<String, String>) -> Option<String> {
    if extra.is_empty() {
        return None;
    }
    let mut h = Sha256::new();
    for (k, v) in extra {
        h.update(k.as_bytes());
        h.update([0]);
        h.update(v.as_bytes());
        h.update([0]);
    }
    Some(hex::encode(&h.finalize()[..6]))
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

/// Text safe for a header: control characters (CR and LF first) become spaces.
pub fn header_safe(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_string()
}

/// `Auto-Submitted: auto-replied` (RFC 3834) on every reply of ours.
#[derive(Debug, Clone)]
struct AutoSubmitted(String);

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoSubmitted(s.to_string()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> ReplyContext {
        ReplyContext {
            kind: "ack".into(),
            offer_id: 7,
            reference: "SL-000007".into(),
            donor_email: "ana@example.org".into(),
            donor_name: Some("Ana\r\nBcc: evil@example.org".into()),
            language: Some("es".into()),
            items: vec![ItemLine {
                item: "exam_gloves".into(),
                quantity: Some(3.0),
                unit: Some("box".into()),
                text: "3 cajas de guantes de examen".into(),
            }],
            received_subject: "Donación {{ 7*7 }}".into(),
            in_reply_to: Some("abc@donor.example".into()),
            references: vec![],
        }
    }

    fn composer() -> Composer {
        Composer::new(None, "donations@city.example", "City Donations", None).unwrap()
    }

    #[test]
    fn builtin_templates_load() {
        composer();
    }

    #[test]
    fn reply_is_threaded_marked_and_in_the_donors_language() {
        let reply = composer().compose(&ctx()).unwrap();
        let raw = String::from_utf8(reply.raw.clone()).unwrap();
        assert!(raw.contains("Auto-Submitted: auto-replied"), "{raw}");
        assert!(raw.contains("In-Reply-To: <abc@donor.example>"), "{raw}");
        assert!(raw.contains("References: <abc@donor.example>"), "{raw}");
        assert!(reply.subject.contains("SL-000007"));
        assert!(reply.subject.starts_with("Recibimos"));
        assert_eq!(reply.dedup_key.as_deref(), Some("ack:7"));
    }

    #[test]
    fn donor_text_never_breaks_a_header_nor_runs_as_template() {
        let reply = composer().compose(&ctx()).unwrap();
        let raw = String::from_utf8(reply.raw).unwrap();
        let (head, body) = raw.split_once("\r\n\r\n").unwrap();
        assert!(!head.lines().any(|l| l.starts_with("Bcc:")), "{head}");
        assert!(!body.lines().any(|l| l.starts_with("Bcc:")), "{body}");
        // The subject's `{{ 7*7 }}` is printed as written, never evaluated
        // (the Date header may well contain "49", so look at the text only).
        let rendered = composer().render(&ctx(), &BTreeMap::new()).unwrap();
        assert!(rendered.text.contains("{{ 7*7 }}"), "{}", rendered.text);
        assert!(!rendered.text.contains("49"), "{}", rendered.text);
    }

    #[test]
    fn message_id_is_stable() {
        let c = composer();
        assert_eq!(
            c.compose(&ctx()).unwrap().rfc_message_id,
            c.compose(&ctx()).unwrap().rfc_message_id
        );
    }

    #[test]
    fn unknown_language_falls_back_to_english() {
        let mut x = ctx();
        x.language = Some("es-MX".into());
        assert!(composer()
            .compose(&x)
            .unwrap()
            .subject
            .starts_with("Recibimos"));
        x.language = Some("tl".into());
        assert!(composer()
            .compose(&x)
            .unwrap()
            .subject
            .starts_with("We received"));
    }

    #[test]
    fn pickup_carries_the_slot_and_differs_per_slot() {
        let mut x = ctx();
        x.kind = "pickup".into();
        x.language = Some("en".into());
        let mut extra: BTreeMap<String, String> = DECISION_VALUES
            .iter()
            .map(|k| (k.to_string(), String::new()))
            .collect();
        extra.insert("pickup_site".into(), "Main {{ depot }}".into());
        extra.insert("pickup_window".into(), "2026-05-01 09:00-11:00".into());
        let c = composer();
        let a = c.compose_kind(&x, &extra).unwrap();
        let raw = String::from_utf8(a.raw.clone()).unwrap();
        assert!(raw.contains("Main {{ depot }}"), "{raw}");
        assert!(raw.contains("2026-05-01 09:00-11:00"), "{raw}");
        extra.insert("pickup_window".into(), "2026-05-02 09:00-11:00".into());
        let b = c.compose_kind(&x, &extra).unwrap();
        assert_ne!(a.rfc_message_id, b.rfc_message_id);
        assert_ne!(a.dedup_key, b.dedup_key);
    }

    #[test]
    fn broken_template_names_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("ack.en.txt"),
            "Subject: x\n\nline two\n{% for %}\n",
        )
        .unwrap();
        let err = Composer::new(Some(dir.path()), "d@x.example", "D", None)
            .err()
            .unwrap()
            .to_string();
        assert!(err.starts_with("ack.en.txt:4:"), "{err}");
    }

    /// The leaf parts of a raw message: (content type, decoded contents).
    fn leaves(raw: &[u8]) -> Vec<(String, String)> {
        use mail_parser::MimeHeaders;
        let msg = mail_parser::MessageParser::default().parse(raw).unwrap();
        msg.parts
            .iter()
            .filter_map(|p| {
                let ct = p.content_type()?;
                let full = format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or(""));
                (!p.is_multipart())
                    .then(|| (full, String::from_utf8_lossy(p.contents()).to_string()))
            })
            .collect()
    }

    fn part<'a>(parts: &'a [(String, String)], ctype: &str) -> &'a str {
        parts
            .iter()
            .find(|(t, _)| t == ctype)
            .map(|(_, c)| c.as_str())
            .unwrap_or_else(|| panic!("no {ctype} part in {parts:?}"))
    }

    fn pickup_values() -> BTreeMap<String, String> {
        let mut extra = sample_extra("pickup");
        extra.insert(
            "pickup_window".into(),
            "Friday 1 May 2026 09:00–11:30".into(),
        );
        extra
    }

    #[test]
    fn text_and_html_travel_as_multipart_alternative() {
        let reply = composer().compose(&ctx()).unwrap();
        let raw = String::from_utf8(reply.raw.clone()).unwrap();
        let (head, _) = raw.split_once("\r\n\r\n").unwrap();
        assert!(head.contains("multipart/alternative"), "{head}");
        let parts = leaves(&reply.raw);
        assert_eq!(parts.len(), 2, "{parts:?}");
        assert!(part(&parts, "text/plain").contains("3 cajas de guantes de examen"));
        let html = part(&parts, "text/html");
        assert!(html.contains("<html lang=\"es\">"), "{html}");
        assert!(html.contains("3 cajas de guantes de examen"), "{html}");
    }

    #[test]
    fn pickup_attaches_a_calendar_invite() {
        let mut x = ctx();
        x.kind = "pickup".into();
        let reply = composer().compose_kind(&x, &pickup_values()).unwrap();
        let raw = String::from_utf8(reply.raw.clone()).unwrap();
        assert!(raw.contains("multipart/mixed"), "{raw}");
        assert!(raw.contains("method=PUBLISH"), "{raw}");
        assert!(raw.contains("filename=\"SL-000007.ics\""), "{raw}");
        let parts = leaves(&reply.raw);
        assert_eq!(parts.len(), 3, "{parts:?}");
        let ics = part(&parts, "text/calendar").replace("\r\n ", "");
        for want in [
            format!("UID:{}", reply.rfc_message_id),
            "DTSTART:20260501T090000".to_string(),
            "DTEND:20260501T113000".to_string(),
            "LOCATION:Central depot\\, 100 Main St\\, Torrance CA 90501".to_string(),
            format!("SUMMARY:{}", reply.subject),
        ] {
            assert!(ics.contains(&format!("{want}\r\n")), "{want}\n{ics}");
        }
        assert!(ics.contains("DESCRIPTION:SL-000007\\n"), "{ics}");
        assert!(part(&parts, "text/html").contains("Central depot"));
    }

    #[test]
    fn pickup_window_in_free_text_sends_no_invite() {
        let mut x = ctx();
        x.kind = "pickup".into();
        let mut extra = pickup_values();
        extra.insert("pickup_window".into(), "any weekday morning".into());
        let reply = composer().compose_kind(&x, &extra).unwrap();
        let parts = leaves(&reply.raw);
        assert!(parts.iter().all(|(t, _)| t != "text/calendar"), "{parts:?}");
        assert!(part(&parts, "text/plain").contains("any weekday morning"));
    }

    #[test]
    fn donor_markup_is_escaped_in_the_html_part() {
        let mut x = ctx();
        x.donor_name = Some("<script>alert(1)</script>".into());
        x.items[0].text = "3 <script>boxes</script> & <b>gloves</b>".into();
        x.received_subject = "<img src=x onerror=alert(2)>".into();
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
        assert!(part(&parts, "text/plain").contains("3 <script>boxes</script>"));
    }

    #[test]
    fn no_cr_or_lf_reaches_a_header() {
        let mut x = ctx();
        x.donor_name = Some("Ana\r\nBcc: evil@example.org\nX-Evil: 1\r".into());
        x.in_reply_to = Some("abc@donor.example>\r\nBcc: evil@example.org".into());
        x.references = vec!["r1@x.example\nX-Evil: 2".into()];
        x.kind = "pickup".into();
        let reply = composer().compose_kind(&x, &pickup_values()).unwrap();
        let raw = String::from_utf8(reply.raw).unwrap();
        let (head, _) = raw.split_once("\r\n\r\n").unwrap();
        for line in head.split("\r\n") {
            assert!(!line.contains(['\r', '\n']), "{line:?}");
            assert!(
                !line.starts_with("Bcc:") && !line.starts_with("X-Evil:"),
                "{head}"
            );
        }
        assert!(
            head.contains("Reply-To: \"City Donations\" <donations@city.example>")
                || head.contains("Reply-To: City Donations <donations@city.example>"),
            "{head}"
        );
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
        x.kind = "thanks".into();
        let reply = c.compose(&x).unwrap();
        let parts = leaves(&reply.raw);
        assert!(reply.subject.starts_with("Thank you"));
        assert!(part(&parts, "text/html").contains("Arrived SL-000007"));
    }

    #[test]
    fn every_builtin_kind_renders_in_every_language() {
        let c = composer();
        for kind in KINDS {
            for lang in ["en", "es", "zh"] {
                let mut x = ctx();
                x.kind = kind.to_string();
                x.language = Some(lang.into());
                let r = c.render(&x, &sample_extra(kind)).unwrap();
                assert!(
                    r.subject.contains("SL-000007"),
                    "{kind}.{lang}: {}",
                    r.subject
                );
                let html = r.html.unwrap();
                assert!(html.contains(&format!("lang=\"{lang}\"")), "{kind}.{lang}");
                assert!(html.contains("SL-000007") && r.text.contains("SL-000007"));
            }
        }
    }

    #[test]
    fn needs_info_asks_exactly_for_what_is_missing() {
        let c = composer();
        let mut x = ctx();
        x.kind = "needs_info".into();
        x.language = Some("en".into());
        x.items.push(ItemLine {
            item: "isolation_gown".into(),
            quantity: None,
            unit: None,
            text: "isolation gowns".into(),
        });
        let both = c.render(&x, &sample_extra("needs_info")).unwrap();
        assert!(both.text.contains("How many?"), "{}", both.text);
        assert!(both.text.contains("- isolation gowns"), "{}", both.text);
        // Every item as understood is listed once; the question names only
        // the one without a quantity.
        assert!(both.text.contains("- 3 cajas"), "{}", both.text);
        let question = both.text.split("How many?").nth(1).unwrap();
        assert!(!question.contains("3 cajas"), "{question}");
        assert!(both.text.contains("street address"), "{}", both.text);
        let only_address =
            super::super::needs::extra_values(&[super::super::needs::Missing::PickupAddress]);
        let one = c.render(&x, &only_address).unwrap();
        assert!(!one.text.contains("How many?"), "{}", one.text);
        assert!(one.text.contains("one more detail"), "{}", one.text);
        assert!(one.html.unwrap().contains("street address"));
    }

    #[test]
    fn a_template_using_another_kinds_value_fails_at_start() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("ack.en.txt"),
            "Subject: x\n\nCome to\n{{ pickup_site }}\n",
        )
        .unwrap();
        let err = Composer::new(Some(dir.path()), "d@x.example", "D", None)
            .err()
            .unwrap()
            .to_string();
        assert!(err.starts_with("ack.en.txt:4:"), "{err}");
    }

    #[test]
    fn a_broken_html_template_names_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ack.en.txt"), "Subject: x\n\nok\n").unwrap();
        std::fs::write(dir.path().join("ack.en.html"), "<p>\n{{ nope }}\n</p>\n").unwrap();
        std::fs::write(dir.path().join("ack.fr.html"), "<p>x</p>\n").unwrap();
        let err = Composer::new(Some(dir.path()), "d@x.example", "D", None)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.starts_with("ack.fr.html:1:") || err.starts_with("ack.en.html:2:"),
            "{err}"
        );
        std::fs::remove_file(dir.path().join("ack.fr.html")).unwrap();
        let err = Composer::new(Some(dir.path()), "d@x.example", "D", None)
            .err()
            .unwrap()
            .to_string();
        assert!(err.starts_with("ack.en.html:2:"), "{err}");
    }
}
