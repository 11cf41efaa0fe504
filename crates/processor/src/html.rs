//! What a record takes from an HTML page. The summary (title, description, canonical,
//! lang) and the link targets come from the fast scan of `scan`, which every HTML record
//! pays for; visible text and the job's CSS rules, which need a selector engine, come
//! from one streaming lol_html pass that runs only when they are wanted. Links are
//! resolved after the scan, against the first `<base href>` wherever it appears.
//!
//! lol_html builds no tree, so "the text of an element" is the text seen between its
//! start tag and its end tag. An element closed only implicitly fires no end-tag event:
//! a capture ends when the same rule matches a sibling that implies its end
//! (`<li>a<li>b`), otherwise it may run on into later text.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::LazyLock;

use lol_html::html_content::{Element, EndTag, TextChunk, TextType};
use lol_html::{
    DocumentContentHandlers, ElementContentHandlers, HandlerResult, HtmlRewriter, Selector,
    Settings,
};
use serde_json::Value;
use trawl_core::record::HtmlSummary;
use url::{Position, Url};

use crate::rules::{CompiledRules, CssRule, MAX_ALL_VALUES};
use crate::scan::{scan, ScanWants, Scanned};
use crate::text::{decode_entities, Collapser};

/// Which parts of a page the job wants.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Wants {
    /// Title, description, canonical, lang.
    pub summary: bool,
    /// Absolute links.
    pub links: bool,
    /// Visible text.
    pub text: bool,
}

/// What one pass found.
#[derive(Debug, Default)]
pub(crate) struct Findings {
    /// The summary (with `links` set when wanted), when the summary or links are wanted.
    pub summary: Option<HtmlSummary>,
    /// Visible text and whether the cap cut it, when wanted.
    pub text: Option<(String, bool)>,
    /// For each CSS rule: its position among all rules, its value, and whether an `all`
    /// list was cut at [`MAX_ALL_VALUES`].
    pub css: Vec<(usize, Value, bool)>,
    /// Why the parser stopped early, if it did; what was gathered until then is kept.
    pub error: Option<String>,
}

/// The selectors of the pass, parsed once per process.
struct Builtins {
    template: Selector,
    /// Elements whose start separates words in the visible text.
    blocks: Selector,
}

static BUILTINS: LazyLock<Builtins> = LazyLock::new(|| {
    let parse = |s: &str| s.parse::<Selector>().expect("built-in selectors parse");
    Builtins {
        template: parse("template"),
        blocks: parse(
            "p, div, br, li, dt, dd, tr, td, th, h1, h2, h3, h4, h5, h6, section, article, \
             header, footer, nav, aside, main, blockquote, pre, ul, ol, table, form, hr, option",
        ),
    }
});

/// State the handlers share during one pass.
struct Page {
    text: Collapser,
    captures: Vec<Capture>,
}

/// The values of one CSS rule.
#[derive(Default)]
struct Capture {
    values: Vec<Collapser>,
    /// Values still taking text, with the flag their element's end tag sets and the
    /// element's tag name.
    open: Vec<(usize, Rc<Cell<bool>>, String)>,
    truncated: bool,
}

/// Elements whose start tag ends an open element of the same name, as the HTML parser
/// does for unclosed `<li>`, `<p>` and friends.
const IMPLIED_END: [&str; 8] = ["li", "p", "dt", "dd", "option", "tr", "td", "th"];

/// A flag set when `el`'s end tag is reached; `None` for elements without content.
fn end_flag(
    el: &mut Element<'_, '_>,
) -> Result<Option<Rc<Cell<bool>>>, Box<dyn std::error::Error + Send + Sync>> {
    if !el.can_have_content() {
        return Ok(None);
    }
    let flag = Rc::new(Cell::new(false));
    let set = Rc::clone(&flag);
    el.on_end_tag(Box::new(move |_: &mut EndTag<'_>| {
        set.set(true);
        Ok(())
    }))?;
    Ok(Some(flag))
}

