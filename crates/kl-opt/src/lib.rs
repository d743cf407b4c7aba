//! kl-opt
