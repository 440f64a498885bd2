//! One integration-test binary for the service (linked once instead of once per file): the real
//! application on port 0, one module per concern, the shared `spawn_app` helpers in `helpers`.

#[macro_use]
mod helpers;

mod billing_api;
mod billing_concurrency;
mod both_backends;
mod chaos;
mod console;
mod console_browser;
mod hardening;
mod operations;
mod webhook_contract;
