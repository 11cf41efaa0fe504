//! The CSS selectors that the fast pass evaluates itself: type and universal selectors,
//! classes, ids, attribute selectors (`[a]`, `[a=v]`, `[a~=v]`, `[a^=v]`, `[a$=v]`,
//! `[a*=v]`, `[a|=v]`, with an optional `i` or `s` flag), `:first-child`,
//! `:first-of-type`, `:nth-child(an+b)`, `:nth-of-type(an+b)` and `:not(...)` of these,
//! the descendant and child combinators, and lists. [`FastSelector::parse`] returns
//! `None` for anything else (namespaces, escapes, comments), which lol_html then
//! evaluates.
//!
//! Matching follows lol_html's, which the differential tests in `html` check: attribute
//! values are compared as written (character references not decoded), type and
//! attribute names ignore case, classes and ids do not, and a value of the HTML
//! attributes that selectors treat as case-insensitive (`type`, `lang`, ...) ignores
//! ASCII case on an HTML element (not on one of SVG or MathML) unless the selector says
//! `s`. `:not(...)` negates each simple selector inside it on its own, as lol_html does
//! (`:not(a.b)` is neither `a` nor `.b`).

use memchr::memmem::Finder;

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
    /// Searchers for the text that a page must hold for the selector to match there
    /// (see [`Compound::required_text`]).
    required: Vec<Finder<'static>>,
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
    /// Each with whether a `:not` negates it (an odd number of them).
    conditions: Vec<(Condition, bool)>,
}

#[derive(Debug)]
enum Condition {
    /// A type inside `:not` (lower case); a compound's own type is [`Compound::name`].
    Type(String),
    Class(String),
    Id(String),
    /// `:nth-child` (`:first-child`), or `:nth-of-type` (`:first-of-type`).
    Nth {
        of_type: bool,
        nth: Nth,
    },
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

/// The `an+b` of `:nth-child`: the positions `a × n + b` for n = 0, 1, 2, ...
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Nth {
    step: i32,
    offset: i32,
}

impl Nth {
    /// Whether position `index` (from 1) is one of them: lol_html's arithmetic.
    #[inline(never)]
    fn has_index(self, index: i32) -> bool {
        let offsetted = index.wrapping_sub(self.offset);
        if self.step == 0 {
            offsetted == 0
        } else if (offsetted < 0 && self.step > 0) || (offsetted > 0 && self.step < 0) {
            false
        } else {
            offsetted.wrapping_rem(self.step) == 0
        }
    }

    /// Parses `an+b` (`odd`, `even`, `3`, `-n+2`, `2n + 1`, ...), with spaces only
    /// around the sign of `b`, where CSS allows them; `None` for anything else.
    fn parse(text: &str) -> Option<Nth> {
        let text = text.to_ascii_lowercase();
        match text.as_str() {
            "odd" => return Some(Nth { step: 2, offset: 1 }),
            "even" => return Some(Nth { step: 2, offset: 0 }),
            _ => {}
        }
        let integer = |digits: &str, negative: bool| -> Option<i32> {
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let value: i32 = digits.parse().ok()?;
            Some(if negative { -value } else { value })
        };
        let (negative, unsigned) = match text.as_bytes().first()? {
            b'-' => (true, &text[1..]),
            b'+' => (false, &text[1..]),
            _ => (false, text.as_str()),
        };
        let Some((a, b)) = unsigned.split_once('n') else {
            return Some(Nth {
                step: 0,
                offset: integer(unsigned, negative)?,
            });
        };
        let step = if a.is_empty() {
            if negative {
                -1
            } else {
                1
            }
        } else {
            integer(a, negative)?
        };
        let b = b.trim_start_matches(is_space);
        let offset = match b.as_bytes().first() {
            None => 0,
            Some(b'+') => integer(b[1..].trim_start_matches(is_space), false)?,
            Some(b'-') => integer(b[1..].trim_start_matches(is_space), true)?,
            Some(_) => return None,
        };
        Some(Nth { step, offset })
    }
}

/// Where an element stands among its siblings, from 1: what `:nth-child` and
/// `:nth-of-type` test.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Position {
    /// Among all its parent's children so far.
    pub index: i32,
    /// Among its parent's children of its name so far (0 unless some compound of the
    /// matcher uses `:nth-of-type`, see [`Compound::counts_types`]).
    pub index_of_type: i32,
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
    /// Whether `page` may hold an element that the selector matches: no when each
    /// selector of the list needs a text (a class, an id, an attribute's value, as
    /// written) that the page lacks, which the matcher would only learn at the page's
    /// end. A search reads the page up to what it finds, or all of it; `budget` is how
    /// many more bytes searches may read, and once it is spent the answer is yes.
    pub(crate) fn may_match(&self, page: &[u8], budget: &mut usize) -> bool {
        self.alternatives.iter().any(|complex| {
            complex.required.iter().all(|finder| {
                if *budget == 0 {
                    return true;
                }
                let found = finder.find(page);
                let read = found.map_or(page.len(), |at| at + finder.needle().len());
                *budget = budget.saturating_sub(read.max(1));
                found.is_some()
            })
        })
    }

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

