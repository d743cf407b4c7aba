//! kl-dist
