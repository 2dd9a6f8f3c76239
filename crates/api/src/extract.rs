//! Request extraction with errors that name the field and never echo a value.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::web::BytesMut;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use futures_util::{FutureExt, StreamExt};
use latch_connector::FieldError;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use latch_core::CoreError;

/// Bodies larger than this are refused with 413 before they are parsed.
pub const BODY_LIMIT: usize = 64 * 1024;

/// How long a client has to send a whole body by default (`LATCH_BODY_TIMEOUT_SECONDS`).
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// The deadline for a request's body, registered as app data at start-up.
#[derive(Debug, Clone, Copy)]
pub struct BodyTimeout(pub Duration);

/// A JSON request body: `application/json` only, at most [`BODY_LIMIT`] bytes, unknown
/// fields and wrong types refused with the field's path.
pub struct JsonBody<T>(pub T);

/// Like [`JsonBody`], but an empty body (of any content type) or a JSON `null` stands for
/// `T::default()`: the document describes such a body as absent, `null` or an object.
pub struct OptionalJsonBody<T>(pub T);

type Extracting<T> = Pin<Box<dyn Future<Output = Result<T, ApiError>>>>;

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = ApiError;
    type Future = Extracting<Self>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let reading = read_json::<T>(request, payload);
        Box::pin(async move {
            reading.await?.map(JsonBody).ok_or_else(|| {
                ApiError::Core(CoreError::BadRequest {
                    detail: "the request body is empty; send a JSON object".into(),
                    errors: Vec::new(),
                })
            })
        })
    }
}

impl<T: DeserializeOwned + Default + 'static> FromRequest for OptionalJsonBody<T> {
    type Error = ApiError;
    type Future = Extracting<Self>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let reading = read_json::<Option<T>>(request, payload);
        Box::pin(async move {
            Ok(OptionalJsonBody(
                reading.await?.flatten().unwrap_or_default(),
            ))
        })
    }
}

/// Reads and parses a body; `None` when it is empty.
fn read_json<T: DeserializeOwned + 'static>(
    request: &HttpRequest,
    payload: &mut Payload,
) -> Extracting<Option<T>> {
    let content_type = check_content_type(request);
    let declared_length = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<usize>().ok());
    let timeout = request
        .app_data::<BodyTimeout>()
        .map_or(BODY_TIMEOUT, |timeout| timeout.0);
    let mut payload = payload.take();
    Box::pin(async move {
        if declared_length.is_some_and(|length| length > BODY_LIMIT) {
            return Err(ApiError::PayloadTooLarge { limit: BODY_LIMIT });
        }
        let mut body = BytesMut::with_capacity(declared_length.unwrap_or(0));
        // A body that has arrived whole (nearly every one) is read without arming a timer;
        // the deadline starts when the client first keeps it waiting.
        let mut deadline = None;
        loop {
            let next = match payload.next().now_or_never() {
                Some(next) => next,
                None => {
                    let at = *deadline.get_or_insert_with(|| tokio::time::Instant::now() + timeout);
                    tokio::time::timeout_at(at, payload.next())
                        .await
                        .map_err(|_| ApiError::BodyTimeout {
                            seconds: timeout.as_secs(),
                        })?
                }
            };
            let Some(chunk) = next else { break };
            let chunk = chunk.map_err(|error| {
                ApiError::Core(CoreError::BadRequest {
                    detail: format!("the request body could not be read: {error}"),
                    errors: Vec::new(),
                })
            })?;
            if body.len() + chunk.len() > BODY_LIMIT {
                return Err(ApiError::PayloadTooLarge { limit: BODY_LIMIT });
            }
            body.extend_from_slice(&chunk);
        }
        // Only a body with no bytes is absent: white space alone is not JSON.
        if body.is_empty() {
            return Ok(None);
        }
        content_type?;
        let parsed = if object_or_null(&body) {
            parse_json(&body)
        } else {
            Err(field_problem("body", "must be a JSON object"))
        };
        // The body may hold a secret: do not leave it in freed memory.
        body.fill(0);
        parsed.map(Some)
    })
}

/// Whether the JSON text starts as an object or `null` does. Every body here is an object;
/// without this, serde would also fill a struct from an array of its fields in order.
fn object_or_null(body: &[u8]) -> bool {
    matches!(
        body.iter().find(|byte| !byte.is_ascii_whitespace()),
        Some(b'{' | b'n')
    )
}

