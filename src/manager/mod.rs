//! [`NumberManager`]: the typed operations, single and collection.
//!
//! Every operation runs the same pipeline over a batch (a single-number call is
//! a batch of one): parse, read from the store in one call, gather the actor's
//! facts, plan each number (pure), validate features and E911, claim numbers
//! that need a purchase, call carriers and the E911 provider, write back with
//! compare-and-swap in one batch, emit events. A number that fails a step drops
//! out with its error; the others go on.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::account::{AccountId, Accounts, Actor, MemoryAccounts};
use crate::carrier::CarrierRegistry;
use crate::classify::Classifiers;
use crate::clock::{Clock, SystemClock};
use crate::e911::E911Provider;
use crate::error::{Error, Result};
use crate::events::{AuditLog, EventSink};
use crate::features::FeatureConfig;
use crate::lifecycle::Plan;
use crate::limits::Limits;
use crate::locality::Locality;
use crate::number::{Normalizer, PhoneNumber};
use crate::porting::{AttachmentStore, PortRequestStore};
use crate::record::NumberRecord;
use crate::state::StateConfig;
use crate::store::{MemoryStore, Store};

mod account_ops;
mod idempotent;
mod ops;
mod outboxed;
mod pipeline;
mod port_edit;
mod port_ops;
mod typed_ops;

pub use account_ops::{
    CarriersInfo, FixReport, ListOptions, Listing, PurgeReport, SearchHit, SearchQuery,
};
pub use ops::{Identify, PublicChange};
pub use port_edit::{PortRequestEdit, PortingNumber};
pub use port_ops::{NewPortRequest, PortTransition, PortTransitionRequest};
pub use typed_ops::{E911Outcome, E911Results};

/// Tunables (Kazoo's configuration plus this crate's own).
///
/// Reads from any serde format (TOML, JSON, ...): a missing field, or a
/// missing section, keeps its default, and a key this struct does not know is
/// an error naming it. Durations are written as text (`"30s"`, `"10m"`,
/// `"24h"`, `"90d"`, `"1h30m"`) or as whole seconds; see
/// [`duration`](crate::duration).
///
/// ```
/// use std::time::Duration;
/// use number_manager::Config;
///
/// let config: Config = serde_json::from_value(serde_json::json!({
///     "claim_ttl": "10m",
///     "search_timeout": 3,
///     "state": {"should_age": true},
///     "limits": {"max_numbers": 200},
/// })).unwrap();
/// assert_eq!(config.claim_ttl, Duration::from_secs(600));
/// assert_eq!(config.search_timeout, Duration::from_secs(3));
/// assert!(config.state.should_age);
/// assert_eq!(config.limits.max_numbers, 200);
/// assert_eq!(config.discovery_ttl, Config::default().discovery_ttl);
///
/// let err = serde_json::from_value::<Config>(serde_json::json!({"claim_tll": "1m"})).unwrap_err();
/// assert!(err.to_string().contains("unknown field `claim_tll`"));
///
/// // In code: the defaults, then a `with_*` setter per field to change.
/// let config = Config::default().with_claim_ttl(Duration::from_secs(600));
/// assert_eq!(config.claim_ttl, Duration::from_secs(600));
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// State machine settings (`released_state`, `should_age`, `should_permanently_delete`).
    pub state: StateConfig,
    /// Feature allow/deny configuration (`system.allow`, `system.deny`,
    /// `local_feature_override`).
    #[serde(with = "crate::features::FeatureConfigDef")]
    pub features: FeatureConfig,
    /// Input limits: numbers per call, body size, nesting, public-field sizes.
    pub limits: Limits,
    /// Largest search quantity (default 500).
    pub max_search_quantity: usize,
    /// How long a search result may be bought (default 24 h).
    #[serde(with = "crate::duration")]
    pub discovery_ttl: Duration,
    /// How long each carrier may take to answer a search (default 5 s).
    #[serde(with = "crate::duration")]
    pub search_timeout: Duration,
    /// How often a lost compare-and-swap race is retried from a fresh read (default 5).
    pub cas_retries: u32,
    /// How long a purchase claim blocks other writers if its holder dies (default
    /// 5 min). Keep it well above `carrier_timeout`, so no other instance can take
    /// over a number while a purchase of it may still be in flight. A pending
    /// idempotency key is leased for this and half of it again (renewed while
    /// its request runs), so a retry after a crash takes the key over only once
    /// the dead attempt's claims have lapsed.
    #[serde(with = "crate::duration")]
    pub claim_ttl: Duration,
    /// How long one carrier purchase or disconnect may take (default 60 s). A
    /// purchase that times out keeps its claim, since it may still complete.
    #[serde(with = "crate::duration")]
    pub carrier_timeout: Duration,
    /// How long idempotency keys are remembered (default 24 h).
    #[serde(with = "crate::duration")]
    pub idempotency_ttl: Duration,
    /// How long the store keeps the tombstone of a deleted number (default
    /// 24 h): [`NumberManager::purge_expired`] calls [`Store::purge_tombstones`]
    /// with `now - tombstone_horizon`. A tombstone keeps a re-inserted number
    /// from reusing a revision that a writer read before the delete, so keep
    /// this well above the longest operation (`claim_ttl`, `carrier_timeout`).
    ///
    /// `now` is this manager's clock, while the stores stamp deletions with the
    /// wall clock (`Utc::now()`): with a [`ManualClock`](crate::clock::ManualClock)
    /// far from real time (tests), the cutoff is as far off.
    #[serde(with = "crate::duration")]
    pub tombstone_horizon: Duration,
    /// How long a number stays `aging` before the sweep makes it `available` (default 90 days).
    #[serde(with = "crate::duration")]
    pub aging_period: Duration,
    /// Default listing page size (default 50).
    pub page_size: usize,
    /// How many stored records one listing page may examine at most (default
    /// 5,000; never less than the page size). A filter that matches few numbers then costs a bounded amount
    /// of work per request: the page holds what matched among those records
    /// (possibly nothing) and its `next_start_key` says where to continue.
    pub list_scan_budget: usize,
    /// Carrier module for ported-in numbers (default `local`).
    pub port_in_module: String,
    /// Port requests: who the port authority is, and which moves are allowed.
    pub porting: PortingConfig,
}

