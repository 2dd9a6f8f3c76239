use chrono::{DateTime, SubsecRound, Utc};
use serde_json::Value;
use sqlx::FromRow;
use uuid::Uuid;

/// The current time at the precision both backends keep (microseconds).
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct Organization {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

/// One key-encryption key the database knows, by id, with its check value.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct KeyringEntry {
    pub kek_id: String,
    pub created_at: DateTime<Utc>,
    /// `active` (wraps new data keys) or `retired` (only unwraps).
    pub state: String,
    pub check_value: Vec<u8>,
    /// The argon2id salt when the key is derived from a passphrase.
    pub kdf_salt: Option<Vec<u8>>,
    /// The argon2id cost the key was derived at (`argon2id:m=..,t=..,p=..`); absent on keys
    /// made before it was kept, which used the default cost.
    pub kdf_params: Option<String>,
}

/// A table whose rows hold a wrapped data key (`wrapped_dek`, `kek_id`): what a rotation
/// moves and counts. A test holds this list to the schema, so a new one is not forgotten.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum SealedTable {
    #[default]
    Credentials,
    ConnectSessions,
    /// Only the apps with a secret hold a data key.
    OAuthApps,
    /// Each endpoint's signing secrets.
    Webhooks,
}

impl SealedTable {
    pub const ALL: [SealedTable; 4] = [
        SealedTable::Credentials,
        SealedTable::ConnectSessions,
        SealedTable::OAuthApps,
        SealedTable::Webhooks,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SealedTable::Credentials => "credentials",
            SealedTable::ConnectSessions => "connect_sessions",
            SealedTable::OAuthApps => "oauth_apps",
            SealedTable::Webhooks => "webhooks",
        }
    }
}

/// A record's wrapped data key, as a rotation reads and rewrites it.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct WrappedKeyRow {
    /// The table the row is in.
    #[sqlx(skip)]
    pub table: SealedTable,
    pub id: Uuid,
    pub org_id: Uuid,
    pub kek_id: String,
    pub wrapped_dek: Vec<u8>,
}

/// A data key wrapped anew: written only if the row still holds `old`.
#[derive(Debug, Clone)]
pub struct Rewrapped {
    pub old: WrappedKeyRow,
    pub kek_id: String,
    pub wrapped_dek: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct ApiKey {
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: String,
    /// The public part of the key, shown in listings and used to find the row.
    pub prefix: String,
    /// SHA-256 of the whole key.
    pub hash: Vec<u8>,
    /// Space-separated scopes.
    pub scopes: String,
    pub data_source_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: String,
    pub prefix: String,
    pub hash: Vec<u8>,
    pub scopes: String,
    pub data_source_id: Option<Uuid>,
}

/// Whether a credential is known to work, as last measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CredentialStatus {
    Unverified,
    Valid,
    Invalid,
    /// Transient trouble (the upstream could not be reached, or erred) several times in a row.
    Degraded,
    /// An OAuth grant the upstream no longer accepts: a person must consent again.
    ReauthorizationRequired,
}

