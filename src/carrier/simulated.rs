//! [`SimulatedCarrier`]: a deterministic, seeded carrier with no network, and
//! scripted faults for tests.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{json, Map, Value};

use super::builtin::{e164_prefix, number_data};
use super::{
    Availability, Capabilities, Carrier, CarrierHealth, NumberOrder, Ownership, SearchRequest,
    SearchResult,
};
use crate::account::AccountId;
use crate::error::{Error, Result, UnspecifiedKind};
use crate::locality::nanp::{self, NanpArea};
use crate::number::{calling_code_of, PhoneNumber};
use crate::state::NumberState;

/// A scripted failure (or slowness) of a simulated backend.
///
/// What each fault becomes depends on the backend; for [`SimulatedCarrier`]:
///
/// | fault | error |
/// |---|---|
/// | `Error` | [`Error::ByCarrier`] (500 `fault by carrier`) |
/// | `Timeout` | [`Error::Unspecified`] with message `timeout` |
/// | `NotAvailable` | [`Error::Unspecified`] with message `number_not_available`; on a search, no results (Kazoo's `not_available`) |
/// | `Delay(d)` | none: the call waits `d` (on a helper thread, no runtime needed), then goes on |
///
/// `Timeout` answers at once; combine it with a `Delay` (or
/// [`SimulatedCarrier::with_latency`]) to also make it slow.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// The backend answers with an error.
    Error,
    /// The backend does not answer in time.
    Timeout,
    /// The number cannot be had.
    NotAvailable,
    /// The call waits this long, then proceeds normally.
    Delay(Duration),
}

impl Fault {
    /// Waits when the fault is a [`Fault::Delay`]; returns at once otherwise.
    /// Crate-visible so the other simulated backends share one timer.
    pub(crate) async fn wait(&self) {
        if let Fault::Delay(d) = self {
            Sleep::new(*d).await;
        }
    }
}

/// A runtime-agnostic sleep: the first poll starts a helper thread that sleeps
/// and then wakes the task. One thread per delayed call is fine for a
/// simulator, and it keeps tokio out of the library (the core names no
/// executor and no timer crate, so it runs under any runtime).
struct Sleep {
    duration: Duration,
    shared: Arc<Mutex<SleepState>>,
}

#[derive(Default)]
struct SleepState {
    started: bool,
    done: bool,
    waker: Option<Waker>,
}

impl Sleep {
    fn new(duration: Duration) -> Self {
        Sleep {
            duration,
            shared: Arc::new(Mutex::new(SleepState::default())),
        }
    }
}

fn relock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.duration.is_zero() {
            return Poll::Ready(());
        }
        let mut state = relock(&self.shared);
        if state.done {
            return Poll::Ready(());
        }
        state.waker = Some(cx.waker().clone());
        if !state.started {
            state.started = true;
            drop(state);
            let shared = Arc::clone(&self.shared);
            let duration = self.duration;
            let spawned = std::thread::Builder::new()
                .name("simulated-delay".into())
                .spawn(move || {
                    std::thread::sleep(duration);
                    let waker = {
                        let mut state = relock(&shared);
                        state.done = true;
                        state.waker.take()
                    };
                    if let Some(w) = waker {
                        w.wake();
                    }
                });
            if spawned.is_err() {
                // No thread to wait on: skip the delay rather than hang or panic.
                return Poll::Ready(());
            }
        }
        Poll::Pending
    }
}

/// One successful `acquire` of a [`SimulatedCarrier`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purchase {
    /// The number bought.
    pub number: PhoneNumber,
    /// The account it was bought for.
    pub account: Option<AccountId>,
    /// Position in the carrier's history of purchases and disconnects (from 1).
    pub sequence: u64,
    /// The order id the carrier returned in the carrier data.
    pub order_id: String,
}

/// One successful `disconnect` of a [`SimulatedCarrier`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disconnect {
    /// The number released.
    pub number: PhoneNumber,
    /// The account it was released from.
    pub account: Option<AccountId>,
    /// Position in the carrier's history of purchases and disconnects (from 1).
    pub sequence: u64,
}