/// Port request settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct PortingConfig {
    /// The port authority per reseller: a request's authority is the one its
    /// account, or its nearest ancestor, names here, else master. The
    /// authority (and master) makes every move but submitting.
    pub authorities: BTreeMap<AccountId, AccountId>,
    /// Whether a `submitted` request may be `scheduled` at once, without
    /// going through `pending` (default false).
    pub schedule_from_submitted: bool,
}

const HOUR: u64 = 3_600;

impl Default for Config {
    fn default() -> Self {
        Config {
            state: StateConfig::default(),
            features: FeatureConfig::default(),
            limits: Limits::default(),
            max_search_quantity: 500,
            discovery_ttl: Duration::from_secs(24 * HOUR),
            search_timeout: Duration::from_secs(5),
            cas_retries: 5,
            claim_ttl: Duration::from_secs(5 * 60),
            carrier_timeout: Duration::from_secs(60),
            idempotency_ttl: Duration::from_secs(24 * HOUR),
            tombstone_horizon: Duration::from_secs(24 * HOUR),
            aging_period: Duration::from_secs(90 * 24 * HOUR),
            page_size: 50,
            list_scan_budget: 5_000,
            port_in_module: "local".into(),
            porting: PortingConfig::default(),
        }
    }
}

crate::util::with_setters!(Config {
    /// Sets [`Config::state`].
    with_state => state: StateConfig;
    /// Sets [`Config::features`].
    with_features => features: FeatureConfig;
    /// Sets [`Config::limits`].
    with_limits => limits: Limits;
    /// Sets [`Config::max_search_quantity`].
    with_max_search_quantity => max_search_quantity: usize;
    /// Sets [`Config::discovery_ttl`].
    with_discovery_ttl => discovery_ttl: Duration;
    /// Sets [`Config::search_timeout`].
    with_search_timeout => search_timeout: Duration;
    /// Sets [`Config::cas_retries`].
    with_cas_retries => cas_retries: u32;
    /// Sets [`Config::claim_ttl`].
    with_claim_ttl => claim_ttl: Duration;
    /// Sets [`Config::carrier_timeout`].
    with_carrier_timeout => carrier_timeout: Duration;
    /// Sets [`Config::idempotency_ttl`].
    with_idempotency_ttl => idempotency_ttl: Duration;
    /// Sets [`Config::tombstone_horizon`].
    with_tombstone_horizon => tombstone_horizon: Duration;
    /// Sets [`Config::aging_period`].
    with_aging_period => aging_period: Duration;
    /// Sets [`Config::page_size`].
    with_page_size => page_size: usize;
    /// Sets [`Config::list_scan_budget`].
    with_list_scan_budget => list_scan_budget: usize;
    /// Sets [`Config::port_in_module`].
    with_port_in_module => port_in_module: impl Into<String> as into;
});

