//! What an upstream says about itself (a user's display name, an error's message) is text
//! nobody at Latch chose. Before it is stored or shown it is cleaned: characters a person
//! cannot see or that reorder the text around them are removed, each string is capped, and an
//! identity is bounded as a whole, so an upstream cannot make a credential display as another
//! or make every answer that carries it large.

use serde_json::{Map, Value};

/// Characters kept of one string of an identity.
pub const MAX_FIELD_CHARS: usize = 256;
/// Characters kept of a detail (`status_detail`, a failure's reason).
pub const MAX_DETAIL_CHARS: usize = 1000;
/// Bytes an identity may take as JSON; entries past it are dropped.
pub const MAX_IDENTITY_BYTES: usize = 4096;
/// Entries kept of one object or array of an identity.
const MAX_ENTRIES: usize = 32;
/// Levels of nesting kept of an identity.
const MAX_DEPTH: usize = 4;
/// Characters kept of an identity's key.
const MAX_KEY_CHARS: usize = 64;

/// Whether `c` is removed from upstream text: control characters, the bidirectional marks,
/// embeddings, overrides and isolates, zero-width and other invisible format characters,
/// the byte order mark, line and paragraph separators, and tag characters.
pub fn invisible(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{061C}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}'
                | '\u{E0000}'..='\u{E007F}'
        )
}

/// `text` without invisible characters, trimmed, at most `max_chars` characters (a cut is
/// marked with an ellipsis).
pub fn clean_text(text: &str, max_chars: usize) -> String {
    let visible: String = text.chars().filter(|c| !invisible(*c)).collect();
    let trimmed = visible.trim();
    if trimmed.chars().count() <= max_chars {
        return trimmed.to_string();
    }
    let mut cut: String = trimmed.chars().take(max_chars.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// An identity as an upstream reported it, cleaned and bounded.
pub fn clean_identity(identity: Value) -> Value {
    let mut cleaned = clean_value(identity, 0);
    // The whole stays small: drop entries from the end until it fits.
    while serialized_len(&cleaned) > MAX_IDENTITY_BYTES {
        let dropped = match &mut cleaned {
            Value::Object(map) => map
                .keys()
                .next_back()
                .cloned()
                .and_then(|key| map.remove(&key)),
            Value::Array(items) => items.pop(),
            _ => None,
        };
        if dropped.is_none() {
            return Value::Null;
        }
    }
    cleaned
}

fn clean_value(value: Value, depth: usize) -> Value {
    match value {
        Value::String(text) => Value::String(clean_text(&text, MAX_FIELD_CHARS)),
        Value::Array(items) if depth < MAX_DEPTH => Value::Array(
            items
                .into_iter()
                .take(MAX_ENTRIES)
                .map(|item| clean_value(item, depth + 1))
                .collect(),
        ),
        Value::Object(map) if depth < MAX_DEPTH => Value::Object(
            map.into_iter()
                .take(MAX_ENTRIES)
                .map(|(key, item)| {
                    (
                        clean_text(&key, MAX_KEY_CHARS),
                        clean_value(item, depth + 1),
                    )
                })
                .filter(|(key, _)| !key.is_empty())
                .collect::<Map<String, Value>>(),
        ),
        Value::Array(_) | Value::Object(_) => Value::Null,
        other => other,
    }
}

fn serialized_len(value: &Value) -> usize {
    serde_json::to_vec(value).map_or(usize::MAX, |bytes| bytes.len())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn invisible_and_reordering_characters_are_removed() {
        let hostile = "\u{202E}nimda\u{202C} Ann\u{200B}a\u{2066}\u{FEFF}\u{E0041}\u{2028}\u{0007}";
        assert_eq!(clean_text(hostile, 100), "nimda Anna");
        assert_eq!(clean_text("  Zoë Ünal  ", 100), "Zoë Ünal");
    }

    #[test]
    fn long_text_is_cut_to_its_cap_with_a_mark() {
        let cut = clean_text(&"A".repeat(60_000), MAX_FIELD_CHARS);
        assert_eq!(cut.chars().count(), MAX_FIELD_CHARS);
        assert!(cut.ends_with('…'));
        assert_eq!(clean_text("short", 5), "short");
    }

    #[test]
    fn an_identity_is_cleaned_field_by_field_and_bounded_as_a_whole() {
        let identity = clean_identity(json!({
            "id": 42,
            "name": format!("\u{202E}{}", "B".repeat(60_000)),
            "email": "ann@example.com",
        }));
        assert_eq!(identity["id"], 42);
        assert_eq!(identity["email"], "ann@example.com");
        let name = identity["name"].as_str().unwrap();
        assert!(!name.contains('\u{202E}'));
        assert_eq!(name.chars().count(), MAX_FIELD_CHARS);

        let many: Map<String, Value> = (0..500)
            .map(|n| (format!("field{n}"), Value::String("x".repeat(200))))
            .collect();
        let bounded = clean_identity(Value::Object(many));
        assert!(serialized_len(&bounded) <= MAX_IDENTITY_BYTES);
        assert!(bounded.as_object().unwrap().len() <= MAX_ENTRIES);

        let deep = json!({"a": {"b": {"c": {"d": {"e": "too deep"}}}}});
        assert_eq!(clean_identity(deep)["a"]["b"]["c"]["d"], Value::Null);
    }
}
