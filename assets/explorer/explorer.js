// The explorer's page: plain JS and canvas, no build step. The server validates and runs every
// fit (POST /api/fit streams its frames as server-sent events); this file only draws.
"use strict";

const $ = (id) => document.getElementById(id);

// The notebook's start of its reverse-KL fit (experiments/mixture-reverse.toml), and the zoo's.
const NOTEBOOK_START = {
  mean: [1.7278361320495605, 2.2045562267303467],
  raw: [[0.7948276400566101, 0.9764211177825928], [-1.183427095413208, 1.9163635969161987]],
};
const ZOO_START = { mean: [0.3, 0.3], raw: [[1.0, 0.0], [0.0, 1.0]] };
const NOTEBOOK_RUN = { objective: "reverse-kl", estimator: "total", n_samples: 1000, optimizer: "sgd", learning_rate: "0.1", n_iters: 20, seed: 8 };
const ZOO_RUN = { objective: "reverse-kl", estimator: "stl", n_samples: 500, optimizer: "adam", learning_rate: "auto", n_iters: 600, seed: 11 };

const cov2 = (sx, sy, rho) => [[sx * sx, rho * sx * sy], [rho * sx * sy, sy * sy]];
const scaled = (m, s) => m.map((r) => r.map((v) => v * s));

// Each target: its sliders [key, label, min, max, step, default], its draggable points, the JSON
// the server expects, the run preset, and a hint.
const KINDS = {
  mixture: {
    label: "mixture (the notebook's)",
    sliders: [["w", "weight of the major mode", 0.05, 0.95, 0.01, 0.8], ["s0", "major mode's scale", 0.25, 3, 0.05, 1], ["s1", "minor mode's scale", 0.25, 3, 0.05, 1]],
    points: { major: [0.5, -0.7], minor: [-2.5, 2.5] },
    build: (v, pt) => ({ kind: "mixture", weights: [v.w, 1 - v.w], components: [
      { mean: pt.major, cov: scaled([[1.0, 1.0], [1.0, 2.0]], v.s0) },
      { mean: pt.minor, cov: scaled([[0.5, 0.1], [0.1, 0.5]], v.s1) }] }),
    start: NOTEBOOK_START, run: NOTEBOOK_RUN,
    hint: "0.8·N([0.5, −0.7], [[1, 1], [1, 2]]) + 0.2·N([−2.5, 2.5], [[0.5, 0.1], [0.1, 0.5]]): drag either mode.",
  },
  mvn: {
    label: "normal",
    sliders: [["sx", "σ₁", 0.2, 3, 0.05, 1.1], ["sy", "σ₂", 0.2, 3, 0.05, 0.45], ["rho", "ρ", -0.95, 0.95, 0.05, 0.35]],
    points: { mean: [0.95, 1.15] },
    build: (v, pt) => ({ kind: "mvn", mean: pt.mean, cov: cov2(v.sx, v.sy, v.rho) }),
    start: { mean: [-0.85, 2.17], raw: [[0.33, -0.38], [0.6, 2.05]] },
    run: { objective: "forward-kl-exact", n_samples: 1000, optimizer: "sgd", learning_rate: "0.1", n_iters: 20, seed: 1 },
    hint: "A Gaussian: the closed-form objectives apply. Drag its mean.",
  },
  banana: {
    label: "banana",
    sliders: [["scale", "a (width)", 0.3, 2, 0.05, 1], ["curvature", "b (bend)", -2, 2, 0.05, 0.8]],
    points: {},
    build: (v) => ({ kind: "banana", scale: v.scale, curvature: v.curvature }),
    start: ZOO_START, run: ZOO_RUN, hint: "N(x₁; 0, a²) · N(x₂; b (x₁² − a²), 1).",
  },
  funnel: {
    label: "funnel",
    sliders: [["scale", "σ of x₁", 0.5, 3, 0.05, 1.5]],
    points: {},
    build: (v) => ({ kind: "funnel", scale: v.scale }),
    start: ZOO_START, run: ZOO_RUN, hint: "Neal's funnel: x₁ ~ N(0, σ²), x₂ | x₁ ~ N(0, e^{x₁}).",
  },
  "student-t": {
    label: "Student t",
    sliders: [["df", "ν (degrees of freedom)", 0.5, 30, 0.5, 3], ["sigma", "scale", 0.3, 2.5, 0.05, 1], ["rho", "ρ", -0.95, 0.95, 0.05, 0.5]],
    points: { mean: [0, 0] },
    build: (v, pt) => ({ kind: "student-t", df: v.df, mean: pt.mean, scale: cov2(v.sigma, v.sigma, v.rho) }),
    start: ZOO_START, run: ZOO_RUN, hint: "Heavy tails: ν ≤ 2 has no covariance, so no D(p‖q). Drag its centre.",
  },
  ring: {
    label: "ring",
    sliders: [["radius", "radius", 0, 3, 0.05, 2], ["width", "width", 0.05, 1, 0.01, 0.3]],
    points: {},
    build: (v) => ({ kind: "ring", radius: v.radius, width: v.width }),
    start: ZOO_START, run: ZOO_RUN, hint: "exp(−(‖x‖ − r)² / (2 w²)): no Gaussian fits it well.",
  },
};

