//! The store's SQL by table group, each a macro instantiated per backend by
//! [`crate::sql_store::impl_store`].

pub(crate) mod api_keys;
pub(crate) mod audit;
pub(crate) mod changes;
pub(crate) mod connect_sessions;
pub(crate) mod credentials;
pub(crate) mod data_sources;
pub(crate) mod health;
pub(crate) mod names;
pub(crate) mod oauth_apps;
pub(crate) mod organizations;
pub(crate) mod tokens;
pub(crate) mod webhooks;

/// `text` with LIKE's wildcards and its escape character escaped by `\`, to be found as it is.
pub(crate) fn like_escaped(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        if matches!(character, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(character);
    }
    escaped
}

#[cfg(test)]
mod tests {
    #[test]
    fn like_wildcards_are_escaped_to_be_found_as_they_are() {
        assert_eq!(super::like_escaped("50%_off\\x"), "50\\%\\_off\\\\x");
        assert_eq!(super::like_escaped("plain"), "plain");
    }
}
