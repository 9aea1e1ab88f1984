//! [`FaultPlan`] and [`FaultKind`]: which call fails, and how.

use std::future::Future;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use crate::carrier::Fault;
use crate::error::{Error, Result};

/// How an injected fault behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FaultKind {
    /// The call is not performed and answers with the backend's error
    /// ([`Error::Database`] for a store, [`Error::ByCarrier`] for a carrier,
    /// [`Error::Unspecified`] `server_error` for an E911 provider).
    Error,
    /// The call is not performed and answers at once with a timeout
    /// ([`Error::Database`] `timeout` for a store, [`Error::Unspecified`]
    /// `timeout` otherwise).
    Timeout,
    /// "Did it or not?": the call is performed, then reported as failed with
    /// the backend's error, as when the answer is lost on the way back.
    Ambiguous,
    /// The call is performed, then the answer is held back this long and
    /// replaced by a timeout: a caller with a shorter deadline gives up while
    /// the call has in fact gone through.
    Hang(Duration),
}

/// Which calls of a wrapper fail: the `k`-th matching call (counting from 1)
/// and the `times - 1` matching calls after it, with one [`FaultKind`].
///
/// Matching calls are every call of the wrapped trait's async methods, or only
/// those named with [`FaultPlan::only`] (the trait's method names, such as
/// `"write_batch"` or `"acquire"`). A plan also counts the matching calls, so
/// [`FaultPlan::none`] measures how many calls an operation makes.
///
/// ```
/// use number_manager::testing::{FaultKind, FaultPlan};
/// let plan = FaultPlan::nth(2, FaultKind::Error).only(&["write_batch"]);
/// assert_eq!(plan.kind(), Some(FaultKind::Error));
/// assert_eq!(FaultPlan::none().kind(), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FaultPlan {
    nth: usize,
    times: usize,
    kind: Option<FaultKind>,
    only: Vec<&'static str>,
}

impl FaultPlan {
    /// Fails nothing; only counts calls.
    pub fn none() -> Self {
        Self::default()
    }

    /// Fails the `k`-th matching call (the first is `1`; `0` fails nothing).
    pub fn nth(k: usize, kind: FaultKind) -> Self {
        FaultPlan {
            nth: k,
            times: 1,
            kind: Some(kind),
            only: Vec::new(),
        }
    }

    /// Fails `times` consecutive matching calls from the `k`-th on (an
    /// outage); `usize::MAX` fails every call from then on.
    pub fn times(mut self, times: usize) -> Self {
        self.times = times;
        self
    }

    /// Counts and fails only calls of these methods.
    pub fn only(mut self, methods: &[&'static str]) -> Self {
        self.only = methods.to_vec();
        self
    }

    /// The kind of fault injected, `None` for a plan that fails nothing.
    pub fn kind(&self) -> Option<FaultKind> {
        self.kind.filter(|_| self.nth > 0 && self.times > 0)
    }

    fn matches(&self, method: &str) -> bool {
        self.only.is_empty() || self.only.contains(&method)
    }

    fn fires_at(&self, seen: usize) -> bool {
        seen >= self.nth && seen - self.nth < self.times
    }
}

/// What a wrapper calls for each failure it injects.
pub(crate) struct Failures {
    /// The backend's error for `method`.
    pub(crate) error: fn(&str) -> Error,
    /// The backend's timeout for `method`.
    pub(crate) timeout: fn(&str) -> Error,
}

#[derive(Debug, Default)]
struct State {
    plan: FaultPlan,
    calls: usize,
    injected: usize,
}

/// The plan and its counters, shared by the three fault wrappers.
#[derive(Debug, Default)]
pub(crate) struct Injector {
    state: Mutex<State>,
}

impl Injector {
    pub(crate) fn new(plan: FaultPlan) -> Self {
        Injector {
            state: Mutex::new(State {
                plan,
                ..State::default()
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn set_plan(&self, plan: FaultPlan) {
        *self.lock() = State {
            plan,
            ..State::default()
        };
    }

    pub(crate) fn calls(&self) -> usize {
        self.lock().calls
    }

    pub(crate) fn injected(&self) -> usize {
        self.lock().injected
    }

    /// Counts a call of `method`; the fault it must suffer, if any.
    fn decide(&self, method: &str) -> Option<FaultKind> {
        let mut s = self.lock();
        if !s.plan.matches(method) {
            return None;
        }
        s.calls += 1;
        let kind = s.plan.kind().filter(|_| s.plan.fires_at(s.calls))?;
        s.injected += 1;
        Some(kind)
    }

    /// Runs `call` as the plan says for the next call of `method`.
    pub(crate) async fn run<T, F>(&self, method: &str, how: &Failures, call: F) -> Result<T>
    where
        F: Future<Output = Result<T>>,
    {
        match self.decide(method) {
            None => call.await,
            Some(FaultKind::Error) => Err((how.error)(method)),
            Some(FaultKind::Timeout) => Err((how.timeout)(method)),
            Some(FaultKind::Ambiguous) => {
                let _ = call.await;
                Err((how.error)(method))
            }
            Some(FaultKind::Hang(d)) => {
                let _ = call.await;
                Fault::Delay(d).wait().await;
                Err((how.timeout)(method))
            }
        }
    }
}