    /// Whether the element of `tag`, at `position`, whose type the caller has already
    /// checked against [`Compound::name`], matches the rest of this compound.
    pub(crate) fn matches_conditions(&self, tag: &Tag<'_>, position: Position) -> bool {
        self.conditions
            .iter()
            .all(|(condition, negated)| condition.matches(tag, position) != *negated)
    }

    /// Texts that the start tag of an element matching this compound holds as written:
    /// its classes, its id, and the values its attributes are compared with as written
    /// (each operator finds the value in the attribute's, and both this matcher and
    /// lol_html compare attributes as written, character references and all). Tests
    /// that ignore case, and those under `:not`, require nothing.
    fn required_text(&self) -> impl Iterator<Item = &str> {
        self.conditions
            .iter()
            .filter_map(|(condition, negated)| match condition {
                _ if *negated => None,
                Condition::Class(text) | Condition::Id(text) => Some(text.as_str()),
                Condition::Attr {
                    test: Some((_, value)),
                    case: ValueCase::Sensitive,
                    ..
                } => Some(value.as_str()),
                _ => None,
            })
            .filter(|text| !text.is_empty())
    }

    /// Whether the compound tests an element's position among the siblings of its name
    /// (`:nth-of-type`), which costs the matcher a count per name and level.
    pub(crate) fn counts_types(&self) -> bool {
        self.conditions
            .iter()
            .any(|(condition, _)| matches!(condition, Condition::Nth { of_type: true, .. }))
    }
}

