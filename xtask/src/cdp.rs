//! A minimal Chrome DevTools Protocol client: headless Chromium started with
//! `--remote-debugging-port=0`, one page attached over the browser's WebSocket (flat sessions),
//! and the handful of commands the browser test uses (navigate, evaluate, mouse events,
//! screenshots). Synchronous: one command at a time, events skipped.
//!
//! Why not a CDP crate: `chromiumoxide` and `headless_chrome` carry the whole generated protocol
//! (hundreds of thousands of lines; minutes of compiling on two cores) for the six methods used
//! here; this is `tungstenite` and `serde_json`.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

/// The flags that work in a container as root (the probe's), plus the remote debugging port.
const FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
    "--remote-debugging-port=0",
    "--remote-allow-origins=*",
];

/// A headless Chromium with one page attached.
pub struct Browser {
    child: Child,
    ws: WebSocket<MaybeTlsStream<TcpStream>>,
    session: String,
    next_id: u64,
    profile: PathBuf,
}

impl std::fmt::Debug for Browser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Browser")
            .field("pid", &self.child.id())
            .finish_non_exhaustive()
    }
}

impl Browser {
    /// Starts `chromium` with a fresh profile in `profile` (removed on drop) and a page of
    /// `width × height` CSS pixels.
    pub fn launch(chromium: &Path, profile: PathBuf, width: u32, height: u32) -> Result<Browser> {
        std::fs::create_dir_all(&profile)?;
        let mut child = Command::new(chromium)
            .args(FLAGS)
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(format!("--window-size={width},{height}"))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("start {}", chromium.display()))?;
        let stderr = child.stderr.take().context("chromium's stderr")?;
        let (tx, rx) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("DevTools listening on ") {
                    let _ = tx.send(url.trim().to_string());
                }
            }
        });
        let url = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                bail!("chromium did not print its DevTools address within 30 s");
            }
        };
        let (mut ws, _) = tungstenite::connect(url.as_str())
            .with_context(|| format!("connect to chromium's DevTools at {url}"))?;
        if let MaybeTlsStream::Plain(s) = ws.get_mut() {
            s.set_read_timeout(Some(Duration::from_secs(60)))?;
        }
        let mut browser = Browser {
            child,
            ws,
            session: String::new(),
            next_id: 0,
            profile,
        };
        let target = browser.call_browser(
            "Target.createTarget",
            json!({ "url": "about:blank", "newWindow": false }),
        )?;
        let target_id = target["targetId"]
            .as_str()
            .context("Target.createTarget gave no targetId")?
            .to_string();
        let attached = browser.call_browser(
            "Target.attachToTarget",
            json!({ "targetId": target_id, "flatten": true }),
        )?;
        browser.session = attached["sessionId"]
            .as_str()
            .context("Target.attachToTarget gave no sessionId")?
            .to_string();
        browser.call("Page.enable", json!({}))?;
        browser.call("Runtime.enable", json!({}))?;
        browser.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false }),
        )?;
        Ok(browser)
    }

    fn send(&mut self, method: &str, params: Value, session: bool) -> Result<Value> {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({ "id": id, "method": method, "params": params });
        if session {
            msg["sessionId"] = json!(self.session);
        }
        self.ws
            .send(Message::text(msg.to_string()))
            .with_context(|| format!("send {method}"))?;
        loop {
            let reply = self.ws.read().with_context(|| format!("await {method}"))?;
            let Message::Text(text) = reply else {
                continue;
            };
            let v: Value = serde_json::from_str(text.as_str())?;
            if v["id"].as_u64() != Some(id) {
                continue; // an event, or another session's
            }
            if let Some(e) = v.get("error") {
                bail!("{method}: {e}");
            }
            return Ok(v["result"].clone());
        }
    }

    fn call_browser(&mut self, method: &str, params: Value) -> Result<Value> {
        self.send(method, params, false)
    }

    /// A command to the page.
    pub fn call(&mut self, method: &str, params: Value) -> Result<Value> {
        self.send(method, params, true)
    }

    /// Loads `url`.
    pub fn navigate(&mut self, url: &str) -> Result<()> {
        let r = self.call("Page.navigate", json!({ "url": url }))?;
        if let Some(e) = r.get("errorText") {
            bail!("navigate to {url}: {e}");
        }
        Ok(())
    }

    /// Evaluates `expression` in the page (promises awaited) and returns its value.
    pub fn eval(&mut self, expression: &str) -> Result<Value> {
        let r = self.call(
            "Runtime.evaluate",
            json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
        )?;
        if let Some(e) = r.get("exceptionDetails") {
            bail!("{expression}: {e}");
        }
        Ok(r["result"]["value"].clone())
    }

    /// Polls `expression` every 50 ms until it is `true`, for at most `timeout`.
    pub fn wait_for(&mut self, expression: &str, timeout: Duration) -> Result<Duration> {
        let start = Instant::now();
        loop {
            if self.eval(expression)? == json!(true) {
                return Ok(start.elapsed());
            }
            if start.elapsed() > timeout {
                bail!("waited {timeout:?} for `{expression}`");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A mouse event at page coordinates (`mousePressed`, `mouseMoved`, `mouseReleased`).
    pub fn mouse(&mut self, kind: &str, x: f64, y: f64, pressed: bool) -> Result<()> {
        self.call(
            "Input.dispatchMouseEvent",
            json!({
                "type": kind, "x": x, "y": y, "button": if pressed || kind != "mouseMoved" { "left" } else { "none" },
                "buttons": if pressed { 1 } else { 0 }, "clickCount": 1,
            }),
        )?;
        Ok(())
    }

    /// A click at the centre of the element `selector`.
    pub fn click(&mut self, selector: &str) -> Result<()> {
        let r = self.eval(&format!(
            "(() => {{ const r = document.querySelector({}).getBoundingClientRect(); \
             return [r.left + r.width / 2, r.top + r.height / 2]; }})()",
            json!(selector)
        ))?;
        let (x, y) = (
            r[0].as_f64()
                .ok_or_else(|| anyhow!("no element {selector}"))?,
            r[1].as_f64()
                .ok_or_else(|| anyhow!("no element {selector}"))?,
        );
        self.mouse("mousePressed", x, y, true)?;
        self.mouse("mouseReleased", x, y, false)
    }

    /// A PNG of the page.
    pub fn screenshot(&mut self) -> Result<Vec<u8>> {
        let r = self.call("Page.captureScreenshot", json!({ "format": "png" }))?;
        let data = r["data"].as_str().context("no screenshot data")?;
        base64_decode(data)
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.call_browser("Browser.close", json!({}));
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// Standard base64 (with padding) to bytes.
fn base64_decode(s: &str) -> Result<Vec<u8>> {
    fn value(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let bytes: Vec<u8> = s.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    for chunk in bytes.chunks(4) {
        let digits: Vec<u32> = chunk
            .iter()
            .take_while(|&&c| c != b'=')
            .map(|&c| value(c).ok_or_else(|| anyhow!("not base64: {:?}", c as char)))
            .collect::<Result<_>>()?;
        let n = digits.len();
        let word = digits.iter().fold(0u32, |w, d| (w << 6) | d) << (6 * (4 - n));
        let all = [(word >> 16) as u8, (word >> 8) as u8, word as u8];
        out.extend_from_slice(&all[..n.saturating_sub(1)]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_round_trips_the_rfc_examples() {
        for (text, enc) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(super::base64_decode(enc).expect("valid"), text.as_bytes());
        }
    }
}
