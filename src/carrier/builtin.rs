//! Built-in carriers: [`LocalCarrier`], [`InventoryCarrier`], [`ReservedCarrier`].

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use serde_json::{json, Map, Value};

use super::{Availability, Capabilities, Carrier, NumberOrder, SearchRequest, SearchResult};
use crate::error::{Error, Result, UnspecifiedKind};
use crate::number::{calling_code_of, PhoneNumber};
use crate::record::NumberRecord;
use crate::state::NumberState;
use crate::store::{ListQuery, Store};

/// Records asked of the store per page while a search filters them.
const PAGE: usize = 200;

/// Turns a search prefix into an E.164 prefix: `+1415` stays, `415` in `US`
/// becomes `+1415` (the country's calling code from the numbering-plan
/// metadata). Whitespace is ignored. `None` for anything that is not digits,
/// or national digits of an unknown country.
pub(crate) fn e164_prefix(prefix: &str, country: &str) -> Option<String> {
    let compact: String = prefix.chars().filter(|c| !c.is_whitespace()).collect();
    if let Some(digits) = compact.strip_prefix('+') {
        return digits
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then_some(compact);
    }
    if !compact.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let country = country.trim().to_ascii_uppercase();
    let code = phonenumber::metadata::DATABASE
        .by_id(country.as_str())?
        .country_code();
    Some(format!("+{code}{compact}"))
}

/// Kazoo's search-result fields a number's digits give: `e164`,
/// `formatted_number`, `npa_nxx`, `number`, `ten_digit` (the last two-thirds
/// only for NANP numbers). Keys in alphabetical order, as Kazoo prints them.
pub(crate) fn number_data(number: &PhoneNumber) -> Map<String, Value> {
    let e164 = number.as_str();
    let mut data = Map::new();
    data.insert("e164".into(), json!(e164));
    if number.is_nanp() {
        let ten = number.to_npan();
        let (npa, rest) = ten.split_at(3);
        let (nxx, line) = rest.split_at(3);
        data.insert(
            "formatted_number".into(),
            json!(format!("1-{npa}-{nxx}-{line}")),
        );
        data.insert("npa_nxx".into(), json!(format!("{npa}{nxx}")));
        data.insert("number".into(), json!(e164));
        data.insert("ten_digit".into(), json!(ten));
    } else {
        let digits = number.strip_plus();
        let formatted = match calling_code_of(digits) {
            Some(cc) => {
                let cc = cc.to_string();
                format!("+{cc} {}", digits.get(cc.len()..).unwrap_or(""))
            }
            None => e164.to_string(),
        };
        data.insert("formatted_number".into(), json!(formatted));
        data.insert("number".into(), json!(e164));
    }
    data
}

/// A stored record as a search result: its carrier data, then the fields its
/// digits give, then `status`.
fn record_result(record: &NumberRecord, state: NumberState, status: &str) -> SearchResult {
    let mut data = record.carrier_data.clone();
    for (k, v) in number_data(&record.number) {
        data.insert(k, v);
    }
    data.insert("status".into(), json!(status));
    SearchResult {
        number: record.number,
        state,
        data,
    }
}

/// Walks a store listing page by page, keeping the records `keep` accepts,
/// until `offset + quantity` are found or the listing ends; returns the
/// `offset..offset + quantity` slice.
async fn scan_store(
    store: &dyn Store,
    mut query: ListQuery,
    offset: usize,
    quantity: usize,
    keep: impl Fn(&NumberRecord) -> bool + Send,
) -> Result<Vec<NumberRecord>> {
    let wanted = offset.saturating_add(quantity);
    let mut found = Vec::new();
    if quantity == 0 {
        return Ok(found);
    }
    query.limit = PAGE.min(wanted.max(1));
    loop {
        let page = store.list(&query).await?;
        found.extend(page.records.into_iter().filter(|r| keep(r)));
        if found.len() >= wanted {
            break;
        }
        match page.next_start_key {
            // A store that does not move forward would loop forever.
            Some(next) if query.start_key.is_none_or(|prev| next > prev) => {
                query.start_key = Some(next)
            }
            _ => break,
        }
    }
    Ok(found.into_iter().skip(offset).take(quantity).collect())
}

