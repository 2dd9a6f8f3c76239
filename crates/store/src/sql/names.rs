//! Unique names by their folded form, for both backends (see [`crate::sql_store`]).

macro_rules! impl_names {
    ($store:ident, $db:ty) => {
        impl $store {
            /// Checks, inside the caller's transaction, that `name` may be given to the record
            /// `own` (a new one when `None`) of `scope` in `org_id`, and returns the folded
            /// form to store with it. `Conflict` when another record's name folds alike. A
            /// record keeps a name that folds as its stored one did, so two records that
            /// collided before folding was a rule stay as they are and can still be edited.
            ///
            /// The organization's row is written first, so named writes in one organization
            /// take turns (a row lock in PostgreSQL, the write lock in SQLite) and two
            /// requests cannot both take a name. Rows stored before folded forms were kept
            /// get theirs here, on the first named write of their organization.
            pub(crate) async fn claim_name(
                tx: &mut sqlx::Transaction<'_, $db>,
                scope: $crate::names::NameScope,
                org_id: uuid::Uuid,
                own: Option<uuid::Uuid>,
                name: &str,
            ) -> Result<String, $crate::StoreError> {
                let key = $crate::folded_name(name);
                sqlx::query("UPDATE organizations SET name = name WHERE id = $1")
                    .bind(org_id)
                    .execute(&mut **tx)
                    .await?;
                // Table and column names come from `NameScope`'s constants, never from input.
                let table = scope.table;
                if let Some(own) = own {
                    let stored: Option<(String, Option<String>)> =
                        sqlx::query_as(sqlx::AssertSqlSafe(format!(
                            "SELECT name, name_key FROM {table} WHERE org_id = $1 AND id = $2"
                        )))
                        .bind(org_id)
                        .bind(own)
                        .fetch_optional(&mut **tx)
                        .await?;
                    if let Some((stored_name, stored_key)) = stored {
                        let stored_key =
                            stored_key.unwrap_or_else(|| $crate::folded_name(&stored_name));
                        if stored_key == key {
                            return Ok(key);
                        }
                    }
                }
                let kind = if scope.kind.is_some() {
                    " AND kind = $3"
                } else {
                    ""
                };
                let sql = format!(
                    "SELECT id, name, name_key FROM {table} WHERE org_id = $1 \
                     AND (name_key = $2 OR name_key IS NULL){kind}"
                );
                let mut query = sqlx::query_as::<_, (uuid::Uuid, String, Option<String>)>(
                    sqlx::AssertSqlSafe(sql),
                )
                .bind(org_id)
                .bind(&key);
                if let Some(kind) = scope.kind {
                    query = query.bind(kind);
                }
                let others = query.fetch_all(&mut **tx).await?;
                let mut taken = false;
                for (id, other_name, other_key) in others {
                    let other_key = match other_key {
                        Some(other_key) => other_key,
                        None => {
                            let other_key = $crate::folded_name(&other_name);
                            sqlx::query(sqlx::AssertSqlSafe(format!(
                                "UPDATE {table} SET name_key = $1 WHERE id = $2"
                            )))
                            .bind(&other_key)
                            .bind(id)
                            .execute(&mut **tx)
                            .await?;
                            other_key
                        }
                    };
                    taken |= Some(id) != own && other_key == key;
                }
                if taken {
                    return Err($crate::StoreError::Conflict);
                }
                Ok(key)
            }
        }
    };
}

pub(crate) use impl_names;
