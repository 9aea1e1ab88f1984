//! The [`Store`] conformance suite: one contract, one suite, every backend.
//!
//! Every built-in store ([`MemoryStore`](super::MemoryStore), and the SQL
//! stores behind their features) runs these checks in its tests, and a host that
//! writes its own [`Store`] runs them against it. The checks live in one
//! registry, [`CHECKS`]: each entry has a name, the [`Section`] of the contract
//! it is about, and the check itself, an async function taking a store.
//! [`run_all`] runs every entry, each on a fresh store made by the factory it
//! is given; the crate's own test binaries make one test per entry and backend
//! from the same table, so a check added to the registry runs everywhere, and a
//! check not in it is reachable from nowhere (the build rejects it as dead code).
//!
//! A host checks its own store in five lines (here with `MemoryStore`; in a
//! test file, `#[tokio::test] async fn my_store_conforms()` in place of `main`):
//!
//! ```
//! use number_manager::store::{conformance, MemoryStore};
//!
//! #[tokio::main]
//! async fn main() {
//!     conformance::run_all(|| async { MemoryStore::new() }).await;
//! }
//! ```
//!
//! Or one check at a time, or one section, on any store (a test harness can
//! make one test per entry of [`CHECKS`], as the crate's own tests do):
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use number_manager::store::conformance::{self, Section};
//! use number_manager::store::MemoryStore;
//! let store = MemoryStore::new();
//! conformance::check("batch_atomic").expect("registered").run(&store).await;
//! for check in conformance::CHECKS.iter().filter(|c| c.section() == Section::Concurrency) {
//!     check.run(&store).await;
//! }
//! # }
//! ```
//!
//! The checks are runtime-agnostic: they spawn nothing, and run their
//! concurrent tasks by polling them together on the caller's task (the store's
//! own I/O may of course run elsewhere). A backend that needs a runtime (the SQL
//! stores need tokio) is driven from inside one by the caller.
//!
//! What the checks assume about the store they get: nothing is stored under the
//! numbers they use. Each check uses its own block of numbers (`+1555CCC....`,
//! `CCC` the check's own index) and its own account ids (`conformance-CCC-...`),
//! and it asserts only about those, so the checks can also share one store, run
//! one after another or at the same time, as long as each runs once. The one
//! exception is `tombstone_purge`: it purges every tombstone the store holds
//! (those of other checks too), so on a shared store run it after the others,
//! not at the same time (it is the last entry of [`CHECKS`], and [`run_all`]
//! runs the entries in order). The `outbox` check acknowledges outbox entries
//! up to its own, so it too must not run at the same time as anything else
//! that writes to the outbox; a store without an outbox (whose outbox
//! methods are the trait's refusing defaults) passes it without checks.
//!
//! This is test-support code: a check that finds the store breaking the
//! contract panics, with a message naming the check and what was expected and
//! found. It is the only module of the library allowed to panic, and it is only
//! built with the `testing` feature.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use super::Store;
use crate::testing::poll::{catch_panic, Task};

pub use port_requests::{run_port_requests, PortCheck, PORT_REQUEST_CHECKS};

mod batches;
mod concurrency;
mod discovery;
mod idempotency;
mod listing;
mod outbox;
mod port_requests;
mod records;
mod support;
mod tombstones;

/// The part of the [`Store`] contract a check is about; each section's checks
/// live in the source file of the same name (`records.rs`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Section {
    /// Single records: insert-if-absent, read back exactly, compare-and-swap
    /// updates and deletes.
    Records,
    /// Batches of writes: per item or atomic, in order, thousands at a time.
    Batches,
    /// Listings: filters, paging, the scan limit, `count`.
    Listing,
    /// Discovery entries: hidden from listings, swept by expiry.
    Discovery,
    /// Idempotency keys: begin, finish, abandon, leases, the journal, purge.
    Idempotency,
    /// Concurrent callers: no lost update, exactly one winner.
    Concurrency,
    /// The outbox: events written with the writes that commit them, read in
    /// `seq` order, acknowledged.
    Outbox,
    /// Revisions across deletion and re-insertion, and purging tombstones.
    Tombstones,
}

impl Section {
    /// Every section, in the order of [`CHECKS`].
    pub const ALL: &'static [Section] = &[
        Section::Records,
        Section::Batches,
        Section::Listing,
        Section::Discovery,
        Section::Idempotency,
        Section::Concurrency,
        Section::Outbox,
        Section::Tombstones,
    ];

    /// The section's name in lower case, as its source file is named
    /// (`records`, `batches`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Section::Records => "records",
            Section::Batches => "batches",
            Section::Listing => "listing",
            Section::Discovery => "discovery",
            Section::Idempotency => "idempotency",
            Section::Concurrency => "concurrency",
            Section::Outbox => "outbox",
            Section::Tombstones => "tombstones",
        }
    }
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How a registered check is called.
type RunCheck = for<'a> fn(&'a dyn Store) -> Task<'a, ()>;

