//! Every error of `kl-grad`, asserted by variant and by what it reports; an objective recovers
//! after an error.

use kl_dist::{AnyDensity, Mvn};
use kl_grad::{
    Error, Estimator, ForwardKlExact, ForwardKlSamples, Objective, ReverseKl, ReverseKlExact,
};
use rand::SeedableRng;
use rand_pcg::Pcg64;

fn p2() -> Mvn {
    Mvn::new(&[0.5, -0.7], &[1.0, 1.0, 1.0, 2.0]).expect("valid")
}

/// All four objectives on the 2-D target (θ has 6 entries).
fn objectives() -> Vec<(&'static str, Box<dyn Objective>)> {
    let samples = [0.0, 1.0, 2.0, -1.0, 0.5, 0.5];
    let rev = |e| {
        Box::new(
            ReverseKl::new(AnyDensity::Mvn(p2()), 3, e, &mut Pcg64::seed_from_u64(2))
                .expect("n ≥ 1"),
        ) as Box<dyn Objective>
    };
    vec![
        ("forward exact", Box::new(ForwardKlExact::new(p2()))),
        (
            "forward samples",
            Box::new(ForwardKlSamples::new(&samples, 2).expect("valid")),
        ),
        ("reverse total", rev(Estimator::Total)),
        ("reverse stl", rev(Estimator::Stl)),
        ("reverse exact", Box::new(ReverseKlExact::new(p2()))),
    ]
}

const GOOD: [f64; 6] = [0.1, 0.2, 1.0, 0.3, -0.2, 0.9];

#[test]
fn a_singular_factor_is_a_singular_model_and_the_objective_recovers() {
    for (name, mut obj) in objectives() {
        let mut g = vec![0.0; 6];
        let want = obj.value_and_grad(&GOOD, &mut g).expect("valid");
        let g_want = g.clone();
        for l in [[1.0, 0.5, 0.0, 0.0], [3.0, 4.0, 3.0, 4.0], [0.0; 4]] {
            let th = [0.1, 0.2, l[0], l[1], l[2], l[3]];
            let pivot = if l == [0.0; 4] { 0 } else { 1 };
            assert_eq!(
                obj.value_and_grad(&th, &mut g),
                Err(Error::SingularModel { pivot }),
                "{name}"
            );
            assert_eq!(
                obj.value(&th),
                Err(Error::SingularModel { pivot }),
                "{name}"
            );
        }
        // A rank-deficient factor with rounding in L Lᵀ: rows (0.1, 0.3) and 0.7·(0.1, 0.3).
        let th = [0.0, 0.0, 0.1, 0.3, 0.07, 0.21];
        assert_eq!(
            obj.value(&th),
            Err(Error::SingularModel { pivot: 1 }),
            "{name}"
        );
        // Back to a valid θ: the same value and gradient as before the errors.
        assert_eq!(obj.value_and_grad(&GOOD, &mut g), Ok(want), "{name}");
        assert_eq!(g, g_want, "{name}");
    }
}

#[test]
fn a_non_finite_parameter_is_located() {
    for (name, mut obj) in objectives() {
        let mut g = vec![0.0; 6];
        let mut th = GOOD;
        th[4] = f64::INFINITY;
        assert_eq!(
            obj.value_and_grad(&th, &mut g),
            Err(Error::NonFiniteParameter {
                index: 4,
                value: f64::INFINITY
            }),
            "{name}"
        );
        th[4] = GOOD[4];
        th[1] = f64::NAN;
        match obj.value(&th) {
            Err(Error::NonFiniteParameter { index: 1, value }) => assert!(value.is_nan()),
            other => panic!("{name}: expected NonFiniteParameter at 1, got {other:?}"),
        }
    }
}

#[test]
fn wrong_lengths_are_dimension_mismatches() {
    for (name, mut obj) in objectives() {
        assert_eq!(obj.n_params(), 6);
        let mut g = vec![0.0; 6];
        assert_eq!(
            obj.value_and_grad(&GOOD[..5], &mut g),
            Err(Error::DimensionMismatch {
                what: "theta",
                expected: 6,
                got: 5
            }),
            "{name}"
        );
        let mut short = vec![0.0; 4];
        assert_eq!(
            obj.value_and_grad(&GOOD, &mut short),
            Err(Error::DimensionMismatch {
                what: "gradient",
                expected: 6,
                got: 4
            }),
            "{name}"
        );
    }
    let mut rev = ReverseKl::new(
        AnyDensity::Mvn(p2()),
        3,
        Estimator::Total,
        &mut Pcg64::seed_from_u64(0),
    )
    .expect("n ≥ 1");
    assert_eq!(
        rev.set_eps(&[0.0; 5]),
        Err(Error::DimensionMismatch {
            what: "eps",
            expected: 6,
            got: 5
        })
    );
    assert_eq!(
        ForwardKlSamples::new(&[0.0; 5], 2).err(),
        Some(Error::DimensionMismatch {
            what: "samples",
            expected: 6,
            got: 5
        })
    );
    assert_eq!(
        ForwardKlSamples::new(&[0.0; 4], 0).err(),
        Some(Error::DimensionMismatch {
            what: "dimension",
            expected: 1,
            got: 0
        })
    );
}

#[test]
fn no_samples() {
    assert_eq!(ForwardKlSamples::new(&[], 2).err(), Some(Error::NoSamples));
    let r = ReverseKl::new(
        AnyDensity::Mvn(p2()),
        0,
        Estimator::Stl,
        &mut Pcg64::seed_from_u64(0),
    );
    assert_eq!(r.err(), Some(Error::NoSamples));
}

#[test]
fn a_non_finite_sample_is_located() {
    // d = 2: flat index 5 is sample 2, coordinate 1.
    let mut xs = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0];
    xs[5] = f64::NEG_INFINITY;
    assert_eq!(
        ForwardKlSamples::new(&xs, 2).err(),
        Some(Error::NonFiniteSample {
            sample: 2,
            coordinate: 1,
            value: f64::NEG_INFINITY
        })
    );
    xs[5] = 5.0;
    xs[6] = f64::NAN;
    match ForwardKlSamples::new(&xs, 2) {
        Err(Error::NonFiniteSample {
            sample: 3,
            coordinate: 0,
            value,
        }) => assert!(value.is_nan()),
        other => panic!("expected NonFiniteSample at (3, 0), got {other:?}"),
    }
    let e = ForwardKlSamples::new(&[0.0, f64::INFINITY], 1).expect_err("error");
    assert_eq!(e.to_string(), "sample 1, coordinate 0 is inf");
}
