//! What `GET /v1/credentials` reads from its query (filters, order, page) and the cursor it
//! answers. The `created` orders keep the plain id cursor every list has; `name` and
//! `attention` cursors carry the last row's sort keys after its id (its rank, then its
//! folded name), so that a page follows its last row even when that row was renamed or
//! deleted meanwhile.
//!
//! Like the id cursor, any cursor of the documented form names a position: the id is its first
//! 16 bytes and a missing or odd key only moves where the page starts. So a client can only
//! get a page wrong by sending what it was not given, never a 500.

use base64::Engine;
use base64::alphabet::URL_SAFE;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use latch_store::{
    Credential, CredentialFilter, CredentialOrder, CredentialSortKey, CredentialStatus, Page,
    folded_name,
};
use uuid::Uuid;

use super::types::{CredentialSort, ListCredentialsQuery};
use crate::error::CoreError;

const STATUSES: &str = "must be `unverified`, `valid`, `invalid`, `degraded` or `reauthorization_required`, \
     several separated by commas";

/// The longest `q`: a name is at most 128 characters.
const LONGEST_QUERY: usize = 128;

/// What `q` may be, as the document says it: up to 128 characters, none a control character.
pub const NAME_QUERY_PATTERN: &str = "^[^\\u0000-\\u001F\\u007F-\\u009F]{0,128}$";

/// The documented form of a credential list's cursor: unpadded base64url of at least the 16
/// bytes of an id (`exact.rs` puts it in the document).
pub const CREDENTIAL_CURSOR_PATTERN: &str = "^[A-Za-z0-9_-]{22,1400}$";

/// Base64url that takes any text of its alphabet: padding or not, stray low bits or not.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// A cursor's position: the id of the row it follows and, for the sorted orders, that row's
/// keys.
struct Position {
    id: Uuid,
    key: CredentialSortKey,
}

fn position(text: &str) -> Result<Position, CoreError> {
    let not_ours = || CoreError::bad_request("cursor", "is not a cursor this server returned");
    if text.len() < 22 || text.len() > 1400 {
        return Err(not_ours());
    }
    // A last character alone holds no whole byte.
    let text = if text.len() % 4 == 1 {
        &text[..text.len() - 1]
    } else {
        text
    };
    let bytes = LENIENT.decode(text).map_err(|_| not_ours())?;
    let id = Uuid::from_slice(&bytes[..16]).map_err(|_| not_ours())?;
    Ok(Position {
        id,
        key: CredentialSortKey {
            rank: bytes.get(16).copied().map_or(0, i64::from),
            name_key: String::from_utf8_lossy(bytes.get(17..).unwrap_or_default()).into_owned(),
        },
    })
}

fn encoded(credential: &Credential) -> String {
    let mut bytes = credential.id.as_bytes().to_vec();
    bytes.push(u8::try_from(credential.status.attention_rank()).unwrap_or(u8::MAX));
    bytes.extend_from_slice(folded_name(&credential.name).as_bytes());
    URL_SAFE_NO_PAD.encode(bytes)
}

fn order_of(sort: Option<&str>) -> Result<CredentialOrder, CoreError> {
    let Some(text) = sort else {
        return Ok(CredentialOrder::Oldest);
    };
    let sort: CredentialSort = serde_json::from_value(serde_json::Value::String(text.into()))
        .map_err(|_| {
            CoreError::bad_request("sort", "must be `created`, `newest`, `name` or `attention`")
        })?;
    Ok(match sort {
        CredentialSort::Created => CredentialOrder::Oldest,
        CredentialSort::NewestFirst => CredentialOrder::Newest,
        CredentialSort::Name => CredentialOrder::Name,
        CredentialSort::Attention => CredentialOrder::Attention,
    })
}

fn statuses_of(text: Option<&str>) -> Result<Vec<CredentialStatus>, CoreError> {
    // An empty list (`status=`) filters nothing, as a blank `q` does.
    let Some(text) = text.filter(|text| !text.trim().is_empty()) else {
        return Ok(Vec::new());
    };
    let mut statuses = Vec::new();
    for item in text.split(',') {
        let status = CredentialStatus::parse(item.trim()).ok_or_else(|| {
            let message = match item.trim() {
                "unreachable" | "error" => {
                    "`unreachable` and `error` are now `degraded`: each status must be \
                     `unverified`, `valid`, `invalid`, `degraded` or `reauthorization_required`"
                }
                _ => STATUSES,
            };
            CoreError::bad_request("status", message)
        })?;
        if !statuses.contains(&status) {
            statuses.push(status);
        }
    }
    Ok(statuses)
}

fn name_query(q: Option<&str>) -> Result<Option<String>, CoreError> {
    let Some(q) = q else {
        return Ok(None);
    };
    if q.chars().count() > LONGEST_QUERY {
        return Err(CoreError::bad_request(
            "q",
            format!("must be at most {LONGEST_QUERY} characters"),
        ));
    }
    if q.chars().any(char::is_control) {
        return Err(CoreError::bad_request(
            "q",
            "must not hold control characters",
        ));
    }
    let folded = folded_name(q);
    Ok((!folded.is_empty()).then_some(folded))
}