const state = {
  kind: "mixture",
  values: {},          // slider values of the current kind
  points: {},          // draggable points of the current kind
  start: null,         // q₀: {mean, raw}
  p: null,             // the last contours from /api/target
  lim: [-4, 4, -4, 4],
  run: null,           // the current fit
  drag: null,
  userSpeed: false,    // whether the reader set the playback speed
};

// ---------- settings ----------

function targetJSON() {
  return KINDS[state.kind].build(state.values, state.points);
}

function rowNorms(raw) {
  return raw.map((r) => Math.hypot(...r));
}

function settings() {
  const objective = { kind: $("objective").value, n_samples: Number($("n-samples").value) };
  if (objective.kind === "reverse-kl") objective.estimator = $("estimator").value;
  if (objective.kind === "renyi") objective.alpha = Number($("alpha").value);
  const family = $("family").value;
  const init = { mean: state.start.mean.slice() };
  if (family === "mean-field") init.sd = rowNorms(state.start.raw);
  else init.raw = state.start.raw.map((r) => r.slice());
  const lr = $("learning-rate").value.trim();
  const rate = lr === "auto" || lr === "" || !Number.isFinite(Number(lr)) ? lr : Number(lr);
  return {
    target: targetJSON(),
    objective,
    family,
    optimizer: { kind: $("optimizer").value, learning_rate: rate, n_iters: Number($("n-iters").value) },
    init,
    seed: Number($("seed").value),
  };
}

// ---------- controls ----------

function buildTargetControls() {
  const k = KINDS[state.kind];
  const box = $("target-params");
  box.textContent = "";
  for (const [key, label, min, max, step] of k.sliders) {
    const row = document.createElement("label");
    row.textContent = label + " ";
    const input = document.createElement("input");
    Object.assign(input, { type: "range", min, max, step, value: state.values[key], id: "param-" + key });
    const out = document.createElement("output");
    out.textContent = state.values[key];
    input.addEventListener("input", () => {
      state.values[key] = Number(input.value);
      out.textContent = input.value;
      refreshTarget();
      changed();
    });
    row.append(input, out);
    box.append(row);
  }
  $("target-hint").textContent = k.hint;
}

function selectKind(kind) {
  state.kind = kind;
  const k = KINDS[kind];
  state.values = Object.fromEntries(k.sliders.map((s) => [s[0], s[5]]));
  state.points = JSON.parse(JSON.stringify(k.points));
  state.start = JSON.parse(JSON.stringify(k.start));
  const r = k.run;
  $("objective").value = r.objective;
  if (r.estimator) $("estimator").value = r.estimator;
  $("n-samples").value = r.n_samples;
  $("optimizer").value = r.optimizer;
  $("learning-rate").value = r.learning_rate;
  $("n-iters").value = r.n_iters;
  $("seed").value = r.seed;
  for (const o of $("objective").options) o.disabled = o.value.endsWith("-exact") && kind !== "mvn";
  buildTargetControls();
  objectiveRows();
  resetRun();
  refreshTarget();
}

function objectiveRows() {
  const kind = $("objective").value;
  $("estimator-row").hidden = kind !== "reverse-kl";
  $("alpha-row").hidden = kind !== "renyi";
  // GSM, BaM and Pathfinder bring their own updates: no optimizer, no step size.
  const own = ["gsm", "bam", "pathfinder"].includes(kind);
  $("optimizer").closest("label").hidden = own;
  $("learning-rate").closest("label").hidden = own;
}

