//! Replies to donors: whether one is due and to whom ([`policy`], with
//! [`sender_auth`] and [`recipient`]), what it is about
//! ([`context`]), which kinds there are and what each is given ([`kinds`]),
//! what it says ([`templates`], with [`labels`] for items in the donor's
//! language and [`needs`] deciding what a `needs_info` reply asks for), the
//! message that carries it ([`message`], with a calendar invite from [`ics`]
//! for pickups; [`compose`] does both), and getting it delivered ([`send`]).
//!
//! Owns: the RFC 3834 rules, template loading and rendering, Message-IDs of
//! our replies, the SMTP (or folder) transport, and retry with backoff.
//! Does not own: the outbox table (that is `store::outbox`).

pub mod compose;
pub mod context;
pub mod dates;
pub mod ics;
pub mod kinds;
pub mod labels;
pub mod message;
pub mod needs;
pub mod policy;
pub mod preview;
pub mod recipient;
pub mod send;
pub mod sender_auth;
pub mod templates;

pub use compose::Composer;
pub use context::{ItemLine, ReplyContext, ReplyItem};
pub use policy::{auto_reply_block, NoReply, ReplyPolicy};
pub use send::{Connection, RetryPolicy, SendOutcome, Sender, SmtpServer, SmtpStep, Transport};
pub use templates::{Rendered, TemplateError};