/// Per-call options: who acts, and how.
///
/// Start from [`Options::system`] or [`Options::as_account`] and add the rest
/// with the `with_*` setters; the fields stay readable.
///
/// ```
/// use number_manager::{account::AccountId, Options};
/// let me = AccountId::new("acme").unwrap();
/// let opts = Options::as_account(&me)
///     .with_dry_run(true)
///     .with_idempotency_key("order-17")
///     .with_request_id("req-1");
/// assert!(opts.dry_run);
/// assert_eq!(opts.idempotency_key.as_deref(), Some("order-17"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// Who performs the operation.
    pub auth_by: Actor,
    /// Plan only: no store write, no carrier purchase or disconnect, no E911
    /// provisioning or removal. Address validation still runs.
    pub dry_run: bool,
    /// Repeat-safe key: the same key and input returns the first result.
    pub idempotency_key: Option<String>,
    /// The caller's request id (the API passes its `X-Request-Id`), copied into
    /// every [`Event`](crate::events::Event) the operation emits so a host can
    /// correlate its logs with the audit trail. It never changes what the
    /// operation does, nor an idempotent request's fingerprint.
    pub request_id: Option<String>,
    /// Create the numbers as ported in elsewhere (master and the system
    /// only; anyone else is `forbidden`): they are created `in_service` (in
    /// whatever state was asked, except `port_in`), marked ported in, with the
    /// port-in carrier module (`Config::port_in_module`). Only creations
    /// read it.
    pub ported_in: bool,
    /// Write MDN numbers (carrier module `mdn`, mobile numbers created for
    /// devices). A write of an MDN number needs it and a write of any other
    /// number must not have it, unless the actor is the system; both are
    /// `forbidden`. Numbers created with it are MDN numbers, `in_service`.
    pub mdn_run: bool,
}

impl Options {
    /// Options for `actor`, with nothing else set.
    pub fn new(actor: Actor) -> Self {
        Options {
            auth_by: actor,
            dry_run: false,
            idempotency_key: None,
            request_id: None,
            ported_in: false,
            mdn_run: false,
        }
    }

    /// Options for the system actor (every check passes).
    pub fn system() -> Self {
        Options::new(Actor::System)
    }

    /// Options for an account.
    pub fn as_account(account: &crate::account::AccountId) -> Self {
        Options::new(Actor::Account(account.clone()))
    }

    /// Turns on dry run: shorthand for [`with_dry_run(true)`](Options::with_dry_run).
    #[must_use]
    pub fn dry_run(self) -> Self {
        self.with_dry_run(true)
    }

    /// Sets an idempotency key: shorthand for
    /// [`with_idempotency_key`](Options::with_idempotency_key).
    #[must_use]
    pub fn idempotency_key(self, key: impl Into<String>) -> Self {
        self.with_idempotency_key(key)
    }
}

crate::util::with_setters!(Options {
    /// Sets who performs the operation ([`Options::auth_by`]).
    with_auth_by => auth_by: Actor;
    /// Sets [`Options::dry_run`].
    with_dry_run => dry_run: bool;
    /// Sets the idempotency key ([`Options::idempotency_key`]).
    with_idempotency_key => idempotency_key: impl Into<String> as some_into;
    /// Sets the request id carried into the operation's events ([`Options::request_id`]).
    with_request_id => request_id: impl Into<String> as some_into;
    /// Sets [`Options::ported_in`]: creations make numbers ported in.
    with_ported_in => ported_in: bool;
    /// Sets [`Options::mdn_run`]: the call writes MDN numbers, and only them.
    with_mdn_run => mdn_run: bool;
});

