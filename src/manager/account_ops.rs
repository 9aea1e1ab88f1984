//! Operations on many numbers or a whole account: carrier search, listing,
//! availability check, locality, fix, carriers_info, maintenance.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::pipeline::{is_removal_claim, Change, Request, Settled};
use super::{BatchResult, NumberManager, Options};
use crate::account::{AccountId, AccountsExt, Actor};
use crate::carrier::{Availability, Carrier, SearchRequest, SearchResult};
use crate::classify::Classifiers;
use crate::error::{Error, Result, UnspecifiedKind};
use crate::events::Event;
use crate::features::{self, FeatureContext};
use crate::lifecycle::Op;
use crate::number::PhoneNumber;
use crate::observe::Traced;
use crate::record::NumberRecord;
use crate::state::NumberState;
use crate::store::{BatchMode, ListQuery, Pages, StoreExt, Write};
use crate::util::{join_all, timeout};

/// One search result, as the seeds show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct SearchHit {
    /// The number.
    pub number: PhoneNumber,
    /// The carrier that offers it.
    pub carrier: String,
    /// `discovery` (to buy), `available` or `reserved`.
    pub state: NumberState,
    /// The carrier's data (`formatted_number`, `rate_center`, ...).
    pub data: Map<String, Value>,
}

/// A carrier search.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SearchQuery {
    /// 3+ digits after the country code (`415`), or an E.164 prefix (`+1415`).
    pub prefix: String,
    /// Results per page (at least 1, capped by `Config::max_search_quantity`).
    pub quantity: usize,
    /// Page number, from 0.
    pub offset: usize,
    /// ISO 3166 alpha-2 country (default `US`).
    pub country: String,
}

impl SearchQuery {
    /// A US search for `prefix`, one page of `quantity`.
    pub fn new(prefix: impl Into<String>, quantity: usize) -> Self {
        SearchQuery {
            prefix: prefix.into(),
            quantity,
            offset: 0,
            country: "US".into(),
        }
    }
}

crate::util::with_setters!(SearchQuery {
    /// Sets [`SearchQuery::prefix`].
    with_prefix => prefix: impl Into<String> as into;
    /// Sets [`SearchQuery::quantity`].
    with_quantity => quantity: usize;
    /// Sets the page number ([`SearchQuery::offset`]).
    with_offset => offset: usize;
    /// Sets [`SearchQuery::country`].
    with_country => country: impl Into<String> as into;
});

/// Listing options (the seeds' query string). Build with
/// `ListOptions::default()` and the `with_*` setters.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct ListOptions {
    /// Page size (default `Config::page_size`).
    pub page_size: Option<usize>,
    /// Start at this number.
    pub start_key: Option<PhoneNumber>,
    /// `filter_state`.
    pub states: Vec<NumberState>,
    /// `created_from`.
    pub created_from: Option<DateTime<Utc>>,
    /// `created_to`.
    pub created_to: Option<DateTime<Utc>>,
    /// `filter_<public field>=value` pairs (dotted paths allowed).
    pub public_filters: Vec<(String, String)>,
    /// Include the numbers of descendant accounts.
    pub include_descendants: bool,
    /// Only numbers starting with this E.164 prefix.
    pub prefix: Option<String>,
}

crate::util::with_setters!(ListOptions {
    /// Sets [`ListOptions::page_size`].
    with_page_size => page_size: usize as some;
    /// Sets [`ListOptions::start_key`].
    with_start_key => start_key: PhoneNumber as some;
    /// Sets the `filter_state` states ([`ListOptions::states`]).
    with_states => states: Vec<NumberState>;
    /// Sets [`ListOptions::created_from`].
    with_created_from => created_from: DateTime<Utc> as some;
    /// Sets [`ListOptions::created_to`].
    with_created_to => created_to: DateTime<Utc> as some;
    /// Sets the `filter_<public field>` pairs ([`ListOptions::public_filters`]).
    with_public_filters => public_filters: Vec<(String, String)>;
    /// Sets [`ListOptions::include_descendants`].
    with_include_descendants => include_descendants: bool;
    /// Sets [`ListOptions::prefix`].
    with_prefix => prefix: impl Into<String> as some_into;
});

/// One page of an account's numbers.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Listing {
    /// The numbers, in order.
    pub numbers: Vec<NumberRecord>,
    /// Where the page started.
    pub start_key: Option<PhoneNumber>,
    /// Where the next page starts (`None`: this is the last page). A page
    /// stops early, with fewer than `page_size` numbers or none, once it has
    /// examined `Config::list_scan_budget` stored records: continue from here.
    pub next_start_key: Option<PhoneNumber>,
    /// The page size used.
    pub page_size: usize,
    /// How many numbers the account's descendants hold.
    pub cascade_quantity: usize,
    /// On the first page of an unfiltered listing (or one filtered on
    /// `port_in`, or a prefix): the numbers of the account's open port
    /// requests that have no record of their own or a `port_in` one, shown
    /// `port_in` with the request's id and state.
    pub porting: Vec<super::PortingNumber>,
}

