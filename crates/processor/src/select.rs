//! The CSS selectors that the fast pass evaluates itself: type and universal selectors,
//! classes, ids, attribute selectors (`[a]`, `[a=v]`, `[a~=v]`, `[a^=v]`, `[a$=v]`,
//! `[a*=v]`, `[a|=v]`, with an optional `i` or `s` flag), the descendant and child
//! combinators, and lists. [`FastSelector::parse`] returns `None` for anything else
//! (pseudo-classes, namespaces, escapes, comments), which lol_html then evaluates.
//!
//! Matching follows lol_html's, which the differential test in `capture` checks:
//! attribute values are compared as written (character references not decoded), type
//! and attribute names ignore case, classes and ids do not, and a value of the HTML
//! attributes that selectors treat as case-insensitive (`type`, `lang`, ...) ignores
//! ASCII case on an HTML element (not on one of SVG or MathML) unless the selector says
//! `s`.

use crate::namespace::Namespace;
use crate::scan::Tag;

/// A parsed selector list of the supported subset.
#[derive(Debug)]
pub(crate) struct FastSelector {
    /// The selectors of the list; an element matches when one of them does.
    pub alternatives: Vec<Complex>,
}

/// One selector of a list: compounds from the subject leftwards.
#[derive(Debug)]
pub(crate) struct Complex {
    /// `parts[0]` is the subject; `parts[k].1` is how `parts[k]` relates to
    /// `parts[k + 1]`, its ancestor (unused on the last part).
    pub parts: Vec<(Compound, Combinator)>,
}

/// How a compound relates to the one on its left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Combinator {
    /// `a > b`: the left one is the parent.
    Child,
    /// `a b`: the left one is an ancestor.
    Descendant,
}

/// A sequence of simple selectors that one element must all match.
#[derive(Debug)]
pub(crate) struct Compound {
    /// The tag name in lower case; `None` for `*` or no type.
    name: Option<String>,
    conditions: Vec<Condition>,
}

#[derive(Debug)]
enum Condition {
    Class(String),
    Id(String),
    Attr {
        /// Lower case.
        name: String,
        /// `None` for `[a]`.
        test: Option<(Operator, String)>,
        case: ValueCase,
    },
}

/// How an attribute selector compares values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ValueCase {
    /// As written (`s`, and most attributes).
    Sensitive,
    /// Ignoring ASCII case (`i`).
    Insensitive,
    /// Ignoring ASCII case on HTML elements, not on those of SVG or MathML: one of
    /// [`CASE_INSENSITIVE_ATTRIBUTES`], without `i` or `s`.
    InsensitiveOnHtml,
}

#[derive(Debug, Clone, Copy)]
enum Operator {
    Equals,
    Includes,
    Prefix,
    Suffix,
    Substring,
    DashMatch,
}

/// Attributes whose values selectors compare ignoring ASCII case on HTML elements
/// (the `selectors` crate's list, from the HTML standard).
const CASE_INSENSITIVE_ATTRIBUTES: [&str; 46] = [
    "accept",
    "accept-charset",
    "align",
    "alink",
    "axis",
    "bgcolor",
    "charset",
    "checked",
    "clear",
    "codetype",
    "color",
    "compact",
    "declare",
    "defer",
    "dir",
    "direction",
    "disabled",
    "enctype",
    "face",
    "frame",
    "hreflang",
    "http-equiv",
    "lang",
    "language",
    "link",
    "media",
    "method",
    "multiple",
    "nohref",
    "noresize",
    "noshade",
    "nowrap",
    "readonly",
    "rel",
    "rev",
    "rules",
    "scope",
    "scrolling",
    "selected",
    "shape",
    "target",
    "text",
    "type",
    "valign",
    "valuetype",
    "vlink",
];

impl FastSelector {
    /// How many compounds the selectors of the list have in all.
    pub(crate) fn compounds(&self) -> usize {
        self.alternatives
            .iter()
            .map(|complex| complex.parts.len())
            .sum()
    }

    /// Parses `selector`, which lol_html has already accepted; `None` when it uses
    /// anything outside the subset.
    pub(crate) fn parse(selector: &str) -> Option<FastSelector> {
        let mut input = Input {
            rest: selector.trim_matches(is_space),
        };
        let mut alternatives = Vec::new();
        loop {
            alternatives.push(input.complex()?);
            input.skip_space();
            if input.rest.is_empty() {
                return Some(FastSelector { alternatives });
            }
            input.expect(",")?;
            input.skip_space();
        }
    }
}

