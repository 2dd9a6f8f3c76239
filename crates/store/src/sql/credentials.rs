//! The SQL of credentials, for both backends (see [`crate::sql_store`]).

/// What every order of a credential list shares: the organization, then the filters, each
/// off when its parameter is NULL.
macro_rules! credential_filter {
    () => {
        "SELECT * FROM credentials WHERE org_id = $1 \
         AND ($2 IS NULL OR connector = $2) \
         AND ($3 IS NULL OR $3 LIKE '%,' || status || ',%') \
         AND ($4 IS NULL OR name_key LIKE $4 ESCAPE '\\') "
    };
}

/// `CredentialStatus::attention_rank` in SQL.
macro_rules! attention_rank {
    () => {
        "(CASE status WHEN 'reauthorization_required' THEN 0 WHEN 'invalid' THEN 1 \
         WHEN 'degraded' THEN 2 WHEN 'unverified' THEN 3 ELSE 4 END)"
    };
}

macro_rules! impl_credentials {
    ($store:ident, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::CredentialStore for $store {
            async fn insert_credential(
                &self,
                c: &$crate::NewCredential,
                audit: &$crate::NewAuditEvent,
            ) -> Result<$crate::Credential, $crate::StoreError> {
                let mut tx = self.pool.begin().await?;
                let row = Self::insert_credential_row(&mut tx, c, &c.auth_method).await?;
                Self::insert_audit(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(row)
            }
            async fn get_credential(
                &self,
                org_id: uuid::Uuid,
                id: uuid::Uuid,
            ) -> Result<Option<$crate::Credential>, $crate::StoreError> {
                Ok(
                    sqlx::query_as("SELECT * FROM credentials WHERE org_id = $1 AND id = $2")
                        .bind(org_id)
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await?,
                )
            }
            async fn list_credentials(
                &self,
                org_id: uuid::Uuid,
                filter: &$crate::CredentialFilter,
                page: $crate::Page,
            ) -> Result<Vec<$crate::Credential>, $crate::StoreError> {
                use $crate::CredentialOrder;
                let sql = match (filter.order, Self::BACKEND) {
                    (CredentialOrder::Oldest, _) => concat!(
                        $crate::sql::credentials::credential_filter!(),
                        "AND ($5 IS NULL OR id > $5) ORDER BY id LIMIT $6"
                    ),
                    (CredentialOrder::Newest, _) => concat!(
                        $crate::sql::credentials::credential_filter!(),
                        "AND ($5 IS NULL OR id < $5) ORDER BY id DESC LIMIT $6"
                    ),
                    // PostgreSQL compares text by the database's collation, which may not be
                    // byte order; "C" makes both backends list names alike.
                    (CredentialOrder::Name, $crate::Backend::Sqlite) => concat!(
                        $crate::sql::credentials::credential_filter!(),
                        "AND ($5 IS NULL OR name_key > $7 OR (name_key = $7 AND id > $5)) \
                         ORDER BY name_key, id LIMIT $6"
                    ),
                    (CredentialOrder::Name, $crate::Backend::Postgres) => concat!(
                        $crate::sql::credentials::credential_filter!(),
                        "AND ($5 IS NULL OR name_key COLLATE \"C\" > $7 \
                           OR (name_key = $7 AND id > $5)) \
                         ORDER BY name_key COLLATE \"C\", id LIMIT $6"
                    ),
                    (CredentialOrder::Attention, $crate::Backend::Sqlite) => concat!(
                        $crate::sql::credentials::credential_filter!(),
                        "AND ($5 IS NULL OR ", $crate::sql::credentials::attention_rank!(), " > $8 OR (", $crate::sql::credentials::attention_rank!(),
                        " = $8 AND (name_key > $7 OR (name_key = $7 AND id > $5)))) \
                         ORDER BY ", $crate::sql::credentials::attention_rank!(), ", name_key, id LIMIT $6"
                    ),
                    (CredentialOrder::Attention, $crate::Backend::Postgres) => concat!(
                        $crate::sql::credentials::credential_filter!(),
                        "AND ($5 IS NULL OR ", $crate::sql::credentials::attention_rank!(), " > $8 OR (", $crate::sql::credentials::attention_rank!(),
                        " = $8 AND (name_key COLLATE \"C\" > $7 OR (name_key = $7 AND id > $5)))) \
                         ORDER BY ", $crate::sql::credentials::attention_rank!(), ", name_key COLLATE \"C\", id LIMIT $6"
                    ),
                };
                // The statuses as one text, ",invalid,degraded,", that a row's status is
                // looked for in (in LIKE, `_` matches itself too).
                let statuses = (!filter.statuses.is_empty()).then(|| {
                    let listed: Vec<&str> =
                        filter.statuses.iter().map(|status| status.as_str()).collect();
                    format!(",{},", listed.join(","))
                });
                let name_pattern = filter
                    .name_contains
                    .as_deref()
                    .map(|text| format!("%{}%", $crate::sql::like_escaped(text)));
                let query = sqlx::query_as(sql)
                    .bind(org_id)
                    .bind(&filter.connector)
                    .bind(statuses)
                    .bind(name_pattern)
                    .bind(page.after)
                    .bind(page.limit);
                let query = match filter.order {
                    CredentialOrder::Oldest | CredentialOrder::Newest => query,
                    CredentialOrder::Name => query
                        .bind(filter.after.as_ref().map(|after| after.name_key.clone())),
                    CredentialOrder::Attention => query
                        .bind(filter.after.as_ref().map(|after| after.name_key.clone()))
                        .bind(filter.after.as_ref().map(|after| after.rank)),
                };
                Ok(query.fetch_all(&self.pool).await?)
            }
            async fn update_credential(
                &self,
                org_id: uuid::Uuid,
                id: uuid::Uuid,
                expected_version: i64,
                c: &$crate::CredentialChanges,
                audit: &$crate::NewAuditEvent,
            ) -> Result<$crate::Credential, $crate::StoreError> {
                let mut tx = self.pool.begin().await?;
                let name_key = Self::claim_name(
                    &mut tx,
                    $crate::names::NameScope::CREDENTIALS,
                    org_id,
                    Some(id),
                    &c.name,
                )
                .await?;
                let at = $crate::now();
                // The health columns are left alone: checks write them without a version, so
                // an edit that read them earlier would put back what it read.
                let updated: Option<$crate::Credential> = sqlx::query_as(
                    "UPDATE credentials SET name = $4, description = $5, config = $6, \
                     secret_ct = $7, secret_nonce = $8, updated_at = $9, name_key = $10, \
                     version = version + 1 \
                     WHERE org_id = $1 AND id = $2 AND version = $3 RETURNING *",
                )
                .bind(org_id)
                .bind(id)
                .bind(expected_version)
                .bind(&c.name)
                .bind(&c.description)
                .bind(sqlx::types::Json(&c.config))
                .bind(&c.secret_ct)
                .bind(&c.secret_nonce)
                .bind(at)
                .bind(name_key)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(mut updated) = updated else {
                    drop(tx);
                    return Err(self.missing_or_moved_on("credentials", org_id, id, None).await);
                };
                if let Some(reset) = &c.health {
                    // New settings: what was known of the old ones, failures included, goes.
                    let state = $crate::HealthState {
                        status: reset.status,
                        status_detail: reset.status_detail.clone(),
                        status_since: if reset.status == updated.status {
                            updated.status_since
                        } else {
                            at
                        },
                        consecutive_failures: 0,
                        last_failure: None,
                        identity: reset.identity.clone(),
                        validated_at: reset.validated_at,
                        last_token_at: updated.last_token_at,
                        checked_at: updated.checked_at,
                    };
                    let note = $crate::HealthNote {
                        cause: $crate::HealthCause::Edited,
                        detail: reset.status_detail.clone(),
                    };
                    updated = Self::write_health(&mut tx, &updated, &state, Some(&note)).await?.0;
                }
                Self::record_change(&mut tx, $crate::ChangeSubject::Credential, &id.to_string())
                    .await?;
                Self::insert_audit(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(updated)
            }
            async fn delete_credential(
                &self,
                org_id: uuid::Uuid,
                id: uuid::Uuid,
                expected_version: Option<i64>,
                audit: &$crate::NewAuditEvent,
            ) -> Result<(), $crate::StoreError> {
                let mut tx = self.pool.begin().await?;
                let deleted: Option<$crate::Credential> = sqlx::query_as(
                    "DELETE FROM credentials \
                     WHERE org_id = $1 AND id = $2 AND ($3 IS NULL OR version = $3) RETURNING *",
                )
                .bind(org_id)
                .bind(id)
                .bind(expected_version)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(deleted) = deleted else {
                    drop(tx);
                    return Err(self.missing_or_moved_on("credentials", org_id, id, None).await);
                };
                let event = $crate::outbox::credential_event(
                    $crate::outbox::CREDENTIAL_DELETED,
                    &deleted,
                    Some(deleted.status),
                    None,
                    $crate::now(),
                );
                Self::enqueue_event(&mut tx, &event).await?;
                Self::record_change(&mut tx, $crate::ChangeSubject::Credential, &id.to_string())
                    .await?;
                Self::insert_audit(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }
            async fn credential_usage(
                &self,
                org_id: uuid::Uuid,
                ids: &[uuid::Uuid],
            ) -> Result<std::collections::HashMap<uuid::Uuid, $crate::CredentialUsage>, $crate::StoreError>
            {
                let counts: Vec<(uuid::Uuid, String, i64)> = sqlx::query_as(
                    "SELECT credential_id, kind, COUNT(*) FROM data_sources WHERE org_id = $1 \
                     GROUP BY credential_id, kind",
                )
                .bind(org_id)
                .fetch_all(&self.pool)
                .await?;
                let mut usage = std::collections::HashMap::new();
                for (credential_id, kind, count) in counts {
                    if !ids.contains(&credential_id) {
                        continue;
                    }
                    let entry: &mut $crate::CredentialUsage = usage.entry(credential_id).or_default();
                    if kind == "source" {
                        entry.sources = count;
                    } else {
                        entry.destinations = count;
                    }
                }
                Ok(usage)
            }
        }

        impl $store {
            /// The one `INSERT` of a credential, inside the caller's transaction.
            pub(crate) async fn insert_credential_row(
                tx: &mut sqlx::Transaction<'_, $db>,
                c: &$crate::NewCredential,
                auth_method: &str,
            ) -> Result<$crate::Credential, $crate::StoreError> {
                let name_key = Self::claim_name(
                    tx,
                    $crate::names::NameScope::CREDENTIALS,
                    c.org_id,
                    None,
                    &c.name,
                )
                .await?;
                let row: $crate::Credential = sqlx::query_as(
                    "INSERT INTO credentials \
                     (id, org_id, connector, auth_method, name, description, config, secret_ct, \
                      secret_nonce, wrapped_dek, kek_id, status, status_detail, identity, \
                      validated_at, version, created_at, updated_at, oauth_app_id, name_key, \
                      status_since) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, \
                             1, $16, $16, $17, $18, $16) \
                     RETURNING *",
                )
                .bind(c.id)
                .bind(c.org_id)
                .bind(&c.connector)
                .bind(auth_method)
                .bind(&c.name)
                .bind(&c.description)
                .bind(sqlx::types::Json(&c.config))
                .bind(&c.secret_ct)
                .bind(&c.secret_nonce)
                .bind(&c.wrapped_dek)
                .bind(&c.kek_id)
                .bind(c.status.as_str())
                .bind(&c.status_detail)
                .bind(c.identity.as_ref().map(sqlx::types::Json))
                .bind(c.validated_at)
                .bind($crate::now())
                .bind(c.oauth_app_id)
                .bind(name_key)
                .fetch_one(&mut **tx)
                .await?;
                let note = $crate::HealthNote {
                    cause: $crate::HealthCause::Created,
                    detail: c.status_detail.clone(),
                };
                Self::record_health_change(tx, &row, None, &note, row.status_since).await?;
                Ok(row)
            }
        }
    };
}

pub(crate) use {attention_rank, credential_filter, impl_credentials};
