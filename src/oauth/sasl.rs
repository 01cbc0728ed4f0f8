//! The SASL bearer-token mechanisms: XOAUTH2 (Google's, which Microsoft
//! also takes) and OAUTHBEARER (RFC 7628), for IMAP (an async-imap
//! [`Authenticator`]) and SMTP (AUTH over lettre's connection).
//!
//! Owns: the client messages of both mechanisms and the answer to a
//! server's error challenge. The messages hold the access token: they are
//! handed to the connection and never logged.

use std::sync::{Arc, Mutex};

use base64::Engine;
use lettre::transport::smtp::client::AsyncSmtpConnection;
use secrecy::{ExposeSecret, SecretString};

use super::Mechanism;

/// The client's first message: who logs in, with which token.
pub fn initial_response(
    mechanism: Mechanism,
    user: &str,
    host: &str,
    port: u16,
    token: &SecretString,
) -> Vec<u8> {
    let token = token.expose_secret();
    match mechanism {
        Mechanism::Xoauth2 => format!("user={user}\x01auth=Bearer {token}\x01\x01"),
        Mechanism::Oauthbearer => format!(
            "n,a={},\x01host={host}\x01port={port}\x01auth=Bearer {token}\x01\x01",
            sasl_name(user)
        ),
    }
    .into_bytes()
}

/// What the client answers to an error challenge, so the server ends the
/// exchange with its failure: nothing (XOAUTH2) or `%x01` (RFC 7628 3.2.3).
pub fn abort_response(mechanism: Mechanism) -> &'static [u8] {
    match mechanism {
        Mechanism::Xoauth2 => b"",
        Mechanism::Oauthbearer => b"\x01",
    }
}

/// RFC 5801 saslname: `,` and `=` escaped.
fn sasl_name(user: &str) -> String {
    user.replace('=', "=3D").replace(',', "=2C")
}

/// The server's error challenge (JSON such as `{"status":"401",...}`), shortened.
fn challenge_text(challenge: &[u8]) -> String {
    let text = String::from_utf8_lossy(challenge);
    text.chars().take(300).collect()
}

/// An async-imap authenticator for one AUTHENTICATE exchange; the error
/// challenge the server sent, if any, is kept in [`ImapSasl::challenge`].
pub struct ImapSasl {
    mechanism: Mechanism,
    first: Option<Vec<u8>>,
    challenge: Arc<Mutex<Option<String>>>,
}

impl ImapSasl {
    pub fn new(mechanism: Mechanism, initial: Vec<u8>) -> ImapSasl {
        ImapSasl {
            mechanism,
            first: Some(initial),
            challenge: Default::default(),
        }
    }

    /// Where the server's error challenge ends up.
    pub fn challenge(&self) -> Arc<Mutex<Option<String>>> {
        self.challenge.clone()
    }
}

impl async_imap::Authenticator for ImapSasl {
    type Response = Vec<u8>;

    fn process(&mut self, challenge: &[u8]) -> Vec<u8> {
        match self.first.take() {
            Some(initial) => initial,
            None => {
                if let Ok(mut kept) = self.challenge.lock() {
                    *kept = Some(challenge_text(challenge));
                }
                abort_response(self.mechanism).to_vec()
            }
        }
    }
}

/// Why SMTP AUTH with a token did not work.
#[derive(Debug, thiserror::Error)]
pub enum SmtpAuthError {
    /// The server refused the token (535, or an error challenge).
    #[error("the SMTP server refused the {mechanism} login{}", detail(.reply, .challenge))]
    Refused {
        mechanism: &'static str,
        reply: String,
        challenge: Option<String>,
    },
    /// The connection failed meanwhile.
    #[error("SMTP AUTH {mechanism} failed")]
    Transport {
        mechanism: &'static str,
        #[source]
        source: lettre::transport::smtp::Error,
    },
}

fn detail(reply: &str, challenge: &Option<String>) -> String {
    let mut text = String::new();
    if !reply.is_empty() {
        text.push_str(&format!(": {reply}"));
    }
    if let Some(c) = challenge {
        text.push_str(&format!(" (server said {c})"));
    }
    text
}

/// One line sent as is.
struct Line(String);

impl std::fmt::Display for Line {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// `AUTH <mechanism> <initial response>` on an open SMTP connection.
/// lettre's own XOAUTH2 gives up on the server's error challenge without
/// answering it, and it has no OAUTHBEARER, so the exchange is done here.
pub async fn smtp_auth(
    conn: &mut AsyncSmtpConnection,
    mechanism: Mechanism,
    initial: &[u8],
) -> Result<(), SmtpAuthError> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let name = mechanism.name();
    let line = Line(format!("AUTH {name} {}\r\n", b64.encode(initial)));
    let fail = |e: lettre::transport::smtp::Error| {
        if e.is_permanent() {
            SmtpAuthError::Refused {
                mechanism: name,
                reply: e.to_string(),
                challenge: None,
            }
        } else {
            SmtpAuthError::Transport {
                mechanism: name,
                source: e,
            }
        }
    };
    let response = conn.command(line).await.map_err(fail)?;
    if !response.has_code(334) {
        return Ok(());
    }
    let challenge = response
        .first_line()
        .and_then(|l| b64.decode(l.trim()).ok())
        .map(|c| challenge_text(&c));
    let abort = Line(format!("{}\r\n", b64.encode(abort_response(mechanism))));
    let reply = match conn.command(abort).await {
        Ok(r) => format!("{} {}", r.code(), r.message().collect::<Vec<_>>().join(" ")),
        Err(e) if e.is_permanent() => e.to_string(),
        Err(e) => return Err(fail(e)),
    };
    Err(SmtpAuthError::Refused {
        mechanism: name,
        reply,
        challenge,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xoauth2_and_oauthbearer_messages_are_as_the_specs_show() {
        let token = SecretString::from("vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==");
        let x = initial_response(Mechanism::Xoauth2, "someuser@example.com", "h", 1, &token);
        assert_eq!(
            x,
            b"user=someuser@example.com\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01"
        );
        // RFC 7628 section 4.1, with the user's comma escaped.
        let token = SecretString::from("vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==");
        let o = initial_response(
            Mechanism::Oauthbearer,
            "user,1=x@example.com",
            "server.example.com",
            143,
            &token,
        );
        assert_eq!(
            String::from_utf8(o).unwrap(),
            "n,a=user=2C1=3Dx@example.com,\x01host=server.example.com\x01port=143\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01"
        );
    }

    #[test]
    fn the_imap_authenticator_sends_the_token_once_then_aborts_and_keeps_the_challenge() {
        use async_imap::Authenticator;
        let mut sasl = ImapSasl::new(Mechanism::Oauthbearer, b"first".to_vec());
        let kept = sasl.challenge();
        assert_eq!(sasl.process(b""), b"first");
        assert_eq!(sasl.process(b"{\"status\":\"invalid_token\"}"), b"\x01");
        assert_eq!(
            kept.lock().unwrap().as_deref(),
            Some("{\"status\":\"invalid_token\"}")
        );
    }
}
