//! Test doubles for hosts and for the crate's own tests (the `testing`
//! feature): wrappers that take any [`Store`](crate::store::Store),
//! [`Carrier`](crate::carrier::Carrier) or
//! [`E911Provider`](crate::e911::E911Provider) and add one behaviour each.
//!
//! - [`FaultyStore`], [`FaultyCarrier`], [`FaultyE911`] fail calls as a
//!   [`FaultPlan`] says (the `k`-th call, of every method or only some), with
//!   a [`FaultKind`]: an error, a timeout, or an ambiguous answer (the call
//!   went through but is reported as failed, at once or after a hang);
//! - [`Counting`] counts calls by method, to learn how many calls an
//!   operation makes (and so which `k` are worth failing);
//! - [`RoundRobinStore`] spreads calls over several handles on one backend,
//!   as several processes would;
//! - [`MemoryPublisher`] is an outbox [`Publisher`](crate::outbox::Publisher)
//!   that records what it is given and fails when told to.
//!
//! The conformance suites are [`store::conformance`](crate::store::conformance)
//! and [`carrier::conformance`](crate::carrier::conformance).

mod carrier;
mod counting;
mod e911;
mod plan;
pub(crate) mod poll;
mod publisher;
mod round_robin;
mod store;

pub use carrier::FaultyCarrier;
pub use counting::Counting;
pub use e911::FaultyE911;
pub use plan::{FaultKind, FaultPlan};
pub use publisher::MemoryPublisher;
pub use round_robin::RoundRobinStore;
pub use store::FaultyStore;
