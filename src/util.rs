//! Small runtime-agnostic async helpers (no executor, no timer), and the
//! macro that writes the `with_*` setters of the public option types.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Runs futures concurrently on the caller's task and returns their outputs in order.
pub(crate) fn join_all<'a, T: Send + 'a>(futures: Vec<BoxFut<'a, T>>) -> JoinAll<'a, T> {
    let slots = futures.into_iter().map(|f| Slot::Pending(f)).collect();
    JoinAll { slots }
}

enum Slot<'a, T> {
    Pending(BoxFut<'a, T>),
    Done(Option<T>),
}

/// The future returned by [`join_all`].
pub(crate) struct JoinAll<'a, T> {
    slots: Vec<Slot<'a, T>>,
}

// Nothing in `JoinAll` is structurally pinned: futures are pinned in their own
// boxes and outputs are only moved out, never polled.
impl<T> Unpin for JoinAll<'_, T> {}

impl<T: Send> Future for JoinAll<'_, T> {
    type Output = Vec<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Vec<T>> {
        // The futures are boxed and pinned on the heap, so the vector itself may move.
        let this = self.get_mut();
        let mut all_done = true;
        for slot in this.slots.iter_mut() {
            if let Slot::Pending(f) = slot {
                match f.as_mut().poll(cx) {
                    Poll::Ready(v) => *slot = Slot::Done(Some(v)),
                    Poll::Pending => all_done = false,
                }
            }
        }
        if !all_done {
            return Poll::Pending;
        }
        let out = this
            .slots
            .iter_mut()
            .filter_map(|s| match s {
                Slot::Done(v) => v.take(),
                Slot::Pending(_) => None,
            })
            .collect();
        Poll::Ready(out)
    }
}

/// Gives the executor a chance to run other tasks: returns `Pending` once
/// (waking itself at once), then `Ready`. Runtime-agnostic, unlike
/// `tokio::task::yield_now`.
pub(crate) fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

/// The future returned by [`yield_now`].
pub(crate) struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// One timer thread for the whole process: it keeps deadlines in order and
/// wakes each task when its deadline passes. Every carrier call and every
/// search is timed, so a thread per timeout would leave thousands of sleeping
/// threads behind a large collection.
struct Timer {
    state: std::sync::Mutex<TimerState>,
    wake: std::sync::Condvar,
}

#[derive(Default)]
struct TimerState {
    next_id: u64,
    /// Deadline -> ids due then.
    due: std::collections::BTreeMap<(std::time::Instant, u64), ()>,
    wakers: std::collections::HashMap<u64, std::task::Waker>,
    fired: std::collections::HashSet<u64>,
    running: bool,
}

fn timer() -> &'static Timer {
    static TIMER: std::sync::OnceLock<Timer> = std::sync::OnceLock::new();
    TIMER.get_or_init(|| Timer {
        state: std::sync::Mutex::new(TimerState::default()),
        wake: std::sync::Condvar::new(),
    })
}

impl Timer {
    fn lock(&self) -> std::sync::MutexGuard<'_, TimerState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a deadline; `None` if no timer thread can run (then the caller
    /// treats the deadline as reached rather than hang).
    fn register(&'static self, at: std::time::Instant, waker: std::task::Waker) -> Option<u64> {
        let mut st = self.lock();
        if !st.running {
            let spawned = std::thread::Builder::new()
                .name("number-manager-timer".into())
                .spawn(move || self.run());
            if spawned.is_err() {
                return None;
            }
            st.running = true;
        }
        st.next_id += 1;
        let id = st.next_id;
        st.due.insert((at, id), ());
        st.wakers.insert(id, waker);
        drop(st);
        self.wake.notify_one();
        Some(id)
    }

    fn run(&self) {
        let mut st = self.lock();
        loop {
            let now = std::time::Instant::now();
            while let Some((&(at, id), _)) = st.due.iter().next() {
                if at > now {
                    break;
                }
                st.due.remove(&(at, id));
                st.fired.insert(id);
                if let Some(w) = st.wakers.remove(&id) {
                    w.wake();
                }
            }
            st = match st.due.keys().next().map(|(at, _)| *at) {
                Some(at) => {
                    let wait = at.saturating_duration_since(now);
                    self.wake
                        .wait_timeout(st, wait)
                        .map(|(g, _)| g)
                        .unwrap_or_else(|p| p.into_inner().0)
                }
                None => self.wake.wait(st).unwrap_or_else(|p| p.into_inner()),
            };
        }
    }
}

