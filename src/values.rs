//! Values that parse: an offer's reference ([`OfferRef`]), an email address
//! ([`EmailAddress`]) and a quantity typed by staff ([`Quantity`]). Each has
//! one way in, `parse()` (`FromStr`), so text from a form, a flag or a mail
//! header is checked once, where it enters, and code that holds one of these
//! knows it is valid.
//!
//! Owns: what counts as each of them, and their text form. Does not own:
//! where they are stored (that is `store`).

use std::fmt;
use std::str::FromStr;

/// An offer as donors and staff name it: `SL-000042`, stored as its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, sqlx::Type)]
#[sqlx(transparent)]
pub struct OfferRef(i64);

/// Text that names no offer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an offer reference (like SL-000042, or 42)")]
pub struct BadOfferRef(pub String);

impl OfferRef {
    /// The offer with this id; ids start at 1.
    pub fn new(id: i64) -> Option<OfferRef> {
        (id > 0).then_some(OfferRef(id))
    }

    /// The offer's row id.
    pub fn id(self) -> i64 {
        self.0
    }

    /// The first `SL-000042` (any case, any number of digits) in a text such
    /// as a subject line.
    pub fn find_in(text: &str) -> Option<OfferRef> {
        let upper = text.to_ascii_uppercase();
        let at = upper.find("SL-")?;
        let digits: String = upper[at + 3..]
            .chars()
            .take_while(|c| c.is_ascii_digit())
            .collect();
        OfferRef::new(digits.parse().ok()?)
    }
}

/// An offer id known to exist, as a reference; the store's rows use this.
impl From<i64> for OfferRef {
    fn from(id: i64) -> Self {
        OfferRef(id)
    }
}

impl FromStr for OfferRef {
    type Err = BadOfferRef;

    /// `SL-000042`, `sl-42` or `42`, with spaces around.
    fn from_str(text: &str) -> Result<Self, BadOfferRef> {
        let trimmed = text.trim();
        let digits = match trimmed.get(..3) {
            Some(prefix) if prefix.eq_ignore_ascii_case("SL-") => &trimmed[3..],
            _ => trimmed,
        };
        Some(digits)
            .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|d| d.parse().ok())
            .and_then(OfferRef::new)
            .ok_or_else(|| BadOfferRef(text.to_string()))
    }
}

impl fmt::Display for OfferRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SL-{:06}", self.0)
    }
}

/// Shown as `SL-000042` (in pages, JSON, templates).
impl serde::Serialize for OfferRef {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Read from a path segment or form field through [`FromStr`].
impl<'de> serde::Deserialize<'de> for OfferRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// An email address that SMTP can send to (checked by `lettre`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(lettre::Address);

/// Text that is not an email address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an email address")]
pub struct BadEmailAddress(pub String);

impl EmailAddress {
    pub fn as_str(&self) -> &str {
        self.0.as_ref()
    }

    /// The address as lettre sends to it.
    pub fn as_lettre(&self) -> &lettre::Address {
        &self.0
    }
}

impl FromStr for EmailAddress {
    type Err = BadEmailAddress;

