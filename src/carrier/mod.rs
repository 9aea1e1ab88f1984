//! Carriers: where numbers come from and go back to.
//!
//! A [`Carrier`] searches for numbers, acquires (buys) and disconnects them, and
//! may check availability. It declares what it can do in [`Capabilities`]
//! rather than the manager guessing. [`CarrierRegistry`] holds the configured
//! carriers by name.
//!
//! Real carriers speak HTTP through the [`HttpClient`] seam: the Telnyx
//! (feature `telnyx`), Twilio (feature `twilio`) and Bandwidth (feature
//! `bandwidth`) adapters take an
//! `Arc<dyn HttpClient>`, their credentials and a base URL; a `reqwest`
//! client ships behind feature `reqwest`.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::account::AccountId;
use crate::error::{Error, Result, UnspecifiedKind};
use crate::number::PhoneNumber;
use crate::state::NumberState;

#[cfg(feature = "bandwidth")]
mod bandwidth;
mod builtin;
#[cfg(feature = "testing")]
pub mod conformance;
mod http;
#[cfg(feature = "reqwest")]
mod reqwest_client;
mod simulated;
#[cfg(feature = "telnyx")]
mod telnyx;
#[cfg(feature = "twilio")]
mod twilio;
#[cfg(any(feature = "telnyx", feature = "twilio", feature = "bandwidth"))]
mod upstream;
#[cfg(feature = "bandwidth")]
mod xml;

#[cfg(feature = "bandwidth")]
pub use bandwidth::{BandwidthCarrier, BANDWIDTH_API};
pub use builtin::{InventoryCarrier, LocalCarrier, ReservedCarrier};
pub use http::{HttpClient, HttpError, HttpRequest, HttpResponse, Method};
#[cfg(feature = "reqwest")]
pub use reqwest_client::{ReqwestClient, DEFAULT_CONNECT_TIMEOUT, DEFAULT_REQUEST_TIMEOUT};
pub use simulated::{Disconnect, Fault, Purchase, SimulatedCarrier};
#[cfg(feature = "telnyx")]
pub use telnyx::{TelnyxCarrier, TELNYX_API};
#[cfg(feature = "twilio")]
pub use twilio::{TwilioCarrier, TWILIO_API};

/// What a carrier can do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Capabilities {
    /// The carrier holds nothing upstream: its numbers live in this system
    /// and it makes no external calls. Whether a *number* is local (deleted on
    /// release, denied external features by default) is decided by its
    /// module's name alone; see [`is_local_module`].
    pub is_local: bool,
    /// `check_numbers` is implemented.
    pub check_numbers: bool,
    /// `owned_numbers` is implemented: the carrier can tell which numbers
    /// this system holds, so an interrupted purchase can be settled for sure.
    pub owned_numbers: bool,
    /// The longest search prefix the carrier honours (digits after the country
    /// code). A search by a whole number works when its national digits fit.
    pub maximal_prefix_length: usize,
    /// Numbers from this carrier cost money.
    pub billable: bool,
    /// Whether inbound CNAM lookups should be done for its numbers.
    pub should_lookup_cnam: bool,
}

impl Default for Capabilities {
    fn default() -> Self {
        Capabilities {
            is_local: false,
            check_numbers: false,
            owned_numbers: false,
            maximal_prefix_length: 15,
            billable: true,
            should_lookup_cnam: true,
        }
    }
}

crate::util::with_setters!(Capabilities {
    /// Sets [`Capabilities::is_local`].
    with_is_local => is_local: bool;
    /// Sets [`Capabilities::check_numbers`].
    with_check_numbers => check_numbers: bool;
    /// Sets [`Capabilities::owned_numbers`].
    with_owned_numbers => owned_numbers: bool;
    /// Sets [`Capabilities::maximal_prefix_length`].
    with_maximal_prefix_length => maximal_prefix_length: usize;
    /// Sets [`Capabilities::billable`].
    with_billable => billable: bool;
    /// Sets [`Capabilities::should_lookup_cnam`].
    with_should_lookup_cnam => should_lookup_cnam: bool;
});

