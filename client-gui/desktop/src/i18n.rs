//! The window's languages: English and Spanish, from the Fluent files in
//! `i18n/<lang>/postern_desktop.ftl`, compiled into the binary.
//!
//! One process-wide loader, loaded once at start and again only when the
//! user picks another language in Settings (it applies at once: every
//! frame draws its text anew). Which language: the Settings choice, else
//! the system's locale (sys-locale), else English. English is also the
//! fallback for any message a language lacks, and what `fl!` checks ids
//! and variables against at compile time; the test below checks that
//! every language has the same ids with the same variables.
//!
//! Code asks for text with `t!`: `t!("card-connect-name",
//! host = name)`.

use i18n_embed::LanguageLoader;
use i18n_embed::fluent::{FluentLanguageLoader, fluent_language_loader};
use rust_embed::RustEmbed;
use serde::{Deserialize, Serialize};
use std::sync::{LazyLock, Mutex};

#[derive(RustEmbed)]
#[folder = "i18n/"]
struct Localizations;

/// The languages and which one a locale means: shared with the command
/// line (postern-client), which has its own texts.
pub use postern_client::language::Language;

/// The Settings choice; saved as `language = "system" | "en" | "es"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum LanguageChoice {
    /// The first language of the system's preferred list that the window
    /// speaks, else English.
    #[default]
    #[serde(rename = "system")]
    System,
    #[serde(rename = "en")]
    English,
    #[serde(rename = "es")]
    Spanish,
}

impl LanguageChoice {
    pub const ALL: [LanguageChoice; 3] = [
        LanguageChoice::System,
        LanguageChoice::English,
        LanguageChoice::Spanish,
    ];

    pub fn label(self) -> String {
        match self {
            LanguageChoice::System => t!("language-system"),
            LanguageChoice::English => Language::English.own_name().to_owned(),
            LanguageChoice::Spanish => Language::Spanish.own_name().to_owned(),
        }
    }

    /// The language to show; `system` lists the system's locales, most
    /// preferred first.
    pub fn resolve(self, system: impl IntoIterator<Item = String>) -> Language {
        match self {
            LanguageChoice::English => Language::English,
            LanguageChoice::Spanish => Language::Spanish,
            LanguageChoice::System => Language::first_spoken(system),
        }
    }
}

/// A loader holding `lang` (and English behind it for missing messages),
/// without the Unicode isolation marks Fluent puts around variables by
/// default: egui's fonts have no glyph for them, and screen-reader names
/// like "Connect Office" must read exactly so.
pub fn loader_for(lang: Language) -> FluentLanguageLoader {
    let loader: FluentLanguageLoader = fluent_language_loader!();
    load_into(&loader, lang);
    loader
}

fn load_into(loader: &FluentLanguageLoader, lang: Language) {
    let id = lang
        .tag()
        .parse::<unic_langid::LanguageIdentifier>()
        .unwrap_or_else(|_| loader.fallback_language().clone());
    // The files are compiled in and checked by the tests below, so this
    // fails only in a broken build; the loader then keeps what it had.
    if let Err(e) = loader.load_languages(&Localizations, &[id]) {
        eprintln!("postern: cannot load the {} texts: {e}", lang.tag());
    }
    loader.set_use_isolating(false);
}

/// The loader `t!` reads: English until [`set_language`].
pub static LOADER: LazyLock<FluentLanguageLoader> = LazyLock::new(|| loader_for(Language::English));

static CURRENT: Mutex<Language> = Mutex::new(Language::English);

/// Makes `lang` the window's language from the next text asked for.
pub fn set_language(lang: Language) {
    let mut current = CURRENT.lock().unwrap_or_else(|e| e.into_inner());
    let loader = &*LOADER;
    if *current != lang {
        load_into(loader, lang);
        *current = lang;
    }
}

/// The language texts are in now.
pub fn language() -> Language {
    *CURRENT.lock().unwrap_or_else(|e| e.into_inner())
}

/// Applies the Settings choice, asking the system for its locales when
/// the choice is "follow the system".
pub fn apply(choice: LanguageChoice) {
    set_language(choice.resolve(sys_locale::get_locales()));
}

/// A text in the current language: `t!("id")` or `t!("id", name = value)`.
/// The id and the variable names are checked against the English file
/// when compiling. Crate-private: `fl!` reads the calling crate's
/// `i18n.toml`.
macro_rules! t {
    ($id:literal) => {
        i18n_embed_fl::fl!($crate::i18n::LOADER, $id)
    };
    // `fl!` writes `value.into()`: the parentheses keep `*n` and `a / b`
    // whole.
    ($id:literal, $($name:ident = $value:expr),+ $(,)?) => {
        i18n_embed_fl::fl!($crate::i18n::LOADER, $id, $($name = ($value)),+)
    };
}

pub(crate) use t;

#[cfg(test)]
mod ftl_parity;
#[cfg(test)]
mod tests;
