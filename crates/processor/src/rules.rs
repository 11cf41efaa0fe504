//! Extraction rules (`options.extract`): compiled once per job, evaluated per record.
//! CSS rules run inside the HTML pass (see `html`); JSON Pointer and regex rules run
//! here.

use std::collections::BTreeMap;

use lol_html::errors::SelectorError;
use lol_html::Selector;
use regex::{Regex, RegexBuilder};
use serde_json::Value;
use trawl_core::job::ExtractRule;

use crate::select::FastSelector;

/// Most values an `all` rule returns; the rest are dropped with a note.
pub(crate) const MAX_ALL_VALUES: usize = 10_000;

/// Most bytes of text a rule's values hold together (at least one value's cap,
/// `processor.max_text_bytes`); the rest are dropped with a note. Without it, a page of
/// nested elements that an `all` rule selects (`<div>x` repeated) gave each of 10,000
/// values the text of the whole page after it: 640 MiB from a 1.2 MB page.
pub(crate) const MAX_ALL_BYTES: usize = 1 << 20;

/// Largest compiled program a regex rule may build, so a submitted pattern cannot make
/// every processor thread allocate without bound.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// Why an extraction rule was rejected. Every message names the rule.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuleError {
    /// The rule gives none, or more than one, of `css`, `json` and `regex`.
    #[error("extract rule `{rule}`: give exactly one of `css`, `json` or `regex`")]
    Ambiguous {
        /// The rule's name.
        rule: String,
    },
    /// `attr` without `css`.
    #[error("extract rule `{rule}`: `attr` works only with `css`")]
    AttrWithoutCss {
        /// The rule's name.
        rule: String,
    },
    /// `all` with `json`: a pointer names one value.
    #[error("extract rule `{rule}`: `all` works only with `css` or `regex`")]
    AllWithJson {
        /// The rule's name.
        rule: String,
    },
    /// The CSS selector does not parse or uses what the engine does not support.
    #[error("extract rule `{rule}`: invalid CSS selector `{selector}`: {source}")]
    Selector {
        /// The rule's name.
        rule: String,
        /// The selector as given.
        selector: String,
        /// What the selector parser said.
        #[source]
        source: SelectorError,
    },
    /// The CSS selector nests parentheses (`:not(:not(...))`) more than 32 deep: the
    /// selector parser recurses on them, and a thousand levels overflow its thread's
    /// stack, which aborts the whole process.
    #[error(
        "extract rule `{rule}`: CSS selector nests parentheses more than {MAX_SELECTOR_NESTING} deep"
    )]
    SelectorTooDeep {
        /// The rule's name.
        rule: String,
    },
    /// The JSON Pointer is not empty and does not start with `/`, or has a bad `~`
    /// escape.
    #[error("extract rule `{rule}`: invalid JSON Pointer `{pointer}`: {reason}")]
    Pointer {
        /// The rule's name.
        rule: String,
        /// The pointer as given.
        pointer: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The regular expression does not compile.
    #[error("extract rule `{rule}`: invalid regex `{pattern}`: {source}")]
    Regex {
        /// The rule's name.
        rule: String,
        /// The pattern as given.
        pattern: String,
        /// What the regex compiler said.
        #[source]
        source: regex::Error,
    },
}

impl RuleError {
    /// The name of the rule at fault.
    pub fn rule(&self) -> &str {
        match self {
            RuleError::Ambiguous { rule }
            | RuleError::AttrWithoutCss { rule }
            | RuleError::AllWithJson { rule }
            | RuleError::Selector { rule, .. }
            | RuleError::SelectorTooDeep { rule }
            | RuleError::Pointer { rule, .. }
            | RuleError::Regex { rule, .. } => rule,
        }
    }
}

/// A job's extraction rules, compiled: selectors parsed, pointers checked, patterns
/// built. Compile once per job and share it across that job's records.
#[derive(Debug)]
pub struct CompiledRules {
    rules: Vec<NamedRule>,
}

