//! Small helpers shared by request types: trimming, printable text, validator errors,
//! pagination.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use icu_normalizer::ComposingNormalizerBorrowed;
use icu_properties::CodePointSetData;
use icu_properties::props::DefaultIgnorableCodePoint;
use latch_connector::{CONTROL_CHARS, FieldError, SPACE_CHARS};
use latch_store::Page;
use serde::{Deserialize, Deserializer};
use uuid::Uuid;
use validator::ValidationErrors;

use crate::error::CoreError;

pub const DEFAULT_PAGE_SIZE: i64 = 50;
pub const MAX_PAGE_SIZE: i64 = 200;

/// Deserialises an optional string with surrounding white space removed: an address, which
/// is compared as typed.
pub fn trimmed<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<String>::deserialize(deserializer)?.map(|text| text.trim().to_string()))
}

/// Deserialises an optional string with surrounding white space removed, so a blank name is
/// an empty one and fails its length check, in Unicode NFC, so that one text is stored one
/// way however it was typed ("é" as one code point or as "e" and a combining accent). Checks
/// run on the normalized text.
pub fn normalized<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<String>::deserialize(deserializer)?.map(|text| {
        ComposingNormalizerBorrowed::new_nfc()
            .normalize(text.trim())
            .into_owned()
    }))
}

/// Deserialises an optional whole number written as JSON writes numbers: `600`, and also
/// `600.0` or `6e2`, which JSON Schema's `integer` includes. A fraction is refused; a number
/// beyond `i64` becomes the nearest `i64`, so the range check names it out of range.
pub fn whole_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    let Some(number) = Option::<serde_json::Number>::deserialize(deserializer)? else {
        return Ok(None);
    };
    if let Some(whole) = number.as_i64() {
        return Ok(Some(whole));
    }
    if number.is_u64() {
        return Ok(Some(i64::MAX));
    }
    match number.as_f64() {
        // `as` saturates at the ends of i64, which is what the range check needs.
        Some(value) if value.fract() == 0.0 => Ok(Some(value as i64)),
        _ => Err(serde::de::Error::custom("expected a whole number")),
    }
}

/// Refuses text a person cannot see or that changes how the text around it reads: control
/// characters (C0, DEL, C1, NUL included) and the bidirectional overrides and isolates
/// (U+202A to U+202E, U+2066 to U+2069), which can make a name display as another.
pub fn printable(text: &str) -> Result<(), validator::ValidationError> {
    refuse_any(
        text,
        unprintable,
        "printable",
        "control or bidirectional formatting characters",
    )
}