// A change to p, q₀ or the settings: the current fit no longer answers them.
let refitTimer = null;
function changed() {
  resetRun();
  if ($("refit").checked && !state.drag) {
    clearTimeout(refitTimer);
    refitTimer = setTimeout(() => startRun(true), 200);
  }
}

// ---------- p ----------

let targetSeq = 0;
let targetBusy = false;
let targetAgain = false;
async function refreshTarget() {
  if (targetBusy) { targetAgain = true; return; }
  targetBusy = true;
  const seq = ++targetSeq;
  try {
    const resp = await fetch("/api/target", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ target: targetJSON() }) });
    const body = await resp.json();
    if (seq === targetSeq) {
      if (resp.ok) { state.p = body; state.lim = body.lim; hideError(); } else { state.p = null; showError(body.error); }
      draw();
    }
  } catch (e) {
    showError("error: the server is gone (" + e.message + ")");
  } finally {
    targetBusy = false;
    if (targetAgain) { targetAgain = false; refreshTarget(); }
  }
}

// ---------- the fit ----------

function newRun() {
  return { controller: new AbortController(), frames: [], done: null, error: null, shown: -1, acc: 0, playing: true, clicked: performance.now(), firstFrameMs: null, n_iters: Number($("n-iters").value), final: null };
}

function resetRun() {
  if (state.run) state.run.controller.abort();
  state.run = null;
  document.body.dataset.state = "idle";
  $("play").textContent = "▶ play";
  for (const id of ["iteration", "loss-value", "kl-forward", "kl-reverse", "grad-evals", "k-hat", "ess", "termination", "latency"]) $(id).textContent = "–";
  $("answer").textContent = "";
  draw();
  drawCurves();
}

async function startRun(playing) {
  resetRun();
  hideError();
  const run = newRun();
  run.playing = playing;
  state.run = run;
  document.body.dataset.state = "running";
  $("play").textContent = playing ? "❚❚ pause" : "▶ play";
  let resp;
  try {
    resp = await fetch("/api/fit", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ settings: settings() }), signal: run.controller.signal });
  } catch (e) {
    if (state.run === run) fail(run, "error: the server is gone (" + e.message + ")");
    return;
  }
  if (!resp.ok) {
    const body = await resp.json().catch(() => ({ error: resp.status + " " + resp.statusText }));
    if (state.run === run) fail(run, body.error);
    return;
  }
  const reader = resp.body.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      let i;
      while ((i = buf.indexOf("\n\n")) >= 0) {
        const chunk = buf.slice(0, i);
        buf = buf.slice(i + 2);
        onEvent(run, chunk);
      }
    }
  } catch (e) {
    if (state.run === run && !run.done && !run.error) fail(run, "error: the stream broke (" + e.message + ")");
  }
}

function onEvent(run, chunk) {
  if (state.run !== run) return;
  let event = "message";
  const data = [];
  for (const line of chunk.split("\n")) {
    if (line.startsWith("event:")) event = line.slice(6).trim();
    else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
  }
  if (!data.length) return;
  const msg = JSON.parse(data.join("\n"));
  if (event === "start") {
    run.n_iters = msg.n_iters;
    $("toml").textContent = msg.toml;
    // Unless the reader set it: the whole fit plays in about 4 s, at 10 to 120 frames a second.
    if (!state.userSpeed) {
      const frames = Math.min(msg.n_iters + 1, msg.max_frames);
      $("speed").value = Math.min(120, Math.max(10, Math.round(frames / 4)));
      $("speed-out").textContent = $("speed").value;
    }
  } else if (event === "frame") {
    run.frames.push(msg);
    if (run.frames.length === 1) {
      run.firstFrameMs = performance.now() - run.clicked;
      run.serverFirstFrameMs = msg.elapsed_ms;
      $("latency").textContent = run.firstFrameMs.toFixed(0) + " ms (server " + msg.elapsed_ms.toFixed(0) + " ms)";
      show(run, 0);
    }
  } else if (event === "done") {
    run.done = msg;
    const trace = JSON.parse(msg.trace);
    run.trace = trace;
    const last = trace.iterations[trace.iterations.length - 1];
    // The final state, as the trace has it (a converged fit may stop between frames).
    if (!run.frames.length || run.frames[run.frames.length - 1].iteration !== last.iteration) {
      run.frames.push({ iteration: last.iteration, loss: last.loss, n_grad_evals: last.n_grad_evals, mean: last.mean, cov: last.covariance.flat(), kl_forward: last.kl_forward, kl_reverse: last.kl_reverse });
    }
  } else if (event === "error") {
    fail(run, msg.message);
  }
}

