//! The in-memory state: generated clients (computed on demand) plus explicit clients. A generated
//! client is copied into the explicit map the first time it changes, so `--generate 1000000`
//! stays small until clients are modified.

use std::borrow::Cow;
use std::collections::HashMap;

use crate::error::DatasetError;
use crate::state::generate;
use crate::state::model::{Client, Dataset};

#[derive(Debug, Default)]
pub struct Store {
    generated: u64,
    clients: HashMap<u64, Client>,
    /// Explicit clients outside the generated range, in dataset order.
    order: Vec<u64>,
    /// The next account GUID AddAccount hands out; None once u64::MAX is in use.
    next_account: Option<u64>,
}

impl Store {
    pub fn from_dataset(dataset: Dataset) -> Result<Store, DatasetError> {
        generate::check_count(dataset.generate)?;
        let mut store = Store {
            generated: dataset.generate,
            next_account: Some(generate::next_account_guid(dataset.generate)),
            ..Store::default()
        };
        for client in dataset.clients {
            let guid = client.guid;
            for account in &client.accounts {
                store.reserve_account_guid(account.guid);
            }
            if generate::index_of(guid, store.generated).is_none() {
                if store.clients.contains_key(&guid) {
                    return Err(DatasetError::DuplicateClient(guid));
                }
                store.order.push(guid);
            }
            store.clients.insert(guid, client);
        }
        Ok(store)
    }

    /// The state as a dataset; loading it gives back an equal store.
    pub fn to_dataset(&self) -> Dataset {
        let mut overridden: Vec<&Client> = self
            .clients
            .values()
            .filter(|c| generate::index_of(c.guid, self.generated).is_some())
            .collect();
        overridden.sort_by_key(|c| c.guid);
        let explicit = self.order.iter().map(|g| &self.clients[g]);
        Dataset {
            generate: self.generated,
            clients: overridden.into_iter().chain(explicit).cloned().collect(),
        }
    }

    pub fn client(&self, guid: u64) -> Option<Cow<'_, Client>> {
        if let Some(c) = self.clients.get(&guid) {
            return Some(Cow::Borrowed(c));
        }
        generate::index_of(guid, self.generated).map(|i| Cow::Owned(generate::client(i)))
    }

    pub fn client_mut(&mut self, guid: u64) -> Option<&mut Client> {
        if !self.clients.contains_key(&guid) {
            let index = generate::index_of(guid, self.generated)?;
            self.clients.insert(guid, generate::client(index));
        }
        self.clients.get_mut(&guid)
    }

    /// All client GUIDs in a stable order: generated ones first, then explicit ones.
    pub fn guids(&self) -> impl Iterator<Item = u64> + '_ {
        (0..self.generated)
            .map(generate::client_guid)
            .chain(self.order.iter().copied())
    }

    /// GUIDs of clients matching a search string (see model::Client::matches).
    pub fn search(&self, text: &str) -> Vec<u64> {
        let needle = text.to_lowercase();
        let mut buf = String::new();
        let generated =
            (0..self.generated).filter(|&i| match self.clients.get(&generate::client_guid(i)) {
                Some(c) => c.matches(&needle),
                None => generate::matches(i, &needle, &mut buf),
            });
        let mut found: Vec<u64> = generated.map(generate::client_guid).collect();
        found.extend(
            self.order
                .iter()
                .copied()
                .filter(|g| self.clients[g].matches(&needle)),
        );
        found
    }

    /// A fresh account GUID (one above the largest in use), or None when u64::MAX is in use.
    pub fn allocate_account_guid(&mut self) -> Option<u64> {
        let guid = self.next_account?;
        self.next_account = guid.checked_add(1);
        Some(guid)
    }

    /// Records that `guid` is in use, so replaying the write-ahead log keeps later allocations unique.
    pub fn reserve_account_guid(&mut self, guid: u64) {
        if let Some(next) = self.next_account {
            self.next_account = guid.checked_add(1).map(|g| g.max(next));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::demo;

    #[test]
    fn dataset_round_trips_through_the_store() {
        let mut store = Store::from_dataset(Dataset {
            generate: 5,
            clients: demo::dataset().clients,
        })
        .unwrap();
        store.client_mut(generate::client_guid(3)).unwrap().name = "X".into();
        let again = Store::from_dataset(store.to_dataset()).unwrap();
        assert_eq!(
            again.guids().collect::<Vec<_>>(),
            store.guids().collect::<Vec<_>>()
        );
        assert_eq!(again.client(generate::client_guid(3)).unwrap().name, "X");
        assert_eq!(again.next_account, store.next_account);
    }

    #[test]
    fn search_is_case_insensitive_over_cyrillic() {
        let store = Store::from_dataset(demo::dataset()).unwrap();
        assert_eq!(store.search("иванов"), vec![633824158637492]);
        assert_eq!(store.search("PETROV2"), vec![9527563927532953]);
        assert_eq!(store.search("д-0003"), vec![4611686018427387905]);
        assert_eq!(store.search("nobody"), Vec::<u64>::new());
    }

    #[test]
    fn the_largest_account_guid_is_never_handed_out_twice() {
        let mut dataset = demo::dataset();
        dataset.clients[0].accounts[0].guid = u64::MAX;
        let mut store = Store::from_dataset(dataset).unwrap();
        assert_eq!(store.allocate_account_guid(), None);
        let mut store = Store::from_dataset(demo::dataset()).unwrap();
        store.reserve_account_guid(u64::MAX - 1);
        assert_eq!(store.allocate_account_guid(), Some(u64::MAX));
        assert_eq!(store.allocate_account_guid(), None);
    }

    #[test]
    fn absurd_generate_counts_are_refused() {
        let absurd = Dataset {
            generate: u64::MAX / 2,
            clients: Vec::new(),
        };
        let error = Store::from_dataset(absurd).unwrap_err();
        assert!(error.to_string().contains("generate"));
        assert!(matches!(
            error,
            DatasetError::TooManyGenerated { count, .. } if count == u64::MAX / 2
        ));
    }
}