#[derive(Debug)]
struct NamedRule {
    name: String,
    kind: RuleKind,
}

#[derive(Debug)]
pub(crate) enum RuleKind {
    Css(CssRule),
    Json(String),
    Regex {
        regex: Regex,
        all: bool,
    },
    /// A rule that did not compile, kept so its key still appears (as null) in records
    /// of a job that was stored before the rule became invalid.
    Broken(String),
}

/// A compiled `css` rule.
#[derive(Debug)]
pub(crate) struct CssRule {
    /// The selector for lol_html.
    pub selector: Selector,
    /// The same selector for the fast pass, when it is within what that supports.
    pub fast: Option<FastSelector>,
    /// Take this attribute's value instead of the text; its name in lower case, as
    /// HTML attribute names match in any case.
    pub attr: Option<String>,
    /// Every match, as a list.
    pub all: bool,
}

impl CompiledRules {
    /// Compiles `rules`, failing on the first invalid one (in name order).
    pub fn compile(rules: &BTreeMap<String, ExtractRule>) -> Result<CompiledRules, RuleError> {
        let compiled = rules
            .iter()
            .map(|(name, rule)| {
                Ok(NamedRule {
                    name: name.clone(),
                    kind: compile_rule(name, rule)?,
                })
            })
            .collect::<Result<_, RuleError>>()?;
        Ok(CompiledRules { rules: compiled })
    }

    /// Compiles `rules`, keeping an invalid rule as one that always gives null (and a
    /// note): records of a stored job must still be produced.
    pub(crate) fn compile_lenient(rules: &BTreeMap<String, ExtractRule>) -> CompiledRules {
        let compiled = rules
            .iter()
            .map(|(name, rule)| NamedRule {
                name: name.clone(),
                kind: compile_rule(name, rule).unwrap_or_else(|e| RuleKind::Broken(e.to_string())),
            })
            .collect();
        CompiledRules { rules: compiled }
    }

    /// The rules' names, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|r| r.name.as_str())
    }

    /// The rules in order, with their names.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &RuleKind)> {
        self.rules.iter().map(|r| (r.name.as_str(), &r.kind))
    }

    /// The CSS rules with their positions among all rules.
    pub(crate) fn css(&self) -> impl Iterator<Item = (usize, &CssRule)> {
        self.rules
            .iter()
            .enumerate()
            .filter_map(|(i, r)| match &r.kind {
                RuleKind::Css(css) => Some((i, css)),
                _ => None,
            })
    }

    /// Number of rules.
    pub(crate) fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether any rule is of this kind.
    pub(crate) fn any(&self, pred: impl Fn(&RuleKind) -> bool) -> bool {
        self.rules.iter().any(|r| pred(&r.kind))
    }
}

/// Most parentheses a CSS selector may nest. Real selectors nest two or three
/// (`li:not(:nth-child(2))`); lol_html's parser, which recurses on them, overflowed a
/// 2 MiB stack at 1,000 levels in a release build and at 300 in a debug one.
pub(crate) const MAX_SELECTOR_NESTING: usize = 32;

/// How deep `selector` nests parentheses, not counting those in quoted strings.
fn nesting(selector: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0);
    let mut quote = None;
    let mut escaped = false;
    for c in selector.chars() {
        match (quote, c) {
            _ if escaped => escaped = false,
            (_, '\\') => escaped = true,
            (Some(q), _) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '(') => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            (None, ')') => depth = depth.saturating_sub(1),
            (None, _) => {}
        }
    }
    deepest
}