/// A search request as the carrier sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SearchRequest {
    /// The E.164 prefix to search (`+` and digits), e.g. `+1415`; the
    /// manager always asks in this form.
    pub prefix: String,
    /// How many results at most (`0` asks for none).
    pub quantity: usize,
    /// Rows of the carrier's own result list to skip (the manager asks with
    /// `0` and pages through the merged results of every carrier itself).
    pub offset: usize,
    /// ISO 3166 alpha-2 country (`US`).
    pub country: String,
    /// The searching account, if any.
    pub account: Option<AccountId>,
}

impl SearchRequest {
    /// A US search for the E.164 `prefix`, the first `quantity` results.
    pub fn new(prefix: impl Into<String>, quantity: usize) -> Self {
        SearchRequest {
            prefix: prefix.into(),
            quantity,
            offset: 0,
            country: "US".into(),
            account: None,
        }
    }
}

crate::util::with_setters!(SearchRequest {
    /// Sets [`SearchRequest::offset`].
    with_offset => offset: usize;
    /// Sets [`SearchRequest::country`].
    with_country => country: impl Into<String> as into;
    /// Sets the searching account ([`SearchRequest::account`]).
    with_account => account: AccountId as some;
});

/// One number a carrier offers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SearchResult {
    /// The number.
    pub number: PhoneNumber,
    /// `discovery` for numbers to buy (every result of a carrier that is not
    /// [`is_local`](Capabilities::is_local)), `available`/`reserved` for ones
    /// already in the system (every result of a local carrier).
    pub state: NumberState,
    /// Carrier data; Kazoo's rich fields (`formatted_number`, `npa_nxx`,
    /// `number_id`, `rate_center`, `status`, `ten_digit`, ...). The `e164`
    /// and `number` fields, when present, are the result's number in E.164.
    pub data: Map<String, Value>,
}

impl SearchResult {
    /// A result with no carrier data.
    pub fn new(number: PhoneNumber, state: NumberState) -> Self {
        SearchResult {
            number,
            state,
            data: Map::new(),
        }
    }
}

crate::util::with_setters!(SearchResult {
    /// Sets the carrier data ([`SearchResult::data`]).
    with_data => data: Map<String, Value>;
});

/// What the carrier needs to buy or release one number.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct NumberOrder {
    /// The number.
    pub number: PhoneNumber,
    /// The account it is bought for (or released from).
    pub account: Option<AccountId>,
    /// Carrier data remembered from the search (or the previous order).
    pub carrier_data: Map<String, Value>,
}

impl NumberOrder {
    /// An order for `number`, for no account, with no carrier data.
    pub fn new(number: PhoneNumber) -> Self {
        NumberOrder {
            number,
            account: None,
            carrier_data: Map::new(),
        }
    }
}

crate::util::with_setters!(NumberOrder {
    /// Sets the account ([`NumberOrder::account`]).
    with_account => account: AccountId as some;
    /// Sets the carrier data ([`NumberOrder::carrier_data`]).
    with_carrier_data => carrier_data: Map<String, Value>;
});

/// Availability according to `check_numbers`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Availability {
    /// Can be bought (`"success"` in the API).
    Success,
    /// Cannot (`"error"` in the API).
    Error,
}

impl Availability {
    /// The API's string.
    pub fn as_str(self) -> &'static str {
        match self {
            Availability::Success => "success",
            Availability::Error => "error",
        }
    }
}

/// Whether this system holds a number at its carrier, per `owned_numbers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ownership {
    /// Bought and not disconnected, with the carrier data of the order (what
    /// `acquire` would have returned, e.g. an order id).
    Ours {
        /// The order's carrier data.
        carrier_data: Map<String, Value>,
    },
    /// Not held by this system.
    NotOurs,
}

/// What a carrier says about itself when asked [`Carrier::health`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status", content = "reason")]
#[non_exhaustive]
pub enum CarrierHealth {
    /// It can take calls.
    Up,
    /// It cannot take calls now, and why (a message safe to show an operator:
    /// no secret).
    Down(String),
    /// It does not tell (the default of [`Carrier::health`]).
    Unknown,
}

