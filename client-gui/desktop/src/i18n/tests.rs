//! Every language has every message, with the same variables; the
//! loaders give the right language without isolation marks.

use super::*;
use fluent_syntax::ast::{Entry, Expression, InlineExpression, Pattern, PatternElement};
use std::collections::{BTreeMap, BTreeSet};

/// Message id → the variables it uses, from one .ftl file's text.
fn messages(lang: &str, text: &str) -> BTreeMap<String, BTreeSet<String>> {
    let resource = fluent_syntax::parser::parse(text)
        .unwrap_or_else(|(_, errors)| panic!("{lang}: the .ftl does not parse: {errors:?}"));
    let mut out = BTreeMap::new();
    for entry in resource.body {
        match entry {
            Entry::Message(m) => {
                let mut vars = BTreeSet::new();
                if let Some(p) = &m.value {
                    pattern_vars(p, &mut vars);
                }
                for a in &m.attributes {
                    pattern_vars(&a.value, &mut vars);
                }
                let id = m.id.name.to_owned();
                assert!(out.insert(id.clone(), vars).is_none(), "{lang}: {id} twice");
            }
            Entry::Junk { content } => panic!("{lang}: cannot read {content:?}"),
            _ => {}
        }
    }
    out
}

fn pattern_vars(p: &Pattern<&str>, vars: &mut BTreeSet<String>) {
    for el in &p.elements {
        if let PatternElement::Placeable { expression } = el {
            expression_vars(expression, vars);
        }
    }
}

fn expression_vars(e: &Expression<&str>, vars: &mut BTreeSet<String>) {
    match e {
        Expression::Select { selector, variants } => {
            inline_vars(selector, vars);
            for v in variants {
                pattern_vars(&v.value, vars);
            }
        }
        Expression::Inline(i) => inline_vars(i, vars),
    }
}

fn inline_vars(i: &InlineExpression<&str>, vars: &mut BTreeSet<String>) {
    match i {
        InlineExpression::VariableReference { id } => {
            vars.insert(id.name.to_owned());
        }
        InlineExpression::FunctionReference { arguments, .. } => {
            for a in &arguments.positional {
                inline_vars(a, vars);
            }
            for a in &arguments.named {
                inline_vars(&a.value, vars);
            }
        }
        InlineExpression::Placeable { expression } => expression_vars(expression, vars),
        _ => {}
    }
}

fn file(lang: Language) -> String {
    let path = format!("{}/postern_desktop.ftl", lang.tag());
    let f = Localizations::get(&path).unwrap_or_else(|| panic!("{path} is not embedded"));
    String::from_utf8(f.data.into_owned()).expect("UTF-8")
}

/// The check itself, apart from the files, so the test below can show
/// that it catches a missing message and a missing variable.
fn differences(
    base: &BTreeMap<String, BTreeSet<String>>,
    other: &BTreeMap<String, BTreeSet<String>>,
) -> Vec<String> {
    let mut d = Vec::new();
    for (id, vars) in base {
        match other.get(id) {
            None => d.push(format!("{id} is missing")),
            Some(v) if v != vars => d.push(format!("{id} uses {v:?}, not {vars:?}")),
            Some(_) => {}
        }
    }
    for id in other.keys().filter(|id| !base.contains_key(*id)) {
        d.push(format!("{id} is extra (not in English)"));
    }
    d
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
fn the_check_catches_a_missing_message_and_a_missing_variable() {
    let en = messages("en", "a = A { $x }\nb = B\n");
    let missing = messages("es", "a = A { $x }\n");
    assert_eq!(differences(&en, &missing), ["b is missing"]);
    let no_var = messages("es", "a = A\nb = B\n");
    assert_eq!(differences(&en, &no_var).len(), 1);
    let extra = messages("es", "a = A { $x }\nb = B\nc = C\n");
    assert_eq!(differences(&en, &extra), ["c is extra (not in English)"]);
    let select = messages(
        "es",
        "a = { $x ->\n    [one] uno\n   *[other] { $x }\n}\nb = B\n",
    );
    assert!(differences(&en, &select).is_empty());
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
