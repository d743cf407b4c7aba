//! What a fit keeps: a bounded set of recorded states ([`Record`]), evenly thinned, and the
//! running tail average of the iterates ([`Average`]).

use kl_dist::Mvn;
use kl_grad::Family;

/// The most recorded states a fit keeps (evenly thinned, plus the last).
pub const MAX_RECORDS: usize = 4097;

/// The most numbers the recorded states hold together: a fit with `p` parameters keeps at most
/// `MAX_RECORD_VALUES / p` states (and at least 2: the first and the last).
pub const MAX_RECORD_VALUES: usize = 1_000_000;

/// The number of states a fit with `n_params` parameters keeps.
pub fn record_capacity(n_params: usize) -> usize {
    (MAX_RECORD_VALUES / n_params.max(1)).clamp(2, MAX_RECORDS)
}

/// One recorded state of a fit.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Record {
    /// The number of updates made so far.
    pub iteration: usize,
    /// The objective there (for Monte Carlo objectives, with the draws of the update from it).
    pub loss: f64,
    /// The norm of the gradient there.
    pub grad_norm: f64,
    /// Gradients of the target evaluated so far (each also gives log p̃), the step-size search
    /// included.
    pub n_grad_evals: u64,
    /// Log densities of the target alone evaluated so far.
    pub n_density_evals: u64,
    /// The step size of the update from this state (the `Auto` schedule decays it).
    pub learning_rate: f64,
    /// The effective sample size of the objective's importance weights (forward-kl-is, renyi).
    pub ess: Option<f64>,
    /// D(p‖q), where the fit computes the exact KL (a workspace target that has it).
    pub kl_forward: Option<f64>,
    /// D(q‖p), likewise.
    pub kl_reverse: Option<f64>,
    /// D_α(q‖p) in closed form, for a Rényi fit to a Gaussian.
    pub renyi: Option<f64>,
    #[cfg_attr(feature = "serde", serde(skip))]
    pub(crate) family: Family,
    #[cfg_attr(feature = "serde", serde(skip))]
    pub(crate) theta: Vec<f64>,
}

impl Record {
    fn dim(&self) -> usize {
        match self.family {
            Family::FullRank => {
                // p = d + d², d = (√(1 + 4p) − 1) / 2.
                let p = self.theta.len();
                ((((1 + 4 * p) as f64).sqrt() as usize).saturating_sub(1)) / 2
            }
            Family::MeanField => self.theta.len() / 2,
        }
    }

    /// μ.
    pub fn mean(&self) -> &[f64] {
        &self.theta[..self.dim()]
    }

    /// The family's parameters after μ: the raw square factor L, row-major (full rank), or
    /// ω = log σ (mean field).
    pub fn raw(&self) -> &[f64] {
        &self.theta[self.dim()..]
    }

    /// The family.
    pub fn family(&self) -> Family {
        self.family
    }

    /// Σ, d × d row-major.
    pub fn covariance(&self) -> Vec<f64> {
        // θ has the family's length by construction.
        self.family
            .covariance(&self.theta, self.dim())
            .unwrap_or_default()
    }

    /// q as a normal.
    ///
    /// # Errors
    /// If its covariance is not positive definite (a fit never records such a state).
    pub fn q(&self) -> Result<Mvn, kl_dist::Error> {
        q_of(self.family, &self.theta, self.dim())
    }
}

/// The normal of the parameters `theta` of `family` in dimension `d`: the one place where the
/// layout of θ (μ, then L or ω) becomes a q (the mean-field rule L = diag(exp ω) is kl-grad's
/// [`Family::to_full_rank`]).
pub(crate) fn q_of(family: Family, theta: &[f64], d: usize) -> Result<Mvn, kl_dist::Error> {
    let full = family
        .to_full_rank(theta, d)
        .map_err(|_| kl_dist::Error::DimensionMismatch {
            what: "theta",
            expected: family.n_params(d),
            got: theta.len(),
        })?;
    let (mean, l) = full.split_at(d);
    Mvn::from_factor(mean, l)
}

/// q of a recorded state given as μ and the family's raw parameters after it (a trace's
/// `mean` and `raw`).
///
/// # Errors
/// If the lengths do not fit the family, or the covariance is not positive definite.
pub fn model(family: Family, mean: &[f64], raw: &[f64]) -> Result<Mvn, kl_dist::Error> {
    let mut theta = Vec::with_capacity(mean.len() + raw.len());
    theta.extend_from_slice(mean);
    theta.extend_from_slice(raw);
    q_of(family, &theta, mean.len())
}

/// The states of one step, as the recorder needs them.
pub(crate) struct StepState<'a> {
    pub iteration: usize,
    pub theta: &'a [f64],
    pub loss: f64,
    pub grad_norm: f64,
    pub n_grad_evals: u64,
    pub n_density_evals: u64,
    pub ess: Option<f64>,
    pub learning_rate: f64,
}

