//! An OAuth 2.0 token endpoint, called the one way every grant shares (RFC 6749 §3.2): a
//! form-encoded `POST` with the client authenticated as the client is registered, and the
//! answer read as §5.1 (tokens) or §5.2 (an error code). Built on it: the client credentials
//! grant ([`client_credentials`]), the refresh token grant ([`refresh`]), and RFC 7009
//! revocation ([`revoke`], at the revocation endpoint, the client authenticated alike).
//!
//! Nothing the upstream writes is repeated in an error but its §5.2 error code: its bodies
//! are its own, and may quote what was sent.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::header::{ACCEPT, AUTHORIZATION};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};
use url::Url;
use url::form_urlencoded::byte_serialize;

use crate::oauth::OAuthGrant;
use crate::{AccessToken, EgressClient, UpstreamError};

/// How the client proves itself at the token endpoint (RFC 6749 §2.3.1; the names are those
/// of RFC 7591's `token_endpoint_auth_method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// HTTP Basic with the client ID and secret, each form-encoded first.
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body.
    ClientSecretPost,
    /// A public client (RFC 7591's `none`): `client_id` in the form body, no secret.
    Public,
    /// Nothing beside the grant itself: a JWT bearer assertion names and proves its issuer.
    Unauthenticated,
}

/// One client at one token endpoint.
pub struct TokenEndpoint<'a> {
    pub url: Url,
    pub client_id: &'a str,
    /// `None` for a public client.
    pub client_secret: Option<&'a SecretString>,
    pub auth: ClientAuth,
    /// The upstream's name, for messages ("Salesforce refused ...").
    pub upstream: &'a str,
    /// Non-secret fields of the answer that jobs need (`instance_url`), kept as the token's
    /// metadata when present.
    pub keep: &'a [&'a str],
}

/// The client credentials grant (RFC 6749 §4.4), with `scope` when given.
pub async fn client_credentials(
    egress: &EgressClient,
    endpoint: &TokenEndpoint<'_>,
    scope: Option<&str>,
) -> Result<OAuthGrant, UpstreamError> {
    let mut form = vec![("grant_type", "client_credentials")];
    if let Some(scope) = scope.filter(|scope| !scope.is_empty()) {
        form.push(("scope", scope));
    }
    request_token(egress, endpoint, &form).await
}

/// The refresh token grant (RFC 6749 §6). An answer with a new refresh token replaces the
/// old one, which the upstream may already have revoked (rotation): the caller must keep it.
pub async fn refresh(
    egress: &EgressClient,
    endpoint: &TokenEndpoint<'_>,
    refresh_token: &SecretString,
    scope: Option<&str>,
) -> Result<OAuthGrant, UpstreamError> {
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token.expose_secret()),
    ];
    if let Some(scope) = scope.filter(|scope| !scope.is_empty()) {
        form.push(("scope", scope));
    }
    request_token(egress, endpoint, &form).await
}

/// Which kind of token a revocation names (RFC 7009 §2.1 `token_type_hint`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenHint {
    AccessToken,
    RefreshToken,
}

/// Revokes `token` at the endpoint (RFC 7009 §2), the client authenticated as at the token
/// endpoint. A token the server no longer knows is revoked as far as anyone can tell: the
/// server answers 200 for it too (§2.2).
pub async fn revoke(
    egress: &EgressClient,
    endpoint: &TokenEndpoint<'_>,
    token: &SecretString,
    hint: TokenHint,
) -> Result<(), UpstreamError> {
    let hint = match hint {
        TokenHint::AccessToken => "access_token",
        TokenHint::RefreshToken => "refresh_token",
    };
    let form = [("token", token.expose_secret()), ("token_type_hint", hint)];
    let (host, response) = post_as_client(egress, endpoint, &form).await?;
    match response.status {
        StatusCode::OK => Ok(()),
        status => Err(trouble(endpoint, &host, &response, "the revocation")
            .unwrap_or_else(|| refusal(endpoint, status, parse(&response.body)))),
    }
}