/// A text chunk's text, with character references decoded where HTML decodes them.
fn chunk_text<'a>(chunk: &'a TextChunk<'_>) -> Cow<'a, str> {
    match chunk.text_type() {
        TextType::Data | TextType::RCData => decode_entities(chunk.as_str()),
        _ => Cow::Borrowed(chunk.as_str()),
    }
}

/// Runs the pass over `html`, a page fetched from `page_url`. `max_text` caps the
/// visible text and every captured value, in bytes.
pub(crate) fn analyze(
    html: &str,
    page_url: &Url,
    wants: Wants,
    rules: &CompiledRules,
    max_text: usize,
) -> Findings {
    let builtins = &*BUILTINS;
    let css: Vec<(usize, &CssRule)> = rules.css().collect();
    let summary = (wants.summary || wants.links).then(|| {
        let scanned = scan(
            html,
            ScanWants {
                summary: wants.summary,
                links: wants.links,
            },
            max_text,
        );
        summarize(scanned, page_url, wants.links)
    });
    if !wants.text && css.is_empty() {
        return Findings {
            summary,
            ..Findings::default()
        };
    }

    let cell = RefCell::new(Page {
        text: Collapser::new(max_text),
        captures: css.iter().map(|_| Capture::default()).collect(),
    });
    let page = &cell;

    let mut settings = Settings::new().with_strict(false);
    if wants.text {
        let template_depth = Rc::new(Cell::new(0u32));
        let in_template = Rc::clone(&template_depth);
        settings = settings
            .append_element_content_handler((
                Cow::Borrowed(&builtins.template),
                ElementContentHandlers::default().element(
                    move |el: &mut Element<'_, '_>| -> HandlerResult {
                        if el.can_have_content() {
                            template_depth.set(template_depth.get() + 1);
                            let depth = Rc::clone(&template_depth);
                            el.on_end_tag(Box::new(move |_: &mut EndTag<'_>| {
                                depth.set(depth.get().saturating_sub(1));
                                Ok(())
                            }))?;
                        }
                        Ok(())
                    },
                ),
            ))
            .append_element_content_handler((
                Cow::Borrowed(&builtins.blocks),
                ElementContentHandlers::default().element(
                    move |_: &mut Element<'_, '_>| -> HandlerResult {
                        page.borrow_mut().text.separate();
                        Ok(())
                    },
                ),
            ))
            .append_document_content_handler(DocumentContentHandlers::default().text(
                move |t: &mut TextChunk<'_>| -> HandlerResult {
                    // Script, style and noscript content arrive as other text types.
                    if t.text_type() == TextType::Data && in_template.get() == 0 {
                        page.borrow_mut().text.push(&chunk_text(t));
                    }
                    Ok(())
                },
            ));
    }
    for (k, (_, rule)) in css.iter().enumerate() {
        let limit = if rule.all { MAX_ALL_VALUES } else { 1 };
        let mut handlers = ElementContentHandlers::default().element(
            move |el: &mut Element<'_, '_>| -> HandlerResult {
                let mut p = page.borrow_mut();
                let capture = &mut p.captures[k];
                let tag = if rule.attr.is_none() {
                    el.tag_name()
                } else {
                    String::new()
                };
                if IMPLIED_END.contains(&tag.as_str()) {
                    for (_, closed, open_tag) in &capture.open {
                        if *open_tag == tag {
                            closed.set(true);
                        }
                    }
                }
                if capture.values.len() >= limit {
                    capture.truncated |= rule.all;
                    return Ok(());
                }
                match &rule.attr {
                    Some(name) => {
                        if let Some(value) = el.get_attribute(name) {
                            let mut collapser = Collapser::new(max_text);
                            collapser.push(&decode_entities(&value));
                            capture.values.push(collapser);
                        }
                    }
                    None => {
                        capture.values.push(Collapser::new(max_text));
                        if let Some(flag) = end_flag(el)? {
                            capture.open.push((capture.values.len() - 1, flag, tag));
                        }
                    }
                }
                Ok(())
            },
        );
        if rule.attr.is_none() {
            handlers = handlers.text(move |t: &mut TextChunk<'_>| -> HandlerResult {
                let mut p = page.borrow_mut();
                let Capture { values, open, .. } = &mut p.captures[k];
                open.retain(|(_, closed, _)| !closed.get());
                if !open.is_empty() {
                    let text = chunk_text(t);
                    for (i, _, _) in open.iter() {
                        values[*i].push(&text);
                    }
                }
                Ok(())
            });
        }
        settings =
            settings.append_element_content_handler((Cow::Borrowed(&rule.selector), handlers));
    }

    let mut rewriter = HtmlRewriter::new(settings, |_: &[u8]| {});
    let error = rewriter
        .write(html.as_bytes())
        .and_then(|()| rewriter.end())
        .err()
        .map(|e| e.to_string());
    let page = cell.into_inner();

    let text = wants.text.then(|| page.text.finish());
    let css = css
        .iter()
        .zip(page.captures)
        .map(|((index, rule), capture)| {
            let mut values = capture
                .values
                .into_iter()
                .map(|v| Value::String(v.finish().0));
            let value = if rule.all {
                let list: Vec<Value> = values.collect();
                if list.is_empty() {
                    Value::Null
                } else {
                    Value::Array(list)
                }
            } else {
                values.next().unwrap_or(Value::Null)
            };
            (*index, value, capture.truncated)
        })
        .collect();
    Findings {
        summary,
        text,
        css,
        error,
    }
}

