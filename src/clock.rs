//! Time, injectable so tests are deterministic.
//!
//! Timestamps are kept as UTC instants; the API shows them as Gregorian
//! seconds (Unix seconds + 62167219200).

use std::sync::Mutex;

use chrono::{DateTime, Duration, TimeZone, Utc};

/// Seconds between 0000-01-01 and 1970-01-01 (Erlang's Gregorian seconds epoch).
pub const GREGORIAN_OFFSET: i64 = 62_167_219_200;

/// Converts an instant to Gregorian seconds, as Kazoo prints timestamps.
pub fn to_gregorian(t: DateTime<Utc>) -> i64 {
    t.timestamp() + GREGORIAN_OFFSET
}

/// Converts Gregorian seconds to an instant; `None` when out of chrono's range.
pub fn from_gregorian(seconds: i64) -> Option<DateTime<Utc>> {
    Utc.timestamp_opt(seconds.checked_sub(GREGORIAN_OFFSET)?, 0)
        .single()
}

/// A source of the current time.
///
/// # Example
///
/// A clock a host shifts ahead of the wall clock, say to see what
/// maintenance will do tomorrow. The manager takes every instant it decides
/// with (record times, leases, claims, expiries, events) from its clock:
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use std::sync::Arc;
///
/// use chrono::{DateTime, Duration, Utc};
/// use number_manager::account::MemoryAccounts;
/// use number_manager::clock::Clock;
/// use number_manager::{Error, NumberManager, Options};
///
/// #[derive(Debug)]
/// struct Ahead(Duration);
///
/// impl Clock for Ahead {
///     fn now(&self) -> DateTime<Utc> {
///         Utc::now() + self.0
///     }
/// }
///
/// let accounts = Arc::new(MemoryAccounts::new());
/// let master = accounts.add("master", "Master", None)?;
/// accounts.set_master(&master, true);
/// let manager = NumberManager::builder()
///     .accounts(accounts)
///     .clock(Arc::new(Ahead(Duration::days(1))))
///     .build();
/// let before = Utc::now();
/// let opts = Options::as_account(&master);
/// let created = manager.create(&master, "4155550100", Default::default(), &opts).await?;
/// assert!(created.record.created >= before + Duration::days(1));
/// assert_eq!(created.record.modified, created.record.created);
/// # Ok::<(), Error>(())
/// # }).unwrap();
/// ```
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now, in UTC.
    fn now(&self) -> DateTime<Utc>;
}

/// The real wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to; for tests.
///
/// ```
/// use number_manager::clock::{Clock, ManualClock, to_gregorian};
/// let clock = ManualClock::at_gregorian(63_628_550_806);
/// assert_eq!(to_gregorian(clock.now()), 63_628_550_806);
/// clock.advance(chrono::Duration::seconds(10));
/// assert_eq!(to_gregorian(clock.now()), 63_628_550_816);
/// ```
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
}

impl ManualClock {
    /// A clock stopped at `t`.
    pub fn new(t: DateTime<Utc>) -> Self {
        ManualClock { now: Mutex::new(t) }
    }

    /// A clock stopped at the given Gregorian second (falls back to the Unix epoch if out of range).
    pub fn at_gregorian(seconds: i64) -> Self {
        Self::new(from_gregorian(seconds).unwrap_or(DateTime::UNIX_EPOCH))
    }

    /// Moves the clock forward (or back, with a negative duration).
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(|p| p.into_inner());
        *now += by;
    }

    /// Sets the clock.
    pub fn set(&self, t: DateTime<Utc>) {
        *self.now.lock().unwrap_or_else(|p| p.into_inner()) = t;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(|p| p.into_inner())
    }
}
