//! What the data source and destination use cases take and answer.

use chrono::{DateTime, Utc};
use latch_store::{DataSource, DataSourceKind};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use crate::input::normalized;

#[derive(Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "name": "Looker usage exports",
    "description": "Nightly export of dashboard usage",
    "connector": "looker",
    "credential_id": "019a8f0e-5b7c-7d3e-9a41-6c2f8e1d4b20",
    "config": {"look_ids": [12, 31]}
}))]
pub struct CreateDataSourceRequest {
    /// Unique in your organization among sources (or destinations).
    #[serde(default, deserialize_with = "normalized")]
    #[validate(
        required(message = "is required"),
        length(min = 1, max = 128, message = "must be 1 to 128 characters"),
        custom(function = "crate::input::plain_name")
    )]
    #[schema(value_type = String, required = true, nullable = false, min_length = 1, max_length = 128)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "normalized")]
    #[validate(
        length(max = 1000, message = "must be at most 1000 characters"),
        custom(function = "crate::input::printable")
    )]
    #[schema(max_length = 1000)]
    pub description: Option<String>,
    #[schema(value_type = String, required = true, nullable = false)]
    pub connector: Option<String>,
    /// A saved credential of the same connector, from `GET /v1/credentials?connector=...`.
    #[schema(value_type = Uuid, required = true, nullable = false)]
    pub credential_id: Option<Uuid>,
    /// Settings of the source itself (a JSON object, at most 16 KiB). Defaults to `{}`.
    #[schema(value_type = Object, required = false)]
    pub config: Option<Value>,
}

/// Only the fields sent change. Re-pointing `credential_id` is how a credential is replaced
/// without downtime: the jobs' next token comes from the new one.
#[derive(Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"credential_id": "019a8f0e-5b7c-7d3e-9a41-6c2f8e1d4b21"}))]
pub struct UpdateDataSourceRequest {
    #[serde(default, deserialize_with = "normalized")]
    #[validate(
        length(min = 1, max = 128, message = "must be 1 to 128 characters"),
        custom(function = "crate::input::plain_name")
    )]
    #[schema(min_length = 1, max_length = 128)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "normalized")]
    #[validate(
        length(max = 1000, message = "must be at most 1000 characters"),
        custom(function = "crate::input::printable")
    )]
    #[schema(max_length = 1000)]
    pub description: Option<String>,
    pub credential_id: Option<Uuid>,
    #[schema(value_type = Option<Object>)]
    pub config: Option<Value>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DataSourceKindView {
    Source,
    Destination,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DataSourceView {
    pub id: Uuid,
    pub kind: DataSourceKindView,
    pub name: String,
    pub description: Option<String>,
    pub connector: String,
    pub credential_id: Uuid,
    #[schema(value_type = Object)]
    pub config: Value,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Things to look at, such as a selected credential that is marked invalid.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl DataSourceView {
    pub fn new(source: DataSource, warnings: Vec<String>) -> Self {
        Self {
            id: source.id,
            kind: match source.kind {
                DataSourceKind::Source => DataSourceKindView::Source,
                DataSourceKind::Destination => DataSourceKindView::Destination,
            },
            name: source.name,
            description: source.description,
            connector: source.connector,
            credential_id: source.credential_id,
            config: source.config,
            version: source.version,
            created_at: source.created_at,
            updated_at: source.updated_at,
            warnings,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DataSourceList {
    pub items: Vec<DataSourceView>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListDataSourcesQuery {
    #[param(example = "looker")]
    pub connector: Option<String>,
    /// Only those using this credential.
    #[param(value_type = Option<Uuid>)]
    pub credential_id: Option<String>,
    #[param(value_type = Option<i64>, minimum = 1, maximum = 200)]
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

#[derive(Default, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "nightly export runner"}))]
pub struct CreateJobKeyRequest {
    #[serde(default, deserialize_with = "normalized")]
    #[validate(
        length(min = 1, max = 128, message = "must be 1 to 128 characters"),
        custom(function = "crate::input::plain_name")
    )]
    #[schema(min_length = 1, max_length = 128)]
    pub name: Option<String>,
}