impl CredentialStatus {
    pub const ALL: [CredentialStatus; 5] = [
        CredentialStatus::Unverified,
        CredentialStatus::Valid,
        CredentialStatus::Invalid,
        CredentialStatus::Degraded,
        CredentialStatus::ReauthorizationRequired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CredentialStatus::Unverified => "unverified",
            CredentialStatus::Valid => "valid",
            CredentialStatus::Invalid => "invalid",
            CredentialStatus::Degraded => "degraded",
            CredentialStatus::ReauthorizationRequired => "reauthorization_required",
        }
    }

    /// Where the status sorts when broken ones come first: a consent to give again, then a
    /// refused secret, then trouble reaching the upstream, then untested, then fine. The SQL
    /// of the `Attention` order says the same in a CASE (`ATTENTION_RANK` in the store).
    pub fn attention_rank(self) -> i64 {
        match self {
            CredentialStatus::ReauthorizationRequired => 0,
            CredentialStatus::Invalid => 1,
            CredentialStatus::Degraded => 2,
            CredentialStatus::Unverified => 3,
            CredentialStatus::Valid => 4,
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == text)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown credential status `{0}`")]
pub struct UnknownStatus(String);

impl TryFrom<String> for CredentialStatus {
    type Error = UnknownStatus;

    fn try_from(text: String) -> Result<Self, UnknownStatus> {
        Self::parse(&text).ok_or(UnknownStatus(text))
    }
}

/// A stored credential. The secret columns are ciphertext the store cannot read.
#[derive(Clone, FromRow)]
pub struct Credential {
    pub id: Uuid,
    pub org_id: Uuid,
    pub connector: String,
    /// `client_credentials` (an API key's ID and secret) or `oauth_authorization_code`.
    pub auth_method: String,
    pub name: String,
    pub description: Option<String>,
    #[sqlx(json)]
    pub config: Value,
    pub secret_ct: Vec<u8>,
    pub secret_nonce: Vec<u8>,
    pub wrapped_dek: Vec<u8>,
    pub kek_id: String,
    #[sqlx(try_from = "String")]
    pub status: CredentialStatus,
    pub status_detail: Option<String>,
    #[sqlx(json(nullable))]
    pub identity: Option<Value>,
    pub validated_at: Option<DateTime<Utc>>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The OAuth app a credential made by consent was made through.
    pub oauth_app_id: Option<Uuid>,
    /// Since when it has had its status.
    pub status_since: DateTime<Utc>,
    /// Checks and token logins that failed since the last success.
    pub consecutive_failures: i64,
    /// Why the last of those failed; `None` after a success.
    pub last_failure: Option<String>,
    /// When an upstream last handed out a token for it.
    pub last_token_at: Option<DateTime<Utc>>,
    /// When a scheduled check last ran for it, whatever it found.
    pub checked_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for Credential {
    // Ciphertext is not secret, but it is noise in logs and has no business there.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("id", &self.id)
            .field("org_id", &self.org_id)
            .field("connector", &self.connector)
            .field("name", &self.name)
            .field("status", &self.status)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl Credential {
    /// The mutable fields as they are now, to be edited and passed to `update_credential`.
    pub fn changes(&self) -> CredentialChanges {
        CredentialChanges {
            name: self.name.clone(),
            description: self.description.clone(),
            config: self.config.clone(),
            secret_ct: self.secret_ct.clone(),
            secret_nonce: self.secret_nonce.clone(),
            health: None,
        }
    }
}

#[derive(Clone)]
pub struct NewCredential {
    pub id: Uuid,
    pub org_id: Uuid,
    pub connector: String,
    pub name: String,
    pub description: Option<String>,
    pub config: Value,
    pub secret_ct: Vec<u8>,
    pub secret_nonce: Vec<u8>,
    pub wrapped_dek: Vec<u8>,
    pub kek_id: String,
    pub status: CredentialStatus,
    pub status_detail: Option<String>,
    pub identity: Option<Value>,
    pub validated_at: Option<DateTime<Utc>>,
    /// For a credential made by consent: the app it was made through.
    pub oauth_app_id: Option<Uuid>,
    /// How it logs in (`client_credentials`, `oauth_client_credentials`, ...).
    pub auth_method: String,
}

/// The fields a person edits, all written at once.
#[derive(Clone, PartialEq)]
pub struct CredentialChanges {
    pub name: String,
    pub description: Option<String>,
    pub config: Value,
    pub secret_ct: Vec<u8>,
    pub secret_nonce: Vec<u8>,
    /// New settings start the credential's health over; `None` leaves it as it is.
    pub health: Option<crate::HealthReset>,
}

#[derive(Debug, Clone, Default)]
pub struct CredentialFilter {
    pub connector: Option<String>,
    /// Any of these statuses; every status when empty.
    pub statuses: Vec<CredentialStatus>,
    /// Only names whose folded form ([`crate::folded_name`]) holds this folded text.
    pub name_contains: Option<String>,
    pub order: CredentialOrder,
    /// For `Name` and `Attention`: the sort keys of the row the page follows (its id is
    /// `Page::after`).
    pub after: Option<CredentialSortKey>,
}

/// The orders credentials are listed in. Each ends in the id, so that an order is total and
/// a page can follow its last row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CredentialOrder {
    /// By id: UUIDv7 ids follow creation.
    #[default]
    Oldest,
    Newest,
    /// By folded name.
    Name,
    /// What needs a person first ([`CredentialStatus::attention_rank`]), then by folded name.
    Attention,
}

/// Where a row sits in the `Name` and `Attention` orders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialSortKey {
    pub rank: i64,
    pub name_key: String,
}

/// Keyset pagination: rows with an id after `after`, at most `limit` of them.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub after: Option<Uuid>,
    pub limit: i64,
}

impl Page {
    pub fn first(limit: i64) -> Self {
        Self { after: None, limit }
    }
}

/// Which audit events to list, and in which order.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub action: Option<String>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    /// Newest first (a page's cursor then moves back in time).
    pub newest_first: bool,
}

/// An audit event to record. `detail` never holds a secret or a token.
#[derive(Debug, Clone)]
pub struct NewAuditEvent {
    pub org_id: Option<Uuid>,
    pub actor_key_id: Option<Uuid>,
    pub action: String,
    pub target_type: String,
    pub target_id: Option<String>,
    pub outcome: String,
    pub detail: Value,
}

#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct AuditEvent {
    pub id: Uuid,
    pub org_id: Option<Uuid>,
    pub at: DateTime<Utc>,
    pub actor_key_id: Option<Uuid>,
    pub action: String,
    pub target_type: String,
    pub target_id: Option<String>,
    pub outcome: String,
    #[sqlx(json)]
    pub detail: Value,
}

