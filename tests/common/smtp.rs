//! Sending mail into the test stack through its SMTP port (lettre).
//!
//! OpenSMTPD accepts any recipient and delivers into Dovecot, so a message
//! sent to `donor-…@example.test` shows up in that user's INBOX, usually
//! within 0.1 s: read it with [`super::wait_for_count`].
#![allow(dead_code)]

use std::time::Duration;

use lettre::address::Envelope;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::mail_stack::mail_stack;

/// A plaintext, unauthenticated transport to the stack's SMTP port.
pub fn transport() -> AsyncSmtpTransport<Tokio1Executor> {
    let stack = mail_stack();
    AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(stack.host.as_str())
        .port(stack.smtp_port)
        .timeout(Some(Duration::from_secs(30)))
        .build()
}

fn address(text: &str) -> Address {
    text.parse()
        .unwrap_or_else(|e| panic!("bad address {text:?}: {e}"))
}

/// Send the raw message `raw` with envelope sender `from` to `to`.
pub async fn send_raw(from: &str, to: &[&str], raw: &[u8]) {
    let envelope = Envelope::new(Some(address(from)), to.iter().map(|t| address(t)).collect())
        .expect("envelope with at least one recipient");
    transport()
        .send_raw(&envelope, raw)
        .await
        .unwrap_or_else(|e| panic!("SMTP send from {from} to {to:?}: {e}"));
}

/// Send a lettre message; the envelope comes from its headers.
pub async fn send_message(message: Message) {
    transport()
        .send(message)
        .await
        .unwrap_or_else(|e| panic!("SMTP send: {e}"));
}
