//! [`SimulatedLocality`]: a locality backend a host or a test configures.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use serde_json::{json, Map, Value};

use super::offline::{city_not_found, normalize_name, OfflineLocality};
use super::Locality;
use crate::error::{Error, Result};
use crate::number::PhoneNumber;

/// Kazoo's error data when the phonebook backend is not set up.
const NOT_SET_UP: &str = "Unable to acquire numbers missing carrier url";

/// A locality backend whose answers are set by the host or a test.
///
/// - Per-number answers: [`insert`](Self::insert) an object (any JSON, returned
///   as is). A number without one gets a generated answer: what
///   [`OfflineLocality`] says about it (country, state or province of a `+1`
///   number, number type elsewhere), so a test only configures what it cares
///   about.
/// - Cities: [`insert_city`](Self::insert_city) maps a city to its prefixes.
///   The table starts empty; a lookup matches the whole city name,
///   case-insensitively and ignoring repeated spaces, and answers
///   `{"<city as inserted>": [<prefixes>]}`. An unknown city is
///   [`Error::CityNotFound`] (404, with Kazoo's `Not Found` data).
/// - Failure: [`fail_with`](Self::fail_with) makes every call fail with
///   [`Error::InitFailed`] carrying the given data, and
///   [`fail_not_set_up`](Self::fail_not_set_up) uses Kazoo's "backend not
///   set up" message; [`recover`](Self::recover) ends it.
///
/// Every method takes `&self`, so a shared instance can be reconfigured while a
/// manager uses it.
///
/// ```
/// use number_manager::locality::{Locality, SimulatedLocality};
/// use number_manager::{Error, PhoneNumber};
/// use serde_json::json;
/// # block_on(async {
/// let locality = SimulatedLocality::new();
/// let n = PhoneNumber::parse("+14155550100").unwrap();
/// locality.insert(n, json!({"country": "US", "status": "success", "geocode": {"locality": "Belvedere"}}));
/// assert_eq!(locality.locality(&[n]).await.unwrap()[&n]["geocode"]["locality"], "Belvedere");
///
/// locality.insert_city("US", "Springfield", ["217", "447"]);
/// assert_eq!(
///     locality.city_prefixes("US", "springfield").await.unwrap(),
///     json!({"Springfield": ["217", "447"]})
/// );
///
/// locality.fail_not_set_up();
/// assert!(matches!(locality.locality(&[n]).await, Err(Error::InitFailed { .. })));
/// # });
/// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
#[derive(Debug, Default)]
pub struct SimulatedLocality {
    inner: Mutex<State>,
    fallback: OfflineLocality,
}

#[derive(Debug, Default)]
struct State {
    numbers: HashMap<PhoneNumber, Value>,
    /// (upper-case country, normalized city) -> (city as inserted, prefixes).
    cities: BTreeMap<(String, String), (String, Vec<String>)>,
    failure: Option<Value>,
    locality_calls: usize,
    city_calls: usize,
}

impl SimulatedLocality {
    /// A backend with no configured answers and no cities.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sets the answer for a number (returned as is, whatever its shape).
    pub fn insert(&self, number: PhoneNumber, answer: Value) {
        self.lock().numbers.insert(number, answer);
    }

    /// Forgets a number's answer (it gets the generated one again).
    pub fn remove(&self, number: &PhoneNumber) {
        self.lock().numbers.remove(number);
    }

    /// Sets the prefixes of a city in a country (ISO alpha-2).
    pub fn insert_city<I, S>(&self, country: &str, city: &str, prefixes: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let key = (country.trim().to_ascii_uppercase(), normalize_name(city));
        let value = (
            city.trim().to_string(),
            prefixes.into_iter().map(Into::into).collect(),
        );
        self.lock().cities.insert(key, value);
    }

    /// Makes every call fail with [`Error::InitFailed`] carrying `data`.
    pub fn fail_with(&self, data: Value) {
        self.lock().failure = Some(data);
    }

    /// Makes every call fail as Kazoo's "backend to phonebook not set up".
    pub fn fail_not_set_up(&self) {
        self.fail_with(json!(NOT_SET_UP));
    }

    /// Ends a failure set with [`fail_with`](Self::fail_with).
    pub fn recover(&self) {
        self.lock().failure = None;
    }

    /// How many `locality` calls were made (failed ones included).
    pub fn locality_calls(&self) -> usize {
        self.lock().locality_calls
    }

    /// How many `city_prefixes` calls were made (failed ones included).
    pub fn city_calls(&self) -> usize {
        self.lock().city_calls
    }
}

#[async_trait]
impl Locality for SimulatedLocality {
    async fn locality(&self, numbers: &[PhoneNumber]) -> Result<BTreeMap<PhoneNumber, Value>> {
        let mut missing = Vec::new();
        let mut out = BTreeMap::new();
        {
            let mut state = self.lock();
            state.locality_calls += 1;
            if let Some(data) = &state.failure {
                return Err(Error::InitFailed {
                    data: Box::new(data.clone()),
                });
            }
            for n in numbers {
                match state.numbers.get(n) {
                    Some(v) => {
                        out.insert(*n, v.clone());
                    }
                    None => missing.push(*n),
                }
            }
        }
        // Generated answers are computed without holding the lock: the
        // fallback may be slow for non-NANP numbers.
        for n in missing {
            out.insert(n, self.fallback.lookup(&n));
        }
        Ok(out)
    }

    async fn city_prefixes(&self, country: &str, city: &str) -> Result<Value> {
        let mut state = self.lock();
        state.city_calls += 1;
        if let Some(data) = &state.failure {
            return Err(Error::InitFailed {
                data: Box::new(data.clone()),
            });
        }
        let key = (country.trim().to_ascii_uppercase(), normalize_name(city));
        match state.cities.get(&key) {
            Some((name, prefixes)) => {
                let mut out = Map::new();
                out.insert(name.clone(), json!(prefixes));
                Ok(Value::Object(out))
            }
            None => Err(city_not_found(country, city)),
        }
    }
}