/// What happened (or, on a dry run, would happen) to one number.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct Outcome {
    /// The record after the operation (state `deleted` when it was removed).
    pub record: NumberRecord,
    /// The plan that was carried out.
    pub plan: Plan,
    /// Whether this was a dry run (nothing was changed).
    pub dry_run: bool,
}

/// The result of a collection operation: per number, its outcome or its error.
///
/// Keys are E.164 numbers, or the raw input for inputs that did not parse.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct BatchResult {
    /// Numbers that succeeded.
    pub success: BTreeMap<String, Outcome>,
    /// Numbers that failed.
    pub errors: BTreeMap<String, Error>,
}

impl BatchResult {
    /// The answer for one number of the batch (a single-number call is a
    /// batch of one, keyed by its parsed number).
    fn single(mut self, number: PhoneNumber) -> Result<Outcome> {
        let key = number.as_str();
        if let Some(e) = self.errors.remove(key) {
            return Err(e);
        }
        self.success.remove(key).ok_or_else(|| Error::Internal {
            cause: format!("operation produced no result for {number}"),
        })
    }
}

pub(crate) struct Inner {
    /// The store, every call traced and timed.
    pub(crate) store: Arc<dyn Store>,
    /// The store and carriers as the host gave them (what the accessors show).
    pub(crate) host_store: Arc<dyn Store>,
    pub(crate) host_carriers: CarrierRegistry,
    /// Where port requests are kept.
    pub(crate) ports: Arc<dyn PortRequestStore>,
    /// Where the bytes of port request attachments are kept.
    pub(crate) attachments: Arc<dyn AttachmentStore>,
    pub(crate) accounts: Arc<dyn Accounts>,
    /// The carriers, every call traced and timed.
    pub(crate) carriers: CarrierRegistry,
    pub(crate) e911: Option<Arc<dyn E911Provider>>,
    pub(crate) locality: Option<Arc<dyn Locality>>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) events: Arc<dyn EventSink>,
    pub(crate) audit: Option<Arc<AuditLog>>,
    /// Whether every committed change also writes its event into the store's
    /// outbox, in the same transaction.
    pub(crate) outbox: bool,
    pub(crate) config: Config,
    pub(crate) normalizer: Normalizer,
    pub(crate) classifiers: Classifiers,
}

/// The number manager: typed operations over a [`Store`], [`Accounts`],
/// carriers and an [`E911Provider`]. Cheap to clone (an `Arc` inside).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use std::sync::Arc;
/// use number_manager::{NumberManager, Options, account::MemoryAccounts, state::NumberState};
/// let accounts = Arc::new(MemoryAccounts::new());
/// let master = accounts.add("master", "Master", None).unwrap();
/// accounts.set_master(&master, true);
/// let manager = NumberManager::builder().accounts(accounts.clone()).build();
/// let created = manager
///     .create(&master, "4155550000", Default::default(), &Options::as_account(&master))
///     .await
///     .unwrap();
/// assert_eq!(created.record.state, NumberState::Reserved);
/// assert_eq!(created.to_public_json()["id"], "+14155550000");
/// # });
/// ```
#[derive(Clone)]
pub struct NumberManager {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for NumberManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NumberManager")
            .field("store", &self.inner.store)
            .field("carriers", &self.inner.carriers)
            .field("config", &self.inner.config)
            .finish()
    }
}

/// Builds a [`NumberManager`]; every part has an embedded default.
#[derive(Default)]
pub struct NumberManagerBuilder {
    store: Option<Arc<dyn Store>>,
    ports: Option<Arc<dyn PortRequestStore>>,
    attachments: Option<Arc<dyn AttachmentStore>>,
    accounts: Option<Arc<dyn Accounts>>,
    carriers: Option<CarrierRegistry>,
    e911: Option<Arc<dyn E911Provider>>,
    locality: Option<Arc<dyn Locality>>,
    clock: Option<Arc<dyn Clock>>,
    events: Option<Arc<dyn EventSink>>,
    audit: Option<Arc<AuditLog>>,
    outbox: bool,
    config: Option<Config>,
    normalizer: Option<Normalizer>,
    classifiers: Option<Classifiers>,
}

impl std::fmt::Debug for NumberManagerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NumberManagerBuilder")
            .finish_non_exhaustive()
    }
}