/// One check of the suite: an entry of [`CHECKS`].
#[derive(Clone, Copy)]
pub struct Check {
    name: &'static str,
    section: Section,
    run: RunCheck,
}

impl Check {
    /// The check's name (unique in [`CHECKS`]), e.g. `batch_atomic`.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The part of the contract it checks.
    pub fn section(&self) -> Section {
        self.section
    }

    /// Runs the check on `store`; panics, naming the check, when the store
    /// breaks the contract.
    pub fn run<'a>(&self, store: &'a dyn Store) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        (self.run)(store)
    }
}

impl fmt::Debug for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Check")
            .field("name", &self.name)
            .field("section", &self.section)
            .finish_non_exhaustive()
    }
}

/// The registry: `section: module { check, ... }` becomes one [`Check`] per
/// function, in the order written.
macro_rules! registry {
    ($($section:ident: $module:ident { $($name:ident),* $(,)? })*) => {
        &[$($(Check {
            name: stringify!($name),
            section: Section::$section,
            run: {
                fn run(store: &dyn Store) -> Task<'_, ()> {
                    Box::pin($module::$name(store))
                }
                run
            },
        },)*)*]
    };
}

/// Every check of the suite, by section, in the order [`run_all`] runs them
/// (`tombstone_purge`, which purges every tombstone of the store, last).
pub static CHECKS: &[Check] = registry! {
    Records: records {
        insert_and_get,
        record_round_trip,
        get_many_order_and_missing,
        insert_existing_is_rejected,
        update_compare_and_swap,
        delete_compare_and_swap,
    }
    Batches: batches {
        batch_per_item,
        batch_atomic,
        batch_sees_earlier_writes,
        large_batches,
    }
    Listing: listing {
        list_by_accounts,
        list_filters,
        list_paging,
        list_paging_while_writing,
        list_scan_limit,
    }
    Discovery: discovery { discovery_expiry }
    Idempotency: idempotency {
        idempotency,
        idempotency_purge,
        idempotency_lease,
        idempotency_journal,
    }
    Concurrency: concurrency {
        concurrent_counter,
        concurrent_inserts,
        concurrent_idempotency_begin,
        concurrent_idempotency_takeover,
    }
    Outbox: outbox { outbox }
    Tombstones: tombstones {
        reinsert_never_repeats_revisions,
        reinsert_in_one_batch,
        tombstone_purge,
    }
};

/// The check named `name`, if the registry has it.
pub fn check(name: &str) -> Option<&'static Check> {
    CHECKS.iter().find(|c| c.name == name)
}

/// The names of every check, in the order of [`CHECKS`].
pub fn names() -> impl Iterator<Item = &'static str> {
    CHECKS.iter().map(|c| c.name)
}

/// What a run of the suite found: each check run, with its failure if it
/// failed (the check's panic message).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Report {
    outcomes: Vec<(&'static str, Option<String>)>,
}

impl Report {
    /// The checks that passed, in the order run.
    pub fn passed(&self) -> Vec<&'static str> {
        self.outcomes
            .iter()
            .filter(|(_, f)| f.is_none())
            .map(|(n, _)| *n)
            .collect()
    }

    /// The checks that failed, with what each found, in the order run.
    pub fn failed(&self) -> Vec<(&'static str, &str)> {
        self.outcomes
            .iter()
            .filter_map(|(n, f)| f.as_deref().map(|f| (*n, f)))
            .collect()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, failure) in &self.outcomes {
            match failure {
                None => writeln!(f, "ok      {name}")?,
                Some(why) => writeln!(f, "FAILED  {name}: {why}")?,
            }
        }
        let failed = self.failed().len();
        write!(
            f,
            "{} passed, {failed} failed",
            self.outcomes.len() - failed
        )
    }
}

/// Runs every check of [`CHECKS`], in order, each on a fresh store from
/// `factory`, and returns the report. A failing check does not stop the run:
/// when any failed, this panics at the end with the report, which names every
/// check with `ok` or `FAILED` and what each failed one expected and found.
pub async fn run_all<S, F, Fut>(factory: F) -> Report
where
    S: Store,
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
{
    run(CHECKS, factory).await
}

/// [`run_all`] for some checks only (e.g. one [`Section`]), in the order given.
pub async fn run<'c, S, F, Fut>(
    checks: impl IntoIterator<Item = &'c Check>,
    mut factory: F,
) -> Report
where
    S: Store,
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
{
    let mut report = Report::default();
    for check in checks {
        let store = factory().await;
        let outcome = catch_panic(check.run(&store)).await;
        report.outcomes.push((check.name, outcome.err()));
    }
    if !report.failed().is_empty() {
        panic!("store conformance failed:\n{report}");
    }
    report
}