    /// `local@domain`, exactly (no spaces around); case is kept.
    fn from_str(text: &str) -> Result<Self, BadEmailAddress> {
        text.parse::<lettre::Address>()
            .map(EmailAddress)
            .map_err(|_| BadEmailAddress(text.to_string()))
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl AsRef<str> for EmailAddress {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

/// How many of something: finite and not negative, whole or not.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Quantity(f64);

/// Text that is not a quantity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a quantity")]
pub struct BadQuantity(pub String);

impl Quantity {
    /// `value`, when it is a count of something (finite, not negative).
    pub fn new(value: f64) -> Option<Quantity> {
        (value.is_finite() && value >= 0.0).then_some(Quantity(value))
    }

    pub fn value(self) -> f64 {
        self.0
    }

    /// An optional quantity: blank text is none.
    pub fn parse_optional(text: &str) -> Result<Option<Quantity>, BadQuantity> {
        if text.trim().is_empty() {
            Ok(None)
        } else {
            text.parse().map(Some)
        }
    }
}

impl FromStr for Quantity {
    type Err = BadQuantity;

    /// `2000`, `2,000`, `1.5`, with spaces around; commas are thousands
    /// separators and are ignored.
    fn from_str(text: &str) -> Result<Self, BadQuantity> {
        text.trim()
            .replace(',', "")
            .parse::<f64>()
            .ok()
            .and_then(Quantity::new)
            .ok_or_else(|| BadQuantity(text.to_string()))
    }
}

/// `2000`, `2.5`: the shortest text that reads back as the same number.
impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn offer_references_read_either_form() {
        let r = OfferRef::new(42).unwrap();
        assert_eq!(r.to_string(), "SL-000042");
        for text in ["SL-000042", "sl-42", "42", " 42 ", "SL-0000042"] {
            assert_eq!(text.parse::<OfferRef>(), Ok(r), "{text}");
        }
        assert_eq!(
            "SL-1234567".parse::<OfferRef>().unwrap().to_string(),
            "SL-1234567"
        );
        for bad in [
            "", "SL-", "SL-0", "0", "-1", "SL--1", "4 2", "x42", "+42", "SL-42x",
        ] {
            assert!(bad.parse::<OfferRef>().is_err(), "{bad:?}");
        }
        assert!("99999999999999999999".parse::<OfferRef>().is_err());
        assert_eq!(OfferRef::new(0), None);
    }

    #[test]
    fn a_reference_is_found_in_a_subject() {
        assert_eq!(
            OfferRef::find_in("Re: Your offer sl-000042 received"),
            OfferRef::new(42)
        );
        assert_eq!(OfferRef::find_in("no reference"), None);
        assert_eq!(OfferRef::find_in("SL-"), None);
        assert_eq!(OfferRef::find_in("SL-000000"), None);
    }

    #[test]
    fn references_go_to_json_and_forms_as_text() {
        let r = OfferRef::new(7).unwrap();
        assert_eq!(serde_json::to_string(&r).unwrap(), "\"SL-000007\"");
        let back: OfferRef = serde_json::from_str("\"7\"").unwrap();
        assert_eq!(back, r);
        assert!(serde_json::from_str::<OfferRef>("\"seven\"").is_err());
    }

    #[test]
    fn email_addresses_are_checked() {
        let a: EmailAddress = "Ana@Example.org".parse().unwrap();
        assert_eq!(a.as_str(), "Ana@Example.org");
        for bad in [
            "",
            "ana",
            "ana@",
            "@example.org",
            "a b@example.org",
            "ana@@x",
            " a@x.org",
        ] {
            assert!(bad.parse::<EmailAddress>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn quantities_read_as_staff_type_them() {
        let q = |t: &str| t.parse::<Quantity>().map(Quantity::value);
        assert_eq!(q("2,000"), Ok(2000.0));
        assert_eq!(q(" 2000 "), Ok(2000.0));
        assert_eq!(q("1.5"), Ok(1.5));
        assert_eq!(q("0"), Ok(0.0));
        for bad in ["", "-1", "two", "NaN", "inf", "1e400", "1.2.3"] {
            assert!(bad.parse::<Quantity>().is_err(), "{bad:?}");
        }
        assert_eq!(Quantity::parse_optional("  "), Ok(None));
        assert_eq!(
            Quantity::parse_optional("3").map(|q| q.map(Quantity::value)),
            Ok(Some(3.0))
        );
        assert_eq!(Quantity::new(2000.0).unwrap().to_string(), "2000");
        assert_eq!(Quantity::new(2.5).unwrap().to_string(), "2.5");
    }

    proptest! {
        #[test]
        fn offer_reference_round_trips(id in 1i64..=i64::MAX) {
            let r = OfferRef::new(id).unwrap();
            prop_assert_eq!(r.to_string().parse::<OfferRef>(), Ok(r));
            prop_assert_eq!(OfferRef::find_in(&format!("Re: {r}")), Some(r));
        }

        #[test]
        fn quantity_round_trips(value in 0f64..1e300) {
            let q = Quantity::new(value).unwrap();
            prop_assert_eq!(q.to_string().parse::<Quantity>(), Ok(q));
        }

        #[test]
        fn email_address_round_trips(
            local in "[a-zA-Z0-9]{1,10}([._+-][a-zA-Z0-9]{1,10}){0,2}",
            domain in "[a-z0-9]{1,15}(\\.[a-z]{2,6}){1,2}",
        ) {
            let a: EmailAddress = format!("{local}@{domain}").parse().unwrap();
            prop_assert_eq!(a.to_string().parse::<EmailAddress>(), Ok(a));
        }

        #[test]
        fn parsing_any_text_never_panics(text in ".{0,40}") {
            let _ = text.parse::<OfferRef>();
            let _ = text.parse::<Quantity>();
            let _ = text.parse::<EmailAddress>();
        }
    }
}