function fail(run, message) {
  run.error = message;
  showError(message);
  document.body.dataset.state = "error";
  $("play").textContent = "▶ play";
}

function fmt(x, digits = 4) {
  if (x === null || x === undefined) return "–";
  if (typeof x === "string") return x;
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  return a !== 0 && (a >= 1e5 || a < 1e-3) ? x.toExponential(3) : x.toFixed(digits);
}

function show(run, k) {
  run.shown = k;
  const f = run.frames[k];
  $("iteration").textContent = f.iteration + " / " + run.n_iters;
  $("loss-value").textContent = fmt(f.loss);
  $("kl-forward").textContent = fmt(f.kl_forward);
  $("kl-reverse").textContent = fmt(f.kl_reverse);
  $("grad-evals").textContent = f.n_grad_evals;
  if (run.done && k === run.frames.length - 1) finish(run);
  draw();
  drawCurves();
}

function finish(run) {
  const d = run.done;
  const dg = d.diagnostic;
  $("k-hat").textContent = dg ? fmt(dg.k_hat, 2) + " (" + dg.verdict + ")" : "–";
  $("ess").textContent = dg ? fmt(dg.ess, 0) + " of " + d.diagnostic_draws : "–";
  const t = d.termination || {};
  $("termination").textContent = t.reason === "converged" ? "converged at " + t.at : t.reason === "max-iters" ? "after n_iters" : (t.reason || "–");
  $("answer").textContent = d.averaged
    ? "The answer is q averaged over the final half of the run (dashed red): D(p‖q) = " + fmt(d.kl_forward) + ", D(q‖p) = " + fmt(d.kl_reverse) + "."
    : "The answer is the last q" + (d.learning_rate ? " (" + ($("objective").value === "bam" ? "BaM's first λ" : "step size") + " " + fmt(d.learning_rate, 3) + ")" : "") + ".";
  document.body.dataset.state = "done";
  $("play").textContent = "▶ play";
  run.playing = false;
}

// Playback: frames arrive as fast as the fit makes them; they are shown at `speed` a second.
let lastTick = performance.now();
function tick(now) {
  const dt = (now - lastTick) / 1000;
  lastTick = now;
  const run = state.run;
  if (run && run.playing && run.frames.length) {
    run.acc += dt * Number($("speed").value);
    const steps = Math.floor(run.acc);
    if (steps > 0) {
      run.acc -= steps;
      const k = Math.min(run.frames.length - 1, run.shown + steps);
      if (k !== run.shown) show(run, k);
      else if (run.done && k === run.frames.length - 1 && document.body.dataset.state !== "done") finish(run);
    }
  }
  requestAnimationFrame(tick);
}

// ---------- drawing ----------

const plot = $("plot");
const ctx = plot.getContext("2d");
const M = 34; // margin, px

function toPx([x, y]) {
  const [x0, x1, y0, y1] = state.lim;
  const w = plot.width - 2 * M, h = plot.height - 2 * M;
  return [M + ((x - x0) / (x1 - x0)) * w, M + (1 - (y - y0) / (y1 - y0)) * h];
}

function fromPx(px, py) {
  const [x0, x1, y0, y1] = state.lim;
  const w = plot.width - 2 * M, h = plot.height - 2 * M;
  return [x0 + ((px - M) / w) * (x1 - x0), y0 + (1 - (py - M) / h) * (y1 - y0)];
}

function ticks(a, b) {
  const span = b - a;
  const step = Math.pow(10, Math.floor(Math.log10(span / 4)));
  const s = span / step > 20 ? step * 5 : span / step > 8 ? step * 2 : step;
  const out = [];
  for (let v = Math.ceil(a / s) * s; v <= b + 1e-9; v += s) out.push(Math.round(v / s) * s);
  return out;
}

