//! The explorer: a local web server (`forward-backward-kl serve`) whose one page sets up a fit —
//! target, objective, family, optimizer — and watches q move over p as it runs. An adapter like
//! the command line: the page's settings become an experiment file's text, validated by
//! [`config::parse`] (the same schema, checks and limits, and no file
//! reads) and run by [`engine::run_observed`](crate::engine::run_observed); the page can
//! download that text, and `forward-backward-kl fit` on it writes the same `trace.json`.
//!
//! | route | what |
//! |---|---|
//! | `GET /` | the page (HTML, JS and CSS embedded in the binary; no build step) |
//! | `GET /api/status` | `{"running", "max_fits", "version"}` |
//! | `POST /api/experiment` | `{"settings": …}` → `{"toml": …}`, the experiment file; 422 with the config error |
//! | `POST /api/target` | `{"target": …, "lim"?: […]}` → p's contours (kl-render's marching squares) |
//! | `POST /api/fit` | `{"settings": …}` or `{"toml": …}` → a `text/event-stream` of the fit ([`fit`]) |
//!
//! # Invariants
//! - It binds to 127.0.0.1 unless told otherwise ([`Options::host`]); it reads and writes no
//!   file, and no request can name one (the page's targets are the kinds without data files;
//!   an experiment's text is parsed with a [`Files`] that refuses reads).
//! - Every body is capped ([`MAX_BODY_BYTES`], 413 beyond) and parsed into structs that refuse
//!   unknown keys; every failure is a JSON `{"error": …}` with a 4xx/5xx status, never a panic.
//! - At most [`Options::max_fits`] fits run at once (a semaphore; one more is a 503 with
//!   `Retry-After`, not queued); each runs on a blocking thread and stops at its next iteration
//!   once its client is gone, so a fit cannot outlive its client.

pub mod fit;
pub mod settings;
pub mod target;

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use tokio::sync::{Semaphore, mpsc};
use tokio_stream::StreamExt as _;
use tokio_stream::wrappers::ReceiverStream;

use crate::config::{self, Experiment, Files};
use crate::error::Error;
use settings::{Settings, TargetSettings};

/// The largest request body read (the page's are a few kilobytes; an experiment file of the
/// mixture's size is under 2 KiB).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The default number of fits that may run at once.
pub const DEFAULT_MAX_FITS: usize = 4;

/// Events buffered per fit before the fit waits for its client.
const CHANNEL: usize = 64;

const INDEX_HTML: &str = include_str!("../../assets/explorer/index.html");
const EXPLORER_JS: &str = include_str!("../../assets/explorer/explorer.js");
const EXPLORER_CSS: &str = include_str!("../../assets/explorer/explorer.css");

/// How the server is started.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// The address to bind (127.0.0.1 by default).
    pub host: IpAddr,
    /// The port (0: any free one).
    pub port: u16,
    /// The most fits that run at once.
    pub max_fits: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 8737,
            max_fits: DEFAULT_MAX_FITS,
        }
    }
}

/// What the handlers share.
#[derive(Debug, Clone)]
struct AppState {
    fits: Arc<Semaphore>,
    max_fits: usize,
    running: Arc<AtomicUsize>,
}

/// The [`Files`] of the explorer: experiments from the page name no file, and a read is refused.
struct NoFiles;

impl Files for NoFiles {
    fn read(&self, path: &Path, what: &'static str, _limit: u64) -> Result<Vec<u8>, Error> {
        Err(Error::Input {
            path: path.to_path_buf(),
            message: format!(
                "the explorer reads no files (asked for a {what}): use the command line for \
                 targets from files"
            ),
        })
    }
}

