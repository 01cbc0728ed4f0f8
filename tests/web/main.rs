//! The triage web UI against a real server on a loopback port, a fresh
//! SQLite file per test, and (for the browser tests) a real headless
//! Chromium driven over WebDriver by chromedriver.
//!
//! Needs Debian `chromium` and `chromium-driver`. Replies go through the
//! real `Sender`: over SMTP to the test mail stack (OpenSMTPD into Dovecot)
//! for the browser flow, whose pickup email is read back from the donor's
//! mailbox over IMAP; into a folder (`Transport::Directory`) elsewhere.
//!
//! - [`app`]: the site under test, its accounts and seeded offers.
//! - [`http`]: requests straight into the router, login by form post.
//! - [`browser`]: Chromium over WebDriver, and what any page can be asked.
//! - [`pages`]: the login page, the queue, an offer and its email preview,
//!   the held replies,
//!   with what staff do on each.
//! - The stories: [`access`] (who gets in, where login lands), [`triage`]
//!   (queue, correct, accept, decline, merge, received, failed messages),
//!   [`held`] (replies held for approval, sent or discarded),
//!   [`hostile`] (email text renders inert), [`abuse`] (login guessing,
//!   CSV formulas, stalled connections, oversized input, bidi controls,
//!   cookie flags, forged log lines, disabled accounts), [`languages`]
//!   (replies in the donor's language, and when there are none),
//!   [`vetting`] (a seller's price and approval numbers for review),
//!   [`desk`] (search, CSV export, the desk at phone width), [`needs`]
//!   (needs admins edit, items picked from the catalog), [`flow`] (the
//!   next offer after a decision, keys, undo, reopen, errors beside the
//!   field, confirmations), [`slots`] (opening hours, the slot grid,
//!   pickups at the donor's address, reschedule and cancel, shortfalls).
//!   [`desk`] (search, CSV export, the desk at phone width), [`inquiries`]
//!   (requests and inquiries apart from offers, staff replies, snippets).
//!
//! One binary, so the crate links once.

#[path = "../common/mod.rs"]
mod common;

mod app;
mod browser;
mod http;
mod pages;

mod abuse;
mod access;
mod batches;
mod desk;
mod flow;
mod held;
mod hostile;
mod inquiries;
mod languages;
mod needs;
mod ownership;
mod site_hours;
mod slots;
mod triage;
mod undo_scope;
mod vetting;
