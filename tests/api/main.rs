//! API and jobs integration tests: one binary, each test with its own server and database.

mod blueprints;
mod crash;
mod errors;
mod following;
mod generation;
mod helpers;
mod topics;
mod ui;
