//! Writes that carry their events: with the outbox on, every committed change
//! writes its event into the store in the same transaction as the change.

use crate::error::Result;
use crate::events::Event;
use crate::manager::NumberManager;
use crate::store::{BatchMode, Journal, Write, WriteResult};

impl NumberManager {
    /// Applies `writes` one by one (journaled under `journal`, if any). With
    /// the outbox on, each write that commits appends its slot of `events`
    /// (at the write's new revision) to the outbox in the same transaction;
    /// with it off, `events` is ignored.
    pub(crate) async fn write_with_events(
        &self,
        writes: Vec<Write>,
        journal: Option<&Journal>,
        events: &[Option<Event>],
    ) -> Result<Vec<WriteResult>> {
        let store = &self.inner.store;
        if self.inner.outbox {
            return store
                .write_batch_outboxed(writes, BatchMode::PerItem, journal, events)
                .await;
        }
        match journal {
            None => store.write_batch(writes, BatchMode::PerItem).await,
            Some(journal) => {
                store
                    .write_batch_journaled(writes, BatchMode::PerItem, journal)
                    .await
            }
        }
    }

    /// Whether the outbox is on (events are worth building before a write).
    pub(crate) fn outbox_on(&self) -> bool {
        self.inner.outbox
    }

    /// Reports an event that goes with no record write (a number given back
    /// to its carrier): into the outbox when it is on, then to the sink.
    ///
    /// The change it reports has happened already, so a failing outbox
    /// cannot undo it: the failure is traced and counted
    /// (`number_manager_outbox_append_failures_total`), and the sink still
    /// hears of the event.
    pub(crate) async fn emit_standalone(&self, event: Event) {
        if self.inner.outbox {
            if let Err(e) = self
                .inner
                .store
                .outbox_append(std::slice::from_ref(&event))
                .await
            {
                crate::observe::outbox_append_failed(&event, &e);
            }
        }
        self.inner.events.emit(&event);
    }
}