/// A source of phone numbers.
///
/// Contract: `acquire` either buys the number and returns the carrier data to
/// remember, or fails and has bought nothing; `disconnect` likewise. A failing
/// carrier never leaves a number half moved: the manager writes nothing when
/// `acquire` fails.
///
/// A number is *held* by this system from a successful `acquire` until a
/// successful `disconnect`, and *on offer* when a search may return it. Each
/// method below states what it promises; the carrier conformance suite
/// (`carrier::conformance`, feature `testing`) checks every promise a carrier
/// declares in its [`Capabilities`], and errors are typed as each method says
/// (a fault of the carrier is [`Error::ByCarrier`], or [`Error::Unspecified`]
/// with message `timeout` when it did not answer in time).
///
/// A *local* carrier ([`Capabilities::is_local`]) holds nothing upstream: its
/// numbers are already in the system, `acquire` answers the order's carrier
/// data unchanged and `disconnect` succeeds, for any number, changing nothing.
///
/// # Errors, and what the manager does with them
///
/// Which error to answer:
/// - **outcome unknown** (the request may have been carried out upstream but
///   its answer was lost: a timeout after the request was sent, a connection
///   dropped before the answer): [`Error::timeout`]`(number)`, that is
///   [`Error::Unspecified`] of kind [`UnspecifiedKind::Timeout`] (message
///   `timeout`, cause the number). Never a definite refusal then. A call that
///   outlasts `Config::carrier_timeout` is treated the same: the manager
///   stops waiting and answers `timeout`;
/// - the carrier will not sell the number (held already, not on offer):
///   [`UnspecifiedKind::NumberNotAvailable`], cause the number;
/// - the carrier failed or answered a failure: [`Error::ByCarrier`] with a
///   [`CarrierFault`](crate::CarrierFault) (`Unavailable` for a transport
///   failure or a 5xx, which is retryable; `Refused`; `Malformed`), or a named
///   [`UnspecifiedKind`] (`RateLimited`, `CarrierAuthenticationFailed`).
///
/// The manager does not retry a failed carrier call, and never records the
/// change a failed call was for. Each number of a batch is answered on its
/// own: an error fails only the numbers it is about, and
/// [`Error::is_retryable`] tells the caller whether sending the same request
/// again may succeed. Before a purchase or a removal calls the carrier, the
/// number's record is *claimed* (other operations on it answer
/// [`ConflictKind::Claimed`](crate::ConflictKind::Claimed)); after the call,
/// the claim is lifted, or kept when the call may still have gone through:
///
/// | call | answer | what the manager does |
/// |---|---|---|
/// | `find_numbers` | an error, or none within `Config::search_timeout` | drops that carrier's results; the search answers with the other carriers' (no results when every carrier fails) |
/// | `acquire` | `Ok(data)` | merges `data` into the record's carrier data and writes the record; if the write is refused or surely did not happen, gives the number back with `disconnect` (a store that cannot tell leaves the claim) |
/// | `acquire` | none within `Config::carrier_timeout` | fails the number with `timeout` and keeps the claim |
/// | `acquire` | an error, carrier with `owned_numbers` | asks `owned_numbers`: [`Ownership::NotOurs`] lifts the claim; `Ours` or no clear answer keeps it; either way the number fails with the carrier's error |
/// | `acquire` | an error, carrier without `owned_numbers` | trusts that nothing was bought: lifts the claim; the number fails with the error |
/// | `disconnect` (release, delete) | `Ok(())` | writes the record |
/// | `disconnect` | an error or none in time, and `owned_numbers` answers [`Ownership::NotOurs`] | takes it as done (the answer was lost) and writes the record |
/// | `disconnect` | otherwise, `timeout` (the carrier's or the manager's) | fails the number with `timeout` and keeps the claim |
/// | `disconnect` | otherwise, any other error | lifts the claim; the number fails with the error, its record unchanged |
/// | `disconnect`, giving back a purchase whose record could not be written | an error | emits an `undo_purchase_failed` event and keeps the claim |
/// | `check_numbers` | an error | counts as "not confirmed" for the numbers asked (`error`, unless another carrier confirms them) |
/// | `owned_numbers` | an error, none in time, a number left out | counts as "cannot tell" |
///
/// A kept claim lapses after `Config::claim_ttl`. The next operation on the
/// number, or maintenance (`fix`, `purge_expired`), then asks the carrier
/// what became of the call:
/// - an interrupted purchase: `owned_numbers` says for sure (ours: the next
///   buyer gets the number without a second purchase, and maintenance gives
///   it back; not ours: the number is free; no answer:
///   [`ConflictKind::PurchaseUncertain`](crate::ConflictKind::PurchaseUncertain),
///   retryable). Without it, `check_numbers` showing the number on offer frees
///   it, and anything else is
///   [`ConflictKind::PurchaseNoLongerOffered`](crate::ConflictKind::PurchaseNoLongerOffered).
///   A carrier with neither is trusted to refuse a number it already sold,
///   with `number_not_available`;
/// - an interrupted removal: `owned_numbers` answering not ours finishes the
///   removal, ours only lifts the claim, no answer is
///   [`ConflictKind::RemovalUncertain`](crate::ConflictKind::RemovalUncertain);
///   a carrier without it is trusted to have done nothing.
///
/// This is why disconnecting a number this system does not hold must
/// succeed: a retry after a lost answer, maintenance giving a purchase back
/// again after the first give-back's answer was lost, or a release whose
/// write lost a race to another writer (it runs again from a fresh read)
/// disconnects a number the carrier may already have let go.
///
/// # Example
///
/// A carrier selling from a fixed list (no `check_numbers`, no
/// `owned_numbers`), plugged into a manager:
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use std::collections::BTreeSet;
/// use std::sync::{Arc, Mutex};
///
/// use serde_json::{Map, Value};
/// use number_manager::account::MemoryAccounts;
/// use number_manager::carrier::{
///     Capabilities, Carrier, CarrierRegistry, NumberOrder, SearchRequest, SearchResult,
/// };
/// use number_manager::manager::SearchQuery;
/// use number_manager::state::NumberState;
/// use number_manager::{async_trait, Error, NumberManager, Options, PhoneNumber, Result};
/// use number_manager::UnspecifiedKind;
///
/// #[derive(Debug, Default)]
/// struct Stock {
///     offer: BTreeSet<PhoneNumber>,
///     held: BTreeSet<PhoneNumber>,
/// }
///
/// #[derive(Debug, Default)]
/// struct ListCarrier(Mutex<Stock>);
///
/// impl ListCarrier {
///     fn stock(&self) -> std::sync::MutexGuard<'_, Stock> {
///         self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
///     }
/// }
///
/// #[async_trait]
/// impl Carrier for ListCarrier {
///     fn name(&self) -> &str {
///         "list"
///     }
///
///     fn capabilities(&self) -> Capabilities {
///         Capabilities::default()
///     }
///
///     async fn find_numbers(&self, request: &SearchRequest) -> Result<Vec<SearchResult>> {
///         let stock = self.stock();
///         let matching = stock.offer.iter().filter(|n| n.as_str().starts_with(&request.prefix));
///         Ok(matching
///             .skip(request.offset)
///             .take(request.quantity)
///             .map(|n| SearchResult::new(*n, NumberState::Discovery))
///             .collect())
///     }
///
///     async fn acquire(&self, order: &NumberOrder) -> Result<Map<String, Value>> {
///         let mut stock = self.stock();
///         // Sold once: a number held or never offered is not available.
///         if !stock.offer.remove(&order.number) {
///             let number = order.number.to_string();
///             return Err(Error::unspecified(UnspecifiedKind::NumberNotAvailable, number));
///         }
///         stock.held.insert(order.number);
///         let mut data = Map::new();
///         data.insert("order_id".into(), format!("order-{}", order.number).into());
///         Ok(data)
///     }
///
///     async fn disconnect(&self, order: &NumberOrder) -> Result<()> {
///         // A number not held (a retry after a lost answer) succeeds too.
///         let mut stock = self.stock();
///         if stock.held.remove(&order.number) {
///             stock.offer.insert(order.number);
///         }
///         Ok(())
///     }
/// }
///
/// let carrier = Arc::new(ListCarrier::default());
/// for n in ["+14155550100", "+14155550101", "+12125550100"] {
///     carrier.stock().offer.insert(PhoneNumber::parse(n)?);
/// }
/// let accounts = Arc::new(MemoryAccounts::new());
/// let master = accounts.add("master", "Master", None)?;
/// accounts.set_master(&master, true);
/// let customer = accounts.add("customer", "Customer", Some(&master))?;
/// let manager = NumberManager::builder()
///     .accounts(accounts)
///     .carriers(CarrierRegistry::new().with(carrier.clone()))
///     .build();
///
/// let hits = manager.search(&SearchQuery::new("415", 5), &Options::system()).await?;
/// let found: Vec<&str> = hits.iter().map(|h| h.number.as_str()).collect();
/// assert_eq!(found, ["+14155550100", "+14155550101"]);
/// assert!(hits.iter().all(|h| h.carrier == "list"));
///
/// let me = Options::as_account(&customer);
/// let bought = manager.activate(&customer, "+14155550100", Default::default(), &me).await?;
/// assert_eq!(bought.record.state, NumberState::InService);
/// assert_eq!(bought.record.carrier, "list");
/// assert_eq!(bought.record.carrier_data["order_id"], "order-+14155550100");
/// assert!(carrier.stock().held.contains(&bought.record.number));
/// let hits = manager.search(&SearchQuery::new("415", 5), &Options::system()).await?;
/// assert_eq!(hits.len(), 1, "a number sold is no longer on offer");
/// # Ok::<(), Error>(())
/// # }).unwrap();
/// ```
#[async_trait]
pub trait Carrier: Send + Sync + std::fmt::Debug {
    /// The module name stored on numbers (`local`, `simulated`, `bandwidth2`,
    /// ...): not empty, and the same on every call.
    fn name(&self) -> &str;

