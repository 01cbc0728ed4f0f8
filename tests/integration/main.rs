//! Integration tests against real servers: Dovecot (IMAP) and OpenSMTPD
//! (SMTP, delivering into Dovecot), started once per test process by
//! `tests/common`. One binary, so the crate links once.

#[path = "../common/mod.rs"]
mod common;

mod app;
mod bounces;
mod decide;
mod decide_cli;
mod faults;
mod first_start;
mod hostile;
mod import;
mod instances;
mod intake;
mod leases;
mod migrate_db;
mod oauth;
mod ops;
mod pg_tls;
mod push;
mod relay;
mod replies;
mod search;
mod secrets;
mod surge;
mod threads;
mod tls;
mod units;
