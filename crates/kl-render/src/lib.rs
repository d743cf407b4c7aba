//! kl-render
