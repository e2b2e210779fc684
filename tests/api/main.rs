//! API and jobs integration tests: one binary, each test with its own server and database.

#[macro_use]
mod helpers;

#[path = "../support/child.rs"]
mod child;

mod attacks;
mod auth;
mod blueprints;
mod crash;
mod delivery;
mod errors;
mod evidence;
mod following;
mod generation;
mod idempotency;
mod openapi;
mod retention;
mod topics;
mod ui;
mod ui_accounts;
