//! The [`Carrier`] conformance suite: the trait's promises, checked on any
//! carrier, gated on what it declares in its [`Capabilities`].
//!
//! Every built-in carrier runs it in the crate's tests, and a host (or a crate
//! building an HTTP carrier, against a stub server) runs it on its own. The
//! checks live in one registry, [`CHECKS`]: each entry has a name, the
//! [`Section`] of the contract it is about, the [`Need`]s a carrier must
//! declare for it to apply (a carrier that does not declare `owned_numbers`
//! is never asked for it; a local carrier is not asked to sell a number
//! once), and the check itself. [`run_all`] runs every entry that applies,
//! each on a fresh carrier from an async factory, and reports the others as
//! skipped.
//!
//! ```
//! use std::sync::Arc;
//! use number_manager::carrier::conformance::{self, Fixture};
//! use number_manager::carrier::{Carrier, SimulatedCarrier};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! // Where the carrier offers numbers: at least `MIN_OFFER` under this prefix.
//! let fixture = Fixture::new("+1415", "US");
//! let report = conformance::run_all(&fixture, || async {
//!     Arc::new(SimulatedCarrier::new(7)) as Arc<dyn Carrier>
//! })
//! .await;
//! assert!(report.passed().contains(&"acquire_sells_once"));
//! assert_eq!(report.skipped(), vec!["local_acquire_changes_nothing"]);
//! # });
//! ```
//!
//! What the checks assume of the carrier they get: under `fixture.prefix`, in
//! `fixture.country`, searched for `fixture.account`, it offers at least
//! [`MIN_OFFER`] numbers when the check starts, and nothing but the check
//! changes its offer or its holdings while it runs. Each check gets a fresh
//! carrier; a check that buys a number disconnects it before it ends, so
//! carriers made over one shared backend (one stub server) can run the checks
//! one after another, as long as the backend offers a disconnected number
//! again or has numbers enough. The checks only ever search with E.164
//! prefixes, as the manager does.
//!
//! The checks are runtime-agnostic: they spawn nothing, and run their
//! concurrent calls by polling them together on the caller's task (a carrier
//! doing I/O is driven from inside its runtime by the caller). This is
//! test-support code: a check that finds the carrier breaking its contract
//! panics with a message naming the check and what was expected and found;
//! it is only built with the `testing` feature.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::{Capabilities, Carrier};
use crate::account::AccountId;
use crate::testing::poll::{catch_panic, Task};

mod acquire;
mod check_numbers;
mod concurrency;
mod declarations;
mod disconnect;
mod owned_numbers;
mod search;
mod support;

/// How many numbers the carrier must offer under the fixture's prefix when a
/// check starts.
pub const MIN_OFFER: usize = 8;

/// Where the carrier under test offers numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Fixture {
    /// An E.164 prefix (`+` and digits, e.g. `+1415`) under which the carrier
    /// offers at least [`MIN_OFFER`] numbers.
    pub prefix: String,
    /// The country of the searches (`US`).
    pub country: String,
    /// The account searches and orders are made for (the reserved-numbers
    /// carrier only finds an account's own numbers).
    pub account: Option<AccountId>,
}

impl Fixture {
    /// Searches under `prefix` (E.164) in `country`, for no account.
    pub fn new(prefix: impl Into<String>, country: impl Into<String>) -> Self {
        Fixture {
            prefix: prefix.into(),
            country: country.into(),
            account: None,
        }
    }

    /// Searches and orders for `account`.
    pub fn with_account(mut self, account: AccountId) -> Self {
        self.account = Some(account);
        self
    }
}

/// The part of the [`Carrier`] contract a check is about; each section's
/// checks live in the source file of the same name (`search.rs`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Section {
    /// `name` and `capabilities`: stable declarations.
    Declarations,
    /// `find_numbers`: the prefix, the quantity, the offset, held numbers.
    Search,
    /// `acquire`: a number is sold once; a local carrier changes nothing.
    Acquire,
    /// `disconnect`: gives back, and may be repeated.
    Disconnect,
    /// `owned_numbers`: follows purchases and disconnects.
    OwnedNumbers,
    /// `check_numbers`: follows the offer.
    CheckNumbers,
    /// Calls at once: one buyer wins, searches agree.
    Concurrency,
}