/// `carriers_info`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct CarriersInfo {
    /// The longest prefix every carrier honours.
    pub maximal_prefix_length: usize,
    /// Carrier modules in use.
    pub usable_carriers: Vec<String>,
    /// States the actor may create numbers in.
    pub usable_creation_states: Vec<NumberState>,
}

/// What `fix` changed.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct FixReport {
    /// Per number, what was repaired.
    pub fixed: BTreeMap<String, Vec<String>>,
    /// Numbers that could not be repaired, and why.
    pub errors: BTreeMap<String, String>,
}

/// What `purge_expired` did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PurgeReport {
    /// Expired discovery entries removed.
    pub discovery_removed: usize,
    /// Aging numbers made available.
    pub aged: usize,
    /// Expired reservation leases released.
    pub leases_released: usize,
    /// Idempotency keys forgotten.
    pub idempotency_removed: usize,
    /// Tombstones of deleted numbers dropped by the store (deleted before
    /// `now - Config::tombstone_horizon`; see
    /// [`Store::purge_tombstones`](crate::store::Store::purge_tombstones)).
    pub tombstones_removed: usize,
    /// Search results whose interrupted purchase may have gone through and
    /// could not be settled (the carrier cannot tell, or giving the number
    /// back failed): kept, for a person or the next run to look at.
    pub unresolved_claims: Vec<String>,
}

const PAGE: usize = 500;

/// One carrier's search answer: its name, and its results unless it timed out.
type CarrierAnswer<'a> = std::pin::Pin<
    Box<dyn std::future::Future<Output = (String, Option<Result<Vec<SearchResult>>>)> + Send + 'a>,
>;

