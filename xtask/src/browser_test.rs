//! `cargo xtask browser-test`: the explorer in a real browser. Starts the server on a free
//! loopback port and headless Chromium on it, then checks what a reader sees:
//!
//! 1. the notebook's reverse-KL fit let run for 500 steps: its D(q‖p) is the best Gaussian's
//!    (reference/best_gaussian.json, within [`BEST_TOLERANCE`]);
//! 2. the notebook's reverse-KL fit (experiments/mixture-reverse.toml's settings), started by a
//!    click on play: it plays to the end, the displayed D(q‖p) is the trace's final `kl_reverse`
//!    (the engine run in-process on the same file), the first frame came within
//!    [`FIRST_FRAME_MS`] of the click, and the canvases are drawn (p's viridis contours, q's
//!    ellipses, the KL curves);
//! 3. the minor mode dragged next to q₀ by synthesized mouse events: the fit reruns and lands
//!    elsewhere;
//! 4. a setting beyond the limits: the page shows the command line's error;
//! 5. batch and match (an algorithm without an optimizer) plays and draws.
//!
//! Screenshots go to `target/browser-test/*.png`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use forward_backward_kl::serve::{Options, Server};
use serde_json::{Value, json};

use crate::cdp::Browser;

/// The most milliseconds from the click on play to the first frame drawn.
pub const FIRST_FRAME_MS: f64 = 100.0;

const USAGE: &str = "usage: cargo xtask browser-test [--chromium PATH]";

