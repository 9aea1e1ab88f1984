//! E911 address provisioning through an [`E911Provider`].
//!
//! Three outcomes of validation (seeds): the address is invalid (400 `invalid
//! data`), matches several locations (400 `multiple_choice`), or geocodes and
//! is then provisioned (the provider's address replaces the public `e911`).

use crate::error::Result;
use crate::number::PhoneNumber;
use async_trait::async_trait;

mod simulated;
pub use crate::fields::{E911Address, LegacyData};
pub use simulated::SimulatedE911;

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
