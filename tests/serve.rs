//! The explorer's server over loopback: its routes with good and bad requests, the fit's stream
//! (byte-equal to the engine's trace), cancellation when the client goes, the cap on concurrent
//! fits, and a fuzz pass over the request bodies. A small HTTP/1.1 client on `std::net` speaks to
//! it; every wait is bounded.
#![cfg(feature = "serve")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use forward_backward_kl::config::{self, Files};
use forward_backward_kl::serve::{MAX_BODY_BYTES, Options, Server};
use forward_backward_kl::{Error, engine, report};
use proptest::prelude::*;
use serde_json::{Value, json};

fn server(max_fits: usize) -> Server {
    Server::start(Options {
        host: Ipv4Addr::LOCALHOST.into(),
        port: 0,
        max_fits,
    })
    .expect("the explorer starts on a free loopback port")
}

/// A response: status, headers (lower-case names) and the body, de-chunked.
#[derive(Debug)]
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }

    fn error(&self) -> String {
        self.json()["error"]
            .as_str()
            .unwrap_or_else(|| panic!("no error in {:?}", self.json()))
            .to_string()
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect to the explorer");
    s.set_read_timeout(Some(Duration::from_secs(120))).ok();
    s.set_write_timeout(Some(Duration::from_secs(30))).ok();
    s
}

fn send_head(s: &mut TcpStream, method: &str, path: &str, len: usize) {
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Content-Length: {len}\r\nConnection: close\r\n\r\n"
    );
    s.write_all(head.as_bytes()).expect("send the request head");
}

/// Reads the status line and headers.
fn read_head(r: &mut impl BufRead) -> (u16, Vec<(String, String)>) {
    let mut line = String::new();
    r.read_line(&mut line).expect("a status line");
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not a status line: {line:?}"));
    let mut headers = Vec::new();
    loop {
        line.clear();
        r.read_line(&mut line).expect("a header line");
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((n, v)) = l.split_once(':') {
            headers.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    (status, headers)
}

/// A chunked body as a reader.
struct Chunked<R> {
    inner: R,
    left: usize,
    done: bool,
}

impl<R: BufRead> Read for Chunked<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.done {
            return Ok(0);
        }
        if self.left == 0 {
            let mut line = String::new();
            self.inner.read_line(&mut line)?;
            if line.trim().is_empty() {
                line.clear();
                self.inner.read_line(&mut line)?;
            }
            let size = usize::from_str_radix(line.trim(), 16)
                .map_err(|_| std::io::Error::other(format!("bad chunk size {line:?}")))?;
            if size == 0 {
                self.done = true;
                return Ok(0);
            }
            self.left = size;
        }
        let n = buf.len().min(self.left);
        let got = self.inner.read(&mut buf[..n])?;
        self.left -= got;
        Ok(got)
    }
}

fn body_reader<'a>(r: BufReader<TcpStream>, headers: &[(String, String)]) -> Box<dyn BufRead + 'a> {
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
    if chunked {
        Box::new(BufReader::new(Chunked {
            inner: r,
            left: 0,
            done: false,
        }))
    } else {
        Box::new(r)
    }
}

