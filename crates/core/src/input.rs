//! Small helpers shared by request types: trimming, printable text, validator errors,
//! pagination.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use latch_connector::FieldError;
use latch_store::Page;
use serde::{Deserialize, Deserializer};
use uuid::Uuid;
use validator::ValidationErrors;

use crate::error::CoreError;

pub const DEFAULT_PAGE_SIZE: i64 = 50;
pub const MAX_PAGE_SIZE: i64 = 200;

/// Deserialises an optional string with surrounding white space removed, so a blank name is
/// an empty one and fails its length check.
pub fn trimmed<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<String>::deserialize(deserializer)?.map(|text| text.trim().to_string()))
}

/// Refuses text a person cannot see or that changes how the text around it reads: control
/// characters (C0, DEL, C1, NUL included) and the bidirectional overrides and isolates
/// (U+202A to U+202E, U+2066 to U+2069), which can make a name display as another.
pub fn printable(text: &str) -> Result<(), validator::ValidationError> {
    match text.chars().find(|c| unprintable(*c)) {
        None => Ok(()),
        Some(c) => {
            let mut error = validator::ValidationError::new("printable");
            error.message = Some(
                format!(
                    "must not contain control or bidirectional formatting characters (found U+{:04X})",
                    u32::from(c)
                )
                .into(),
            );
            Err(error)
        }
    }
}

fn unprintable(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// validator's errors as field errors, sorted by field for a stable order.
pub fn field_errors(result: Result<(), ValidationErrors>) -> Vec<FieldError> {
    let Err(errors) = result else {
        return Vec::new();
    };
    let mut fields: Vec<FieldError> = errors
        .field_errors()
        .into_iter()
        .flat_map(|(field, problems)| {
            problems.iter().map(move |problem| {
                let message = problem
                    .message
                    .as_ref()
                    .map(|message| message.to_string())
                    .unwrap_or_else(|| problem.code.to_string());
                FieldError::new(field.to_string(), message)
            })
        })
        .collect();
    fields.sort_by(|a, b| a.field.cmp(&b.field));
    fields
}

/// `limit` and `cursor` from a query string, checked.
pub fn page(limit: Option<&str>, cursor: Option<&str>) -> Result<Page, CoreError> {
    let limit = match limit {
        None => DEFAULT_PAGE_SIZE,
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|limit| (1..=MAX_PAGE_SIZE).contains(limit))
            .ok_or_else(|| {
                CoreError::bad_request(
                    "limit",
                    format!("must be a whole number from 1 to {MAX_PAGE_SIZE}"),
                )
            })?,
    };
    let after = cursor.map(decode_cursor).transpose()?;
    Ok(Page { after, limit })
}

fn decode_cursor(cursor: &str) -> Result<Uuid, CoreError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| Uuid::from_slice(&bytes).ok())
        .ok_or_else(|| CoreError::bad_request("cursor", "is not a cursor this server returned"))
}

/// Cuts a page fetched with one row too many, and says where the next one starts.
pub fn paginate<T>(
    mut rows: Vec<T>,
    page: Page,
    id: impl Fn(&T) -> Uuid,
) -> (Vec<T>, Option<String>) {
    let limit = usize::try_from(page.limit).unwrap_or(usize::MAX);
    if rows.len() <= limit {
        return (rows, None);
    }
    rows.truncate(limit);
    let next = rows
        .last()
        .map(|last| URL_SAFE_NO_PAD.encode(id(last).as_bytes()));
    (rows, next)
}

/// The page to ask the store for: one row more than asked, to know whether more follow.
pub fn one_more(page: Page) -> Page {
    Page {
        limit: page.limit + 1,
        ..page
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_and_bidirectional_override_characters_are_not_printable() {
        for text in [
            "a\0b",
            "tab\there",
            "new\nline",
            "\u{7f}",
            "\u{85}",
            "\u{9b}x",
        ] {
            assert!(printable(text).is_err(), "{text:?}");
        }
        for c in ['\u{202A}', '\u{202E}', '\u{2066}', '\u{2069}'] {
            let message = printable(&format!("invoice{c}fdp.exe"))
                .unwrap_err()
                .message;
            assert!(message.unwrap().contains(&format!("{:04X}", u32::from(c))));
        }
        for text in [
            "Looker production",
            "Données clients",
            "日本語",
            "emoji 🔑",
            "a\u{200B}b",
        ] {
            assert!(printable(text).is_ok(), "{text:?}");
        }
    }

    #[test]
    fn a_cursor_round_trips_and_garbage_is_refused() {
        let ids: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
        let wanted = Page::first(2);
        let (rows, next) = paginate(ids.clone(), wanted, |id| *id);
        assert_eq!(rows, ids[..2]);
        let again = page(Some("2"), next.as_deref()).unwrap();
        assert_eq!(again.after, Some(ids[1]));
        assert!(page(None, Some("%%%")).is_err());
        assert!(page(Some("0"), None).is_err());
        assert!(page(Some("201"), None).is_err());
    }
}