/// Sends `grant` (the grant's own parameters) to the token endpoint, authenticated as the
/// client is registered, and reads the answer.
pub async fn request_token(
    egress: &EgressClient,
    endpoint: &TokenEndpoint<'_>,
    grant: &[(&str, &str)],
) -> Result<OAuthGrant, UpstreamError> {
    let (host, response) = post_as_client(egress, endpoint, grant).await?;
    if let Some(error) = trouble(endpoint, &host, &response, "the token request") {
        return Err(error);
    }
    match (response.status, parse(&response.body)) {
        (StatusCode::OK, Some(body)) => read_tokens(endpoint, &host, body),
        (StatusCode::OK, None) => Err(UpstreamError::error(format!(
            "{host} answered the token request with something that is not JSON; is this the \
             token endpoint of {}?",
            endpoint.upstream
        ))),
        (status, body) => Err(refusal(endpoint, status, body)),
    }
}

/// A form `POST` to the endpoint with the client authenticated the one way it is registered
/// for; the endpoint's origin (for messages) and the answer.
async fn post_as_client(
    egress: &EgressClient,
    endpoint: &TokenEndpoint<'_>,
    params: &[(&str, &str)],
) -> Result<(String, crate::UpstreamResponse), UpstreamError> {
    let host = endpoint.url.origin().ascii_serialization();
    let mut form: Vec<(&str, &str)> = params.to_vec();
    let secret = endpoint.client_secret.map(ExposeSecret::expose_secret);
    match endpoint.auth {
        ClientAuth::ClientSecretBasic => {}
        ClientAuth::ClientSecretPost => {
            form.push(("client_id", endpoint.client_id));
            form.push(("client_secret", secret.unwrap_or_default()));
        }
        ClientAuth::Public => form.push(("client_id", endpoint.client_id)),
        ClientAuth::Unauthenticated => {}
    }
    let request = egress
        .request(Method::POST, endpoint.url.clone())
        .map_err(|error| UpstreamError::from_egress(&host, error))?
        .header(ACCEPT, "application/json")
        .form(&form);
    let request = match endpoint.auth {
        ClientAuth::ClientSecretBasic => request.header(
            AUTHORIZATION,
            basic_credentials(endpoint.client_id, secret.unwrap_or_default()),
        ),
        _ => request,
    };
    let response = egress
        .execute(request)
        .await
        .map_err(|error| UpstreamError::from_egress(&host, error))?;
    Ok((host, response))
}

fn parse(body: &[u8]) -> Option<Map<String, Value>> {
    serde_json::from_slice(body).ok()
}

/// Trouble that is the upstream's, not the client's: rate limiting (its `Retry-After` kept)
/// and server errors. `None` for any other answer.
fn trouble(
    endpoint: &TokenEndpoint<'_>,
    host: &str,
    response: &crate::UpstreamResponse,
    call: &str,
) -> Option<UpstreamError> {
    let upstream = endpoint.upstream;
    if response.status == StatusCode::TOO_MANY_REQUESTS {
        let retry_after = response.retry_after();
        let mut error = UpstreamError::error(match retry_after {
            Some(seconds) => {
                format!("{upstream} is rate limiting {call}; retry after {seconds} seconds")
            }
            None => format!("{upstream} is rate limiting {call}"),
        });
        error.retry_after = retry_after;
        return Some(error);
    }
    response.status.is_server_error().then(|| {
        let mut error = UpstreamError::error(format!(
            "{host} answered {call} with HTTP {}: {upstream} had a problem; try again later",
            response.status.as_u16()
        ));
        error.retry_after = response.retry_after();
        error
    })
}

