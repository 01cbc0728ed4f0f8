//! The desk's pages as the browser tests use them: one type per page, with
//! what staff do there as methods, so that a test reads as the story its
//! name tells. A page is only made once the browser shows it, and each
//! action that leaves a page returns the page it leads to.

use fantoccini::Locator;

use crate::app::PASSWORD;
use crate::browser::Browser;

/// A new browser signed in as `email` on the desk at `url`, showing the
/// page login leads to.
pub async fn signed_in(url: &str, email: &str) -> Browser {
    let b = Browser::start().await;
    LoginPage::open(&b, url).await.login_as(email).await;
    b
}

/// The login form.
pub struct LoginPage<'b> {
    b: &'b Browser,
}

impl<'b> LoginPage<'b> {
    /// Goes to `url` signed out: the site shows the login form there, or
    /// sends the browser to it.
    pub async fn open(b: &'b Browser, url: &str) -> LoginPage<'b> {
        b.goto(url).await;
        let page = LoginPage { b };
        let (path, _) = page.address().await;
        assert_eq!(path, "/login", "{url} shows the login form");
        page
    }

    /// The path and the query of the login page (the query names the page
    /// to return to).
    pub async fn address(&self) -> (String, Option<String>) {
        let url = self.b.client.current_url().await.unwrap();
        (url.path().to_string(), url.query().map(str::to_string))
    }

    /// Signs in as `email` (with the test password); returns the address
    /// the site sends the browser to.
    pub async fn sign_in(self, email: &str) -> String {
        self.b.type_into("email", email).await;
        self.b.type_into("password", PASSWORD).await;
        self.b.click("login").await;
        self.b.url_after_login().await
    }

    /// Signs in as `email` and lands on the queue.
    pub async fn login_as(self, email: &str) -> QueuePage<'b> {
        let b = self.b;
        self.sign_in(email).await;
        QueuePage::loaded(b).await
    }
}

/// The queue of offers, ordered by need.
pub struct QueuePage<'b> {
    b: &'b Browser,
}

impl<'b> QueuePage<'b> {
    /// The queue the browser shows, once its rows are there.
    pub async fn loaded(b: &'b Browser) -> QueuePage<'b> {
        b.wait_for("tr.offer-row").await;
        QueuePage { b }
    }

    /// The link of each row, top first.
    pub async fn offer_links(&self) -> Vec<String> {
        let rows = self
            .b
            .client
            .find_all(Locator::Css("tr.offer-row"))
            .await
            .unwrap();
        let mut links = Vec::new();
        for row in rows {
            links.push(row.attr("data-href").await.unwrap().unwrap_or_default());
        }
        links
    }

    /// The link of the row the keyboard is on.
    pub async fn current_offer_link(&self) -> String {
        let row = self.b.wait_for("tr.current").await;
        row.attr("data-href").await.unwrap().unwrap_or_default()
    }

    /// Types `keys` on the page, as a keyboard user does (`j` down, `k` up).
    pub async fn press(&self, keys: &str) {
        let body = self.b.client.find(Locator::Css("body")).await.unwrap();
        body.send_keys(keys).await.unwrap();
    }

    /// "N replies held", as the queue says it (empty when none are).
    pub async fn held_notice(&self) -> String {
        match self.b.client.find(Locator::Css("p.held-count")).await {
            Ok(notice) => notice.text().await.unwrap(),
            Err(_) => String::new(),
        }
    }

    /// Follows the queue's "N replies held" link.
    pub async fn open_held_replies(self) -> HeldRepliesPage<'b> {
        let link = self.b.wait_for("p.held-count a").await;
        link.click().await.unwrap();
        HeldRepliesPage::loaded(self.b).await
    }

    /// Opens the row the keyboard is on with Enter.
    pub async fn open_current(self) -> OfferPage<'b> {
        self.press("\u{E007}").await;
        OfferPage::loaded(self.b).await
    }
}

/// One offer: its message with the evidence highlighted, its items, and
/// the decisions.
pub struct OfferPage<'b> {
    b: &'b Browser,
}