/// Numbers added directly to this system (Kazoo's `knm_local`).
///
/// A search returns the store's numbers in state `available` whose carrier is
/// `local` and whose E.164 number starts with the request prefix, sorted, with
/// `offset` rows skipped and at most `quantity` returned; results are in state
/// `available`. The prefix is a real prefix: Kazoo used it only as a lower
/// bound, so a search for `+1415` could return `+1416...`.
/// Acquire and disconnect change nothing upstream: they return the carrier
/// data they were given.
///
/// ```
/// use std::sync::Arc;
/// use number_manager::carrier::{Carrier, LocalCarrier, SearchRequest};
/// use number_manager::record::NumberRecord;
/// use number_manager::state::NumberState;
/// use number_manager::store::{MemoryStore, Store, StoreExt};
/// use number_manager::PhoneNumber;
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
/// for raw in ["+14155550100", "+14165550100"] {
///     let number = PhoneNumber::parse(raw).unwrap();
///     let record = NumberRecord::new(number, NumberState::Available, "local", chrono::Utc::now());
///     store.insert(record).await.unwrap();
/// }
/// let local = LocalCarrier::new(store);
/// let request = SearchRequest::new("+1415", 10);
/// let found = local.find_numbers(&request).await.unwrap();
/// assert_eq!(found.len(), 1);
/// assert_eq!(found[0].number.as_str(), "+14155550100");
/// assert_eq!(found[0].state, NumberState::Available);
/// # });
/// ```
#[derive(Debug)]
pub struct LocalCarrier {
    store: Arc<dyn Store>,
}

impl LocalCarrier {
    /// A local carrier over the store.
    pub fn new(store: Arc<dyn Store>) -> Self {
        LocalCarrier { store }
    }
}

#[async_trait]
impl Carrier for LocalCarrier {
    fn name(&self) -> &str {
        "local"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            is_local: true,
            check_numbers: false,
            owned_numbers: false,
            maximal_prefix_length: 10,
            billable: false,
            should_lookup_cnam: true,
        }
    }

    async fn find_numbers(&self, request: &SearchRequest) -> Result<Vec<SearchResult>> {
        let Some(prefix) = e164_prefix(&request.prefix, &request.country) else {
            return Ok(Vec::new());
        };
        let query = ListQuery {
            prefix: Some(prefix),
            states: vec![NumberState::Available],
            ..ListQuery::default()
        };
        let records = scan_store(
            self.store.as_ref(),
            query,
            request.offset,
            request.quantity,
            |r| r.carrier == "local",
        )
        .await?;
        Ok(records
            .iter()
            .map(|r| record_result(r, NumberState::Available, "Available"))
            .collect())
    }

    async fn acquire(&self, order: &NumberOrder) -> Result<Map<String, Value>> {
        Ok(order.carrier_data.clone())
    }

    async fn disconnect(&self, _order: &NumberOrder) -> Result<()> {
        Ok(())
    }
}

/// The searching account's own reserved numbers (Kazoo's `knm_reserved`).
///
/// A search lists, through [`Store::list`], the numbers assigned to the
/// request's account in state `reserved` whose E.164 number starts with the
/// prefix, whatever carrier provides them; results are in state `reserved`. A
/// search without an account finds nothing. Acquire and disconnect change
/// nothing upstream.
///
/// ```
/// use std::sync::Arc;
/// use number_manager::account::AccountId;
/// use number_manager::carrier::{Carrier, ReservedCarrier, SearchRequest};
/// use number_manager::record::NumberRecord;
/// use number_manager::state::NumberState;
/// use number_manager::store::{MemoryStore, Store, StoreExt};
/// use number_manager::PhoneNumber;
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
/// let account = AccountId::new("acct1").unwrap();
/// let number = PhoneNumber::parse("+14155550100").unwrap();
/// let mut record = NumberRecord::new(number, NumberState::Reserved, "local", chrono::Utc::now());
/// record.set_assigned_to(Some(account.clone()));
/// store.insert(record).await.unwrap();
///
/// let reserved = ReservedCarrier::new(store);
/// let mut request = SearchRequest::new("+1415", 10).with_account(account);
/// assert_eq!(reserved.find_numbers(&request).await.unwrap().len(), 1);
/// request.account = None;
/// assert!(reserved.find_numbers(&request).await.unwrap().is_empty());
/// # });
/// ```
#[derive(Debug)]
pub struct ReservedCarrier {
    store: Arc<dyn Store>,
}