impl Compound {
    /// The type the compound requires, in lower case; `None` for `*` or no type.
    pub(crate) fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Whether the element of `tag`, whose type the caller has already checked against
    /// [`Compound::name`], matches the rest of this compound.
    pub(crate) fn matches_conditions(&self, tag: &Tag<'_>) -> bool {
        self.conditions.iter().all(|c| c.matches(tag))
    }
}

impl Condition {
    fn matches(&self, tag: &Tag<'_>) -> bool {
        match self {
            // Most class attributes hold one class: compared whole before any split.
            Condition::Class(class) => tag.raw("class").is_some_and(|v| {
                short_eq(v.as_bytes(), class.as_bytes())
                    || (v.len() > class.len()
                        && v.as_bytes()
                            .split(|b| is_space(char::from(*b)))
                            .any(|c| short_eq(c, class.as_bytes())))
            }),
            Condition::Id(id) => tag.raw("id") == Some(id.as_str()),
            Condition::Attr { name, test, case } => {
                let Some(actual) = tag.raw(name) else {
                    return false;
                };
                let Some((operator, value)) = test else {
                    return true;
                };
                let ignore_case = match case {
                    ValueCase::Sensitive => false,
                    ValueCase::Insensitive => true,
                    ValueCase::InsensitiveOnHtml => tag.namespace == Namespace::Html,
                };
                let eq = |a: &str, b: &str| {
                    if ignore_case {
                        a.eq_ignore_ascii_case(b)
                    } else {
                        a == b
                    }
                };
                let (actual, value) = (actual.as_bytes(), value.as_str());
                let part = |range: std::ops::Range<usize>| {
                    actual
                        .get(range)
                        .and_then(|p| std::str::from_utf8(p).ok())
                        .is_some_and(|p| eq(p, value))
                };
                let n = value.len();
                match operator {
                    Operator::Equals => part(0..actual.len()),
                    // An empty value matches nothing with these operators.
                    Operator::Includes if n == 0 => false,
                    Operator::Includes => actual
                        .split(|b| is_space(char::from(*b)))
                        .any(|p| std::str::from_utf8(p).is_ok_and(|p| eq(p, value))),
                    Operator::Prefix => n > 0 && part(0..n),
                    Operator::Suffix => {
                        n > 0 && actual.len() >= n && part(actual.len() - n..actual.len())
                    }
                    Operator::Substring => {
                        n > 0 && actual.len() >= n && (0..=actual.len() - n).any(|i| part(i..i + n))
                    }
                    Operator::DashMatch => {
                        part(0..actual.len()) || (actual.get(n) == Some(&b'-') && part(0..n))
                    }
                }
            }
        }
    }
}

/// Whether two names (of tags or classes) are the same. Names are short: comparing
/// bytes in line beats a call to memcmp.
pub(crate) fn short_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// CSS whitespace.
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0C')
}

/// The selector text still to parse.
struct Input<'s> {
    rest: &'s str,
}

impl<'s> Input<'s> {
    fn skip_space(&mut self) -> bool {
        let trimmed = self.rest.trim_start_matches(is_space);
        let skipped = trimmed.len() < self.rest.len();
        self.rest = trimmed;
        skipped
    }

    fn eat(&mut self, prefix: &str) -> bool {
        match self.rest.strip_prefix(prefix) {
            Some(rest) => {
                self.rest = rest;
                true
            }
            None => false,
        }
    }

    fn expect(&mut self, prefix: &str) -> Option<()> {
        self.eat(prefix).then_some(())
    }

    /// Compounds joined by combinators, up to a `,` or the end.
    fn complex(&mut self) -> Option<Complex> {
        let mut compounds = vec![self.compound()?];
        let mut combinators = Vec::new();
        loop {
            let spaced = self.skip_space();
            if self.eat(">") {
                self.skip_space();
                combinators.push(Combinator::Child);
            } else if spaced && !self.rest.is_empty() && !self.rest.starts_with(',') {
                combinators.push(Combinator::Descendant);
            } else {
                break;
            }
            compounds.push(self.compound()?);
        }
        // From the subject leftwards, each compound with the combinator on its left (the
        // leftmost has none: a placeholder).
        combinators.insert(0, Combinator::Descendant);
        let parts = compounds
            .into_iter()
            .rev()
            .zip(combinators.into_iter().rev())
            .collect();
        Some(Complex { parts })
    }

