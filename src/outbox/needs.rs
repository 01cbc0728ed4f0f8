//! What a donor must still tell us before staff can act on an offer: the
//! decision behind the `needs_info` reply, which asks for exactly that.
//!
//! Owns: the rule (an item without a quantity; no pickup address nor postal
//! code while the donor has not said they can deliver). Pure: no store, no
//! sending; whoever enqueues the reply passes [`extra_values`] to
//! [`Composer::compose_kind`](super::Composer::compose_kind).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::rules::Pickup;

/// One thing missing from an offer, as the template sees it in `missing`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Missing {
    /// At least one item has no quantity.
    Quantity,
    /// No address or postal code to collect from, and no offer to deliver.
    PickupAddress,
}

impl Missing {
    pub fn as_str(self) -> &'static str {
        match self {
            Missing::Quantity => "quantity",
            Missing::PickupAddress => "pickup_address",
        }
    }
}

/// What is missing from an offer with these item quantities and pickup
/// facts, in a fixed order. An offer with no items at all lacks more than a
/// quantity: that is for the acknowledgement to ask, not this reply.
pub fn missing<I>(quantities: I, pickup: Option<&Pickup>) -> Vec<Missing>
where
    I: IntoIterator<Item = Option<f64>>,
{
    let mut out = Vec::new();
    if quantities
        .into_iter()
        .any(|q| !q.is_some_and(|q| q.is_finite() && q > 0.0))
    {
        out.push(Missing::Quantity);
    }
    let has = |s: &Option<String>| s.as_deref().is_some_and(|s| !s.trim().is_empty());
    let located = pickup.is_some_and(|p| has(&p.address) || has(&p.postal_code));
    let delivers = pickup.and_then(|p| p.can_deliver) == Some(true);
    if !located && !delivers {
        out.push(Missing::PickupAddress);
    }
    out
}

/// Reads the pickup facts stored with an offer (`offers.pickup_json`).
pub fn pickup_from_json(json: Option<&str>) -> Option<Pickup> {
    let v: serde_json::Value = serde_json::from_str(json?).ok()?;
    let text = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
    Some(Pickup {
        address: text("address"),
        postal_code: text("postal_code"),
        can_deliver: v.get("can_deliver").and_then(|x| x.as_bool()),
    })
}

/// The template value for the reply: `missing` as comma-separated names,
/// which the composer hands to the template as a list.
pub fn extra_values(missing: &[Missing]) -> BTreeMap<String, String> {
    let names: Vec<&str> = missing.iter().map(|m| m.as_str()).collect();
    BTreeMap::from([("missing".to_string(), names.join(","))])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pickup(address: Option<&str>, postal: Option<&str>, deliver: Option<bool>) -> Pickup {
        Pickup {
            address: address.map(str::to_string),
            postal_code: postal.map(str::to_string),
            can_deliver: deliver,
        }
    }

    #[test]
    fn complete_offer_misses_nothing() {
        let p = pickup(None, Some("90501"), None);
        assert_eq!(missing([Some(200.0), Some(3.0)], Some(&p)), vec![]);
        let p = pickup(Some("12 Elm St"), None, Some(false));
        assert_eq!(missing([Some(1.0)], Some(&p)), vec![]);
    }

    #[test]
    fn an_item_without_quantity_is_asked_for() {
        let p = pickup(None, Some("90501"), None);
        assert_eq!(
            missing([Some(200.0), None], Some(&p)),
            vec![Missing::Quantity]
        );
        assert_eq!(missing([Some(0.0)], Some(&p)), vec![Missing::Quantity]);
        assert_eq!(missing([], Some(&p)), vec![]);
    }

    #[test]
    fn no_place_to_collect_is_asked_for_unless_they_deliver() {
        assert_eq!(missing([Some(5.0)], None), vec![Missing::PickupAddress]);
        let blank = pickup(Some("  "), None, None);
        assert_eq!(
            missing([None], Some(&blank)),
            vec![Missing::Quantity, Missing::PickupAddress]
        );
        let delivers = pickup(None, None, Some(true));
        assert_eq!(missing([Some(5.0)], Some(&delivers)), vec![]);
    }

    #[test]
    fn reads_stored_pickup_json_and_makes_the_value() {
        let p = pickup_from_json(Some(r#"{"postal_code":"90501","can_deliver":true}"#)).unwrap();
        assert_eq!(p, pickup(None, Some("90501"), Some(true)));
        assert_eq!(pickup_from_json(None), None);
        assert_eq!(pickup_from_json(Some("not json")), None);
        let extra = extra_values(&[Missing::Quantity, Missing::PickupAddress]);
        assert_eq!(extra["missing"], "quantity,pickup_address");
    }
}
