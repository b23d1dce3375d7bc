//! Deadlines on waits for a backend (`[proxy] backend_read_timeout_ms`) without a tokio
//! timer per wait. Each session has a [`Watch`]; one [`Watchdog`] task per proxy keeps
//! a coarse clock and, every [`TICK`], ends the waits that have lasted their limit by
//! waking their session. Beginning a wait is a waker registration and two atomic
//! stores, and a wait that finds its bytes already there touches nothing. A tokio timer
//! per connection, moved and polled on each wait, cost about 480 instructions per point
//! select (callgrind), the timer wheel's upkeep included.
//!
//! A wait is marked with the clock as of the last tick, which may be older than the
//! wait; so the watchdog counts a wait's time from when the first tick that sees it
//! looked (the precise time), which is not earlier than the wait began. A wait that
//! gets no bytes therefore fails
//! between its limit and its limit plus two ticks after it began (later only if the
//! watchdog is kept from running on time), never earlier.

use atomic_waker::AtomicWaker;
use std::future::{poll_fn, Future};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::Duration;
use tokio::time::Instant;

/// How often the watchdog looks at the waits: also its clock's resolution.
pub const TICK: Duration = Duration::from_millis(50);

/// A [`Watch::wait`] value: the wait timed out.
const EXPIRED: u64 = u64::MAX;
/// A [`Watch::wait`] value: no wait in progress.
const IDLE: u64 = 0;

/// The waits of all sessions of one proxy, and their clock.
#[derive(Debug)]
pub struct Watchdog {
    /// Milliseconds since `start` as of the last tick, plus one (never [`IDLE`]); on
    /// tokio's clock, which tests can pause.
    clock: Arc<AtomicU64>,
    start: Instant,
    /// Every live watch; one the watchdog alone holds is dropped at the next tick.
    watches: Mutex<Vec<Looked>>,
}

impl Default for Watchdog {
    fn default() -> Self {
        Watchdog {
            clock: Arc::new(AtomicU64::new(1)),
            start: Instant::now(),
            watches: Mutex::default(),
        }
    }
}

impl Watchdog {
    /// A watch whose waits may last `limit`, looked after from now on.
    pub fn watch(&self, limit: Duration) -> Arc<Watch> {
        let w = Arc::new(Watch {
            limit,
            wait: AtomicU64::new(IDLE),
            waker: AtomicWaker::new(),
            clock: self.clock.clone(),
        });
        self.lock().push(Looked {
            watch: w.clone(),
            seen: None,
        });
        w
    }