fn request(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> Response {
    let mut s = connect(addr);
    send_head(&mut s, method, path, body.len());
    // A refused body may be cut off by the server: the response is what counts.
    let _ = s.write_all(body);
    let mut r = BufReader::new(s);
    let (status, headers) = read_head(&mut r);
    let mut body = Vec::new();
    let _ = body_reader(r, &headers).read_to_end(&mut body);
    Response {
        status,
        headers,
        body,
    }
}

fn post(addr: SocketAddr, path: &str, body: &Value) -> Response {
    request(addr, "POST", path, body.to_string().as_bytes())
}

/// A fit's event stream, read as it comes.
struct Events {
    reader: Box<dyn BufRead>,
}

impl Events {
    /// Starts a fit; the response must be the stream.
    fn start(addr: SocketAddr, body: &Value) -> Events {
        let mut s = connect(addr);
        let text = body.to_string();
        send_head(&mut s, "POST", "/api/fit", text.len());
        s.write_all(text.as_bytes()).expect("send the body");
        let mut r = BufReader::new(s);
        let (status, headers) = read_head(&mut r);
        assert_eq!(status, 200, "{headers:?}");
        assert!(
            headers
                .iter()
                .any(|(n, v)| n == "content-type" && v.starts_with("text/event-stream"))
        );
        Events {
            reader: body_reader(r, &headers),
        }
    }

    /// The next event (name, JSON data), or `None` at the end of the stream.
    fn next(&mut self) -> Option<(String, Value)> {
        let mut event = String::from("message");
        let mut data = String::new();
        loop {
            let mut line = String::new();
            if self.reader.read_line(&mut line).ok()? == 0 {
                return None;
            }
            let l = line.trim_end_matches(['\r', '\n']);
            if l.is_empty() {
                if data.is_empty() {
                    continue; // a keep-alive comment's end
                }
                let v = serde_json::from_str(&data).expect("event data is JSON");
                return Some((event, v));
            }
            if let Some(e) = l.strip_prefix("event:") {
                event = e.trim().to_string();
            } else if let Some(d) = l.strip_prefix("data:") {
                data.push_str(d.strip_prefix(' ').unwrap_or(d));
            }
        }
    }

    fn all(mut self) -> Vec<(String, Value)> {
        let mut out = Vec::new();
        while let Some(e) = self.next() {
            out.push(e);
        }
        out
    }
}

/// The notebook's reverse-KL experiment (experiments/mixture-reverse.toml) as the page sends it.
fn notebook_settings() -> Value {
    json!({
        "target": {
            "kind": "mixture",
            "weights": [0.8, 0.2],
            "components": [
                {"mean": [0.5, -0.7], "cov": [[1.0, 1.0], [1.0, 2.0]]},
                {"mean": [-2.5, 2.5], "cov": [[0.5, 0.1], [0.1, 0.5]]}
            ]
        },
        "objective": {"kind": "reverse-kl", "n_samples": 1000, "estimator": "total"},
        "family": "full-rank",
        "optimizer": {"kind": "sgd", "learning_rate": 0.1, "n_iters": 20},
        "init": {
            "mean": [1.7278361320495605, 2.2045562267303467],
            "raw": [[0.7948276400566101, 0.9764211177825928],
                    [-1.183427095413208, 1.9163635969161987]]
        },
        "seed": 8
    })
}

/// Settings for a fit that would run for minutes: many cheap steps.
fn long_settings() -> Value {
    let mut s = notebook_settings();
    s["objective"]["n_samples"] = json!(200);
    s["optimizer"] = json!({"kind": "adam", "learning_rate": 0.01, "n_iters": 1_000_000});
    s
}

struct NoFiles;

impl Files for NoFiles {
    fn read(&self, path: &Path, _what: &'static str, _limit: u64) -> Result<Vec<u8>, Error> {
        Err(Error::Input {
            path: path.to_path_buf(),
            message: "no files here".into(),
        })
    }
}

fn parse(text: &str) -> Result<config::Experiment, Error> {
    config::parse(text, Path::new("explorer.toml"), &NoFiles)
}

/// Polls `/api/status` until `running` is `want`, for at most `within`.
fn wait_running(addr: SocketAddr, want: u64, within: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let running = request(addr, "GET", "/api/status", b"").json()["running"]
            .as_u64()
            .expect("status has `running`");
        if running == want {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < within,
            "{running} fits still running after {within:?}, expected {want}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_page_and_its_assets_are_served() {
    let s = server(4);
    let page = request(s.addr(), "GET", "/", b"");
    assert_eq!(page.status, 200);
    assert!(
        page.header("content-type")
            .unwrap_or("")
            .starts_with("text/html")
    );
    let html = String::from_utf8_lossy(&page.body);
    assert!(html.contains("<canvas id=\"plot\"") && html.contains("/explorer.js"));
    for (path, kind) in [
        ("/explorer.js", "text/javascript"),
        ("/explorer.css", "text/css"),
    ] {
        let r = request(s.addr(), "GET", path, b"");
        assert_eq!(r.status, 200, "{path}");
        assert!(r.header("content-type").unwrap_or("").starts_with(kind));
    }
    let missing = request(s.addr(), "GET", "/etc/passwd", b"");
    assert_eq!(missing.status, 404);
    assert_eq!(missing.error(), "no such page");
    let status = request(s.addr(), "GET", "/api/status", b"").json();
    assert_eq!(status["running"], 0);
    assert_eq!(status["max_fits"], 4);
}

#[test]
fn the_experiment_route_gives_the_file_that_runs() {
    let s = server(4);
    let r = post(
        s.addr(),
        "/api/experiment",
        &json!({ "settings": notebook_settings() }),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let toml = r.json()["toml"].as_str().expect("toml").to_string();
    let exp = parse(&toml).expect("the downloaded file validates");
    assert_eq!(exp.name, "explorer");
    assert_eq!(exp.seed, 8);
    assert_eq!(exp.n_iters, 20);
    // The settings' numbers survive the trip exactly.
    let expected = parse(
        &std::fs::read_to_string("experiments/mixture-reverse.toml")
            .expect("the notebook's experiment"),
    )
    .expect("it validates");
    assert_eq!(format!("{:?}", exp.init), format!("{:?}", expected.init));
    assert_eq!(exp.objective, expected.objective);
}

#[test]
fn p_is_drawn_as_contours_for_every_kind() {
    let s = server(4);
    let targets = [
        notebook_settings()["target"].clone(),
        json!({"kind": "mvn", "mean": [1.0, 1.0], "cov": [[1.0, 0.3], [0.3, 0.5]]}),
        json!({"kind": "banana", "scale": 1.0, "curvature": 0.8}),
        json!({"kind": "funnel", "scale": 1.5}),
        json!({"kind": "student-t", "df": 3.0, "mean": [0.0, 0.0], "scale": [[1.0, 0.5], [0.5, 1.0]]}),
        json!({"kind": "ring", "radius": 2.0, "width": 0.3}),
    ];
    for t in targets {
        let r = post(s.addr(), "/api/target", &json!({ "target": t }));
        assert_eq!(r.status, 200, "{t}: {}", String::from_utf8_lossy(&r.body));
        let c = r.json();
        let levels = c["levels"].as_array().expect("levels");
        assert_eq!(levels.len(), 9, "{t}: the notebook's 9 levels above 0");
        assert!(
            levels
                .iter()
                .all(|l| l["color"].as_str().is_some_and(|c| c.len() == 7)),
            "{t}"
        );
        assert!(
            levels
                .iter()
                .any(|l| !l["lines"].as_array().expect("lines").is_empty()),
            "{t}"
        );
    }
    let bad = post(
        s.addr(),
        "/api/target",
        &json!({"target": {"kind": "ring", "radius": -1.0, "width": 0.3}}),
    );
    assert_eq!(bad.status, 422);
    assert!(bad.error().contains("target.radius"), "{}", bad.error());
}

#[test]
fn bad_requests_are_refused_with_the_reason() {
    let s = server(4);
    let with = |edit: &dyn Fn(&mut Value)| {
        let mut v = notebook_settings();
        edit(&mut v);
        json!({ "settings": v })
    };
    let cases: Vec<(&str, Value, u16, &str)> = vec![
        (
            "/api/fit",
            with(&|v| v["colour"] = json!("red")),
            400,
            "unknown field `colour`",
        ),
        (
            "/api/fit",
            with(&|v| v["optimizer"]["momentun"] = json!(0.9)),
            400,
            "unknown field `momentun`",
        ),
        (
            "/api/fit",
            with(&|v| v["target"] = json!({"kind": "samples", "path": "/etc/passwd"})),
            400,
            "unknown variant `samples`",
        ),
        (
            "/api/fit",
            with(&|v| v["optimizer"]["n_iters"] = json!(2_000_000)),
            422,
            "optimizer.n_iters: must be between 1 and 1000000, got 2000000",
        ),
        (
            "/api/fit",
            with(&|v| v["objective"]["n_samples"] = json!(6_000_000)),
            422,
            "more than the limit",
        ),
        (
            "/api/fit",
            with(&|v| v["objective"] = json!({"kind": "forward-kl-exact", "n_samples": 10})),
            422,
            "needs a Gaussian target",
        ),
        (
            "/api/fit",
            with(&|v| v["objective"] = json!({"kind": "renyi", "n_samples": 10, "alpha": 1.0})),
            422,
            "α = 1 is the reverse KL",
        ),
        (
            "/api/fit",
            with(&|v| v["optimizer"]["learning_rate"] = json!("fast")),
            422,
            "optimizer.learning_rate",
        ),
        (
            "/api/fit",
            with(&|v| v["family"] = json!("diagonal")),
            422,
            "unknown family",
        ),
        (
            "/api/fit",
            json!({"settings": notebook_settings(), "toml": "name = \"x\""}),
            400,
            "not both",
        ),
        ("/api/fit", json!({}), 400, "not both nor neither"),
        ("/api/fit", json!([1, 2]), 400, "not the expected JSON"),
        (
            "/api/experiment",
            with(&|v| v["seed"] = json!(-1)),
            400,
            "invalid value",
        ),
        (
            "/api/target",
            json!({"target": {"kind": "banana", "scale": 1.0}}),
            400,
            "missing field `curvature`",
        ),
        (
            "/api/target",
            json!({"target": {"kind": "ring", "radius": 1.0, "width": 0.3}, "lim": [1, 0, 0, 1]}),
            422,
            "plot.lim: needs xmin < xmax",
        ),
    ];
    for (path, body, status, needle) in cases {
        let r = post(s.addr(), path, &body);
        assert_eq!(
            r.status,
            status,
            "{path} {body}: {}",
            String::from_utf8_lossy(&r.body)
        );
        let e = r.error();
        assert!(e.contains(needle), "{path} {body}: {e:?} lacks {needle:?}");
        assert!(e.chars().count() < 400, "{e}");
    }
    // Experiment text: the validation's own error, worded as the command line words it.
    for text in [
        "name = ",
        "name = \"x\"\nseed = 1\nfoo = 2\n",
        "name = \"x\"\nseed = 1\n[target]\nkind = \"samples\"\npath = \"../data/breast_cancer.csv\"\n\
         [init]\nrandom = true\n[objective]\nkind = \"forward-kl-samples\"\n\
         [optimizer]\nkind = \"sgd\"\nlearning_rate = 0.1\nn_iters = 1\n",
    ] {
        let r = post(s.addr(), "/api/fit", &json!({ "toml": text }));
        assert_eq!(r.status, 422, "{text}");
        let served = r.error();
        let e = parse(text).expect_err("the text is refused");
        let words = format!("error: {}", report(&e));
        // The same message, but for the explorer's own refusal to read files.
        if text.contains("samples") {
            assert!(served.contains("the explorer reads no files"), "{served}");
        } else {
            assert_eq!(served, words);
        }
    }
    // Methods and sizes.
    assert_eq!(request(s.addr(), "GET", "/api/fit", b"").status, 405);
    let huge = vec![b' '; MAX_BODY_BYTES + 1];
    let r = request(s.addr(), "POST", "/api/fit", &huge);
    assert_eq!(r.status, 413);
    let r = request(
        s.addr(),
        "POST",
        "/api/experiment",
        &vec![b'['; 10 * MAX_BODY_BYTES],
    );
    assert_eq!(r.status, 413);
    // The server is still there.
    assert_eq!(request(s.addr(), "GET", "/api/status", b"").status, 200);
}

#[test]
fn the_streamed_trace_is_the_engines_byte_for_byte() {
    let s = server(4);
    let body = json!({ "settings": notebook_settings() });
    let toml = post(s.addr(), "/api/experiment", &body).json()["toml"]
        .as_str()
        .expect("toml")
        .to_string();
    let started = Instant::now();
    let mut events = Events::start(s.addr(), &body);
    let (first, start) = events.next().expect("a first event");
    assert_eq!(first, "start");
    assert_eq!(
        start["toml"],
        toml.as_str(),
        "the stream names the file it runs"
    );
    let (name, frame0) = events.next().expect("a frame");
    let to_first_frame = started.elapsed();
    assert_eq!(name, "frame");
    assert_eq!(frame0["iteration"], 0);
    let server_ms = frame0["elapsed_ms"].as_f64().expect("elapsed_ms");
    eprintln!(
        "first frame: {server_ms:.1} ms after the request (server), {:.1} ms at the client",
        to_first_frame.as_secs_f64() * 1e3
    );
    let mut rest = events.all();
    let (last, done) = rest.pop().expect("a last event");
    assert_eq!(last, "done", "{done}");
    let frames: Vec<&Value> = std::iter::once(&frame0)
        .chain(rest.iter().map(|(n, v)| {
            assert_eq!(n, "frame");
            v
        }))
        .collect();
    assert_eq!(frames.len(), 21, "every one of 0..=20");

    // The engine in-process on the downloaded file: the same trace bytes.
    let run = engine::run(&parse(&toml).expect("valid")).expect("the fit runs");
    let bytes = engine::trace::trace_json(&run.trace);
    assert_eq!(
        done["trace"].as_str().expect("trace").as_bytes(),
        bytes.as_slice()
    );
    // The frames' exact KL is the trace's at the same states.
    for (f, it) in frames.iter().zip(&run.trace.iterations) {
        assert_eq!(f["iteration"].as_u64(), Some(it.iteration as u64));
        let kl = f["kl_reverse"].as_f64().expect("kl_reverse");
        assert!(
            (kl - it.kl_reverse.expect("quadrature")).abs() < 1e-12,
            "{kl} {:?}",
            it.kl_reverse
        );
    }
    let (fwd, rev) = run.trace.answer_kl();
    assert_eq!(done["kl_reverse"].as_f64(), rev);
    assert_eq!(done["kl_forward"].as_f64(), fwd);
    assert_eq!(done["termination"]["reason"], "max-iters");
    assert!(done["diagnostic"]["k_hat"].as_f64().is_some());
    assert!(done["diagnostic"]["ess"].as_f64().is_some_and(|e| e > 0.0));
    // And the command line on the downloaded file writes the same bytes.
    let dir = tempfile::tempdir().expect("a temporary folder");
    let file = dir.path().join("explorer.toml");
    std::fs::write(&file, &toml).expect("write the experiment");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_forward-backward-kl"))
        .arg("fit")
        .arg(&file)
        .arg("--out")
        .arg(dir.path().join("out"))
        .stderr(std::process::Stdio::null())
        .status()
        .expect("run the command line");
    assert!(status.success());
    let written = std::fs::read(dir.path().join("out/explorer/trace.json")).expect("trace.json");
    assert_eq!(written, bytes);
    // Also from the experiment's text itself.
    let again = Events::start(s.addr(), &json!({ "toml": toml })).all();
    let (_, done2) = again.last().expect("done");
    assert_eq!(done2["trace"], done["trace"]);
    wait_running(s.addr(), 0, Duration::from_secs(10));
}

#[test]
fn engine_errors_stream_as_the_command_line_words_them() {
    let s = server(4);
    let mut v = notebook_settings();
    v["optimizer"]["learning_rate"] = json!(1e6);
    let body = json!({ "settings": v });
    let toml = post(s.addr(), "/api/experiment", &body).json()["toml"]
        .as_str()
        .expect("toml")
        .to_string();
    let events = Events::start(s.addr(), &body).all();
    let (name, data) = events.last().expect("events");
    assert_eq!(name, "error", "{data}");
    let e = engine::run(&parse(&toml).expect("valid")).expect_err("it blows up");
    assert_eq!(data["message"], format!("error: {}", report(&e)).as_str());
    wait_running(s.addr(), 0, Duration::from_secs(10));
}

#[test]
fn a_fit_stops_when_its_client_goes() {
    let s = server(4);
    let mut events = Events::start(s.addr(), &json!({ "settings": long_settings() }));
    assert_eq!(events.next().map(|e| e.0).as_deref(), Some("start"));
    let (name, f) = events.next().expect("a frame");
    assert_eq!(name, "frame");
    assert_eq!(f["iteration"], 0);
    assert_eq!(
        request(s.addr(), "GET", "/api/status", b"").json()["running"],
        1
    );
    drop(events); // the tab is closed
    let took = wait_running(s.addr(), 0, Duration::from_secs(20));
    eprintln!(
        "the fit stopped {:.0} ms after its client left",
        took.as_secs_f64() * 1e3
    );
}

#[test]
fn more_fits_than_the_cap_are_refused_not_queued() {
    let s = server(2);
    let mut open = Vec::new();
    for _ in 0..2 {
        let mut e = Events::start(s.addr(), &json!({ "settings": long_settings() }));
        assert_eq!(e.next().map(|e| e.0).as_deref(), Some("start"));
        open.push(e);
    }
    let r = post(
        s.addr(),
        "/api/fit",
        &json!({ "settings": long_settings() }),
    );
    assert_eq!(r.status, 503);
    assert_eq!(r.header("retry-after"), Some("1"));
    assert!(r.error().contains("2 fits are running"), "{}", r.error());
    // Other routes still answer.
    assert_eq!(
        post(
            s.addr(),
            "/api/experiment",
            &json!({ "settings": notebook_settings() })
        )
        .status,
        200
    );
    drop(open);
    wait_running(s.addr(), 0, Duration::from_secs(20));
    let events = Events::start(s.addr(), &json!({ "settings": notebook_settings() })).all();
    assert_eq!(events.last().map(|e| e.0.as_str()), Some("done"));
}

/// Bodies for the fuzz pass: valid settings with a byte flipped, a span deleted or repeated, or
/// a number replaced by an extreme one; or arbitrary bytes.
fn mutated() -> impl Strategy<Value = Vec<u8>> {
    let base = json!({ "settings": notebook_settings() })
        .to_string()
        .into_bytes();
    let n = base.len();
    let extremes = prop::sample::select(vec![
        "1e308",
        "-1e308",
        "0",
        "-1",
        "1e-320",
        "18446744073709551616",
        "null",
        "\"auto\"",
        "[]",
        "{}",
        "true",
        "\"\\u0000\"",
        "1000000",
        "2.5",
    ]);
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..512),
        (0..n, any::<u8>()).prop_map({
            let base = base.clone();
            move |(i, b)| {
                let mut v = base.clone();
                v[i] = b;
                v
            }
        }),
        (0..n, 0..64usize).prop_map({
            let base = base.clone();
            move |(i, len)| {
                let mut v = base.clone();
                v.drain(i..(i + len).min(n));
                v
            }
        }),
        (0..n, 0..64usize).prop_map({
            let base = base.clone();
            move |(i, len)| {
                let mut v = base.clone();
                let span: Vec<u8> = v[i..(i + len).min(n)].to_vec();
                v.splice(i..i, span);
                v
            }
        }),
        (0..n, extremes).prop_map(move |(i, x)| {
            // Replace the number that starts at or after i.
            let text = String::from_utf8_lossy(&base).to_string();
            let Some(start) = text[i..].find(|c: char| c.is_ascii_digit()).map(|k| k + i) else {
                return base.clone();
            };
            let end = text[start..]
                .find(|c: char| !(c.is_ascii_digit() || ".eE-+".contains(c)))
                .map_or(text.len(), |k| k + start);
            format!("{}{x}{}", &text[..start], &text[end..]).into_bytes()
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn no_body_breaks_a_handler(body in mutated()) {
        static SERVER: std::sync::OnceLock<Server> = std::sync::OnceLock::new();
        let s = SERVER.get_or_init(|| server(4));
        for path in ["/api/fit", "/api/experiment", "/api/target"] {
            let mut c = connect(s.addr());
            send_head(&mut c, "POST", path, body.len());
            let _ = c.write_all(&body);
            let mut r = BufReader::new(c);
            let (status, headers) = read_head(&mut r);
            prop_assert!([200, 400, 413, 422, 503].contains(&status), "{path}: {status}");
            if status == 200 && path == "/api/fit" {
                // A valid fit: leave it; it stops once this client is gone.
                continue;
            }
            let mut bytes = Vec::new();
            let _ = body_reader(r, &headers).read_to_end(&mut bytes);
            let v: Value = serde_json::from_slice(&bytes)
                .map_err(|e| TestCaseError::fail(format!("{path} {status}: {e}")))?;
            if status != 200 {
                let e = v["error"].as_str().unwrap_or_default();
                prop_assert!(!e.is_empty() && e.chars().count() < 400, "{path}: {e}");
            }
        }
        prop_assert_eq!(request(s.addr(), "GET", "/api/status", b"").status, 200);
    }
}

#[test]
fn the_score_based_algorithms_stream_the_engines_trace() {
    // GSM, BaM and Pathfinder from the page: their own keys in [objective], no [optimizer]; the
    // streamed trace is the engine's on the downloaded file, byte for byte.
    let s = server(4);
    for kind in ["gsm", "bam", "pathfinder"] {
        let mut settings = notebook_settings();
        settings["objective"] = json!({"kind": kind, "n_samples": 4});
        settings["optimizer"]["n_iters"] = json!(30);
        let body = json!({ "settings": settings });
        let toml = post(s.addr(), "/api/experiment", &body).json()["toml"]
            .as_str()
            .expect("toml")
            .to_string();
        assert!(!toml.contains("[optimizer]"), "{kind}: {toml}");
        let mut events = Events::start(s.addr(), &body);
        let (first, _) = events.next().expect("a first event");
        assert_eq!(first, "start");
        let mut rest = events.all();
        let (last, done) = rest.pop().expect("a last event");
        assert_eq!(last, "done", "{kind}: {done}");
        assert!(rest.iter().all(|(n, _)| n == "frame"), "{kind}");
        let run = engine::run(&parse(&toml).expect("valid")).expect("the fit runs");
        let bytes = engine::trace::trace_json(&run.trace);
        assert_eq!(
            done["trace"].as_str().expect("trace").as_bytes(),
            bytes.as_slice(),
            "{kind}"
        );
    }
}
