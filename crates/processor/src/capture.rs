//! CSS rule values: what a rule keeps from the elements it matches ([`Capture`]), and
//! [`RuleMatcher`], which evaluates the rules whose selectors the fast pass supports
//! (see `select`) during the [`tokenize`](crate::scan::tokenize) pass.
//!
//! The matcher keeps a stack of open elements the way lol_html does (the results must be
//! the same): a start tag pushes its element unless it is void (in SVG and MathML
//! content: unless it is self-closing); an end tag pops up to
//! the nearest open element of its name, and is ignored when there is none. Nothing is
//! closed implicitly, except that a rule's match of `li`, `p` and friends ends the
//! rule's open value of the same name ([`ends_implied`]). The text of a match is the
//! text seen while its element is open, raw text included, with a word break where a
//! block element inside it starts or ends (as in the visible text). Which compounds an
//! element matched is one word per open element, so a matcher takes at most
//! [`MAX_COMPOUNDS`] compounds; `html` leaves the rules beyond that to lol_html.
//!
//! Hostile pages must cost time in proportion to their size: the stack holds at most
//! [`MAX_OPEN_ELEMENTS`] (past that the matcher gives up, and lol_html, measured linear
//! on such pages, takes the rules), so an end tag looks at that many elements at most;
//! and a selector's ancestors are searched the way browsers do, giving up as soon
//! as no higher ancestor can help ([`Ancestors`]).

use std::borrow::Cow;

use serde_json::Value;

use crate::rules::{CssRule, MAX_ALL_BYTES, MAX_ALL_VALUES};
use crate::scan::{Tag, TextKind, Visitor};
use crate::select::{short_eq, Combinator, Compound, FastSelector, Position};
use crate::text::{decode_entities, is_block, Collapser};

/// Whether the start tag of an element of this lower-case name ends a rule's open value
/// of the same name, as the HTML parser does for unclosed `<li>`, `<p>` and friends.
pub(crate) fn ends_implied(name: &[u8]) -> bool {
    matches!(
        name,
        b"li" | b"p" | b"dt" | b"dd" | b"option" | b"tr" | b"td" | b"th"
    )
}

/// The values one CSS rule gathers from a page.
#[derive(Debug)]
pub(crate) struct Capture {
    values: Vec<Collapser>,
    /// An `all` rule matched more than [`MAX_ALL_VALUES`] times, or its values took
    /// all of [`Capture::bytes_left`].
    truncated: bool,
    all: bool,
    max_text: usize,
    /// How many more bytes the values may take together: [`MAX_ALL_BYTES`], or one
    /// value's cap when that is larger.
    bytes_left: usize,
}

impl Capture {
    /// An empty capture for `rule`; `max_text` caps each value, in bytes.
    pub(crate) fn new(rule: &CssRule, max_text: usize) -> Self {
        Capture {
            values: Vec::new(),
            truncated: false,
            all: rule.all,
            max_text,
            bytes_left: MAX_ALL_BYTES.max(max_text),
        }
    }

    /// Whether nothing on the rest of the page can change the value: a rule without
    /// `all` that has its value, or one whose values took all the bytes they may.
    fn is_settled(&self) -> bool {
        (!self.all && !self.values.is_empty()) || self.bytes_left == 0
    }

    /// Whether the rule has every value it may keep (one, or [`MAX_ALL_VALUES`] for
    /// `all`, or as many bytes as they may take); a further match of an `all` rule
    /// marks the list as cut.
    pub(crate) fn is_full(&mut self) -> bool {
        let limit = if self.all { MAX_ALL_VALUES } else { 1 };
        let full = self.values.len() >= limit || self.bytes_left == 0;
        self.truncated |= full && self.all;
        full
    }

    /// Ends the list: the values in progress take no more text, and no value starts;
    /// the list says it was cut.
    pub(crate) fn cut(&mut self) {
        self.spend(self.bytes_left);
    }

    /// Counts `bytes` more taken by the values; false once they have taken all they
    /// may, when the values in progress must stop taking text.
    fn spend(&mut self, bytes: usize) -> bool {
        self.bytes_left = self.bytes_left.saturating_sub(bytes);
        let left = self.bytes_left > 0;
        self.truncated |= !left && self.all;
        left
    }

    /// Starts a value with `text` (an attribute value as written, or nothing for an
    /// element's text) and returns its index.
    pub(crate) fn begin(&mut self, text: &str) -> usize {
        // Room for a short value from the start: one allocation, not the growth path.
        // Analysing the bench page (200 values) with three CSS rules went from 70.2 to
        // 67.2 µs (best of 40 runs of 100 pages, side by side).
        let mut value = Collapser::with_capacity(self.max_text, VALUE_CAPACITY);
        if !text.is_empty() {
            value.push(&decode_entities(text));
        }
        self.spend(value.len());
        self.values.push(value);
        self.values.len() - 1
    }

