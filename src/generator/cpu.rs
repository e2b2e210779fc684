//! Reading a source (tagging, planning, linting) is CPU work. It runs off the async runtime,
//! so heartbeats and requests go on, and at most one piece per core at a time: twenty jobs
//! planning at once on two cores finish no sooner, and each extra thread holds its own
//! allocator arena, so memory would grow with the number of jobs instead of the cores.

use std::sync::LazyLock;

use tokio::sync::Semaphore;

static CORE_COUNT: LazyLock<usize> = LazyLock::new(|| {
    std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(2)
});

static CORES: LazyLock<Semaphore> = LazyLock::new(|| Semaphore::new(cores()));

/// How many pieces of CPU work may run at once: the machine's cores, read once.
pub fn cores() -> usize {
    *CORE_COUNT
}

/// Why CPU work did not finish.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CpuWorkFailed(String);

/// Runs `work` on the blocking pool once a core is free.
pub async fn run<T, F>(work: F) -> Result<T, CpuWorkFailed>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let _core = CORES
        .acquire()
        .await
        .map_err(|err| CpuWorkFailed(err.to_string()))?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|err| CpuWorkFailed(err.to_string()))
}
