//! [`SimulatedE911`]: an in-process E911 provider with an address book.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::SecondsFormat;

use super::{E911Address, E911Provider, LegacyData, Validation};
use crate::carrier::Fault;
use crate::clock::{Clock, SystemClock};
use crate::error::{Error, Result, UnspecifiedKind};
use crate::number::PhoneNumber;

/// The message of an address the provider cannot place (as Kazoo answers).
const NOT_GEOCODED: &str = "Location is not geocoded";
/// The message of an ambiguous address (as Kazoo answers).
const MORE_THAN_ONE: &str = "more than one address found";
/// Location ids handed to book entries that come without one.
const FIRST_LOCATION_ID: u64 = 30_000_001;

/// What the provider knows about one (normalized) address.
#[derive(Debug, Clone)]
enum Entry {
    // Boxed: an address is large next to a Vec.
    Valid(Box<E911Address>),
    Ambiguous(Vec<E911Address>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Op {
    Validate,
    Provision,
    Remove,
}

#[derive(Debug)]
struct State {
    book: HashMap<String, Entry>,
    provisioned: BTreeMap<PhoneNumber, E911Address>,
    removals: Vec<PhoneNumber>,
    calls: HashMap<Op, usize>,
    faults: HashMap<Op, VecDeque<Fault>>,
    next_location_id: u64,
}

/// An E911 provider that answers from an address book the host or a test
/// fills in, with no network.
///
/// # Address book
///
/// - [`add_valid`](Self::add_valid) registers an address that geocodes to
///   exactly one location: the address given is what the provider answers,
///   with street, extended address, locality and region upper-cased (as the
///   Kazoo's provider does), a generated `location_id` when none is given, and
///   `legacy_data` (house number, street name, suite) derived from the street
///   when none is given.
/// - [`add_ambiguous`](Self::add_ambiguous) registers an address that matches
///   several locations. Each candidate whose own street and postal code differ
///   from the ambiguous address is also registered as a valid address, so that
///   submitting a candidate provisions it.
/// - Anything else is [`Validation::Invalid`] with Kazoo's message
///   `Location is not geocoded`.
///
/// Addresses are matched on `street_address` and `postal_code` only,
/// normalized: case, repeated whitespace, `.` and `,` are ignored, and a ZIP+4
/// matches its five-digit ZIP (`94105-3745` is `94105`). The submitted
/// locality, region and extended address do not take part, as a geocoder
/// keys on the street and the postal code.
///
/// # Calls
///
/// - `validate` answers [`Validation::Geocoded`] (the book's address with
///   `status: GEOCODED`, keeping the submitted extended address when the book
///   has none), [`Validation::Candidates`] or [`Validation::Invalid`].
/// - `provision` looks the address up the same way and answers the book's
///   address with `status: PROVISIONED`, `caller_name` (or `Valued Customer`
///   when empty, as Kazoo falls back to) and `activated_time` (RFC 3339, from
///   the clock). An invalid address fails with [`Error::E911Invalid`], an
///   ambiguous one with [`Error::MultipleChoice`] (unless it is exactly one of
///   the candidates). Provisions are recorded per number.
/// - `remove` forgets the number's address and records the removal (also for
///   a number with nothing provisioned: like Dash, removal always succeeds).
///
/// # Faults
///
/// [`fail_next_validate`](Self::fail_next_validate),
/// [`fail_next_provision`](Self::fail_next_provision) and
/// [`fail_next_remove`](Self::fail_next_remove) script the next calls with a
/// [`Fault`]: `Error` is [`Error::Unspecified`] `server_error` (the reference's
/// HTTP 500/503 outcome), `Timeout` is `timeout`, `NotAvailable` is
/// `unreachable`, and `Delay` waits, then answers normally. A failed call
/// changes nothing.
///
/// ```
/// use number_manager::e911::{E911Address, E911Provider, SimulatedE911, Validation};
/// use number_manager::PhoneNumber;
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let e911 = SimulatedE911::seed_demo();
/// let submitted = E911Address {
///     street_address: "116 Natoma St".into(),
///     extended_address: Some("Apt 116".into()),
///     locality: "San Francisco".into(),
///     region: "CA".into(),
///     postal_code: "94105".into(),
///     ..Default::default()
/// };
/// let Validation::Geocoded(found) = e911.validate(&submitted).await.unwrap() else { panic!() };
/// assert_eq!(found.location_id.as_deref(), Some("27578725"));
///
/// let number = PhoneNumber::parse("+14155550100").unwrap();
/// let done = e911.provision(&number, &submitted, "Valued Customer").await.unwrap();
/// assert_eq!(done.status.as_deref(), Some("PROVISIONED"));
/// assert_eq!(done.street_address, "116 NATOMA ST");
/// assert_eq!(e911.provisioned()[&number], done);
///
/// let nowhere = E911Address { street_address: "1 Nowhere Rd".into(), ..submitted };
/// assert!(matches!(e911.validate(&nowhere).await.unwrap(), Validation::Invalid { .. }));
/// # });
/// ```
#[derive(Debug)]
pub struct SimulatedE911 {
    name: String,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
}

impl Default for SimulatedE911 {
    fn default() -> Self {
        Self::new()
    }
}

impl SimulatedE911 {
    /// An empty address book, named `dash_e911`, on the system clock.
    pub fn new() -> Self {
        SimulatedE911 {
            name: "dash_e911".into(),
            clock: Arc::new(SystemClock),
            state: Mutex::new(State {
                book: HashMap::new(),
                provisioned: BTreeMap::new(),
                removals: Vec::new(),
                calls: HashMap::new(),
                faults: HashMap::new(),
                next_location_id: FIRST_LOCATION_ID,
            }),
        }
    }

    /// A provider preloaded with Kazoo's example: `116 NATOMA ST`, `APT
    /// 116`, `SAN FRANCISCO`, `CA`, `94105`, geocoded at 37.786861,
    /// -122.399484, location 27578725, ZIP+4 3745; and one ambiguous address,
    /// `1 MARKET`, `94105`, with two candidates: `1 MARKET ST` (location
    /// 27578801) and `1 MARKET PLZ` (location 27578802).
    pub fn seed_demo() -> Self {
        let e911 = Self::new();
        e911.add_valid(E911Address {
            street_address: "116 NATOMA ST".into(),
            extended_address: Some("APT 116".into()),
            locality: "SAN FRANCISCO".into(),
            region: "CA".into(),
            postal_code: "94105".into(),
            latitude: Some("37.786861".into()),
            longitude: Some("-122.399484".into()),
            location_id: Some("27578725".into()),
            plus_four: Some("3745".into()),
            legacy_data: Some(LegacyData {
                house_number: Some("116".into()),
                predirectional: None,
                streetname: Some("NATOMA ST".into()),
                suite: Some("APT 116".into()),
            }),
            ..Default::default()
        });
        let candidate =
            |street: &str, lat: &str, lon: &str, id: &str, plus_four: &str| E911Address {
                street_address: street.into(),
                locality: "SAN FRANCISCO".into(),
                region: "CA".into(),
                postal_code: "94105".into(),
                latitude: Some(lat.into()),
                longitude: Some(lon.into()),
                location_id: Some(id.into()),
                plus_four: Some(plus_four.into()),
                ..Default::default()
            };
        e911.add_ambiguous(
            E911Address {
                street_address: "1 MARKET".into(),
                locality: "SAN FRANCISCO".into(),
                region: "CA".into(),
                postal_code: "94105".into(),
                ..Default::default()
            },
            vec![
                candidate(
                    "1 MARKET ST",
                    "37.794051",
                    "-122.394785",
                    "27578801",
                    "1420",
                ),
                candidate(
                    "1 MARKET PLZ",
                    "37.793945",
                    "-122.394397",
                    "27578802",
                    "1403",
                ),
            ],
        );
        e911
    }

    /// Renames the provider (the name the API shows in errors).
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Uses this clock for `activated_time` (a `ManualClock` in tests).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers an address that geocodes to exactly one location (see the
    /// type's documentation); replaces what the book had for it.
    pub fn add_valid(&self, address: E911Address) {
        let mut state = self.lock();
        let entry = canonical(address, &mut state);
        state
            .book
            .insert(key(&entry), Entry::Valid(Box::new(entry)));
    }

    /// Registers an address that matches several candidate locations.
    pub fn add_ambiguous(&self, address: E911Address, candidates: Vec<E911Address>) {
        let mut state = self.lock();
        let ambiguous_key = key(&address);
        let candidates: Vec<E911Address> = candidates
            .into_iter()
            .map(|c| canonical(c, &mut state))
            .collect();
        for c in &candidates {
            let k = key(c);
            if k != ambiguous_key {
                state
                    .book
                    .entry(k)
                    .or_insert_with(|| Entry::Valid(Box::new(c.clone())));
            }
        }
        state
            .book
            .insert(ambiguous_key, Entry::Ambiguous(candidates));
    }

    /// Forgets an address (it becomes invalid).
    pub fn forget(&self, address: &E911Address) {
        self.lock().book.remove(&key(address));
    }

    /// The addresses currently provisioned, by number.
    pub fn provisioned(&self) -> BTreeMap<PhoneNumber, E911Address> {
        self.lock().provisioned.clone()
    }

    /// Every successful `remove`, oldest first.
    pub fn removals(&self) -> Vec<PhoneNumber> {
        self.lock().removals.clone()
    }

    /// How many `validate` calls were made (failed ones included).
    pub fn validate_count(&self) -> usize {
        self.count(Op::Validate)
    }

    /// How many `provision` calls were made (failed ones included).
    pub fn provision_count(&self) -> usize {
        self.count(Op::Provision)
    }

    /// How many `remove` calls were made (failed ones included).
    pub fn remove_count(&self) -> usize {
        self.count(Op::Remove)
    }

    fn count(&self, op: Op) -> usize {
        self.lock().calls.get(&op).copied().unwrap_or(0)
    }

    /// Makes the next `validate` call fail with `fault` (calls queue up).
    pub fn fail_next_validate(&self, fault: Fault) {
        self.fail_next(Op::Validate, fault);
    }

    /// Makes the next `provision` call fail with `fault` (calls queue up).
    pub fn fail_next_provision(&self, fault: Fault) {
        self.fail_next(Op::Provision, fault);
    }

    /// Makes the next `remove` call fail with `fault` (calls queue up).
    pub fn fail_next_remove(&self, fault: Fault) {
        self.fail_next(Op::Remove, fault);
    }

    fn fail_next(&self, op: Op, fault: Fault) {
        self.lock().faults.entry(op).or_default().push_back(fault);
    }

    /// Counts the call and plays its scripted fault, if any.
    async fn begin(&self, op: Op) -> Result<()> {
        let fault = {
            let mut state = self.lock();
            *state.calls.entry(op).or_default() += 1;
            state.faults.get_mut(&op).and_then(VecDeque::pop_front)
        };
        let Some(fault) = fault else {
            return Ok(());
        };
        fault.wait().await;
        let kind = match fault {
            Fault::Error => UnspecifiedKind::ServerError,
            Fault::Timeout => UnspecifiedKind::Timeout,
            Fault::NotAvailable => UnspecifiedKind::Unreachable,
            Fault::Delay(_) => return Ok(()),
        };
        Err(Error::unspecified(kind, self.name.clone()))
    }

    fn lookup(&self, address: &E911Address) -> Option<Entry> {
        self.lock().book.get(&key(address)).cloned()
    }
}

#[async_trait]
impl E911Provider for SimulatedE911 {
    fn name(&self) -> &str {
        &self.name
    }

    async fn validate(&self, address: &E911Address) -> Result<Validation> {
        self.begin(Op::Validate).await?;
        Ok(match self.lookup(address) {
            Some(Entry::Valid(found)) => {
                let mut found = with_submitted_extras(*found, address);
                found.status = Some("GEOCODED".into());
                Validation::Geocoded(Box::new(found))
            }
            Some(Entry::Ambiguous(candidates)) => Validation::Candidates(candidates),
            None => Validation::Invalid {
                message: NOT_GEOCODED.into(),
            },
        })
    }

    async fn provision(
        &self,
        number: &PhoneNumber,
        address: &E911Address,
        caller_name: &str,
    ) -> Result<E911Address> {
        self.begin(Op::Provision).await?;
        let found = match self.lookup(address) {
            Some(Entry::Valid(found)) => *found,
            Some(Entry::Ambiguous(candidates)) => {
                let wanted = canonical_view(address);
                match candidates.iter().find(|c| canonical_view(c) == wanted) {
                    Some(c) => c.clone(),
                    None => {
                        return Err(Error::MultipleChoice {
                            provider: self.name.clone(),
                            address: Box::new(address.submitted_json()),
                            // The seeds show each candidate in the submitted shape.
                            details: candidates.iter().map(E911Address::submitted_json).collect(),
                            message: MORE_THAN_ONE.into(),
                        });
                    }
                }
            }
            None => {
                return Err(Error::E911Invalid {
                    provider: self.name.clone(),
                    address: Box::new(address.submitted_json()),
                    message: NOT_GEOCODED.into(),
                })
            }
        };
        let mut done = with_submitted_extras(found, address);
        let caller_name = caller_name.trim();
        done.caller_name = Some(if caller_name.is_empty() {
            "Valued Customer".into()
        } else {
            caller_name.to_string()
        });
        done.status = Some("PROVISIONED".into());
        done.activated_time = Some(self.clock.now().to_rfc3339_opts(SecondsFormat::Secs, true));
        self.lock().provisioned.insert(*number, done.clone());
        Ok(done)
    }

    async fn remove(&self, number: &PhoneNumber) -> Result<()> {
        self.begin(Op::Remove).await?;
        let mut state = self.lock();
        state.provisioned.remove(number);
        state.removals.push(*number);
        Ok(())
    }
}

/// Upper-case, single-spaced, without `.` and `,`.
fn normalize(s: &str) -> String {
    s.split(|c: char| c.is_whitespace() || c == '.' || c == ',')
        .filter(|w| !w.is_empty())
        .map(str::to_uppercase)
        .collect::<Vec<_>>()
        .join(" ")
}

/// A postal code without spaces, and a ZIP+4 cut to its ZIP.
fn normalize_postal(s: &str) -> String {
    let compact: String = s
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_uppercase();
    match compact.split_once('-') {
        Some((zip, _)) => zip.to_string(),
        None => compact,
    }
}

fn key(address: &E911Address) -> String {
    format!(
        "{}|{}",
        normalize(&address.street_address),
        normalize_postal(&address.postal_code)
    )
}

/// What tells two candidates of one ambiguous address apart.
fn canonical_view(a: &E911Address) -> (String, String, String, String) {
    (
        normalize(&a.street_address),
        normalize(a.extended_address.as_deref().unwrap_or("")),
        normalize(&a.locality),
        normalize_postal(&a.postal_code),
    )
}

/// A book entry as the provider answers it: upper-cased, with a location id
/// and legacy data.
fn canonical(mut a: E911Address, state: &mut State) -> E911Address {
    a.street_address = normalize(&a.street_address);
    a.extended_address = a
        .extended_address
        .as_deref()
        .map(normalize)
        .filter(|s| !s.is_empty());
    a.locality = normalize(&a.locality);
    a.region = normalize(&a.region);
    a.postal_code = a.postal_code.trim().to_string();
    a.status = None;
    a.caller_name = None;
    a.activated_time = None;
    if a.location_id.is_none() {
        a.location_id = Some(state.next_location_id.to_string());
        state.next_location_id += 1;
    }
    if a.legacy_data.is_none() {
        let (house, street) = match a.street_address.split_once(' ') {
            Some((h, s)) if h.chars().all(|c| c.is_ascii_digit()) => {
                (Some(h.to_string()), s.to_string())
            }
            _ => (None, a.street_address.clone()),
        };
        a.legacy_data = Some(LegacyData {
            house_number: house,
            predirectional: None,
            streetname: Some(street),
            suite: a.extended_address.clone(),
        });
    }
    a
}

/// The book's answer, keeping the submitted extended address when the book
/// has none (a suite the geocoder does not know about still matters to
/// responders).
fn with_submitted_extras(mut found: E911Address, submitted: &E911Address) -> E911Address {
    if found.extended_address.is_none() {
        found.extended_address = submitted
            .extended_address
            .as_deref()
            .map(normalize)
            .filter(|s| !s.is_empty());
    }
    found
}
