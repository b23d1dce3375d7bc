//! Session workers: one single-threaded tokio runtime per core, each on its own OS
//! thread. A client's session — its socket, its backend connections, its timers — lives
//! on one worker from accept to close, so a request and its response never hop between
//! threads (no cross-thread wakeups, no work stealing), as in haproxy's or ProxySQL's
//! thread-per-core model. The accept loop hands new clients out in turn.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::runtime::Handle;

thread_local! {
    /// This thread's worker number: 1 + its index on a session worker, 0 elsewhere.
    static CURRENT: std::cell::Cell<u16> = const { std::cell::Cell::new(0) };
}

/// The session worker running the caller (1-based), or 0 on the shared runtime.
pub fn current() -> u16 {
    CURRENT.with(|c| c.get())
}

/// The running workers.
#[derive(Debug)]
pub struct Workers {
    handles: Vec<Handle>,
    next: AtomicUsize,
    threads: Vec<(
        std::thread::JoinHandle<()>,
        tokio::sync::oneshot::Sender<()>,
    )>,
}

impl Workers {
    /// Starts `n` workers (at least one).
    pub fn start(n: usize) -> std::io::Result<Workers> {
        let mut handles = Vec::new();
        let mut threads = Vec::new();
        for i in 0..n.max(1) {
            let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
            let (handle_tx, handle_rx) = std::sync::mpsc::channel();
            let thread = std::thread::Builder::new()
                .name(format!("rwproxy-worker-{i}"))
                .spawn(move || {
                    CURRENT.with(|c| c.set(u16::try_from(i + 1).unwrap_or(u16::MAX)));
                    let rt = match tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    {
                        Ok(rt) => rt,
                        Err(e) => {
                            let _ = handle_tx.send(Err(e));
                            return;
                        }
                    };
                    let _ = handle_tx.send(Ok(rt.handle().clone()));
                    // Runs the sessions spawned onto this worker until told to stop.
                    rt.block_on(async {
                        let _ = stop_rx.await;
                    });
                })?;
            let handle = handle_rx
                .recv()
                .map_err(|_| std::io::Error::other("worker thread died at start"))??;
            handles.push(handle);
            threads.push((thread, stop_tx));
        }
        Ok(Workers {
            handles,
            next: AtomicUsize::new(0),
            threads,
        })
    }

    /// Runs `task` on the next worker in turn.
    pub fn spawn<F: Future<Output = ()> + Send + 'static>(&self, task: F) {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.handles.len();
        self.handles[i].spawn(task);
    }

    /// Stops the workers; their remaining tasks are dropped as each thread ends.
    pub fn stop(self) {
        for (_thread, stop) in self.threads {
            let _ = stop.send(());
        }
    }
}