fn compile_rule(name: &str, rule: &ExtractRule) -> Result<RuleKind, RuleError> {
    let rule_name = || name.to_owned();
    let given = [
        rule.css.is_some(),
        rule.json.is_some(),
        rule.regex.is_some(),
    ];
    if given.iter().filter(|g| **g).count() != 1 {
        return Err(RuleError::Ambiguous { rule: rule_name() });
    }
    if rule.attr.is_some() && rule.css.is_none() {
        return Err(RuleError::AttrWithoutCss { rule: rule_name() });
    }
    if let Some(css) = &rule.css {
        if nesting(css) > MAX_SELECTOR_NESTING {
            return Err(RuleError::SelectorTooDeep { rule: rule_name() });
        }
        let selector = css
            .parse::<Selector>()
            .map_err(|source| RuleError::Selector {
                rule: rule_name(),
                selector: css.clone(),
                source,
            })?;
        return Ok(RuleKind::Css(CssRule {
            selector,
            fast: FastSelector::parse(css),
            attr: rule.attr.as_deref().map(str::to_ascii_lowercase),
            all: rule.all,
        }));
    }
    if let Some(pointer) = &rule.json {
        if rule.all {
            return Err(RuleError::AllWithJson { rule: rule_name() });
        }
        check_pointer(pointer).map_err(|reason| RuleError::Pointer {
            rule: rule_name(),
            pointer: pointer.clone(),
            reason,
        })?;
        return Ok(RuleKind::Json(pointer.clone()));
    }
    let pattern = rule.regex.as_deref().unwrap_or_default();
    let regex = RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|source| RuleError::Regex {
            rule: rule_name(),
            pattern: pattern.to_owned(),
            source,
        })?;
    Ok(RuleKind::Regex {
        regex,
        all: rule.all,
    })
}

/// RFC 6901: empty, or `/`-separated tokens where `~` is followed by `0` or `1`.
fn check_pointer(pointer: &str) -> Result<(), &'static str> {
    if !pointer.is_empty() && !pointer.starts_with('/') {
        return Err("a pointer is empty or starts with `/`");
    }
    let mut bytes = pointer.bytes();
    while let Some(b) = bytes.next() {
        if b == b'~' && !matches!(bytes.next(), Some(b'0' | b'1')) {
            return Err("`~` must be followed by `0` or `1`");
        }
    }
    Ok(())
}

