//! The [`Optimizer`] trait and its two implementations, [`Sgd`] and [`Adam`].

use crate::error::{Error, check_positive_finite, check_unit_interval};

/// An update rule: given the gradient at θ, move θ in place.
///
/// Implementations may keep state between steps (momentum velocity, Adam moments). That state
/// is sized on the first step after construction or [`reset`](Optimizer::reset) and reused
/// afterwards: a step never allocates except the first.
pub trait Optimizer {
    /// Applies one update to `theta` given the gradient `grad` of the loss at `theta`.
    ///
    /// # Panics
    ///
    /// If `theta.len() != grad.len()`, or if the length differs from the one of the first step
    /// since construction or the last [`reset`](Optimizer::reset) (for stateful optimizers).
    fn step(&mut self, theta: &mut [f64], grad: &[f64]);

    /// Forgets all state, so that the next step behaves as the first step of a new optimizer
    /// with the same hyperparameters. Keeps the buffers' allocations.
    fn reset(&mut self);

    /// A short human-readable name, e.g. `"SGD"` or `"Adam"`.
    fn name(&self) -> &'static str;
}

impl<O: Optimizer + ?Sized> Optimizer for &mut O {
    fn step(&mut self, theta: &mut [f64], grad: &[f64]) {
        (**self).step(theta, grad);
    }
    fn reset(&mut self) {
        (**self).reset();
    }
    fn name(&self) -> &'static str {
        (**self).name()
    }
}

impl<O: Optimizer + ?Sized> Optimizer for Box<O> {
    fn step(&mut self, theta: &mut [f64], grad: &[f64]) {
        (**self).step(theta, grad);
    }
    fn reset(&mut self) {
        (**self).reset();
    }
    fn name(&self) -> &'static str {
        (**self).name()
    }
}

fn check_lengths(theta: &[f64], grad: &[f64]) {
    assert_eq!(
        theta.len(),
        grad.len(),
        "theta has {} entries but grad has {}",
        theta.len(),
        grad.len()
    );
}

/// Makes `buf` hold `n` zeros on the first step (`fresh`), or checks that its length is `n`.
fn prepare(buf: &mut Vec<f64>, n: usize, fresh: bool, optimizer: &str) {
    if fresh {
        buf.clear();
        buf.resize(n, 0.0);
    } else {
        assert_eq!(
            buf.len(),
            n,
            "{optimizer}: the parameter dimension changed from {} to {n} without a reset",
            buf.len()
        );
    }
}

/// Stochastic gradient descent, optionally with heavy-ball momentum.
///
/// Without momentum (`momentum = 0`): θ ← θ − lr·g.
///
/// With momentum μ ∈ (0, 1), PyTorch's convention (`torch.optim.SGD` with `dampening = 0`,
/// `nesterov = False`): v ← μ·v + g, θ ← θ − lr·v, with v = 0 before the first step (so the
/// first step is the plain one). This differs from the "v ← μ·v − lr·g, θ ← θ + v" convention
/// of Sutskever et al. / Keras only when the learning rate changes between steps, which it
/// never does here.
#[derive(Debug, Clone, PartialEq)]
pub struct Sgd {
    learning_rate: f64,
    momentum: f64,
    velocity: Vec<f64>,
    fresh: bool,
}

impl Sgd {
    /// Plain SGD with the given learning rate.
    ///
    /// # Panics
    ///
    /// If `learning_rate` is not positive and finite; see [`Sgd::try_new`] for a fallible
    /// version.
    pub fn new(learning_rate: f64) -> Self {
        unwrap_or_panic(Self::try_new(learning_rate, 0.0))
    }

    /// Sets the momentum μ (0 means none).
    ///
    /// # Panics
    ///
    /// If `momentum` is not in [0, 1).
    #[must_use]
    pub fn with_momentum(self, momentum: f64) -> Self {
        unwrap_or_panic(Self::try_new(self.learning_rate, momentum))
    }

