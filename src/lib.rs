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
//! - [`outbox`]: reply policy, templates, the SMTP sender.
//! - [`store`]: the database: migrations and one module per table family.
//! - [`web`]: the triage site for staff: login, queue, offer page, decisions, dashboard.
//! - [`files`]: data files created readable by their owner only, and the check of their modes.
//! - [`daemon`]: starting the stages together and stopping them cleanly.
//! - [`demo`]: the self-contained demo run.
#![forbid(unsafe_code)]

pub mod config;
pub mod daemon;
pub mod demo;
pub mod fetch;
pub mod files;
pub mod mail;
pub mod outbox;
pub mod process;
pub mod rules;
pub mod store;
pub mod web;
