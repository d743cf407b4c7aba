//! The mean-field family: Bishop (2006, §10.1.2, Figure 10.2) on a correlated 2-D Gaussian —
//! the reverse-KL optimum has μ = μp and σᵢ² = 1/Λᵢᵢ (Λ = Σp⁻¹; too compact), the forward-KL
//! optimum σᵢ² = Σᵢᵢ (the marginals) — to the optimizer's tolerance; `Family`'s layout helpers; and
//! the wrapper's own errors and forwarding.

use kl_dist::{AnyDensity, Mvn};
use kl_grad::{
    Error, Estimator, Family, ForwardKlExact, MeanField, Objective, ReverseKl, ReverseKlExact,
};
use kl_opt::{Sgd, minimize};
use rand::SeedableRng;
use rand_pcg::Pcg64;

/// Strongly correlated (ρ = 1.1 / √1.4 ≈ 0.93), unequal scales.
const MEAN: [f64; 2] = [1.0, -2.0];
const COV: [f64; 4] = [2.0, 1.1, 1.1, 0.7];

fn target() -> Mvn {
    Mvn::new(&MEAN, &COV).expect("valid")
}

/// Λ = Σp⁻¹ of the 2 × 2 covariance, written out (the oracle: adjugate over determinant).
fn precision_diagonal() -> [f64; 2] {
    let det = COV[0] * COV[3] - COV[1] * COV[2];
    [COV[3] / det, COV[0] / det]
}

fn converge<O: Objective>(obj: &mut O) -> Vec<f64> {
    let mut opt = Sgd::new(0.05).with_momentum(0.9);
    let records = minimize(&[0.0; 4], &mut opt, 5000, |_, t, g| {
        obj.value_and_grad(t, g)
    })
    .expect("converges");
    let last = records.last().expect("records");
    assert!(
        last.grad_norm < 1e-12,
        "not converged: |∇| = {}",
        last.grad_norm
    );
    last.theta.clone()
}

#[test]
fn reverse_kl_mean_field_optimum_is_bishop_10_2() {
    let th = converge(&mut MeanField::new(ReverseKlExact::new(target())));
    let lambda = precision_diagonal();
    for i in 0..2 {
        assert!((th[i] - MEAN[i]).abs() < 1e-10, "μ{i} = {}", th[i]);
        let var = (2.0 * th[2 + i]).exp();
        assert!(
            (var - 1.0 / lambda[i]).abs() < 1e-10,
            "σ{i}² = {var} vs 1/Λ = {}",
            1.0 / lambda[i]
        );
        // Too compact: smaller than the marginal variance.
        assert!(var < COV[3 * i]);
    }
}

#[test]
fn forward_kl_mean_field_optimum_is_the_marginals() {
    let th = converge(&mut MeanField::new(ForwardKlExact::new(target())));
    for i in 0..2 {
        assert!((th[i] - MEAN[i]).abs() < 1e-10, "μ{i} = {}", th[i]);
        let var = (2.0 * th[2 + i]).exp();
        assert!(
            (var - COV[3 * i]).abs() < 1e-10,
            "σ{i}² = {var} vs Σ{i}{i} = {}",
            COV[3 * i]
        );
    }
}

#[test]
fn family_layouts() {
    let d = 3;
    assert_eq!(Family::FullRank.n_params(d), 12);
    assert_eq!(Family::MeanField.n_params(d), 6);
    let mf = [0.1, 0.2, 0.3, 0.0, 1.0, -1.0];
    let full = Family::MeanField.to_full_rank(&mf, d).expect("shape");
    assert_eq!(
        Family::FullRank.mean(&full, d),
        Family::MeanField.mean(&mf, d)
    );
    let a = Family::MeanField.covariance(&mf, d).expect("shape");
    let b = Family::FullRank.covariance(&full, d).expect("shape");
    for (x, y) in a.iter().zip(&b) {
        assert!((x - y).abs() <= 1e-15 * y.abs().max(1.0));
    }
    assert!((a[4] - 2f64.exp()).abs() < 1e-14 && (a[8] - (-2f64).exp()).abs() < 1e-15);
    assert_eq!(a[1], 0.0);
    assert_eq!(
        Family::MeanField.covariance(&full, d),
        Err(Error::DimensionMismatch {
            what: "theta",
            expected: 6,
            got: 12
        })
    );
    assert_eq!(
        Family::FullRank.to_full_rank(&mf, d),
        Err(Error::DimensionMismatch {
            what: "theta",
            expected: 12,
            got: 6
        })
    );
}

#[test]
fn the_wrapper_checks_its_own_shapes_and_forwards_the_rest() {
    let mut obj = MeanField::new(ReverseKlExact::new(target()));
    assert_eq!((obj.dim(), obj.n_params()), (2, 4));
    let mut g = [0.0; 4];
    assert_eq!(
        obj.value_and_grad(&[0.0; 6], &mut g),
        Err(Error::DimensionMismatch {
            what: "theta",
            expected: 4,
            got: 6
        })
    );
    assert_eq!(
        obj.value_and_grad(&[0.0; 4], &mut [0.0; 6]),
        Err(Error::DimensionMismatch {
            what: "gradient",
            expected: 4,
            got: 6
        })
    );
    // (NaN ≠ NaN, so match on the variant.)
    match obj.value(&[0.0, 0.0, f64::NAN, 0.0]) {
        Err(Error::NonFiniteParameter { index: 2, value }) => assert!(value.is_nan()),
        other => panic!("{other:?}"),
    }
    // exp(ω) underflows to 0: the wrapped objective sees a singular L.
    assert_eq!(
        obj.value(&[0.0, 0.0, -800.0, 0.0]),
        Err(Error::SingularModel { pivot: 0 })
    );
    assert!(obj.value(&[0.0; 4]).expect("recovers").is_finite());
    assert!(!obj.is_stochastic() && obj.ess().is_none());

    // Resampling reaches the wrapped Monte Carlo objective.
    let mut rng = Pcg64::seed_from_u64(4);
    let rev =
        ReverseKl::new(AnyDensity::Mvn(target()), 8, Estimator::Total, &mut rng).expect("n ≥ 1");
    let mut mf = MeanField::new(rev);
    assert!(mf.is_stochastic());
    let before = mf.inner().eps().to_vec();
    let v0 = mf.value(&[0.0; 4]).expect("valid");
    mf.resample(&mut rng);
    assert_ne!(mf.inner().eps(), &before[..]);
    assert_ne!(mf.value(&[0.0; 4]).expect("valid"), v0);
}