/// The carrier calls, for per-call fault scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Op {
    Find,
    Acquire,
    Disconnect,
    Check,
    Owned,
}

/// One in this many candidate numbers is in a simulated catalogue.
const DENSITY: u64 = 10;

/// How many candidate numbers one search may look at before it gives up (the
/// results found so far are returned): bounds the work of a huge offset.
const SCAN_BUDGET: u64 = 5_000_000;

#[derive(Debug, Default)]
struct State {
    sold: BTreeSet<PhoneNumber>,
    purchases: Vec<Purchase>,
    disconnects: Vec<Disconnect>,
    sequence: u64,
    number_once: HashMap<PhoneNumber, VecDeque<Fault>>,
    number_always: HashMap<PhoneNumber, Fault>,
    next: HashMap<Op, VecDeque<Fault>>,
    outage: Option<Fault>,
    calls: HashMap<Op, usize>,
}

/// A seeded, in-process carrier: searches, purchases and disconnects with no
/// network, the same answers for the same seed, and faults on demand.
///
/// # Catalogue
///
/// The carrier "has" a fixed pseudo-random tenth of all numbers, chosen by a
/// hash of `(seed, number)`: the same seed always offers the same numbers, and
/// a longer prefix offers exactly the subset of a shorter one. A search walks
/// the numbers matching the prefix in ascending order and returns the
/// `offset..offset + quantity` slice of those it has and has not sold
/// (`offset` is a row offset, as [`SearchRequest`] says).
///
/// - `+1` prefixes give NANP numbers: area codes from the crate's table of
///   geographic area codes (when the prefix gives fewer than three area-code
///   digits and the request's country is a NANP country, only that country's
///   area codes; a full toll-free area code such as `+1800` is searched too),
///   central office codes `2XX`-`9XX` without the `N11`, `555`, `950`, `958`,
///   `959` and `976` service codes. Each result carries Kazoo's fields:
///   `e164`, `formatted_number` (`1-415-233-8397`), `npa_nxx`, `number`,
///   `number_id` (a deterministic upper-case UUID), `rate_center` (`lata`,
///   `name`, `state` for the larger cities, `state` alone elsewhere),
///   `status: "Available"`, `ten_digit`.
/// - Other prefixes give numbers of the country whose calling code the prefix
///   starts with, with a national number of that country's usual length (a
///   small table, 9 digits otherwise) not starting with 0; results carry
///   `e164`, `formatted_number` (`+44 2079460123`), `number`, `number_id` and
///   `status`. A prefix shorter than its calling code finds nothing.
/// - A prefix without `+` is read as national digits of the request's country.
///
/// Results are in state `discovery`. The longest useful prefix is the whole
/// national number, so [`Capabilities::maximal_prefix_length`] is 10 (a NANP
/// number); longer foreign prefixes work too.
///
/// # Purchases
///
/// `acquire` sells a number once: a second `acquire` of a sold number fails
/// with `number_not_available` (cause: the number) until it is disconnected.
/// The check and the sale happen under one lock, so of many buyers racing for
/// one number exactly one wins. By default only numbers of the catalogue can
/// be bought (a real carrier cannot sell what it does not have);
/// [`accept_any_number`](Self::accept_any_number) lifts that for hosts whose
/// tests buy arbitrary numbers. Sold numbers are never offered by a search.
///
/// # Faults
///
/// See [`Fault`] for what each fault becomes. Faults can be scripted per number
/// ([`fail_number`](Self::fail_number) once,
/// [`fail_number_always`](Self::fail_number_always) until healed; they apply to
/// `acquire` and `disconnect`, and make `check_numbers` answer `error`), per
/// call ([`fail_next_acquire`](Self::fail_next_acquire) and its siblings, for
/// the next N calls), or for the whole carrier ([`outage`](Self::outage)). When
/// several apply, the outage comes first, then the per-call script, then the
/// per-number one. A failed call changes nothing.
///
/// Every method takes `&self`; the type is `Send + Sync` and can be shared.
///
/// ```
/// use number_manager::carrier::{Carrier, Fault, NumberOrder, SearchRequest, SimulatedCarrier};
/// # block_on(async {
/// let carrier = SimulatedCarrier::new(7);
/// let request = SearchRequest::new("+1415", 2);
/// let found = carrier.find_numbers(&request).await.unwrap();
/// assert_eq!(found.len(), 2);
/// assert!(found[0].number.as_str().starts_with("+1415"));
/// assert_eq!(found[0].data["status"], "Available");
/// // Same seed, same catalogue.
/// assert_eq!(SimulatedCarrier::new(7).find_numbers(&request).await.unwrap(), found);
///
/// let order = NumberOrder::new(found[0].number).with_carrier_data(found[0].data.clone());
/// carrier.acquire(&order).await.unwrap();
/// let again = carrier.acquire(&order).await.unwrap_err();
/// assert_eq!(again.message(), "number_not_available");
///
/// carrier.fail_next_disconnect(Fault::Error, 1);
/// assert_eq!(carrier.disconnect(&order).await.unwrap_err().code(), 500);
/// carrier.disconnect(&order).await.unwrap();
/// assert_eq!(carrier.purchase_count(), 1);
/// # });
/// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
#[derive(Debug)]
pub struct SimulatedCarrier {
    name: String,
    seed: u64,
    latency: Option<Duration>,
    accept_any: bool,
    answers_owned: bool,
    state: Mutex<State>,
}

