//! Headless Chromium driven through chromedriver's WebDriver protocol (plain JSON over
//! HTTP on 127.0.0.1), finding controls by their visible labels as a person would.
//!
//! Without Debian's `chromium` and `chromium-driver` the browser suites are skipped, unless
//! `LATCH_REQUIRE_BROWSER=1` (CI), which makes a missing browser a failure.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// Keys for [`Browser::keys`], as WebDriver names them.
pub const TAB: &str = "\u{E004}";
pub const ENTER: &str = "\u{E007}";
pub const SHIFT_TAB: &str = "shift+tab";
/// The key WebDriver answers an element reference under.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long a control may take to appear.
const PATIENCE: Duration = Duration::from_secs(10);

pub struct Browser {
    driver: Child,
    http: reqwest::Client,
    session: String,
    /// Chromium's temporary files (its profile, its singleton socket): a folder of its own,
    /// removed with the browser, so that no run leaves them in the system's.
    _scratch: tempfile::TempDir,
}

impl Browser {
    /// A new headless browser, or `None` (after saying so) when none is installed.
    pub async fn start() -> Option<Self> {
        let installed =
            std::path::Path::new(CHROMIUM).exists() && std::path::Path::new(CHROMEDRIVER).exists();
        if !installed {
            assert!(
                std::env::var("LATCH_REQUIRE_BROWSER").is_err(),
                "LATCH_REQUIRE_BROWSER is set but {CHROMIUM} or {CHROMEDRIVER} is missing"
            );
            crate::skips::browser(&format!("{CHROMIUM} or {CHROMEDRIVER} is not installed"));
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let scratch = tempfile::tempdir().expect("a folder for the browser's files");
        // A process group of its own, so that the browsers it starts go with it.
        let driver = Command::new(CHROMEDRIVER)
            .process_group(0)
            .env("TMPDIR", scratch.path())
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1280,1000",
                         "--disable-crash-reporter", "--disable-breakpad"]
            }
        }}});
        let started = Instant::now();
        let session = loop {
            match http
                .post(format!("{base}/session"))
                .json(&capabilities)
                .send()
                .await
            {
                Ok(response) => {
                    let answer: Value = response.json().await.unwrap();
                    break answer["value"]["sessionId"]
                        .as_str()
                        .unwrap_or_else(|| panic!("no browser session: {answer}"))
                        .to_string();
                }
                Err(_) if started.elapsed() < PATIENCE => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(error) => panic!("chromedriver does not answer: {error}"),
            }
        };
        Some(Self {
            driver,
            http,
            session: format!("{base}/session/{session}"),
            _scratch: scratch,
        })
    }

    async fn command(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method, format!("{}{path}", self.session));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer: Value = request.send().await.unwrap().json().await.unwrap();
        answer["value"].clone()
    }

    /// Closes the browser the way WebDriver asks, so that it leaves no process behind.
    pub async fn quit(self) {
        self.command(reqwest::Method::DELETE, "", None).await;
    }

    /// The handles of the open windows, the first one first.
    pub async fn windows(&self) -> Vec<String> {
        self.command(reqwest::Method::GET, "/window/handles", None)
            .await
            .as_array()
            .unwrap()
            .iter()
            .map(|handle| handle.as_str().unwrap().to_string())
            .collect()
    }

    /// Waits for a window besides `known` to open; its handle.
    pub async fn new_window(&self, known: &[String]) -> String {
        let started = Instant::now();
        loop {
            if let Some(handle) = self
                .windows()
                .await
                .into_iter()
                .find(|handle| !known.contains(handle))
            {
                return handle;
            }
            assert!(started.elapsed() < PATIENCE, "no window opened");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn switch_to(&self, handle: &str) {
        self.command(
            reqwest::Method::POST,
            "/window",
            Some(json!({"handle": handle})),
        )
        .await;
    }

    pub async fn goto(&self, url: &str) {
        self.command(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    /// The first element matching `xpath`, waiting for it to appear.
    pub async fn find(&self, xpath: &str) -> String {
        let started = Instant::now();
        loop {
            if let Some(id) = self.try_find(xpath).await {
                return id;
            }
            assert!(
                started.elapsed() < PATIENCE,
                "nothing matches {xpath}; the page says: {}",
                self.page_text().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn try_find(&self, xpath: &str) -> Option<String> {
        let found = self
            .command(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "xpath", "value": xpath})),
            )
            .await;
        found[ELEMENT].as_str().map(str::to_string)
    }

    /// Waits until nothing matches `xpath` (an overlay closed, say).
    pub async fn wait_gone(&self, xpath: &str) {
        let started = Instant::now();
        while self.try_find(xpath).await.is_some() {
            assert!(started.elapsed() < PATIENCE, "{xpath} never went away");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until `element` has left the page (the part holding it was drawn again).
    pub async fn wait_stale(&self, element: &str) {
        let started = Instant::now();
        loop {
            let answer = self
                .command(
                    reqwest::Method::GET,
                    &format!("/element/{element}/enabled"),
                    None,
                )
                .await;
            if answer["error"].as_str() == Some("stale element reference") {
                return;
            }
            assert!(started.elapsed() < PATIENCE, "{element} stayed on the page");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The control a visible label names.
    pub async fn labelled(&self, label: &str) -> String {
        let label = self
            .find(&format!("//label[normalize-space(.)={}]", literal(label)))
            .await;
        let target = self
            .command(
                reqwest::Method::GET,
                &format!("/element/{label}/attribute/for"),
                None,
            )
            .await;
        let id = target
            .as_str()
            .unwrap_or_else(|| panic!("label without `for`"));
        self.find(&format!("//*[@id={}]", literal(id))).await
    }

    /// Types `text` into the control labelled `label`, replacing what it held.
    pub async fn fill(&self, label: &str, text: &str) {
        let field = self.labelled(label).await;
        self.command(
            reqwest::Method::POST,
            &format!("/element/{field}/clear"),
            Some(json!({})),
        )
        .await;
        self.command(
            reqwest::Method::POST,
            &format!("/element/{field}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    /// Picks `option` in the list labelled `label`.
    pub async fn choose(&self, label: &str, option: &str) {
        let list = self.labelled(label).await;
        let id = self
            .attribute(&list, "id")
            .await
            .expect("a labelled list has an id");
        let choice = self
            .find(&format!(
                "//select[@id={}]/option[normalize-space(.)={}]",
                literal(&id),
                literal(option)
            ))
            .await;
        self.click(&choice).await;
    }

    /// Clicks the button (or the link) whose text is `text`.
    pub async fn press(&self, text: &str) {
        let button = self
            .find(&format!(
                "//*[self::button or self::a][normalize-space(.)={}]",
                literal(text)
            ))
            .await;
        self.click(&button).await;
    }

    /// Clicks the button whose text is `text` in the open dialog (a question's answer).
    pub async fn answer(&self, text: &str) {
        let button = self
            .find(&format!(
                "//dialog[@open]//button[normalize-space(.)={}]",
                literal(text)
            ))
            .await;
        self.click(&button).await;
    }

    /// Sets the size of the window (the page gets what its frame leaves).
    pub async fn resize(&self, width: u32, height: u32) {
        self.command(
            reqwest::Method::POST,
            "/window/rect",
            Some(json!({"width": width, "height": height})),
        )
        .await;
    }

    /// Presses keys as a keyboard would, at whatever has the focus: `TAB`, `ENTER`,
    /// `SHIFT_TAB` or text.
    pub async fn keys(&self, keys: &str) {
        let mut actions = Vec::new();
        let shift_tab = keys == SHIFT_TAB;
        if shift_tab {
            actions.push(json!({"type": "keyDown", "value": "\u{E008}"}));
        }
        let typed = if shift_tab { TAB } else { keys };
        for key in typed.chars() {
            actions.push(json!({"type": "keyDown", "value": key.to_string()}));
            actions.push(json!({"type": "keyUp", "value": key.to_string()}));
        }
        if shift_tab {
            actions.push(json!({"type": "keyUp", "value": "\u{E008}"}));
        }
        self.command(
            reqwest::Method::POST,
            "/actions",
            Some(json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]})),
        )
        .await;
        self.command(reqwest::Method::DELETE, "/actions", None)
            .await;
    }

    /// What has the focus, as a person reads it: its label, its text or its value.
    pub async fn focused(&self) -> String {
        self.script(
            "const e = document.activeElement; if (!e) return ''; \
             const named = e.id && document.querySelector(`label[for='${e.id}']`); \
             return (e.getAttribute('aria-label') || (named && named.textContent) || \
                     e.textContent || e.value || '').trim();",
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    /// Presses Tab until what has the focus reads `text` (at most 60 times); panics if
    /// nothing does.
    pub async fn tab_to(&self, text: &str) {
        for _ in 0..60 {
            self.keys(TAB).await;
            if self.focused().await == text {
                return;
            }
        }
        panic!(
            "Tab never reached {text:?}; the page says: {}",
            self.page_text().await
        );
    }

    /// How far the page reaches past the window's right edge, in CSS pixels (0 when it
    /// does not scroll sideways).
    pub async fn overflow_x(&self) -> i64 {
        self.script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
        )
        .await
        .as_i64()
        .unwrap()
    }

    /// The box of the first element matching a CSS `selector`: [left, top, right, bottom]
    /// relative to the window.
    pub async fn rect(&self, selector: &str) -> [f64; 4] {
        let found = self
            .script(&format!(
                "const e = document.querySelector({}); if (!e) return null; \
                 const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom];",
                serde_json::to_string(selector).unwrap()
            ))
            .await;
        let values = found
            .as_array()
            .unwrap_or_else(|| panic!("nothing matches {selector}"));
        std::array::from_fn(|index| values[index].as_f64().unwrap())
    }

    /// The window's inner size in CSS pixels.
    pub async fn viewport(&self) -> (f64, f64) {
        let size = self
            .script("return [window.innerWidth, window.innerHeight];")
            .await;
        (size[0].as_f64().unwrap(), size[1].as_f64().unwrap())
    }

    /// The address the page is at.
    pub async fn location(&self) -> String {
        self.script("return location.pathname + location.search;")
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Makes the page see a system set to dark mode (`prefers-color-scheme: dark`), through
    /// chromedriver's DevTools passage.
    pub async fn emulate_dark_mode(&self) {
        self.command(
            reqwest::Method::POST,
            "/goog/cdp/execute",
            Some(json!({"cmd": "Emulation.setEmulatedMedia", "params": {
                "features": [{"name": "prefers-color-scheme", "value": "dark"}]
            }})),
        )
        .await;
    }

    /// Lets pages on `origin` write to and read the clipboard, as a person allows it when asked
    /// (headless Chromium otherwise refuses both), through chromedriver's DevTools passage.
    pub async fn grant_clipboard(&self, origin: &str) {
        self.command(
            reqwest::Method::POST,
            "/goog/cdp/execute",
            Some(json!({"cmd": "Browser.grantPermissions", "params": {
                "origin": origin,
                "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]
            }})),
        )
        .await;
    }

    /// What the clipboard holds now, read by the page (see `grant_clipboard`).
    pub async fn clipboard(&self) -> String {
        self.command(
            reqwest::Method::POST,
            "/execute/async",
            Some(json!({
                "script": "const done = arguments[arguments.length - 1]; \
                           navigator.clipboard.readText().then(done, (error) => done('refused: ' + error));",
                "args": []
            })),
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    /// Goes back in the history, as the Back button does.
    pub async fn back(&self) {
        self.command(reqwest::Method::POST, "/back", Some(json!({})))
            .await;
    }

    /// Loads the page again, as the reload button does.
    pub async fn reload(&self) {
        self.command(reqwest::Method::POST, "/refresh", Some(json!({})))
            .await;
    }

    pub async fn click(&self, element: &str) {
        self.command(
            reqwest::Method::POST,
            &format!("/element/{element}/click"),
            Some(json!({})),
        )
        .await;
    }

    pub async fn attribute(&self, element: &str, name: &str) -> Option<String> {
        self.command(
            reqwest::Method::GET,
            &format!("/element/{element}/attribute/{name}"),
            None,
        )
        .await
        .as_str()
        .map(str::to_string)
    }

    /// The value a control holds now.
    pub async fn value_of(&self, element: &str) -> String {
        self.command(
            reqwest::Method::GET,
            &format!("/element/{element}/property/value"),
            None,
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    /// Runs a script in the page; its result.
    pub async fn script(&self, script: &str) -> Value {
        self.command(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
        .await
    }

    /// All the text the page shows.
    pub async fn page_text(&self) -> String {
        self.script("return document.body.innerText;")
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Waits until the page shows `text`.
    pub async fn wait_for_text(&self, text: &str) {
        let started = Instant::now();
        while !self.page_text().await.contains(text) {
            assert!(
                started.elapsed() < PATIENCE,
                "the page never said {text:?}; it says: {}",
                self.page_text().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Saves what the browser shows as `{name}.png` in `LATCH_CONSOLE_SCREENSHOTS`, when that
    /// folder is set (to refresh `docs/console/`).
    pub async fn screenshot(&self, name: &str) {
        let Ok(folder) = std::env::var("LATCH_CONSOLE_SCREENSHOTS") else {
            return;
        };
        use base64::Engine;
        let encoded = self
            .command(reqwest::Method::GET, "/screenshot", None)
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().unwrap())
            .unwrap();
        std::fs::write(
            std::path::Path::new(&folder).join(format!("{name}.png")),
            png,
        )
        .unwrap();
    }

    /// The whole document as HTML, for searching what must not be in it.
    pub async fn html(&self) -> String {
        self.script("return document.documentElement.outerHTML;")
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.driver.wait();
    }
}

/// An XPath string literal for `text` (which holds no double quote here).
fn literal(text: &str) -> String {
    assert!(!text.contains('"'), "{text}");
    format!("\"{text}\"")
}
