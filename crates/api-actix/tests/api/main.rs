//! One integration-test binary for the HTTP layer (linked once instead of once per file): the
//! whole app over mocked ports, one module per concern, the shared fixtures in `support`.

mod support;

mod billing;
mod console;
mod hardening;
mod http;
mod openapi;
mod operability;
