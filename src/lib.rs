//! forward-backward-kl
