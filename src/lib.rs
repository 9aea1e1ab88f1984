//! # number-manager
//!
//! Embeddable phone-number management modelled on the 2600Hz Kazoo
//! `phone_numbers` API: normalize any dialled string to E.164 and classify it,
//! search carriers, create / reserve / activate / port / release / delete numbers,
//! manage their public fields and features (CNAM, E911), one number at a time or
//! whole collections with per-number results.
//!
//! Where to look first:
//! - [`number`]: [`PhoneNumber`] and normalization;
//! - [`classify`](mod@classify): classifiers and pretty printing;
//! - [`state`]: the state machine (a table plus one pure planner);
//! - [`store`], [`carrier`], [`e911`], [`account`], [`locality`]: the traits a host implements;
//! - [`error`]: the error catalogue.
#![deny(missing_docs)]
#![forbid(unsafe_code)]
// docs.rs (`--cfg docsrs`, nightly) marks every feature-gated item with its feature.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod account;
#[cfg(feature = "api")]
pub mod api;
pub mod carrier;
pub mod classify;
pub mod clock;
pub mod duration;
pub mod e911;
pub mod error;
pub mod events;
pub mod features;
pub mod fields;
mod json;
pub mod lifecycle;
pub mod limits;
pub mod locality;
pub mod manager;
pub mod number;
pub mod observe;
pub mod outbox;
pub mod porting;
pub mod record;
pub mod state;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;
mod util;

/// The attribute the host-facing traits ([`store::Store`], [`carrier::Carrier`],
/// [`e911::E911Provider`], [`account::Accounts`], [`locality::Locality`],
/// and, with feature `api`, `api::Authenticator`) are declared with: put `#[number_manager::async_trait]` on an `impl` of one of
/// them, with no `async-trait` dependency of your own.
pub use async_trait::async_trait;
pub use classify::{classify, Classification, Classifier, Classifiers};
pub use error::{
    CarrierFault, ConflictKind, DatabaseFault, Error, FieldError, NotIdentifiedReason, Result,
    Source, UnspecifiedKind,
};
pub use limits::Limits;
pub use manager::{
    BatchResult, Config, Identify, NewPortRequest, NumberManager, NumberManagerBuilder, Options,
    Outcome, PortRequestEdit, PortTransition, PortTransitionRequest, PortingConfig, PortingNumber,
    PublicChange,
};
pub use number::{is_reconcilable, normalize, DialPlan, Normalizer, PhoneNumber};
