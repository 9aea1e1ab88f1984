//! Runtime-agnostic polling for the conformance suites: many futures polled
//! together on the caller's task, a cooperative yield, and a future that
//! turns a panic into an error, so a suite can run every check and report
//! each one.

use std::any::Any;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

/// A boxed future a suite polls; `Send`, so a host may also spawn it.
pub(crate) type Task<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Polls every future on the current task until all are done; results in order.
pub(crate) fn join_all<T>(tasks: Vec<Task<'_, T>>) -> JoinAll<'_, T> {
    let n = tasks.len();
    JoinAll {
        tasks: tasks.into_iter().map(Some).collect(),
        results: (0..n).map(|_| None).collect(),
    }
}

/// The future of [`join_all`].
pub(crate) struct JoinAll<'a, T> {
    tasks: Vec<Option<Task<'a, T>>>,
    results: Vec<Option<T>>,
}

// Results are never pinned: they are moved out once their task is done.
impl<T> Unpin for JoinAll<'_, T> {}

impl<T> Future for JoinAll<'_, T> {
    type Output = Vec<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Vec<T>> {
        let this = self.get_mut();
        let mut pending = false;
        for (slot, result) in this.tasks.iter_mut().zip(this.results.iter_mut()) {
            if let Some(task) = slot {
                match task.as_mut().poll(cx) {
                    Poll::Ready(v) => {
                        *result = Some(v);
                        *slot = None;
                    }
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(this.results.iter_mut().filter_map(Option::take).collect())
        }
    }
}

/// Gives the other tasks of a [`join_all`] a turn.
pub(crate) fn yield_now() -> YieldNow {
    YieldNow(false)
}

/// The future of [`yield_now`].
pub(crate) struct YieldNow(bool);

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// Runs `task` to completion; a panic inside it becomes `Err` with the
/// panic's message (the panic hook still prints it, with its location, as it
/// happens).
pub(crate) async fn catch_panic(task: Task<'_, ()>) -> Result<(), String> {
    CatchPanic(task).await
}

struct CatchPanic<'a>(Task<'a, ()>);

impl Future for CatchPanic<'_> {
    type Output = Result<(), String>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // The task is dropped right after a panic and never polled again, so
        // whatever state it left half changed is not observed.
        let task = &mut self.0;
        match catch_unwind(AssertUnwindSafe(|| task.as_mut().poll(cx))) {
            Ok(Poll::Ready(())) => Poll::Ready(Ok(())),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => Poll::Ready(Err(panic_message(payload.as_ref()))),
        }
    }
}

/// The message of a panic payload (`panic!` gives a `&str` or a `String`).
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panicked (with a payload that is not a string)".to_string()
    }
}