// The ellipse of a 2 × 2 covariance (row-major) at `k` σ around `mean`.
function ellipse(mean, cov, k) {
  const [a, b, , d] = cov;
  const mid = (a + d) / 2, rad = Math.sqrt(((a - d) / 2) ** 2 + b * b);
  const l1 = Math.max(mid + rad, 0), l2 = Math.max(mid - rad, 0);
  const th = Math.abs(b) < 1e-300 && a >= d ? 0 : Math.atan2(l1 - a, b);
  const pts = [];
  for (let i = 0; i <= 72; i++) {
    const t = (i / 72) * 2 * Math.PI;
    const u = k * Math.sqrt(l1) * Math.cos(t), v = k * Math.sqrt(l2) * Math.sin(t);
    pts.push([mean[0] + u * Math.cos(th) - v * Math.sin(th), mean[1] + u * Math.sin(th) + v * Math.cos(th)]);
  }
  return pts;
}

function path(points, closed) {
  ctx.beginPath();
  points.forEach((p, i) => { const [x, y] = toPx(p); if (i) ctx.lineTo(x, y); else ctx.moveTo(x, y); });
  if (closed) ctx.closePath();
  ctx.stroke();
}

function covOf(raw) {
  const [[a, b], [c, d]] = raw;
  return [a * a + b * b, a * c + b * d, a * c + b * d, c * c + d * d];
}

function drawQ(mean, cov, color, dash, width) {
  ctx.strokeStyle = color;
  ctx.setLineDash(dash);
  for (const k of [1, 2, 3]) {
    ctx.globalAlpha = k === 1 ? 1 : k === 2 ? 0.7 : 0.45;
    ctx.lineWidth = width;
    path(ellipse(mean, cov, k), true);
  }
  ctx.globalAlpha = 1;
  ctx.setLineDash([]);
}

function handle(p, label, fill) {
  const [x, y] = toPx(p);
  ctx.fillStyle = fill;
  ctx.strokeStyle = "#222";
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  ctx.arc(x, y, 6, 0, 2 * Math.PI);
  ctx.fill();
  ctx.stroke();
  ctx.fillStyle = "#222";
  ctx.font = "12px system-ui, sans-serif";
  ctx.fillText(label, x + 9, y - 7);
}

function draw() {
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, plot.width, plot.height);
  const [x0, x1, y0, y1] = state.lim;
  // Frame and ticks.
  ctx.strokeStyle = "#999";
  ctx.lineWidth = 1;
  ctx.strokeRect(M, M, plot.width - 2 * M, plot.height - 2 * M);
  ctx.fillStyle = "#555";
  ctx.font = "11px system-ui, sans-serif";
  ctx.textAlign = "center";
  for (const v of ticks(x0, x1)) { const [px] = toPx([v, y0]); ctx.fillText(String(v), px, plot.height - M + 14); }
  ctx.textAlign = "right";
  for (const v of ticks(y0, y1)) { const [, py] = toPx([x0, v]); ctx.fillText(String(v), M - 5, py + 4); }
  ctx.textAlign = "left";
  ctx.save();
  ctx.beginPath();
  ctx.rect(M, M, plot.width - 2 * M, plot.height - 2 * M);
  ctx.clip();
  // p.
  if (state.p) {
    ctx.lineWidth = 1.4;
    for (const level of state.p.levels) {
      ctx.strokeStyle = level.color;
      for (const line of level.lines) {
        const pts = [];
        for (let i = 0; i + 1 < line.xy.length; i += 2) pts.push([line.xy[i], line.xy[i + 1]]);
        path(pts, line.closed);
      }
    }
  }
  // q₀, dashed.
  drawQ(state.start.mean, covOf(state.start.raw), "#777", [5, 4], 1.2);
  // The fit: the mean's path, q now, and the averaged answer at the end.
  const run = state.run;
  if (run && run.shown >= 0) {
    const shown = run.frames.slice(0, run.shown + 1).filter((f) => f.mean);
    ctx.strokeStyle = "#c2185b";
    ctx.setLineDash([2, 3]);
    ctx.lineWidth = 1.2;
    path(shown.map((f) => f.mean.slice(0, 2)), false);
    ctx.setLineDash([]);
    const f = run.frames[run.shown];
    if (f.mean) {
      const c = f.cov.length === 4 ? f.cov : [f.cov[0], f.cov[1], f.cov[f.mean.length], f.cov[f.mean.length + 1]];
      drawQ(f.mean.slice(0, 2), c, "#c2185b", [], 2.2);
    }
    if (run.done && run.done.averaged && run.shown === run.frames.length - 1 && run.done.answer) {
      const a = run.done.answer;
      drawQ(a.mean.slice(0, 2), [a.cov[0], a.cov[1], a.cov[a.mean.length], a.cov[a.mean.length + 1]], "#e53935", [7, 4], 1.4);
    }
  }
  ctx.restore();
  // Handles.
  for (const [name, p] of Object.entries(state.points)) handle(p, name, "#ffffff");
  handle(state.start.mean, "q₀", "#bbbbbb");
}

