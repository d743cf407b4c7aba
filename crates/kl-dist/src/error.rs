use std::fmt;

/// Why a distribution could not be built. Every variant names the offending argument and where in it.
///
/// Construction is the only place a `kl-dist` value can fail: once an [`crate::Mvn`] or
/// [`crate::Mixture`] exists, evaluating or sampling it cannot.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// A dimension of zero (`what` is the argument, e.g. `"mean"`).
    ZeroDimension {
        /// The argument that has no entries (e.g. `"mean"`).
        what: &'static str,
    },
    /// An argument of the wrong length (`expected` and `got` count scalars).
    DimensionMismatch {
        /// The argument (e.g. `"covariance"`, `"second normal"`, `"grid buffer"`).
        what: &'static str,
        /// The length it must have.
        expected: usize,
        /// The length it has.
        got: usize,
    },
    /// A NaN or infinite entry; `index` is the flat (row-major) position in `what`.
    NonFinite {
        /// The argument (e.g. `"mean"`, `"covariance"`).
        what: &'static str,
        /// The flat (row-major) position of the entry in `what`.
        index: usize,
        /// The entry.
        value: f64,
    },
    /// `cov[row][col]` and `cov[col][row]` differ beyond the relative tolerance.
    Asymmetric {
        /// The row of the upper-triangle entry (`row < col`).
        row: usize,
        /// The column of the upper-triangle entry.
        col: usize,
        /// `cov[row][col]`.
        upper: f64,
        /// `cov[col][row]`.
        lower: f64,
    },
    /// The Cholesky factorization met a pivot ≤ 0 at `pivot` (0-based): the covariance is not positive definite.
    NotPositiveDefinite {
        /// The 0-based pivot (row of the factor) at which the factorization failed.
        pivot: usize,
    },
    /// The square factor `L` is singular (Σ = L Lᵀ has a zero pivot at `pivot`).
    SingularFactor {
        /// The 0-based pivot of Σ = L Lᵀ that is numerically zero.
        pivot: usize,
    },
    /// A mixture needs at least one component.
    NoComponents,
    /// A weight that is negative or NaN.
    BadWeight {
        /// The 0-based position of the weight.
        index: usize,
        /// The weight.
        value: f64,
    },
    /// Weights whose sum is not 1 (within 1e-6).
    WeightsSum {
        /// The sum of the weights.
        sum: f64,
    },
    /// The weights and the components differ in number.
    WeightCount {
        /// The number of weights.
        weights: usize,
        /// The number of components.
        components: usize,
    },
    /// Component `index` has dimension `got`, the first component has `expected`.
    ComponentDimension {
        /// The 0-based component.
        index: usize,
        /// The dimension of the first component.
        expected: usize,
        /// The dimension of component `index`.
        got: usize,
    },
    /// Component `index` could not be built.
    Component {
        /// The 0-based component.
        index: usize,
        /// Why it could not be built.
        source: Box<Error>,
    },
    /// An operation that needs a 2-D density (such as a grid) got dimension `got`.
    NotTwoDimensional {
        /// The dimension of the density given.
        got: usize,
    },
    /// A grid extent that is not finite or has `min >= max` on `axis` (`"x"` or `"y"`).
    BadExtent {
        /// `"x"` or `"y"`.
        axis: &'static str,
        /// The lower end given.
        min: f64,
        /// The upper end given.
        max: f64,
    },
    /// A scalar parameter outside its domain: `what` is the argument (e.g. `"width"`), `value`
    /// what was given and `requirement` the condition it failed (e.g. `"> 0 and finite"`).
    BadParameter {
        /// The argument.
        what: &'static str,
        /// The value given.
        value: f64,
        /// The condition it failed.
        requirement: &'static str,
    },
    /// A dimension below the minimum the density is defined for (e.g. a funnel needs d ≥ 2).
    DimensionTooSmall {
        /// The density.
        what: &'static str,
        /// The smallest dimension it is defined for.
        min: usize,
        /// The dimension given.
        got: usize,
    },
    /// A label that is not exactly 0 or 1, at `row` of the data.
    BadLabel {
        /// 0-based row of the data.
        row: usize,
        /// The label given.
        value: f64,
    },
    /// Feature column `index` is constant, so it cannot be standardized.
    ConstantFeature {
        /// 0-based feature column (not counting the intercept).
        index: usize,
    },
    /// An iterative solve (`what`) did not converge within `iterations` steps.
    NoConvergence {
        /// The method.
        what: &'static str,
        /// The iteration limit that was reached.
        iterations: usize,
    },
    /// The density `what` has no exact sampler.
    NoSampler {
        /// The density's name (as [`crate::AnyDensity::name`]).
        what: &'static str,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::ZeroDimension { what } => {
                write!(f, "{what} is empty: the dimension must be at least 1")
            }
            Error::DimensionMismatch {
                what,
                expected,
                got,
            } => {
                write!(f, "{what} has {got} entries, expected {expected}")
            }
            Error::NonFinite { what, index, value } => {
                write!(f, "{what}[{index}] is {value}, not a finite number")
            }
            Error::Asymmetric {
                row,
                col,
                upper,
                lower,
            } => write!(
                f,
                "covariance is not symmetric: cov[{row}][{col}] = {upper} but cov[{col}][{row}] = {lower}"
            ),
            Error::NotPositiveDefinite { pivot } => write!(
                f,
                "covariance is not positive definite (Cholesky pivot {pivot} is not positive)"
            ),
            Error::SingularFactor { pivot } => write!(
                f,
                "factor L is singular: L Lᵀ is not positive definite (Cholesky pivot {pivot})"
            ),
            Error::NoComponents => write!(f, "a mixture needs at least one component"),
            Error::BadWeight { index, value } => {
                write!(f, "weight {index} is {value}: weights must be ≥ 0")
            }
            Error::WeightsSum { sum } => write!(f, "weights sum to {sum}, not 1"),
            Error::WeightCount {
                weights,
                components,
            } => {
                write!(f, "{weights} weights for {components} components")
            }
            Error::ComponentDimension {
                index,
                expected,
                got,
            } => write!(
                f,
                "component {index} has dimension {got}, component 0 has dimension {expected}"
            ),
            Error::Component { index, source } => write!(f, "component {index}: {source}"),
            Error::NotTwoDimensional { got } => {
                write!(f, "a density grid needs a 2-D density, got dimension {got}")
            }
            Error::BadExtent { axis, min, max } => {
                write!(
                    f,
                    "grid extent on {axis} is [{min}, {max}]: need finite min < max"
                )
            }
            Error::BadParameter {
                what,
                value,
                requirement,
            } => write!(f, "{what} is {value}: it must be {requirement}"),
            Error::DimensionTooSmall { what, min, got } => {
                write!(f, "{what} has dimension {got}, it needs at least {min}")
            }
            Error::BadLabel { row, value } => {
                write!(
                    f,
                    "label of row {row} is {value}: labels must be exactly 0 or 1"
                )
            }
            Error::ConstantFeature { index } => write!(
                f,
                "feature column {index} is constant: it cannot be standardized"
            ),
            Error::NoConvergence { what, iterations } => {
                write!(f, "{what} did not converge in {iterations} iterations")
            }
            Error::NoSampler { what } => write!(f, "{what} has no exact sampler"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Component { source, .. } => Some(source.as_ref()),
            _ => None,
        }
    }
}
