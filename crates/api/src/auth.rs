//! The extractor that authenticates a request's caller: the bearer key, handed to the core,
//! and the rule that a job key reaches only its own data source's token route.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use latch_core::authentication::authenticate_caller;
use latch_core::callers::{Caller, Scope};
use secrecy::SecretString;
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;
use latch_core::CoreError;

/// The only routes a job key (bound to one data source or destination) may call.
const JOB_ROUTES: [&str; 2] = [
    "/v1/data-sources/{id}/token",
    "/v1/data-destinations/{id}/token",
];

/// The caller of a request whose API key was verified.
pub struct Authenticated(pub Caller);

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = request.app_data::<web::Data<AppState>>().cloned();
        let request = request.clone();
        let presented = bearer_token(&request).map(|token| SecretString::from(token.to_string()));
        Box::pin(async move {
            let state = state.ok_or_else(|| {
                ApiError::Core(CoreError::Internal("application state missing".into()))
            })?;
            let Some(presented) = presented else {
                return Err(ApiError::MissingKey(
                    "send an API key as `Authorization: Bearer latch_...`".into(),
                ));
            };
            let client = request.peer_addr().map(|address| address.ip());
            let caller = authenticate_caller(&state, &presented, client).await?;
            match caller.data_source_id {
                Some(bound) if job_route_target(&request) != Some(bound) => {
                    // Like another org's object: not even its existence is confirmed.
                    Err(ApiError::Core(CoreError::NotFound(
                        "a job key reaches only its own data source's token".into(),
                    )))
                }
                _ => Ok(Authenticated(caller)),
            }
        })
    }
}

/// A scope a route demands before it reads the request's body.
pub trait RequiredScope {
    const SCOPE: Scope;
}

/// `credentials:write`.
pub struct CredentialsWrite;

impl RequiredScope for CredentialsWrite {
    const SCOPE: Scope = Scope::CredentialsWrite;
}

/// `admin`.
pub struct Admin;

impl RequiredScope for Admin {
    const SCOPE: Scope = Scope::Admin;
}

/// The caller of a request whose key holds `S`'s scope. Extracted before the body, it refuses
/// a key without the scope (403) before a byte of the body is waited for, so such a key cannot
/// hold a connection open by trickling one. The use case checks its scope again: the core is
/// the rule, this is the early answer.
pub struct Authorized<S>(pub Caller, pub PhantomData<S>);

impl<S: RequiredScope + 'static> FromRequest for Authorized<S> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let authenticating = Authenticated::from_request(request, payload);
        Box::pin(async move {
            let Authenticated(caller) = authenticating.await?;
            caller.require(S::SCOPE)?;
            Ok(Authorized(caller, PhantomData))
        })
    }
}

/// Whether a route pattern is one a job key may call.
pub fn is_job_route(pattern: &str) -> bool {
    JOB_ROUTES.contains(&pattern)
}

/// The data source a job route names, when the request is for one.
fn job_route_target(request: &HttpRequest) -> Option<Uuid> {
    let pattern = request.match_pattern()?;
    if !is_job_route(&pattern) {
        return None;
    }
    request.match_info().get("id")?.parse().ok()
}

/// The key a request presents as `Authorization: Bearer ...`.
pub fn bearer_token(request: &HttpRequest) -> Option<&str> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|token| !token.is_empty())
}
