//! Building the RFC 5322 message of a rendered reply with lettre: From and
//! Reply-To (the donations address), To, Subject, a stable Message-ID,
//! `Auto-Submitted: auto-replied` (RFC 3834), In-Reply-To and References;
//! the body as text alone, text and HTML as multipart/alternative, and for
//! a pickup whose window reads as a date and times, that inside
//! multipart/mixed with the `.ics` invite ([`super::ics`]) after it.
//!
//! Headers are built by lettre, which encodes them; CR and LF are removed
//! from anything that goes into a header first ([`header_safe`]).
//!
//! Owns: headers, Message-IDs and dedup keys of our replies, the MIME
//! structure. Does not own: what the text says ([`super::templates`]).

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MessageBuilder, MultiPart, SinglePart};
use lettre::Message;
use sha2::{Digest, Sha256};

use super::context::ReplyContext;
use super::ics;
use super::kinds::ReplyKind;
use super::templates::{Rendered, TemplateError};
use crate::store::NewReply;

/// Who our replies come from, and the domain of their Message-IDs.
pub struct Letterhead {
    pub from: Mailbox,
    pub message_id_domain: String,
    /// A secret of this process that takes part in every Message-ID, so no
    /// one can guess the Message-ID of a reply we sent and join its thread.
    /// The reply is stored whole when enqueued, so a retry, even after a
    /// restart, sends the same Message-ID.
    pub message_id_key: [u8; 32],
}

impl Letterhead {
    /// The reply's whole message, ready to enqueue. `extra` takes part in
    /// the Message-ID and dedup key, so a rescheduled pickup is a new reply
    /// and a retry is the same one.
    pub fn build(
        &self,
        ctx: &ReplyContext,
        extra: &BTreeMap<String, String>,
        rendered: Rendered,
    ) -> Result<NewReply, TemplateError> {
        let variant = variant_digest(extra);
        let message_id = self.message_id(ctx, variant.as_deref());
        let invite = self.invite(ctx, extra, &rendered, &message_id);
        let builder = self.headers(ctx, &rendered.subject, &message_id)?;
        let message = with_body(builder, &rendered, invite)?;
        Ok(NewReply {
            kind: ctx.kind,
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
        let cancelled = match ctx.kind {
            ReplyKind::Pickup | ReplyKind::Collection => false,
            ReplyKind::Cancellation => true,
            _ => return None,
        };
        let value = |k: &str| extra.get(k).map(|v| v.trim()).unwrap_or("");
        // A booked slot keeps one event for its whole life (see `crate::slots`).
        let uid = match value(crate::slots::CALENDAR_UID) {
            "" => message_id.to_string(),
            uid => uid.to_string(),
        };
        let sequence = value(crate::slots::CALENDAR_SEQUENCE).parse().unwrap_or(0);
        // A site with a time zone gives the instants (#16); else the window's
        // floating times.
        let utc = |k: &str| NaiveDateTime::parse_from_str(value(k), "%Y%m%dT%H%M%SZ").ok();
        let (start, end, utc) = match (
            utc(crate::slots::CALENDAR_START),
            utc(crate::slots::CALENDAR_END),
        ) {
            (Some(start), Some(end)) => (start, end, true),
            _ => {
                let (start, end) = ics::parse_window(value("pickup_window"))?;
                (start, end, false)
            }
        };
        let location = [value("pickup_site"), value("pickup_address")]
            .into_iter()
            .filter(|v| !v.is_empty())
            .collect::<Vec<_>>()
            .join(", ");
        let event = ics::PickupEvent {
            uid,
            start,
            end,
            summary: header_safe(&rendered.subject),
            location,
            description: format!("{}\n\n{}", ctx.reference, rendered.text.trim()),
            organizer: self.from.email.to_string(),
            sequence,
            cancelled,
            utc,
        };
        Some(Invite {
            method: event.method(),
            filename: format!("{}.ics", ctx.reference),
            content: event.to_ics(chrono::Utc::now().naive_utc()),
        })
    }

    /// A Message-ID that is the same for the same reply to the same message
    /// (while this process runs), and that only its recipients know.
    fn message_id(&self, ctx: &ReplyContext, variant: Option<&str>) -> String {
        let mut h = Sha256::new();
        h.update(self.message_id_key);
        if let Some(v) = variant {
            h.update(v.as_bytes());
            h.update([0]);
        }
        h.update(ctx.kind.as_str().as_bytes());
        h.update([0]);
        h.update(ctx.reference.as_bytes());
        h.update([0]);
        h.update(ctx.in_reply_to.as_deref().unwrap_or("").as_bytes());
        let digest = hex::encode(&h.finalize()[..16]);
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
    method: &'static str,
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
    let calendar = ContentType::parse(&format!(
        "text/calendar; charset=utf-8; method={}",
        invite.method
    ))
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
    use std::collections::BTreeMap;

    use super::super::compose::samples::{composer, ctx, leaves, part, pickup_values};
    use super::super::kinds::{ReplyKind, DECISION_VALUES};

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
        // Donor text's `{{ 7*7 }}` is printed as written, never evaluated
        // (the Date header may well contain "49", so look at the text only).
        let mut x = ctx();
        x.items[0].model = Some("Donación {{ 7*7 }}".into());
        let rendered = composer().render(&x, &BTreeMap::new()).unwrap();
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
    fn pickup_carries_the_slot_and_differs_per_slot() {
        let mut x = ctx();
        x.kind = ReplyKind::Pickup;
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
        x.kind = ReplyKind::Pickup;
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
        x.kind = ReplyKind::Pickup;
        let mut extra = pickup_values();
        extra.insert("pickup_window".into(), "any weekday morning".into());
        let reply = composer().compose_kind(&x, &extra).unwrap();
        let parts = leaves(&reply.raw);
        assert!(parts.iter().all(|(t, _)| t != "text/calendar"), "{parts:?}");
        assert!(part(&parts, "text/plain").contains("any weekday morning"));
    }

    #[test]
    fn no_cr_or_lf_reaches_a_header() {
        let mut x = ctx();
        x.donor_name = Some("Ana\r\nBcc: evil@example.org\nX-Evil: 1\r".into());
        x.in_reply_to = Some("abc@donor.example>\r\nBcc: evil@example.org".into());
        x.references = vec!["r1@x.example\nX-Evil: 2".into()];
        x.kind = ReplyKind::Pickup;
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
}
