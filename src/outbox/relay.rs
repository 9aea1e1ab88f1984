//! The relay: carries the outbox to a [`Publisher`], in `seq` order.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use super::Publisher;
use crate::error::Result;
use crate::store::Store;

/// How a [`Relay`] reads, publishes and backs off.
///
/// ```
/// use std::time::Duration;
/// use number_manager::outbox::RelayOptions;
/// let options = RelayOptions::default()
///     .with_batch_size(50)
///     .with_backoff(Duration::from_millis(50), Duration::from_secs(10));
/// assert_eq!(options.batch_size, 50);
/// assert_eq!(options.backoff_max, Duration::from_secs(10));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RelayOptions {
    /// At most this many messages per publish (0 is treated as 1). Default 100.
    pub batch_size: usize,
    /// The wait after the first failure in a row; it doubles with each
    /// further failure. Default 100 ms.
    pub backoff_min: Duration,
    /// The longest wait between two attempts. Default 30 s.
    pub backoff_max: Duration,
    /// How long [`Relay::run`] waits before reading again when the outbox
    /// was empty. Default 500 ms.
    pub idle: Duration,
}

impl Default for RelayOptions {
    fn default() -> Self {
        RelayOptions {
            batch_size: 100,
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(30),
            idle: Duration::from_millis(500),
        }
    }
}

crate::util::with_setters!(RelayOptions {
    /// Sets [`RelayOptions::batch_size`].
    with_batch_size => batch_size: usize;
    /// Sets [`RelayOptions::idle`].
    with_idle => idle: Duration;
});

impl RelayOptions {
    /// Sets [`RelayOptions::backoff_min`] and [`RelayOptions::backoff_max`].
    #[must_use]
    pub fn with_backoff(mut self, min: Duration, max: Duration) -> Self {
        self.backoff_min = min;
        self.backoff_max = max;
        self
    }

    /// The wait after `failures` failures in a row (`failures >= 1`):
    /// `backoff_min * 2^(failures - 1)`, at most `backoff_max`.
    pub fn backoff(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(31);
        self.backoff_min
            .checked_mul(1u32 << doublings)
            .unwrap_or(self.backoff_max)
            .min(self.backoff_max)
    }
}

/// Delivers a store's outbox to a [`Publisher`], at least once and in order.
///
/// Each round reads the oldest entries not yet acknowledged (up to
/// [`RelayOptions::batch_size`], in `seq` order), hands them to the
/// publisher as one batch, and acknowledges them (removes them from the
/// outbox) only once `publish` returned `Ok`. A failed publish acknowledges
/// nothing: the same entries are sent again, so a broker that is down delays
/// delivery and loses nothing. A relay stopped at any point (its future
/// dropped mid-publish, its process killed) loses nothing either: the next
/// relay starts from the oldest entry not acknowledged, and may send again
/// what the broker had already taken. Consumers deduplicate on
/// [`Message::seq`](super::Message::seq).
///
/// **One relay per outbox.** Run a single relay for a store at a time (one
/// process, or a leader elected by the host): two relays would both deliver
/// the same entries, and could interleave them so that one number's events
/// arrive out of order. A relay restarted after the first one stopped is
/// fine.
///
/// The relay needs no async runtime of its own: [`run`](Relay::run) takes
/// the host's sleep function and a shutdown future.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// use std::sync::Arc;
/// use number_manager::account::MemoryAccounts;
/// use number_manager::outbox::{Relay, RelayOptions};
/// use number_manager::store::{MemoryStore, Store};
/// use number_manager::testing::MemoryPublisher;
/// use number_manager::{NumberManager, Options};
///
/// let accounts = Arc::new(MemoryAccounts::new());
/// let master = accounts.add("master", "Master", None)?;
/// accounts.set_master(&master, true);
/// let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
/// let manager = NumberManager::builder()
///     .store(store.clone())
///     .accounts(accounts)
///     .outbox(true)
///     .build();
/// manager.create(&master, "4155550100", Default::default(), &Options::as_account(&master)).await?;
///
/// let publisher = Arc::new(MemoryPublisher::new());
/// let mut relay = Relay::new(store.clone(), publisher.clone(), RelayOptions::default());
/// assert_eq!(relay.run_once().await?, 1);
/// assert_eq!(publisher.messages()[0].routing_key, "number.create.14155550100");
/// assert_eq!(relay.run_once().await?, 0, "acknowledged: nothing left");
///
/// // Or as a loop, until the shutdown future resolves.
/// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
/// let running = relay.run(tokio::time::sleep, async { let _ = stopped.await; });
/// drop(stop);
/// running.await;
/// # Ok::<(), number_manager::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct Relay {
    store: Arc<dyn Store>,
    publisher: Arc<dyn Publisher>,
    options: RelayOptions,
    /// The last `seq` published and acknowledged by this relay.
    cursor: u64,
}

impl Relay {
    /// A relay from `store`'s outbox to `publisher`.
    pub fn new(
        store: Arc<dyn Store>,
        publisher: Arc<dyn Publisher>,
        options: RelayOptions,
    ) -> Self {
        Relay {
            store,
            publisher,
            options,
            cursor: 0,
        }
    }

