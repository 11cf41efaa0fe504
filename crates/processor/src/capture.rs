//! CSS rule values: what a rule keeps from the elements it matches ([`Capture`]), and
//! [`RuleMatcher`], which evaluates the rules whose selectors the fast pass supports
//! (see `select`) during the [`tokenize`](crate::scan::tokenize) pass.
//!
//! The matcher keeps a stack of open elements the way lol_html does (the results must be
//! the same): a start tag pushes its element unless it is void; an end tag pops up to
//! the nearest open element of its name, and is ignored when there is none. Nothing is
//! closed implicitly, except that a rule's match of `li`, `p` and friends ends the
//! rule's open value of the same name ([`IMPLIED_END`]). The text of a match is the
//! text seen while its element is open, raw text included.

use std::borrow::Cow;

use serde_json::Value;

use crate::rules::{CssRule, MAX_ALL_VALUES};
use crate::scan::{Tag, TextKind, Visitor};
use crate::select::{Combinator, FastSelector};
use crate::text::{decode_entities, Collapser};

/// Elements whose start tag ends a rule's open value of the same name, as the HTML
/// parser does for unclosed `<li>`, `<p>` and friends.
pub(crate) const IMPLIED_END: [&str; 8] = ["li", "p", "dt", "dd", "option", "tr", "td", "th"];

/// Whether an element of this lower-case name has no content (lol_html's list): it
/// is never pushed on the stack.
fn is_void(name: &[u8]) -> bool {
    matches!(
        name,
        b"area"
            | b"base"
            | b"basefont"
            | b"bgsound"
            | b"br"
            | b"col"
            | b"embed"
            | b"hr"
            | b"img"
            | b"input"
            | b"keygen"
            | b"link"
            | b"meta"
            | b"param"
            | b"source"
            | b"track"
            | b"wbr"
    )
}

/// The values one CSS rule gathers from a page.
#[derive(Debug)]
pub(crate) struct Capture {
    values: Vec<Collapser>,
    /// An `all` rule matched more than [`MAX_ALL_VALUES`] times.
    truncated: bool,
    all: bool,
    max_text: usize,
}

impl Capture {
    /// An empty capture for `rule`; `max_text` caps each value, in bytes.
    pub(crate) fn new(rule: &CssRule, max_text: usize) -> Self {
        Capture {
            values: Vec::new(),
            truncated: false,
            all: rule.all,
            max_text,
        }
    }

    /// Whether nothing on the rest of the page can change the value: a rule without
    /// `all` that has its value.
    fn is_settled(&self) -> bool {
        !self.all && !self.values.is_empty()
    }

    /// Whether the rule has every value it may keep (one, or [`MAX_ALL_VALUES`] for
    /// `all`); a further match of an `all` rule marks the list as cut.
    pub(crate) fn is_full(&mut self) -> bool {
        let limit = if self.all { MAX_ALL_VALUES } else { 1 };
        let full = self.values.len() >= limit;
        self.truncated |= full && self.all;
        full
    }

    /// Starts a value with `text` (an attribute value as written, or nothing for an
    /// element's text) and returns its index.
    pub(crate) fn begin(&mut self, text: &str) -> usize {
        let mut value = Collapser::new(self.max_text);
        if !text.is_empty() {
            value.push(&decode_entities(text));
        }
        self.values.push(value);
        self.values.len() - 1
    }

    /// Appends text to the value at `index`.
    pub(crate) fn extend(&mut self, index: usize, text: &str) {
        self.values[index].push(text);
    }

    /// The rule's value (the first, or the list for `all`; null without a match) and
    /// whether the list was cut.
    pub(crate) fn finish(self) -> (Value, bool) {
        let mut values = self.values.into_iter().map(|v| Value::String(v.finish().0));
        let value = if self.all {
            let list: Vec<Value> = values.collect();
            if list.is_empty() {
                Value::Null
            } else {
                Value::Array(list)
            }
        } else {
            values.next().unwrap_or(Value::Null)
        };
        (value, self.truncated)
    }
}

/// A [`Visitor`] that evaluates CSS rules with fast selectors.
pub(crate) struct RuleMatcher<'r, 'a> {
    rules: Vec<FastRule<'r, 'a>>,
    /// Every compound of every rule, so an open element can remember which it matched,
    /// with the position of its rule.
    compounds: Vec<(&'r crate::select::Compound, usize)>,
    /// Words of a compound bitset.
    stride: usize,
    /// Names of the open elements, outermost first.
    stack: Vec<&'a str>,
    /// `stride` words per open element: the compounds it matched.
    matched: Vec<u64>,
    /// The compounds the current start tag matched.
    current: Vec<u64>,
    /// Every rule has its final value: the rest of the page is skipped.
    settled: bool,
}

/// One rule and its state during the pass.
struct FastRule<'r, 'a> {
    /// Position among all the job's rules.
    index: usize,
    rule: &'r CssRule,
    /// Per selector of the list: (compound index, combinator to its left), subject first.
    alternatives: Vec<Vec<(usize, Combinator)>>,
    capture: Capture,
    /// Values still taking text: (value index, stack depth of the element, its name).
    open: Vec<(usize, usize, &'a str)>,
}

impl FastRule<'_, '_> {
    /// Whether the rule's value is final: settled, and no longer taking text.
    fn is_settled(&self) -> bool {
        self.capture.is_settled() && self.open.is_empty()
    }
}

impl<'r, 'a> RuleMatcher<'r, 'a> {
    /// A matcher for `rules`: (position among all rules, rule, its fast selector).
    pub(crate) fn new(rules: &[(usize, &'r CssRule, &'r FastSelector)], max_text: usize) -> Self {
        let mut compounds = Vec::new();
        let rules = rules
            .iter()
            .enumerate()
            .map(|(position, &(index, rule, selector))| FastRule {
                index,
                rule,
                alternatives: selector
                    .alternatives
                    .iter()
                    .map(|complex| {
                        complex
                            .parts
                            .iter()
                            .map(|(compound, combinator)| {
                                compounds.push((compound, position));
                                (compounds.len() - 1, *combinator)
                            })
                            .collect()
                    })
                    .collect(),
                capture: Capture::new(rule, max_text),
                open: Vec::new(),
            })
            .collect();
        let stride = compounds.len().div_ceil(64);
        RuleMatcher {
            rules,
            compounds,
            stride,
            stack: Vec::new(),
            matched: Vec::new(),
            current: vec![0; stride],
            settled: false,
        }
    }

