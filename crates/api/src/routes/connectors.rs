use actix_web::{HttpResponse, web};
use latch_connector::{AuthMethod, Connector, section_schema};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::auth::Authenticated;
use crate::error::ApiError;
use crate::responses::{KeyRefused, NotFound};
use crate::state::AppState;
use latch_core::CoreError;
use latch_core::catalogue::Catalogue;

/// A connector and the JSON Schemas of the form that creates its credentials.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "id": "looker",
    "name": "Looker",
    "description": "Google Looker business intelligence, through its API 4.0 with an API key (client ID and client secret).",
    "docs_url": "https://cloud.google.com/looker/docs/api-auth",
    "config_schema": {"type": "object", "required": ["api_host_url", "client_id"], "properties": {"api_host_url": {"type": "string", "title": "API Host URL"}}},
    "secrets_schema": {"type": "object", "required": ["client_secret"], "properties": {"client_secret": {"type": "string", "writeOnly": true, "title": "Client Secret"}}}
}))]
pub struct ConnectorView {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub docs_url: &'static str,
    /// JSON Schema of `config`; every property has a `title` and a `description` (help text).
    #[schema(value_type = Object)]
    pub config_schema: Value,
    /// JSON Schema of `secrets`; its properties are `writeOnly`.
    #[schema(value_type = Object)]
    pub secrets_schema: Value,
    /// The ways to make a credential of this connector, each with its form's schemas. Those
    /// a person types (`client_credentials`, `oauth_client_credentials`, `jwt_bearer`) are sent to
    /// `POST /v1/credentials` with that `auth_method`; the first of them is also the
    /// `config_schema` and `secrets_schema` above. Consent,
    /// `oauth_authorization_code`, goes through `POST /v1/connect-sessions` and an OAuth app,
    /// whose `config` and `secrets` (a confidential client's secret) are its schemas.
    pub auth_methods: Vec<AuthMethodView>,
}

/// One way to make a credential.
#[derive(Serialize, ToSchema)]
pub struct AuthMethodView {
    #[schema(example = "oauth_authorization_code")]
    pub id: &'static str,
    #[schema(value_type = Object)]
    pub config_schema: Value,
    #[schema(value_type = Object)]
    pub secrets_schema: Value,
}

impl AuthMethodView {
    /// The form of one method the connector declares: client credentials are its config and
    /// secrets, consent its OAuth settings and no secrets to type.
    fn of(catalogue: &Catalogue, connector: &dyn Connector, method: AuthMethod) -> Option<Self> {
        let (config, secrets) = match method {
            AuthMethod::OauthAuthorizationCode => {
                let flow = connector.oauth()?;
                (flow.config_fields(), flow.secret_fields())
            }
            typed => {
                let entry = catalogue.typed(connector.id(), typed)?;
                (entry.config_fields(), entry.secret_fields())
            }
        };
        Some(Self {
            id: method.as_str(),
            config_schema: section_schema(config),
            secrets_schema: section_schema(secrets),
        })
    }
}

impl ConnectorView {
    fn of(catalogue: &Catalogue, connector: &dyn Connector) -> Self {
        Self {
            id: connector.id(),
            name: connector.name(),
            description: connector.description(),
            docs_url: connector.docs_url(),
            config_schema: section_schema(connector.config_fields()),
            secrets_schema: section_schema(connector.secret_fields()),
            auth_methods: connector
                .auth_methods()
                .iter()
                .filter_map(|method| AuthMethodView::of(catalogue, connector, *method))
                .collect(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ConnectorList {
    pub items: Vec<ConnectorView>,
}

/// The connectors credentials can be saved for.
#[utoipa::path(get, path = "/v1/connectors", operation_id = "list_connectors", tag = "connectors",
    security(("api_key" = [])),
    responses(
        (status = 200, description = "Every connector", body = ConnectorList),
        KeyRefused,
    ))]
pub async fn list(state: web::Data<AppState>, _: Authenticated) -> HttpResponse {
    HttpResponse::Ok().json(ConnectorList {
        items: state
            .catalogue
            .all()
            .map(|connector| ConnectorView::of(&state.catalogue, connector))
            .collect(),
    })
}

/// One connector, with its form schemas.
#[utoipa::path(get, path = "/v1/connectors/{id}", operation_id = "get_connector", tag = "connectors",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "Connector id", example = "looker")),
    responses(
        (status = 200, description = "The connector", body = ConnectorView),
        KeyRefused,
        (status = 404, response = NotFound),
    ))]
pub async fn get(
    state: web::Data<AppState>,
    _: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let connector = state.catalogue.get(&id).ok_or_else(|| {
        ApiError::Core(CoreError::NotFound(format!(
            "no connector `{id}`; this server offers {}",
            state.catalogue.ids()
        )))
    })?;
    Ok(HttpResponse::Ok().json(ConnectorView::of(&state.catalogue, connector)))
}