impl SimulatedCarrier {
    /// A carrier named `simulated` whose catalogue is derived from `seed`.
    pub fn new(seed: u64) -> Self {
        SimulatedCarrier {
            name: "simulated".into(),
            seed,
            latency: None,
            accept_any: false,
            answers_owned: true,
            state: Mutex::new(State::default()),
        }
    }

    /// Renames the carrier (the module name stored on its numbers), e.g. to
    /// register two simulated carriers side by side.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Makes every call wait `latency` first (on a helper thread; no runtime
    /// needed).
    pub fn with_latency(mut self, latency: Duration) -> Self {
        self.latency = Some(latency);
        self
    }

    /// Lets `acquire` sell (and `check_numbers` confirm) numbers outside the
    /// catalogue too. Sold numbers still cannot be sold twice.
    pub fn accept_any_number(mut self) -> Self {
        self.accept_any = true;
        self
    }

    /// Makes the carrier say it cannot tell which numbers this system holds
    /// (`Capabilities::owned_numbers` false), as many real carriers' APIs
    /// cannot: interrupted purchases are then settled through `check_numbers`.
    pub fn without_owned_numbers(mut self) -> Self {
        self.answers_owned = false;
        self
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        relock(&self.state)
    }

    /// Whether the number is in the catalogue (sold or not).
    pub fn offers(&self, number: &PhoneNumber) -> bool {
        if let Some(npa) = nanp::npa_of(number.as_str()) {
            let Ok(n) = number.strip_plus().parse::<u64>() else {
                return false;
            };
            let nxx = (n / 10_000) % 1000;
            return nanp_npa_allowed(npa) && nxx_allowed(nxx) && in_catalogue(self.seed, n);
        }
        let digits = number.strip_plus();
        let Some(cc) = calling_code_of(digits) else {
            return false;
        };
        let cc_len = decimal_len(u64::from(cc));
        let national = digits.get(cc_len..).unwrap_or("");
        national.len() == national_length(cc)
            && !national.starts_with('0')
            && digits
                .parse::<u64>()
                .is_ok_and(|n| in_catalogue(self.seed, n))
    }

    /// Makes the next `acquire` or `disconnect` of `number` fail with `fault`
    /// (several calls queue up).
    pub fn fail_number(&self, number: PhoneNumber, fault: Fault) {
        self.lock()
            .number_once
            .entry(number)
            .or_default()
            .push_back(fault);
    }

    /// Makes every `acquire` and `disconnect` of `number` fail with `fault`
    /// until [`heal_number`](Self::heal_number).
    pub fn fail_number_always(&self, number: PhoneNumber, fault: Fault) {
        self.lock().number_always.insert(number, fault);
    }