/// The store's filter and page for a list query, or a 400 naming the parameter.
pub(super) fn filter_and_page(
    query: ListCredentialsQuery,
) -> Result<(CredentialFilter, Page), CoreError> {
    let order = order_of(query.sort.as_deref())?;
    let statuses = statuses_of(query.status.as_deref())?;
    let name_contains = name_query(query.q.as_deref())?;
    let mut page = crate::input::page(query.limit.as_deref(), None)?;
    let cursor = query.cursor.as_deref().map(position).transpose()?;
    page.after = cursor.as_ref().map(|position| position.id);
    let after = cursor
        .filter(|_| matches!(order, CredentialOrder::Name | CredentialOrder::Attention))
        .map(|position| position.key);
    let filter = CredentialFilter {
        connector: query.connector,
        statuses,
        name_contains,
        order,
        after,
    };
    Ok((filter, page))
}

/// The page's rows, and the cursor of the next page when more follow.
pub(super) fn paginate(
    rows: Vec<Credential>,
    page: Page,
    order: CredentialOrder,
) -> (Vec<Credential>, Option<String>) {
    match order {
        CredentialOrder::Oldest | CredentialOrder::Newest => {
            crate::input::paginate(rows, page, |credential| credential.id)
        }
        CredentialOrder::Name | CredentialOrder::Attention => {
            let mut rows = rows;
            let limit = usize::try_from(page.limit).unwrap_or(usize::MAX);
            if rows.len() <= limit {
                return (rows, None);
            }
            rows.truncate(limit);
            let next = rows.last().map(encoded);
            (rows, next)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> ListCredentialsQuery {
        let value = |name: &str| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.to_string())
        };
        ListCredentialsQuery {
            connector: None,
            status: value("status"),
            q: value("q"),
            sort: value("sort"),
            limit: None,
            cursor: value("cursor"),
        }
    }

    fn refused(pairs: &[(&str, &str)]) -> String {
        match filter_and_page(query(pairs)) {
            Err(CoreError::BadRequest { errors, .. }) => errors[0].field.clone(),
            Err(other) => panic!("{other:?}"),
            Ok(_) => panic!("{pairs:?} was taken"),
        }
    }

    #[test]
    fn several_statuses_are_read_from_one_comma_separated_parameter() {
        let (filter, _) =
            filter_and_page(query(&[("status", "invalid,degraded,invalid")])).unwrap();
        assert_eq!(
            filter.statuses,
            vec![CredentialStatus::Invalid, CredentialStatus::Degraded]
        );
        assert_eq!(refused(&[("status", "invalid,broken")]), "status");
        assert_eq!(refused(&[("status", "valid,,invalid")]), "status");
        let (filter, _) = filter_and_page(query(&[("status", "")])).unwrap();
        assert!(filter.statuses.is_empty());
    }

    #[test]
    fn a_name_query_is_folded_as_names_are_and_an_empty_one_filters_nothing() {
        let (filter, _) = filter_and_page(query(&[("q", " PAYROLL  Looker")])).unwrap();
        assert_eq!(filter.name_contains.as_deref(), Some("payroll looker"));
        let (filter, _) = filter_and_page(query(&[("q", " ")])).unwrap();
        assert_eq!(filter.name_contains, None);
        assert_eq!(refused(&[("q", &"x".repeat(129))]), "q");
    }

    #[test]
    fn an_unknown_sort_or_a_cursor_not_of_the_form_is_refused_naming_the_parameter() {
        assert_eq!(refused(&[("sort", "size")]), "sort");
        assert_eq!(refused(&[("sort", "name"), ("cursor", "AAAA")]), "cursor");
        assert_eq!(refused(&[("cursor", "not base64 at all, no!")]), "cursor");
    }

    #[test]
    fn a_sorted_cursor_holds_its_rows_id_rank_and_folded_name() {
        let id = Uuid::now_v7();
        let mut bytes = id.as_bytes().to_vec();
        bytes.push(2);
        bytes.extend_from_slice("straße".as_bytes());
        let cursor = URL_SAFE_NO_PAD.encode(bytes);
        assert!(
            regex::Regex::new(CREDENTIAL_CURSOR_PATTERN)
                .unwrap()
                .is_match(&cursor)
        );
        let (filter, page) =
            filter_and_page(query(&[("sort", "name"), ("cursor", &cursor)])).unwrap();
        assert_eq!(page.after, Some(id));
        let key = filter.after.unwrap();
        assert_eq!((key.rank, key.name_key.as_str()), (2, "straße"));
        // The id orders need only the id.
        let (filter, page) = filter_and_page(query(&[("cursor", &cursor)])).unwrap();
        assert_eq!((page.after, filter.after), (Some(id), None));
    }

    #[test]
    fn the_documented_form_of_q_is_what_is_taken() {
        let pattern = regex::Regex::new(NAME_QUERY_PATTERN).unwrap();
        for taken in ["payroll", " ", "Straße 50%", &"x".repeat(128)] {
            assert!(pattern.is_match(taken), "{taken}");
            filter_and_page(query(&[("q", taken)])).unwrap();
        }
        for refused_text in ["\u{1}", "a\u{85}b", &"x".repeat(129)] {
            assert!(!pattern.is_match(refused_text), "{refused_text:?}");
            assert_eq!(refused(&[("q", refused_text)]), "q");
        }
    }

    #[test]
    fn any_cursor_of_the_documented_form_names_a_position() {
        for text in [
            "AAAAAAAAAAAAAAAAAAAAAA",
            "_____________________________",
            "A".repeat(1400).as_str(),
            "AAAAAAAAAAAAAAAAAAAAAAB",
        ] {
            let (_, page) =
                filter_and_page(query(&[("sort", "attention"), ("cursor", text)])).unwrap();
            assert!(page.after.is_some(), "{text}");
        }
    }
}
