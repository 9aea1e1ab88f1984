//! The typed operations hosts use most: CNAM and E911, one number or many.
//!
//! Each sets (or removes) one public field and goes through the same
//! pipeline as [`NumberManager::update`]: the change is validated, features
//! are recomputed, the E911 provider validates and provisions, and the
//! record is written with its event. Custom fields and the other public
//! fields are left as they are.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::pipeline::{Change, Request};
use super::{BatchResult, NumberManager, Options, Outcome};
use crate::error::{Error, Result};
use crate::fields::{Cnam, E911Address};
use crate::lifecycle::Op;

/// What [`NumberManager::set_e911`] did with an address: the seeds' three
/// answers of an E911 provider.
#[derive(Debug, Clone, PartialEq)]
pub enum E911Outcome {
    /// The address geocoded and is provisioned: `address` is the provider's
    /// normalized address, now the number's public `e911`. On a dry run it
    /// is validated but not provisioned, and `address` is the one submitted.
    Provisioned {
        /// The address as the provider normalized it.
        address: Box<E911Address>,
        /// The operation's outcome (the record as written).
        outcome: Box<Outcome>,
    },
    /// The provider cannot place the address; nothing was changed.
    Invalid {
        /// The provider's name (`dash_e911`).
        provider: String,
        /// The provider's explanation (`Location is not geocoded`).
        message: String,
        /// The address submitted.
        address: Box<E911Address>,
    },
    /// The address matches several locations; nothing was changed. Submit
    /// one of `candidates` to provision it.
    MultipleChoice {
        /// The provider's name (`dash_e911`).
        provider: String,
        /// The provider's explanation (`more than one address found`).
        message: String,
        /// The address submitted.
        address: Box<E911Address>,
        /// The locations it matches.
        candidates: Vec<E911Address>,
    },
}

impl E911Outcome {
    /// Whether the address is (or, on a dry run, would be) provisioned.
    pub fn is_provisioned(&self) -> bool {
        matches!(self, E911Outcome::Provisioned { .. })
    }

    /// The result of an E911 change: the provider's two refusals become
    /// outcomes, every other error stays one.
    fn of(result: Result<Outcome>, submitted: &E911Address) -> Result<Self> {
        match result {
            Ok(outcome) => {
                let address = outcome
                    .record
                    .public_fields()
                    .e911()
                    .ok()
                    .flatten()
                    .unwrap_or_else(|| submitted.clone());
                Ok(E911Outcome::Provisioned {
                    address: Box::new(address),
                    outcome: Box::new(outcome),
                })
            }
            Err(Error::E911Invalid {
                provider, message, ..
            }) => Ok(E911Outcome::Invalid {
                provider,
                message,
                address: Box::new(submitted.clone()),
            }),
            Err(Error::MultipleChoice {
                provider,
                message,
                details,
                ..
            }) => Ok(E911Outcome::MultipleChoice {
                provider,
                message,
                address: Box::new(submitted.clone()),
                candidates: details
                    .iter()
                    .filter_map(|d| E911Address::from_json(d).ok())
                    .collect(),
            }),
            Err(e) => Err(e),
        }
    }
}

/// The per-number results of [`NumberManager::set_e911_many`].
///
/// Keys are E.164 numbers, or the raw input for inputs that did not parse.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct E911Results {
    /// The numbers the provider answered for, with its answer.
    pub outcomes: BTreeMap<String, E911Outcome>,
    /// The numbers that failed otherwise (not found, forbidden, ...).
    pub errors: BTreeMap<String, Error>,
}

impl E911Results {
    fn of(batch: BatchResult, submitted: &E911Address) -> Self {
        let mut results = E911Results::default();
        let items = batch
            .success
            .into_iter()
            .map(|(k, o)| (k, Ok(o)))
            .chain(batch.errors.into_iter().map(|(k, e)| (k, Err(e))));
        for (key, result) in items {
            match E911Outcome::of(result, submitted) {
                Ok(outcome) => {
                    results.outcomes.insert(key, outcome);
                }
                Err(e) => {
                    results.errors.insert(key, e);
                }
            }
        }
        results
    }
}

fn set(fields: Map<String, Value>, opts: &Options) -> Request {
    Request {
        op: Op::Edit,
        change: Change::Set(fields),
        opts: opts.clone(),
        journal: None,
    }
}