    /// The last `seq` this relay published and acknowledged (`0` before any).
    pub fn cursor(&self) -> u64 {
        self.cursor
    }

    /// One round: reads a batch, publishes it, and acknowledges it once the
    /// publisher confirmed it. Returns how many messages were delivered
    /// (`0`: the outbox was empty).
    ///
    /// # Errors
    ///
    /// The store's error when it cannot be read or the batch cannot be
    /// acknowledged, the publisher's when it fails; in both cases the batch
    /// stays in the outbox (after a failed acknowledgement, the next round
    /// of a new relay sends it again).
    pub async fn run_once(&mut self) -> Result<usize> {
        match self.publish_next().await? {
            None => Ok(0),
            Some(sent) => self.acknowledge(sent).await,
        }
    }

    /// Reads the next batch and publishes it: `None` when the outbox is
    /// empty, else the batch's last `seq` and size, confirmed by the
    /// publisher and not yet acknowledged.
    async fn publish_next(&mut self) -> Result<Option<(u64, usize)>> {
        let batch = self
            .store
            .outbox_pending(self.cursor, self.options.batch_size.max(1))
            .await?;
        crate::observe::outbox_pending(batch.len());
        let Some(last) = batch.last().map(|m| m.seq) else {
            return Ok(None);
        };
        self.publisher.publish(&batch).await?;
        // Past this batch from now on, even if the acknowledgement fails: it
        // was delivered, and the next acknowledgement covers it too.
        self.cursor = last;
        Ok(Some((last, batch.len())))
    }

    /// Acknowledges a published batch in the store.
    async fn acknowledge(&mut self, (last, len): (u64, usize)) -> Result<usize> {
        self.store.outbox_ack(last).await?;
        crate::observe::outbox_published(len, last);
        Ok(len)
    }

    /// Delivers the outbox until `shutdown` resolves: rounds back to back
    /// while there is something to send, [`RelayOptions::idle`] between
    /// reads of an empty outbox, and after a failure a wait that doubles
    /// from [`RelayOptions::backoff_min`] to [`RelayOptions::backoff_max`]
    /// (reset by the next success). Returns how many messages it delivered.
    ///
    /// `sleep` is the host runtime's timer (`tokio::time::sleep`, or any
    /// `Fn(Duration) -> impl Future`). When `shutdown` resolves during a
    /// read or a publish, that round is dropped: what it sent is not
    /// acknowledged and goes out again with the next relay. A batch the
    /// publisher confirmed is acknowledged before `run` returns, so it is not
    /// sent twice and the count includes it.
    pub async fn run<S, F>(&mut self, sleep: S, shutdown: impl Future<Output = ()>) -> u64
    where
        S: Fn(Duration) -> F,
        F: Future<Output = ()>,
    {
        let mut shutdown = pin!(shutdown);
        let mut delivered = 0u64;
        let mut failures = 0u32;
        loop {
            let round = match first(self.publish_next(), shutdown.as_mut()).await {
                None => return delivered,
                Some(Ok(None)) => Ok(0),
                Some(Ok(Some(sent))) => {
                    // The shutdown future is still polled (it may hold what
                    // the acknowledgement needs, such as a pooled connection),
                    // but it does not cut the acknowledgement short.
                    let (acked, stopped) = noting(self.acknowledge(sent), shutdown.as_mut()).await;
                    if stopped {
                        return delivered + acked.map_or(0, |n| n as u64);
                    }
                    acked
                }
                Some(Err(e)) => Err(e),
            };
            let wait = match round {
                Ok(0) => {
                    failures = 0;
                    self.options.idle
                }
                Ok(n) => {
                    failures = 0;
                    delivered += n as u64;
                    continue;
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    let wait = self.options.backoff(failures);
                    crate::observe::outbox_publish_failed(self.cursor, failures, wait, &e);
                    wait
                }
            };
            if first(sleep(wait), shutdown.as_mut()).await.is_none() {
                return delivered;
            }
        }
    }
}

/// Runs `work` to the end while also polling `stop`; returns `work`'s output
/// and whether `stop` resolved meanwhile (it is not polled again once it has).
async fn noting<T>(
    work: impl Future<Output = T>,
    mut stop: std::pin::Pin<&mut impl Future<Output = ()>>,
) -> (T, bool) {
    let mut work = pin!(work);
    let mut stopped = false;
    std::future::poll_fn(move |cx| {
        if !stopped && stop.as_mut().poll(cx).is_ready() {
            stopped = true;
        }
        work.as_mut().poll(cx).map(|out| (out, stopped))
    })
    .await
}

/// Runs `work` until it finishes (`Some`) or `stop` resolves first (`None`).
async fn first<T>(
    work: impl Future<Output = T>,
    mut stop: std::pin::Pin<&mut impl Future<Output = ()>>,
) -> Option<T> {
    let mut work = pin!(work);
    std::future::poll_fn(move |cx| {
        if stop.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        work.as_mut().poll(cx).map(Some)
    })
    .await
}