/// The record's summary from what the scan found: canonical and links resolved against
/// the first `<base href>`, else the page's URL.
fn summarize(scanned: Scanned<'_>, page_url: &Url, links: bool) -> HtmlSummary {
    let base = scanned
        .base
        .as_deref()
        .and_then(|b| page_url.join(b.trim()).ok())
        .map_or(Cow::Borrowed(page_url), Cow::Owned);
    HtmlSummary {
        title: scanned.title,
        description: scanned.description,
        canonical: scanned
            .canonical
            .and_then(|c| base.join(c.trim()).ok())
            .map(String::from),
        lang: scanned.lang,
        links: links.then(|| resolve_links(&scanned.hrefs, &base)),
    }
}

/// `hrefs` resolved against `base`: http(s) only, without fragments, deduplicated in
/// first-seen order. Empty and fragment-only hrefs point at the page itself and are
/// skipped.
fn resolve_links(hrefs: &[impl AsRef<str>], base: &Url) -> Vec<String> {
    let origin = &base[..Position::BeforePath];
    let directory = base
        .path()
        .rfind('/')
        .map_or("/", |slash| &base.path()[..=slash]);
    let fast = matches!(base.scheme(), "http" | "https").then_some((origin, directory));
    let mut links: Vec<String> = hrefs
        .iter()
        .filter_map(|href| {
            let href = href
                .as_ref()
                .trim_matches(|c: char| c.is_ascii_whitespace());
            if href.is_empty() || href.starts_with('#') {
                return None;
            }
            if let Some(link) =
                fast.and_then(|(origin, directory)| join_plain(origin, directory, href))
            {
                return Some(link);
            }
            let mut url = base.join(href).ok()?;
            if !matches!(url.scheme(), "http" | "https") {
                return None;
            }
            url.set_fragment(None);
            Some(String::from(url))
        })
        .collect();
    dedup_first_seen(&mut links);
    links
}

