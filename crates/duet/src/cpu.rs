//! CPU-heavy work (password hashing, image decoding) on tokio's blocking pool, a few
//! jobs at a time. Each kind of work has one [`CpuGate`] per process with about one
//! permit per core: more at once would only share the same cores while each job
//! holds its memory (19 MiB per argon2 hash, tens of MiB per decoded image). A job
//! that cannot start within the gate's wait is refused as [`CpuError::Busy`], which
//! the HTTP edge answers with 503 and `Retry-After`, instead of piling up.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

/// Why a job did not run to the end.
#[derive(Debug, thiserror::Error)]
pub enum CpuError {
    /// Every permit stayed taken for the gate's whole wait.
    #[error("the server is busy with other {0}; try again shortly")]
    Busy(&'static str),
    /// The job panicked (or the runtime is shutting down).
    #[error("blocking task failed: {0}")]
    Failed(#[from] tokio::task::JoinError),
}

/// A bounded door to the blocking pool.
#[derive(Debug)]
pub struct CpuGate {
    permits: Arc<Semaphore>,
    max_wait: Duration,
    /// What the jobs are, in words, for the busy message.
    what: &'static str,
}

impl CpuGate {
    pub fn new(what: &'static str, permits: usize, max_wait: Duration) -> Self {
        CpuGate { permits: Arc::new(Semaphore::new(permits.max(1))), max_wait, what }
    }

    /// One permit per core the process may use.
    pub fn per_core(what: &'static str, max_wait: Duration) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self::new(what, cores, max_wait)
    }

    /// Runs `work` on the blocking pool, inside the caller's span, once a permit is
    /// free; `Busy` if none frees up within the wait.
    pub async fn run<T, F>(&self, work: F) -> Result<T, CpuError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let permit = tokio::time::timeout(self.max_wait, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| CpuError::Busy(self.what))?
            .expect("the gate's semaphore is never closed");
        let span = tracing::Span::current();
        let job = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            span.in_scope(work)
        });
        Ok(job.await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn no_more_jobs_run_at_once_than_there_are_permits() {
        let gate = Arc::new(CpuGate::new("tests", 2, Duration::from_secs(60)));
        let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let jobs: Vec<_> = (0..8)
            .map(|_| {
                let (gate, running, most) = (gate.clone(), running.clone(), most.clone());
                tokio::spawn(async move {
                    gate.run(move || {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(20));
                        running.fetch_sub(1, Ordering::SeqCst);
                    })
                    .await
                })
            })
            .collect();
        for job in jobs {
            job.await.unwrap().unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_job_that_cannot_start_within_the_wait_is_refused_as_busy() {
        let gate = Arc::new(CpuGate::new("tests", 1, Duration::from_millis(50)));
        let (release, released) = std::sync::mpsc::channel::<()>();
        let holder = {
            let gate = gate.clone();
            tokio::spawn(async move { gate.run(move || released.recv().ok()).await })
        };
        // The first job holds the only permit until it is released.
        while gate.permits.available_permits() == 1 {
            tokio::task::yield_now().await;
        }
        assert!(matches!(gate.run(|| ()).await, Err(CpuError::Busy("tests"))));
        release.send(()).unwrap();
        holder.await.unwrap().unwrap();
        assert!(gate.run(|| ()).await.is_ok(), "free again");
    }
}