/// A runtime-agnostic sleep on the shared timer thread.
pub(crate) struct Sleep {
    duration: std::time::Duration,
    /// Deadline and timer id once registered.
    entry: Option<(std::time::Instant, u64)>,
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let t = timer();
        match this.entry {
            None => {
                let at = std::time::Instant::now() + this.duration;
                match t.register(at, cx.waker().clone()) {
                    Some(id) => {
                        this.entry = Some((at, id));
                        Poll::Pending
                    }
                    None => Poll::Ready(()),
                }
            }
            // Id 0 marks a sleep that already fired.
            Some((_, 0)) => Poll::Ready(()),
            Some((at, id)) => {
                let mut st = t.lock();
                if st.fired.remove(&id) {
                    drop(st);
                    this.entry = Some((at, 0));
                    Poll::Ready(())
                } else {
                    st.wakers.insert(id, cx.waker().clone());
                    Poll::Pending
                }
            }
        }
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        // A sleep abandoned early (its future finished first) leaves nothing behind.
        if let Some((at, id)) = self.entry {
            if id != 0 {
                let mut st = timer().lock();
                st.due.remove(&(at, id));
                st.wakers.remove(&id);
                st.fired.remove(&id);
            }
        }
    }
}

/// Sleeps for `duration` without an async runtime.
pub(crate) fn sleep(duration: std::time::Duration) -> Sleep {
    Sleep {
        duration,
        entry: None,
    }
}

/// Runs `fut` until it finishes or `duration` passes (`None` on timeout).
pub(crate) async fn timeout<T>(
    duration: std::time::Duration,
    fut: impl Future<Output = T>,
) -> Option<T> {
    let mut fut = std::pin::pin!(fut);
    let mut timer = sleep(duration);
    std::future::poll_fn(move |cx| {
        if let Poll::Ready(v) = fut.as_mut().poll(cx) {
            return Poll::Ready(Some(v));
        }
        match Pin::new(&mut timer).poll(cx) {
            Poll::Ready(()) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}

/// Writes `#[must_use]` `with_*` setters, one per line of
/// `doc, with_name => field: Type`. A trailing `as some` wraps the value in
/// `Some`, `as into` converts it with `Into`, `as some_into` does both, so a
/// host writes `.with_page_size(50)` rather than `.with_page_size(Some(50))`.
/// The public option types are `#[non_exhaustive]`: outside this crate these
/// setters (after `default()` or a constructor) are the way to build them.
macro_rules! with_setters {
    ($ty:ty { $($(#[$doc:meta])* $name:ident => $field:ident: $t:ty $(as $wrap:ident)?;)* }) => {
        impl $ty {
            $(
                $(#[$doc])*
                #[must_use]
                pub fn $name(mut self, value: $t) -> Self {
                    self.$field = $crate::util::with_setters!(@wrap value $($wrap)?);
                    self
                }
            )*
        }
    };
    (@wrap $v:ident) => { $v };
    (@wrap $v:ident some) => { Some($v) };
    (@wrap $v:ident into) => { $v.into() };
    (@wrap $v:ident some_into) => { Some($v.into()) };
}
pub(crate) use with_setters;

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    // The timer is process-wide: tests that look at its state run one at a time.
    static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

    /// Pending once, then ready: enough for the timeout to register its sleep.
    async fn yield_once() {
        let mut first = true;
        std::future::poll_fn(|cx| {
            if first {
                first = false;
                cx.waker().wake_by_ref();
                Poll::Pending
            } else {
                Poll::Ready(())
            }
        })
        .await
    }

    #[tokio::test]
    async fn timeouts_fire_and_finished_futures_win() {
        let _serial = SERIAL.lock().await;
        let started = Instant::now();
        let never = std::future::pending::<()>();
        assert_eq!(timeout(Duration::from_millis(50), never).await, None);
        assert!(started.elapsed() >= Duration::from_millis(50));
        assert_eq!(timeout(Duration::from_secs(60), async { 7 }).await, Some(7));
    }

    #[tokio::test]
    async fn a_thousand_timed_calls_share_one_timer_and_leave_nothing_behind() {
        let _serial = SERIAL.lock().await;
        let futures: Vec<BoxFut<'_, Option<u32>>> = (0..1000u32)
            .map(|i| {
                let f: BoxFut<'_, Option<u32>> =
                    Box::pin(timeout(Duration::from_secs(60), async move {
                        yield_once().await;
                        i
                    }));
                f
            })
            .collect();
        let out = join_all(futures).await;
        assert_eq!(out.len(), 1000);
        assert!(out.iter().all(Option::is_some));
        let st = timer().lock();
        assert!(
            st.due.is_empty() && st.wakers.is_empty(),
            "dropped sleeps deregister"
        );
    }
}