    /// What the carrier can do: the same on every call.
    fn capabilities(&self) -> Capabilities;

    /// Numbers on offer whose E.164 form starts with `request.prefix`.
    ///
    /// - At most `request.quantity` results, and fewer only when no more
    ///   numbers match (so `0` answers none, and a search for a whole number
    ///   answers that number when it is on offer);
    /// - no number twice, each in the state [`SearchResult::state`] says;
    /// - in the carrier's own order, which stays the same while its offer does
    ///   not change, with the first `request.offset` rows of it skipped: the
    ///   same request then gets the same answer, and the answer at offset `k`
    ///   is the answer at offset `0` from its `k`-th row on;
    /// - a number this system holds is not on offer at a carrier that is not
    ///   local (a real carrier does not sell what it already sold us);
    /// - nothing on offer is an empty answer, not an error;
    /// - a search buys nothing and holds nothing.
    async fn find_numbers(&self, request: &SearchRequest) -> Result<Vec<SearchResult>>;

    /// Buys a number; returns the carrier data to store (merged over the search data).
    ///
    /// A carrier that is not local sells a number once: an `acquire` of a
    /// number this system already holds, or of one the carrier does not offer,
    /// fails with [`Error::Unspecified`] whose message is `number_not_available`
    /// and whose cause is the number, and changes nothing. Of several acquires
    /// of one number at once, exactly one succeeds (when the number was on
    /// offer); the others fail so. A retry after a lost answer is therefore
    /// refused too: the manager settles that case with
    /// [`owned_numbers`](Carrier::owned_numbers) where the carrier has it.
    async fn acquire(&self, order: &NumberOrder) -> Result<Map<String, Value>>;