/// `Basic base64(form(id) ":" form(secret))`: RFC 6749 §2.3.1 form-encodes both before they
/// are joined, so a secret holding `:` or `%` reaches the server as it was issued.
fn basic_credentials(client_id: &str, secret: &str) -> String {
    let encoded = |text: &str| byte_serialize(text.as_bytes()).collect::<String>();
    let joined = zeroize::Zeroizing::new(format!("{}:{}", encoded(client_id), encoded(secret)));
    format!("Basic {}", STANDARD.encode(joined.as_bytes()))
}

/// A §5.1 answer: the access token, its type and lifetime, a refresh token, and the fields
/// the connector keeps.
fn read_tokens(
    endpoint: &TokenEndpoint<'_>,
    host: &str,
    mut body: Map<String, Value>,
) -> Result<OAuthGrant, UpstreamError> {
    let Some(Value::String(access_token)) = body.remove("access_token") else {
        return Err(UpstreamError::error(format!(
            "{host} answered the token request without an access token"
        )));
    };
    let token_type = match body.get("token_type") {
        Some(Value::String(kind)) if !kind.is_empty() => kind.clone(),
        // RFC 6749 requires it; an upstream that leaves it out means the usual bearer token.
        _ => "Bearer".to_string(),
    };
    // A number, or a number written as a string (some providers do).
    let expires_in = match body.get("expires_in") {
        Some(Value::Number(seconds)) => seconds.as_u64(),
        Some(Value::String(seconds)) => seconds.trim().parse().ok(),
        _ => None,
    };
    let refresh_token = match body.remove("refresh_token") {
        Some(Value::String(token)) if !token.is_empty() => Some(SecretString::from(token)),
        _ => None,
    };
    let mut access = AccessToken::new(SecretString::from(access_token), token_type, expires_in);
    for field in endpoint.keep {
        if let Some(value @ (Value::String(_) | Value::Number(_) | Value::Bool(_))) =
            body.get(*field)
        {
            access.metadata.insert(field.to_string(), value.clone());
        }
    }
    Ok(OAuthGrant {
        access,
        refresh_token,
    })
}

/// A §5.2 refusal, told by its error code alone.
fn refusal(
    endpoint: &TokenEndpoint<'_>,
    status: StatusCode,
    body: Option<Map<String, Value>>,
) -> UpstreamError {
    let code = body
        .as_ref()
        .and_then(|body| body.get("error"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    let upstream = endpoint.upstream;
    match code {
        "invalid_client" => UpstreamError::invalid(format!(
            "{upstream} refused the client ID / secret (invalid_client); check them and how the \
             client authenticates"
        )),
        "invalid_grant" => UpstreamError::invalid(format!(
            "{upstream} no longer accepts this grant (invalid_grant): it was revoked, expired \
             or already used"
        )),
        "unauthorized_client" => UpstreamError::invalid(format!(
            "{upstream} does not allow this client to use this grant (unauthorized_client)"
        )),
        "invalid_scope" => UpstreamError::invalid(format!(
            "{upstream} refused the requested scope (invalid_scope)"
        )),
        "unsupported_grant_type" => UpstreamError::invalid(format!(
            "{upstream} does not offer this grant (unsupported_grant_type)"
        )),
        _ if status == StatusCode::UNAUTHORIZED => UpstreamError::invalid(format!(
            "{upstream} refused the client's credentials (HTTP 401)"
        )),
        _ => UpstreamError::error(format!(
            "{upstream} answered the token request with HTTP {}{}",
            status.as_u16(),
            if code.is_empty() {
                String::new()
            } else {
                format!(" ({})", crate::upstream_text::clean_text(code, 64))
            }
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_form_encode_the_id_and_secret_before_joining_them() {
        // RFC 6749 §2.3.1: "s3:cr%t" is sent as "s3%3Acr%25t".
        let header = basic_credentials("client 1", "s3:cr%t");
        let encoded = header.strip_prefix("Basic ").unwrap();
        let decoded = String::from_utf8(STANDARD.decode(encoded).unwrap()).unwrap();
        assert_eq!(decoded, "client+1:s3%3Acr%25t");
    }
}
