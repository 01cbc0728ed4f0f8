//! Donors in their language: a Vietnamese donor's pickup email, as staff
//! preview it, names the items and the date in Vietnamese; a donor writing
//! in a language without templates is answered in English, and the offer
//! page says so.

use crate::app::{item, offer, TestApp};
use crate::browser::Browser;
use crate::pages::{LoginPage, OfferPage};

async fn seed_in(app: &TestApp, email: &str, language: &str) -> i64 {
    let raw =
        format!("From: <{email}>\r\nTo: donations@city.example\r\nSubject: x\r\n\r\nxin chao\r\n");
    let mut made = offer(
        email,
        "Lan",
        "x",
        "90501",
        vec![item("exam_gloves", 3.0, "box", &[])],
    );
    made.language = Some(language.into());
    app.seed(raw.as_bytes(), made).await
}

#[tokio::test]
async fn a_vietnamese_pickup_reads_in_vietnamese_and_a_language_without_templates_is_flagged() {
    let app = TestApp::start().await;
    let vietnamese = seed_in(&app, "lan@example.org", "vi").await;
    let persian = seed_in(&app, "dara@example.org", "fa").await;
    let b = Browser::start().await;
    LoginPage::open(&b, &app.url("/"))
        .await
        .login_as("triager@city.example")
        .await;

    let page = OfferPage::open(&b, &app.url(&format!("/offers/{vietnamese}"))).await;
    assert!(!page.text().await.contains("replies in English"));
    let email = page
        .accept_with_slot("2030-12-06", "09:00", "11:00")
        .await
        .text()
        .await;
    assert!(email.contains("3 hộp găng tay y tế"), "{email}");
    assert!(
        email.contains("Thứ sáu, ngày 6 tháng 12 năm 2030, 09:00–11:00"),
        "{email}"
    );

    let page = OfferPage::open(&b, &app.url(&format!("/offers/{persian}"))).await;
    assert!(
        page.text()
            .await
            .contains("replies in English: no fa templates"),
        "{}",
        page.text().await
    );
    b.close().await;
}
