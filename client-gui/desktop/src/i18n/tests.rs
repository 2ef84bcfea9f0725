//! Every language has every message, with the same variables; the
//! loaders give the right language without isolation marks.

use super::ftl_parity::{differences, messages};
use super::*;

fn file(lang: Language) -> String {
    let path = format!("{}/postern_desktop.ftl", lang.tag());
    let f = Localizations::get(&path).unwrap_or_else(|| panic!("{path} is not embedded"));
    String::from_utf8(f.data.into_owned()).expect("UTF-8")
}

#[test]
fn every_language_has_every_message() {
    let english = messages("en", &file(Language::English));
    assert!(english.len() > 200, "only {} messages", english.len());
    for lang in Language::ALL {
        let other = messages(lang.tag(), &file(lang));
        let diff = differences(&english, &other);
        assert!(diff.is_empty(), "{}:\n{}", lang.tag(), diff.join("\n"));
    }
}

#[test]
fn each_loader_speaks_its_language_without_isolation_marks() {
    let en = loader_for(Language::English);
    let es = loader_for(Language::Spanish);
    assert_eq!(
        i18n_embed_fl::fl!(en, "card-connect-name", host = "Office PC"),
        "Connect Office PC"
    );
    assert_eq!(
        i18n_embed_fl::fl!(es, "card-connect-name", host = "Office PC"),
        "Conectar Office PC"
    );
    assert_eq!(
        i18n_embed_fl::fl!(es, "empty-title"),
        "Todavía no hay servidores"
    );
    // Plurals follow each language's rules; numbers print plainly.
    assert_eq!(i18n_embed_fl::fl!(es, "ago-days", n = 1), "hace 1 día");
    assert_eq!(i18n_embed_fl::fl!(es, "ago-days", n = 3), "hace 3 días");
    assert_eq!(
        i18n_embed_fl::fl!(
            en,
            "outcome-open",
            ms = 1234,
            reknocked = "no",
            address = "none"
        ),
        "Open after 1234 ms"
    );
    assert_eq!(
        i18n_embed_fl::fl!(
            es,
            "outcome-open",
            ms = 5,
            reknocked = "yes",
            address = "198.18.0.1"
        ),
        "Abierto tras 5 ms (tras una segunda llamada) para 198.18.0.1"
    );
}

#[test]
fn the_system_locale_picks_the_language_and_english_is_the_rest() {
    let sys = |l: &[&str]| l.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let system = LanguageChoice::System;
    assert_eq!(system.resolve(sys(&["es-MX"])), Language::Spanish);
    assert_eq!(system.resolve(sys(&["es_ES.UTF-8"])), Language::Spanish);
    assert_eq!(system.resolve(sys(&["fr-FR", "es"])), Language::Spanish);
    assert_eq!(system.resolve(sys(&["de-DE"])), Language::English);
    assert_eq!(system.resolve(sys(&["C"])), Language::English);
    assert_eq!(system.resolve(sys(&[])), Language::English);
    assert_eq!(
        LanguageChoice::English.resolve(sys(&["es-ES"])),
        Language::English
    );
    assert_eq!(
        LanguageChoice::Spanish.resolve(sys(&["en-US"])),
        Language::Spanish
    );
}