fn cnam_change(cnam: Option<&Cnam>) -> Map<String, Value> {
    let value = cnam
        .and_then(|c| serde_json::to_value(c).ok())
        .unwrap_or(Value::Null);
    Map::from_iter([("cnam".to_string(), value)])
}

/// The address under `e911`, and the alias `dash_e911` removed, so that one
/// address is stored.
fn e911_change(address: Option<&E911Address>) -> Map<String, Value> {
    let value = address.map(E911Address::to_json).unwrap_or(Value::Null);
    Map::from_iter([
        ("dash_e911".to_string(), Value::Null),
        ("e911".to_string(), value),
    ])
}

impl NumberManager {
    /// Sets the number's caller-id name (`cnam`), or removes it (`None`),
    /// leaving its other public fields as they are. In `reserved`,
    /// `in_service` and `port_in`, a `display_name` turns on the
    /// `outbound_cnam` feature and `inbound_lookup: true` the `inbound_cnam`
    /// one, as with [`update`](Self::update); it fails the same ways
    /// (`forbidden` where the number may not use CNAM, `validation_error`
    /// for a display name longer than 15 characters).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # use std::sync::Arc;
    /// # use number_manager::{Config, NumberManager, Options, account::MemoryAccounts};
    /// # let accounts = Arc::new(MemoryAccounts::new());
    /// # let master = accounts.add("master", "Master", None).unwrap();
    /// # accounts.set_master(&master, true);
    /// # let mut config = Config::default();
    /// # config.features.local_feature_override = true;
    /// # let manager = NumberManager::builder().accounts(accounts).config(config).build();
    /// use number_manager::fields::Cnam;
    /// let opts = Options::as_account(&master);
    /// manager.create(&master, "4155550000", Default::default(), &opts).await.unwrap();
    /// let cnam = Cnam::new("My caller ID").with_inbound_lookup(true);
    /// let done = manager.set_cnam("4155550000", Some(cnam.clone()), &opts).await.unwrap();
    /// assert_eq!(done.record.public_fields().cnam().unwrap(), Some(cnam));
    /// assert_eq!(done.record.feature_names(), ["inbound_cnam", "local", "outbound_cnam"]);
    /// let done = manager.set_cnam("4155550000", None, &opts).await.unwrap();
    /// assert_eq!(done.record.feature_names(), ["local"]);
    /// # });
    /// ```
    pub async fn set_cnam(
        &self,
        number: &str,
        cnam: Option<Cnam>,
        opts: &Options,
    ) -> Result<Outcome> {
        self.run_one(number, set(cnam_change(cnam.as_ref()), opts))
            .await
    }

    /// Sets (or removes) the caller-id name of many numbers; see
    /// [`set_cnam`](Self::set_cnam).
    pub async fn set_cnam_many<S: AsRef<str>>(
        &self,
        numbers: &[S],
        cnam: Option<Cnam>,
        opts: &Options,
    ) -> Result<BatchResult> {
        self.run_many(numbers, set(cnam_change(cnam.as_ref()), opts))
            .await
    }