    /// Removes every fault scripted for `number`.
    pub fn heal_number(&self, number: &PhoneNumber) {
        let mut state = self.lock();
        state.number_once.remove(number);
        state.number_always.remove(number);
    }

    fn fail_next(&self, op: Op, fault: Fault, times: usize) {
        let mut state = self.lock();
        let queue = state.next.entry(op).or_default();
        queue.extend(std::iter::repeat_n(fault, times));
    }

    /// Makes the next `times` searches fail with `fault`.
    pub fn fail_next_find(&self, fault: Fault, times: usize) {
        self.fail_next(Op::Find, fault, times);
    }

    /// Makes the next `times` calls of `acquire` fail with `fault`.
    pub fn fail_next_acquire(&self, fault: Fault, times: usize) {
        self.fail_next(Op::Acquire, fault, times);
    }

    /// Makes the next `times` calls of `disconnect` fail with `fault`.
    pub fn fail_next_disconnect(&self, fault: Fault, times: usize) {
        self.fail_next(Op::Disconnect, fault, times);
    }

    /// Makes the next `times` calls of `check_numbers` fail with `fault`.
    pub fn fail_next_check(&self, fault: Fault, times: usize) {
        self.fail_next(Op::Check, fault, times);
    }

    /// Makes the next `times` calls of `owned_numbers` fail with `fault`.
    pub fn fail_next_owned(&self, fault: Fault, times: usize) {
        self.fail_next(Op::Owned, fault, times);
    }

    /// Makes every call fail with `fault` until [`restore`](Self::restore).
    pub fn outage(&self, fault: Fault) {
        self.lock().outage = Some(fault);
    }

    /// Ends an outage and drops every per-call script not yet used.
    pub fn restore(&self) {
        let mut state = self.lock();
        state.outage = None;
        state.next.clear();
    }

    /// Every successful purchase, oldest first.
    pub fn purchases(&self) -> Vec<Purchase> {
        self.lock().purchases.clone()
    }

    /// How many purchases succeeded.
    pub fn purchase_count(&self) -> usize {
        self.lock().purchases.len()
    }

    /// Every successful disconnect, oldest first.
    pub fn disconnects(&self) -> Vec<Disconnect> {
        self.lock().disconnects.clone()
    }

    /// The numbers currently sold (bought and not disconnected), sorted.
    pub fn sold(&self) -> Vec<PhoneNumber> {
        self.lock().sold.iter().copied().collect()
    }

    /// Whether a number is currently sold.
    pub fn is_sold(&self, number: &PhoneNumber) -> bool {
        self.lock().sold.contains(number)
    }

    /// How many searches were made (failed ones included).
    pub fn find_calls(&self) -> usize {
        self.calls(Op::Find)
    }

    /// How many `acquire` calls were made (failed ones included).
    pub fn acquire_calls(&self) -> usize {
        self.calls(Op::Acquire)
    }

    /// How many `disconnect` calls were made (failed ones included).
    pub fn disconnect_calls(&self) -> usize {
        self.calls(Op::Disconnect)
    }

    /// How many `check_numbers` calls were made (failed ones included).
    pub fn check_calls(&self) -> usize {
        self.calls(Op::Check)
    }

    /// How many `owned_numbers` calls were made (failed ones included).
    pub fn owned_calls(&self) -> usize {
        self.calls(Op::Owned)
    }

    fn calls(&self, op: Op) -> usize {
        self.lock().calls.get(&op).copied().unwrap_or(0)
    }

    /// Counts the call, and takes the faults that apply to it: the outage, the
    /// next scripted one for the operation, and (for a number) the number's.
    fn take_faults(&self, op: Op, number: Option<&PhoneNumber>) -> Vec<Fault> {
        let mut state = self.lock();
        *state.calls.entry(op).or_default() += 1;
        let mut faults = Vec::new();
        if let Some(f) = &state.outage {
            faults.push(f.clone());
        }
        if let Some(f) = state.next.get_mut(&op).and_then(VecDeque::pop_front) {
            faults.push(f);
        }
        if let Some(n) = number {
            if let Some(f) = state.number_always.get(n) {
                faults.push(f.clone());
            } else if let Some(f) = state.number_once.get_mut(n).and_then(VecDeque::pop_front) {
                faults.push(f);
            }
        }
        faults
    }