    /// Releases a number upstream: afterwards this system no longer holds it.
    ///
    /// Disconnecting a number this system does not hold (never bought, or
    /// already disconnected: a retry after a lost answer) succeeds. Whether a
    /// disconnected number is on offer again is the carrier's business.
    async fn disconnect(&self, order: &NumberOrder) -> Result<()>;

    /// Availability of numbers; only called when `capabilities().check_numbers`.
    ///
    /// One answer per distinct number asked (an empty question gets an empty
    /// answer): [`Availability::Success`] for a number on offer,
    /// [`Availability::Error`] for one that is not (never offered, or held by
    /// this system).
    async fn check_numbers(
        &self,
        numbers: &[PhoneNumber],
    ) -> Result<BTreeMap<PhoneNumber, Availability>> {
        let _ = numbers;
        Err(not_implemented(self.name()))
    }

    /// Which of `numbers` this system holds at the carrier now (bought and
    /// not disconnected); only called when `capabilities().owned_numbers`.
    ///
    /// The manager asks it to settle a purchase that was interrupted before
    /// its record was written (the call timed out, or the process making it
    /// died): a number that is ours is handed to the next buyer without a
    /// second purchase, or given back by maintenance (`fix`,
    /// `purge_expired`); one that is not is free to buy. A number missing from
    /// the answer counts as "cannot tell", and so does an error: the claim
    /// then stays, as with a carrier that cannot answer at all.
    ///
    /// A carrier that has it answers every distinct number asked, once (an
    /// empty question gets an empty answer): [`Ownership::Ours`] from a
    /// successful `acquire` until a successful `disconnect`, with carrier data
    /// whose every field has the value `acquire` returned for it, and
    /// [`Ownership::NotOurs`] otherwise (a refused `acquire` holds nothing).
    async fn owned_numbers(
        &self,
        numbers: &[PhoneNumber],
    ) -> Result<BTreeMap<PhoneNumber, Ownership>> {
        let _ = numbers;
        Err(not_implemented(self.name()))
    }

