//! The exit codes of `quizmaster generate`, shared by its in-process and `--server` paths.

pub const EXIT_OK: i32 = 0;
pub const EXIT_JOB_FAILED: i32 = 1;
pub const EXIT_USAGE: i32 = 2;
/// The server could not be reached, or answered something a QuizMaster server never would.
pub const EXIT_UNREACHABLE: i32 = 3;
pub const EXIT_INTERRUPTED: i32 = 130;