fn unprintable(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Refuses in a name, besides what [`printable`] refuses, what cannot be seen: the code points
/// Unicode marks `Default_Ignorable_Code_Point` (zero-width spaces and joiners, LRM, RLM and
/// ALM, the soft hyphen, variation selectors, the BOM, tag characters, fillers) and the line
/// and paragraph separators U+2028 and U+2029. With any of them "Payroll Looker" could have a
/// twin that reads the same in every list.
pub fn plain_name(text: &str) -> Result<(), validator::ValidationError> {
    printable(text)?;
    refuse_any(
        text,
        hidden,
        "plain_name",
        "invisible characters or line breaks",
    )
}

/// An error naming the first character of `text` that `refused`, saying it must not contain
/// `what`.
fn refuse_any(
    text: &str,
    refused: fn(char) -> bool,
    code: &'static str,
    what: &str,
) -> Result<(), validator::ValidationError> {
    match text.chars().find(|c| refused(*c)) {
        None => Ok(()),
        Some(c) => {
            let mut error = validator::ValidationError::new(code);
            error.message =
                Some(format!("must not contain {what} (found U+{:04X})", u32::from(c)).into());
            Err(error)
        }
    }
}

fn hidden(c: char) -> bool {
    matches!(c, '\u{2028}' | '\u{2029}')
        || CodePointSetData::new::<DefaultIgnorableCodePoint>().contains(c)
}

/// What [`plain_name`] refuses beyond [`printable`], as the inside of a character class:
/// `Default_Ignorable_Code_Point` as the Unicode data built into Latch has it, and U+2028 and
/// U+2029. A code point past U+FFFF is written as itself: `\uXXXX` cannot name it, and
/// `\u{..}` and `\U........` are each read by only some dialects, while every Unicode-aware
/// one (ECMA-262 with the `u` flag JSON Schema asks for, Python's, Rust's) reads a literal
/// character as itself.
fn hidden_chars() -> String {
    let mut class = String::from(r"\u2028\u2029");
    let spell = |code: u32| match char::from_u32(code) {
        Some(c) if code > 0xFFFF => c.to_string(),
        _ => format!(r"\u{code:04X}"),
    };
    for range in CodePointSetData::new::<DefaultIgnorableCodePoint>().iter_ranges() {
        class.push_str(&spell(*range.start()));
        if range.end() > range.start() {
            class.push('-');
            class.push_str(&spell(*range.end()));
        }
    }
    class
}

/// The bidirectional overrides and isolates [`printable`] refuses, as the inside of a
/// character class.
const BIDI_CHARS: &str = r"\u202A-\u202E\u2066-\u2069";

/// White space as `str::trim` removes it (Unicode `White_Space`).
fn white() -> String {
    format!(r"[\u0009-\u000D\u0085{SPACE_CHARS}]")
}

/// A character [`printable`] accepts.
fn printable_class() -> String {
    format!("[^{CONTROL_CHARS}{BIDI_CHARS}]")
}

/// A character [`printable`] accepts that is not white space.
fn visible() -> String {
    format!("[^{CONTROL_CHARS}{SPACE_CHARS}{BIDI_CHARS}]")
}

/// A character [`plain_name`] accepts.
fn name_class() -> String {
    format!(
        "[^{CONTROL_CHARS}{BIDI_CHARS}{hidden}]",
        hidden = hidden_chars()
    )
}

/// A character [`plain_name`] accepts that is not white space.
fn name_visible() -> String {
    format!(
        "[^{CONTROL_CHARS}{SPACE_CHARS}{BIDI_CHARS}{hidden}]",
        hidden = hidden_chars()
    )
}

/// The document's pattern for a name of at most `max_chars` characters: what the server
/// accepts once it has trimmed the white space around it (`W*`): something visible (`V`), and
/// between the first and the last visible character nothing [`plain_name`] refuses (`P`).
/// The length is counted after trimming, as the server counts it, so it lives in the pattern
/// (`maxLength` would count the white space too). Character sets are spelled out: every regex
/// dialect reads `\uXXXX` alike, not so `\s` or `\p{..}`. (The server counts the length in
/// NFC: a name at the limit written with characters NFC spells longer, such as U+0958, is
/// refused though it matches.)
pub fn name_pattern(max_chars: usize) -> String {
    format!(
        "^{white}*{trimmed}{white}*$",
        white = white(),
        trimmed = trimmed_text(max_chars, &name_visible(), &name_class()),
    )
}

/// The document's pattern for a description of at most `max_chars` characters: as a name's,
/// and it may be empty.
pub fn description_pattern(max_chars: usize) -> String {
    format!(
        "^{white}*(?:{trimmed})?{white}*$",
        white = white(),
        trimmed = trimmed_text(max_chars, &visible(), &printable_class()),
    )
}

/// One to `max_chars` characters of `inner` that start and end with one of `visible`.
fn trimmed_text(max_chars: usize, visible: &str, inner: &str) -> String {
    if max_chars < 2 {
        return visible.to_string();
    }
    format!(
        "{visible}(?:{inner}{{0,{count}}}{visible})?",
        count = max_chars - 2,
    )
}

/// The document's pattern for an address on one of `origins` (as `Origin::ascii_serialization`
/// writes them), with white space around it as `trimmed` removes it; white space alone reads
/// as absent. The server parses the URL and compares origins, so it also accepts spellings
/// this leaves out (an explicit default port, upper-case letters); nothing it refuses
/// matches.
pub fn url_on_origins_pattern(origins: &[String]) -> String {
    let origins = origins
        .iter()
        .map(|origin| regex_escape(origin))
        .collect::<Vec<_>>()
        .join("|");
    format!(
        "^{white}*(?:(?:{origins})(?:[/?#]{visible}*)?)?{white}*$",
        white = white(),
        visible = r"[^\u0000-\u0020\u007F-\u00A0]",
    )
}

/// `text` with every character a regular expression reads as syntax escaped. Not
/// `regex::escape`, which also escapes `-`, `#`, `&` and `~`: ECMA-262 patterns (what the
/// document's readers compile, often in unicode mode) refuse those escapes outside a class.
fn regex_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if r"\^$.|?*+()[]{}".contains(c) {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// The document's pattern for a `cursor`: a `next_cursor` this server returns (an id's 16
/// bytes in unpadded base64url, whose last character carries 2 bits).
pub const CURSOR_PATTERN: &str = "^[A-Za-z0-9_-]{21}[AQgw]$";

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

    #[derive(Debug, Deserialize)]
    struct Seconds {
        #[serde(default, deserialize_with = "whole_number")]
        seconds: Option<i64>,
    }

    fn seconds(json: &str) -> Result<Option<i64>, String> {
        serde_json::from_str::<Seconds>(json)
            .map(|parsed| parsed.seconds)
            .map_err(|error| error.to_string())
    }

    #[test]
    fn whole_numbers_are_read_however_json_writes_them() {
        assert_eq!(seconds(r#"{"seconds": 249}"#), Ok(Some(249)));
        assert_eq!(seconds(r#"{"seconds": 249.0}"#), Ok(Some(249)));
        assert_eq!(seconds(r#"{"seconds": 2.49e2}"#), Ok(Some(249)));
        assert_eq!(seconds(r#"{"seconds": -3}"#), Ok(Some(-3)));
        assert_eq!(seconds(r#"{"seconds": null}"#), Ok(None));
        assert_eq!(seconds("{}"), Ok(None));
    }

    #[test]
    fn numbers_beyond_i64_saturate_so_range_checks_refuse_them() {
        assert_eq!(
            seconds(r#"{"seconds": 18446744073709551615}"#),
            Ok(Some(i64::MAX))
        );
        assert_eq!(seconds(r#"{"seconds": 1e300}"#), Ok(Some(i64::MAX)));
        assert_eq!(seconds(r#"{"seconds": -1e300}"#), Ok(Some(i64::MIN)));
    }

    #[test]
    fn fractions_and_other_types_are_not_whole_numbers() {
        let fraction = seconds(r#"{"seconds": 249.5}"#).unwrap_err();
        assert!(fraction.contains("expected a whole number"), "{fraction}");
        assert!(seconds(r#"{"seconds": "249"}"#).is_err());
        assert!(seconds(r#"{"seconds": true}"#).is_err());
    }

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
    fn names_refuse_invisible_characters_and_line_separators_naming_the_code_point() {
        let invisible = [
            '\u{200B}',
            '\u{200C}',
            '\u{200D}',
            '\u{200E}',
            '\u{200F}',
            '\u{061C}',
            '\u{FEFF}',
            '\u{00AD}',
            '\u{2060}',
            '\u{2063}',
            '\u{FE0F}',
            '\u{3164}',
            '\u{115F}',
            '\u{180E}',
            '\u{E0041}',
            '\u{E007F}',
            '\u{1D173}',
            '\u{2028}',
            '\u{2029}',
        ];
        for c in invisible {
            let message = plain_name(&format!("Payroll{c}Looker"))
                .unwrap_err()
                .message
                .unwrap();
            assert!(
                message.contains(&format!("U+{:04X}", u32::from(c))),
                "{c:?}: {message}"
            );
            assert!(!accepted("name", &format!("Payroll {c}Looker")), "{c:?}");
        }
        for name in [
            "Payroll Looker",
            "Payroll\u{A0}Looker",
            "Données 日本語 🔑",
            "a\u{301}",
        ] {
            assert!(plain_name(name).is_ok(), "{name:?}");
        }
        // A description may hold them (an emoji sequence joins with U+200D).
        assert!(accepted("description", "family \u{1F468}\u{200D}\u{1F469}"));
    }

    #[test]
    fn names_and_descriptions_are_stored_in_nfc() {
        let request: crate::credentials::UpdateCredentialRequest = serde_json::from_value(
            serde_json::json!({"name": " Cafe\u{301} ", "description": "\u{212B}"}),
        )
        .unwrap();
        assert_eq!(request.name.as_deref(), Some("Caf\u{E9}"));
        assert_eq!(request.description.as_deref(), Some("\u{C5}"));
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

    /// Whether the server accepts `text` as the `name` or `description` of a request that
    /// changes a credential: the real deserialisation (trimming) and validation.
    fn accepted(field: &str, text: &str) -> bool {
        use validator::Validate;
        let request: crate::credentials::UpdateCredentialRequest =
            serde_json::from_value(serde_json::json!({ field: text })).unwrap();
        match request.validate() {
            Ok(()) => true,
            Err(errors) => !errors.field_errors().contains_key(field),
        }
    }

    #[test]
    fn the_documented_name_and_description_patterns_accept_exactly_what_the_server_does() {
        let name = regex::Regex::new(&name_pattern(128)).unwrap();
        let description = regex::Regex::new(&description_pattern(1000)).unwrap();
        // Every character of the Basic Multilingual Plane, and around each range of hidden
        // ones beyond it.
        let beyond = CodePointSetData::new::<DefaultIgnorableCodePoint>()
            .iter_ranges()
            .filter(|range| *range.start() > 0xFFFF)
            .flat_map(|range| {
                let (start, end) = (*range.start(), *range.end());
                [start - 1, start, start + 1, end - 1, end, end + 1]
            });
        let characters = (0..=0xFFFFu32)
            .chain(beyond)
            .chain([0x1F511, 0x10FFFF])
            .filter_map(char::from_u32);
        for c in characters {
            for text in [c.to_string(), format!("a{c}"), format!("{c}{c}")] {
                assert_eq!(
                    name.is_match(&text),
                    accepted("name", &text),
                    "name {text:?}"
                );
                assert_eq!(
                    description.is_match(&text),
                    accepted("description", &text),
                    "description {text:?}"
                );
            }
        }
        assert!(!name.is_match(""));
        assert!(description.is_match(""));
    }

    #[test]
    fn the_documented_lengths_count_characters_after_trimming_as_the_server_does() {
        let name = regex::Regex::new(&name_pattern(128)).unwrap();
        let description = regex::Regex::new(&description_pattern(1000)).unwrap();
        let visible = |count: usize| "\u{1F511}".repeat(count);
        let samples = [
            visible(1),
            visible(128),
            visible(129),
            format!("\n\n{}  ", visible(128)),
            format!(" {} ", visible(129)),
            format!("a{}a", " ".repeat(126)),
            format!("a{}a", " ".repeat(127)),
            visible(1000),
            format!("\t{}\u{3000}", visible(1000)),
            visible(1001),
        ];
        for text in &samples {
            assert_eq!(name.is_match(text), accepted("name", text), "name {text:?}");
            assert_eq!(
                description.is_match(text),
                accepted("description", text),
                "description {text:?}"
            );
        }
        assert!(name.is_match(&format!("\n\n{}\n", visible(128))));
        assert!(!name.is_match(&visible(129)));
        assert!(description.is_match(&format!(" {} ", visible(1000))));
        assert!(!description.is_match(&visible(1001)));
        let one = regex::Regex::new(&name_pattern(1)).unwrap();
        assert!(one.is_match(" a ") && !one.is_match("ab"));
    }

    #[test]
    fn the_documented_cursor_pattern_accepts_exactly_the_cursors_that_decode() {
        let pattern = regex::Regex::new(CURSOR_PATTERN).unwrap();
        let id = URL_SAFE_NO_PAD.encode(Uuid::now_v7().as_bytes());
        assert!(pattern.is_match(&id));
        let stem = &id[..21];
        for last in URL_SAFE_NO_PAD
            .encode((0..=255u8).collect::<Vec<u8>>())
            .chars()
            .chain(['=', '.', '~'])
        {
            let cursor = format!("{stem}{last}");
            assert_eq!(
                pattern.is_match(&cursor),
                decode_cursor(&cursor).is_ok(),
                "{cursor}"
            );
        }
        for cursor in ["", "short", &format!("{id}A"), &id[1..]] {
            assert!(!pattern.is_match(cursor));
            assert!(decode_cursor(cursor).is_err(), "{cursor}");
        }
    }
}