/// A credential's stored token row: the sealed token (when one was obtained) and the lease.
#[derive(Clone, PartialEq, FromRow)]
pub struct StoredToken {
    pub credential_id: Uuid,
    pub token_ct: Option<Vec<u8>>,
    pub nonce: Option<Vec<u8>>,
    pub token_type: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub obtained_at: Option<DateTime<Utc>>,
    /// The credential version the token was obtained with; readers drop older ones.
    pub credential_version: i64,
    pub lease_owner: Option<String>,
    pub lease_until: Option<DateTime<Utc>>,
    /// An OAuth credential's refresh token, sealed; it outlives changes of the credential's
    /// version (a grant is only replaced by a reconnect).
    pub refresh_ct: Option<Vec<u8>>,
    pub refresh_nonce: Option<Vec<u8>>,
    /// What the connector kept from the upstream's answer for jobs; never a secret.
    #[sqlx(json(nullable))]
    pub metadata: Option<Value>,
}

impl std::fmt::Debug for StoredToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredToken")
            .field("credential_id", &self.credential_id)
            .field("expires_at", &self.expires_at)
            .field("credential_version", &self.credential_version)
            .field("lease_owner", &self.lease_owner)
            .finish_non_exhaustive()
    }
}

/// A freshly obtained token, sealed, to be written under a lease.
#[derive(Clone)]
pub struct NewToken {
    pub token_ct: Vec<u8>,
    pub nonce: Vec<u8>,
    pub token_type: String,
    pub expires_at: DateTime<Utc>,
    pub obtained_at: DateTime<Utc>,
    pub credential_version: i64,
    /// A rotated refresh token, sealed: written with the access token, under the same lease.
    /// `None` keeps the stored one.
    pub refresh_ct: Option<Vec<u8>>,
    pub refresh_nonce: Option<Vec<u8>>,
    /// What the connector kept from the answer for jobs (a JSON object); never a secret.
    pub metadata: Value,
}

/// The tables whose rows an id in a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OwnedTable {
    Credentials,
    DataSources,
    ApiKeys,
    OAuthApps,
}

impl OwnedTable {
    pub fn table(self) -> &'static str {
        match self {
            OwnedTable::Credentials => "credentials",
            OwnedTable::DataSources => "data_sources",
            OwnedTable::ApiKeys => "api_keys",
            OwnedTable::OAuthApps => "oauth_apps",
        }
    }
}

/// Whether a data source reads from the upstream or a destination writes to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataSourceKind {
    Source,
    Destination,
}

impl DataSourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DataSourceKind::Source => "source",
            DataSourceKind::Destination => "destination",
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown data source kind `{0}`")]
pub struct UnknownKind(String);

impl TryFrom<String> for DataSourceKind {
    type Error = UnknownKind;

    fn try_from(text: String) -> Result<Self, UnknownKind> {
        match text.as_str() {
            "source" => Ok(DataSourceKind::Source),
            "destination" => Ok(DataSourceKind::Destination),
            _ => Err(UnknownKind(text)),
        }
    }
}

#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct DataSource {
    pub id: Uuid,
    pub org_id: Uuid,
    #[sqlx(try_from = "String")]
    pub kind: DataSourceKind,
    pub name: String,
    pub description: Option<String>,
    pub connector: String,
    pub credential_id: Uuid,
    #[sqlx(json)]
    pub config: Value,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewDataSource {
    pub id: Uuid,
    pub org_id: Uuid,
    pub kind: DataSourceKind,
    pub name: String,
    pub description: Option<String>,
    pub connector: String,
    pub credential_id: Uuid,
    pub config: Value,
}

/// The mutable fields of a data source, all written at once.
#[derive(Debug, Clone, PartialEq)]
pub struct DataSourceChanges {
    pub name: String,
    pub description: Option<String>,
    pub credential_id: Uuid,
    pub config: Value,
}

impl DataSource {
    pub fn changes(&self) -> DataSourceChanges {
        DataSourceChanges {
            name: self.name.clone(),
            description: self.description.clone(),
            credential_id: self.credential_id,
            config: self.config.clone(),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct DataSourceFilter {
    pub connector: Option<String>,
    pub credential_id: Option<Uuid>,
}

/// How many sources and destinations use a credential.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CredentialUsage {
    pub sources: i64,
    pub destinations: i64,
}

/// One change of a cached record, in commit order: what replicas drop from their caches.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct Change {
    pub seq: i64,
    /// [`ChangeSubject::as_str`].
    pub subject: String,
    /// The credential's or data source's id, or the API key's prefix.
    pub key: String,
}

/// What kind of record a [`Change`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeSubject {
    Credential,
    ApiKey,
    DataSource,
}

impl ChangeSubject {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeSubject::Credential => "credential",
            ChangeSubject::ApiKey => "api_key",
            ChangeSubject::DataSource => "data_source",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Credential, Self::ApiKey, Self::DataSource]
            .into_iter()
            .find(|subject| subject.as_str() == text)
    }
}