    fn compound(&mut self) -> Option<Compound> {
        let star = self.eat("*");
        let name = if star {
            None
        } else {
            self.ident().map(str::to_ascii_lowercase)
        };
        let mut conditions = Vec::new();
        loop {
            if self.eat(".") {
                conditions.push(Condition::Class(self.ident()?.to_owned()));
            } else if self.eat("#") {
                conditions.push(Condition::Id(self.name_chars()?.to_owned()));
            } else if self.eat("[") {
                conditions.push(self.attribute()?);
            } else {
                break;
            }
        }
        if !star && name.is_none() && conditions.is_empty() {
            return None;
        }
        Some(Compound { name, conditions })
    }

    /// `[name]` or `[name op value flag]`, after the `[`.
    fn attribute(&mut self) -> Option<Condition> {
        self.skip_space();
        let name = self.ident()?.to_ascii_lowercase();
        self.skip_space();
        if self.eat("]") {
            return Some(Condition::Attr {
                name,
                test: None,
                case: ValueCase::Sensitive,
            });
        }
        let operator = [
            ("=", Operator::Equals),
            ("~=", Operator::Includes),
            ("^=", Operator::Prefix),
            ("$=", Operator::Suffix),
            ("*=", Operator::Substring),
            ("|=", Operator::DashMatch),
        ]
        .into_iter()
        .find_map(|(token, op)| self.eat(token).then_some(op))?;
        self.skip_space();
        let value = match self.rest.chars().next()? {
            quote @ ('"' | '\'') => {
                let body = &self.rest[1..];
                let end = body.find(quote)?;
                let value = &body[..end];
                if value.contains(['\\', '\n']) {
                    return None;
                }
                self.rest = &body[end + 1..];
                value
            }
            _ => self.ident()?,
        }
        .to_owned();
        let spaced = self.skip_space();
        let case = if spaced && (self.eat("i") || self.eat("I")) {
            ValueCase::Insensitive
        } else if spaced && (self.eat("s") || self.eat("S")) {
            ValueCase::Sensitive
        } else if CASE_INSENSITIVE_ATTRIBUTES.contains(&name.as_str()) {
            ValueCase::InsensitiveOnHtml
        } else {
            ValueCase::Sensitive
        };
        self.skip_space();
        self.expect("]")?;
        Some(Condition::Attr {
            name,
            test: Some((operator, value)),
            case,
        })
    }

    /// A CSS identifier without escapes.
    fn ident(&mut self) -> Option<&'s str> {
        let body = self.rest.strip_prefix("--").or(self.rest.strip_prefix('-'));
        let first = body.unwrap_or(self.rest).chars().next()?;
        let starts = first.is_ascii_alphabetic() || first == '_' || !first.is_ascii();
        if !starts && !self.rest.starts_with("--") {
            return None;
        }
        self.name_chars()
    }

    /// One or more name characters (letters, digits, `-`, `_`, non-ASCII).
    fn name_chars(&mut self) -> Option<&'s str> {
        let len = self
            .rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || !c.is_ascii()))
            .unwrap_or(self.rest.len());
        if len == 0 || self.rest[len..].starts_with('\\') {
            return None;
        }
        let (name, rest) = self.rest.split_at(len);
        self.rest = rest;
        Some(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_subset_and_declines_the_rest() {
        for supported in [
            "h1",
            "*",
            "div.item > a.tag",
            "ul  li.tag , #main>b",
            "[data-v]",
            "a[href^='/x' i][rel~=next]",
            "-x-y, _z, --w",
        ] {
            assert!(FastSelector::parse(supported).is_some(), "{supported}");
        }
        for declined in [
            "li:nth-child(2)",
            "p:not(.a)",
            "svg|a",
            "*|a",
            ".\\31 x",
            "a /* c */ b",
            "a + b",
            "a ~ b",
            "[a='x\\'y']",
        ] {
            assert!(FastSelector::parse(declined).is_none(), "{declined}");
        }
    }

    #[test]
    fn combinators_are_stored_from_the_subject_leftwards() {
        let list = FastSelector::parse("a > b c").unwrap();
        let combinators: Vec<_> = list.alternatives[0].parts.iter().map(|p| p.1).collect();
        assert_eq!(
            combinators[..2],
            [Combinator::Descendant, Combinator::Child]
        );
    }
}
