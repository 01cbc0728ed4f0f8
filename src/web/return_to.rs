//! Where login sends a person back to: the page they asked for when they
//! had no session, carried as `/login?next=/offers/17` through the login
//! form, and followed only when it is a path on this site.
//!
//! Anything else (`//evil.example`, `/\evil.example`, `https://…`,
//! `javascript:…`, control characters, or percent-escapes that decode to
//! one of those) is refused and login lands on the queue instead: an open
//! redirect would let a phishing link borrow our login page.

/// The page login lands on when there is nowhere (safe) to return to.
pub const DEFAULT_PAGE: &str = "/";

/// Longer return paths are refused rather than carried around.
const MAX_LEN: usize = 2048;

/// `next` when it is a path on this site, else `None`.
///
/// Accepted: printable ASCII only, one leading `/` not followed by `/` or
/// `\`, no `\` anywhere; and the same holds after percent-decoding (as
/// often as it changes anything), so an escaped `//` or CR LF is refused too.
pub fn local_path(next: &str) -> Option<&str> {
    if next.len() > MAX_LEN || !next.bytes().all(|b| b.is_ascii_graphic()) {
        return None;
    }
    let mut text = next.to_string();
    loop {
        if !is_plain_local_path(&text) {
            return None;
        }
        let decoded = percent_decode(&text);
        if decoded == text {
            return Some(next);
        }
        text = decoded;
    }
}

/// The check on one decoding level. Browsers drop tab, CR and LF inside
/// URLs and read `\` as `/`, so those would turn `/` + junk into `//host`.
fn is_plain_local_path(text: &str) -> bool {
    let mut chars = text.chars();
    chars.next() == Some('/')
        && !matches!(chars.next(), Some('/' | '\\'))
        && !text.contains('\\')
        && !text.chars().any(char::is_control)
}

/// `%XX` escapes turned into their bytes (invalid UTF-8 replaced); other
/// text, including a malformed escape, unchanged.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The login page, with `next` carried when it is a local path other than
/// the default page.
pub fn login_url(next: Option<&str>) -> String {
    match next.and_then(local_path) {
        Some(path) if path != DEFAULT_PAGE => format!("/login?next={}", query_escape(path)),
        _ => "/login".into(),
    }
}

/// Percent-escapes everything but unreserved characters and `/`, so the
/// path (with its own query) survives as one query value.
fn query_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_paths_are_followed() {
        for path in [
            "/",
            "/offers/17",
            "/dashboard",
            "/?status=new&postal=90210",
            "/?q=n95%20masks",
            "/messages/3/attachments/0",
            "/javascript:alert(1)",
        ] {
            assert_eq!(local_path(path), Some(path), "{path}");
        }
    }

    #[test]
    fn hostile_and_foreign_targets_are_refused() {
        for next in [
            "",
            "offers/17",
            "//evil.example",
            "//evil.example/offers/17",
            "///evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "/offers\\..\\..\\evil",
            "https://evil.example/",
            "http:evil.example",
            "javascript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            " //evil.example",
            "/\t/evil.example",
            "/\r\nSet-Cookie: x=1",
            "/%0d%0aSet-Cookie:%20x=1",
            "/%0A/evil.example",
            "/%2F%2Fevil",
            "/%2fevil.example",
            "/%5Cevil.example",
            "/%252F%252Fevil",
            "/%25252f/evil",
            "/offers/17\u{0}",
            "/caf\u{e9}",
        ] {
            assert_eq!(local_path(next), None, "{next:?}");
        }
        assert_eq!(local_path(&format!("/{}", "a".repeat(MAX_LEN))), None);
    }

    #[test]
    fn a_malformed_escape_is_plain_text() {
        assert_eq!(local_path("/100%"), Some("/100%"));
        assert_eq!(local_path("/%zz/%2"), Some("/%zz/%2"));
        assert_eq!(percent_decode("/a%2Fb%"), "/a/b%");
    }

    #[test]
    fn the_login_url_carries_only_a_local_path() {
        assert_eq!(login_url(None), "/login");
        assert_eq!(login_url(Some("/")), "/login");
        assert_eq!(login_url(Some("//evil.example")), "/login");
        assert_eq!(login_url(Some("/offers/17")), "/login?next=/offers/17");
        assert_eq!(
            login_url(Some("/?status=new&q=a%20b")),
            "/login?next=/%3Fstatus%3Dnew%26q%3Da%2520b"
        );
    }
}