impl Section {
    /// Every section, in the order of [`CHECKS`].
    pub const ALL: &'static [Section] = &[
        Section::Declarations,
        Section::Search,
        Section::Acquire,
        Section::Disconnect,
        Section::OwnedNumbers,
        Section::CheckNumbers,
        Section::Concurrency,
    ];

    /// The section's name in lower case, as its source file is named.
    pub fn name(self) -> &'static str {
        match self {
            Section::Declarations => "declarations",
            Section::Search => "search",
            Section::Acquire => "acquire",
            Section::Disconnect => "disconnect",
            Section::OwnedNumbers => "owned_numbers",
            Section::CheckNumbers => "check_numbers",
            Section::Concurrency => "concurrency",
        }
    }
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a carrier must declare for a check to apply to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Need {
    /// The carrier is local ([`Capabilities::is_local`]): it holds nothing upstream.
    Local,
    /// The carrier is not local: it sells numbers and takes them back.
    Upstream,
    /// [`Capabilities::check_numbers`]: it answers `check_numbers`.
    CheckNumbers,
    /// [`Capabilities::owned_numbers`]: it answers `owned_numbers`.
    OwnedNumbers,
    /// A search can name a whole number: [`Capabilities::maximal_prefix_length`]
    /// is at least 10 (the national digits of a NANP number).
    WholeNumberSearch,
}

impl Need {
    /// Whether a carrier declaring `caps` meets the need.
    pub fn holds(self, caps: &Capabilities) -> bool {
        match self {
            Need::Local => caps.is_local,
            Need::Upstream => !caps.is_local,
            Need::CheckNumbers => caps.check_numbers,
            Need::OwnedNumbers => caps.owned_numbers,
            Need::WholeNumberSearch => caps.maximal_prefix_length >= 10,
        }
    }
}

/// How a registered check is called.
type RunCheck = for<'a> fn(&'a dyn Carrier, &'a Fixture) -> Task<'a, ()>;

/// One check of the suite: an entry of [`CHECKS`].
#[derive(Clone, Copy)]
pub struct Check {
    name: &'static str,
    section: Section,
    needs: &'static [Need],
    run: RunCheck,
}

impl Check {
    /// The check's name (unique in [`CHECKS`]), e.g. `acquire_sells_once`.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The part of the contract it checks.
    pub fn section(&self) -> Section {
        self.section
    }

    /// What a carrier must declare for the check to apply.
    pub fn needs(&self) -> &'static [Need] {
        self.needs
    }

    /// Whether the check applies to a carrier declaring `caps` (it meets
    /// every need).
    pub fn applies_to(&self, caps: &Capabilities) -> bool {
        self.needs.iter().all(|n| n.holds(caps))
    }

    /// Runs the check on `carrier` (whether it applies is the caller's
    /// business: see [`applies_to`](Self::applies_to)); panics, naming the
    /// check, when the carrier breaks its contract.
    pub fn run<'a>(
        &self,
        carrier: &'a dyn Carrier,
        fixture: &'a Fixture,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        (self.run)(carrier, fixture)
    }
}

impl fmt::Debug for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Check")
            .field("name", &self.name)
            .field("section", &self.section)
            .field("needs", &self.needs)
            .finish_non_exhaustive()
    }
}

/// The registry: `section: module { check: [needs], ... }` becomes one
/// [`Check`] per function, in the order written.
macro_rules! registry {
    ($($section:ident: $module:ident { $($name:ident: [$($need:ident),*]),* $(,)? })*) => {
        &[$($(Check {
            name: stringify!($name),
            section: Section::$section,
            needs: &[$(Need::$need),*],
            run: {
                fn run<'a>(carrier: &'a dyn Carrier, fixture: &'a Fixture) -> Task<'a, ()> {
                    Box::pin($module::$name(carrier, fixture))
                }
                run
            },
        },)*)*]
    };
}