/// A regex rule over `text`: the first capture group of the first match (else the
/// whole match), or with `all` a list over every match; null when nothing matches.
/// The flag says `all` stopped at [`MAX_ALL_VALUES`] values, or once they held
/// [`MAX_ALL_BYTES`].
pub(crate) fn eval_regex(regex: &Regex, all: bool, text: &str) -> (Value, bool) {
    let pick = |caps: regex::Captures<'_>| -> String {
        caps.get(1)
            .or_else(|| caps.get(0))
            .map_or_else(String::new, |m| m.as_str().to_owned())
    };
    if !all {
        return (
            regex
                .captures(text)
                .map_or(Value::Null, |c| Value::String(pick(c))),
            false,
        );
    }
    let mut values: Vec<Value> = Vec::new();
    let mut bytes = 0;
    for caps in regex.captures_iter(text) {
        if values.len() == MAX_ALL_VALUES || bytes >= MAX_ALL_BYTES {
            return (Value::Array(values), true);
        }
        let value = pick(caps);
        bytes += value.len();
        values.push(Value::String(value));
    }
    if values.is_empty() {
        (Value::Null, false)
    } else {
        (Value::Array(values), false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(pairs: &[(&str, ExtractRule)]) -> BTreeMap<String, ExtractRule> {
        pairs
            .iter()
            .map(|(n, r)| (n.to_string(), r.clone()))
            .collect()
    }

    fn css(s: &str) -> ExtractRule {
        ExtractRule {
            css: Some(s.into()),
            ..Default::default()
        }
    }

    #[test]
    fn valid_rules_compile_and_keep_their_names() {
        let compiled = CompiledRules::compile(&rules(&[
            ("title", css("h1")),
            (
                "price",
                ExtractRule {
                    css: Some("div > .price[data-v]".into()),
                    attr: Some("data-v".into()),
                    ..Default::default()
                },
            ),
            (
                "id",
                ExtractRule {
                    json: Some("/data/a~1b/0".into()),
                    ..Default::default()
                },
            ),
            (
                "sku",
                ExtractRule {
                    regex: Some(r"SKU-(\d+)".into()),
                    all: true,
                    ..Default::default()
                },
            ),
        ]))
        .unwrap();
        assert_eq!(
            compiled.names().collect::<Vec<_>>(),
            ["id", "price", "sku", "title"]
        );
    }

    #[test]
    fn selectors_nested_too_deep_are_rejected_before_the_parser_sees_them() {
        let nested = |depth: usize| format!("{}a{}", ":not(".repeat(depth), ")".repeat(depth));
        let compile = |css: String| CompiledRules::compile(&rules(&[("deep", self::css(&css))]));
        assert!(compile(nested(MAX_SELECTOR_NESTING)).is_ok());
        // A million levels: at a thousand the parser overflowed the test thread's stack.
        for depth in [MAX_SELECTOR_NESTING + 1, 1_000_000] {
            let Err(error) = compile(nested(depth)) else {
                panic!("depth {depth} compiled");
            };
            assert!(matches!(&error, RuleError::SelectorTooDeep { rule } if rule == "deep"));
            assert_eq!(
                error.to_string(),
                "extract rule `deep`: CSS selector nests parentheses more than 32 deep"
            );
        }
        // Parentheses in quoted values do not nest.
        let quoted = format!(
            "a[title=\"{}\"], b[x='{}']",
            "(".repeat(40),
            ")(".repeat(40)
        );
        assert_eq!(nesting(&quoted), 0);
        assert!(compile(quoted).is_ok());
        assert_eq!(nesting(r#"a:not([x="\")("]):not(:nth-child(2))"#), 2);
    }

    #[test]
    fn invalid_rules_name_the_rule() {
        let cases = [
            (
                "price",
                css("a["),
                "extract rule `price`: invalid CSS selector `a[`",
            ),
            (
                "p",
                ExtractRule {
                    json: Some("data".into()),
                    ..Default::default()
                },
                "invalid JSON Pointer",
            ),
            (
                "p",
                ExtractRule {
                    json: Some("/a~2".into()),
                    ..Default::default()
                },
                "`~`",
            ),
            (
                "r",
                ExtractRule {
                    regex: Some("(".into()),
                    ..Default::default()
                },
                "extract rule `r`: invalid regex `(`",
            ),
            ("n", ExtractRule::default(), "exactly one"),
            (
                "two",
                ExtractRule {
                    css: Some("a".into()),
                    regex: Some("a".into()),
                    ..Default::default()
                },
                "exactly one",
            ),
            (
                "a",
                ExtractRule {
                    json: Some("/a".into()),
                    attr: Some("x".into()),
                    ..Default::default()
                },
                "`attr`",
            ),
            (
                "all",
                ExtractRule {
                    json: Some("/a".into()),
                    all: true,
                    ..Default::default()
                },
                "`all`",
            ),
        ];
        for (name, rule, expected) in cases {
            let err = CompiledRules::compile(&rules(&[(name, rule)])).unwrap_err();
            assert!(err.to_string().contains(expected), "{err}");
            assert_eq!(err.rule(), name);
        }
    }

    #[test]
    fn lenient_compile_keeps_broken_rules() {
        let compiled =
            CompiledRules::compile_lenient(&rules(&[("bad", css("a[")), ("ok", css("p"))]));
        assert_eq!(compiled.len(), 2);
        assert!(compiled.any(|k| matches!(k, RuleKind::Broken(_))));
    }

    #[test]
    fn regex_takes_group_one_else_whole_match() {
        let re = Regex::new(r"SKU-(\d+)").unwrap();
        assert_eq!(eval_regex(&re, false, "x SKU-12 SKU-34").0, "12");
        assert_eq!(
            eval_regex(&re, true, "x SKU-12 SKU-34").0,
            serde_json::json!(["12", "34"])
        );
        let re = Regex::new(r"\d+").unwrap();
        assert_eq!(eval_regex(&re, false, "ab 42").0, "42");
        assert_eq!(eval_regex(&re, true, "none").0, Value::Null);
    }
}