    /// Waits out the latency and the delays, and turns the first failing fault
    /// into its error.
    async fn endure(&self, faults: Vec<Fault>, subject: &str) -> Result<()> {
        if let Some(latency) = self.latency {
            Sleep::new(latency).await;
        }
        for fault in faults {
            fault.wait().await;
            if let Some(e) = self.fault_error(&fault, subject) {
                return Err(e);
            }
        }
        Ok(())
    }

    fn fault_error(&self, fault: &Fault, subject: &str) -> Option<Error> {
        match fault {
            Fault::Error => Some(Error::by_carrier(
                subject,
                format!("{}: simulated carrier error", self.name),
            )),
            Fault::Timeout => Some(Error::timeout(subject)),
            Fault::NotAvailable => Some(not_available(subject)),
            Fault::Delay(_) => None,
        }
    }

    fn next_sequence(state: &mut State) -> u64 {
        state.sequence += 1;
        state.sequence
    }

    /// The catalogue slice for a request, skipping sold numbers.
    fn search(&self, request: &SearchRequest, sold: &BTreeSet<PhoneNumber>) -> Vec<SearchResult> {
        let Some(prefix) = e164_prefix(&request.prefix, &request.country) else {
            return Vec::new();
        };
        let digits = prefix.get(1..).unwrap_or("");
        let mut walk = Walk {
            seed: self.seed,
            sold,
            skip: request.offset,
            want: request.quantity,
            budget: SCAN_BUDGET,
            found: Vec::new(),
        };
        if let Some(national) = digits.strip_prefix('1') {
            walk_nanp(&mut walk, national, &request.country);
        } else {
            walk_international(&mut walk, digits);
        }
        walk.found
            .into_iter()
            .filter_map(|n| {
                let number = PhoneNumber::from_e164(&format!("+{n}")).ok()?;
                let data = self.result_data(&number);
                Some(SearchResult {
                    number,
                    state: NumberState::Discovery,
                    data,
                })
            })
            .collect()
    }

    fn result_data(&self, number: &PhoneNumber) -> Map<String, Value> {
        let mut data = number_data(number);
        data.insert("number_id".into(), json!(number_id(self.seed, number)));
        if let Some(rc) = rate_center(self.seed, number) {
            data.insert("rate_center".into(), rc);
        }
        data.insert("status".into(), json!("Available"));
        // Keep the seeds' alphabetical key order.
        let mut sorted: Vec<(String, Value)> = data.into_iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        sorted.into_iter().collect()
    }
}

fn not_available(number: &str) -> Error {
    Error::unspecified(UnspecifiedKind::NumberNotAvailable, number)
}

