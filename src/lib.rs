//! supplyline turns a public donations mailbox into a triage queue.
//!
//! # Layout
//!
//! The modules follow the flow of one email:
//!
//! - [`config`]: the TOML config file, environment overrides, validation.
//! - [`fetch`]: IMAP intake: connect, store each raw message, advance the cursor, IDLE.
//! - [`mail`]: MIME parsing and clean text.
//! - [`rules`]: rule files and extraction of category, items, contact, pickup.
//! - [`process`]: the stage that turns a stored message into an offer and a reply.
//! - [`decide`]: the stage of staff decisions (accept, decline, spam, merge,
//!   received, a reply; held replies sent or discarded), for the web and the CLI.
//! - [`outbox`]: reply policy, kinds and templates, building the message, the SMTP sender.
//! - [`state`]: the states rows move through (offer, message, reply, role) and
//!   which offer decisions are allowed when.
//! - [`store`]: the database: migrations and one module per table family.
//! - [`values`]: values that parse: offer references, email addresses, quantities.
//! - [`web`]: the triage site for staff: login, queue, offer page, decisions, dashboard.
//! - [`files`]: data files created readable by their owner only, and the check of their modes.
//! - [`telemetry`]: metrics for Prometheus and the facts `/readyz` judges.
//! - [`daemon`]: starting the stages together and stopping them cleanly.
//! - [`import`]: old mail (mbox, Maildir, .eml files, another IMAP folder) into the store, never answered.
//! - [`instance`]: the one `serve` per database, and the heartbeat that keeps its claims.
//! - [`demo`]: the self-contained demo run.
//! - [`doctor`]: `supplyline doctor`, each check of an installation with its fix.
//! - [`backoff`]: how long to wait before trying again (replies, IMAP reconnects, a busy database).
//! - [`error_text`]: an error and its causes on one line, for logs and the outbox page.
#![forbid(unsafe_code)]

pub mod backoff;
pub mod config;
pub mod daemon;
pub mod decide;
pub mod demo;
pub mod doctor;
pub mod error_text;
pub mod fetch;
pub mod files;
pub mod import;
pub mod instance;
pub mod mail;
pub mod migrate_db;
pub mod oauth;
pub mod outbox;
pub mod process;
pub mod rules;
pub mod slots;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod values;
pub mod web;
