//! The folded form under which names of one kind of record must differ in an organization.

use icu_normalizer::ComposingNormalizerBorrowed;

/// `name` as names are compared for uniqueness: in Unicode NFC, case folded, every run of
/// white space one space, none at either end. "Payroll Looker", "payroll  looker" and
/// "PAYROLL\u{A0}LOOKER" fold alike, so a second one cannot pass for the first in a list.
///
/// Case folding is upper then lower case: Rust's `to_lowercase` alone keeps "ß" apart from
/// "SS", which `to_uppercase` maps it to (full case folding does the same).
pub fn folded_name(name: &str) -> String {
    let composed = ComposingNormalizerBorrowed::new_nfc().normalize(name);
    let cased = composed.to_uppercase().to_lowercase();
    let mut folded = String::with_capacity(cased.len());
    for word in cased
        .split(char::is_whitespace)
        .filter(|word| !word.is_empty())
    {
        if !folded.is_empty() {
            folded.push(' ');
        }
        folded.push_str(word);
    }
    // Case mapping can leave text out of NFC (a composed letter whose other case has no
    // composed form), so the folded form is normalized once more.
    ComposingNormalizerBorrowed::new_nfc()
        .normalize(&folded)
        .into_owned()
}

/// Where a name must be unique: a table, and for data sources their kind.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NameScope {
    pub table: &'static str,
    pub kind: Option<&'static str>,
}

impl NameScope {
    pub const CREDENTIALS: NameScope = NameScope {
        table: "credentials",
        kind: None,
    };
    pub const OAUTH_APPS: NameScope = NameScope {
        table: "oauth_apps",
        kind: None,
    };

    pub fn data_sources(kind: crate::DataSourceKind) -> NameScope {
        NameScope {
            table: "data_sources",
            kind: Some(kind.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::folded_name;

    #[test]
    fn names_that_differ_only_in_case_white_space_or_composition_fold_alike() {
        let folded = folded_name("Payroll Looker");
        for variant in [
            "payroll looker",
            "PAYROLL LOOKER",
            " Payroll   Looker ",
            "Payroll\u{A0}Looker",
            "Payroll\u{3000}Looker",
            "Payroll\tLooker",
        ] {
            assert_eq!(folded_name(variant), folded, "{variant:?}");
        }
        assert_eq!(folded_name("Cafe\u{301}"), folded_name("CAFÉ"));
        assert_eq!(folded_name("Straße"), folded_name("STRASSE"));
        assert_eq!(folded_name("\u{212B}ngström"), folded_name("ÅNGSTRÖM"));
    }

    #[test]
    fn names_that_read_differently_fold_apart() {
        assert_ne!(
            folded_name("Payroll Looker"),
            folded_name("Payroll Lookers")
        );
        assert_ne!(folded_name("Payroll Looker"), folded_name("PayrollLooker"));
        assert_ne!(folded_name("Cafe"), folded_name("Café"));
    }
}
