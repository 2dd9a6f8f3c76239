//! Moving data keys to the active KEK (`latch rewrap`) and showing which KEK wraps how many
//! (`latch keys`).
//!
//! Every table that holds a wrapped data key ([`SealedTable`]: credentials, and connect
//! sessions for their PKCE verifiers) is moved and counted alike.
//!
//! A rewrap reads the data keys not under the active KEK in batches, by id, unwraps each with
//! the KEK it names and wraps the same data key under the active one; each batch is one
//! transaction, and a row is written only if it still holds what was read. Secrets and tokens
//! stay sealed under the same data key, so nothing else is rewritten, no version changes, and
//! servers holding both KEKs keep serving throughout. Interrupted, it leaves every row under
//! one KEK or the other; run again, it picks up what is left.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use latch_store::{Rewrapped, SealedTable, Store};
use latch_vault::{Keyring, RecordContext, WrappedKey};

/// The data keys per KEK, as `(kek_id, count)`.
pub type Usage = Vec<(String, i64)>;

#[derive(Debug, Default)]
pub struct RewrapReport {
    pub before: Usage,
    pub after: Usage,
    pub rewrapped: u64,
    /// Rows that changed between read and write (deleted, or rewrapped by another run).
    pub skipped: u64,
    /// Rows whose data key did not open (tampered or moved): left as they are.
    pub failed: u64,
}

/// Rewraps every data key not under the active KEK, `batch_size` at a time, at most
/// `max_batches` batches when given; `progress` hears the running count after each batch.
pub async fn rewrap(
    store: &dyn Store,
    keyring: &Keyring,
    batch_size: i64,
    max_batches: Option<u64>,
    mut progress: impl FnMut(u64),
) -> Result<RewrapReport, String> {
    let text = |error: latch_store::StoreError| error.to_string();
    let active = keyring.active_kek_id().to_string();
    let mut report = RewrapReport {
        before: store.kek_usage().await.map_err(text)?,
        ..RewrapReport::default()
    };
    let mut batches = 0;
    for table in SealedTable::ALL {
        let mut after = None;
        loop {
            if max_batches.is_some_and(|max| batches >= max) {
                break;
            }
            let rows = store
                .wrapped_keys_not_under(table, &active, after, batch_size)
                .await
                .map_err(text)?;
            let Some(last) = rows.last() else {
                break;
            };
            after = Some(last.id);
            let mut batch = Vec::with_capacity(rows.len());
            for row in rows {
                let context = RecordContext::new(row.org_id, row.id);
                let wrapped = WrappedKey {
                    kek_id: row.kek_id.clone(),
                    bytes: row.wrapped_dek.clone(),
                };
                match keyring.rewrap(&context, &wrapped) {
                    Ok(moved) => batch.push(Rewrapped {
                        old: row,
                        kek_id: moved.kek_id,
                        wrapped_dek: moved.bytes,
                    }),
                    Err(error) => {
                        tracing::error!(table = row.table.name(), id = %row.id, kek_id = %row.kek_id, %error, "a data key did not open; left as it is");
                        report.failed += 1;
                    }
                }
            }
            let written = store.rewrap_keys(&batch).await.map_err(text)?;
            report.rewrapped += written;
            report.skipped += batch.len() as u64 - written;
            batches += 1;
            progress(report.rewrapped);
        }
    }
    report.after = store.kek_usage().await.map_err(text)?;
    Ok(report)
}

/// `kek-1: 12 data keys` lines, one per KEK in the keyring or in use.
pub fn usage_lines(usage: &Usage, keyring_ids: &[String]) -> String {
    let mut counts: BTreeMap<&str, i64> = keyring_ids.iter().map(|id| (id.as_str(), 0)).collect();
    for (kek_id, count) in usage {
        counts.insert(kek_id, *count);
    }
    let mut out = String::new();
    for (kek_id, count) in counts {
        let _ = writeln!(out, "  {kek_id}: {count} data keys");
    }
    out
}

/// The keyring as a table: each KEK's state, age, kind and how many data keys it wraps.
pub async fn keys_table(store: &dyn Store) -> Result<String, String> {
    let text = |error: latch_store::StoreError| error.to_string();
    let entries = store.keyring_entries().await.map_err(text)?;
    let usage: BTreeMap<String, i64> = store.kek_usage().await.map_err(text)?.into_iter().collect();
    let mut out = format!(
        "{:<10} {:<8} {:<21} {:<36} {:>10}\n",
        "KEK", "STATE", "CREATED", "FROM", "DATA KEYS"
    );
    for entry in &entries {
        let from = match (&entry.kdf_salt, &entry.kdf_params) {
            (None, _) => "a raw master key".to_string(),
            (Some(_), Some(params)) => format!("a passphrase, {params}"),
            (Some(_), None) => "a passphrase, argon2id default cost".to_string(),
        };
        let _ = writeln!(
            out,
            "{:<10} {:<8} {:<21} {:<36} {:>10}",
            entry.kek_id,
            entry.state,
            entry.created_at.format("%Y-%m-%dT%H:%M:%SZ"),
            from,
            usage.get(&entry.kek_id).copied().unwrap_or(0)
        );
    }
    for (kek_id, count) in &usage {
        if !entries.iter().any(|entry| &entry.kek_id == kek_id) {
            let _ = writeln!(
                out,
                "{kek_id:<10} {:<8} {:<21} {:<36} {count:>10}",
                "unknown", "-", "not in the keyring"
            );
        }
    }
    Ok(out)
}
