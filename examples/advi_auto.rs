//! Reports how close `"auto"` ADVI ends to the best Gaussian on every target of
//! reference/best_gaussian.json: 10, 50 and 200 draws, the default start, a second one (the
//! Laplace start for the logistic posterior and the banana, the experiment's own start for the
//! others) and Pathfinder's Gaussian, three seeds each, as a markdown table (BENCHMARKS.md). `tests/advi_auto.rs` asserts
//! the logistic posterior and the banana.
//!
//! ```text
//! cargo run --release --example advi_auto [TARGET ...]
//! ```

#[path = "../tests/support/advi.rs"]
mod advi;

use kl_fit::kl_dist::Mvn;
use kl_fit::{Init, PathfinderOptions};

fn explicit(mean: [f64; 2]) -> Init {
    Init::Gaussian(Mvn::new(&mean, &[1.0, 0.0, 0.0, 1.0]).expect("SPD"))
}

fn main() {
    let only: Vec<String> = std::env::args().skip(1).collect();
    let all: Vec<(&str, &str, &str, Init)> = vec![
        (
            "logistic",
            "logistic-reverse.toml",
            "Laplace",
            Init::Laplace,
        ),
        (
            "banana",
            "zoo-banana-reverse.toml",
            "Laplace",
            Init::Gaussian(advi::banana_laplace(1.0, 0.8)),
        ),
        (
            "funnel",
            "zoo-funnel-reverse.toml",
            "experiment",
            explicit([0.3, 0.3]),
        ),
        (
            "student_t",
            "zoo-student-t-reverse.toml",
            "experiment",
            explicit([0.3, 0.3]),
        ),
        (
            "ring",
            "zoo-ring-reverse.toml",
            "experiment",
            explicit([0.3, 0.3]),
        ),
        (
            "mixture",
            "mixture-reverse.toml",
            "notebook",
            explicit([1.7278361320495605, 2.2045562267303467]),
        ),
    ];
    println!("{}", advi::HEADER);
    let (mut n, mut ok) = (0, 0);
    for (key, file, second, init) in all {
        if !only.is_empty() && !only.iter().any(|o| o == key) {
            continue;
        }
        let p = advi::target(file);
        let cases = advi::run(
            &p,
            advi::best_elbo(key),
            &[
                ("default", Init::Standard),
                (second, init),
                ("Pathfinder", Init::Pathfinder(PathfinderOptions::default())),
            ],
        );
        for c in &cases {
            println!("{}", c.row(key));
            n += 1;
            ok += usize::from(c.ok());
        }
    }
    println!(
        "\n{ok} of {n} fits within {} nats of the best Gaussian and settled",
        advi::TOLERANCE
    );
}