    /// SGD with the given learning rate and momentum (0 for none), validated.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHyperparameter`] if `learning_rate` is not positive and finite
    /// (including NaN) or `momentum` is not in [0, 1) (including NaN).
    pub fn try_new(learning_rate: f64, momentum: f64) -> Result<Self, Error> {
        check_positive_finite("learning_rate", learning_rate)?;
        check_unit_interval("momentum", momentum)?;
        Ok(Self {
            learning_rate,
            momentum,
            velocity: Vec::new(),
            fresh: true,
        })
    }

    /// The learning rate.
    pub fn learning_rate(&self) -> f64 {
        self.learning_rate
    }

    /// Changes the learning rate for the next steps, keeping the state (a step-size schedule).
    ///
    /// # Errors
    /// [`Error::InvalidHyperparameter`] if `learning_rate` is not positive and finite (the
    /// rate is then unchanged).
    pub fn set_learning_rate(&mut self, learning_rate: f64) -> Result<(), Error> {
        check_positive_finite("learning_rate", learning_rate)?;
        self.learning_rate = learning_rate;
        Ok(())
    }

    /// The momentum μ (0 means none).
    pub fn momentum(&self) -> f64 {
        self.momentum
    }
}

impl Optimizer for Sgd {
    fn step(&mut self, theta: &mut [f64], grad: &[f64]) {
        check_lengths(theta, grad);
        let lr = self.learning_rate;
        if self.momentum > 0.0 {
            prepare(&mut self.velocity, theta.len(), self.fresh, "SGD");
            self.fresh = false;
            let mu = self.momentum;
            for ((t, &g), v) in theta.iter_mut().zip(grad).zip(&mut self.velocity) {
                *v = mu * *v + g;
                *t -= lr * *v;
            }
        } else {
            for (t, &g) in theta.iter_mut().zip(grad) {
                *t -= lr * g;
            }
        }
    }

    fn reset(&mut self) {
        self.fresh = true;
    }

    fn name(&self) -> &'static str {
        "SGD"
    }
}

/// Adam (Kingma & Ba, 2015) with bias correction.
///
/// With gradient g at step t = 1, 2, … (m = v = 0 before the first step):
///
/// ```text
/// m ← β₁·m + (1 − β₁)·g          m̂ = m / (1 − β₁ᵗ)
/// v ← β₂·v + (1 − β₂)·g²         v̂ = v / (1 − β₂ᵗ)
/// θ ← θ − lr · m̂ / (√v̂ + ε)
/// ```
///
/// This is the formulation of the paper's Algorithm 1 and of `torch.optim.Adam`. (Keras and
/// TFP's `tf.keras.optimizers.Adam` put ε outside the bias correction of v, which differs only
/// in the size of ε's effect.) Since |m̂| ≤ √v̂ roughly, each coordinate moves by at most
/// about `lr` per step; in particular the first step moves each coordinate by
/// lr·g/(|g| + ε) ≈ lr·sign(g).
#[derive(Debug, Clone, PartialEq)]
pub struct Adam {
    learning_rate: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    m: Vec<f64>,
    v: Vec<f64>,
    /// Number of steps taken since construction or reset.
    steps: u64,
    /// β₁ᵗ and β₂ᵗ for the current t.
    beta1_pow: f64,
    beta2_pow: f64,
}

impl Adam {
    /// The default β₁.
    pub const DEFAULT_BETA1: f64 = 0.9;
    /// The default β₂.
    pub const DEFAULT_BETA2: f64 = 0.999;
    /// The default ε.
    pub const DEFAULT_EPS: f64 = 1e-8;

    /// Adam with the given learning rate and the default β₁ = 0.9, β₂ = 0.999, ε = 1e-8.
    ///
    /// # Panics
    ///
    /// If `learning_rate` is not positive and finite; see [`Adam::try_new`] for a fallible
    /// version.
    pub fn new(learning_rate: f64) -> Self {
        unwrap_or_panic(Self::try_new(
            learning_rate,
            Self::DEFAULT_BETA1,
            Self::DEFAULT_BETA2,
            Self::DEFAULT_EPS,
        ))
    }