impl NumberManager {
    /// Turns a user prefix into an E.164 prefix: `+1415` stays, `415` in `US` becomes `+1415`.
    pub fn search_prefix(&self, prefix: &str, country: &str) -> Result<String> {
        let p: String = prefix.chars().filter(|c| !c.is_whitespace()).collect();
        let (plus, digits) = match p.strip_prefix('+') {
            Some(d) => (true, d),
            None => (false, p.as_str()),
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::validation(
                "prefix",
                "pattern",
                "prefix must be digits or an E.164 prefix",
            ));
        }
        if plus {
            if digits.len() > 15 || digits.starts_with('0') {
                return Err(Error::validation(
                    "prefix",
                    "pattern",
                    "not an E.164 prefix",
                ));
            }
            return Ok(format!("+{digits}"));
        }
        if digits.len() < 3 || digits.len() > 10 {
            return Err(Error::validation(
                "prefix",
                "minLength",
                "prefix must be 3 to 10 digits",
            ));
        }
        let code = dial_code(country)?;
        Ok(format!("+{code}{digits}"))
    }

    /// Searches every carrier in parallel (each bounded by `Config::search_timeout`;
    /// a failing or slow carrier only loses its own results), merges and sorts by
    /// number, and returns page `offset`. Every carrier result to buy is
    /// remembered as a `discovery` entry so that any instance can activate it.
    ///
    /// Anyone may search: the actor's account (none for the system) is only
    /// passed on to the carriers as the searching account, so a carrier that
    /// holds numbers for accounts (the `reserved` one) can offer that
    /// account's own.
    pub async fn search(&self, query: &SearchQuery, opts: &Options) -> Result<Vec<SearchHit>> {
        Traced::bare("search")
            .for_account(opts.auth_by.account())
            .run(self.search_observed(query, opts))
            .await
    }

    async fn search_observed(&self, query: &SearchQuery, opts: &Options) -> Result<Vec<SearchHit>> {
        let prefix = self.search_prefix(&query.prefix, &query.country)?;
        let quantity = query
            .quantity
            .clamp(1, self.inner.config.max_search_quantity.max(1));
        let wanted = quantity
            .saturating_mul(query.offset.saturating_add(1))
            .min(self.inner.config.max_search_quantity);
        let request = SearchRequest {
            prefix: prefix.clone(),
            quantity: wanted,
            offset: 0,
            country: query.country.clone(),
            account: opts.auth_by.account().cloned(),
        };
        let limit = self.inner.config.search_timeout;
        let futures: Vec<_> = self
            .inner
            .carriers
            .all()
            .iter()
            .map(|c| {
                let c: Arc<dyn Carrier> = c.clone();
                let request = &request;
                let fut: CarrierAnswer<'_> = Box::pin(async move {
                    let name = c.name().to_string();
                    let r = timeout(limit, c.find_numbers(request)).await;
                    (name, r)
                });
                fut
            })
            .collect();
        let answers = join_all(futures).await;
        let mut merged: BTreeMap<PhoneNumber, SearchHit> = BTreeMap::new();
        let carriers = answers.len();
        let mut failed = 0;
        for (carrier, answer) in answers {
            // Errors and timeouts drop only that carrier's results, and say so.
            let results = match answer {
                Some(Ok(results)) => results,
                Some(Err(e)) => {
                    failed += 1;
                    crate::observe::search_carrier_failed(&carrier, Some(&e), limit);
                    continue;
                }
                None => {
                    failed += 1;
                    crate::observe::search_carrier_failed(&carrier, None, limit);
                    continue;
                }
            };
            for r in results {
                if !r.number.as_str().starts_with(&prefix) {
                    continue;
                }
                merged.entry(r.number).or_insert(SearchHit {
                    number: r.number,
                    carrier: carrier.clone(),
                    state: r.state,
                    data: r.data,
                });
            }
        }
        if carriers > 0 && failed == carriers {
            crate::observe::search_all_failed(carriers);
        }
        let hits: Vec<SearchHit> = merged.into_values().collect();
        self.remember_discoveries(&hits).await?;
        Ok(hits
            .into_iter()
            .skip(query.offset.saturating_mul(quantity))
            .take(quantity)
            .collect())
    }

    /// Stores (or refreshes) a discovery entry for every result to buy.
    async fn remember_discoveries(&self, hits: &[SearchHit]) -> Result<()> {
        let now = self.inner.clock.now();
        let expires = crate::duration::after(now, self.inner.config.discovery_ttl);
        let to_buy: Vec<&SearchHit> = hits
            .iter()
            .filter(|h| h.state == NumberState::Discovery)
            .collect();
        for chunk in to_buy.chunks(PAGE) {
            let numbers: Vec<PhoneNumber> = chunk.iter().map(|h| h.number).collect();
            let existing = self.inner.store.get_many(&numbers).await?;
            let mut writes = Vec::new();
            for (hit, old) in chunk.iter().zip(existing) {
                let mut rec =
                    NumberRecord::new(hit.number, NumberState::Discovery, hit.carrier.clone(), now);
                rec.carrier_data = hit.data.clone();
                rec.expires_at = Some(expires);
                match old {
                    None => writes.push(Write::Insert(rec)),
                    // A claimed entry (even an expired claim) is the trace of a purchase
                    // that may have happened: only reconciliation may replace it.
                    Some(o) if o.state == NumberState::Discovery && o.pending.is_none() => {
                        rec.created = o.created;
                        writes.push(Write::Update {
                            record: rec,
                            expected: o.revision,
                        })
                    }
                    // A number we already hold is never overwritten by a search.
                    Some(_) => {}
                }
            }
            if !writes.is_empty() {
                // Losing a race here only means another search refreshed the entry.
                let _ = self
                    .inner
                    .store
                    .write_batch(writes, BatchMode::PerItem)
                    .await?;
            }
        }
        Ok(())
    }

    /// Checks that `actor` may address `account` (itself, a descendant, or
    /// master): what an HTTP layer checks before acting on a URL account.
    pub async fn may_address(&self, account: &AccountId, opts: &Options) -> Result<()> {
        let ctx = self.actor_ctx(&opts.auth_by).await?;
        // Master and the system need no lookup of the addressed account.
        let target = match &ctx.info {
            Some(me) if !me.is_master => self.inner.accounts.get(account).await?,
            _ => None,
        };
        let facts = self.facts(&ctx, None, None, target.as_ref(), "");
        crate::lifecycle::authorize_account(&facts, account)
    }

    /// An account's numbers in the seeds' listing shape, paged by `start_key`.
    pub async fn list_numbers(
        &self,
        account: &AccountId,
        list: &ListOptions,
        opts: &Options,
    ) -> Result<Listing> {
        Traced::new("list_numbers", 0, opts)
            .run(self.list_numbers_observed(account, list, opts))
            .await
    }

    async fn list_numbers_observed(
        &self,
        account: &AccountId,
        list: &ListOptions,
        opts: &Options,
    ) -> Result<Listing> {
        self.may_address(account, opts).await?;
        let page_size = list
            .page_size
            .unwrap_or(self.inner.config.page_size)
            .clamp(1, 1000);
        let mut accounts = vec![account.clone()];
        let descendants = self.inner.accounts.descendants(account).await?;
        if list.include_descendants {
            accounts.extend(descendants.iter().cloned());
        }
        let cascade_quantity = if descendants.is_empty() {
            0
        } else {
            self.inner
                .store
                .count(&ListQuery {
                    accounts: descendants,
                    ..Default::default()
                })
                .await?
        };
        let filtered = !list.public_filters.is_empty();
        let mut remaining = self.inner.config.list_scan_budget.max(page_size);
        let mut query = ListQuery {
            accounts,
            prefix: list.prefix.clone(),
            states: list.states.clone(),
            created_from: list.created_from,
            created_to: list.created_to,
            start_key: list.start_key,
            limit: page_size,
            ..Default::default()
        };
        let mut numbers = Vec::with_capacity(page_size);
        // One budget of examined records for the whole page, shared by the
        // store (its own filters) and the public-field filters checked here:
        // a filter that matches nothing costs at most the budget, and the
        // page then ends early with the key to continue from.
        let next_start_key = loop {
            query.scan_limit = Some(remaining);
            if filtered {
                // Wide store pages: a rarely matching filter then costs a few
                // round trips rather than one per `page_size` numbers.
                query.limit = page_size.max(PAGE).min(remaining);
            }
            let page = self.inner.store.list(&query).await?;
            let used = page.scanned.max(page.records.len()).max(1);
            remaining = remaining.saturating_sub(used);
            let mut next = page.next_start_key;
            for r in &page.records {
                if !public_filters_match(r, &list.public_filters) {
                    continue;
                }
                if numbers.len() == page_size {
                    // The page is full: the next page starts at this number.
                    next = Some(r.number);
                    break;
                }
                numbers.push(r.clone());
            }
            if numbers.len() == page_size || next.is_none() || remaining == 0 {
                break next;
            }
            query.start_key = next;
        };
        let shows_porting = list.start_key.is_none()
            && list.public_filters.is_empty()
            && list.created_from.is_none()
            && list.created_to.is_none()
            && (list.states.is_empty() || list.states.contains(&NumberState::PortIn));
        let porting = if shows_porting {
            let prefix = list.prefix.clone().unwrap_or_default();
            self.porting_numbers_of(account, |n| n.as_str().starts_with(&prefix))
                .await?
        } else {
            Vec::new()
        };
        Ok(Listing {
            numbers,
            start_key: list.start_key,
            next_start_key,
            page_size,
            cascade_quantity,
            porting,
        })
    }

    /// The account's own numbers starting with a prefix, with their state, paged
    /// by `quantity` and page number `offset` (seeds: "search available numbers you own").
    pub async fn search_owned(
        &self,
        account: &AccountId,
        prefix: &str,
        quantity: usize,
        offset: usize,
        opts: &Options,
    ) -> Result<Vec<(PhoneNumber, NumberState)>> {
        Traced::new("search_owned", 0, opts)
            .run(self.search_owned_observed(account, prefix, quantity, offset, opts))
            .await
    }

    async fn search_owned_observed(
        &self,
        account: &AccountId,
        prefix: &str,
        quantity: usize,
        offset: usize,
        opts: &Options,
    ) -> Result<Vec<(PhoneNumber, NumberState)>> {
        self.may_address(account, opts).await?;
        let prefix = self.search_prefix(prefix, "US")?;
        let quantity = quantity.clamp(1, self.inner.config.max_search_quantity.max(1));
        let skip = quantity.saturating_mul(offset);
        let mut pages = Pages::new(
            &*self.inner.store,
            ListQuery {
                accounts: vec![account.clone()],
                prefix: Some(prefix),
                limit: PAGE,
                ..Default::default()
            },
        );
        let mut seen = 0usize;
        let mut out = Vec::new();
        while out.len() < quantity {
            let Some(records) = pages.next().await? else {
                break;
            };
            for r in records {
                if seen >= skip && out.len() < quantity {
                    out.push((r.number, r.state));
                }
                seen += 1;
            }
        }
        Ok(out)
    }

    /// Availability of numbers through the carriers that implement
    /// `check_numbers`: the first confirming carrier wins; a carrier error marks
    /// only the numbers it was asked about; unconfirmed numbers are `error`.
    /// More than [`Limits::max_numbers`](crate::Limits::max_numbers) numbers is
    /// a validation error.
    pub async fn check<S: AsRef<str>>(
        &self,
        numbers: &[S],
    ) -> Result<BTreeMap<String, Availability>> {
        Traced::counted("check", numbers.len())
            .run(self.check_observed(numbers))
            .await
    }

    async fn check_observed<S: AsRef<str>>(
        &self,
        numbers: &[S],
    ) -> Result<BTreeMap<String, Availability>> {
        self.inner.config.limits.check_numbers(numbers.len())?;
        let mut out: BTreeMap<String, Availability> = BTreeMap::new();
        let mut pending: BTreeSet<PhoneNumber> = BTreeSet::new();
        for raw in numbers {
            match self.inner.normalizer.parse(raw.as_ref()) {
                Ok(n) => {
                    pending.insert(n);
                }
                Err(_) => {
                    out.insert(raw.as_ref().to_string(), Availability::Error);
                }
            }
        }
        for carrier in self.inner.carriers.all() {
            if pending.is_empty() {
                break;
            }
            if !carrier.capabilities().check_numbers {
                continue;
            }
            let asked: Vec<PhoneNumber> = pending.iter().copied().collect();
            if let Ok(answers) = carrier.check_numbers(&asked).await {
                for (n, a) in answers {
                    if a == Availability::Success && pending.remove(&n) {
                        out.insert(n.to_string(), Availability::Success);
                    }
                }
            }
        }
        for n in pending {
            out.insert(n.to_string(), Availability::Error);
        }
        Ok(out)
    }

    fn locality_provider(&self) -> Result<&Arc<dyn crate::locality::Locality>> {
        self.inner
            .locality
            .as_ref()
            .ok_or_else(|| Error::InitFailed {
                data: Box::new(json!("Unable to acquire numbers missing carrier url")),
            })
    }

    /// Locality of numbers (seeds' `POST .../locality`), keyed by E.164; at most
    /// [`Limits::max_numbers`](crate::Limits::max_numbers) of them.
    pub async fn locality<S: AsRef<str>>(&self, numbers: &[S]) -> Result<Map<String, Value>> {
        Traced::counted("locality", numbers.len())
            .run(self.locality_observed(numbers))
            .await
    }

    async fn locality_observed<S: AsRef<str>>(&self, numbers: &[S]) -> Result<Map<String, Value>> {
        self.inner.config.limits.check_numbers(numbers.len())?;
        let provider = self.locality_provider()?;
        let mut parsed = Vec::new();
        for raw in numbers {
            parsed.push(self.inner.normalizer.parse(raw.as_ref())?);
        }
        let answers = provider.locality(&parsed).await?;
        Ok(answers
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect())
    }

    /// Prefixes serving a city (seeds' `GET .../prefix?city=`).
    pub async fn city_prefixes(&self, country: &str, city: &str) -> Result<Value> {
        Traced::bare("city_prefixes")
            .run(self.city_prefixes_observed(country, city))
            .await
    }

    async fn city_prefixes_observed(&self, country: &str, city: &str) -> Result<Value> {
        if city.trim().is_empty() {
            return Err(Error::NotFound {
                number: city.to_string(),
            });
        }
        self.locality_provider()?.city_prefixes(country, city).await
    }

    /// `carriers_info` for the actor: the shortest maximal prefix length, the
    /// carriers in use and the states the actor may create numbers in.
    pub async fn carriers_info(&self, opts: &Options) -> Result<CarriersInfo> {
        Traced::new("carriers_info", 0, opts)
            .run(self.carriers_info_observed(opts))
            .await
    }

    async fn carriers_info_observed(&self, opts: &Options) -> Result<CarriersInfo> {
        let ctx = self.actor_ctx(&opts.auth_by).await?;
        let maximal_prefix_length = self
            .inner
            .carriers
            .all()
            .iter()
            .map(|c| c.capabilities().maximal_prefix_length)
            .fold(15, usize::min);
        let usable_carriers = self
            .inner
            .carriers
            .all()
            .iter()
            .map(|c| c.name().to_string())
            .filter(|n| n != "reserved")
            .collect();
        use NumberState::*;
        let usable_creation_states = if ctx.is_admin() {
            vec![Aging, Available, InService, PortIn, Reserved]
        } else if ctx.info.as_ref().is_some_and(|i| i.allow_additions) {
            vec![InService, Reserved]
        } else {
            vec![]
        };
        Ok(CarriersInfo {
            maximal_prefix_length,
            usable_carriers,
            usable_creation_states,
        })
    }

    /// The classifiers, as the seeds' `GET .../classifiers` shows them.
    pub fn classifiers_json(&self) -> Value {
        Classifiers::to_json(&self.inner.classifiers)
    }

    /// Repairs an account's numbers (seeds' `POST .../fix`): recomputes features
    /// from public fields, settles lapsed leases, clears lapsed claims the
    /// carrier shows never became a purchase or takes back (a dry run asks
    /// but gives nothing back; claims the carrier cannot settle are reported),
    /// and repairs records whose owner and state disagree. Reports what
    /// changed; with `dry_run` it reports what would change and writes nothing.
    pub async fn fix(&self, account: &AccountId, opts: &Options) -> Result<FixReport> {
        Traced::new("fix", 0, opts)
            .run(self.fix_observed(account, opts))
            .await
    }

    async fn fix_observed(&self, account: &AccountId, opts: &Options) -> Result<FixReport> {
        self.may_address(account, opts).await?;
        let mut report = FixReport::default();
        let mut pages = Pages::new(
            &*self.inner.store,
            ListQuery {
                accounts: vec![account.clone()],
                limit: PAGE,
                ..Default::default()
            },
        );
        while let Some(records) = pages.next().await? {
            let numbers: Vec<PhoneNumber> = records.iter().map(|r| r.number).collect();
            self.fix_records(&numbers, opts, &mut report).await?;
        }
        Ok(report)
    }

    /// Repairs one number the actor may change (seeds' `POST .../fix/{number}`).
    pub async fn fix_number(&self, number: &str, opts: &Options) -> Result<FixReport> {
        Traced::new("fix_number", 1, opts)
            .run(self.fix_number_observed(number, opts))
            .await
    }

    async fn fix_number_observed(&self, number: &str, opts: &Options) -> Result<FixReport> {
        let n = self.inner.normalizer.parse(number)?;
        // Fixing is a change: ownership is checked the way an edit checks it.
        let actor = self.actor_ctx(&opts.auth_by).await?;
        let now = self.inner.clock.now();
        // An expired search result is as good as absent, as for every other operation.
        let record = self
            .inner
            .store
            .get(&n)
            .await?
            .filter(|r| !(r.state == NumberState::Discovery && r.is_expired(now)));
        let facts = match &record {
            Some(r) => self.record_facts(&actor, r).await?.0,
            None => self.facts(&actor, None, None, None, ""),
        };
        crate::lifecycle::authorize_fix(n, record.as_ref(), &facts)?;
        let mut report = FixReport::default();
        self.fix_records(&[n], opts, &mut report).await?;
        if let Some(e) = report.errors.get(n.as_str()) {
            return Err(Error::unspecified(UnspecifiedKind::FixFailed, e.clone()));
        }
        Ok(report)
    }

    async fn fix_records(
        &self,
        numbers: &[PhoneNumber],
        opts: &Options,
        report: &mut FixReport,
    ) -> Result<()> {
        let now = self.inner.clock.now();
        let records = self.inner.store.get_many(numbers).await?;
        let known = self.inner.carriers.names();
        let ctx = self.actor_ctx(&opts.auth_by).await?;
        let mut writes = Vec::new();
        let mut events = Vec::new();
        let mut changes: Vec<(PhoneNumber, Vec<String>)> = Vec::new();
        let mut lapsed = Vec::new();
        let mut cache = std::collections::HashMap::new();
        for rec in records.into_iter().flatten() {
            let mut fixed = rec.clone();
            let mut what = Vec::new();
            if rec.state == NumberState::Reserved && rec.is_expired(now) {
                lapsed.push(rec.number);
                continue;
            }
            let mut expected = rec.revision;
            let stale = rec.pending.is_some() && !rec.is_claimed(now);
            if stale && is_removal_claim(&rec) {
                match self.settle_removal_claim(&rec).await {
                    Ok(true) => {
                        events.push(Some(fix_event(&rec, None, opts, now)));
                        writes.push(Write::Delete {
                            number: rec.number,
                            expected,
                        });
                        changes.push((
                            rec.number,
                            vec!["interrupted removal completed: the carrier no longer holds the number".into()],
                        ));
                        continue;
                    }
                    Ok(false) => {
                        fixed.pending = None;
                        what.push("stale claim cleared".to_string());
                    }
                    Err(e) => {
                        report.errors.insert(rec.number.to_string(), e.to_string());
                    }
                }
            } else if stale {
                // A dry run asks the carrier but gives nothing back.
                // `Some(revision)`: the number was (or, in a dry run, would be)
                // given back, and the record now stands at that revision.
                let settled = if opts.dry_run {
                    self.reconcile_stale_claim(&rec)
                        .await
                        .map(|s| matches!(s, Settled::Ours(_)).then_some(rec.revision))
                } else {
                    self.settle_stale_claim(&rec).await
                };
                match settled {
                    Ok(given_back) => {
                        expected = given_back.unwrap_or(rec.revision);
                        fixed.pending = None;
                        what.push(if given_back.is_some() {
                            "interrupted purchase given back to the carrier; stale claim cleared"
                                .to_string()
                        } else {
                            "stale claim cleared".to_string()
                        });
                    }
                    Err(e) => {
                        report.errors.insert(rec.number.to_string(), e.to_string());
                    }
                }
            }
            if rec.state.is_assigned() && rec.assigned_to.is_none() {
                fixed.state = NumberState::Available;
                what.push(format!("{} without an owner made available", rec.state));
            }
            if matches!(rec.state, NumberState::Available | NumberState::Discovery)
                && rec.assigned_to.is_some()
            {
                fixed.set_assigned_to(None);
                what.push("owner cleared from an unassigned state".into());
            }
            let owner = match &fixed.assigned_to {
                Some(id) => self.account_cached(&mut cache, id).await?,
                None => None,
            };
            let lists = self.reseller_lists(owner.as_ref(), &mut cache).await?;
            let fctx = FeatureContext {
                config: &self.inner.config.features,
                reseller: lists.as_ref(),
                admin: ctx.is_admin(),
                known_carriers: known,
            };
            // E911 needs the provider; fix only recomputes what is local to the record.
            let before = fixed.features.clone();
            let e911 = fixed.features.get("e911").cloned();
            if features::apply(&mut fixed, &fctx).is_ok() {
                if let Some(e) = e911 {
                    fixed.features.insert("e911".into(), e);
                }
                if fixed.features != before {
                    what.push("features recomputed".into());
                }
            } else {
                fixed.features = before;
            }
            if !what.is_empty() {
                fixed.modified = now;
                let mut event = fix_event(&rec, Some(&fixed), opts, now);
                // After a give-back the record stands at the give-back's revision.
                event.before = expected;
                events.push(Some(event));
                writes.push(Write::Update {
                    record: fixed,
                    expected,
                });
                changes.push((rec.number, what));
            }
        }
        if opts.dry_run {
            for (n, what) in changes {
                report.fixed.insert(n.to_string(), what);
            }
            for n in lapsed {
                report
                    .fixed
                    .insert(n.to_string(), vec!["lapsed reservation released".into()]);
            }
            return Ok(());
        }
        if !writes.is_empty() {
            let results = self.write_with_events(writes, None, &events).await?;
            for (((n, what), r), event) in changes.into_iter().zip(results).zip(events) {
                match r {
                    Ok(after) => {
                        if let Some(mut event) = event {
                            event.after = after;
                            self.inner.events.emit(&event);
                        }
                        report.fixed.insert(n.to_string(), what);
                    }
                    Err(e) => {
                        report.errors.insert(n.to_string(), e.to_string());
                    }
                }
            }
        }
        if !lapsed.is_empty() {
            let released = self.release_lapsed(lapsed).await?;
            for (n, _) in released.success {
                report
                    .fixed
                    .insert(n, vec!["lapsed reservation released".into()]);
            }
            for (n, e) in released.errors {
                report.errors.insert(n, e.to_string());
            }
        }
        Ok(())
    }

    /// Releases reservations whose lease has lapsed, as the system.
    pub(crate) async fn release_lapsed(&self, numbers: Vec<PhoneNumber>) -> Result<BatchResult> {
        let req = Request {
            op: Op::Release,
            change: Change::Keep,
            opts: Options::system(),
            journal: None,
        };
        let results = Box::pin(self.execute(numbers.clone(), &req)).await?;
        for (n, r) in numbers.iter().zip(&results) {
            if r.is_ok() {
                crate::observe::lease_lapsed(*n);
            }
        }
        Ok(BatchResult::of_numbers(&numbers, results))
    }

    /// Maintenance: removes expired discovery entries, makes
    /// `aging` numbers older than `Config::aging_period` available, releases
    /// lapsed reservation leases, forgets expired idempotency keys, and has the
    /// store drop the tombstones of numbers deleted before
    /// `now - Config::tombstone_horizon` (compared with the store's own
    /// wall-clock deletion stamps; see
    /// [`Store::purge_tombstones`](crate::store::Store::purge_tombstones)).
    pub async fn purge_expired(&self) -> Result<PurgeReport> {
        Traced::bare("purge_expired")
            .run(self.purge_expired_observed())
            .await
    }

    async fn purge_expired_observed(&self) -> Result<PurgeReport> {
        let now = self.inner.clock.now();
        let mut report = PurgeReport::default();
        self.purge_discoveries(now, &mut report).await?;
        self.age_numbers(now, &mut report).await?;
        self.release_lapsed_leases(now, &mut report).await?;
        report.idempotency_removed = self.inner.store.purge_idempotency(now).await?;
        // A horizon that overflows the calendar clamps (a huge one drops nothing).
        let cutoff = crate::duration::before(now, self.inner.config.tombstone_horizon);
        report.tombstones_removed = self.inner.store.purge_tombstones(cutoff).await?;
        Ok(report)
    }

    /// Removes expired discovery entries. Claimed ones stay: a lapsed claim is
    /// dropped only once the carrier shows the purchase never happened, or
    /// says it went through and takes the number back.
    async fn purge_discoveries(&self, now: DateTime<Utc>, report: &mut PurgeReport) -> Result<()> {
        let mut pages = Pages::new(
            &*self.inner.store,
            ListQuery {
                states: vec![NumberState::Discovery],
                expires_before: Some(now),
                limit: PAGE,
                ..Default::default()
            },
        );
        while let Some(records) = pages.next().await? {
            let mut writes = Vec::new();
            for r in records.iter().filter(|r| !r.is_claimed(now)) {
                let mut expected = r.revision;
                if r.pending.is_some() {
                    match self.settle_stale_claim(r).await {
                        Ok(Some(revision)) => expected = revision,
                        Ok(None) => {}
                        Err(_) => {
                            report.unresolved_claims.push(r.number.to_string());
                            continue;
                        }
                    }
                }
                writes.push(Write::Delete {
                    number: r.number,
                    expected,
                });
            }
            report.discovery_removed += self.written(writes).await?;
        }
        Ok(())
    }

    /// Makes `aging` numbers older than `Config::aging_period` available.
    async fn age_numbers(&self, now: DateTime<Utc>, report: &mut PurgeReport) -> Result<()> {
        let mut pages = Pages::new(
            &*self.inner.store,
            ListQuery {
                states: vec![NumberState::Aging],
                modified_before: Some(crate::duration::before(now, self.inner.config.aging_period)),
                limit: PAGE,
                ..Default::default()
            },
        );
        while let Some(records) = pages.next().await? {
            if records.is_empty() {
                continue;
            }
            let mut events = Vec::with_capacity(records.len());
            let mut writes = Vec::with_capacity(records.len());
            for r in records {
                events.push(Some(aged_event(&r, now)));
                let expected = r.revision;
                let mut n = r;
                n.state = NumberState::Available;
                n.set_assigned_to(None);
                n.modified = now;
                writes.push(Write::Update {
                    record: n,
                    expected,
                });
            }
            let results = self.write_with_events(writes, None, &events).await?;
            // A state change like any other: the event sink hears of it.
            for (event, r) in events.into_iter().zip(results) {
                if let (Some(mut event), Ok(after)) = (event, r) {
                    report.aged += 1;
                    event.after = after;
                    self.inner.events.emit(&event);
                }
            }
        }
        Ok(())
    }

    /// Releases reservations whose lease has lapsed.
    async fn release_lapsed_leases(
        &self,
        now: DateTime<Utc>,
        report: &mut PurgeReport,
    ) -> Result<()> {
        let mut pages = Pages::new(
            &*self.inner.store,
            ListQuery {
                states: vec![NumberState::Reserved],
                expires_before: Some(now),
                limit: PAGE,
                ..Default::default()
            },
        );
        while let Some(records) = pages.next().await? {
            let numbers: Vec<PhoneNumber> = records.iter().map(|r| r.number).collect();
            if !numbers.is_empty() {
                report.leases_released += self.release_lapsed(numbers).await?.success.len();
            }
        }
        Ok(())
    }

    /// Applies independent writes; returns how many went through.
    async fn written(&self, writes: Vec<Write>) -> Result<usize> {
        if writes.is_empty() {
            return Ok(0);
        }
        let results = self
            .inner
            .store
            .write_batch(writes, BatchMode::PerItem)
            .await?;
        Ok(results.iter().filter(|r| r.is_ok()).count())
    }
}