function drawAxes(c, g, title, xmax, ylo, yhi, log) {
  g.fillStyle = "#fff";
  g.fillRect(0, 0, c.width, c.height);
  g.strokeStyle = "#999";
  g.lineWidth = 1;
  g.strokeRect(44, 18, c.width - 54, c.height - 40);
  g.fillStyle = "#333";
  g.font = "12px system-ui, sans-serif";
  g.fillText(title, 46, 13);
  g.fillStyle = "#666";
  g.font = "10px system-ui, sans-serif";
  g.textAlign = "right";
  const ys = log ? [ylo, Math.sqrt(ylo * yhi), yhi] : [ylo, (ylo + yhi) / 2, yhi];
  for (const v of ys) g.fillText(fmt(v, 2), 41, yPx(c, v, ylo, yhi, log) + 3);
  g.textAlign = "center";
  for (const v of new Set([0, Math.round(xmax / 2), xmax])) g.fillText(String(v), xPx(c, v, xmax), c.height - 8);
  g.textAlign = "left";
}

const xPx = (c, x, xmax) => 44 + (x / Math.max(xmax, 1)) * (c.width - 54);
function yPx(c, y, lo, hi, log) {
  const t = log ? (Math.log(y) - Math.log(lo)) / (Math.log(hi) - Math.log(lo) || 1) : (y - lo) / (hi - lo || 1);
  return 18 + (1 - t) * (c.height - 40);
}

function series(c, g, frames, key, color, xmax, lo, hi, log) {
  g.strokeStyle = color;
  g.lineWidth = 1.8;
  g.beginPath();
  let started = false;
  for (const f of frames) {
    const v = f[key];
    if (v === null || v === undefined || !Number.isFinite(v) || (log && v <= 0)) { started = false; continue; }
    const x = xPx(c, f.iteration, xmax), y = yPx(c, Math.min(Math.max(v, lo), hi), lo, hi, log);
    if (started) g.lineTo(x, y); else g.moveTo(x, y);
    started = true;
  }
  g.stroke();
}

function drawCurves() {
  const run = state.run;
  const frames = run ? run.frames.slice(0, run.shown + 1) : [];
  const xmax = run ? run.n_iters : Math.max(1, Number($("n-iters").value) || 1);
  const kc = $("kl"), kg = kc.getContext("2d");
  const kls = frames.flatMap((f) => [f.kl_forward, f.kl_reverse]).filter((v) => Number.isFinite(v) && v > 0);
  const lo = kls.length ? Math.max(Math.min(...kls) / 1.5, 1e-4) : 0.01;
  const hi = kls.length ? Math.max(...kls) * 1.5 : 10;
  drawAxes(kc, kg, "exact KL, log scale: D(p‖q) blue, D(q‖p) orange", xmax, lo, Math.max(hi, lo * 10), true);
  series(kc, kg, frames, "kl_forward", "#1f77b4", xmax, lo, Math.max(hi, lo * 10), true);
  series(kc, kg, frames, "kl_reverse", "#ff7f0e", xmax, lo, Math.max(hi, lo * 10), true);
  const lc = $("loss"), lg = lc.getContext("2d");
  const ls = frames.map((f) => f.loss).filter(Number.isFinite);
  let llo = ls.length ? Math.min(...ls) : 0, lhi = ls.length ? Math.max(...ls) : 1;
  if (lhi - llo < 1e-9) { llo -= 0.5; lhi += 0.5; }
  drawAxes(lc, lg, "the loss (the objective's estimate)", xmax, llo, lhi, false);
  series(lc, lg, frames, "loss", "#2ca02c", xmax, llo, lhi, false);
}

