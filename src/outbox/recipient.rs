//! Who an automatic reply goes to, how that recipient is counted, and how
//! the reply may greet them.
//!
//! Owns: the choice between Reply-To and From (never a Reply-To in another
//! domain), the normalised address that per-recipient limits count
//! (case, `+tag`, Gmail dots), and the greeting name (only a name that looks
//! like one, so a display name cannot carry a link into our mail).

use crate::mail::ParsedMessage;

/// Where an automatic reply to `msg` goes: Reply-To when it is in exactly
/// the From domain, else From. Not a subdomain or parent either: without a
/// public-suffix list, `x@co.uk` would vouch for `victim@bank.co.uk`.
pub fn reply_address(msg: &ParsedMessage) -> Option<String> {
    let from = msg.from.as_ref().map(|a| a.email.trim().to_string())?;
    let reply_to = msg.reply_to.as_ref().map(|a| a.email.trim().to_string());
    match reply_to {
        Some(to) if domain_of(&to).eq_ignore_ascii_case(domain_of(&from)) => Some(to),
        _ => Some(from),
    }
}

/// The domain of an address as written; empty when it has none.
pub fn domain_of(address: &str) -> &str {
    address
        .rsplit_once('@')
        .map(|(_, d)| d.trim())
        .unwrap_or_default()
}

/// The recipient domain as the per-domain limit counts it: lowercased.
pub fn recipient_domain(address: &str) -> String {
    domain_of(address).to_lowercase()
}

/// The address as limits count it: lowercased, without a `+tag`, and for
/// Gmail without dots in the local part (googlemail.com is gmail.com).
pub fn normalised_address(address: &str) -> String {
    let address = address.trim().to_lowercase();
    let Some((local, domain)) = address.rsplit_once('@') else {
        return address;
    };
    let local = local.split('+').next().unwrap_or(local);
    let domain = match domain {
        "googlemail.com" => "gmail.com",
        other => other,
    };
    let local = match domain {
        "gmail.com" => local.replace('.', ""),
        _ => local.to_string(),
    };
    format!("{local}@{domain}")
}

/// Longest display name used in a greeting.
const MAX_NAME_CHARS: usize = 60;

/// The display name to greet the donor with, when it looks like a person's
/// or an organisation's name: letters (any script) and marks, spaces, and
/// `. ' - ,` `&`; at most 60 characters, at most 6 words. Anything else
/// (a URL, digits, an address) gets the neutral greeting instead.
pub fn greeting_name(name: Option<&str>) -> Option<String> {
    let name = name?.split_whitespace().collect::<Vec<_>>().join(" ");
    let allowed =
        |c: char| c.is_alphabetic() || c == ' ' || matches!(c, '.' | '\'' | '-' | ',' | '&' | '’');
    let letters = name.chars().filter(|c| c.is_alphabetic()).count();
    let looks_like_name = !name.is_empty()
        && name.chars().count() <= MAX_NAME_CHARS
        && name.split(' ').count() <= 6
        && letters * 2 >= name.chars().count()
        && name.chars().all(allowed)
        && !has_dotted_word(&name);
    looks_like_name.then_some(name)
}

/// "spam.example" or "www.x": a dot between letters makes a name look like
/// a host name ("J. Smith" and "St. Mary's" keep a space after the dot).
fn has_dotted_word(name: &str) -> bool {
    let chars: Vec<char> = name.chars().collect();
    chars
        .windows(3)
        .any(|w| w[1] == '.' && w[0].is_alphanumeric() && w[2].is_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::Address;

    fn msg(from: &str, reply_to: Option<&str>) -> ParsedMessage {
        let address = |email: &str| Address {
            name: None,
            email: email.into(),
        };
        ParsedMessage {
            from: Some(address(from)),
            reply_to: reply_to.map(address),
            ..Default::default()
        }
    }

    #[test]
    fn reply_to_only_within_the_from_domain() {
        let same = msg("a@clinic.org", Some("desk@clinic.org"));
        assert_eq!(reply_address(&same).unwrap(), "desk@clinic.org");
        let sub = msg("a@clinic.org", Some("desk@mail.clinic.org"));
        assert_eq!(reply_address(&sub).unwrap(), "a@clinic.org");
        let suffix = msg("x@co.uk", Some("victim@bank.co.uk"));
        assert_eq!(reply_address(&suffix).unwrap(), "x@co.uk");
        let case = msg("a@Clinic.org", Some("desk@clinic.ORG"));
        assert_eq!(reply_address(&case).unwrap(), "desk@clinic.ORG");
        let third = msg("a@spammer.example", Some("victim@third.example"));
        assert_eq!(reply_address(&third).unwrap(), "a@spammer.example");
        assert_eq!(reply_address(&msg("a@x.org", None)).unwrap(), "a@x.org");
        assert_eq!(reply_address(&ParsedMessage::default()), None);
    }

    #[test]
    fn addresses_normalise_case_tags_and_gmail_dots() {
        assert_eq!(
            normalised_address(" Victim+1@Third.Example "),
            "victim@third.example"
        );
        assert_eq!(
            normalised_address("victim+2@third.example"),
            "victim@third.example"
        );
        assert_eq!(
            normalised_address("J.Doe+x@GoogleMail.com"),
            "jdoe@gmail.com"
        );
        assert_eq!(normalised_address("j.doe@clinic.org"), "j.doe@clinic.org");
        assert_eq!(normalised_address("no-at-sign"), "no-at-sign");
    }

    #[test]
    fn names_greet_only_when_they_look_like_names() {
        for name in [
            "Rosa Alvarez",
            "王强",
            "Nguyễn Văn An",
            "Dr. J. O'Neil-Smith",
            "St. Mary's Clinic",
        ] {
            assert_eq!(greeting_name(Some(name)).as_deref(), Some(name), "{name}");
        }
        assert_eq!(
            greeting_name(Some("  Rosa \t Alvarez ")).unwrap(),
            "Rosa Alvarez"
        );
        for name in [
            "Buy cheap pills at http://spam.example",
            "spam.example",
            "www.example.com",
            "Call 555 0100",
            "a@b.example",
            "Win $$$ now!!!",
            "",
            "This Is A Very Long Sentence Pretending To Be A Name",
        ] {
            assert_eq!(greeting_name(Some(name)), None, "{name}");
        }
        assert_eq!(greeting_name(None), None);
    }
}
