//! The SQL of audit, for both backends (see [`crate::sql_store`]).

macro_rules! impl_audit {
    ($store:ident, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::AuditStore for $store {
            async fn owner_org(
                &self,
                table: $crate::OwnedTable,
                id: uuid::Uuid,
            ) -> Result<Option<uuid::Uuid>, $crate::StoreError> {
                // The table name comes from a closed enum, never from input.
                let row: Option<(uuid::Uuid,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT org_id FROM {} WHERE id = $1",
                    table.table()
                )))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(|(org_id,)| org_id))
            }
            async fn record_audit_event(
                &self,
                event: &$crate::NewAuditEvent,
            ) -> Result<(), $crate::StoreError> {
                <Self as $crate::AuditStore>::record_audit_events(self, std::slice::from_ref(event))
                    .await
            }
            async fn record_audit_events(
                &self,
                events: &[$crate::NewAuditEvent],
            ) -> Result<(), $crate::StoreError> {
                let mut tx = self.pool.begin().await?;
                for event in events {
                    Self::insert_audit(&mut tx, event).await?;
                }
                tx.commit().await?;
                Ok(())
            }
            async fn list_audit_events(
                &self,
                org_id: uuid::Uuid,
                filter: &$crate::AuditFilter,
                page: $crate::Page,
            ) -> Result<Vec<$crate::AuditEvent>, $crate::StoreError> {
                let sql = if filter.newest_first {
                    "SELECT * FROM audit_events WHERE org_id = $1 \
                     AND ($2 IS NULL OR action = $2) AND ($3 IS NULL OR target_type = $3) \
                     AND ($4 IS NULL OR target_id = $4) AND ($5 IS NULL OR id < $5) \
                     ORDER BY id DESC LIMIT $6"
                } else {
                    "SELECT * FROM audit_events WHERE org_id = $1 \
                     AND ($2 IS NULL OR action = $2) AND ($3 IS NULL OR target_type = $3) \
                     AND ($4 IS NULL OR target_id = $4) AND ($5 IS NULL OR id > $5) \
                     ORDER BY id LIMIT $6"
                };
                Ok(sqlx::query_as(sql)
                    .bind(org_id)
                    .bind(&filter.action)
                    .bind(&filter.target_type)
                    .bind(&filter.target_id)
                    .bind(page.after)
                    .bind(page.limit)
                    .fetch_all(&self.pool)
                    .await?)
            }
        }
    };
}

pub(crate) use impl_audit;