impl StepState<'_> {
    /// The state as the user's observer sees it.
    pub(crate) fn progress(
        &self,
        max_iters: usize,
        family: crate::Family,
        d: usize,
    ) -> crate::Progress<'_> {
        crate::Progress {
            iteration: self.iteration,
            max_iters,
            loss: self.loss,
            grad_norm: self.grad_norm,
            n_grad_evals: self.n_grad_evals,
            n_density_evals: self.n_density_evals,
            family,
            d,
            theta: self.theta,
        }
    }

    /// Shows the state to the user's observer, if there is one; when it asks to stop, notes the
    /// iteration in `interrupted`.
    pub(crate) fn notify(
        &self,
        observer: &mut Option<crate::Observer<'_>>,
        max_iters: usize,
        family: crate::Family,
        d: usize,
        interrupted: &mut Option<usize>,
    ) -> std::ops::ControlFlow<()> {
        let flow = match observer {
            Some(obs) => obs(&self.progress(max_iters, family, d)),
            None => std::ops::ControlFlow::Continue(()),
        };
        if flow.is_break() {
            *interrupted = Some(self.iteration);
        }
        flow
    }
}

/// Keeps every `stride`-th state and the last; when more than the capacity are kept, the stride
/// doubles and every other kept state is dropped. So the kept states are evenly spaced, their
/// number is at most the capacity, and a fit of at most `capacity − 1` steps keeps them all.
/// Dropped states' buffers are reused: after the first few doublings nothing is allocated.
pub(crate) struct Recorder {
    family: Family,
    capacity: usize,
    stride: usize,
    kept: Vec<Record>,
    last: Option<Record>,
    pool: Vec<Vec<f64>>,
}

impl Recorder {
    pub(crate) fn new(family: Family, n_params: usize) -> Recorder {
        let capacity = record_capacity(n_params);
        Recorder {
            family,
            capacity,
            stride: 1,
            kept: Vec::with_capacity(capacity.min(1024)),
            last: None,
            pool: Vec::new(),
        }
    }

    fn fill(&mut self, slot: Option<Record>, s: &StepState<'_>) -> Record {
        let mut theta = match slot {
            Some(r) => r.theta,
            None => self.pool.pop().unwrap_or_default(),
        };
        theta.clear();
        theta.extend_from_slice(s.theta);
        Record {
            iteration: s.iteration,
            loss: s.loss,
            grad_norm: s.grad_norm,
            n_grad_evals: s.n_grad_evals,
            n_density_evals: s.n_density_evals,
            learning_rate: s.learning_rate,
            ess: s.ess,
            kl_forward: None,
            kl_reverse: None,
            renyi: None,
            family: self.family,
            theta,
        }
    }

    pub(crate) fn push(&mut self, s: &StepState<'_>) {
        if s.iteration.is_multiple_of(self.stride) {
            let r = self.fill(None, s);
            self.kept.push(r);
            if self.kept.len() >= self.capacity {
                self.stride *= 2;
                let stride = self.stride;
                let mut i = 0;
                while i < self.kept.len() {
                    if self.kept[i].iteration.is_multiple_of(stride) {
                        i += 1;
                    } else {
                        let r = self.kept.remove(i);
                        self.pool.push(r.theta);
                    }
                }
            }
            if let Some(old) = self.last.take() {
                self.pool.push(old.theta);
            }
        } else {
            let slot = self.last.take();
            let r = self.fill(slot, s);
            self.last = Some(r);
        }
    }

    /// The kept states, the last one included.
    pub(crate) fn finish(mut self) -> Vec<Record> {
        if let Some(last) = self.last.take() {
            self.kept.push(last);
        }
        self.kept
    }
}

/// Iterate averaging over the final part of a stochastic fit.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Average {
    /// The first iteration averaged.
    pub from_iteration: usize,
    /// The last iteration averaged.
    pub to_iteration: usize,
    /// The number of iterates averaged.
    pub n_iterates: usize,
    /// The Monte Carlo standard error of each entry of the averaged mean (batch means over
    /// the window's blocks; `None` with fewer than two blocks).
    pub mean_se: Option<Vec<f64>>,
    /// The same for each variance Σᵢᵢ of the averaged covariance.
    pub var_se: Option<Vec<f64>>,
}

/// Blocks of the running average; merged pairwise when there are this many.
const MAX_BLOCKS: usize = 16;

/// The running sums of μ and Σ (full Σ, or its diagonal for the mean-field family) over
/// consecutive blocks of iterates. Memory: at most [`MAX_BLOCKS`] + 1 blocks of d + d² (or 2d)
/// numbers, whatever the fit's length.
pub(crate) struct TailAverager {
    family: Family,
    d: usize,
    block_len: usize,
    /// (first iteration, count, sums) of the complete blocks.
    blocks: Vec<(usize, usize, Vec<f64>)>,
    current: (usize, usize, Vec<f64>),
    cov: Vec<f64>,
    /// Only every `stride`-th iterate is added (a full covariance costs d³ to form).
    stride: usize,
}