/// The router of the explorer, with at most `max_fits` fits at once.
pub fn router(max_fits: usize) -> Router {
    let state = AppState {
        fits: Arc::new(Semaphore::new(max_fits)),
        max_fits,
        running: Arc::new(AtomicUsize::new(0)),
    };
    Router::new()
        .route("/", get(index))
        .route("/explorer.js", get(script))
        .route("/explorer.css", get(style))
        .route("/api/status", get(status))
        .route("/api/experiment", post(experiment))
        .route("/api/target", post(target_contours))
        .route("/api/fit", post(start_fit))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

fn asset(kind: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(kind)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response()
}

async fn index() -> Response {
    asset("text/html; charset=utf-8", INDEX_HTML)
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", EXPLORER_JS)
}

async fn style() -> Response {
    asset("text/css; charset=utf-8", EXPLORER_CSS)
}

async fn not_found() -> Response {
    failure(StatusCode::NOT_FOUND, "no such page".into())
}

/// A JSON `{"error": message}` with `status`.
fn failure(status: StatusCode, message: String) -> Response {
    (status, axum::Json(json!({ "error": message }))).into_response()
}

/// Parses a JSON body into `T` (unknown keys refused), or a 400 saying where it is wrong.
#[allow(clippy::result_large_err)]
fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, Response> {
    serde_json::from_slice(body).map_err(|e| {
        let mut message = format!("the request is not the expected JSON: {e}");
        if message.len() > 300 {
            let cut = (0..=300)
                .rev()
                .find(|&i| message.is_char_boundary(i))
                .unwrap_or(0);
            message.truncate(cut);
            message.push('…');
        }
        failure(StatusCode::BAD_REQUEST, message)
    })
}

/// Validates experiment text as an experiment file, or a 422 with the command line's words.
#[allow(clippy::result_large_err)]
fn validate(text: &str) -> Result<Experiment, Response> {
    config::parse(text, Path::new(settings::PATH), &NoFiles)
        .map_err(|e| failure(StatusCode::UNPROCESSABLE_ENTITY, fit::error_text(&e)))
}

async fn status(State(app): State<AppState>) -> Response {
    axum::Json(json!({
        "running": app.running.load(Ordering::SeqCst),
        "max_fits": app.max_fits,
        "version": env!("CARGO_PKG_VERSION"),
    }))
    .into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExperimentRequest {
    settings: Settings,
}

async fn experiment(body: Bytes) -> Response {
    let req: ExperimentRequest = match parse_body(&body) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let text = req.settings.to_toml();
    match validate(&text) {
        Ok(_) => axum::Json(json!({ "toml": text })).into_response(),
        Err(r) => r,
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetRequest {
    target: TargetSettings,
    #[serde(default)]
    lim: Option<[f64; 4]>,
}

async fn target_contours(body: Bytes) -> Response {
    let req: TargetRequest = match parse_body(&body) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let text = settings::target_toml(&req.target, req.lim);
    let exp = match validate(&text) {
        Ok(e) => e,
        Err(r) => return r,
    };
    if exp.target.dim() != 2 {
        return failure(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "the explorer draws 2-D targets; this one has dimension {}",
                exp.target.dim()
            ),
        );
    }
    let lim = exp.plot.lim;
    let work = tokio::task::spawn_blocking(move || {
        let mut rng = <rand_pcg::Pcg64 as rand::SeedableRng>::seed_from_u64(exp.seed);
        crate::engine::build_target(&exp, &mut rng)
            .ok()
            .flatten()
            .map(|p| target::contours(&p, lim))
    });
    match work.await {
        Ok(Some(c)) => axum::Json(c).into_response(),
        _ => failure(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the target could not be drawn".into(),
        ),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FitRequest {
    #[serde(default)]
    settings: Option<Settings>,
    #[serde(default)]
    toml: Option<String>,
}

/// Counts a running fit while alive.
struct Running(Arc<AtomicUsize>);

impl Running {
    fn new(n: &Arc<AtomicUsize>) -> Running {
        n.fetch_add(1, Ordering::SeqCst);
        Running(Arc::clone(n))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn start_fit(State(app): State<AppState>, body: Bytes) -> Response {
    let started = Instant::now();
    let req: FitRequest = match parse_body(&body) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let text = match (req.settings, req.toml) {
        (Some(s), None) => s.to_toml(),
        (None, Some(t)) => t,
        _ => {
            return failure(
                StatusCode::BAD_REQUEST,
                "give either `settings` or `toml`, not both nor neither".into(),
            );
        }
    };
    let exp = match validate(&text) {
        Ok(e) => e,
        Err(r) => return r,
    };
    let Ok(permit) = Arc::clone(&app.fits).try_acquire_owned() else {
        let mut r = failure(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "{} fits are running, the most this server runs at once: wait for one to end, \
                 or close another tab",
                app.max_fits
            ),
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return r;
    };
    let (tx, rx) = mpsc::channel::<fit::Message>(CHANNEL);
    let running = Running::new(&app.running);
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let _running = running;
        fit::run(&exp, &text, &tx, started);
    });
    let events = ReceiverStream::new(rx)
        .map(|m| Ok::<Event, Infallible>(Event::default().event(m.event).data(m.data)));
    let mut response = Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(5)))
        .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// A running explorer on a background thread (for tests and the browser test); stops when
/// dropped.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    /// Binds `options.host:options.port` and serves on a thread of its own.
    ///
    /// # Errors
    /// When the runtime cannot start or the address cannot be bound.
    pub fn start(options: Options) -> std::io::Result<Server> {
        let runtime = runtime()?;
        let listener =
            runtime.block_on(tokio::net::TcpListener::bind((options.host, options.port)))?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let app = router(options.max_fits);
        let thread = std::thread::Builder::new()
            .name("explorer".into())
            .spawn(move || {
                let _ = runtime.block_on(async move {
                    axum::serve(listener, app)
                        .with_graceful_shutdown(async move {
                            let _ = stopped.await;
                        })
                        .await
                });
                runtime.shutdown_timeout(Duration::from_secs(1));
            })?;
        Ok(Server {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The page's URL.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(DEFAULT_MAX_FITS.max(4) * 2)
        .thread_name("explorer-worker")
        .enable_all()
        .build()
}

/// Serves until interrupted (Ctrl-C), calling `ready` with the bound address once listening.
///
/// # Errors
/// When the runtime cannot start or the address cannot be bound.
pub fn run(options: Options, ready: impl FnOnce(SocketAddr)) -> std::io::Result<()> {
    let runtime = runtime()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind((options.host, options.port)).await?;
        ready(listener.local_addr()?);
        axum::serve(listener, router(options.max_fits))
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
    })
}