impl NumberManagerBuilder {
    /// The store (default: a fresh [`MemoryStore`]).
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }
    /// Where port requests are kept (default: a [`MemoryStore`] of their own,
    /// whatever the number store is).
    pub fn port_requests(mut self, ports: Arc<dyn PortRequestStore>) -> Self {
        self.ports = Some(ports);
        self
    }
    /// Where the bytes of port request attachments are kept (default: a
    /// [`MemoryAttachments`](crate::porting::MemoryAttachments)).
    pub fn attachments(mut self, attachments: Arc<dyn AttachmentStore>) -> Self {
        self.attachments = Some(attachments);
        self
    }
    /// The account tree (default: an empty [`MemoryAccounts`]).
    pub fn accounts(mut self, accounts: Arc<dyn Accounts>) -> Self {
        self.accounts = Some(accounts);
        self
    }
    /// The carriers (default: the `local` carrier over the store).
    pub fn carriers(mut self, carriers: CarrierRegistry) -> Self {
        self.carriers = Some(carriers);
        self
    }
    /// The E911 provider (default: none; setting an E911 address then fails).
    pub fn e911(mut self, provider: Arc<dyn E911Provider>) -> Self {
        self.e911 = Some(provider);
        self
    }
    /// The locality provider (default: none; locality calls answer `init failed`).
    pub fn locality(mut self, provider: Arc<dyn Locality>) -> Self {
        self.locality = Some(provider);
        self
    }
    /// The clock (default: [`SystemClock`]).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }
    /// The event sink (default: an in-memory [`AuditLog`], see
    /// [`NumberManager::audit_log`]). It takes precedence over
    /// [`audit_log`](Self::audit_log).
    pub fn events(mut self, sink: Arc<dyn EventSink>) -> Self {
        self.events = Some(sink);
        self
    }
    /// The event sink is `log`, which [`NumberManager::audit_log`] then
    /// answers: the default sink with another capacity
    /// ([`AuditLog::with_capacity`]), or one log shared by several managers.
    pub fn audit_log(mut self, log: Arc<AuditLog>) -> Self {
        self.audit = Some(log);
        self
    }
    /// Whether every committed change also writes its [`Event`](crate::events::Event)
    /// into the store's outbox, in the same transaction as the change (off by
    /// default: nothing is written then). A relay
    /// ([`Relay`](crate::outbox::Relay)) delivers the outbox to a broker; the
    /// event sink still hears of every change as without the outbox.
    ///
    /// The store must keep an outbox (the built-in ones do): with a store
    /// that does not ([`Store::write_batch_outboxed`] refuses), every change
    /// fails with [`Error::Database`] rather than
    /// lose its event.
    pub fn outbox(mut self, on: bool) -> Self {
        self.outbox = on;
        self
    }
    /// Configuration.
    pub fn config(mut self, config: Config) -> Self {
        self.config = Some(config);
        self
    }
    /// Normalization rules (default: Kazoo's).
    pub fn normalizer(mut self, normalizer: Normalizer) -> Self {
        self.normalizer = Some(normalizer);
        self
    }
    /// Classifiers (default: Kazoo's current list).
    pub fn classifiers(mut self, classifiers: Classifiers) -> Self {
        self.classifiers = Some(classifiers);
        self
    }

    /// Builds the manager.
    pub fn build(self) -> NumberManager {
        let store: Arc<dyn Store> = self.store.unwrap_or_else(|| Arc::new(MemoryStore::new()));
        let carriers = self.carriers.unwrap_or_else(|| {
            CarrierRegistry::new().with(Arc::new(crate::carrier::LocalCarrier::new(store.clone())))
        });
        let (events, audit): (Arc<dyn EventSink>, Option<Arc<AuditLog>>) =
            match (self.events, self.audit) {
                (Some(e), _) => (e, None),
                (None, Some(log)) => (log.clone(), Some(log)),
                (None, None) => {
                    let log = Arc::new(AuditLog::default());
                    (log.clone(), Some(log))
                }
            };
        // Every dependency call is traced and timed in one place, whatever
        // the backend: the wrappers of `observe`.
        let observed_carriers = carriers.clone().map(crate::observe::ObservedCarrier::wrap);
        NumberManager {
            inner: Arc::new(Inner {
                store: crate::observe::ObservedStore::wrap(store.clone()),
                host_store: store,
                host_carriers: carriers,
                ports: self.ports.unwrap_or_else(|| Arc::new(MemoryStore::new())),
                attachments: self
                    .attachments
                    .unwrap_or_else(|| Arc::new(crate::porting::MemoryAttachments::new())),
                accounts: self
                    .accounts
                    .unwrap_or_else(|| Arc::new(MemoryAccounts::new())),
                carriers: observed_carriers,
                e911: self.e911.map(crate::observe::ObservedE911::wrap),
                locality: self.locality,
                clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
                events,
                audit,
                outbox: self.outbox,
                config: self.config.unwrap_or_default(),
                normalizer: self.normalizer.unwrap_or_default(),
                classifiers: self.classifiers.unwrap_or_default(),
            }),
        }
    }
}

