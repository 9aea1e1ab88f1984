//! [`MemoryPublisher`]: a [`Publisher`] that keeps what it is given.

use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use crate::error::{DatabaseFault, Error, Result};
use crate::outbox::{Message, Publisher};

/// A [`Publisher`] for tests: it records every message it accepts, in order,
/// and can be told to fail, as a broker that is down or drops the
/// connection midway would.
///
/// A failing publish returns [`Error::Database`] of fault
/// [`DatabaseFault::Unavailable`] (a broker down is retryable).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use number_manager::outbox::Publisher;
/// use number_manager::testing::MemoryPublisher;
/// let publisher = MemoryPublisher::new();
/// publisher.fail_next(1);
/// assert!(publisher.publish(&[]).await.is_err());
/// assert!(publisher.publish(&[]).await.is_ok());
/// assert_eq!((publisher.calls(), publisher.failures()), (2, 1));
/// # });
/// ```
#[derive(Debug, Default)]
pub struct MemoryPublisher {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    accepted: Vec<Message>,
    calls: usize,
    failures: usize,
    fail_next: usize,
    accept_then_fail: Option<usize>,
    down: bool,
}

impl MemoryPublisher {
    /// A publisher that accepts everything.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every message accepted so far, in the order received (a message sent
    /// again after a failure appears again).
    pub fn messages(&self) -> Vec<Message> {
        self.lock().accepted.clone()
    }

    /// How many times `publish` was called.
    pub fn calls(&self) -> usize {
        self.lock().calls
    }

    /// How many calls failed.
    pub fn failures(&self) -> usize {
        self.lock().failures
    }

    /// The next `n` calls fail, accepting nothing.
    pub fn fail_next(&self, n: usize) {
        self.lock().fail_next = n;
    }

    /// While `down`, every call fails, accepting nothing.
    pub fn set_down(&self, down: bool) {
        self.lock().down = down;
    }

    /// The next call accepts its first `k` messages (or fewer, if the batch
    /// is shorter) and then fails: a broker that took part of a batch before
    /// the connection dropped.
    pub fn accept_then_fail(&self, k: usize) {
        self.lock().accept_then_fail = Some(k);
    }
}

fn unavailable() -> Error {
    Error::Database {
        cause: "memory publisher: told to fail".into(),
        fault: DatabaseFault::Unavailable,
        source: None,
    }
}

#[async_trait]
impl Publisher for MemoryPublisher {
    async fn publish(&self, batch: &[Message]) -> Result<()> {
        let mut st = self.lock();
        st.calls += 1;
        if st.down || st.fail_next > 0 {
            st.fail_next = st.fail_next.saturating_sub(1);
            st.failures += 1;
            return Err(unavailable());
        }
        if let Some(k) = st.accept_then_fail.take() {
            st.accepted.extend(batch.iter().take(k).cloned());
            st.failures += 1;
            return Err(unavailable());
        }
        st.accepted.extend(batch.iter().cloned());
        Ok(())
    }
}
