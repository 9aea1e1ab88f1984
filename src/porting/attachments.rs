//! [`AttachmentStore`]: where the bytes of port request documents are kept,
//! and [`MemoryAttachments`], the default.
//!
//! The metadata (name, content type, size) is part of the [`PortRequest`](super::PortRequest);
//! this trait only keeps bytes by `(port request id, attachment name)`, so a
//! host can put them in an object store, a database or a file system.

use std::collections::BTreeMap;
use std::sync::RwLock;

use async_trait::async_trait;

use super::PortId;
use crate::error::{Error, Result};

/// Keeps the bytes of port request attachments, by request id and name.
///
/// The contract: `put` replaces whatever was kept under the same key; `get`
/// answers exactly the bytes last put (or `None`); `delete` answers whether
/// something was kept; `list` answers the names kept for one request, sorted.
#[async_trait]
pub trait AttachmentStore: Send + Sync + std::fmt::Debug {
    /// Keeps `bytes` as attachment `name` of request `port`.
    async fn put_attachment(&self, port: &PortId, name: &str, bytes: Vec<u8>) -> Result<()>;

    /// The bytes of attachment `name` of request `port`, if kept.
    async fn get_attachment(&self, port: &PortId, name: &str) -> Result<Option<Vec<u8>>>;

    /// Forgets attachment `name` of request `port`; whether it was kept.
    async fn delete_attachment(&self, port: &PortId, name: &str) -> Result<bool>;

    /// The names of the attachments kept for request `port`, sorted.
    async fn list_attachments(&self, port: &PortId) -> Result<Vec<String>>;
}

/// Attachments in memory (the default; lost when the process ends).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use number_manager::porting::{AttachmentStore, MemoryAttachments, PortId};
/// let blobs = MemoryAttachments::new();
/// let id = PortId::new("p1").unwrap();
/// blobs.put_attachment(&id, "bill.pdf", b"%PDF".to_vec()).await.unwrap();
/// assert_eq!(blobs.get_attachment(&id, "bill.pdf").await.unwrap(), Some(b"%PDF".to_vec()));
/// assert_eq!(blobs.list_attachments(&id).await.unwrap(), ["bill.pdf"]);
/// assert!(blobs.delete_attachment(&id, "bill.pdf").await.unwrap());
/// assert_eq!(blobs.get_attachment(&id, "bill.pdf").await.unwrap(), None);
/// # });
/// ```
#[derive(Debug, Default)]
pub struct MemoryAttachments {
    blobs: RwLock<BTreeMap<(PortId, String), Vec<u8>>>,
}

impl MemoryAttachments {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

fn poisoned() -> Error {
    Error::Internal {
        cause: "attachment table lock poisoned".into(),
    }
}

#[async_trait]
impl AttachmentStore for MemoryAttachments {
    async fn put_attachment(&self, port: &PortId, name: &str, bytes: Vec<u8>) -> Result<()> {
        let mut blobs = self.blobs.write().map_err(|_| poisoned())?;
        blobs.insert((port.clone(), name.to_string()), bytes);
        Ok(())
    }

    async fn get_attachment(&self, port: &PortId, name: &str) -> Result<Option<Vec<u8>>> {
        let blobs = self.blobs.read().map_err(|_| poisoned())?;
        Ok(blobs.get(&(port.clone(), name.to_string())).cloned())
    }

    async fn delete_attachment(&self, port: &PortId, name: &str) -> Result<bool> {
        let mut blobs = self.blobs.write().map_err(|_| poisoned())?;
        Ok(blobs.remove(&(port.clone(), name.to_string())).is_some())
    }

    async fn list_attachments(&self, port: &PortId) -> Result<Vec<String>> {
        let blobs = self.blobs.read().map_err(|_| poisoned())?;
        Ok(blobs
            .keys()
            .filter(|(id, _)| id == port)
            .map(|(_, name)| name.clone())
            .collect())
    }
}