/// Runs the browser test; `args` are the ones after `browser-test`.
pub fn main(root: &Path, args: &[String]) -> Result<()> {
    let mut chromium = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--chromium" => chromium = PathBuf::from(it.next().context(USAGE)?),
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => bail!("unknown argument `{other}`\n{USAGE}"),
        }
    }
    ensure!(
        chromium.exists(),
        "{} not found: install Chromium (apt-get install -y chromium, or .ci/browser.sh) or pass \
         --chromium PATH",
        chromium.display()
    );
    let out = root.join("target").join("browser-test");
    std::fs::create_dir_all(&out)?;
    let started = Instant::now();

    let server = Server::start(Options {
        port: 0,
        ..Options::default()
    })?;
    eprintln!("explorer at {}", server.url());
    let profile = std::env::temp_dir().join(format!("fbkl-browser-test-{}", std::process::id()));
    let mut b = Browser::launch(&chromium, profile, 1320, 900)?;
    b.navigate(&server.url())?;
    b.wait_for(
        "document.readyState === 'complete' && !!window.explorer && !!window.explorer.state.p",
        Duration::from_secs(30),
    )?;

    // The notebook's experiment, run in-process: what the page must show.
    let exp = forward_backward_kl::app::load(&root.join("experiments/mixture-reverse.toml"))?;
    let run = forward_backward_kl::engine::run(&exp)?;
    let last = run.trace.iterations.last().context("a trace has states")?;
    let want_reverse = last.kl_reverse.context("the mixture's KL is computed")?;

    // 1. The notebook's reverse-KL fit run to the end (500 steps, as a learner would let it
    // play): it plays as it computes and lands on the best Gaussian by reverse KL, whose
    // D(q‖p) comes from reference/best_gaussian.json (computed outside the project).
    let best = best_reverse_kl(root)?;
    set_values(&mut b, &notebook_reverse("500"))?;
    play_to_the_end(&mut b, "the 500-step fit")?;
    let converged: f64 = text(&mut b, "#kl-reverse")?
        .parse()
        .context("#kl-reverse is a number")?;
    eprintln!(
        "1. notebook reverse KL, 500 steps: D(q‖p) shown {converged:.4}; the best Gaussian's \
         {best:.4} (reference/best_gaussian.json)"
    );
    ensure!(
        (converged - best).abs() < BEST_TOLERANCE,
        "after 500 steps the page shows D(q‖p) = {converged}, the best Gaussian has {best}"
    );
    check_drawn(&mut b)?;
    save(&mut b, &out.join("notebook-reverse-500.png"))?;

    // 2. The notebook's own 20 steps: the page shows the trace's numbers.
    set_values(&mut b, &notebook_reverse("20"))?;
    play_to_the_end(&mut b, "the notebook's fit")?;
    let shown_reverse: f64 = text(&mut b, "#kl-reverse")?
        .parse()
        .context("#kl-reverse is a number")?;
    ensure!(
        (shown_reverse - want_reverse).abs() < 5e-5,
        "the page shows D(q‖p) = {shown_reverse}, the trace's final kl_reverse is {want_reverse}"
    );
    let iteration = text(&mut b, "#iteration")?;
    ensure!(iteration == "20 / 20", "#iteration shows {iteration:?}");
    let first_frame = b.eval("window.explorer.state.run.firstFrameMs")?;
    let first_frame = first_frame.as_f64().context("firstFrameMs")?;
    let server_first = b
        .eval("window.explorer.state.run.serverFirstFrameMs")?
        .as_f64()
        .unwrap_or(f64::NAN);
    eprintln!(
        "2. notebook reverse KL, 20 steps: D(q‖p) shown {shown_reverse:.4} = trace {want_reverse:.4}; first \
         frame {first_frame:.1} ms after the click (server: {server_first:.1} ms after the request); \
         k̂ {}, ESS {}",
        text(&mut b, "#k-hat")?,
        text(&mut b, "#ess")?
    );
    ensure!(
        first_frame < FIRST_FRAME_MS,
        "the first frame came {first_frame:.0} ms after the click (limit {FIRST_FRAME_MS} ms)"
    );
    check_drawn(&mut b)?;
    save(&mut b, &out.join("notebook-reverse.png"))?;
    let mean_before = final_mean(&mut b)?;

    // 3. Drag the minor mode next to q₀: the reverse fit now finds it.
    let from = client(&mut b, "window.explorer.state.points.minor")?;
    let to = client(&mut b, "[1.8, 2.6]")?;
    b.eval("window.__before = window.explorer.state.run; true")?;
    b.mouse("mouseMoved", from[0], from[1], false)?;
    b.mouse("mousePressed", from[0], from[1], true)?;
    for k in 1..=12 {
        let t = f64::from(k) / 12.0;
        b.mouse(
            "mouseMoved",
            from[0] + t * (to[0] - from[0]),
            from[1] + t * (to[1] - from[1]),
            true,
        )?;
        std::thread::sleep(Duration::from_millis(15));
    }
    b.mouse("mouseReleased", to[0], to[1], false)?;
    b.wait_for(
        "!!window.explorer.state.run && window.explorer.state.run !== window.__before && \
         (document.body.dataset.state === 'done' || document.body.dataset.state === 'error')",
        Duration::from_secs(60),
    )?;
    let error = text(&mut b, "#error")?;
    ensure!(error.is_empty(), "the refit failed in the page: {error}");
    let minor = b.eval("window.explorer.state.points.minor")?;
    let minor = [num(&minor[0])?, num(&minor[1])?];
    ensure!(
        (minor[0] - 1.8).abs() < 0.05 && (minor[1] - 2.6).abs() < 0.05,
        "the minor mode is at {minor:?} after the drag, not at [1.8, 2.6]"
    );
    let mean_after = final_mean(&mut b)?;
    let moved = ((mean_after[0] - mean_before[0]).powi(2)
        + (mean_after[1] - mean_before[1]).powi(2))
    .sqrt();
    let dragged_reverse: f64 = text(&mut b, "#kl-reverse")?.parse()?;
    eprintln!(
        "3. minor mode dragged to {minor:?}: q's final mean {mean_before:.2?} → {mean_after:.2?} \
         (moved {moved:.2}), D(q‖p) {shown_reverse:.4} → {dragged_reverse:.4}"
    );
    ensure!(
        moved > 0.5,
        "the fit hardly changed after the drag ({moved:.3})"
    );
    check_drawn(&mut b)?;
    save(&mut b, &out.join("dragged-minor-mode.png"))?;

    // 4. A setting beyond the limits: the command line's error, in the page.
    set_values(&mut b, &[("n-iters", "2000000")])?;
    b.click("#play")?;
    b.wait_for(
        "document.body.dataset.state === 'error'",
        Duration::from_secs(30),
    )?;
    let error = text(&mut b, "#error")?;
    ensure!(
        error.starts_with("error: explorer.toml:")
            && error.contains("optimizer.n_iters: must be between 1 and 1000000, got 2000000"),
        "the page shows {error:?}"
    );
    eprintln!("4. the page shows: {error}");
    save(&mut b, &out.join("limit-error.png"))?;

    // 5. Batch and match from the page (no optimizer; the draws are its batch): it plays
    // and draws like the others.
    set_values(
        &mut b,
        &[("objective", "bam"), ("n-samples", "8"), ("n-iters", "200")],
    )?;
    // The page's own reaction to a new objective: BaM has no optimizer or step size to set.
    let hidden = b.eval(
        "(() => { objectiveRows(); return [\"optimizer\", \"learning-rate\"].map((id) => \
         document.getElementById(id).closest(\"label\").hidden); })()",
    )?;
    ensure!(
        hidden == json!([true, true]),
        "BaM: the optimizer and step-size rows are not hidden ({hidden})"
    );
    play_to_the_end(&mut b, "BaM")?;
    let bam_reverse: f64 = text(&mut b, "#kl-reverse")?.parse()?;
    eprintln!("5. BaM, batch 8, 200 iterations: D(q‖p) shown {bam_reverse:.4}");
    check_drawn(&mut b)?;
    save(&mut b, &out.join("bam.png"))?;

    drop(b);
    drop(server);
    eprintln!(
        "browser test passed in {:.1} s; screenshots in {}",
        started.elapsed().as_secs_f64(),
        out.display()
    );
    Ok(())
}

/// How close the 500-step fit's D(q‖p) must come to the best Gaussian's: the SGD iterate's
/// Monte Carlo rattle at step 0.1 with 1000 draws is ~0.005 nats.
const BEST_TOLERANCE: f64 = 0.02;

