//! The settings of the JAX peers in `benches/jax/vi_race.py`, written once for both of our
//! sides of that race: `benches/vi.rs` (criterion) and `examples/vi_race.rs` (the script's
//! runner, which includes this file by path).

use kl_fit::{ObjectiveKind, PathfinderOptions, Schedule};

/// BlackJAX's `vi.pathfinder.approximate` defaults: history 10, 200 ELBO draws per iterate, one
/// path, 200 draws of the answer ([`PATHFINDER_ITERS`] L-BFGS iterations).
pub const BLACKJAX_PATHFINDER: PathfinderOptions = PathfinderOptions {
    history: 10,
    elbo_draws: 200,
    n_paths: 1,
    draws_per_path: 200,
    n_draws: 200,
    init_radius: 2.0,
};
/// BlackJAX's default `maxiter` of L-BFGS.
pub const PATHFINDER_ITERS: usize = 30;
/// GSM's batch in the race.
pub const GSM_BATCH: usize = 2;
/// BaM's batch in the race (λₜ = B d / (t + 1)).
pub const BAM_BATCH: usize = 10;
/// GSM's and BaM's iterations.
pub const ITERS: usize = 2000;
/// BaM's schedule in the race.
pub const BAM_SCHEDULE: Schedule = Schedule::Decaying { scale: 1.0 };

/// The three runs through the fit builder: name, objective, iterations (per path for Pathfinder).
pub fn runs() -> [(&'static str, ObjectiveKind, usize); 3] {
    [
        (
            "pathfinder",
            ObjectiveKind::Pathfinder(BLACKJAX_PATHFINDER),
            PATHFINDER_ITERS,
        ),
        (
            "gsm",
            ObjectiveKind::Gsm {
                batch_size: GSM_BATCH,
            },
            ITERS,
        ),
        (
            "bam",
            ObjectiveKind::Bam {
                batch_size: BAM_BATCH,
                schedule: BAM_SCHEDULE,
            },
            ITERS,
        ),
    ]
}