    /// Whether the carrier can take calls now, for a host's readiness check.
    ///
    /// Cheap, and free of effects on numbers: it searches, buys and holds
    /// nothing. The manager never calls it; a host that does sets its own
    /// time limit. The default answers [`CarrierHealth::Unknown`].
    async fn health(&self) -> CarrierHealth {
        CarrierHealth::Unknown
    }
}

/// What an optional carrier call answers when the carrier does not have it.
fn not_implemented(carrier: &str) -> Error {
    Error::unspecified(UnspecifiedKind::NotImplemented, carrier)
}

/// The configured carriers, by name, in search order.
///
/// ```
/// use std::sync::Arc;
/// use number_manager::carrier::{CarrierRegistry, SimulatedCarrier};
/// let registry = CarrierRegistry::new().with(Arc::new(SimulatedCarrier::new(7)));
/// assert!(registry.get("simulated").is_some());
/// ```
#[derive(Debug, Clone, Default)]
pub struct CarrierRegistry {
    carriers: Vec<Arc<dyn Carrier>>,
    default_module: Option<String>,
    // Kept in step with `carriers` by `with`, so the save path (features are
    // recomputed for every number) borrows them instead of rebuilding them.
    names: Vec<String>,
}

impl CarrierRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a carrier (a later one with the same name replaces the earlier).
    pub fn with(mut self, carrier: Arc<dyn Carrier>) -> Self {
        self.carriers.retain(|c| c.name() != carrier.name());
        self.carriers.push(carrier);
        self.names = self.carriers.iter().map(|c| c.name().to_string()).collect();
        self
    }

    /// Sets the module stored on numbers created directly (default `local`).
    pub fn with_default_module(mut self, name: impl Into<String>) -> Self {
        self.default_module = Some(name.into());
        self
    }

    /// The same registry with every carrier replaced by `f` of it (a wrapper
    /// that keeps its name and capabilities).
    pub(crate) fn map(mut self, f: impl Fn(Arc<dyn Carrier>) -> Arc<dyn Carrier>) -> Self {
        self.carriers = self.carriers.into_iter().map(f).collect();
        self
    }

    /// The module for numbers created directly.
    pub fn default_module(&self) -> &str {
        self.default_module.as_deref().unwrap_or("local")
    }

    /// A carrier by name.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn Carrier>> {
        self.carriers.iter().find(|c| c.name() == name)
    }

    /// Every carrier, in search order.
    pub fn all(&self) -> &[Arc<dyn Carrier>] {
        &self.carriers
    }

    /// Names of every carrier, in search order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Whether numbers of module `name` are local: [`is_local_module`],
    /// whether or not this registry knows the module.
    pub fn is_local(&self, name: &str) -> bool {
        is_local_module(name)
    }
}

// Which modules are local is a fact about a record's module name, so it is
// defined with the record (below the features that ask it) and named here too.
pub use crate::record::{is_local_module, LOCAL_MODULES};
