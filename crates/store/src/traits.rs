//! What Latch keeps, one trait per table group; [`crate::Store`] is all of them. Each is
//! implemented once for both backends, by its group's module in `crate::sql`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::*;

/// Organizations: the tenants every other row belongs to.
#[async_trait]
pub trait OrganizationStore: Send + Sync {
    /// Returns the organisation with this name, creating it when missing.
    async fn ensure_organization(&self, name: &str) -> Result<Organization, StoreError>;
    async fn find_organization(&self, name: &str) -> Result<Option<Organization>, StoreError>;
    async fn organization(&self, id: Uuid) -> Result<Option<Organization>, StoreError>;
}

/// The keyring: key-encryption key entries, and the data keys they wrap (rotation).
#[async_trait]
pub trait KeyringStore: Send + Sync {
    async fn keyring_entries(&self) -> Result<Vec<KeyringEntry>, StoreError>;
    /// Adds a keyring entry; `Conflict` when an entry with its id exists.
    async fn insert_keyring_entry(&self, entry: &KeyringEntry) -> Result<(), StoreError>;
    /// Retires the active entry `retire` and adds `new` as the active one, at once; `false`
    /// (nothing changed) when `retire` is no longer the active entry or `new`'s id is taken:
    /// another replica rotated first.
    async fn rotate_keyring(&self, retire: &str, new: &KeyringEntry) -> Result<bool, StoreError>;
    /// How many data keys each KEK wraps, in every [`SealedTable`].
    async fn kek_usage(&self) -> Result<Vec<(String, i64)>, StoreError>;
    /// Up to `limit` wrapped data keys of `table` not under `kek_id`, by id after `after`.
    async fn wrapped_keys_not_under(
        &self,
        table: SealedTable,
        kek_id: &str,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<WrappedKeyRow>, StoreError>;
    /// Writes rewrapped data keys in one transaction; a row whose wrapped key changed since
    /// it was read is left alone. Returns how many were written.
    async fn rewrap_keys(&self, rewrapped: &[Rewrapped]) -> Result<u64, StoreError>;
}

/// API keys: who may call the API, each kept as a hash of its secret.
#[async_trait]
pub trait ApiKeyStore: Send + Sync {
    /// Also `NotFound` when the key is bound to a data source that is gone.
    async fn insert_api_key(
        &self,
        key: &NewApiKey,
        audit: &NewAuditEvent,
    ) -> Result<ApiKey, StoreError>;
    /// Every key, revoked or not, whose public prefix is `prefix`.
    async fn api_keys_by_prefix(&self, prefix: &str) -> Result<Vec<ApiKey>, StoreError>;
    async fn list_api_keys(&self, org_id: Uuid, page: Page) -> Result<Vec<ApiKey>, StoreError>;
    async fn count_api_keys(&self, org_id: Uuid) -> Result<i64, StoreError>;
    /// The job keys bound to one data source or destination, revoked ones too.
    async fn list_job_keys(
        &self,
        org_id: Uuid,
        data_source_id: Uuid,
        page: Page,
    ) -> Result<Vec<ApiKey>, StoreError>;
    /// Marks a key revoked; `NotFound` when the org has no such live key, or, with
    /// `bound_to`, no such live key bound to that data source.
    async fn revoke_api_key(
        &self,
        org_id: Uuid,
        id: Uuid,
        bound_to: Option<Uuid>,
        audit: &NewAuditEvent,
    ) -> Result<ApiKey, StoreError>;
}

/// Credentials: the sealed secrets and their settings.
#[async_trait]
pub trait CredentialStore: Send + Sync {
    /// Stores a new credential; `Conflict` when its name is taken in the org.
    async fn insert_credential(
        &self,
        credential: &NewCredential,
        audit: &NewAuditEvent,
    ) -> Result<Credential, StoreError>;
    async fn get_credential(
        &self,
        org_id: Uuid,
        id: Uuid,
    ) -> Result<Option<Credential>, StoreError>;
    async fn list_credentials(
        &self,
        org_id: Uuid,
        filter: &CredentialFilter,
        page: Page,
    ) -> Result<Vec<Credential>, StoreError>;
    /// Replaces the mutable fields when the row is still at `expected_version`, and bumps it.
    /// `NotFound`, `VersionMismatch` (someone else changed it) or `Conflict` (name taken).
    async fn update_credential(
        &self,
        org_id: Uuid,
        id: Uuid,
        expected_version: i64,
        changes: &CredentialChanges,
        audit: &NewAuditEvent,
    ) -> Result<Credential, StoreError>;
    /// Deletes a credential, only at `expected_version` when one is given.
    async fn delete_credential(
        &self,
        org_id: Uuid,
        id: Uuid,
        expected_version: Option<i64>,
        audit: &NewAuditEvent,
    ) -> Result<(), StoreError>;

