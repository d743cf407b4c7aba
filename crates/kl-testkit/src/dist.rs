//! Generators of targets (the `dist` feature: these need `kl-dist`).

use kl_dist::{Mixture, Mvn};
use proptest::prelude::*;

use crate::{spd, vector};

/// A normal with mean in [-2, 2]ᵈ and covariance from [`spd`].
pub fn mvn(d: usize) -> impl Strategy<Value = Mvn> {
    (vector(d, 2.0), spd(d)).prop_map(|(m, c)| Mvn::new(&m, &c).expect("generated SPD"))
}

/// A mixture of `k` components from [`mvn`], weights uniform in [0.1, 1] then normalized.
pub fn mixture(d: usize, k: usize) -> impl Strategy<Value = Mixture> {
    (
        prop::collection::vec(0.1..1.0f64, k),
        prop::collection::vec(mvn(d), k),
    )
        .prop_map(|(w, comps)| {
            let s: f64 = w.iter().sum();
            let w: Vec<f64> = w.iter().map(|v| v / s).collect();
            Mixture::new(&w, comps).expect("generated weights are valid")
        })
}
