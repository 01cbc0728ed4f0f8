//! Replies to donors: whether one is due ([`policy`]), what it says
//! ([`compose`], from the templates, with a calendar invite from [`ics`] for
//! pickups; [`needs`] decides what a `needs_info` reply asks for), and
//! getting it delivered ([`send`]).
//!
//! Owns: the RFC 3834 rules, template loading and rendering, Message-IDs of
//! our replies, the SMTP (or folder) transport, and retry with backoff.
//! Does not own: the outbox table (that is `store::outbox`).

pub mod compose;
pub mod ics;
pub mod labels;
pub mod needs;
pub mod policy;
pub mod preview;
pub mod send;

pub use compose::{Composer, ReplyContext, TemplateError};
pub use policy::{auto_reply_block, NoReply};
pub use send::{backoff_delay, RetryPolicy, SendOutcome, Sender, Transport};