impl Condition {
    fn matches(&self, tag: &Tag<'_>, position: Position) -> bool {
        match self {
            Condition::Type(name) => short_eq(tag.lower(), name.as_bytes()),
            Condition::Nth { of_type, nth } => nth.has_index(if *of_type {
                position.index_of_type
            } else {
                position.index
            }),
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
                // Bytes, not strings: a value is UTF-8, so any run of bytes equal to it
                // (ignoring ASCII case or not) starts and ends at character boundaries,
                // and validating the run first, as `str` would need, only cost time (18k
                // instructions a record for a rule testing each link's `href`, measured).
                let (actual, value) = (actual.as_bytes(), value.as_bytes());
                let eq = |p: &[u8]| {
                    if ignore_case {
                        p.eq_ignore_ascii_case(value)
                    } else {
                        short_eq(p, value)
                    }
                };
                let part = |range: std::ops::Range<usize>| actual.get(range).is_some_and(eq);
                let n = value.len();
                match operator {
                    Operator::Equals => eq(actual),
                    // An empty value matches nothing with these operators.
                    Operator::Includes if n == 0 => false,
                    Operator::Includes => actual.split(|b| is_space(char::from(*b))).any(eq),
                    Operator::Prefix => n > 0 && part(0..n),
                    Operator::Suffix => {
                        n > 0 && actual.len() >= n && part(actual.len() - n..actual.len())
                    }
                    Operator::Substring if n == 0 => false,
                    Operator::Substring if ignore_case => actual.windows(n).any(eq),
                    Operator::Substring => memchr::memmem::find(actual, value).is_some(),
                    Operator::DashMatch => {
                        eq(actual) || (actual.get(n) == Some(&b'-') && part(0..n))
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
        let parts: Vec<(Compound, Combinator)> = compounds
            .into_iter()
            .rev()
            .zip(combinators.into_iter().rev())
            .collect();
        let required = parts
            .iter()
            .flat_map(|(compound, _)| compound.required_text())
            .map(|text| Finder::new(text).into_owned())
            .collect();
        Some(Complex { parts, required })
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
                conditions.push((Condition::Class(self.ident()?.to_owned()), false));
            } else if self.eat("#") {
                conditions.push((Condition::Id(self.name_chars()?.to_owned()), false));
            } else if self.eat("[") {
                conditions.push((self.attribute()?, false));
            } else if self.eat(":") {
                self.pseudo_class(&mut conditions)?;
            } else {
                break;
            }
        }
        if !star && name.is_none() && conditions.is_empty() {
            return None;
        }
        Some(Compound { name, conditions })
    }

    /// A pseudo-class after its `:`, added to `conditions`.
    fn pseudo_class(&mut self, conditions: &mut Vec<(Condition, bool)>) -> Option<()> {
        let name = self.ident()?.to_ascii_lowercase();
        let nth = |of_type, step, offset| {
            let nth = Nth { step, offset };
            (Condition::Nth { of_type, nth }, false)
        };
        match name.as_str() {
            "first-child" => conditions.push(nth(false, 0, 1)),
            "first-of-type" => conditions.push(nth(true, 0, 1)),
            "nth-child" | "nth-of-type" => {
                self.expect("(")?;
                let (argument, rest) = self.rest.split_once(')')?;
                self.rest = rest;
                let nth = Nth::parse(argument.trim_matches(is_space))?;
                let of_type = name == "nth-of-type";
                conditions.push((Condition::Nth { of_type, nth }, false));
            }
            "not" => {
                // Every simple selector of every compound inside, negated on its own.
                self.expect("(")?;
                loop {
                    self.skip_space();
                    let compound = self.compound()?;
                    if compound.name.is_none() && compound.conditions.is_empty() {
                        return None; // `:not(*)`
                    }
                    let name = compound.name.map(|name| (Condition::Type(name), false));
                    let simple = name.into_iter().chain(compound.conditions);
                    conditions.extend(simple.map(|(c, negated)| (c, !negated)));
                    self.skip_space();
                    if self.eat(")") {
                        break;
                    }
                    self.expect(",")?;
                }
            }
            _ => return None,
        }
        Some(())
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
            "li:nth-child(2)",
            "tr:NTH-CHILD( -n+3 ) td:nth-of-type(odd)",
            "p:not(.a):first-child",
            "p:not(.a, div[x]):not(:first-of-type)",
        ] {
            assert!(FastSelector::parse(supported).is_some(), "{supported}");
        }
        for declined in [
            "li:nth-child(2 n)",
            "li:nth-last-child(2)",
            "p:not(*)",
            "a::before",
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
    fn nth_parses_an_plus_b_and_tests_positions_as_lol_html_does() {
        let positions = |text: &str| {
            let nth = Nth::parse(text).unwrap_or_else(|| panic!("{text}"));
            (1..=7).filter(|&i| nth.has_index(i)).collect::<Vec<_>>()
        };
        assert_eq!(positions("odd"), [1, 3, 5, 7]);
        assert_eq!(positions("EVEN"), [2, 4, 6]);
        assert_eq!(positions("3"), [3]);
        assert_eq!(positions("+3"), [3]);
        assert_eq!(positions("-3"), Vec::<i32>::new());
        assert_eq!(positions("n"), [1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(positions("-n+3"), [1, 2, 3]);
        assert_eq!(positions("2n-1"), [1, 3, 5, 7]);
        assert_eq!(positions("3n+2"), [2, 5]);
        assert_eq!(positions("-2n+5"), [1, 3, 5]);
        assert_eq!(positions("0n+4"), [4]);
        assert_eq!(positions("2n + 1"), [1, 3, 5, 7]);
        assert_eq!(positions("-n- 1"), Vec::<i32>::new());
        for declined in [
            "",
            "n+",
            "2n+-1",
            "2 n",
            "- n",
            "x",
            "2n+1x",
            "2n + - 1",
            "99999999999",
        ] {
            assert_eq!(Nth::parse(declined), None, "{declined}");
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

    #[test]
    fn a_selector_requires_its_classes_ids_and_values_as_written() {
        let required = |selector: &str| -> Vec<Vec<String>> {
            FastSelector::parse(selector)
                .unwrap()
                .alternatives
                .iter()
                .map(|complex| {
                    let needles = complex.required.iter().map(Finder::needle);
                    needles.map(|n| String::from_utf8_lossy(n).into()).collect()
                })
                .collect()
        };
        assert_eq!(required("div.item > a.tag"), [["tag", "item"]]);
        assert_eq!(required("#main .price, b"), [vec!["price", "main"], vec![]]);
        assert_eq!(
            required("[data-x=one][href^='/p'][x$=z][y*=m][z~=w][w|=en][v]"),
            [["one", "/p", "z", "m", "w", "en"]]
        );
        // Case-insensitive tests, negations, positions and types need nothing.
        assert_eq!(
            required("[data-x=One i][type=text]:not(.old):nth-child(2) p"),
            [Vec::<String>::new()]
        );
        assert_eq!(required("[x=''][y^='']"), [Vec::<String>::new()]);
    }

    #[test]
    fn a_page_without_a_required_text_may_not_match_until_the_budget_is_spent() {
        let page = b"<div class=item><a class=tag href=/p>x</a></div>";
        let may_match = |selector: &str, budget: usize| {
            let mut budget = budget;
            let answer = FastSelector::parse(selector)
                .unwrap()
                .may_match(page, &mut budget);
            (answer, budget)
        };
        let unlimited = usize::MAX;
        assert!(may_match("div.item > a.tag", unlimited).0);
        assert!(!may_match("a.sold-out", unlimited).0);
        // One selector of the list is enough.
        assert!(may_match("a.sold-out, a[href='/p']", unlimited).0);
        assert!(!may_match("a.sold-out, #none", unlimited).0);
        // A search that finds nothing reads the whole page; with no budget left, the
        // answer is "maybe".
        assert_eq!(may_match("a.sold-out", 1000), (false, 1000 - page.len()));
        assert_eq!(may_match("a.sold-out", 0), (true, 0));
        assert!(may_match("a.sold-out, #none", page.len()).0);
    }
}
