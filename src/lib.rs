//! onewindow: the engine behind the one window (一窗受理) that approves
//! combined medical-and-eldercare institutions.
//!
//! See docs/architecture.md for the bird's-eye view and the codemap.
#![forbid(unsafe_code)]

#[cfg(feature = "full")]
pub mod app;
pub mod bench;
pub mod calendar;
#[cfg(feature = "full")]
pub mod cli;
pub mod credit_code;
#[cfg(feature = "full")]
pub mod documents;
pub mod dsl;
pub mod engine;
pub mod links;
#[cfg(feature = "full")]
pub mod metrics;
#[cfg(feature = "full")]
pub mod notify;
pub mod project;
pub mod registry;
#[cfg(feature = "full")]
pub mod store;
#[cfg(feature = "full")]
pub mod web;

/// mimalloc rather than the system's allocator: the web path allocates
/// many small strings on every request from several threads, where glibc's
/// malloc spent a quarter of the time in `bench http`.
#[cfg(feature = "full")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
