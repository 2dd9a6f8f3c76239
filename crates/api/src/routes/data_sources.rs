//! `/v1/data-sources` and `/v1/data-destinations`: the same handlers for both kinds. A macro
//! writes them once per kind, because every documented route needs its own path literal.

macro_rules! data_source_routes {
    (
        $module:ident, $kind:expr, $tag:literal, $singular:literal, $plural:literal,
        $collection:literal, $item:literal, $keys:literal, $key:literal, $token:literal
    ) => {
        pub mod $module {
            use actix_web::http::header::{CACHE_CONTROL, ETAG, LOCATION};
            use actix_web::{HttpRequest, HttpResponse, web};
            use latch_store::DataSourceKind;
            use uuid::Uuid;

            use latch_core::api_keys::CreatedApiKey;
            use crate::auth::{Admin, Authenticated, Authorized, CredentialsWrite};
            use latch_core::data_sources::{
                self, CreateDataSourceRequest, CreateJobKeyRequest, DataSourceList,
                DataSourceView, ListDataSourcesQuery, UpdateDataSourceRequest,
            };
            use crate::error::{ApiError, Problem};
            use crate::responses::{
                BadRequest, BodyRefused, InvalidFields, NotFound, PreconditionFailed, ScopeRefused,
                UpstreamUnavailable,
            };
            use crate::extract::{JsonBody, OptionalJsonBody};
            use crate::entity_tags::etag;
            use crate::routes::common::if_match;
            use crate::routes::api_keys::{ApiKeyList, PageQuery};
            use crate::state::AppState;
            use latch_core::tokens::{TokenRequest, TokenResponse};

            const KIND: DataSourceKind = $kind;

            fn respond(mut response: actix_web::HttpResponseBuilder, view: DataSourceView) -> HttpResponse {
                response.insert_header((ETAG, etag(view.version))).json(view)
            }

            /// Creates one that uses a saved credential of its connector.
            #[utoipa::path(post, path = $collection, operation_id = concat!("create_", $singular), tag = $tag,
                security(("api_key" = ["credentials:write"])),
                request_body(content = CreateDataSourceRequest, content_type = "application/json"),
                responses(
                    (status = 201, description = "Created; `warnings` when the credential is marked invalid", body = DataSourceView,
                        headers(("Location" = String, description = "Its URL"), ("ETag" = String, description = "Its version"))),
                    BodyRefused,
                    ScopeRefused,
                    (status = 409, description = "The name is taken", body = Problem, content_type = "application/problem+json"),
                    (status = 422, description = "Fields are not valid, or `credential_id` names no credential of this connector in your organization", body = Problem, content_type = "application/problem+json"),
                ))]
            pub async fn create(
                state: web::Data<AppState>,
                Authorized(caller, _): Authorized<CredentialsWrite>,
                body: JsonBody<CreateDataSourceRequest>,
            ) -> Result<HttpResponse, ApiError> {
                let view = data_sources::create_data_source(&state, &caller, KIND, body.0).await?;
                let mut response = HttpResponse::Created();
                response.insert_header((LOCATION, format!("{}/{}", $collection, view.id)));
                Ok(respond(response, view))
            }

            /// Lists them, oldest first.
            #[utoipa::path(get, path = $collection, operation_id = concat!("list_", $plural), tag = $tag,
                security(("api_key" = ["credentials:read"])),
                params(ListDataSourcesQuery),
                responses(
                    (status = 200, description = "One page", body = DataSourceList),
                    (status = 400, response = BadRequest),
                    ScopeRefused,
                ))]
            pub async fn list(
                state: web::Data<AppState>,
                Authenticated(caller): Authenticated,
                query: web::Query<ListDataSourcesQuery>,
            ) -> Result<HttpResponse, ApiError> {
                let list = data_sources::list_data_sources(&state, &caller, KIND, query.into_inner()).await?;
                Ok(HttpResponse::Ok().json(list))
            }

            /// Reads one.
            #[utoipa::path(get, path = $item, operation_id = concat!("get_", $singular), tag = $tag,
                security(("api_key" = ["credentials:read"])),
                params(("id" = Uuid, Path, description = "Its id")),
                responses(
                    (status = 200, description = "Found", body = DataSourceView),
                    ScopeRefused,
                    (status = 404, response = NotFound),
                ))]
            pub async fn get(
                state: web::Data<AppState>,
                Authenticated(caller): Authenticated,
                id: web::Path<Uuid>,
            ) -> Result<HttpResponse, ApiError> {
                let source = data_sources::get_data_source(&state, &caller, KIND, *id).await?;
                Ok(respond(HttpResponse::Ok(), DataSourceView::new(source, Vec::new())))
            }

            /// Renames, describes, reconfigures or re-points one to another credential.
            #[utoipa::path(patch, path = $item, operation_id = concat!("update_", $singular), tag = $tag,
                security(("api_key" = ["credentials:write"])),
                params(("id" = Uuid, Path, description = "Its id"),
                       ("If-Match" = Option<String>, Header, description = "The ETag last read")),
                request_body(content = UpdateDataSourceRequest, content_type = "application/json"),
                responses(
                    (status = 200, description = "Changed", body = DataSourceView),
                    BodyRefused,
                    ScopeRefused,
                    (status = 404, response = NotFound),
                    (status = 409, description = "The name is taken, or a concurrent change won", body = Problem, content_type = "application/problem+json"),
                    (status = 412, response = PreconditionFailed),
                    (status = 422, description = "Fields are not valid, or `credential_id` names no credential of this connector in your organization", body = Problem, content_type = "application/problem+json"),
                ))]
            pub async fn update(
                state: web::Data<AppState>,
                Authorized(caller, _): Authorized<CredentialsWrite>,
                request: HttpRequest,
                id: web::Path<Uuid>,
                body: JsonBody<UpdateDataSourceRequest>,
            ) -> Result<HttpResponse, ApiError> {
                let expected = if_match(&request)?;
                let view = data_sources::update_data_source(&state, &caller, KIND, *id, expected, body.0).await?;
                Ok(respond(HttpResponse::Ok(), view))
            }

            /// Deletes one and revokes its job keys.
            #[utoipa::path(delete, path = $item, operation_id = concat!("delete_", $singular), tag = $tag,
                security(("api_key" = ["credentials:write"])),
                params(("id" = Uuid, Path, description = "Its id"),
                       ("If-Match" = Option<String>, Header, description = "Delete only at this version")),
                responses(
                    (status = 204, description = "Deleted; its job keys are revoked"),
                    (status = 400, response = BadRequest),
                    ScopeRefused,
                    (status = 404, response = NotFound),
                    (status = 412, response = PreconditionFailed),
                ))]
            pub async fn delete(
                state: web::Data<AppState>,
                Authenticated(caller): Authenticated,
                request: HttpRequest,
                id: web::Path<Uuid>,
            ) -> Result<HttpResponse, ApiError> {
                let expected = if_match(&request)?;
                data_sources::delete_data_source(&state, &caller, KIND, *id, expected).await?;
                Ok(HttpResponse::NoContent().finish())
            }

            /// Creates a job key: scope `tokens:issue`, good only for this one's token route.
            #[utoipa::path(post, path = $keys, operation_id = concat!("create_job_key_for_", $singular), tag = $tag,
                security(("api_key" = ["admin"])),
                params(("id" = Uuid, Path, description = "Its id")),
                request_body(content = Option<CreateJobKeyRequest>, content_type = "application/json",
                    description = "Optional: a name for the key"),
                responses(
                    (status = 201, description = "Created; store `key` now", body = CreatedApiKey,
                        headers(("Cache-Control" = String, description = "`no-store`"))),
                    BodyRefused,
                    ScopeRefused,
                    (status = 404, response = NotFound),
                    (status = 422, response = InvalidFields),
                ))]
            pub async fn create_job_key(
                state: web::Data<AppState>,
                Authorized(caller, _): Authorized<Admin>,
                id: web::Path<Uuid>,
                body: OptionalJsonBody<CreateJobKeyRequest>,
            ) -> Result<HttpResponse, ApiError> {
                let created = data_sources::create_job_key(&state, &caller, KIND, *id, body.0).await?;
                Ok(HttpResponse::Created()
                    .insert_header((CACHE_CONTROL, "no-store"))
                    .json(created))
            }

            /// Lists its job keys, revoked ones too (never the keys themselves), oldest first.
            #[utoipa::path(get, path = $keys, operation_id = concat!("list_job_keys_of_", $singular), tag = $tag,
                security(("api_key" = ["credentials:write"])),
                params(("id" = Uuid, Path, description = "Its id"), PageQuery),
                responses(
                    (status = 200, description = "One page of its job keys", body = ApiKeyList),
                    (status = 400, response = BadRequest),
                    ScopeRefused,
                    (status = 404, response = NotFound),
                ))]
            pub async fn list_job_keys(
                state: web::Data<AppState>,
                Authenticated(caller): Authenticated,
                id: web::Path<Uuid>,
                query: web::Query<PageQuery>,
            ) -> Result<HttpResponse, ApiError> {
                let (items, next_cursor) = data_sources::list_job_keys(
                    &state, &caller, KIND, *id, query.limit.as_deref(), query.cursor.as_deref(),
                ).await?;
                Ok(HttpResponse::Ok().json(ApiKeyList { items, next_cursor }))
            }

            /// Revokes one of its job keys at once.
            #[utoipa::path(delete, path = $key, operation_id = concat!("revoke_job_key_of_", $singular), tag = $tag,
                security(("api_key" = ["credentials:write"])),
                params(("id" = Uuid, Path, description = "Its id"),
                       ("key_id" = Uuid, Path, description = "The job key's id")),
                responses(
                    (status = 204, description = "Revoked"),
                    ScopeRefused,
                    (status = 404, description = "No such one, or no live job key of it with that id", body = Problem, content_type = "application/problem+json"),
                ))]
            pub async fn revoke_job_key(
                state: web::Data<AppState>,
                Authenticated(caller): Authenticated,
                path: web::Path<(Uuid, Uuid)>,
            ) -> Result<HttpResponse, ApiError> {
                let (id, key_id) = path.into_inner();
                data_sources::revoke_job_key(&state, &caller, KIND, id, key_id).await?;
                Ok(HttpResponse::NoContent().finish())
            }

            /// A fresh upstream token of the credential it uses now, for its jobs.
            ///
            /// A job key made for another one is answered 404, as if this one did not exist.
            #[utoipa::path(post, path = $token, operation_id = concat!("issue_token_for_", $singular), tag = $tag,
                security(("api_key" = ["tokens:issue"])),
                params(("id" = Uuid, Path, description = "Its id")),
                request_body(content = Option<TokenRequest>, content_type = "application/json",
                    description = "Optional: an empty body asks for the defaults"),
                responses(
                    (status = 200, description = "A token", body = TokenResponse,
                        headers(("Cache-Control" = String, description = "`no-store`"))),
                    BodyRefused,
                    ScopeRefused,
                    (status = 404, response = NotFound),
                    (status = 409, description = "The upstream refuses the credential (`credential_invalid`): rotate its secret", body = Problem, content_type = "application/problem+json"),
                    (status = 422, description = "`min_ttl_seconds` out of range, or the upstream's tokens live shorter than asked (`token_lifetime_too_short`)", body = Problem, content_type = "application/problem+json"),
                    (status = 503, response = UpstreamUnavailable),
                ))]
            pub async fn token(
                state: web::Data<AppState>,
                Authenticated(caller): Authenticated,
                id: web::Path<Uuid>,
                body: OptionalJsonBody<TokenRequest>,
            ) -> Result<HttpResponse, ApiError> {
                let token = data_sources::source_token(&state, &caller, KIND, *id, body.0).await?;
                Ok(HttpResponse::Ok().insert_header((CACHE_CONTROL, "no-store")).json(token))
            }
        }
    };
}

data_source_routes!(
    sources,
    DataSourceKind::Source,
    "data-sources",
    "data_source",
    "data_sources",
    "/v1/data-sources",
    "/v1/data-sources/{id}",
    "/v1/data-sources/{id}/job-keys",
    "/v1/data-sources/{id}/job-keys/{key_id}",
    "/v1/data-sources/{id}/token"
);

data_source_routes!(
    destinations,
    DataSourceKind::Destination,
    "data-destinations",
    "data_destination",
    "data_destinations",
    "/v1/data-destinations",
    "/v1/data-destinations/{id}",
    "/v1/data-destinations/{id}/job-keys",
    "/v1/data-destinations/{id}/job-keys/{key_id}",
    "/v1/data-destinations/{id}/token"
);
