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
#[async_trait]
pub trait Locality: Send + Sync + std::fmt::Debug {
    /// Per-number locality objects in the seeds' shape (`country`, `number`,
    /// `e164_number`, `geocode`, `locality`, `carrier`, `status`), keyed by E.164.
    async fn locality(&self, numbers: &[PhoneNumber]) -> Result<BTreeMap<PhoneNumber, Value>>;

    /// Prefixes serving a city in a country (ISO alpha-2). An unknown city is
    /// [`crate::Error::CityNotFound`] (a 404 with the seeds' `Not Found`
    /// data); [`crate::Error::InitFailed`] is for a backend that is not set up
    /// or fails.
    async fn city_prefixes(&self, country: &str, city: &str) -> Result<Value>;
}
