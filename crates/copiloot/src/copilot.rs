//! The facade that owns the models and runs `analyze`.