impl ReservedCarrier {
    /// A reserved-numbers carrier over the store.
    pub fn new(store: Arc<dyn Store>) -> Self {
        ReservedCarrier { store }
    }
}

#[async_trait]
impl Carrier for ReservedCarrier {
    fn name(&self) -> &str {
        "reserved"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            is_local: true,
            check_numbers: false,
            owned_numbers: false,
            maximal_prefix_length: 10,
            billable: false,
            should_lookup_cnam: true,
        }
    }

    async fn find_numbers(&self, request: &SearchRequest) -> Result<Vec<SearchResult>> {
        let Some(account) = &request.account else {
            return Ok(Vec::new());
        };
        let Some(prefix) = e164_prefix(&request.prefix, &request.country) else {
            return Ok(Vec::new());
        };
        let query = ListQuery {
            accounts: vec![account.clone()],
            prefix: Some(prefix),
            states: vec![NumberState::Reserved],
            ..ListQuery::default()
        };
        let records = scan_store(
            self.store.as_ref(),
            query,
            request.offset,
            request.quantity,
            |_| true,
        )
        .await?;
        Ok(records
            .iter()
            .map(|r| record_result(r, NumberState::Reserved, "Reserved"))
            .collect())
    }

    async fn acquire(&self, order: &NumberOrder) -> Result<Map<String, Value>> {
        Ok(order.carrier_data.clone())
    }

    async fn disconnect(&self, _order: &NumberOrder) -> Result<()> {
        Ok(())
    }
}

/// A pool of numbers the host loads (Kazoo's `knm_inventory`, e.g. numbers
/// bought in bulk and loaded from a CSV).
///
/// The pool lives in this value, not in the store: [`load`](Self::load) adds
/// numbers, a search returns the pool's numbers matching the prefix (sorted,
/// `offset` rows skipped, at most `quantity`) in state `discovery`, since
/// like any carrier's offer they must be bought to be used. `acquire` takes the
/// number out of the pool (failing with `number_not_available`, cause the
/// number, when it is not there, so two buyers never get the same number),
/// and `disconnect` puts it back. `check_numbers` says whether a number is in
/// the pool. Not local (as in Kazoo: its numbers get external features) and not
/// billable.
///
/// ```
/// use number_manager::carrier::{Carrier, InventoryCarrier, NumberOrder};
/// use number_manager::PhoneNumber;
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let inventory = InventoryCarrier::new();
/// let n = PhoneNumber::parse("+14155550100").unwrap();
/// inventory.load([n]);
/// let order = NumberOrder::new(n);
/// inventory.acquire(&order).await.unwrap();
/// assert!(inventory.available().is_empty());
/// assert_eq!(inventory.acquire(&order).await.unwrap_err().message(), "number_not_available");
/// inventory.disconnect(&order).await.unwrap();
/// assert_eq!(inventory.available(), vec![n]);
/// # });
/// ```
#[derive(Debug)]
pub struct InventoryCarrier {
    name: String,
    state: Mutex<Pool>,
}

/// The pool, and the numbers bought out of it (with their pool data, so a
/// disconnect puts back what was loaded).
#[derive(Debug, Default)]
struct Pool {
    available: BTreeMap<PhoneNumber, Map<String, Value>>,
    taken: BTreeMap<PhoneNumber, Map<String, Value>>,
}

impl Default for InventoryCarrier {
    fn default() -> Self {
        Self::new()
    }
}

impl InventoryCarrier {
    /// An empty pool named `inventory`.
    pub fn new() -> Self {
        InventoryCarrier {
            name: "inventory".into(),
            state: Mutex::new(Pool::default()),
        }
    }