// ---------- dragging ----------

function pointerPos(e) {
  const r = plot.getBoundingClientRect();
  return [(e.clientX - r.left) * (plot.width / r.width), (e.clientY - r.top) * (plot.height / r.height)];
}

function hit(px, py) {
  const all = [...Object.keys(state.points).map((k) => [k, state.points[k]]), ["q₀", state.start.mean]];
  let best = null, bestD = 14;
  for (const [name, p] of all) {
    const [x, y] = toPx(p);
    const d = Math.hypot(x - px, y - py);
    if (d < bestD) { best = name; bestD = d; }
  }
  return best;
}

plot.addEventListener("pointerdown", (e) => {
  const [px, py] = pointerPos(e);
  const name = hit(px, py);
  if (!name) return;
  state.drag = name;
  plot.setPointerCapture?.(e.pointerId);
  e.preventDefault();
});
plot.addEventListener("pointermove", (e) => {
  const [px, py] = pointerPos(e);
  if (!state.drag) { plot.classList.toggle("grab", !!hit(px, py)); return; }
  const [x, y] = fromPx(px, py);
  const p = [Math.round(x * 100) / 100, Math.round(y * 100) / 100];
  if (state.drag === "q₀") state.start.mean = p;
  else { state.points[state.drag] = p; refreshTarget(); }
  resetRun();
});
function endDrag() {
  if (!state.drag) return;
  state.drag = null;
  changed();
}
plot.addEventListener("pointerup", endDrag);
plot.addEventListener("pointercancel", endDrag);

// ---------- buttons ----------

$("play").addEventListener("click", () => {
  const run = state.run;
  if (!run || run.error || (run.done && run.shown === run.frames.length - 1)) { startRun(true); return; }
  run.playing = !run.playing;
  $("play").textContent = run.playing ? "❚❚ pause" : "▶ play";
});
$("step").addEventListener("click", () => {
  const run = state.run;
  if (!run || run.error || (run.done && run.shown === run.frames.length - 1)) { startRun(false); return; }
  run.playing = false;
  $("play").textContent = "▶ play";
  if (run.shown + 1 < run.frames.length) show(run, run.shown + 1);
});
$("reset").addEventListener("click", () => { clearTimeout(refitTimer); resetRun(); hideError(); });
$("download").addEventListener("click", async () => {
  const resp = await fetch("/api/experiment", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ settings: settings() }) });
  const body = await resp.json();
  if (!resp.ok) { showError(body.error); return; }
  $("toml").textContent = body.toml;
  const a = document.createElement("a");
  a.href = URL.createObjectURL(new Blob([body.toml], { type: "application/toml" }));
  a.download = "explorer.toml";
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
});
document.addEventListener("keydown", (e) => {
  if (e.key === " " && e.target === document.body) { e.preventDefault(); $("play").click(); }
});

for (const id of ["objective", "estimator", "family", "optimizer", "learning-rate", "n-samples", "n-iters", "seed"]) {
  $(id).addEventListener("change", () => { objectiveRows(); changed(); });
}
$("alpha").addEventListener("input", () => { $("alpha-out").textContent = $("alpha").value; });
$("alpha").addEventListener("change", changed);
$("speed").addEventListener("input", () => { state.userSpeed = true; $("speed-out").textContent = $("speed").value; });
$("target-kind").addEventListener("change", () => selectKind($("target-kind").value));

function showError(message) {
  $("error").hidden = false;
  $("error").textContent = message;
}
function hideError() {
  $("error").hidden = true;
  $("error").textContent = "";
}

for (const [kind, k] of Object.entries(KINDS)) {
  const o = document.createElement("option");
  o.value = kind;
  o.textContent = k.label;
  $("target-kind").append(o);
}
selectKind("mixture");
requestAnimationFrame(tick);
// For tests and the curious: the state (frames, the trace once done).
window.explorer = {
  state, startRun, settings,
  // Page coordinates of a point in data coordinates (for synthesized mouse events).
  toClient(p) {
    const r = plot.getBoundingClientRect();
    const [x, y] = toPx(p);
    return [r.left + (x * r.width) / plot.width, r.top + (y * r.height) / plot.height];
  },
};
