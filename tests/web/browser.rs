//! A real headless Chromium driven over WebDriver by chromedriver, in a
//! fresh profile, and what any page can be asked. What a particular page
//! offers is in [`crate::pages`].
//!
//! Needs Debian `chromium` and `chromium-driver`.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};

/// chromedriver on a free loopback port and a WebDriver session with a
/// headless Chromium in a fresh profile. Both end when this is dropped.
pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub async fn start() -> Browser {
        Self::start_with_size(1400, 1000).await
    }

    /// A browser whose window is `width` × `height` CSS pixels (390 × 844
    /// is a phone).
    pub async fn start_with_size(width: u32, height: u32) -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let program = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        // Its own process group, so that dropping the Browser ends chromedriver
        // and the Chromium it started even when a test fails half-way.
        let driver = Command::new(&program)
            .arg(format!("--port={port}"))
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program} (Debian chromium-driver): {e}"));
        let profile = tempfile::tempdir().unwrap();
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
        ];
        let mut args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        args.push(format!("--window-size={width},{height}"));
        args.push(format!("--user-data-dir={}", profile.path().display()));
        let mut caps = serde_json::Map::new();
        let mut options = serde_json::json!({ "args": args });
        // Chromium's windows are at least 500 px wide: a phone's viewport
        // is emulated, as its developer tools do.
        if width < 500 {
            options["mobileEmulation"] = serde_json::json!({
                "deviceMetrics": { "width": width, "height": height, "pixelRatio": 3.0, "touch": true }
            });
        }
        caps.insert("goog:chromeOptions".into(), options);
        let url = format!("http://127.0.0.1:{port}");
        let mut last = None;
        for _ in 0..100 {
            match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(client) => {
                    return Browser {
                        client,
                        driver,
                        _profile: profile,
                    }
                }
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no WebDriver session: {last:?}");
    }

    /// Goes to `url` and waits for the page to load.
    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    /// Drops every cookie: the next page is opened signed out.
    pub async fn forget_session(&self) {
        self.client.delete_all_cookies().await.unwrap();
    }

    /// The address shown now.
    pub async fn url(&self) -> String {
        self.client.current_url().await.unwrap().to_string()
    }

    /// The address once the browser has left the login page (at most 30 s).
    pub async fn url_after_login(&self) -> String {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let url = self.client.current_url().await.unwrap();
            if url.path() != "/login" {
                return url.to_string();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "still on the login page: {url}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until `old`, an element of the page a form was sent from, is
    /// gone: the answer has loaded (at most 30 s). Waiting for an element
    /// the old page also has would return before the form was handled.
    pub async fn wait_for_next_page(&self, old: &fantoccini::elements::Element) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while old.attr("id").await.is_ok() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the page did not change after sending the form"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Clicks the first element `css` selects and waits for the page it
    /// leads to.
    pub async fn click_through(&self, css: &str) {
        let old = self.wait_for("body").await;
        self.wait_for(css).await.click().await.unwrap();
        self.wait_for_next_page(&old).await;
        self.wait_for("body").await;
    }

    /// Types `text` into the field with id `id`.
    pub async fn type_into(&self, id: &str, text: &str) {
        let field = self.client.find(Locator::Id(id)).await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    /// Clicks the element with id `id`.
    pub async fn click(&self, id: &str) {
        let element = self.client.find(Locator::Id(id)).await.unwrap();
        element.click().await.unwrap();
    }

    /// Waits for the first element `css` selects and returns it.
    pub async fn wait_for(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css} on the page: {e}"))
    }

    pub async fn screenshot(&self, name: &str) {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("web-screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(dir.join(name), png).unwrap();
    }

    /// The page's text as a reader sees it.
    pub async fn text(&self) -> String {
        self.client
            .find(Locator::Css("body"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// What a script from an email would have set, if one had run.
    pub async fn hostile_script_result(&self) -> serde_json::Value {
        self.run("return typeof window.__pwned === 'undefined' ? null : window.__pwned;")
            .await
    }

    /// How many `<img>` elements the page has.
    pub async fn image_count(&self) -> usize {
        self.client
            .find_all(Locator::Css("img"))
            .await
            .unwrap()
            .len()
    }

    /// The `src` of every script on the page.
    pub async fn script_sources(&self) -> serde_json::Value {
        self.run("return Array.from(document.scripts).map(s => s.src);")
            .await
    }

    /// How many elements carry an `onerror` handler.
    pub async fn onerror_handler_count(&self) -> serde_json::Value {
        self.run("return document.querySelectorAll('[onerror]').length;")
            .await
    }

    /// Runs `script` in the page and returns what it returns.
    pub async fn run(&self, script: &str) -> serde_json::Value {
        self.client.execute(script, vec![]).await.unwrap()
    }

    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The group this test started: chromedriver and its Chromium.
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let _ = self.driver.wait();
    }
}
