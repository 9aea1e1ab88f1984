//! [`PortRequestStore`]: where port requests are kept.

use async_trait::async_trait;

use super::{PortId, PortRequest};
use crate::account::AccountId;
use crate::error::Result;
use crate::number::PhoneNumber;
use crate::record::Revision;

/// Keeps port requests. One concern, one trait: a backend that stores
/// numbers ([`Store`](crate::store::Store)) may implement it too, as
/// [`MemoryStore`](crate::store::MemoryStore) does.
///
/// The contract (checked by `store::conformance::port_requests`, feature
/// `testing`):
///
/// - a number is in at most one *open* request (any state but `completed`
///   and `canceled`): `create` and `update` refuse, with
///   [`Error::NumberIsPorting`](crate::Error::NumberIsPorting) naming the
///   number, a request that would put a number in a second open request, and
///   store nothing;
/// - `create` stores a request whose id is new, at revision 1 (the one it
///   answers); an id already stored is a conflict (`409`);
/// - `update` is a compare-and-swap on the revision read: it stores the
///   request at `expected + 1` when the stored revision is `expected`, and is
///   a conflict otherwise (stale revision, or no such request);
/// - a request is read back exactly as written, with its revision.
#[async_trait]
pub trait PortRequestStore: Send + Sync + std::fmt::Debug {
    /// Stores a new request; its revision.
    async fn create_port_request(&self, request: PortRequest) -> Result<Revision>;

    /// A request by id.
    async fn get_port_request(&self, id: &PortId) -> Result<Option<PortRequest>>;

    /// The requests of an account (not those of its descendants), oldest first.
    async fn list_port_requests(&self, account: &AccountId) -> Result<Vec<PortRequest>>;

    /// Replaces a request whose stored revision is `expected`; the new revision.
    async fn update_port_request(
        &self,
        request: PortRequest,
        expected: Revision,
    ) -> Result<Revision>;

    /// The open request (any state but `completed` and `canceled`) holding
    /// `number`, if any.
    async fn find_open_port_request(&self, number: &PhoneNumber) -> Result<Option<PortRequest>>;
}
