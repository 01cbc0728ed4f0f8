//! Helpers for integration tests against real servers.
//!
//! Use from a test file directly in `tests/` with `mod common;`, or from a
//! test binary in a folder (such as `tests/integration/main.rs`) with
//! `#[path = "../common/mod.rs"] mod common;`.
//!
//! - [`mail_stack()`] starts Dovecot (IMAP, IMAPS, LMTP) and OpenSMTPD once per
//!   test process through `scripts/mail-stack`; see [`mail_stack`](mod@mail_stack).
//! - [`imap`] reads and writes mailboxes: [`append`], [`fetch_all`],
//!   [`wait_for_count`], [`create_mailbox`], and raw sessions.
//! - [`smtp`] sends mail through the stack's SMTP port: [`send_raw`],
//!   [`send_message`].
//! - [`proxy`] puts a TCP proxy in front of a server that cuts connections
//!   on demand, or in the middle of a literal: [`CutProxy`].
//! - [`tls_proxy`] puts TLS (implicit or STARTTLS) in front of the stack's
//!   plaintext SMTP port with the stack's certificate: [`SmtpTlsProxy`].
//! - [`oauth`] serves a small OAuth2 provider (token, device and
//!   introspection endpoints) that Dovecot checks tokens with: [`oauth_provider`].
//! - [`postgres()`] starts one PostgreSQL per test process through
//!   `scripts/pg-stack`; [`fresh_database`] gives a test its own database;
//!   [`postgres_ssl()`] is a second one with TLS on.
#![allow(dead_code, unused_imports)]

pub mod imap;
pub mod mail_stack;
pub mod oauth;
pub mod postgres;
pub mod proxy;
pub mod scripts;
pub mod smtp;
pub mod tls_proxy;

pub use imap::{append, create_mailbox, fetch_all, wait_for_count};
pub use mail_stack::{
    dovecot_restart, mail_stack, smtp_start, smtp_stop, stack_exclusive, stack_shared,
    unique_address, MailStack,
};
pub use oauth::{oauth_provider, OAuthProvider, TestClient};
pub use postgres::{fresh_database, fresh_database_on, postgres, postgres_ssl, PgStack};
pub use proxy::{Cut, CutProxy};
pub use smtp::{send_message, send_raw};
pub use tls_proxy::{Handshake, SmtpTlsProxy, TlsMode};
