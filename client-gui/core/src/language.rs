//! Which of Postern's languages a locale name means: shared by the
//! desktop window and the command line, which each keep their own texts
//! (Fluent files) and their own way of asking the system.
//!
//! Pure: the caller reads the system (sys-locale, the environment) and
//! passes what it found, so the rules are tested without touching either.

/// A language Postern's programs speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    English,
    Spanish,
}

impl Language {
    pub const ALL: [Language; 2] = [Language::English, Language::Spanish];

    /// The folder name of its texts (a BCP 47 language tag).
    pub fn tag(self) -> &'static str {
        match self {
            Language::English => "en",
            Language::Spanish => "es",
        }
    }

    /// The language's name in itself, as a language menu shows it: the
    /// same in every language, so a user lost in a foreign one finds
    /// their own.
    pub fn own_name(self) -> &'static str {
        match self {
            Language::English => "English",
            Language::Spanish => "Español",
        }
    }

    /// The language of a locale name as systems write it: `es-MX`,
    /// `es_ES.UTF-8`, `en`, `C`. `None` for one Postern does not speak.
    pub fn from_locale(locale: &str) -> Option<Self> {
        let primary = locale
            .split(['-', '_', '.', '@'])
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        Language::ALL.into_iter().find(|l| l.tag() == primary)
    }

    /// The first language of a preference list (most preferred first, as
    /// sys-locale lists them) that Postern speaks, else English.
    pub fn first_spoken<S: AsRef<str>>(locales: impl IntoIterator<Item = S>) -> Language {
        locales
            .into_iter()
            .find_map(|l| Language::from_locale(l.as_ref()))
            .unwrap_or(Language::English)
    }

    /// The language of messages under the POSIX rules: the first of
    /// `LC_ALL`, `LC_MESSAGES` and `LANG` that is set and not empty is the
    /// locale, and only that one counts (`LC_ALL=C` means English whatever
    /// `LANG` says, which is how scripts ask for output they can parse).
    /// A locale Postern does not speak, `C` and `POSIX` included, is
    /// English. `None` when none of the three is set: then the system has
    /// another way to say it (Windows, macOS apps).
    ///
    /// `var` reads one variable (`std::env::var(name).ok()` in a program).
    pub fn from_posix_env(var: impl Fn(&str) -> Option<String>) -> Option<Language> {
        ["LC_ALL", "LC_MESSAGES", "LANG"]
            .into_iter()
            .filter_map(var)
            .find(|v| !v.is_empty())
            .map(|locale| Language::from_locale(&locale).unwrap_or(Language::English))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn locale_names_as_systems_write_them() {
        assert_eq!(Language::from_locale("es-MX"), Some(Language::Spanish));
        assert_eq!(
            Language::from_locale("es_ES.UTF-8"),
            Some(Language::Spanish)
        );
        assert_eq!(Language::from_locale("ES"), Some(Language::Spanish));
        assert_eq!(Language::from_locale("en_GB@euro"), Some(Language::English));
        assert_eq!(Language::from_locale("C.UTF-8"), None);
        assert_eq!(Language::from_locale("de-DE"), None);
        assert_eq!(Language::from_locale(""), None);
    }

    #[test]
    fn a_preference_list_gives_its_first_spoken_language() {
        assert_eq!(Language::first_spoken(["fr-FR", "es"]), Language::Spanish);
        assert_eq!(Language::first_spoken(["de-DE"]), Language::English);
        assert_eq!(
            Language::first_spoken(Vec::<String>::new()),
            Language::English
        );
    }

    #[test]
    fn the_posix_locale_is_the_first_variable_set_and_only_that_one() {
        let env = |pairs: &[(&str, &str)]| {
            let m: HashMap<String, String> = pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            move |name: &str| m.get(name).cloned()
        };
        let lang = |pairs: &[(&str, &str)]| Language::from_posix_env(env(pairs));
        assert_eq!(lang(&[("LANG", "es_ES.UTF-8")]), Some(Language::Spanish));
        assert_eq!(
            lang(&[("LC_ALL", "C.UTF-8"), ("LANG", "es_ES.UTF-8")]),
            Some(Language::English)
        );
        assert_eq!(
            lang(&[("LC_MESSAGES", "es_AR.UTF-8"), ("LANG", "en_US.UTF-8")]),
            Some(Language::Spanish)
        );
        assert_eq!(
            lang(&[("LC_ALL", ""), ("LANG", "es_MX")]),
            Some(Language::Spanish)
        );
        assert_eq!(lang(&[("LANG", "POSIX")]), Some(Language::English));
        assert_eq!(lang(&[("LANG", "fr_FR.UTF-8")]), Some(Language::English));
        assert_eq!(lang(&[]), None);
    }
}