#[async_trait]
impl Carrier for SimulatedCarrier {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            is_local: false,
            check_numbers: true,
            owned_numbers: self.answers_owned,
            maximal_prefix_length: 10,
            billable: true,
            should_lookup_cnam: true,
        }
    }

    /// Down during an [`outage`](SimulatedCarrier::outage) that fails calls
    /// (a `Delay` outage only slows them), up otherwise; not counted as a call.
    async fn health(&self) -> CarrierHealth {
        match &self.lock().outage {
            None | Some(Fault::Delay(_)) => CarrierHealth::Up,
            Some(fault) => CarrierHealth::Down(format!("outage: {fault:?}")),
        }
    }

    async fn find_numbers(&self, request: &SearchRequest) -> Result<Vec<SearchResult>> {
        let faults = self.take_faults(Op::Find, None);
        match self.endure(faults, &request.prefix).await {
            Ok(()) => {}
            // Kazoo's carriers answer `not_available` for "no results".
            Err(Error::Unspecified {
                kind: UnspecifiedKind::NumberNotAvailable,
                ..
            }) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        }
        // Search on a copy: a long walk must not hold up buyers.
        let sold = self.lock().sold.clone();
        Ok(self.search(request, &sold))
    }

    async fn acquire(&self, order: &NumberOrder) -> Result<Map<String, Value>> {
        let subject = order.number.as_str();
        let faults = self.take_faults(Op::Acquire, Some(&order.number));
        self.endure(faults, subject).await?;
        if !self.accept_any && !self.offers(&order.number) {
            return Err(not_available(subject));
        }
        let mut state = self.lock();
        // Check and sale under one lock: this is what makes racing buyers safe.
        if !state.sold.insert(order.number) {
            return Err(not_available(subject));
        }
        let sequence = Self::next_sequence(&mut state);
        let order_id = format!("SIM-{:016X}", mix(self.seed ^ mix(sequence)));
        state.purchases.push(Purchase {
            number: order.number,
            account: order.account.clone(),
            sequence,
            order_id: order_id.clone(),
        });
        let mut data = order.carrier_data.clone();
        data.insert("order_id".into(), json!(order_id));
        Ok(data)
    }

    async fn disconnect(&self, order: &NumberOrder) -> Result<()> {
        let faults = self.take_faults(Op::Disconnect, Some(&order.number));
        self.endure(faults, order.number.as_str()).await?;
        let mut state = self.lock();
        state.sold.remove(&order.number);
        let sequence = Self::next_sequence(&mut state);
        state.disconnects.push(Disconnect {
            number: order.number,
            account: order.account.clone(),
            sequence,
        });
        Ok(())
    }

    async fn check_numbers(
        &self,
        numbers: &[PhoneNumber],
    ) -> Result<BTreeMap<PhoneNumber, Availability>> {
        let subject = numbers.first().map(PhoneNumber::as_str).unwrap_or("");
        let faults = self.take_faults(Op::Check, None);
        self.endure(faults, subject).await?;
        let state = self.lock();
        let mut out = BTreeMap::new();
        for n in numbers {
            let faulted = state
                .number_always
                .get(n)
                .is_some_and(|f| !matches!(f, Fault::Delay(_)))
                || state
                    .number_once
                    .get(n)
                    .is_some_and(|q| q.iter().any(|f| !matches!(f, Fault::Delay(_))));
            let ok = !faulted && !state.sold.contains(n) && (self.accept_any || self.offers(n));
            out.insert(
                *n,
                if ok {
                    Availability::Success
                } else {
                    Availability::Error
                },
            );
        }
        Ok(out)
    }

    async fn owned_numbers(
        &self,
        numbers: &[PhoneNumber],
    ) -> Result<BTreeMap<PhoneNumber, Ownership>> {
        let subject = numbers.first().map(PhoneNumber::as_str).unwrap_or("");
        let faults = self.take_faults(Op::Owned, None);
        self.endure(faults, subject).await?;
        let state = self.lock();
        Ok(numbers
            .iter()
            .map(|n| {
                let held = if state.sold.contains(n) {
                    let order = state.purchases.iter().rev().find(|p| p.number == *n);
                    let mut carrier_data = Map::new();
                    if let Some(p) = order {
                        carrier_data.insert("order_id".into(), json!(p.order_id));
                    }
                    Ownership::Ours { carrier_data }
                } else {
                    Ownership::NotOurs
                };
                (*n, held)
            })
            .collect())
    }
}

/// splitmix64's finalizer: a fast, well-mixed, stable hash (std's hasher is
/// not guaranteed stable across releases, and determinism is the point here).
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn in_catalogue(seed: u64, number: u64) -> bool {
    mix(seed ^ mix(number)).is_multiple_of(DENSITY)
}

