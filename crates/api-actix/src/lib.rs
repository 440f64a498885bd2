//! HTTP API (placeholder).
