//! Renders notebook-like figures from synthetic data (moving Gaussian ellipses, mixture
//! samples) to lay beside the matplotlib references, and times the rendering.
//!
//! `cargo run --release -p kl-render --example notebook_figures -- OUT_DIR [SCALE]`

use std::path::PathBuf;
use std::time::Instant;

use kl_render::{
    Axes, Canvas, Colormap, ContourStyle, Figure, FigureSpec, GifWriter, Grid, LineStyle,
    MarkerStyle, Rgba, linspace, notebook_levels, render,
};

/// Writes a PNG of `canvas` (the example's own writer: kl-render gives bytes only).
fn write_png(path: &std::path::Path, canvas: &Canvas) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::write(path, kl_render::encode_png(canvas)?)?;
    Ok(())
}

/// A deterministic normal sampler (xorshift + Box–Muller); no dependency on `rand`.
struct Normal(u64);

impl Normal {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        ((self.0 >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn next(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

struct Gauss {
    mean: [f64; 2],
    cov: [[f64; 2]; 2],
}

impl Gauss {
    fn pdf(&self, x: f64, y: f64) -> f64 {
        let [[a, b], [_, d]] = self.cov;
        let det = a * d - b * b;
        let (dx, dy) = (x - self.mean[0], y - self.mean[1]);
        let q = (d * dx * dx - 2.0 * b * dx * dy + a * dy * dy) / det;
        (-q / 2.0).exp() / (std::f64::consts::TAU * det.sqrt())
    }
    fn sample(&self, rng: &mut Normal) -> [f64; 2] {
        let [[a, b], [_, d]] = self.cov;
        let l11 = a.sqrt();
        let l21 = b / l11;
        let l22 = (d - l21 * l21).sqrt();
        let (z1, z2) = (rng.next(), rng.next());
        [self.mean[0] + l11 * z1, self.mean[1] + l21 * z1 + l22 * z2]
    }
}

fn grid_values(n: usize, lim: [f64; 4], f: impl Fn(f64, f64) -> f64) -> Vec<f64> {
    let xs = linspace(lim[0], lim[1], n);
    let ys = linspace(lim[2], lim[3], n);
    ys.iter()
        .flat_map(|&y| xs.iter().map(move |&x| (x, y)))
        .map(|(x, y)| f(x, y))
        .collect()
}

type Run<'a> = (
    &'static str,
    &'a dyn Fn(usize) -> Gauss,
    [f64; 4],
    &'a [f64],
);

const GAUSSIAN_STATES: [([f64; 2], [[f64; 2]; 2]); 21] = [
    (
        [-0.8462215065956116, 2.1665456295013428],
        [
            [0.33428165316581726, -0.37787604331970215],
            [0.5963870286941528, 2.053356409072876],
        ],
    ),
    (
        [0.07041442394256592, 2.259981393814087],
        [
            [4.9644083976745605, -2.1219539642333984],
            [1.0973434448242188, 1.8220325708389282],
        ],
    ),
    (
        [0.07483682781457901, 2.2339770793914795],
        [
            [4.948788642883301, -2.1150498390197754],
            [1.0816500186920166, 1.7949448823928833],
        ],
    ),
    (
        [0.07925856113433838, 2.2078075408935547],
        [
            [4.933133125305176, -2.108092784881592],
            [1.0657035112380981, 1.7672655582427979],
        ],
    ),
    (
        [0.08368006348609924, 2.181462049484253],
        [
            [4.9174418449401855, -2.1010818481445312],
            [1.0494937896728516, 1.7389711141586304],
        ],
    ),
    (
        [0.08810179680585861, 2.1549289226531982],
        [
            [4.901714324951172, -2.0940158367156982],
            [1.0330097675323486, 1.7100361585617065],
        ],
    ),
    (
        [0.09252424538135529, 2.1281957626342773],
        [
            [4.885951042175293, -2.0868935585021973],
            [1.0162396430969238, 1.6804331541061401],
        ],
    ),
    (
        [0.09694790840148926, 2.1012492179870605],
        [
            [4.870151996612549, -2.079713821411133],
            [0.9991706013679504, 1.6501322984695435],
        ],
    ),
    (
        [0.10137332230806351, 2.0740747451782227],
        [
            [4.8543171882629395, -2.072474956512451],
            [0.9817888736724854, 1.6191011667251587],
        ],
    ),
    (
        [0.1058010533452034, 2.046657085418701],
        [
            [4.838447093963623, -2.0651752948760986],
            [0.9640795588493347, 1.587304711341858],
        ],
    ),
    (
        [0.11023169755935669, 2.01897931098938],
        [
            [4.8225417137146, -2.0578131675720215],
            [0.946026623249054, 1.5547045469284058],
        ],
    ),
    (
        [0.11466589570045471, 1.991023063659668],
        [
            [4.806601524353027, -2.050386667251587],
            [0.9276125431060791, 1.5212589502334595],
        ],
    ),
    (
        [0.11910433322191238, 1.9627686738967896],
        [
            [4.790626525878906, -2.042893648147583],
            [0.9088184237480164, 1.4869221448898315],
        ],
    ),
    (
        [0.1235477551817894, 1.9341944456100464],
        [
            [4.7746171951293945, -2.035331964492798],
            [0.8896237015724182, 1.451643943786621],
        ],
    ),
    (
        [0.12799696624279022, 1.9052767753601074],
        [
            [4.75857400894165, -2.0276987552642822],
            [0.8700059056282043, 1.4153693914413452],
        ],
    ),
    (
        [0.1324528306722641, 1.8759894371032715],
        [
            [4.74249792098999, -2.019991159439087],
            [0.8499406576156616, 1.3780378103256226],
        ],
    ),
    (
        [0.13691629469394684, 1.846303939819336],
        [
            [4.726389408111572, -2.0122060775756836],
            [0.8294013738632202, 1.3395823240280151],
        ],
    ),
    (
        [0.1413884162902832, 1.8161885738372803],
        [
            [4.710248947143555, -2.004340171813965],
            [0.8083589673042297, 1.299929141998291],
        ],
    ),
    (
        [0.14587034285068512, 1.785608172416687],
        [
            [4.694077968597412, -1.9963891506195068],
            [0.7867817878723145, 1.2589964866638184],
        ],
    ),
    (
        [0.15036335587501526, 1.7545238733291626],
        [
            [4.677877426147461, -1.9883484840393066],
            [0.764635443687439, 1.2166937589645386],
        ],
    ),
    (
        [0.15486888587474823, 1.7228922843933105],
        [
            [4.661648750305176, -1.9802132844924927],
            [0.7418827414512634, 1.1729207038879395],
        ],
    ),
];

fn lerp(a: f64, b: f64, t: f64) -> f64 {
    a + (b - a) * t
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = PathBuf::from(args.next().unwrap_or_else(|| "target/render".into()));
    let scale: f64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(1.0);
    std::fs::create_dir_all(&out)?;
    let n = 128;
    let lim = [-4.0, 4.0, -4.0, 4.0];

    // The notebook's mixture target.
    let comps = [
        (
            0.8,
            Gauss {
                mean: [0.5, -0.7],
                cov: [[1.0, 1.0], [1.0, 2.0]],
            },
        ),
        (
            0.2,
            Gauss {
                mean: [-2.5, 2.5],
                cov: [[0.5, 0.1], [0.1, 0.5]],
            },
        ),
    ];
    let p = grid_values(n, lim, |x, y| {
        comps.iter().map(|(w, g)| w * g.pdf(x, y)).sum()
    });
    let mut rng = Normal(0x9e37_79b9_7f4a_7c15);
    let mut samples = Vec::new();
    for _ in 0..200 {
        let pick = if rng.uniform() < 0.8 { 0 } else { 1 };
        let s = comps[pick].1.sample(&mut rng);
        samples.extend_from_slice(&s);
    }

    // Target figure (plain matplotlib contour style, viridis).
    let pg = Grid::new(&p, n, n, lim)?;
    let mut fig = Figure::new(FigureSpec::single().with_scale(scale))?;
    let levels = notebook_levels(pg.max_value().unwrap_or(1.0));
    fig.panel_mut(0, 0)
        .contour_styled(&pg, &levels, Colormap::Viridis, ContourStyle::plain());
    write_png(&out.join("mixture_target.png"), &render(&fig))?;

    let mut fig = Figure::new(FigureSpec::single().with_scale(scale))?;
    // No limits: matplotlib autoscales a scatter plot with 5 % margins.
    fig.panel_mut(0, 0)
        .scatter(samples.as_chunks::<2>().0, MarkerStyle::notebook());
    write_png(&out.join("mixture_samples.png"), &render(&fig))?;

    // Two 5 × 4 grids of moving ellipses (synthetic: the optimizer is not used here) and the
    // reference's own trajectory for the Gaussian experiment (states from
    // gaussian_forward_kl.json, Sq = raw rawᵀ).
    let ramp = |m0: [f64; 2], m1: [f64; 2], c0: [[f64; 2]; 2], c1: [[f64; 2]; 2]| {
        move |k: usize| {
            let t = 1.0 - (-(k as f64) / 6.0).exp();
            Gauss {
                mean: [lerp(m0[0], m1[0], t), lerp(m0[1], m1[1], t)],
                cov: [
                    [lerp(c0[0][0], c1[0][0], t), lerp(c0[0][1], c1[0][1], t)],
                    [lerp(c0[1][0], c1[1][0], t), lerp(c0[1][1], c1[1][1], t)],
                ],
            }
        }
    };
    let forward = ramp(
        [0.09, 1.09],
        [-0.1, -0.06],
        [[3.0, 1.0], [1.0, 4.0]],
        [[2.34, -0.2], [-0.2, 3.34]],
    );
    let reverse = ramp(
        [1.73, 2.2],
        [0.5, -0.7],
        [[1.2, -0.3], [-0.3, 1.0]],
        [[0.9, 0.9], [0.9, 1.9]],
    );
    let gaussian = |k: usize| {
        let (mean, r) = GAUSSIAN_STATES[k];
        let cov = [
            [
                r[0][0] * r[0][0] + r[0][1] * r[0][1],
                r[0][0] * r[1][0] + r[0][1] * r[1][1],
            ],
            [
                r[0][0] * r[1][0] + r[0][1] * r[1][1],
                r[1][0] * r[1][0] + r[1][1] * r[1][1],
            ],
        ];
        Gauss { mean, cov }
    };
    let target = Gauss {
        mean: [0.9482272267341614, 1.1534864902496338],
        cov: [
            [1.1821123361587524, 0.17052419483661652],
            [0.17052419483661652, 0.2156432569026947],
        ],
    };
    let mut rng = Normal(0x2545_f491_4f6c_dd1d);
    let gauss_samples: Vec<f64> = (0..200).flat_map(|_| target.sample(&mut rng)).collect();
    let runs: [Run; 3] = [
        ("mixture_forward_kl", &forward, lim, &samples),
        ("mixture_reverse_kl", &reverse, lim, &samples),
        (
            "gaussian_forward_kl",
            &gaussian,
            [-2.5, 3.5, -2.5, 3.5],
            &gauss_samples,
        ),
    ];
    let mut gif = GifWriter::new(400);
    for (name, state, lim, samples) in runs {
        let grids: Vec<Vec<f64>> = (0..20)
            .map(|k| {
                let g = state(k);
                grid_values(n, lim, |x, y| g.pdf(x, y))
            })
            .collect();
        let start = Instant::now();
        let mut fig = Figure::new(FigureSpec::notebook_grid().with_scale(scale))?;
        for (k, values) in grids.iter().enumerate() {
            let grid = Grid::new(values, n, n, lim)?;
            let levels = notebook_levels(grid.max_value().unwrap_or(1.0));
            fig.panel_mut(k / 4, k % 4)
                .limits(lim)
                .scatter(samples.as_chunks::<2>().0, MarkerStyle::notebook())
                .contour(&grid, &levels, Colormap::Inferno)
                .title(&format!("iter: {k}"));
        }
        let built = start.elapsed();
        let canvas = render(&fig);
        let rendered = start.elapsed();
        let png = kl_render::encode_png(&canvas)?;
        let encoded = start.elapsed();
        eprintln!(
            "{name}: contours {:.1} ms, +render {:.1} ms, +PNG encode {:.1} ms ({} KB)",
            built.as_secs_f64() * 1e3,
            (rendered - built).as_secs_f64() * 1e3,
            (encoded - rendered).as_secs_f64() * 1e3,
            png.len() / 1024
        );
        write_png(&out.join(format!("{name}.png")), &canvas)?;
        if name == "gaussian_forward_kl" {
            for (k, values) in grids.iter().enumerate().step_by(4) {
                let grid = Grid::new(values, n, n, lim)?;
                let levels = notebook_levels(grid.max_value().unwrap_or(1.0));
                let mut f = Figure::new(FigureSpec::single())?;
                f.panel_mut(0, 0)
                    .limits(lim)
                    .scatter(samples.as_chunks::<2>().0, MarkerStyle::notebook())
                    .contour(&grid, &levels, Colormap::Inferno)
                    .title(&format!("iter: {k}"));
                gif.push(&render(&f))?;
            }
        }
    }
    let start = Instant::now();
    let frames = gif.frames();
    std::fs::write(out.join("gaussian_forward_kl.gif"), gif.finish()?)?;
    eprintln!(
        "GIF of {frames} frames: {:.1} ms to finish",
        start.elapsed().as_secs_f64() * 1e3
    );

    // A KL-vs-iteration line plot with axes and a legend.
    let iters: Vec<f64> = (0..=100).map(f64::from).collect();
    let fwd: Vec<[f64; 2]> = iters
        .iter()
        .map(|&i| [i, 0.05 + 3.0 * (-i / 15.0).exp()])
        .collect();
    let rev: Vec<[f64; 2]> = iters
        .iter()
        .map(|&i| [i, 0.3 + 8.0 * (-i / 8.0).exp()])
        .collect();
    let mut fig = Figure::new(FigureSpec {
        rows: 1,
        cols: 1,
        width_in: 6.4,
        height_in: 4.8,
        dpi: 72.0,
        scale,
    })?;
    fig.panel_mut(0, 0)
        .series(&fwd, LineStyle::solid(Rgba::tab10(0), 1.5), "forward KL")
        .series(&rev, LineStyle::dashed(Rgba::tab10(1), 1.5), "reverse KL")
        .axes(Axes {
            x_label: Some("iteration".into()),
            y_label: Some("KL".into()),
            log_y: true,
            legend: true,
            ..Axes::default()
        })
        .title("KL vs iteration");
    write_png(&out.join("kl_curve.png"), &render(&fig))?;
    Ok(())
}