    /// How many data sources and destinations use each of `ids` (absent: none).
    async fn credential_usage(
        &self,
        org_id: Uuid,
        ids: &[Uuid],
    ) -> Result<std::collections::HashMap<Uuid, CredentialUsage>, StoreError>;
}

/// What a health step writes, given the credential as it is when its row is locked.
pub type HealthStepFn<'a> = &'a (dyn Fn(&Credential) -> Option<HealthStep> + Send + Sync);

/// Credential health: written beside a credential without editing it (no `version` bump, no
/// change-feed entry), with the history of its status.
#[async_trait]
pub trait HealthStore: Send + Sync {
    /// In one transaction: locks the credential while it is still at `version`, asks `step`
    /// what to write for the row as it is then, and writes it with the status change and the
    /// audit event it names. `None` when the credential is gone or at another version (what
    /// was measured was of settings it no longer has); the row unchanged when `step` answers
    /// `None`.
    ///
    /// With a `fence`, the write happens only while the fence's task lease is held (the lease
    /// row is locked until the commit, so another replica takes it over only after): a stale
    /// holder's measurement is refused with `LeaseLost`.
    async fn observe_health(
        &self,
        org_id: Uuid,
        id: Uuid,
        version: i64,
        fence: Option<&TaskFence>,
        step: HealthStepFn<'_>,
    ) -> Result<Option<(Credential, Option<HealthChange>)>, StoreError>;
    /// The latest `limit` changes of a credential's status, newest first.
    async fn health_changes(
        &self,
        org_id: Uuid,
        credential_id: Uuid,
        limit: i64,
    ) -> Result<Vec<HealthChange>, StoreError>;
}

/// The background worker's task leases, and what its tasks read.
#[async_trait]
pub trait WorkerStore: Send + Sync {
    /// Takes `task` for `owner` until `until` when nobody holds it (or its holder's lease
    /// lapsed before `now`) and its last run finished no later than `due_before`.
    async fn acquire_task_lease(
        &self,
        task: &str,
        owner: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
        due_before: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Extends `owner`'s lease; `false` when it no longer holds it.
    async fn renew_task_lease(
        &self,
        task: &str,
        owner: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Ends `owner`'s run at `at` and frees the task; `false` when it no longer held it.
    async fn finish_task(
        &self,
        task: &str,
        owner: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Every task that ever ran, with its holder and last run.
    async fn task_leases(&self) -> Result<Vec<TaskLease>, StoreError>;
    /// Credentials of every organization counted by connector and status, for `/metrics`.
    async fn credential_census(&self) -> Result<Vec<CensusRow>, StoreError>;
    /// When each credential of every organization last got a token (those that ever did).
    async fn last_tokens(&self) -> Result<Vec<DateTime<Utc>>, StoreError>;
    /// Deletes up to `limit` rows of `table` recorded before `before` (by their time-ordered
    /// ids, so the primary key finds them); how many went.
    async fn prune_history(
        &self,
        table: HistoryTable,
        before: DateTime<Utc>,
        limit: i64,
    ) -> Result<u64, StoreError>;
    /// Credentials of every organization neither checked nor proven (by a test login or a
    /// token) since `before` (those never checked nor proven: made before it), checked longest
    /// ago first; none that waits for a new consent
    /// (`reauthorization_required`: only a person can mend it).
    async fn credentials_due_for_check(
        &self,
        before: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<Credential>, StoreError>;
}

/// Data sources and destinations, each selecting a credential.
#[async_trait]
pub trait DataSourceStore: Send + Sync {
    /// Stores a data source; `Conflict` when its name is taken for its kind in the org,
    /// `NotFound` when its credential is gone.
    async fn insert_data_source(
        &self,
        source: &NewDataSource,
        audit: &NewAuditEvent,
    ) -> Result<DataSource, StoreError>;
    async fn get_data_source(
        &self,
        org_id: Uuid,
        kind: DataSourceKind,
        id: Uuid,
    ) -> Result<Option<DataSource>, StoreError>;
    async fn list_data_sources(
        &self,
        org_id: Uuid,
        kind: DataSourceKind,
        filter: &DataSourceFilter,
        page: Page,
    ) -> Result<Vec<DataSource>, StoreError>;
    /// Every source and destination using a credential.
    async fn data_sources_using(
        &self,
        org_id: Uuid,
        credential_id: Uuid,
    ) -> Result<Vec<DataSource>, StoreError>;
    /// As `update_credential`, for a data source.
    async fn update_data_source(
        &self,
        org_id: Uuid,
        kind: DataSourceKind,
        id: Uuid,
        expected_version: i64,
        changes: &DataSourceChanges,
        audit: &NewAuditEvent,
    ) -> Result<DataSource, StoreError>;
    /// Deletes a data source and revokes the job keys bound to it, in one transaction;
    /// returns the prefixes of the keys it revoked.
    async fn delete_data_source(
        &self,
        org_id: Uuid,
        kind: DataSourceKind,
        id: Uuid,
        expected_version: Option<i64>,
        audit: &NewAuditEvent,
    ) -> Result<Vec<String>, StoreError>;
}

/// OAuth apps: the clients consents are given to.
#[async_trait]
pub trait OAuthAppStore: Send + Sync {
    async fn insert_oauth_app(
        &self,
        app: &NewOAuthApp,
        audit: &NewAuditEvent,
    ) -> Result<OAuthApp, StoreError>;
    async fn get_oauth_app(&self, org_id: Uuid, id: Uuid) -> Result<Option<OAuthApp>, StoreError>;
    /// An app by its id alone, whatever its organization: for the callback, whose path names
    /// the app.
    async fn oauth_app_by_id(&self, id: Uuid) -> Result<Option<OAuthApp>, StoreError>;
    async fn list_oauth_apps(
        &self,
        org_id: Uuid,
        connector: Option<&str>,
        page: Page,
    ) -> Result<Vec<OAuthApp>, StoreError>;
    /// Every organization's apps of `connector`.
    async fn oauth_apps_of_connector(&self, connector: &str) -> Result<Vec<OAuthApp>, StoreError>;
    /// The credentials (id, name) made through the app.
    async fn credentials_using_oauth_app(
        &self,
        org_id: Uuid,
        app_id: Uuid,
    ) -> Result<Vec<(Uuid, String)>, StoreError>;
    async fn update_oauth_app(
        &self,
        org_id: Uuid,
        id: Uuid,
        expected_version: i64,
        changes: &OAuthAppChanges,
        audit: &NewAuditEvent,
    ) -> Result<OAuthApp, StoreError>;
    /// `InUse` while a credential was made through the app.
    async fn delete_oauth_app(
        &self,
        org_id: Uuid,
        id: Uuid,
        expected_version: Option<i64>,
        audit: &NewAuditEvent,
    ) -> Result<(), StoreError>;
}

/// Connect sessions: consents in progress, and their completion into credentials.
#[async_trait]
pub trait ConnectSessionStore: Send + Sync {
    /// Refused with `LimitReached` (naming when the first pending one expires) while the
    /// organization has `max_pending` pending, unexpired sessions.
    async fn insert_connect_session(
        &self,
        session: &NewConnectSession,
        max_pending: i64,
        audit: &NewAuditEvent,
    ) -> Result<ConnectSession, StoreError>;
    /// Deletes the sessions that expired before `expired_before` (every session ends by its
    /// expiry; the audit trail keeps their history); how many.
    async fn prune_connect_sessions(
        &self,
        expired_before: DateTime<Utc>,
    ) -> Result<u64, StoreError>;
    async fn get_connect_session(
        &self,
        org_id: Uuid,
        id: Uuid,
    ) -> Result<Option<ConnectSession>, StoreError>;
    async fn connect_session_by_state(
        &self,
        state_hash: &[u8],
    ) -> Result<Option<ConnectSession>, StoreError>;
    /// Claims a pending, unexpired and unclaimed session for the callback that trades its
    /// code; `false` when another got there first (or it is no longer pending).
    async fn claim_connect_session(&self, id: Uuid, at: DateTime<Utc>) -> Result<bool, StoreError>;
    /// Marks a pending session failed with the reason, unless a callback claimed it after
    /// `claimed_before`; `false` when it was not failed.
    async fn fail_connect_session(
        &self,
        id: Uuid,
        error: &str,
        claimed_before: DateTime<Utc>,
        audit: &NewAuditEvent,
    ) -> Result<bool, StoreError>;
    /// In one transaction: completes the session (only while pending and claimed, else
    /// `NotFound`), saves the credential with `auth_method`, and its first tokens.
    async fn complete_connect_session(
        &self,
        session_id: Uuid,
        credential: &NewCredential,
        auth_method: &str,
        tokens: &NewGrantTokens,
        audit: &NewAuditEvent,
    ) -> Result<Credential, StoreError>;

    /// In one transaction: completes the session (only while pending and claimed, else
    /// `NotFound`), gives the OAuth credential its new config and status `valid`, and replaces
    /// its grant (access and refresh token) whole, dropping any lease on it.
    #[allow(clippy::too_many_arguments)]
    async fn complete_reconnect(
        &self,
        session_id: Uuid,
        org_id: Uuid,
        credential_id: Uuid,
        oauth_app_id: Option<Uuid>,
        config: &serde_json::Value,
        status_detail: &str,
        identity: Option<&serde_json::Value>,
        tokens: &NewGrantTokens,
        audit: &NewAuditEvent,
    ) -> Result<Credential, StoreError>;
}

/// Credential tokens: the last token obtained, and the lease to log in for the next.
#[async_trait]
pub trait TokenStore: Send + Sync {
    async fn credential_token(
        &self,
        credential_id: Uuid,
    ) -> Result<Option<StoredToken>, StoreError>;
    /// Takes the refresh lease of a credential's token for `owner` until `until`, when nobody
    /// holds it or its holder's lease lapsed before `now`. `Ok(false)`: someone else holds it.
    async fn acquire_token_lease(
        &self,
        credential_id: Uuid,
        credential_version: i64,
        owner: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Writes a token and frees the lease, only while `owner` still holds it (fencing: a
    /// holder whose lease lapsed cannot overwrite its successor's token). `Ok(false)` if not.
    async fn store_token(
        &self,
        credential_id: Uuid,
        owner: &str,
        token: &NewToken,
    ) -> Result<bool, StoreError>;
    /// Writes a token whose login outlived its lease, only while the stored refresh token is
    /// still the one that login spent (`spent_refresh_ct`, as read): the upstream rotated it,
    /// so the token's own rotated one is the only one left that works, and losing it would
    /// cost a new consent. Leaves the lease to its holder. `Ok(false)` when the stored one
    /// changed meanwhile (a successor's grant, or a reconnect, is newer).
    async fn store_rotated_token(
        &self,
        credential_id: Uuid,
        spent_refresh_ct: &[u8],
        token: &NewToken,
    ) -> Result<bool, StoreError>;
    /// Moves the end of `owner`'s lease to `until`; `false` when `owner` no longer holds it.
    async fn renew_token_lease(
        &self,
        credential_id: Uuid,
        owner: &str,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Frees the lease if `owner` still holds it.
    async fn release_token_lease(&self, credential_id: Uuid, owner: &str)
    -> Result<(), StoreError>;
    async fn delete_credential_token(&self, credential_id: Uuid) -> Result<(), StoreError>;
}

/// The change feed replicas follow to drop what they cached.
#[async_trait]
pub trait ChangeStore: Send + Sync {
    /// The sequence number of the last change committed.
    async fn latest_change(&self) -> Result<i64, StoreError>;
    /// Changes after `seq`, oldest first, at most `limit`. Sequence numbers have no gaps: a
    /// first change after `seq + 1` means the ones between were pruned.
    async fn changes_after(&self, seq: i64, limit: i64) -> Result<Vec<Change>, StoreError>;
    /// Forgets changes made before `before`; returns how many.
    async fn prune_changes(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;
}

/// The audit trail, and who owns a record (to tell a probe from a miss).
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// The organisation that owns a record, whichever it is: to tell a probe for another
    /// organisation's id from a plain miss. Never shown to the caller.
    async fn owner_org(&self, table: OwnedTable, id: Uuid) -> Result<Option<Uuid>, StoreError>;

    async fn record_audit_event(&self, event: &NewAuditEvent) -> Result<(), StoreError>;
    /// Records several events in one transaction (batched token issuances).
    async fn record_audit_events(&self, events: &[NewAuditEvent]) -> Result<(), StoreError>;
    async fn list_audit_events(
        &self,
        org_id: Uuid,
        filter: &AuditFilter,
        page: Page,
    ) -> Result<Vec<AuditEvent>, StoreError>;
}

/// Webhook endpoints and their deliveries, as people manage them.
#[async_trait]
pub trait WebhookStore: Send + Sync {
    async fn insert_webhook(
        &self,
        webhook: &NewWebhook,
        audit: &NewAuditEvent,
    ) -> Result<Webhook, StoreError>;
    async fn get_webhook(&self, org_id: Uuid, id: Uuid) -> Result<Option<Webhook>, StoreError>;
    async fn list_webhooks(&self, org_id: Uuid, page: Page) -> Result<Vec<Webhook>, StoreError>;
    /// Writes every field of `changes`. Turning an endpoint on again forgets its failures and
    /// makes its paused deliveries due at once, with their retries counted from now.
    async fn update_webhook(
        &self,
        org_id: Uuid,
        id: Uuid,
        expected_version: i64,
        changes: &WebhookChanges,
        audit: &NewAuditEvent,
    ) -> Result<Webhook, StoreError>;
    /// Deletes the endpoint with its deliveries.
    async fn delete_webhook(
        &self,
        org_id: Uuid,
        id: Uuid,
        expected_version: Option<i64>,
        audit: &NewAuditEvent,
    ) -> Result<(), StoreError>;
    /// Queues `webhook.test` for this endpoint alone, due at once.
    async fn queue_test_event(
        &self,
        webhook: &Webhook,
        audit: &NewAuditEvent,
    ) -> Result<Delivery, StoreError>;
    /// The endpoint's deliveries, newest first (`page.after`: the last id of the page before).
    async fn list_deliveries(
        &self,
        org_id: Uuid,
        webhook_id: Uuid,
        page: Page,
    ) -> Result<Vec<Delivery>, StoreError>;
    /// The attempts at the endpoint's deliveries whose ids lie in `first..=last`, oldest first.
    async fn delivery_attempts(
        &self,
        org_id: Uuid,
        webhook_id: Uuid,
        first: Uuid,
        last: Uuid,
    ) -> Result<Vec<DeliveryAttempt>, StoreError>;
    /// Makes a delivery due at `at` again, whatever became of it, with its retries counted
    /// from then; `NotFound` when the endpoint has no such delivery.
    async fn retry_delivery(
        &self,
        org_id: Uuid,
        webhook_id: Uuid,
        delivery_id: Uuid,
        at: DateTime<Utc>,
        audit: &NewAuditEvent,
    ) -> Result<Delivery, StoreError>;
}

/// The delivery loop's side of the outbox.
#[async_trait]
pub trait DeliveryStore: Send + Sync {
    /// Takes up to `limit` due deliveries of enabled endpoints under `owner`'s lease until
    /// `lease_until`: none that another owner holds unexpired.
    async fn claim_deliveries(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<ClaimedDelivery>, StoreError>;
    /// Writes an attempt and what comes next, only while `owner` holds the delivery
    /// (`LeaseLost` otherwise). A failure of an endpoint failing since before
    /// `disable_failing_since_before` turns it off, with `on_disable` audited and
    /// `webhook.disabled` queued for the organization's other endpoints.
    async fn finish_attempt(
        &self,
        owner: &str,
        attempt: &AttemptRecord,
        disable_failing_since_before: DateTime<Utc>,
        on_disable: &NewAuditEvent,
    ) -> Result<AttemptEffect, StoreError>;
}
