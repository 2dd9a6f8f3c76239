//! A map of per-key slots that readers reach without taking a lock.
//!
//! The map is an immutable `HashMap` behind `ArcSwap`: a lookup is an atomic load. Adding a
//! key copies the map under a mutex, so it suits keys that are added rarely and read on every
//! request (credentials, API keys); what changes often lives inside the slot.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;

pub struct SlotMap<K, S> {
    slots: ArcSwap<HashMap<K, Arc<S>>>,
    adding: Mutex<()>,
}

impl<K, S> Default for SlotMap<K, S> {
    fn default() -> Self {
        Self {
            slots: ArcSwap::from_pointee(HashMap::new()),
            adding: Mutex::new(()),
        }
    }
}

impl<K: Hash + Eq + Clone, S> SlotMap<K, S> {
    pub fn get<Q>(&self, key: &Q) -> Option<Arc<S>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.slots.load().get(key).cloned()
    }

    /// Every key and its slot, as the map is now.
    pub fn entries(&self) -> Vec<(K, Arc<S>)> {
        self.slots
            .load()
            .iter()
            .map(|(key, slot)| (key.clone(), slot.clone()))
            .collect()
    }

    /// The slot of `key`, made by `make` when there is none yet.
    pub fn get_or_add(&self, key: &K, make: impl FnOnce() -> S) -> Arc<S> {
        if let Some(slot) = self.get(key) {
            return slot;
        }
        let _adding = self.adding.lock().unwrap_or_else(|p| p.into_inner());
        let current = self.slots.load_full();
        if let Some(slot) = current.get(key) {
            return slot.clone();
        }
        let slot = Arc::new(make());
        let mut next = HashMap::clone(&current);
        next.insert(key.clone(), slot.clone());
        self.slots.store(Arc::new(next));
        slot
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[test]
    fn a_key_gets_one_slot_however_often_it_is_added() {
        let map: SlotMap<u32, AtomicU32> = SlotMap::default();
        assert!(map.get(&1).is_none());
        map.get_or_add(&1, AtomicU32::default)
            .fetch_add(1, Ordering::SeqCst);
        map.get_or_add(&1, AtomicU32::default)
            .fetch_add(1, Ordering::SeqCst);
        map.get_or_add(&2, AtomicU32::default);
        assert_eq!(map.get(&1).unwrap().load(Ordering::SeqCst), 2);
        assert_eq!(map.get(&2).unwrap().load(Ordering::SeqCst), 0);
    }
}
