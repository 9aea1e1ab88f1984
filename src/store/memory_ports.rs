//! [`PortRequestStore`] for [`MemoryStore`]: the requests by id, and an index
//! of the numbers of open requests, under one lock, so the one-open-request-
//! per-number rule is checked and written at once.

use std::collections::{BTreeMap, HashMap};
use std::sync::{RwLockReadGuard, RwLockWriteGuard};

use async_trait::async_trait;

use super::MemoryStore;
use crate::account::AccountId;
use crate::error::{ConflictKind, Error, Result};
use crate::number::PhoneNumber;
use crate::porting::{PortId, PortRequest, PortRequestStore};
use crate::record::Revision;

#[derive(Debug, Default)]
pub(super) struct PortTable {
    requests: BTreeMap<PortId, PortRequest>,
    /// The open request holding each number.
    open: HashMap<PhoneNumber, PortId>,
}

impl PortTable {
    /// The first number of `request` that another open request holds.
    fn taken(&self, request: &PortRequest) -> Option<PhoneNumber> {
        if !request.state.is_open() {
            return None;
        }
        request
            .numbers
            .iter()
            .find(|n| self.open.get(*n).is_some_and(|id| *id != request.id))
            .copied()
    }

    fn put(&mut self, request: PortRequest) {
        if let Some(old) = self.requests.get(&request.id) {
            for n in &old.numbers {
                if self.open.get(n) == Some(&old.id) {
                    self.open.remove(n);
                }
            }
        }
        if request.state.is_open() {
            for n in &request.numbers {
                self.open.insert(*n, request.id.clone());
            }
        }
        self.requests.insert(request.id.clone(), request);
    }
}

fn porting(number: PhoneNumber) -> Error {
    Error::NumberIsPorting {
        number: number.to_string(),
    }
}

fn poisoned() -> Error {
    Error::Internal {
        cause: "port request table lock poisoned".into(),
    }
}

impl MemoryStore {
    fn ports_read(&self) -> Result<RwLockReadGuard<'_, PortTable>> {
        self.ports.read().map_err(|_| poisoned())
    }

    fn ports_write(&self) -> Result<RwLockWriteGuard<'_, PortTable>> {
        self.ports.write().map_err(|_| poisoned())
    }
}

#[async_trait]
impl PortRequestStore for MemoryStore {
    async fn create_port_request(&self, mut request: PortRequest) -> Result<Revision> {
        let mut table = self.ports_write()?;
        if table.requests.contains_key(&request.id) {
            return Err(Error::Conflict {
                number: request.id.to_string(),
                kind: ConflictKind::StaleRevision,
                detail: Some(format!("port request {} already exists", request.id)),
            });
        }
        if let Some(n) = table.taken(&request) {
            return Err(porting(n));
        }
        request.revision = Revision::NEW.next();
        let revision = request.revision;
        table.put(request);
        Ok(revision)
    }

    async fn get_port_request(&self, id: &PortId) -> Result<Option<PortRequest>> {
        Ok(self.ports_read()?.requests.get(id).cloned())
    }

    async fn list_port_requests(&self, account: &AccountId) -> Result<Vec<PortRequest>> {
        let table = self.ports_read()?;
        let mut found: Vec<PortRequest> = table
            .requests
            .values()
            .filter(|r| &r.account == account)
            .cloned()
            .collect();
        found.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
        Ok(found)
    }

    async fn update_port_request(
        &self,
        mut request: PortRequest,
        expected: Revision,
    ) -> Result<Revision> {
        let mut table = self.ports_write()?;
        match table.requests.get(&request.id) {
            Some(stored) if stored.revision == expected => {}
            Some(stored) => {
                return Err(Error::Conflict {
                    number: request.id.to_string(),
                    kind: ConflictKind::StaleRevision,
                    detail: Some(format!(
                        "revision {} expected, {} stored",
                        expected.0, stored.revision.0
                    )),
                })
            }
            None => {
                return Err(Error::Conflict {
                    number: request.id.to_string(),
                    kind: ConflictKind::RecordGone,
                    detail: None,
                })
            }
        }
        if let Some(n) = table.taken(&request) {
            return Err(porting(n));
        }
        request.revision = expected.next();
        let revision = request.revision;
        table.put(request);
        Ok(revision)
    }

    async fn find_open_port_request(&self, number: &PhoneNumber) -> Result<Option<PortRequest>> {
        let table = self.ports_read()?;
        Ok(table
            .open
            .get(number)
            .and_then(|id| table.requests.get(id))
            .cloned())
    }
}