impl<'b> OfferPage<'b> {
    /// Goes to `url`, an offer's page.
    pub async fn open(b: &'b Browser, url: &str) -> OfferPage<'b> {
        b.goto(url).await;
        OfferPage::loaded(b).await
    }

    /// The offer page the browser shows, once its items are there.
    pub async fn loaded(b: &'b Browser) -> OfferPage<'b> {
        b.wait_for("#items").await;
        OfferPage { b }
    }

    pub async fn url(&self) -> String {
        self.b.url().await
    }

    pub async fn text(&self) -> String {
        self.b.text().await
    }

    /// How many text spans of the message are marked as evidence for an item.
    pub async fn highlighted_spans(&self) -> usize {
        self.b
            .client
            .find_all(Locator::Css("pre.mail mark.span"))
            .await
            .unwrap()
            .len()
    }

    /// The names of the message's attachments, as their links show them.
    pub async fn attachment_names(&self) -> Vec<String> {
        let links = self
            .b
            .client
            .find_all(Locator::Css("ul.attachments a"))
            .await
            .unwrap();
        let mut names = Vec::new();
        for link in links {
            names.push(link.text().await.unwrap());
        }
        names
    }

    /// Types `quantity` over the quantity of item `row` (1 is the first)
    /// and saves it; returns the page the site answers with.
    pub async fn correct_quantity(self, row: usize, quantity: &str) -> OfferPage<'b> {
        let field = self.b.wait_for(&format!("#qty-{row}")).await;
        field.clear().await.unwrap();
        field.send_keys(quantity).await.unwrap();
        field
            .find(Locator::XPath("ancestor::form[1]//button[text()='Save']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        self.b.wait_for_next_page(&field).await;
        self.b.wait_for(&format!("#qty-{row}")).await;
        OfferPage { b: self.b }
    }

    /// The state and, when held, the reason of reply `id`, as the page lists it.
    pub async fn reply_line(&self, id: i64) -> String {
        let line = self.b.wait_for(&format!("#reply-{id}")).await;
        line.text().await.unwrap()
    }

    /// Presses Send on held reply `id`; returns the page the site answers with.
    pub async fn send_held(self, id: i64) -> OfferPage<'b> {
        press_and_wait(self.b, &format!("#reply-{id} button.send-held")).await;
        OfferPage::loaded(self.b).await
    }

    /// Fills in the accept form with a pickup on `date` (YYYY-MM-DD) from
    /// `from` to `to` (HH:MM) at the default site, and asks for the email
    /// the donor would get.
    pub async fn accept_with_slot(self, date: &str, from: &str, to: &str) -> PreviewPage<'b> {
        // Set by script: what typing into date and time inputs means
        // depends on the browser's locale.
        let script = format!(
            "document.getElementById('date').value = '{date}';
             document.getElementById('from').value = '{from}';
             document.getElementById('to').value = '{to}';"
        );
        self.b.run(&script).await;
        self.b.click("preview").await;
        PreviewPage::loaded(self.b).await
    }
}

/// The pickup email as the donor would get it, before it is sent.
pub struct PreviewPage<'b> {
    b: &'b Browser,
}

impl<'b> PreviewPage<'b> {
    async fn loaded(b: &'b Browser) -> PreviewPage<'b> {
        b.wait_for("#send").await;
        PreviewPage { b }
    }

    pub async fn text(&self) -> String {
        self.b.text().await
    }

    /// Accepts the offer and queues the email; returns the page the desk
    /// goes on to (the next offer of the queue), confirming the decision.
    pub async fn send(self) -> OfferPage<'b> {
        let send = self.b.wait_for("#send").await;
        send.click().await.unwrap();
        self.b.wait_for(".decided").await;
        OfferPage { b: self.b }
    }
}

/// The replies held for a person to send or discard.
pub struct HeldRepliesPage<'b> {
    b: &'b Browser,
}

impl<'b> HeldRepliesPage<'b> {
    pub async fn open(b: &'b Browser, url: &str) -> HeldRepliesPage<'b> {
        b.goto(url).await;
        HeldRepliesPage::loaded(b).await
    }

    async fn loaded(b: &'b Browser) -> HeldRepliesPage<'b> {
        b.wait_for("table.held").await;
        HeldRepliesPage { b }
    }

    /// Each held reply's row as text (reference, recipient, kind, reason, age).
    pub async fn rows(&self) -> Vec<String> {
        let rows = self
            .b
            .client
            .find_all(Locator::Css("tr.held-reply"))
            .await
            .unwrap();
        let mut texts = Vec::new();
        for row in rows {
            texts.push(row.text().await.unwrap());
        }
        texts
    }

    /// Presses Discard on held reply `id`; returns the list the site answers with.
    pub async fn discard(self, id: i64) -> HeldRepliesPage<'b> {
        press_and_wait(self.b, &format!("#held-{id} button.discard-held")).await;
        HeldRepliesPage::loaded(self.b).await
    }
}

/// Clicks the button `css` and waits until the browser has left the page.
async fn press_and_wait(b: &Browser, css: &str) {
    let button = b.wait_for(css).await;
    button.click().await.unwrap();
    b.wait_for_next_page(&button).await;
}