/// Every check of the suite, by section, in the order [`run_all`] runs them.
pub static CHECKS: &[Check] = registry! {
    Declarations: declarations {
        declarations_are_stable: [],
    }
    Search: search {
        search_answers_the_prefix: [],
        search_honours_quantity: [],
        search_offset_skips_rows: [],
        search_by_whole_number: [WholeNumberSearch],
        search_for_nothing_is_empty: [WholeNumberSearch],
        search_never_offers_held_numbers: [Upstream, WholeNumberSearch],
    }
    Acquire: acquire {
        acquire_sells_once: [Upstream],
        acquire_refuses_unoffered: [Upstream, WholeNumberSearch],
        local_acquire_changes_nothing: [Local],
    }
    Disconnect: disconnect {
        disconnect_is_repeatable: [],
    }
    OwnedNumbers: owned_numbers {
        owned_numbers_follows_purchases: [Upstream, OwnedNumbers],
        owned_numbers_after_refused_purchases: [Upstream, OwnedNumbers, WholeNumberSearch],
    }
    CheckNumbers: check_numbers {
        check_numbers_follows_offer: [CheckNumbers, WholeNumberSearch],
    }
    Concurrency: concurrency {
        concurrent_acquires_one_wins: [Upstream],
        concurrent_searches_agree: [],
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

/// The checks that apply to a carrier declaring `caps`, in registry order.
pub fn applicable(caps: &Capabilities) -> impl Iterator<Item = &'static Check> + '_ {
    CHECKS.iter().filter(move |c| c.applies_to(caps))
}

/// How one check went.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Passed,
    Skipped,
    Failed(String),
}

/// What a run of the suite found: each check passed, failed (with its panic
/// message) or skipped (the carrier does not declare what it needs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Report {
    carrier: String,
    outcomes: Vec<(&'static str, Outcome)>,
}

impl Report {
    fn names(&self, which: impl Fn(&Outcome) -> bool) -> Vec<&'static str> {
        self.outcomes
            .iter()
            .filter(|(_, o)| which(o))
            .map(|(n, _)| *n)
            .collect()
    }

    /// The checks that passed, in the order run.
    pub fn passed(&self) -> Vec<&'static str> {
        self.names(|o| *o == Outcome::Passed)
    }

    /// The checks skipped because the carrier does not declare their needs.
    pub fn skipped(&self) -> Vec<&'static str> {
        self.names(|o| *o == Outcome::Skipped)
    }

    /// The checks that failed, with what each found.
    pub fn failed(&self) -> Vec<(&'static str, &str)> {
        self.outcomes
            .iter()
            .filter_map(|(n, o)| match o {
                Outcome::Failed(why) => Some((*n, why.as_str())),
                _ => None,
            })
            .collect()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "carrier {:?}:", self.carrier)?;
        for (name, outcome) in &self.outcomes {
            match outcome {
                Outcome::Passed => writeln!(f, "ok      {name}")?,
                Outcome::Skipped => writeln!(f, "skipped {name} (not declared)")?,
                Outcome::Failed(why) => writeln!(f, "FAILED  {name}: {why}")?,
            }
        }
        write!(
            f,
            "{} passed, {} failed, {} skipped",
            self.passed().len(),
            self.failed().len(),
            self.skipped().len()
        )
    }
}

/// Runs every check of [`CHECKS`] that applies, in order, each on a fresh
/// carrier from `factory` (asked for its capabilities before each check), and
/// returns the report. A failing check does not stop the run: when any
/// failed, this panics at the end with the report, which names every check
/// with `ok`, `FAILED` (and what it expected and found) or `skipped`.
pub async fn run_all<F, Fut>(fixture: &Fixture, factory: F) -> Report
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Arc<dyn Carrier>>,
{
    run(CHECKS, fixture, factory).await
}

/// [`run_all`] for some checks only (e.g. one [`Section`]), in the order given.
pub async fn run<'c, F, Fut>(
    checks: impl IntoIterator<Item = &'c Check>,
    fixture: &Fixture,
    mut factory: F,
) -> Report
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Arc<dyn Carrier>>,
{
    let mut report = Report::default();
    for check in checks {
        let carrier = factory().await;
        report.carrier = carrier.name().to_string();
        let outcome = if !check.applies_to(&carrier.capabilities()) {
            Outcome::Skipped
        } else {
            match catch_panic(check.run(carrier.as_ref(), fixture)).await {
                Ok(()) => Outcome::Passed,
                Err(why) => Outcome::Failed(why),
            }
        };
        report.outcomes.push((check.name, outcome));
    }
    if !report.failed().is_empty() {
        panic!("carrier conformance failed:\n{report}");
    }
    report
}
