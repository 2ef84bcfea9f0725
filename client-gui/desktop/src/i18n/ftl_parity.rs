//! The check that every language has every message with the same
//! variables, apart from the files it reads: the desktop window's tests
//! and the command line's (client-gui/cli/src/i18n.rs includes this file
//! by path) run it on their own .ftl files.

use fluent_syntax::ast::{Entry, Expression, InlineExpression, Pattern, PatternElement};
use std::collections::{BTreeMap, BTreeSet};

/// Message id → the variables it uses, from one .ftl file's text.
pub fn messages(lang: &str, text: &str) -> BTreeMap<String, BTreeSet<String>> {
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

/// What `other` lacks or has more than `base` (English): missing ids,
/// ids with other variables, extra ids. Empty when they match.
pub fn differences(
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
