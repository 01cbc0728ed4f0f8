//! What can go wrong in a request, and what the person at the browser sees
//! of it: a plain message and a status. The log gets the whole chain; a 500
//! never shows internals.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};

use super::return_to::login_url;
use crate::decide::DecideError;
use crate::outbox::TemplateError;
use crate::store::StoreError;

/// An error at the HTTP boundary, by what the handler's caller acts on.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// No session: the browser goes to the login page, and back to `next`
    /// (the page it asked for) after logging in.
    #[error("not logged in")]
    Unauthenticated { next: Option<String> },
    #[error("your role ({0}) cannot do this")]
    Forbidden(String),
    #[error("this form has expired or was not sent from this site; go back, reload and try again")]
    BadCsrf,
    #[error("not found")]
    NotFound,
    /// Something the person typed; the message says what.
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<StoreError> for WebError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(_) => WebError::NotFound,
            other => WebError::Unexpected(other.into()),
        }
    }
}

impl From<DecideError> for WebError {
    fn from(e: DecideError) -> Self {
        match e {
            DecideError::NotFound(_) => WebError::NotFound,
            DecideError::UnknownSite(_) => WebError::Invalid(e.to_string()),
            DecideError::Store(s) => s.into(),
            DecideError::Template { .. } => WebError::Unexpected(e.into()),
            DecideError::Closed(_)
            | DecideError::SelfMerge
            | DecideError::MergeTargetClosed(..)
            | DecideError::NotHeld(_)
            | DecideError::Undeliverable(_) => WebError::Refused(e.to_string()),
        }
    }
}

impl From<TemplateError> for WebError {
    fn from(e: TemplateError) -> Self {
        match e {
            TemplateError::Address(a) => WebError::Refused(format!(
                "the donor's address {a:?} cannot receive email; decide without emailing"
            )),
            other => WebError::Unexpected(anyhow::Error::new(other).context("rendering a reply")),
        }
    }
}

impl From<minijinja::Error> for WebError {
    fn from(e: minijinja::Error) -> Self {
        WebError::Unexpected(anyhow::Error::new(e).context("rendering a page"))
    }
}

impl WebError {
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            WebError::Unauthenticated { .. } => StatusCode::SEE_OTHER,
            WebError::Forbidden(_) | WebError::BadCsrf => StatusCode::FORBIDDEN,
            WebError::NotFound => StatusCode::NOT_FOUND,
            WebError::Invalid(_) => StatusCode::BAD_REQUEST,
            WebError::Refused(_) => StatusCode::CONFLICT,
            WebError::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        if let WebError::Unauthenticated { next } = &self {
            return Redirect::to(&login_url(next.as_deref())).into_response();
        }
        let status = self.status();
        let message = match &self {
            WebError::Unexpected(chain) => {
                tracing::error!(error = format!("{chain:#}"), "request failed");
                "Something went wrong on our side. It has been logged; please try again.".into()
            }
            other => {
                tracing::info!(%status, reason = %other, "request refused");
                other.to_string()
            }
        };
        (status, Html(error_page(status, &message))).into_response()
    }
}

/// A page of its own, so an error shows even when page templates are broken.
fn error_page(status: StatusCode, message: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{code}</title>\
         <link rel=\"stylesheet\" href=\"/static/app.css\"></head><body><main class=\"narrow\">\
         <h1>{code}</h1><p class=\"error\">{msg}</p><p><a href=\"/\">Back to the queue</a></p>\
         </main></body></html>",
        code = status.as_u16(),
        msg = escape(message)
    )
}

/// Escapes text for HTML element content and quoted attributes.
pub fn escape(text: &str) -> String {
    let text = super::bidi::defuse(text);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