    /// Sets the number's E911 address: the provider validates it and, when it
    /// geocodes to one location, provisions it; its normalized address
    /// becomes the public `e911` (any `dash_e911` alias is dropped) and the
    /// `e911` feature is on. An address the provider cannot place, or that
    /// matches several locations, is not an error here but an
    /// [`E911Outcome`] (with [`update`](Self::update) these are the errors
    /// `E911Invalid` and `MultipleChoice`); nothing is changed then. Other
    /// failures are errors as with `update` (`forbidden` where the number
    /// may not use E911, `validation_error` for a malformed address, ...).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # use std::sync::Arc;
    /// # use number_manager::{Config, NumberManager, Options, account::MemoryAccounts};
    /// # let accounts = Arc::new(MemoryAccounts::new());
    /// # let master = accounts.add("master", "Master", None).unwrap();
    /// # accounts.set_master(&master, true);
    /// # let mut config = Config::default();
    /// # config.features.local_feature_override = true;
    /// use number_manager::e911::SimulatedE911;
    /// use number_manager::fields::E911Address;
    /// use number_manager::manager::E911Outcome;
    /// let manager = NumberManager::builder()
    ///     .accounts(accounts)
    ///     .config(config)
    ///     .e911(Arc::new(SimulatedE911::seed_demo()))
    ///     .build();
    /// let opts = Options::as_account(&master);
    /// manager.create(&master, "4155550000", Default::default(), &opts).await.unwrap();
    ///
    /// let natoma = E911Address::new("116 Natoma St", "San Francisco", "CA", "94105")
    ///     .with_extended_address("Apt 116");
    /// match manager.set_e911("4155550000", natoma, &opts).await.unwrap() {
    ///     E911Outcome::Provisioned { address, outcome } => {
    ///         assert_eq!(address.street_address, "116 NATOMA ST");
    ///         assert_eq!(address.status.as_deref(), Some("PROVISIONED"));
    ///         assert!(outcome.record.features.contains_key("e911"));
    ///     }
    ///     other => panic!("{other:?}"),
    /// }
    ///
    /// let market = E911Address::new("1 Market", "San Francisco", "CA", "94105");
    /// let E911Outcome::MultipleChoice { candidates, .. } =
    ///     manager.set_e911("4155550000", market, &opts).await.unwrap()
    /// else { panic!() };
    /// assert_eq!(candidates.len(), 2);
    ///
    /// let nowhere = E911Address::new("1 Nowhere Rd", "San Francisco", "CA", "94105");
    /// let outcome = manager.set_e911("4155550000", nowhere, &opts).await.unwrap();
    /// assert!(matches!(outcome, E911Outcome::Invalid { .. }));
    /// # });
    /// ```
    pub async fn set_e911(
        &self,
        number: &str,
        address: E911Address,
        opts: &Options,
    ) -> Result<E911Outcome> {
        let result = self
            .run_one(number, set(e911_change(Some(&address)), opts))
            .await;
        E911Outcome::of(result, &address)
    }

    /// Sets the same E911 address on many numbers, each answered on its
    /// own; see [`set_e911`](Self::set_e911). Fails as a whole only for a
    /// malformed collection (no numbers, too many, duplicates).
    pub async fn set_e911_many<S: AsRef<str>>(
        &self,
        numbers: &[S],
        address: E911Address,
        opts: &Options,
    ) -> Result<E911Results> {
        let batch = self
            .run_many(numbers, set(e911_change(Some(&address)), opts))
            .await?;
        Ok(E911Results::of(batch, &address))
    }

    /// Removes the number's E911 address (`e911` and its alias `dash_e911`):
    /// once the record without it is written, the address is removed at the
    /// provider and the `e911` feature is off. Removing from a number that
    /// has none changes nothing.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # use std::sync::Arc;
    /// # use number_manager::{Config, NumberManager, Options, account::MemoryAccounts};
    /// # use number_manager::{e911::SimulatedE911, fields::E911Address};
    /// # let accounts = Arc::new(MemoryAccounts::new());
    /// # let master = accounts.add("master", "Master", None).unwrap();
    /// # accounts.set_master(&master, true);
    /// # let mut config = Config::default();
    /// # config.features.local_feature_override = true;
    /// let e911 = Arc::new(SimulatedE911::seed_demo());
    /// let manager = NumberManager::builder()
    ///     .accounts(accounts)
    ///     .config(config)
    ///     .e911(e911.clone())
    ///     .build();
    /// let opts = Options::as_account(&master);
    /// manager.create(&master, "4155550000", Default::default(), &opts).await.unwrap();
    /// let natoma = E911Address::new("116 Natoma St", "San Francisco", "CA", "94105");
    /// assert!(manager.set_e911("4155550000", natoma, &opts).await.unwrap().is_provisioned());
    ///
    /// let done = manager.remove_e911("4155550000", &opts).await.unwrap();
    /// assert_eq!(done.record.public_fields().e911().unwrap(), None);
    /// assert!(!done.record.features.contains_key("e911"));
    /// assert_eq!(e911.removals().len(), 1);
    /// # });
    /// ```
    pub async fn remove_e911(&self, number: &str, opts: &Options) -> Result<Outcome> {
        self.run_one(number, set(e911_change(None), opts)).await
    }

    /// Removes the E911 address of many numbers; see
    /// [`remove_e911`](Self::remove_e911).
    pub async fn remove_e911_many<S: AsRef<str>>(
        &self,
        numbers: &[S],
        opts: &Options,
    ) -> Result<BatchResult> {
        self.run_many(numbers, set(e911_change(None), opts)).await
    }
}