    /// Appends text to the value at `index`; false once the values have taken all the
    /// bytes they may (see [`Capture::spend`]): the caller then ends the values in
    /// progress.
    #[must_use]
    pub(crate) fn extend(&mut self, index: usize, text: &str) -> bool {
        if self.bytes_left == 0 {
            return false;
        }
        let value = &mut self.values[index];
        let before = value.len();
        value.push(text);
        let added = value.len() - before;
        self.spend(added)
    }

    /// Marks a word break in the value at `index`: a block element inside its element
    /// starts or ends.
    pub(crate) fn separate(&mut self, index: usize) {
        self.values[index].separate();
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

/// Bytes a captured value has room for before it grows: most are a name, a price or
/// a date.
const VALUE_CAPACITY: usize = 32;

/// Most open elements a [`RuleMatcher`] tracks, as browsers cap the depth of the tree
/// they build (Blink: 512); no real page comes near it, while a page of thousands of
/// unclosed elements (`<div>` repeated) would make every end tag search them all.
pub(crate) const MAX_OPEN_ELEMENTS: usize = 512;

/// Most counts of children by name a [`RuleMatcher`] keeps (for `:nth-of-type`): real
/// pages have a few dozen names under a parent, while a page of thousands of distinct
/// names under one would make every start tag search them all. Past it the matcher
/// gives up, and lol_html, which hashes them, takes the rules.
pub(crate) const MAX_TYPE_COUNTS: usize = 1024;

/// A set of compounds of a [`RuleMatcher`], one bit each.
type CompoundSet = u64;

/// Most compounds (simple selector sequences) one [`RuleMatcher`] evaluates: a set of
/// them is one word. Rules beyond that go to lol_html.
pub(crate) const MAX_COMPOUNDS: usize = CompoundSet::BITS as usize;

/// A [`Visitor`] that evaluates CSS rules with fast selectors.
pub(crate) struct RuleMatcher<'r, 'a> {
    rules: Vec<FastRule<'r, 'a>>,
    /// Every compound of every rule, by bit position in a [`CompoundSet`].
    compounds: Vec<&'r Compound>,
    /// The compounds that require a type, by that type (lower case): a start tag is
    /// matched only against those of its name and [`RuleMatcher::any_type`].
    by_type: Vec<(&'r [u8], CompoundSet)>,
    /// The compounds without a type (`*`, `.a`, `[x]`).
    any_type: CompoundSet,
    /// The compounds of the rules whose value is not final yet: the only ones a start
    /// tag is matched against.
    live: CompoundSet,
    /// The subjects of those rules' selectors: an element that matches none of them
    /// starts no value.
    subjects: CompoundSet,
    /// The open elements, outermost first.
    stack: Vec<OpenElement<'a>>,
    /// How many elements the page has started outside any open element.
    top_level_children: i32,
    /// Some compound uses `:nth-of-type`: [`RuleMatcher::types`] is kept.
    counts_types: bool,
    /// How many children of each name the open elements have had so far, as (depth of
    /// the children, a child's name as written, count), by depth: lol_html's typed
    /// child counters.
    types: Vec<(usize, &'a str, i32)>,
    /// Some rule has a value taking text: text runs (most tokens) are looked at only
    /// then.
    capturing: bool,
    /// The page opened more than [`MAX_OPEN_ELEMENTS`] elements: the matcher stopped,
    /// and its rules are left to lol_html.
    gave_up: bool,
}

/// An element on a [`RuleMatcher`]'s stack.
struct OpenElement<'a> {
    /// Its name, as written.
    name: &'a str,
    /// The compounds it matched.
    matched: CompoundSet,
    /// How many children it has had so far.
    children: i32,
    /// A block element that started inside a value taking text: its end breaks the
    /// words of the values still open.
    block: bool,
}

/// One rule and its state during the pass.
struct FastRule<'r, 'a> {
    /// Position among all the job's rules.
    index: usize,
    rule: &'r CssRule,
    /// Per selector of the list: (compound's bit position, combinator to its left),
    /// subject first.
    alternatives: Vec<Vec<(usize, Combinator)>>,
    /// Its compounds.
    compounds: CompoundSet,
    /// The subjects of its selectors: an element that matches none is not selected.
    subjects: CompoundSet,
    capture: Capture,
    /// Values still taking text: (value index, stack depth of the element, its name),
    /// by depth, deepest last: a value starts at the top of the stack, and an end tag
    /// ends the values of the elements it pops, the deepest.
    open: Vec<(usize, usize, &'a str)>,
}

impl FastRule<'_, '_> {
    /// Whether the rule's value is final: settled, and no longer taking text.
    fn is_settled(&self) -> bool {
        self.capture.is_settled() && self.open.is_empty()
    }
}

impl<'r, 'a> RuleMatcher<'r, 'a> {
    /// A matcher for `rules`: (position among all rules, rule, its fast selector), with
    /// at most [`MAX_COMPOUNDS`] compounds in all.
    pub(crate) fn new(rules: &[(usize, &'r CssRule, &'r FastSelector)], max_text: usize) -> Self {
        let mut compounds = Vec::new();
        let rules: Vec<_> = rules
            .iter()
            .map(|&(index, rule, selector)| {
                let first = compounds.len();
                let alternatives: Vec<Vec<(usize, Combinator)>> = selector
                    .alternatives
                    .iter()
                    .map(|complex| {
                        complex
                            .parts
                            .iter()
                            .map(|(compound, combinator)| {
                                compounds.push(compound);
                                (compounds.len() - 1, *combinator)
                            })
                            .collect()
                    })
                    .collect();
                FastRule {
                    index,
                    rule,
                    compounds: (first..compounds.len()).map(bit).fold(0, |set, b| set | b),
                    subjects: alternatives
                        .iter()
                        .map(|parts| bit(parts[0].0))
                        .fold(0, |set, b| set | b),
                    alternatives,
                    capture: Capture::new(rule, max_text),
                    open: Vec::new(),
                }
            })
            .collect();
        assert!(compounds.len() <= MAX_COMPOUNDS, "too many compounds");
        let live = rules.iter().fold(0, |set, rule| set | rule.compounds);
        let subjects = rules.iter().fold(0, |set, rule| set | rule.subjects);
        let mut by_type: Vec<(&[u8], CompoundSet)> = Vec::new();
        let mut any_type = 0;
        for (k, compound) in compounds.iter().enumerate() {
            match compound.name() {
                None => any_type |= bit(k),
                Some(name) => match by_type.iter_mut().find(|(n, _)| *n == name.as_bytes()) {
                    Some((_, set)) => *set |= bit(k),
                    None => by_type.push((name.as_bytes(), bit(k))),
                },
            }
        }
        RuleMatcher {
            rules,
            counts_types: compounds.iter().any(|c| c.counts_types()),
            compounds,
            by_type,
            any_type,
            live,
            subjects,
            stack: Vec::new(),
            top_level_children: 0,
            types: Vec::new(),
            capturing: false,
            gave_up: false,
        }
    }

    /// The rules' values: (position among all rules, value, whether the list was cut);
    /// `None` when the matcher gave up on the page (see [`MAX_OPEN_ELEMENTS`]).
    pub(crate) fn finish(self) -> Option<Vec<(usize, Value, bool)>> {
        if self.gave_up {
            return None;
        }
        let values = self.rules.into_iter().map(|r| {
            let (value, truncated) = r.capture.finish();
            (r.index, value, truncated)
        });
        Some(values.collect())
    }

    /// Stops matching: every rule's value is left to lol_html.
    fn give_up(&mut self) {
        self.gave_up = true;
        self.live = 0;
        self.subjects = 0;
        self.capturing = false;
        self.stack = Vec::new();
        self.types = Vec::new();
    }

    /// The compounds that an element named `name` (lower case) may match: those of its
    /// type and those without one, of the rules whose value is not final yet.
    fn candidates(&self, name: &[u8]) -> CompoundSet {
        let typed = self
            .by_type
            .iter()
            .find(|(type_name, _)| short_eq(type_name, name))
            .map_or(0, |(_, set)| *set);
        (typed | self.any_type) & self.live
    }

    /// Every rule has its final value (or the matcher gave up): the rest of the page
    /// can be skipped.
    pub(crate) fn is_settled(&self) -> bool {
        self.live == 0
    }

    /// Recomputes [`RuleMatcher::live`], [`RuleMatcher::subjects`] and
    /// [`RuleMatcher::capturing`] after a rule matched or one of its values stopped
    /// taking text.
    fn update_state(&mut self) {
        (self.live, self.subjects) = self
            .rules
            .iter()
            .filter(|rule| !rule.is_settled())
            .fold((0, 0), |(live, subjects), rule| {
                (live | rule.compounds, subjects | rule.subjects)
            });
        self.capturing = self.rules.iter().any(|rule| !rule.open.is_empty());
    }

    /// A start tag: the compounds it matches, the values it starts, and its place on
    /// the stack.
    #[inline(never)]
    fn open_element(&mut self, tag: &Tag<'a>) {
        let lower = tag.lower();
        let block = self.capturing && is_block(lower);
        if block {
            self.separate_values();
        }
        let position = self.add_child(tag.name());
        let mut candidates = self.candidates(lower);
        let mut matched = 0;
        while candidates != 0 {
            let k = candidates.trailing_zeros() as usize;
            candidates &= candidates - 1;
            if self.compounds[k].matches_conditions(tag, position) {
                matched |= bit(k);
            }
        }
        let void = !tag.stays_open();
        if matched & self.subjects != 0 {
            self.select(tag, matched, void);
        }
        if !void {
            if self.stack.len() == MAX_OPEN_ELEMENTS {
                self.give_up();
                return;
            }
            self.stack.push(OpenElement {
                name: tag.name(),
                matched,
                children: 0,
                block,
            });
        }
    }

    /// Starts the values of the rules that select the element of `tag`, which matched
    /// the compounds `matched` and is about to be pushed on the stack. In line, as
    /// [`RuleMatcher::end_values`] is: both out of line made the three-rule analysis
    /// 3–4 µs slower (measured).
    #[inline]
    fn select(&mut self, tag: &Tag<'a>, matched: CompoundSet, void: bool) {
        let (lower, name) = (tag.lower(), tag.name());
        let depth = self.stack.len();
        for r in 0..self.rules.len() {
            if !self.selects(r, matched, depth) {
                continue;
            }
            let rule = &mut self.rules[r];
            if rule.rule.attr.is_none() && ends_implied(lower) {
                rule.open.retain(|(_, _, open)| !same_name(open, name));
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
        // Only a selected element can make a rule's value final.
        self.update_state();
    }

    /// An end tag: pops up to the nearest open element of its name, ending the values
    /// taken inside it.
    #[inline(never)]
    fn close_element(&mut self, name: &'a str) {
        let Some(depth) = self
            .stack
            .iter()
            .rposition(|open| same_name(open.name, name))
        else {
            return;
        };
        let block = self.capturing && self.stack[depth..].iter().any(|open| open.block);
        self.stack.truncate(depth);
        while self.types.last().is_some_and(|&(d, _, _)| d > depth) {
            self.types.pop();
        }
        if self.capturing {
            self.end_values(depth);
            if block {
                self.separate_values();
            }
        }
    }

    /// Marks a word break in every value taking text.
    fn separate_values(&mut self) {
        for rule in &mut self.rules {
            for &(value, _, _) in &rule.open {
                rule.capture.separate(value);
            }
        }
    }

    /// Counts a child named `name` (as written) of the element on top of the stack, and
    /// returns where it stands among that element's children.
    fn add_child(&mut self, name: &'a str) -> Position {
        let depth = self.stack.len();
        let children = match self.stack.last_mut() {
            Some(parent) => &mut parent.children,
            None => &mut self.top_level_children,
        };
        *children += 1;
        let mut position = Position {
            index: *children,
            index_of_type: 0,
        };
        if self.counts_types {
            // The counts of this depth are the last ones: deeper ones went with the
            // element whose end tag popped them.
            let full = self.types.len() == MAX_TYPE_COUNTS;
            let same = self
                .types
                .iter_mut()
                .rev()
                .take_while(|(d, _, _)| *d == depth)
                .find(|(_, n, _)| same_name(n, name));
            position.index_of_type = match same {
                Some((_, _, count)) => {
                    *count += 1;
                    *count
                }
                None if full => {
                    self.give_up();
                    1
                }
                None => {
                    self.types.push((depth, name, 1));
                    1
                }
            };
        }
        position
    }

    /// Ends the values taken inside the element that was at `depth` on the stack.
    #[inline]
    fn end_values(&mut self, depth: usize) {
        let mut closed = false;
        for rule in self.rules.iter_mut().filter(|r| !r.open.is_empty()) {
            // The values to end are the last ones (see `open`): popped, which costs
            // 11–17 instructions a value less than `retain` (measured).
            while rule.open.last().is_some_and(|&(_, d, _)| d >= depth) {
                rule.open.pop();
            }
            closed |= rule.open.is_empty();
        }
        if closed {
            self.update_state();
        }
    }

    /// Appends a text run to every value taking text. Out of line, so that the
    /// visitor's `text`, called for every run of the page, inlines as a flag test.
    #[inline(never)]
    fn capture_text(&mut self, text: &'a str, kind: TextKind) {
        let mut decoded: Option<Cow<'a, str>> = None;
        let mut spent = false;
        for rule in &mut self.rules {
            if rule.open.is_empty() {
                continue;
            }
            let text = decoded.get_or_insert_with(|| match kind {
                TextKind::Data => decode_entities(text),
                TextKind::Raw => Cow::Borrowed(text),
            });
            if !rule
                .open
                .iter()
                .all(|&(value, _, _)| rule.capture.extend(value, text))
            {
                // The rule's values took all the bytes they may: the rest of the page
                // adds nothing to them.
                rule.open.clear();
                spent = true;
            }
        }
        if spent {
            self.update_state();
        }
    }

    /// Whether `parts[k..]` match among the open elements below `depth`, given that
    /// `parts[k - 1]` matched at `depth` (or the current element when `depth` is the
    /// stack's length); and when not, whether a higher match of an earlier part could
    /// still help.
    fn ancestors_match(&self, parts: &[(usize, Combinator)], k: usize, depth: usize) -> Ancestors {
        let Some(&(compound, _)) = parts.get(k) else {
            return Ancestors::Match;
        };
        let matched = |d: usize| self.stack[d].matched & bit(compound) != 0;
        match parts[k - 1].1 {
            Combinator::Child if depth == 0 => Ancestors::Never,
            Combinator::Child if !matched(depth - 1) => Ancestors::TryHigher,
            Combinator::Child => self.ancestors_match(parts, k + 1, depth - 1),
            Combinator::Descendant => {
                for d in (0..depth).rev().filter(|&d| matched(d)) {
                    match self.ancestors_match(parts, k + 1, d) {
                        Ancestors::TryHigher => {}
                        found => return found,
                    }
                }
                Ancestors::Never
            }
        }
    }

    /// Whether rule `r` selects an element at `depth` that matched `current`.
    fn selects(&self, r: usize, current: CompoundSet, depth: usize) -> bool {
        let rule = &self.rules[r];
        rule.subjects & current != 0
            && rule.alternatives.iter().any(|parts| {
                current & bit(parts[0].0) != 0
                    && self.ancestors_match(parts, 1, depth) == Ancestors::Match
            })
    }
}

/// How a selector's compounds left of the subject fared among the open elements
/// (Servo's `SelectorMatchingResult`). A descendant combinator tries ever higher
/// ancestors for its compound; [`Ancestors::Never`] stops it, because the search ran out
/// of ancestors, and a higher start has fewer of them. Without that, a selector such as
/// `x div div p` on a page of nested `div`s tried every pair of `div` ancestors per `p`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ancestors {
    /// The rest of the selector matched.
    Match,
    /// Not from here; a higher element for the nearest descendant combinator may do.
    TryHigher,
    /// Not from here, and not from any higher element either.
    Never,
}

/// Whether two tag names, as written, are the same name. A byte loop, in line: the
/// standard library's `eq_ignore_ascii_case` calls out to a loop over chunks, and tag
/// names are a few bytes (17 instructions less per element, measured). Bytes are
/// compared as they are first: a page mostly writes a name the same way each time.
pub(crate) fn same_name(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .all(|(x, y)| x == y || x.eq_ignore_ascii_case(&y))
}

/// The set of compound `k` alone.
fn bit(k: usize) -> CompoundSet {
    1 << k
}

impl<'a> Visitor<'a> for RuleMatcher<'_, 'a> {
    // The tag methods test inline whether any rule is live, and match out of line: a
    // settled matcher (a rule without `all` that has its value, most rules soon) then
    // costs a test per tag instead of a call.
    #[inline(always)]
    fn start_tag(&mut self, tag: &Tag<'a>) {
        if !self.is_settled() {
            self.open_element(tag);
        }
    }

    #[inline(always)]
    fn end_tag(&mut self, name: &'a str) {
        if !self.is_settled() {
            self.close_element(name);
        }
    }

    #[inline]
    fn text(&mut self, text: &'a str, kind: TextKind) {
        if self.capturing {
            self.capture_text(text, kind);
        }
    }

    #[inline]
    fn wants_text(&self) -> bool {
        self.capturing
    }

    /// Every tag's, while a rule is live. Working out by name which compounds read
    /// attributes made the rules bench case slower (74.9 against 71.8 µs, best of
    /// batches side by side), and its page has no attribute to skip for them.
    #[inline(always)]
    fn wants_attributes(&self, _: &[u8]) -> bool {
        !self.is_settled()
    }
}