impl NumberManager {
    /// Starts a builder.
    pub fn builder() -> NumberManagerBuilder {
        NumberManagerBuilder::default()
    }

    /// The store.
    // The store as given, not its observed wrapper: a host that builds
    // another manager over it must not have every call counted twice.
    #[allow(clippy::misnamed_getters)]
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.host_store
    }

    /// The carriers.
    // As given, for the same reason as `store`.
    #[allow(clippy::misnamed_getters)]
    pub fn carriers(&self) -> &CarrierRegistry {
        &self.inner.host_carriers
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The default in-memory audit log, when no other event sink was configured.
    pub fn audit_log(&self) -> Option<&Arc<AuditLog>> {
        self.inner.audit.as_ref()
    }

    /// The classifiers.
    pub fn classifiers(&self) -> &Classifiers {
        &self.inner.classifiers
    }

    /// The normalizer.
    pub fn normalizer(&self) -> &Normalizer {
        &self.inner.normalizer
    }
}

#[cfg(test)]
mod config_tests {
    use super::*;
    use serde_json::{json, Value};

    fn read(v: Value) -> std::result::Result<Config, String> {
        serde_json::from_value(v).map_err(|e| e.to_string())
    }

    #[test]
    fn a_partial_config_overrides_only_what_it_names() {
        let c = read(json!({
            "aging_period": "30d",
            "carrier_timeout": "1m30s",
            "features": {"system": {"deny": ["cnam"]}},
            "state": {"released_state": "released"},
        }))
        .unwrap();
        assert_eq!(c.aging_period, Duration::from_secs(30 * 24 * HOUR));
        assert_eq!(c.carrier_timeout, Duration::from_secs(90));
        assert_eq!(c.features.system.deny, Some(vec!["cnam".to_string()]));
        assert_eq!(c.features.system.allow, None);
        assert!(!c.features.local_feature_override);
        assert_eq!(c.state.released_state, crate::state::NumberState::Released);
        assert!(!c.state.should_age);
        let d = Config::default();
        assert_eq!(c.limits, d.limits);
        assert_eq!(c.claim_ttl, d.claim_ttl);
        assert_eq!(c.port_in_module, d.port_in_module);
    }

    #[test]
    fn unknown_keys_are_named_at_every_level() {
        for (v, key) in [
            (json!({"claim_tll": "1m"}), "claim_tll"),
            (json!({"state": {"should_agee": true}}), "should_agee"),
            (json!({"limits": {"max_number": 1}}), "max_number"),
            (json!({"features": {"sytem": {}}}), "sytem"),
            (json!({"features": {"system": {"alow": []}}}), "alow"),
        ] {
            let err = read(v).unwrap_err();
            assert!(err.contains(&format!("unknown field `{key}`")), "{err}");
        }
    }

    #[test]
    fn a_bad_duration_is_refused() {
        let err = read(json!({"claim_ttl": "5 minutes"})).unwrap_err();
        assert!(err.contains("invalid duration"), "{err}");
        let err = read(json!({"claim_ttl": -5})).unwrap_err();
        assert!(err.contains("never negative"), "{err}");
    }

    #[test]
    fn the_default_round_trips_through_its_own_text() {
        let text = serde_json::to_value(Config::default()).unwrap();
        assert_eq!(text["discovery_ttl"], "1d");
        assert_eq!(text["claim_ttl"], "5m");
        let again = read(text.clone()).unwrap();
        assert_eq!(serde_json::to_value(again).unwrap(), text);
    }
}
