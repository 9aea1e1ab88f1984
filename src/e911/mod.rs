//! E911 address provisioning through an [`E911Provider`].
//!
//! Three outcomes of validation, as in Kazoo: the address is invalid (400
//! `invalid data`), matches several locations (400 `multiple_choice`), or geocodes and
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
///
/// What the manager does with each answer:
/// - `validate` is asked first, on dry runs too. [`Validation::Invalid`]
///   fails the number with [`Error::E911Invalid`](crate::Error::E911Invalid),
///   [`Validation::Candidates`] of more than one address with
///   [`Error::MultipleChoice`](crate::Error::MultipleChoice) (`set_e911`
///   answers both as an [`E911Outcome`](crate::manager::E911Outcome)); a
///   single candidate counts as geocoded;
/// - `provision` is then called with the submitted address, and the address
///   it answers becomes the number's public `e911`;
/// - an error from either fails the number and changes nothing (a number
///   bought by the same operation is given back to its carrier);
/// - `remove` is called once the record without the address is written, and
///   its error is ignored: the number no longer shows an address.
///
/// # Example
///
/// A provider that places every address of one postal code:
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use std::collections::BTreeMap;
/// use std::sync::{Arc, Mutex};
///
/// use number_manager::account::MemoryAccounts;
/// use number_manager::e911::{E911Address, E911Provider, Validation};
/// use number_manager::manager::E911Outcome;
/// use number_manager::{async_trait, Config, Error, NumberManager, Options, PhoneNumber, Result};
///
/// #[derive(Debug, Default)]
/// struct OneZip(Mutex<BTreeMap<PhoneNumber, E911Address>>);
///
/// #[async_trait]
/// impl E911Provider for OneZip {
///     fn name(&self) -> &str {
///         "one_zip"
///     }
///
///     async fn validate(&self, address: &E911Address) -> Result<Validation> {
///         if address.postal_code != "94105" {
///             let message = "Location is not geocoded".to_string();
///             return Ok(Validation::Invalid { message });
///         }
///         let mut geocoded = address.clone();
///         geocoded.status = Some("GEOCODED".into());
///         Ok(Validation::Geocoded(Box::new(geocoded)))
///     }
///
///     async fn provision(
///         &self,
///         number: &PhoneNumber,
///         address: &E911Address,
///         caller_name: &str,
///     ) -> Result<E911Address> {
///         let mut provisioned = address.clone().with_caller_name(caller_name);
///         provisioned.status = Some("PROVISIONED".into());
///         let mut book = self.0.lock().unwrap_or_else(|p| p.into_inner());
///         book.insert(*number, provisioned.clone());
///         Ok(provisioned)
///     }
///
///     async fn remove(&self, number: &PhoneNumber) -> Result<()> {
///         self.0.lock().unwrap_or_else(|p| p.into_inner()).remove(number);
///         Ok(())
///     }
/// }
///
/// let accounts = Arc::new(MemoryAccounts::new());
/// let master = accounts.add("master", "Master", None)?;
/// accounts.set_master(&master, true);
/// // Numbers created directly are local, and local numbers may use E911 only
/// // when the configuration lets them.
/// let mut config = Config::default();
/// config.features.local_feature_override = true;
/// let provider = Arc::new(OneZip::default());
/// let manager = NumberManager::builder()
///     .accounts(accounts)
///     .config(config)
///     .e911(provider.clone())
///     .build();
/// let opts = Options::as_account(&master);
/// manager.create(&master, "4155550100", Default::default(), &opts).await?;
///
/// let natoma = E911Address::new("116 Natoma St", "San Francisco", "CA", "94105");
/// let E911Outcome::Provisioned { address, .. } = manager.set_e911("4155550100", natoma, &opts).await?
/// else { panic!("94105 is placed") };
/// assert_eq!(address.status.as_deref(), Some("PROVISIONED"));
/// assert_eq!(provider.0.lock().unwrap().len(), 1);
///
/// let elsewhere = E911Address::new("1 Main St", "Springfield", "IL", "62701");
/// let outcome = manager.set_e911("4155550100", elsewhere, &opts).await?;
/// assert!(matches!(outcome, E911Outcome::Invalid { .. }));
///
/// manager.remove_e911("4155550100", &opts).await?;
/// assert!(provider.0.lock().unwrap().is_empty());
/// # Ok::<(), Error>(())
/// # }).unwrap();
/// ```
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
