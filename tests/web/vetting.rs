//! A seller's quote on the offer page: price per piece, minimum order and
//! approval numbers for staff to check, a malformed NIOSH number flagged.

use crate::app::{item, offer, TestApp};
use crate::browser::Browser;
use crate::pages::{LoginPage, OfferPage};

#[tokio::test]
async fn a_sellers_price_minimum_and_malformed_niosh_number_are_shown_for_review() {
    let app = TestApp::start().await;
    let raw = b"From: <sales@vendor.example>\r\nTo: donations@city.example\r\nSubject: N95\r\n\r\nUSD 1.85/piece, MOQ 20k, NIOSH TC-84A-00061, TC-84A-0006\r\n";
    let mut sale = offer(
        "sales@vendor.example",
        "Sales",
        "N95",
        "90501",
        vec![item("n95_respirator", 100000.0, "each", &[])],
    );
    sale.category = "sale".into();
    sale.vetting_json = Some(
        serde_json::json!({
            "unit_price": 1.85, "currency": "USD", "minimum_order": 20000.0,
            "niosh_approvals": ["TC-84A-0006"], "niosh_malformed": ["TC-84A-00061"],
        })
        .to_string(),
    );
    let id = app.seed(raw, sale).await;
    let b = Browser::start().await;
    LoginPage::open(&b, &app.url("/"))
        .await
        .login_as("triager@city.example")
        .await;
    let text = OfferPage::open(&b, &app.url(&format!("/offers/{id}")))
        .await
        .text()
        .await;
    b.close().await;
    assert!(text.contains("Check before buying"), "{text}");
    assert!(text.contains("1.85 USD"), "{text}");
    assert!(text.contains("minimum order\n20000"), "{text}");
    assert!(
        text.contains("TC-84A-00061: not of the form TC-84A-NNNN"),
        "{text}"
    );
    assert!(text.contains("TC-84A-0006 (look it up"), "{text}");
}
