//! The SQL of data sources, for both backends (see [`crate::sql_store`]).

macro_rules! impl_data_sources {
    ($store:ident, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::DataSourceStore for $store {
            async fn insert_data_source(
                &self,
                d: &$crate::NewDataSource,
                audit: &$crate::NewAuditEvent,
            ) -> Result<$crate::DataSource, $crate::StoreError> {
                let mut tx = self.pool.begin().await?;
                let name_key = Self::claim_name(
                    &mut tx,
                    $crate::names::NameScope::data_sources(d.kind),
                    d.org_id,
                    None,
                    &d.name,
                )
                .await?;
                let row = sqlx::query_as(
                    "INSERT INTO data_sources \
                     (id, org_id, kind, name, description, connector, credential_id, config, \
                      version, created_at, updated_at, name_key) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $9, $10) RETURNING *",
                )
                .bind(d.id)
                .bind(d.org_id)
                .bind(d.kind.as_str())
                .bind(&d.name)
                .bind(&d.description)
                .bind(&d.connector)
                .bind(d.credential_id)
                .bind(sqlx::types::Json(&d.config))
                .bind($crate::now())
                .bind(name_key)
                .fetch_one(&mut *tx)
                .await
                .map_err(|error| match $crate::StoreError::from(error) {
                    // The credential it names is gone.
                    $crate::StoreError::InUse => $crate::StoreError::NotFound,
                    other => other,
                })?;
                Self::insert_audit(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(row)
            }
            async fn get_data_source(
                &self,
                org_id: uuid::Uuid,
                kind: $crate::DataSourceKind,
                id: uuid::Uuid,
            ) -> Result<Option<$crate::DataSource>, $crate::StoreError> {
                Ok(sqlx::query_as(
                    "SELECT * FROM data_sources WHERE org_id = $1 AND kind = $2 AND id = $3",
                )
                .bind(org_id)
                .bind(kind.as_str())
                .bind(id)
                .fetch_optional(&self.pool)
                .await?)
            }
            async fn list_data_sources(
                &self,
                org_id: uuid::Uuid,
                kind: $crate::DataSourceKind,
                filter: &$crate::DataSourceFilter,
                page: $crate::Page,
            ) -> Result<Vec<$crate::DataSource>, $crate::StoreError> {
                Ok(sqlx::query_as(
                    "SELECT * FROM data_sources WHERE org_id = $1 AND kind = $2 \
                     AND ($3 IS NULL OR connector = $3) \
                     AND ($4 IS NULL OR credential_id = $4) \
                     AND ($5 IS NULL OR id > $5) \
                     ORDER BY id LIMIT $6",
                )
                .bind(org_id)
                .bind(kind.as_str())
                .bind(&filter.connector)
                .bind(filter.credential_id)
                .bind(page.after)
                .bind(page.limit)
                .fetch_all(&self.pool)
                .await?)
            }
            async fn data_sources_using(
                &self,
                org_id: uuid::Uuid,
                credential_id: uuid::Uuid,
            ) -> Result<Vec<$crate::DataSource>, $crate::StoreError> {
                Ok(sqlx::query_as(
                    "SELECT * FROM data_sources WHERE org_id = $1 AND credential_id = $2 \
                     ORDER BY kind, id",
                )
                .bind(org_id)
                .bind(credential_id)
                .fetch_all(&self.pool)
                .await?)
            }
            async fn update_data_source(
                &self,
                org_id: uuid::Uuid,
                kind: $crate::DataSourceKind,
                id: uuid::Uuid,
                expected_version: i64,
                c: &$crate::DataSourceChanges,
                audit: &$crate::NewAuditEvent,
            ) -> Result<$crate::DataSource, $crate::StoreError> {
                let mut tx = self.pool.begin().await?;
                let name_key = Self::claim_name(
                    &mut tx,
                    $crate::names::NameScope::data_sources(kind),
                    org_id,
                    Some(id),
                    &c.name,
                )
                .await?;
                let updated: Option<$crate::DataSource> = sqlx::query_as(
                    "UPDATE data_sources SET name = $5, description = $6, credential_id = $7, \
                     config = $8, updated_at = $9, name_key = $10, version = version + 1 \
                     WHERE org_id = $1 AND kind = $2 AND id = $3 AND version = $4 RETURNING *",
                )
                .bind(org_id)
                .bind(kind.as_str())
                .bind(id)
                .bind(expected_version)
                .bind(&c.name)
                .bind(&c.description)
                .bind(c.credential_id)
                .bind(sqlx::types::Json(&c.config))
                .bind($crate::now())
                .bind(name_key)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(updated) = updated else {
                    drop(tx);
                    return Err(self.missing_or_moved_on("data_sources", org_id, id, Some(kind)).await);
                };
                Self::record_change(&mut tx, $crate::ChangeSubject::DataSource, &id.to_string())
                    .await?;
                Self::insert_audit(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(updated)
            }
            async fn delete_data_source(
                &self,
                org_id: uuid::Uuid,
                kind: $crate::DataSourceKind,
                id: uuid::Uuid,
                expected_version: Option<i64>,
                audit: &$crate::NewAuditEvent,
            ) -> Result<Vec<String>, $crate::StoreError> {
                let mut tx = self.pool.begin().await?;
                let deleted = sqlx::query(
                    "DELETE FROM data_sources WHERE org_id = $1 AND kind = $2 AND id = $3 \
                     AND ($4 IS NULL OR version = $4)",
                )
                .bind(org_id)
                .bind(kind.as_str())
                .bind(id)
                .bind(expected_version)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if deleted == 0 {
                    drop(tx);
                    return Err(self.missing_or_moved_on("data_sources", org_id, id, Some(kind)).await);
                }
                let revoked: Vec<(String,)> = sqlx::query_as(
                    "UPDATE api_keys SET revoked_at = $3 \
                     WHERE org_id = $1 AND data_source_id = $2 AND revoked_at IS NULL \
                     RETURNING prefix",
                )
                .bind(org_id)
                .bind(id)
                .bind($crate::now())
                .fetch_all(&mut *tx)
                .await?;
                Self::record_change(&mut tx, $crate::ChangeSubject::DataSource, &id.to_string())
                    .await?;
                for (prefix,) in &revoked {
                    Self::record_change(&mut tx, $crate::ChangeSubject::ApiKey, prefix).await?;
                }
                Self::insert_audit(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(revoked.into_iter().map(|(prefix,)| prefix).collect())
            }
        }
    };
}

pub(crate) use impl_data_sources;