impl TailAverager {
    pub(crate) fn new(family: Family, d: usize, stride: usize) -> TailAverager {
        let width = d + Self::cov_len(family, d);
        TailAverager {
            family,
            d,
            block_len: 1,
            blocks: Vec::with_capacity(MAX_BLOCKS),
            current: (0, 0, vec![0.0; width]),
            cov: vec![0.0; d * d],
            stride: stride.max(1),
        }
    }

    fn cov_len(family: Family, d: usize) -> usize {
        match family {
            Family::FullRank => d * d,
            Family::MeanField => d,
        }
    }

    pub(crate) fn push(&mut self, iteration: usize, theta: &[f64]) {
        if !iteration.is_multiple_of(self.stride) {
            return;
        }
        let d = self.d;
        if self.current.1 == 0 {
            self.current.0 = iteration;
        }
        let sums = &mut self.current.2;
        for (s, m) in sums[..d].iter_mut().zip(&theta[..d]) {
            *s += m;
        }
        match self.family {
            Family::FullRank => {
                kl_dist::dense::gram(&theta[d..], d, &mut self.cov);
                for (s, c) in sums[d..].iter_mut().zip(&self.cov) {
                    *s += c;
                }
            }
            Family::MeanField => {
                for (s, w) in sums[d..].iter_mut().zip(&theta[d..]) {
                    *s += (2.0 * w).exp();
                }
            }
        }
        self.current.1 += 1;
        if self.current.1 == self.block_len {
            let width = sums.len();
            let done = std::mem::replace(&mut self.current, (0, 0, vec![0.0; width]));
            self.blocks.push(done);
            if self.blocks.len() == MAX_BLOCKS {
                let old = std::mem::take(&mut self.blocks);
                let mut it = old.into_iter();
                while let (Some(mut a), Some(b)) = (it.next(), it.next()) {
                    a.1 += b.1;
                    for (x, y) in a.2.iter_mut().zip(&b.2) {
                        *x += y;
                    }
                    self.blocks.push(a);
                }
                self.block_len *= 2;
            }
        }
    }

    /// The average over the last half of the complete blocks (at least one) and the partial
    /// block after them: its mean and covariance (full, d × d), and the summary.
    pub(crate) fn finish(&self, last_iteration: usize) -> Option<(Vec<f64>, Vec<f64>, Average)> {
        let d = self.d;
        let n_blocks = self.blocks.len();
        let tail = &self.blocks[n_blocks - n_blocks.div_ceil(2)..];
        let width = self.current.2.len();
        let mut sums = vec![0.0; width];
        let mut count = 0;
        for (_, c, s) in tail.iter().chain(std::iter::once(&self.current)) {
            count += c;
            for (x, y) in sums.iter_mut().zip(s) {
                *x += y;
            }
        }
        if count == 0 {
            return None;
        }
        let from = tail.first().map_or(self.current.0, |b| b.0);
        let n = count as f64;
        let mean: Vec<f64> = sums[..d].iter().map(|s| s / n).collect();
        let mut cov = vec![0.0; d * d];
        match self.family {
            Family::FullRank => {
                for (c, s) in cov.iter_mut().zip(&sums[d..]) {
                    *c = s / n;
                }
                // Symmetric by construction up to rounding; make it exactly so.
                for i in 0..d {
                    for j in 0..i {
                        let v = 0.5 * (cov[i * d + j] + cov[j * d + i]);
                        cov[i * d + j] = v;
                        cov[j * d + i] = v;
                    }
                }
            }
            Family::MeanField => {
                for i in 0..d {
                    cov[i * d + i] = sums[d + i] / n;
                }
            }
        }
        // Batch means over the complete tail blocks (equal lengths after merging).
        let (mean_se, var_se) = if tail.len() >= 2 {
            let k = tail.len() as f64;
            let var_index = |i: usize| match self.family {
                Family::FullRank => d + i * d + i,
                Family::MeanField => d + i,
            };
            let se = |index: usize| {
                let means: Vec<f64> = tail.iter().map(|b| b.2[index] / b.1 as f64).collect();
                let m = means.iter().sum::<f64>() / k;
                let var = means.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (k - 1.0);
                (var / k).sqrt()
            };
            (
                Some((0..d).map(se).collect()),
                Some((0..d).map(|i| se(var_index(i))).collect()),
            )
        } else {
            (None, None)
        };
        Some((
            mean,
            cov,
            Average {
                from_iteration: from,
                to_iteration: last_iteration,
                n_iterates: count,
                mean_se,
                var_se,
            },
        ))
    }
}
