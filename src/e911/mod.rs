//! E911 address provisioning through an [`E911Provider`].
//!
//! Three outcomes of validation (seeds): the address is invalid (400 `invalid
//! data`), matches several locations (400 `multiple_choice`), or geocodes and
//! is then provisioned (the provider's address replaces the public `e911`).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::number::PhoneNumber;

mod simulated;
pub use simulated::SimulatedE911;

/// Legacy (MSAG) parts of an address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegacyData {
    /// House number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub house_number: Option<String>,
    /// Pre-directional (`N`, `SW`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predirectional: Option<String>,
    /// Street name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub streetname: Option<String>,
    /// Suite.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suite: Option<String>,
}

/// An E911 service address, as submitted or as provisioned (seeds' schema).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct E911Address {
    /// Street address (required).
    pub street_address: String,
    /// Suite / floor / apartment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extended_address: Option<String>,
    /// Name shown to emergency services.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_name: Option<String>,
    /// City (required).
    pub locality: String,
    /// Latitude computed by the provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latitude: Option<String>,
    /// Longitude computed by the provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub longitude: Option<String>,
    /// The provider's id for the location.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location_id: Option<String>,
    /// ZIP+4 extension.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plus_four: Option<String>,
    /// Postal code (required).
    pub postal_code: String,
    /// Region / state, 2 characters (required).
    pub region: String,
    /// `INVALID`, `GEOCODED`, `PROVISIONED`, `REMOVED` or `ERROR`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// When it was provisioned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activated_time: Option<String>,
    /// Legacy address parts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legacy_data: Option<LegacyData>,
}

impl E911Address {
    /// Reads an address from the public `e911` object.
    pub fn from_json(value: &Value) -> Result<Self> {
        serde_json::from_value(value.clone())
            .map_err(|e| Error::validation("e911", "type", format!("invalid e911 address: {e}")))
    }

    /// The address as a JSON object (absent fields omitted).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Object(Map::new()))
    }

    /// Only the fields a user submits (what the seeds echo back as `cause`).
    pub fn submitted_json(&self) -> Value {
        let mut m = Map::new();
        m.insert(
            "postal_code".into(),
            Value::String(self.postal_code.clone()),
        );
        m.insert(
            "street_address".into(),
            Value::String(self.street_address.clone()),
        );
        if let Some(x) = &self.extended_address {
            m.insert("extended_address".into(), Value::String(x.clone()));
        }
        m.insert("locality".into(), Value::String(self.locality.clone()));
        m.insert("region".into(), Value::String(self.region.clone()));
        Value::Object(m)
    }
}

/// The result of validating an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Validation {
    /// Exactly one location; provisioning may go ahead.
    Geocoded(Box<E911Address>),
    /// Several candidate locations; the user must pick one.
    Candidates(Vec<E911Address>),
    /// Not a known location.
    Invalid {
        /// The provider's explanation (`Location is not geocoded`).
        message: String,
    },
}

/// An emergency-address provider (Bandwidth Dash, Telnyx, ...).
#[async_trait]
pub trait E911Provider: Send + Sync + std::fmt::Debug {
    /// The name the API shows in errors (`dash_e911`).
    fn name(&self) -> &str;

    /// Validates an address. Read-only: allowed on dry runs.
    async fn validate(&self, address: &E911Address) -> Result<Validation>;

    /// Provisions the address for a number; returns the provisioned address
    /// (with `location_id`, coordinates, `status` = `PROVISIONED`, ...).
    async fn provision(
        &self,
        number: &PhoneNumber,
        address: &E911Address,
        caller_name: &str,
    ) -> Result<E911Address>;

    /// Removes the number's address upstream.
    async fn remove(&self, number: &PhoneNumber) -> Result<()>;
}
