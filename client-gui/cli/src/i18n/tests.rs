//! Both languages have every message with the same variables, the
//! loaders speak their language without isolation marks, and English says
//! exactly what it said before it came from a file (scripts parse it).

use super::ftl_parity::{differences, messages};
use super::*;
use i18n_embed_fl::fl;

fn file(lang: Language) -> String {
    let path = format!("{}/postern.ftl", lang.tag());
    let f = Localizations::get(&path).unwrap_or_else(|| panic!("{path} is not embedded"));
    String::from_utf8(f.data.into_owned()).expect("UTF-8")
}

#[test]
fn every_language_has_every_message() {
    let english = messages("en", &file(Language::English));
    assert!(english.len() > 70, "only {} messages", english.len());
    for lang in Language::ALL {
        let other = messages(lang.tag(), &file(lang));
        let diff = differences(&english, &other);
        assert!(diff.is_empty(), "{}:\n{}", lang.tag(), diff.join("\n"));
    }
}

/// `fl!` checks ids against i18n.toml's domain; the loaders must read the
/// same files.
#[test]
fn the_loaders_read_the_domain_fl_checks_against() {
    let configured: FluentLanguageLoader = i18n_embed::fluent::fluent_language_loader!();
    assert_eq!(configured.domain(), DOMAIN);
    assert_eq!(configured.fallback_language().to_string(), "en");
}

#[test]
fn each_loader_speaks_its_language_without_isolation_marks() {
    let en = loader_for(Language::English);
    let es = loader_for(Language::Spanish);
    assert_eq!(
        fl!(en, "removed", name = "\"Office PC\""),
        "removed \"Office PC\""
    );
    assert_eq!(
        fl!(es, "removed", name = "\"Office PC\""),
        "borrado \"Office PC\""
    );
    assert_eq!(
        fl!(es, "knock-sent", name = "\"Loop\"", packets = 1),
        "llamada a \"Loop\": 1 paquete enviado"
    );
    assert_eq!(
        fl!(es, "knock-sent", name = "\"Loop\"", packets = 3),
        "llamada a \"Loop\": 3 paquetes enviados"
    );
    // English keeps its one form, as before.
    assert_eq!(
        fl!(en, "knock-sent", name = "\"Loop\"", packets = 1),
        "knocked \"Loop\": 1 packets sent"
    );
    assert_eq!(
        fl!(en, "knock-sent", name = "\"Loop\"", packets = 12345),
        "knocked \"Loop\": 12345 packets sent"
    );
    // A message made of other messages, and text that ends in a space.
    assert_eq!(
        fl!(es, "remove-not-found", name = "\"x\""),
        "no hay ningún servidor guardado llamado \"x\"; `postern list` muestra los servidores guardados"
    );
    assert_eq!(
        fl!(en, "passphrase-prompt", what = "a.postern"),
        "Passphrase for a.postern: "
    );
}

/// The layouts Fluent could change: blank lines, indentation, a line that
/// starts with a bracket, the text around a select.
#[test]
fn english_keeps_its_exact_layout() {
    let en = loader_for(Language::English);
    assert_eq!(
        fl!(
            en,
            "trust-new-signer",
            name = "\"Office\"",
            fingerprint = "AB:CD"
        ),
        "postern: \"Office\" is signed by an administrator key new to this computer:\n\n    AB:CD\n\n\
         Compare this fingerprint with the one your administrator gave you."
    );
    assert_eq!(
        fl!(en, "desktop-cannot-start", error = "no app"),
        "postern: no app\n(the commands work without it: postern --help)"
    );
    assert_eq!(
        fl!(
            en,
            "fwknoprc-not-carried",
            stanza = "lab",
            option = "NAT_PORT"
        ),
        "[lab]: NAT_PORT not carried over"
    );
    assert_eq!(
        fl!(
            en,
            "trust-prompt",
            server = "00112233445566778899aabbccddeeff"
        ),
        "Trust it for server 00112233445566778899aabbccddeeff? Type yes to confirm: "
    );
    assert_eq!(
        fl!(en, "knock-and", first = "198.18.0.1", second = "fd00::1"),
        "198.18.0.1 and fd00::1"
    );
}
