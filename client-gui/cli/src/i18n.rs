//! The command line's languages: English and Spanish, from the Fluent
//! files in `i18n/<lang>/postern.ftl`, compiled into the binary (the
//! desktop window's approach, with the CLI's own texts).
//!
//! The language is the POSIX locale of messages (`LC_ALL`, else
//! `LC_MESSAGES`, else `LANG`; postern_client::language): Spanish for
//! `es*`, English for anything else, `C` included, so `LC_ALL=C.UTF-8`
//! gives the English that scripts parse. Where none of them is set
//! (Windows, a macOS app) the system's preferred languages decide.
//!
//! Start-up is most of a script's knock latency (main.rs), so the loader is
//! built only when the first text is asked for, once. What the library
//! says in its errors (the thiserror messages of postern-client and
//! postern-proto) stays English: it is the technical detail after our own
//! words, the same in every language, and what a bug report quotes.
//!
//! Code asks for text with `t!`: `t!("knock-sent", name = n)`.

use i18n_embed::LanguageLoader;
use i18n_embed::fluent::FluentLanguageLoader;
use postern_client::language::Language;
use rust_embed::RustEmbed;
use std::sync::LazyLock;

/// The files' name, i18n/<lang>/postern.ftl.
const DOMAIN: &str = "postern";

#[derive(RustEmbed)]
#[folder = "i18n/"]
struct Localizations;

/// The language this process speaks. Unit tests are English whatever the
/// developer's locale: they check the exact English text (the Spanish is
/// checked through [`loader_for`] and the binary's tests).
fn system_language() -> Language {
    if cfg!(test) {
        return Language::English;
    }
    Language::from_posix_env(|name| std::env::var(name).ok())
        .unwrap_or_else(|| Language::first_spoken(sys_locale::get_locales()))
}

/// A loader holding `lang` alone, without the Unicode isolation marks
/// Fluent puts around variables by default: they would reach terminals,
/// logs and the scripts that parse the output.
///
/// Alone: i18n-embed always parses the fallback language's file as well,
/// and parsing is nearly all of a loader's cost (about 0.2 ms per file,
/// before the first packet of `postern knock`), so `lang` is made its own
/// fallback. Nothing is lost: the tests below fail when a language lacks
/// a message English has.
pub fn loader_for(lang: Language) -> FluentLanguageLoader {
    // Both tags are valid: `unwrap_or_default` is never taken.
    let id: unic_langid::LanguageIdentifier = lang.tag().parse().unwrap_or_default();
    // The domain of i18n.toml (a test checks it).
    let loader = FluentLanguageLoader::new(DOMAIN, id.clone());
    // The files are compiled in and checked by the tests below, so this
    // fails only in a broken build; `t!` then gives the message ids.
    if let Err(e) = loader.load_languages(&Localizations, &[id]) {
        eprintln!("postern: cannot load the {} texts: {e}", lang.tag());
    }
    loader.set_use_isolating(false);
    loader
}

/// The language `t!` speaks, read from the environment once.
pub static LANGUAGE: LazyLock<Language> = LazyLock::new(system_language);

/// The loader `t!` reads, made on the first text asked for.
pub static LOADER: LazyLock<FluentLanguageLoader> = LazyLock::new(|| loader_for(*LANGUAGE));

/// A text in the process's language: `t!("id")` or `t!("id", name =
/// value)`. The id and the variable names are checked against the English
/// file when compiling.
macro_rules! t {
    ($id:literal) => {
        i18n_embed_fl::fl!($crate::i18n::LOADER, $id)
    };
    // `fl!` writes `value.into()`: the parentheses keep an expression whole.
    ($id:literal, $($name:ident = $value:expr),+ $(,)?) => {
        i18n_embed_fl::fl!($crate::i18n::LOADER, $id, $($name = ($value)),+)
    };
}

pub(crate) use t;

#[cfg(test)]
#[path = "../../desktop/src/i18n/ftl_parity.rs"]
mod ftl_parity;

#[cfg(test)]
mod tests;