/// A deterministic, UUID-shaped (version 4) upper-case id, as Kazoo shows.
fn number_id(seed: u64, number: &PhoneNumber) -> String {
    let n = number.strip_plus().parse::<u64>().unwrap_or(0);
    let hi = mix(seed.rotate_left(17) ^ mix(n));
    let lo = mix(hi ^ seed);
    format!(
        "{:08X}-{:04X}-4{:03X}-{:04X}-{:012X}",
        hi >> 32,
        (hi >> 16) & 0xFFFF,
        hi & 0x0FFF,
        0x8000 | ((lo >> 48) & 0x3FFF),
        lo & 0xFFFF_FFFF_FFFF
    )
}

/// Rate centers of some larger NANP cities: area code, rate center names,
/// state, LATA. Other area codes get only their state.
const RATE_CENTERS: &[(u16, &[&str], &str, &str)] = &[
    (201, &["JERSEY CITY"], "NJ", "224"),
    (202, &["WASHINGTON"], "DC", "236"),
    (206, &["SEATTLE"], "WA", "674"),
    (212, &["NEW YORK CITY"], "NY", "132"),
    (213, &["LOS ANGELES"], "CA", "730"),
    (214, &["DALLAS"], "TX", "552"),
    (215, &["PHILADELPHIA"], "PA", "228"),
    (303, &["DENVER"], "CO", "656"),
    (305, &["MIAMI"], "FL", "460"),
    (312, &["CHICAGO"], "IL", "358"),
    (313, &["DETROIT"], "MI", "340"),
    (404, &["ATLANTA"], "GA", "438"),
    (408, &["SAN JOSE"], "CA", "722"),
    (415, &["SAN FRANCISCO", "SAN RAFAEL"], "CA", "722"),
    (503, &["PORTLAND"], "OR", "672"),
    (510, &["OAKLAND"], "CA", "722"),
    (512, &["AUSTIN"], "TX", "558"),
    (602, &["PHOENIX"], "AZ", "666"),
    (612, &["MINNEAPOLIS"], "MN", "628"),
    (617, &["BOSTON"], "MA", "128"),
    (619, &["SAN DIEGO"], "CA", "732"),
    (628, &["SAN FRANCISCO"], "CA", "722"),
    (646, &["NEW YORK CITY"], "NY", "132"),
    (650, &["PALO ALTO", "SAN MATEO"], "CA", "722"),
    (702, &["LAS VEGAS"], "NV", "721"),
    (713, &["HOUSTON"], "TX", "560"),
    (718, &["NEW YORK CITY"], "NY", "132"),
    (917, &["NEW YORK CITY"], "NY", "132"),
];

fn rate_center(seed: u64, number: &PhoneNumber) -> Option<Value> {
    let npa = nanp::npa_of(number.as_str())?;
    if let Ok(i) = RATE_CENTERS.binary_search_by_key(&npa, |r| r.0) {
        let (_, names, state, lata) = RATE_CENTERS.get(i)?;
        // The name depends on the central office code, as a real rate center does.
        let npa_nxx = number.strip_plus().get(1..7)?.parse::<u64>().ok()?;
        let pick =
            usize::try_from(mix(seed ^ mix(npa_nxx)) % names.len().max(1) as u64).unwrap_or(0);
        let name = names.get(pick).or_else(|| names.first())?;
        return Some(json!({"lata": lata, "name": name, "state": state}));
    }
    let area = nanp::area(npa)?;
    (!area.region.is_empty()).then(|| json!({ "state": area.region }))
}

/// The usual national number length of some countries; 9 elsewhere.
fn national_length(cc: u16) -> usize {
    match cc {
        7 | 39 | 44 | 49 | 52 | 81 | 91 => 10,
        55 | 86 => 11,
        _ => 9,
    }
}

fn decimal_len(mut n: u64) -> usize {
    let mut len = 1;
    while n >= 10 {
        n /= 10;
        len += 1;
    }
    len
}

const TOLL_FREE: [u16; 7] = [800, 833, 844, 855, 866, 877, 888];

fn nanp_npa_allowed(npa: u16) -> bool {
    nanp::area(npa).is_some() || TOLL_FREE.contains(&npa)
}