/// D(q*‖p) of the best Gaussian by reverse KL on the notebook's mixture: minus its ELBO
/// (the mixture is normalized), as reference/best_gaussian.py computed it by quadrature.
fn best_reverse_kl(root: &Path) -> Result<f64> {
    let path = root.join("reference/best_gaussian.json");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("read {}", path.display()))?;
    let v: Value = serde_json::from_str(&text)?;
    let elbo = v["targets"]["mixture"]["full-rank"]["elbo_quadrature"]
        .as_f64()
        .context("reference/best_gaussian.json: targets.mixture.full-rank.elbo_quadrature")?;
    Ok(-elbo)
}

/// The page's settings of experiments/mixture-reverse.toml (the notebook's reverse-KL fit),
/// with `n_iters` steps.
fn notebook_reverse(n_iters: &str) -> [(&'static str, &str); 8] {
    [
        ("objective", "reverse-kl"),
        ("estimator", "total"),
        ("n-samples", "1000"),
        ("family", "full-rank"),
        ("optimizer", "sgd"),
        ("learning-rate", "0.1"),
        ("n-iters", n_iters),
        ("seed", "8"),
    ]
}

/// Presses play and waits for the fit to end; an error shown in the page is a failure of `what`.
fn play_to_the_end(b: &mut Browser, what: &str) -> Result<()> {
    b.click("#play")?;
    b.wait_for(
        "document.body.dataset.state === 'done' || document.body.dataset.state === 'error'",
        Duration::from_secs(60),
    )?;
    let error = text(b, "#error")?;
    ensure!(error.is_empty(), "{what} failed in the page: {error}");
    Ok(())
}

/// Sets form values without firing their change events (which would start a fit).
fn set_values(b: &mut Browser, values: &[(&str, &str)]) -> Result<()> {
    for (id, v) in values {
        let ok = b.eval(&format!(
            "(() => {{ const e = document.getElementById({}); if (!e) return false; e.value = {}; \
             return e.value === {}; }})()",
            json!(id),
            json!(v),
            json!(v)
        ))?;
        ensure!(ok == json!(true), "cannot set #{id} to {v}");
    }
    Ok(())
}

fn text(b: &mut Browser, selector: &str) -> Result<String> {
    let v = b.eval(&format!(
        "(document.querySelector({}) || {{}}).textContent || ''",
        json!(selector)
    ))?;
    Ok(v.as_str().unwrap_or_default().trim().to_string())
}

fn num(v: &Value) -> Result<f64> {
    v.as_f64().with_context(|| format!("{v} is not a number"))
}

/// Page coordinates of a data point given as a JS expression.
fn client(b: &mut Browser, point: &str) -> Result<[f64; 2]> {
    let v = b.eval(&format!("window.explorer.toClient({point})"))?;
    Ok([num(&v[0])?, num(&v[1])?])
}

fn final_mean(b: &mut Browser) -> Result<[f64; 2]> {
    let v = b.eval("window.explorer.state.run.trace.iterations.at(-1).mean")?;
    Ok([num(&v[0])?, num(&v[1])?])
}

/// The canvases are drawn: p's contours, q's ellipses on the plot; both KL curves.
fn check_drawn(b: &mut Browser) -> Result<()> {
    let counts = b.eval(
        "(() => {
            const count = (id, pred) => {
                const c = document.getElementById(id);
                const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                let n = 0;
                for (let i = 0; i < d.length; i += 4) if (pred(d[i], d[i + 1], d[i + 2])) n++;
                return n;
            };
            const near = (r, g, b, R, G, B) => Math.abs(r - R) + Math.abs(g - G) + Math.abs(b - B) < 60;
            return {
                ink: count('plot', (r, g, b) => r < 245 || g < 245 || b < 245),
                q: count('plot', (r, g, b) => near(r, g, b, 194, 24, 91)),
                viridis: count('plot', (r, g, b) => g > r + 40 && b > r),
                forward: count('kl', (r, g, b) => near(r, g, b, 31, 119, 180)),
                reverse: count('kl', (r, g, b) => near(r, g, b, 255, 127, 14)),
                png: document.getElementById('plot').toDataURL('image/png').length,
            };
        })()",
    )?;
    let get = |k: &str| counts[k].as_f64().unwrap_or(0.0);
    ensure!(
        get("ink") > 5000.0 && get("q") > 200.0 && get("viridis") > 500.0,
        "the plot looks blank: {counts}"
    );
    ensure!(
        get("forward") > 50.0 && get("reverse") > 50.0,
        "the KL curves are missing: {counts}"
    );
    ensure!(get("png") > 10_000.0, "the plot's PNG is tiny: {counts}");
    Ok(())
}

fn save(b: &mut Browser, path: &Path) -> Result<()> {
    let png = b.screenshot()?;
    std::fs::write(path, png).with_context(|| format!("write {}", path.display()))?;
    eprintln!("   screenshot {}", path.display());
    Ok(())
}