    /// Ticks until the task is dropped (aborted).
    pub async fn run(self: Arc<Self>) {
        let mut every = tokio::time::interval(TICK);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            self.tick();
        }
    }

    /// Advances the clock and ends the waits that are due.
    pub fn tick(&self) {
        let clock = self.start.elapsed().as_millis() as u64 + 1;
        self.clock.store(clock, Ordering::Release);
        // After the store: every wait marked before it began before this.
        let now = Instant::now();
        self.lock().retain_mut(|l| {
            if l.ended() {
                return false;
            }
            l.look(clock, now);
            true
        });
    }

    /// Drops the watches of sessions that have ended, as a tick does: for after the
    /// watchdog task has stopped, so the ended sessions' wakers (and their tasks'
    /// memory) are not kept until the proxy is dropped.
    pub fn forget_ended(&self) {
        self.lock().retain(|l| !l.ended());
    }

    /// Number of watches looked after (sessions that ended leave at the next tick).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when no watch is looked after.
    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Looked>> {
        self.watches.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A watch as the watchdog follows it.
#[derive(Debug)]
struct Looked {
    watch: Arc<Watch>,
    /// The wait in progress when a tick first saw it (its mark), and when that tick
    /// looked (the precise time, not the coarse clock).
    seen: Option<(u64, Instant)>,
}

impl Looked {
    /// Its session has ended: the watchdog alone holds the watch.
    fn ended(&self) -> bool {
        Arc::strong_count(&self.watch) == 1
    }

    /// Ends the wait in progress if it has lasted its limit since a tick first saw it.
    /// Only a mark older than this tick's `clock` is noted: every wait with that mark
    /// began before the clock moved on from it, so before `now`. (A wait marked with this
    /// tick's own clock may have a successor with the same mark, begun later.)
    fn look(&mut self, clock: u64, now: Instant) {
        let w = &self.watch;
        let mark = w.wait.load(Ordering::Acquire);
        if mark == IDLE || mark == EXPIRED {
            self.seen = None;
            return;
        }
        match self.seen {
            Some((seen, since)) if seen == mark => {
                if now.saturating_duration_since(since) < w.limit {
                    return;
                }
            }
            _ => {
                self.seen = (mark < clock).then_some((mark, now));
                return;
            }
        }
        // Only a wait with that mark, which began before `since` (a wait that began
        // after the clock moved on has another mark).
        if w.wait
            .compare_exchange(mark, EXPIRED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            w.waker.wake();
        }
    }
}

/// One session's bound on its waits for a backend: one wait at a time (a session waits
/// for one backend at a time), each bounded on its own.
#[derive(Debug)]
pub struct Watch {
    limit: Duration,
    /// [`IDLE`], [`EXPIRED`], or the wait's mark: the clock when it began.
    wait: AtomicU64,
    /// The task waiting.
    waker: AtomicWaker,
    clock: Arc<AtomicU64>,
}

impl Watch {
    /// How long a wait may last, in milliseconds.
    pub fn limit_ms(&self) -> u64 {
        self.limit.as_millis() as u64
    }

    /// Runs `io` (one wait for the peer); if it is still pending once the limit has
    /// passed, fails with `expired` instead. `io` is polled once first without the
    /// watch: the bytes are usually there (or the socket buffer takes them).
    pub async fn bound<T, E>(
        &self,
        io: impl Future<Output = Result<T, E>>,
        expired: E,
    ) -> Result<T, E> {
        let mut io = std::pin::pin!(io);
        let mut waiting: Option<Waiting<'_>> = None;
        let mut expired = Some(expired);
        poll_fn(|cx| {
            if let Poll::Ready(done) = io.as_mut().poll(cx) {
                return Poll::Ready(done);
            }
            if waiting.is_none() {
                waiting = Some(self.begin(cx.waker()));
                return Poll::Pending;
            }
            // Again on every poll: the watchdog's wake takes the waker, and a late wake
            // meant for an earlier wait may have taken this one's.
            self.waker.register(cx.waker());
            if self.wait.load(Ordering::Acquire) == EXPIRED {
                return Poll::Ready(Err(expired.take().expect("polled after completion")));
            }
            Poll::Pending
        })
        .await
    }

    /// Marks a wait begun by the task of `waker`; the guard marks it over.
    fn begin(&self, waker: &Waker) -> Waiting<'_> {
        // The waker first: the watchdog sees the wait only once it can wake it.
        self.waker.register(waker);
        self.wait
            .store(self.clock.load(Ordering::Acquire), Ordering::Release);
        Waiting(self)
    }
}