/// `href` joined to an http(s) base by concatenation, when that gives exactly what the
/// URL parser would: a path-absolute or bare relative path of characters the parser
/// keeps as they are, without dot segments. `None` means "use the parser". Most links
/// on real pages take this path, which is several times cheaper than parsing.
fn join_plain(origin: &str, directory: &str, href: &str) -> Option<String> {
    let href = href.split_once('#').map_or(href, |(before, _)| before);
    let bytes = href.as_bytes();
    let absolute_path = bytes.first() == Some(&b'/');
    if bytes.is_empty() || bytes.starts_with(b"//") || bytes[0] == b'?' || bytes[0] == b'.' {
        return None;
    }
    let path_end = href.find('?').unwrap_or(href.len());
    if href.contains("/.") || (!absolute_path && href[..path_end].split('/').next()?.contains(':'))
    {
        return None;
    }
    let mut escape = 0;
    for b in bytes {
        if escape > 0 {
            escape -= 1;
            if !b.is_ascii_hexdigit() {
                return None;
            }
            continue;
        }
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => {}
            b'-' | b'.' | b'_' | b'~' | b'!' | b'$' | b'&' | b'(' | b')' | b'*' | b'+' | b','
            | b';' | b'=' | b':' | b'@' | b'/' | b'?' => {}
            b'%' => escape = 2,
            _ => return None,
        }
    }
    if escape > 0 {
        return None;
    }
    let mut link = String::with_capacity(origin.len() + directory.len() + href.len());
    link.push_str(origin);
    if !absolute_path {
        link.push_str(directory);
    }
    link.push_str(href);
    Some(link)
}

/// Removes repeated strings, keeping each one's first occurrence, without hashing or
/// cloning: sort positions by value, mark the later ones of each run.
fn dedup_first_seen(items: &mut Vec<String>) {
    if items.len() < 2 {
        return;
    }
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_unstable_by(|a, b| items[*a].cmp(&items[*b]).then(a.cmp(b)));
    let mut keep = vec![true; items.len()];
    for pair in order.windows(2) {
        if items[pair[0]] == items[pair[1]] {
            keep[pair[1]] = false;
        }
    }
    let mut position = 0;
    items.retain(|_| {
        position += 1;
        keep[position - 1]
    });
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn dedup_keeps_first_occurrences_in_order() {
        let mut items: Vec<String> = ["b", "a", "b", "c", "a", "b"].map(String::from).to_vec();
        dedup_first_seen(&mut items);
        assert_eq!(items, ["b", "a", "c"]);
    }

    #[test]
    fn plain_joins_match_the_url_parser() {
        let hrefs = [
            "/a/b?x=1&y=2",
            "rel/one",
            "page2.html",
            "/p%20q",
            "a:b/c",
            "/a/./b",
            "../up",
            "x/../y",
            "/bad%zz",
            "/sp ace",
            "?q=1",
            "/a#frag",
            "rel#f",
            "/q?a=b?c",
            "/~user/(x)",
            "é",
            "/a\\b",
        ];
        for base in [
            "https://h.example/dir/page?q",
            "http://h.example:8080",
            "https://u:p@h.example/a/b/",
        ] {
            let base = Url::parse(base).unwrap();
            for href in hrefs {
                let mut expected = base.join(href).unwrap();
                expected.set_fragment(None);
                let expected: Vec<String> = expected
                    .scheme()
                    .starts_with("http")
                    .then(|| expected.to_string())
                    .into_iter()
                    .collect();
                assert_eq!(
                    resolve_links(&[href.to_owned()], &base),
                    expected,
                    "{base} + {href}"
                );
            }
        }
    }

    #[test]
    fn only_the_first_base_counts() {
        let page = "<base href='/one/'><base href='/two/'><a href=x>x</a>";
        let url = Url::parse("http://h.example/p").unwrap();
        let wants = Wants {
            summary: false,
            links: true,
            text: false,
        };
        let rules = CompiledRules::compile(&BTreeMap::new()).unwrap();
        let found = analyze(page, &url, wants, &rules, 1024);
        assert_eq!(
            found.summary.unwrap().links.unwrap(),
            ["http://h.example/one/x"]
        );
    }
}
