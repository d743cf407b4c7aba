//! The figures that tell the story beyond the notebook (filled in below).

use crate::error::Error;
use crate::figures::{Output, Style};

/// The converged picture, reverse KL's local optima and the estimator comparison.
pub fn story_figures(_style: Style) -> Result<Vec<Output>, Error> {
    Ok(Vec::new())
}
