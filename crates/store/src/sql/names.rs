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
            /// Two requests cannot both take a name: they take turns on the folded name
            /// first. In PostgreSQL that is a transaction-scoped advisory lock on the table,
            /// organization and folded name, so writes of other names go on side by side; in
            /// SQLite, which has one writer at a time, writing the organization's row takes
            /// the write lock at once. Rows stored before folded names were kept get theirs
            /// when a claim reads them.
            pub(crate) async fn claim_name(
                tx: &mut sqlx::Transaction<'_, $db>,
                scope: $crate::names::NameScope,
                org_id: uuid::Uuid,
                own: Option<uuid::Uuid>,
                name: &str,
            ) -> Result<String, $crate::StoreError> {
                let key = $crate::folded_name(name);
                match Self::BACKEND {
                    $crate::Backend::Postgres => {
                        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                            .bind(format!("{}/{org_id}/{key}", scope.table))
                            .execute(&mut **tx)
                            .await?;
                    }
                    $crate::Backend::Sqlite => {
                        sqlx::query("UPDATE organizations SET name = name WHERE id = $1")
                            .bind(org_id)
                            .execute(&mut **tx)
                            .await?;
                    }
                }
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
                // Two lookups of the (org_id, name_key) index: the rows with this folded
                // name, and those stored before folded names were kept.
                let kind = if scope.kind.is_some() {
                    " AND kind = $3"
                } else {
                    ""
                };
                let sql = format!(
                    "SELECT id, name, name_key FROM {table} \
                     WHERE org_id = $1 AND name_key = $2{kind} \
                     UNION ALL \
                     SELECT id, name, name_key FROM {table} \
                     WHERE org_id = $1 AND name_key IS NULL{kind}"
                );
                let mut query = sqlx::query_as::<_, (uuid::Uuid, String, Option<String>)>(
                    sqlx::AssertSqlSafe(sql),
                )
                .bind(org_id)
                .bind(&key);
                if let Some(kind) = scope.kind {
                    query = query.bind(kind);
                }
                // No `ORDER BY` in SQL: SQLite would walk the organization by id to give it.
                // Rows are refreshed in id order, so concurrent claims lock them alike.
                let mut others = query.fetch_all(&mut **tx).await?;
                others.sort_by_key(|(id, _, _)| *id);
                let mut taken = false;
                for (id, other_name, other_key) in others {
                    let other_key = match other_key {
                        Some(other_key) => other_key,
                        None => {
                            let other_key = $crate::folded_name(&other_name);
                            // Only while the row is as it was read: a rename committed
                            // meanwhile stored its own.
                            sqlx::query(sqlx::AssertSqlSafe(format!(
                                "UPDATE {table} SET name_key = $1 \
                                 WHERE id = $2 AND name = $3 AND name_key IS NULL"
                            )))
                            .bind(&other_key)
                            .bind(id)
                            .bind(&other_name)
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
