//! [`Composer`], the one handle the stages and the web hold to turn a
//! [`ReplyContext`] into a whole reply: it renders the templates
//! ([`super::templates`]) and builds the message ([`super::message`]).
//! Built once at start, which is when template errors show.

use std::collections::BTreeMap;
use std::path::Path;

use lettre::message::Mailbox;

use super::context::{ItemLine, ReplyContext, ReplyItem};
use super::message::{header_safe, Letterhead};
use super::templates::{Rendered, TemplateError, Templates};
use crate::rules::ReplyNames;
use crate::store::NewReply;

/// Renders replies and builds their messages.
pub struct Composer {
    templates: Templates,
    letterhead: Letterhead,
}

impl Composer {
    /// Loads the templates from `dir` (or the built-in ones) and checks them;
    /// replies come from `desk_name <desk_address>`, with Message-IDs in
    /// `message_id_domain` (else the desk address's domain). Items are named
    /// as in the built-in rules ([`Composer::with_names`] for others).
    pub fn new(
        dir: Option<&Path>,
        desk_address: &str,
        desk_name: &str,
        message_id_domain: Option<&str>,
    ) -> Result<Composer, TemplateError> {
        let names = ReplyNames::embedded().map_err(TemplateError::Names)?;
        Composer::with_names(dir, desk_address, desk_name, message_id_domain, names)
    }

    /// Like [`Composer::new`], naming items as `names` says (the operator's
    /// rule files).
    pub fn with_names(
        dir: Option<&Path>,
        desk_address: &str,
        desk_name: &str,
        message_id_domain: Option<&str>,
        names: ReplyNames,
    ) -> Result<Composer, TemplateError> {
        let from = Mailbox::new(
            Some(header_safe(desk_name)),
            desk_address
                .parse()
                .map_err(|_| TemplateError::Address(desk_address.into()))?,
        );
        let templates = Templates::load(dir, from.email.as_ref(), desk_name, names)?;
        let domain = message_id_domain.map(str::to_string).unwrap_or_else(|| {
            desk_address
                .rsplit('@')
                .next()
                .unwrap_or("localhost")
                .to_string()
        });
        Ok(Composer {
            templates,
            letterhead: Letterhead {
                from,
                message_id_domain: domain,
                message_id_key: rand::random(),
            },
        })
    }

    /// The names of the loaded templates, sorted.
    pub fn template_names(&self) -> Vec<String> {
        self.templates.names()
    }

    /// The language replies to a donor writing in `lang` are in (English
    /// when `lang` has no templates).
    pub fn reply_language(&self, lang: Option<&str>) -> String {
        self.templates.reply_language(lang)
    }

    /// An offer's items as a reply in `lang` lists them: "2,000 N95 respirators".
    pub fn item_lines(&self, items: &[ReplyItem], lang: &str) -> Vec<ItemLine> {
        self.templates.item_lines(items, lang)
    }

    /// Renders the reply's subject, text and HTML, without building a message.
    pub fn render(
        &self,
        ctx: &ReplyContext,
        extra: &BTreeMap<String, String>,
    ) -> Result<Rendered, TemplateError> {
        self.templates.render(ctx, extra)
    }

    /// Renders the reply and builds the whole message, ready to enqueue.
    pub fn compose(&self, ctx: &ReplyContext) -> Result<NewReply, TemplateError> {
        self.compose_kind(ctx, &BTreeMap::new())
    }

    /// Like [`compose`](Self::compose), with `extra` values for the template
    /// (see [`DECISION_VALUES`](super::kinds::DECISION_VALUES) and
    /// [`LIST_VALUES`](super::kinds::LIST_VALUES)): a staff decision's pickup
    /// site and window, a decline reason, what is missing. They take part in
    /// the Message-ID and dedup key, so a rescheduled pickup is a new reply
    /// and a retry is the same one.
    pub fn compose_kind(
        &self,
        ctx: &ReplyContext,
        extra: &BTreeMap<String, String>,
    ) -> Result<NewReply, TemplateError> {
        let rendered = self.templates.render(ctx, extra)?;
        self.letterhead.build(ctx, extra, rendered)
    }
}

/// What the tests of templates and messages share: a reply context, a
/// composer with the built-in templates, and a look inside built messages.
#[cfg(test)]
pub(super) mod samples {
    use std::collections::BTreeMap;

    use super::Composer;
    use crate::outbox::context::{ReplyContext, ReplyItem};
    use crate::outbox::kinds::ReplyKind;

    pub fn ctx() -> ReplyContext {
        ReplyContext {
            kind: ReplyKind::Ack,
            offer_id: 7,
            reference: "SL-000007".into(),
            donor_email: "ana@example.org".into(),
            donor_name: Some("Ana\r\nBcc: evil@example.org".into()),
            language: Some("es".into()),
            items: vec![ReplyItem {
                item: "exam_gloves".into(),
                quantity: Some(3.0),
                unit: Some("box".into()),
                model: None,
            }],
            in_reply_to: Some("abc@donor.example".into()),
            references: vec![],
        }
    }

    pub fn composer() -> Composer {
        Composer::new(None, "donations@city.example", "City Donations", None).unwrap()
    }
    /// The leaf parts of a raw message: (content type, decoded contents).
    pub fn leaves(raw: &[u8]) -> Vec<(String, String)> {
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

    pub fn part<'a>(parts: &'a [(String, String)], ctype: &str) -> &'a str {
        parts
            .iter()
            .find(|(t, _)| t == ctype)
            .map(|(_, c)| c.as_str())
            .unwrap_or_else(|| panic!("no {ctype} part in {parts:?}"))
    }

    pub fn pickup_values() -> BTreeMap<String, String> {
        let mut extra = ReplyKind::Pickup.sample_extra();
        extra.insert(
            "pickup_window".into(),
            "Friday 1 May 2026 09:00–11:30".into(),
        );
        extra
    }
}

#[cfg(test)]
mod tests {
    use super::samples::composer;

    #[test]
    fn builtin_templates_load() {
        composer();
    }
}