    /// The rules' values: (position among all rules, value, whether the list was cut).
    pub(crate) fn finish(self) -> Vec<(usize, Value, bool)> {
        self.rules
            .into_iter()
            .map(|r| {
                let (value, truncated) = r.capture.finish();
                (r.index, value, truncated)
            })
            .collect()
    }

    /// Whether the open element at `depth` matched compound `compound`.
    fn open_matched(&self, depth: usize, compound: usize) -> bool {
        self.matched[depth * self.stride + compound / 64] & (1 << (compound % 64)) != 0
    }

    /// Whether `parts[k..]` match among the open elements below `depth`, given that
    /// `parts[k - 1]` matched at `depth` (or the current element when `depth` is the
    /// stack's length).
    fn ancestors_match(&self, parts: &[(usize, Combinator)], k: usize, depth: usize) -> bool {
        let Some(&(compound, _)) = parts.get(k) else {
            return true;
        };
        match parts[k - 1].1 {
            Combinator::Child => {
                depth > 0
                    && self.open_matched(depth - 1, compound)
                    && self.ancestors_match(parts, k + 1, depth - 1)
            }
            Combinator::Descendant => (0..depth)
                .rev()
                .any(|d| self.open_matched(d, compound) && self.ancestors_match(parts, k + 1, d)),
        }
    }
}

impl<'a> Visitor<'a> for RuleMatcher<'_, 'a> {
    fn start_tag(&mut self, tag: &Tag<'a>) {
        if self.settled {
            return;
        }
        for (k, (compound, rule)) in self.compounds.iter().enumerate() {
            let bit = 1 << (k % 64);
            // A settled rule's compounds are not looked at again.
            if !self.rules[*rule].is_settled() && compound.matches(tag) {
                self.current[k / 64] |= bit;
            } else {
                self.current[k / 64] &= !bit;
            }
        }
        let name = tag.name();
        let void = is_void(tag.lower());
        let depth = self.stack.len();
        let any_compound = self.current.iter().any(|word| *word != 0);
        for r in (0..self.rules.len()).filter(|_| any_compound) {
            let rule = &self.rules[r];
            let hit = rule.alternatives.iter().any(|parts| {
                let subject = parts[0].0;
                self.current[subject / 64] & (1 << (subject % 64)) != 0
                    && self.ancestors_match(parts, 1, depth)
            });
            if !hit {
                continue;
            }
            let rule = &mut self.rules[r];
            if rule.rule.attr.is_none() && IMPLIED_END.iter().any(|e| tag.lower() == e.as_bytes()) {
                rule.open
                    .retain(|(_, _, open)| !open.eq_ignore_ascii_case(name));
            }
            if rule.capture.is_full() {
                continue;
            }
            match &rule.rule.attr {
                Some(attr) => {
                    if let Some(value) = tag.raw(attr) {
                        rule.capture.begin(value);
                    }
                }
                None => {
                    let value = rule.capture.begin("");
                    if !void {
                        rule.open.push((value, depth, name));
                    }
                }
            }
        }
        if !void {
            self.stack.push(name);
            self.matched.extend_from_slice(&self.current);
        }
        self.settled = self.rules.iter().all(FastRule::is_settled);
    }

    fn end_tag(&mut self, name: &'a str) {
        if self.settled {
            return;
        }
        let Some(depth) = self
            .stack
            .iter()
            .rposition(|open| open.eq_ignore_ascii_case(name))
        else {
            return;
        };
        self.stack.truncate(depth);
        self.matched.truncate(depth * self.stride);
        for rule in self.rules.iter_mut().filter(|r| !r.open.is_empty()) {
            rule.open.retain(|(_, d, _)| *d < depth);
        }
        self.settled = self.rules.iter().all(FastRule::is_settled);
    }

    fn text(&mut self, text: &'a str, kind: TextKind) {
        if self.settled {
            return;
        }
        let mut decoded: Option<Cow<'a, str>> = None;
        for rule in &mut self.rules {
            if rule.open.is_empty() {
                continue;
            }
            let text = decoded.get_or_insert_with(|| match kind {
                TextKind::Data => decode_entities(text),
                TextKind::Raw => Cow::Borrowed(text),
            });
            for (value, _, _) in &rule.open {
                rule.capture.extend(*value, text);
            }
        }
    }
}