    /// Sets β₁ and β₂.
    ///
    /// # Panics
    ///
    /// If either is not in [0, 1).
    #[must_use]
    pub fn with_betas(self, beta1: f64, beta2: f64) -> Self {
        unwrap_or_panic(Self::try_new(self.learning_rate, beta1, beta2, self.eps))
    }

    /// Sets ε.
    ///
    /// # Panics
    ///
    /// If `eps` is not positive and finite.
    #[must_use]
    pub fn with_eps(self, eps: f64) -> Self {
        unwrap_or_panic(Self::try_new(
            self.learning_rate,
            self.beta1,
            self.beta2,
            eps,
        ))
    }

    /// Adam with every hyperparameter given, validated.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHyperparameter`] if `learning_rate` or `eps` is not positive and finite,
    /// or `beta1` or `beta2` is not in [0, 1) (NaN fails every check).
    pub fn try_new(learning_rate: f64, beta1: f64, beta2: f64, eps: f64) -> Result<Self, Error> {
        check_positive_finite("learning_rate", learning_rate)?;
        check_unit_interval("beta1", beta1)?;
        check_unit_interval("beta2", beta2)?;
        check_positive_finite("eps", eps)?;
        Ok(Self {
            learning_rate,
            beta1,
            beta2,
            eps,
            m: Vec::new(),
            v: Vec::new(),
            steps: 0,
            beta1_pow: 1.0,
            beta2_pow: 1.0,
        })
    }

    /// The learning rate.
    pub fn learning_rate(&self) -> f64 {
        self.learning_rate
    }

    /// Changes the learning rate for the next steps, keeping the state (a step-size schedule).
    ///
    /// # Errors
    /// [`Error::InvalidHyperparameter`] if `learning_rate` is not positive and finite (the
    /// rate is then unchanged).
    pub fn set_learning_rate(&mut self, learning_rate: f64) -> Result<(), Error> {
        check_positive_finite("learning_rate", learning_rate)?;
        self.learning_rate = learning_rate;
        Ok(())
    }

    /// β₁, the decay rate of the first-moment estimate.
    pub fn beta1(&self) -> f64 {
        self.beta1
    }

    /// β₂, the decay rate of the second-moment estimate.
    pub fn beta2(&self) -> f64 {
        self.beta2
    }

    /// ε, added to √v̂ in the denominator.
    pub fn eps(&self) -> f64 {
        self.eps
    }

    /// The number of steps taken since construction or the last reset (t in the formulas).
    pub fn steps(&self) -> u64 {
        self.steps
    }
}

impl Optimizer for Adam {
    fn step(&mut self, theta: &mut [f64], grad: &[f64]) {
        check_lengths(theta, grad);
        let fresh = self.steps == 0;
        prepare(&mut self.m, theta.len(), fresh, "Adam");
        prepare(&mut self.v, theta.len(), fresh, "Adam");
        if fresh {
            self.beta1_pow = 1.0;
            self.beta2_pow = 1.0;
        }
        self.steps += 1;
        self.beta1_pow *= self.beta1;
        self.beta2_pow *= self.beta2;
        let (b1, b2, lr, eps) = (self.beta1, self.beta2, self.learning_rate, self.eps);
        // Both are > 0: β < 1, so βᵗ ≤ β < 1.
        let bias1 = 1.0 - self.beta1_pow;
        let bias2 = 1.0 - self.beta2_pow;
        for (((t, &g), m), v) in theta.iter_mut().zip(grad).zip(&mut self.m).zip(&mut self.v) {
            *m = b1 * *m + (1.0 - b1) * g;
            *v = b2 * *v + (1.0 - b2) * g * g;
            let m_hat = *m / bias1;
            let v_hat = *v / bias2;
            *t -= lr * m_hat / (v_hat.sqrt() + eps);
        }
    }

    fn reset(&mut self) {
        self.steps = 0;
    }

    fn name(&self) -> &'static str {
        "Adam"
    }
}

/// Panics with the error's message (the constructors' documented panics).
fn unwrap_or_panic<T>(result: Result<T, Error>) -> T {
    match result {
        Ok(value) => value,
        Err(err) => panic!("{err}"),
    }
}
