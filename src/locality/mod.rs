//! Locality: where a number is (country, region, city, carrier), and which
//! prefixes serve a city.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde_json::Value;

use crate::error::Result;
use crate::number::PhoneNumber;

pub(crate) mod nanp;
mod offline;
mod simulated;

pub use offline::OfflineLocality;
pub use simulated::SimulatedLocality;

/// A locality backend (Kazoo's "phonebook").
///
/// # Example
///
/// A locality backend answering from a host's table of prefixes and cities:
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use std::collections::BTreeMap;
/// use std::sync::Arc;
///
/// use serde_json::{json, Map, Value};
/// use number_manager::locality::Locality;
/// use number_manager::{async_trait, Error, NumberManager, PhoneNumber, Result};
///
/// /// (E.164 prefix, city) rows, all in the US.
/// #[derive(Debug)]
/// struct Cities(Vec<(&'static str, &'static str)>);
///
/// #[async_trait]
/// impl Locality for Cities {
///     async fn locality(&self, numbers: &[PhoneNumber]) -> Result<BTreeMap<PhoneNumber, Value>> {
///         let mut answers = BTreeMap::new();
///         for n in numbers {
///             let Some((_, city)) = self.0.iter().find(|(p, _)| n.as_str().starts_with(p)) else {
///                 continue; // nothing known of it: left out of the answer
///             };
///             let answer = json!({
///                 "number": n.as_str(), "e164_number": n.as_str(), "country": "US",
///                 "geocode": {"locality": city}, "status": "success",
///             });
///             answers.insert(*n, answer);
///         }
///         Ok(answers)
///     }
///
///     async fn city_prefixes(&self, country: &str, city: &str) -> Result<Value> {
///         let rows = self.0.iter().filter(|(_, c)| country == "US" && c.eq_ignore_ascii_case(city));
///         let prefixes: Vec<&str> = rows.map(|(p, _)| p.trim_start_matches("+1")).collect();
///         if prefixes.is_empty() {
///             return Err(Error::CityNotFound { country: country.into(), city: city.into() });
///         }
///         let mut answer = Map::new();
///         answer.insert(city.to_string(), json!(prefixes));
///         Ok(Value::Object(answer))
///     }
/// }
///
/// let table = Cities(vec![("+1415", "San Francisco"), ("+1628", "San Francisco"), ("+1212", "New York")]);
/// let manager = NumberManager::builder().locality(Arc::new(table)).build();
///
/// let answers = manager.locality(&["(415) 555-0100", "+12125550100"]).await?;
/// assert_eq!(answers["+14155550100"]["geocode"]["locality"], "San Francisco");
/// assert_eq!(answers["+12125550100"]["geocode"]["locality"], "New York");
/// let prefixes = manager.city_prefixes("US", "San Francisco").await?;
/// assert_eq!(prefixes, json!({"San Francisco": ["415", "628"]}));
/// let unknown = manager.city_prefixes("US", "Atlantis").await;
/// assert!(matches!(unknown, Err(Error::CityNotFound { .. })));
/// # Ok::<(), Error>(())
/// # }).unwrap();
/// ```
#[async_trait]
pub trait Locality: Send + Sync + std::fmt::Debug {
    /// Per-number locality objects in Kazoo's shape (`country`, `number`,
    /// `e164_number`, `geocode`, `locality`, `carrier`, `status`), keyed by
    /// E.164. The manager answers them as given; a number the backend knows
    /// nothing of may be left out.
    async fn locality(&self, numbers: &[PhoneNumber]) -> Result<BTreeMap<PhoneNumber, Value>>;

    /// Prefixes serving a city in a country (ISO alpha-2). An unknown city is
    /// [`crate::Error::CityNotFound`] (a 404 whose data is `Not Found`); [`crate::Error::InitFailed`] is for a backend that is not set up
    /// or fails.
    async fn city_prefixes(&self, country: &str, city: &str) -> Result<Value>;
}
