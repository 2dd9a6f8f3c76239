//! Versions as HTTP entity tags: the `ETag` a response carries and the `If-Match` a change
//! may send back.

use latch_core::CoreError;

use crate::error::ApiError;

/// The strong entity tag of a version: `"3"`.
pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

/// Reads an `If-Match` value: `"3"` or `*` (any version, as if absent). A weak tag (`W/"3"`)
/// never matches: RFC 9110 compares If-Match strongly, so it is refused with 412.
pub fn parse_if_match(value: &str) -> Result<Option<i64>, ApiError> {
    let value = value.trim();
    if value == "*" {
        return Ok(None);
    }
    if value.starts_with("W/") {
        return Err(ApiError::Core(CoreError::PreconditionFailed(
            "a weak entity tag never matches If-Match (RFC 9110 section 13.1.1); send the \
             ETag as it was given, such as \"3\""
                .into(),
        )));
    }
    value
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
        .and_then(|version| version.parse::<i64>().ok())
        .map(Some)
        .ok_or_else(|| {
            ApiError::from(CoreError::bad_request(
                "If-Match",
                "must be the ETag of the resource, such as \"3\"",
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match_accepts_a_strong_tag_or_any_and_a_weak_tag_never_matches() {
        assert_eq!(parse_if_match("\"3\"").unwrap(), Some(3));
        assert_eq!(parse_if_match(" \"12\" ").unwrap(), Some(12));
        assert_eq!(parse_if_match("*").unwrap(), None);
        assert!(matches!(
            parse_if_match("W/\"12\""),
            Err(ApiError::Core(CoreError::PreconditionFailed(_)))
        ));
        for malformed in ["\"three\"", "3", "\"3", ""] {
            assert!(
                matches!(
                    parse_if_match(malformed),
                    Err(ApiError::Core(CoreError::BadRequest { .. }))
                ),
                "{malformed}"
            );
        }
    }
}