/// A wait in progress; over when dropped.
struct Waiting<'a>(&'a Watch);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.wait.store(IDLE, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_wait_fails_after_its_limit_and_not_before() {
        let dog = Arc::new(Watchdog::default());
        let ticking = tokio::spawn(dog.clone().run());
        let watch = dog.watch(Duration::from_millis(200));
        let started = tokio::time::Instant::now();
        let never = std::future::pending::<Result<(), &str>>();
        let bounded =
            tokio::time::timeout(Duration::from_secs(10), watch.bound(never, "timed out"));
        assert_eq!(
            bounded.await,
            Ok(Err("timed out")),
            "the watchdog ends the wait"
        );
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(200) && took <= Duration::from_millis(200) + 2 * TICK,
            "{took:?}"
        );
        // Ready at once: no wait, whatever the clock says.
        assert_eq!(watch.bound(async { Ok::<_, &str>(7) }, "x").await, Ok(7));
        // A wait that ends in time.
        let slow = async {
            tokio::time::sleep(Duration::from_millis(150)).await;
            Ok::<_, &str>(8)
        };
        assert_eq!(watch.bound(slow, "x").await, Ok(8));
        assert_eq!(watch.wait.load(Ordering::Relaxed), IDLE);
        ticking.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn waits_are_bounded_one_by_one() {
        let dog = Arc::new(Watchdog::default());
        let ticking = tokio::spawn(dog.clone().run());
        let watch = dog.watch(Duration::from_millis(200));
        // Five waits of 150 ms in a row: 750 ms in all, none over the limit.
        for i in 0..5 {
            let slow = async {
                tokio::time::sleep(Duration::from_millis(150)).await;
                Ok::<_, &str>(i)
            };
            assert_eq!(watch.bound(slow, "timed out").await, Ok(i));
        }
        ticking.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn a_wait_is_timed_from_a_tick_after_it_began() {
        let dog = Watchdog::default();
        let watch = dog.watch(Duration::from_millis(200));
        dog.tick();
        let a = watch.begin(Waker::noop());
        // A tick at the same instant: A's mark is this tick's own time.
        dog.tick();
        drop(a);
        tokio::time::advance(Duration::from_millis(40)).await;
        // No tick since: B gets A's mark, though it began 40 ms later.
        let _b = watch.begin(Waker::noop());
        tokio::time::advance(Duration::from_millis(180)).await;
        dog.tick();
        assert_ne!(
            watch.wait.load(Ordering::Relaxed),
            EXPIRED,
            "B has waited 180 ms of its 200"
        );
        tokio::time::advance(Duration::from_millis(200)).await;
        dog.tick();
        assert_eq!(watch.wait.load(Ordering::Relaxed), EXPIRED);
    }

    /// Counts its wakes.
    struct Wakes(std::sync::atomic::AtomicUsize);

    impl std::task::Wake for Wakes {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_late_wake_meant_for_an_earlier_wait_does_not_lose_the_next_one() {
        let dog = Watchdog::default();
        let watch = dog.watch(Duration::from_millis(200));
        let wakes = Arc::new(Wakes(Default::default()));
        let waker = Waker::from(wakes.clone());
        let mut cx = std::task::Context::from_waker(&waker);
        let never = std::future::pending::<Result<(), &str>>();
        let mut wait = std::pin::pin!(watch.bound(never, "timed out"));
        assert!(wait.as_mut().poll(&mut cx).is_pending());
        // The watchdog's wake for an earlier wait, delayed until now: it takes the waker.
        watch.waker.wake();
        // The task runs for nothing and waits again.
        assert!(wait.as_mut().poll(&mut cx).is_pending());
        let before = wakes.0.load(Ordering::SeqCst);
        for _ in 0..6 {
            tokio::time::advance(TICK).await;
            dog.tick();
        }
        assert!(
            wakes.0.load(Ordering::SeqCst) > before,
            "the expiry must wake the task"
        );
        assert!(matches!(
            wait.as_mut().poll(&mut cx),
            Poll::Ready(Err("timed out"))
        ));
    }

    #[test]
    fn watches_of_ended_sessions_are_dropped() {
        let dog = Watchdog::default();
        let kept = dog.watch(Duration::from_secs(1));
        drop(dog.watch(Duration::from_secs(1)));
        assert_eq!(dog.len(), 2);
        dog.tick();
        assert_eq!(dog.len(), 1);
        drop(kept);
        dog.tick();
        assert!(dog.is_empty());
    }

    #[test]
    fn watches_of_ended_sessions_are_dropped_after_the_watchdog_stops() {
        let dog = Watchdog::default();
        let kept = dog.watch(Duration::from_secs(1));
        drop(dog.watch(Duration::from_secs(1)));
        dog.forget_ended();
        assert_eq!(dog.len(), 1);
        drop(kept);
        dog.forget_ended();
        assert!(dog.is_empty());
    }
}