/// Central office codes a carrier can sell: `2XX`-`9XX` without the `N11`
/// service codes and the reserved `555`, `950`, `958`, `959`, `976`.
fn nxx_allowed(nxx: u64) -> bool {
    (200..=999).contains(&nxx) && nxx % 100 != 11 && !matches!(nxx, 555 | 950 | 958 | 959 | 976)
}

/// The state of one catalogue walk: numbers to skip, numbers wanted, work left.
struct Walk<'a> {
    seed: u64,
    sold: &'a BTreeSet<PhoneNumber>,
    skip: usize,
    want: usize,
    budget: u64,
    found: Vec<u64>,
}

impl Walk<'_> {
    fn done(&self) -> bool {
        self.found.len() >= self.want || self.budget == 0
    }

    /// Visits the numbers `lo..=hi` (all of the same length), ascending.
    fn range(&mut self, lo: u64, hi: u64) {
        let mut n = lo;
        while n <= hi && !self.done() {
            self.budget -= 1;
            if in_catalogue(self.seed, n) && !self.is_sold(n) {
                if self.skip > 0 {
                    self.skip -= 1;
                } else {
                    self.found.push(n);
                }
            }
            n += 1;
        }
    }

    fn is_sold(&self, n: u64) -> bool {
        !self.sold.is_empty()
            && PhoneNumber::from_e164(&format!("+{n}")).is_ok_and(|p| self.sold.contains(&p))
    }
}

/// The numbers whose digits start with `prefix` and have `width` digits in
/// all: `(lo, hi)`, or `None` when the prefix is longer than the width.
fn digit_range(prefix: &str, width: usize) -> Option<(u64, u64)> {
    let free = width.checked_sub(prefix.len())?;
    let base: u64 = if prefix.is_empty() {
        0
    } else {
        prefix.parse().ok()?
    };
    let scale = 10u64.checked_pow(u32::try_from(free).ok()?)?;
    let lo = base.checked_mul(scale)?;
    Some((lo, lo.checked_add(scale - 1)?))
}

fn walk_nanp(walk: &mut Walk<'_>, national: &str, country: &str) {
    if national.len() > 10 {
        return;
    }
    let npa_prefix = national.get(..national.len().min(3)).unwrap_or("");
    let nxx_prefix = national.get(3..national.len().clamp(3, 6)).unwrap_or("");
    let line_prefix = national.get(6..).unwrap_or("");
    let country = country.trim().to_ascii_uppercase();
    let country_is_nanp = nanp::areas().iter().any(|a| a.country == country);
    let mut npas: Vec<u16> = nanp::areas()
        .iter()
        .filter(|a| a.npa.to_string().starts_with(npa_prefix))
        .filter(|a| npa_prefix.len() == 3 || !country_is_nanp || a.country == country)
        .map(|a: &NanpArea| a.npa)
        .collect();
    if let Ok(npa) = npa_prefix.parse::<u16>() {
        if npa_prefix.len() == 3 && TOLL_FREE.contains(&npa) {
            npas.push(npa);
        }
    }
    let Some((nxx_lo, nxx_hi)) = digit_range(nxx_prefix, 3) else {
        return;
    };
    let Some((line_lo, line_hi)) = digit_range(line_prefix, 4) else {
        return;
    };
    for npa in npas {
        for nxx in nxx_lo.max(200)..=nxx_hi {
            if walk.done() {
                return;
            }
            if !nxx_allowed(nxx) {
                continue;
            }
            let base = 10_000_000_000 + u64::from(npa) * 10_000_000 + nxx * 10_000;
            walk.range(base + line_lo, base + line_hi);
        }
    }
}

fn walk_international(walk: &mut Walk<'_>, digits: &str) {
    let Some(cc) = calling_code_of(digits) else {
        return;
    };
    let cc_len = decimal_len(u64::from(cc));
    let width = cc_len + national_length(cc);
    let Some((lo, hi)) = digit_range(digits, width) else {
        return;
    };
    // National numbers never start with 0 in E.164.
    let Some(first_valid) = digit_range(&format!("{cc}1"), width).map(|r| r.0) else {
        return;
    };
    walk.range(lo.max(first_valid), hi);
}