    /// Renames the carrier (the module name stored on its numbers).
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    fn lock(&self) -> MutexGuard<'_, Pool> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds numbers to the pool (numbers already there keep their data;
    /// numbers currently bought are left alone).
    pub fn load(&self, numbers: impl IntoIterator<Item = PhoneNumber>) {
        self.load_with_data(numbers.into_iter().map(|n| (n, Map::new())));
    }

    /// Adds numbers with the carrier data to hand out when they are bought
    /// (numbers already in the pool get the new data; numbers currently bought
    /// are left alone). Returns how many numbers were added or updated.
    pub fn load_with_data(
        &self,
        numbers: impl IntoIterator<Item = (PhoneNumber, Map<String, Value>)>,
    ) -> usize {
        let mut state = self.lock();
        let mut count = 0;
        for (n, data) in numbers {
            if state.taken.contains_key(&n) {
                continue;
            }
            let slot = state.available.entry(n).or_default();
            if !data.is_empty() {
                *slot = data;
            }
            count += 1;
        }
        count
    }

    /// Takes numbers out of the pool without selling them; returns how many
    /// were there.
    pub fn unload<'a>(&self, numbers: impl IntoIterator<Item = &'a PhoneNumber>) -> usize {
        let mut state = self.lock();
        numbers
            .into_iter()
            .filter(|n| state.available.remove(*n).is_some())
            .count()
    }

    /// The numbers in the pool, sorted.
    pub fn available(&self) -> Vec<PhoneNumber> {
        self.lock().available.keys().copied().collect()
    }

    /// The numbers bought out of the pool and not disconnected, sorted.
    pub fn acquired(&self) -> Vec<PhoneNumber> {
        self.lock().taken.keys().copied().collect()
    }

    /// Whether a number is in the pool.
    pub fn contains(&self, number: &PhoneNumber) -> bool {
        self.lock().available.contains_key(number)
    }
}

#[async_trait]
impl Carrier for InventoryCarrier {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            is_local: false,
            check_numbers: true,
            owned_numbers: false,
            maximal_prefix_length: 10,
            billable: false,
            should_lookup_cnam: true,
        }
    }

    async fn find_numbers(&self, request: &SearchRequest) -> Result<Vec<SearchResult>> {
        let Some(prefix) = e164_prefix(&request.prefix, &request.country) else {
            return Ok(Vec::new());
        };
        let state = self.lock();
        Ok(state
            .available
            .iter()
            .filter(|(n, _)| n.as_str().starts_with(prefix.as_str()))
            .skip(request.offset)
            .take(request.quantity)
            .map(|(n, extra)| {
                let mut data = extra.clone();
                for (k, v) in number_data(n) {
                    data.insert(k, v);
                }
                data.insert("status".into(), json!("Available"));
                SearchResult {
                    number: *n,
                    state: NumberState::Discovery,
                    data,
                }
            })
            .collect())
    }

    async fn acquire(&self, order: &NumberOrder) -> Result<Map<String, Value>> {
        let mut state = self.lock();
        // Taken out under the lock: of two buyers, exactly one gets it.
        let Some(extra) = state.available.remove(&order.number) else {
            return Err(Error::unspecified(
                UnspecifiedKind::NumberNotAvailable,
                order.number.as_str(),
            ));
        };
        let mut data = order.carrier_data.clone();
        for (k, v) in &extra {
            data.entry(k.clone()).or_insert_with(|| v.clone());
        }
        state.taken.insert(order.number, extra);
        Ok(data)
    }

    async fn disconnect(&self, order: &NumberOrder) -> Result<()> {
        let mut state = self.lock();
        let extra = state.taken.remove(&order.number).unwrap_or_default();
        state.available.entry(order.number).or_insert(extra);
        Ok(())
    }

    async fn check_numbers(
        &self,
        numbers: &[PhoneNumber],
    ) -> Result<BTreeMap<PhoneNumber, Availability>> {
        let state = self.lock();
        let unique: BTreeSet<&PhoneNumber> = numbers.iter().collect();
        Ok(unique
            .into_iter()
            .map(|n| {
                let a = if state.available.contains_key(n) {
                    Availability::Success
                } else {
                    Availability::Error
                };
                (*n, a)
            })
            .collect())
    }
}
