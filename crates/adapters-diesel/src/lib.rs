//! Diesel adapters (placeholder).
