//! Which credential a data source or destination uses, as its token route needs on every
//! request: kept per source and dropped when the change feed reports the source changed.

use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwapOption;
use latch_store::{DataSourceKind, Store, StoreError};
use uuid::Uuid;

use crate::change_feed::{ChangeFeed, Watch};
use crate::slot_map::SlotMap;

struct CachedSource {
    org_id: Uuid,
    kind: DataSourceKind,
    credential_id: Uuid,
    confirmed_at: Instant,
    basis: i64,
}

struct SourceSlot {
    source: ArcSwapOption<CachedSource>,
    watch: Watch,
}

pub struct SourceCache {
    slots: SlotMap<Uuid, SourceSlot>,
    changes: Arc<ChangeFeed>,
}

impl SourceCache {
    pub fn new(changes: Arc<ChangeFeed>) -> Self {
        Self {
            slots: SlotMap::default(),
            changes,
        }
    }

    /// The credential of the caller's source `id` of `kind`; `None` when there is none.
    pub async fn credential_of(
        &self,
        store: &dyn Store,
        org_id: Uuid,
        kind: DataSourceKind,
        id: Uuid,
    ) -> Result<Option<Uuid>, StoreError> {
        if let Some(slot) = self.slots.get(&id)
            && let Some(cached) = slot.source.load().as_ref()
            && slot.watch.trusts(
                &self.changes,
                cached.basis,
                cached.confirmed_at,
                Instant::now(),
            )
        {
            return Ok(
                (cached.org_id == org_id && cached.kind == kind).then_some(cached.credential_id)
            );
        }
        let basis = self.changes.applied();
        let Some(source) = store.get_data_source(org_id, kind, id).await? else {
            self.forget(id);
            return Ok(None);
        };
        self.slots
            .get_or_add(&id, || SourceSlot {
                source: ArcSwapOption::empty(),
                watch: self.changes.watch(),
            })
            .source
            .store(Some(Arc::new(CachedSource {
                org_id: source.org_id,
                kind: source.kind,
                credential_id: source.credential_id,
                confirmed_at: Instant::now(),
                basis,
            })));
        Ok(Some(source.credential_id))
    }

    /// Drops a changed or deleted source, so this process reads it again at once.
    pub fn forget(&self, id: Uuid) {
        if let Some(slot) = self.slots.get(&id) {
            slot.source.store(None);
        }
    }

    /// A change of the source was committed (on any replica) as number `seq`.
    pub fn changed(&self, id: Uuid, seq: i64) {
        if let Some(slot) = self.slots.get(&id) {
            slot.watch.changed(seq);
        }
    }
}
