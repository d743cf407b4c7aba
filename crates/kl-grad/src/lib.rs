//! kl-grad