/// The event of `fix` repairing `record` into `fixed` (`None`: removed); its
/// `after` is the write's, set once it commits.
fn fix_event(
    record: &NumberRecord,
    fixed: Option<&NumberRecord>,
    opts: &Options,
    now: DateTime<Utc>,
) -> Event {
    let mut event = Event::new(
        record.number,
        crate::state::Operation::Fix,
        Some(record.state),
        fixed.map_or(NumberState::Deleted, |f| f.state),
        opts.auth_by.clone(),
        (
            record.assigned_to.clone(),
            fixed.and_then(|f| f.assigned_to.clone()),
        ),
        now,
        (record.revision, record.revision),
    );
    event.request_id = opts.request_id.clone();
    event.features_before = record.features.clone();
    event.features_after = fixed.map(|f| f.features.clone()).unwrap_or_default();
    event
}

/// The event of the aging sweep making `record` available (its `after` is
/// the write's, set once it commits).
fn aged_event(record: &NumberRecord, now: DateTime<Utc>) -> Event {
    let mut event = Event::new(
        record.number,
        crate::state::Operation::Age,
        Some(NumberState::Aging),
        NumberState::Available,
        Actor::System,
        (record.assigned_to.clone(), None),
        now,
        (record.revision, record.revision),
    );
    event.features_before = record.features.clone();
    event.features_after = record.features.clone();
    event
}

fn public_filters_match(record: &NumberRecord, filters: &[(String, String)]) -> bool {
    filters.iter().all(|(path, want)| {
        let mut v: Option<&Value> = None;
        for (i, part) in path.split('.').enumerate() {
            v = if i == 0 {
                record.public.get(part)
            } else {
                v.and_then(|x| x.get(part))
            };
        }
        match v {
            Some(Value::String(s)) => s == want,
            Some(other) => &other.to_string() == want,
            None => false,
        }
    })
}

/// The ITU calling code of an ISO 3166 alpha-2 country, from the phonenumber metadata.
fn dial_code(country: &str) -> Result<u16> {
    let c = country.trim().to_ascii_uppercase();
    if c.len() != 2 {
        return Err(Error::validation(
            "country",
            "pattern",
            "country must be 2 letters",
        ));
    }
    phonenumber::metadata::DATABASE
        .by_id(&c)
        .map(|m| m.country_code())
        .ok_or_else(|| Error::validation("country", "enum", format!("unknown country {c}")))
}