fn check_content_type(request: &HttpRequest) -> Result<(), ApiError> {
    let is_json = match request.mime_type() {
        Ok(Some(mime)) => {
            mime.essence_str() == "application/json" || mime.suffix().is_some_and(|s| s == "json")
        }
        _ => false,
    };
    if is_json {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType(
            "send the request body as JSON with `Content-Type: application/json`".into(),
        ))
    }
}

/// Parses JSON, turning serde's messages into a field path and a message that never
/// quotes the offending value (it may be a secret typed into the wrong field).
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    // Tracking the path costs on every request (the token route's among them); a body that
    // parses needs none, so the path is only traced when explaining a failure.
    if let Ok(parsed) = serde_json::from_slice(body) {
        return Ok(parsed);
    }
    let deserializer = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return ApiError::Core(CoreError::BadRequest {
                detail: format!(
                    "the request body is not valid JSON (line {}, column {})",
                    inner.line(),
                    inner.column()
                ),
                errors: Vec::new(),
            });
        }
        field_problem(&path, &inner.to_string())
    })
}

/// A 400 naming the field a deserialisation message is about.
pub fn field_problem(path: &str, message: &str) -> ApiError {
    let message = message
        .trim_start_matches("Query deserialize error: ")
        .split(" at line ")
        .next()
        .unwrap_or(message)
        .to_string();
    let path = if path == "." { "" } else { path };
    // serde_path_to_error already ends the path with an unknown key; a missing key is not
    // in it yet.
    let child = |name: &str| {
        if path.is_empty() {
            name.to_string()
        } else if path == name || path.ends_with(&format!(".{name}")) {
            path.to_string()
        } else {
            format!("{path}.{name}")
        }
    };
    let named = |prefix: &str| -> Option<String> {
        let rest = message.strip_prefix(prefix)?;
        Some(rest.split('`').next().unwrap_or_default().to_string())
    };
    let (field, text) = if let Some(name) = named("unknown field `") {
        let expected = message
            .split_once(", expected ")
            .map(|(_, expected)| format!("unknown field; expected {expected}"))
            .unwrap_or_else(|| "unknown field".into());
        (child(&name), expected)
    } else if let Some(name) = named("missing field `") {
        (child(&name), "is required".into())
    } else if let (true, Some((_, expected))) = (
        message.starts_with("unknown variant"),
        message.split_once(", expected "),
    ) {
        (
            path.to_string(),
            format!("is not accepted; expected {expected}"),
        )
    } else if let Some((_, expected)) = message.split_once(", expected ") {
        (
            path.to_string(),
            format!("has the wrong type; expected {expected}"),
        )
    } else {
        (path.to_string(), "is not valid".into())
    };
    let field = if field.is_empty() {
        "body".to_string()
    } else {
        field
    };
    ApiError::Core(CoreError::BadRequest {
        detail: format!("`{field}` {text}"),
        errors: vec![FieldError::new(field, text)],
    })
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        inner: Option<Inner>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        count: u32,
    }

    fn first_error(body: &str) -> (String, String) {
        match parse_json::<Body>(body.as_bytes()).unwrap_err() {
            ApiError::Core(CoreError::BadRequest { errors, detail }) => errors
                .first()
                .map(|e| (e.field.clone(), e.message.clone()))
                .unwrap_or(("".into(), detail)),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn an_unknown_field_is_named_with_its_path() {
        assert_eq!(first_error(r#"{"name":"a","nmae":"b"}"#).0, "nmae");
        assert_eq!(
            first_error(r#"{"name":"a","inner":{"count":1,"extra":2}}"#).0,
            "inner.extra"
        );
    }

    #[test]
    fn a_wrong_type_is_named_without_quoting_the_value() {
        let (field, message) = first_error(r#"{"name":"a","inner":{"count":"hunter2"}}"#);
        assert_eq!(field, "inner.count");
        assert!(!message.contains("hunter2"), "{message}");
        assert!(
            message.starts_with("has the wrong type; expected"),
            "{message}"
        );
    }

    #[test]
    fn malformed_json_says_where() {
        let (_, detail) = first_error(r#"{"name": "#);
        assert!(detail.contains("not valid JSON"), "{detail}");
    }

    #[test]
    fn a_missing_field_is_named() {
        assert_eq!(first_error(r#"{}"#), ("name".into(), "is required".into()));
    }
}
