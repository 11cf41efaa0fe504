//! Which namespace the tokenizer is in (HTML, or the foreign content of `<svg>` and
//! `<math>`), followed through start and end tags without building a tree, exactly as
//! lol_html's tree builder simulator follows it: the fast pass must give what lol_html
//! gives. In foreign content `<title>`, `<style>` and `<script>` hold markup, not text,
//! `<![CDATA[…]]>` is text, and `/>` ends an element; a few HTML tags break out of it,
//! and a few SVG and MathML elements hold HTML again (integration points).

use crate::scan::Tag;

/// The namespace of the content being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Namespace {
    /// HTML.
    Html,
    /// Inside `<svg>`.
    Svg,
    /// Inside `<math>`.
    MathMl,
}

/// The namespaces entered and not yet left, innermost last; HTML below them all.
#[derive(Debug, Default)]
pub(crate) struct Namespaces {
    entered: Vec<Namespace>,
}

impl Namespaces {
    /// Whether any namespace was entered and not left: the content being read is
    /// foreign, or HTML inside foreign content (an integration point).
    pub(crate) fn entered_any(&self) -> bool {
        !self.entered.is_empty()
    }

    /// The namespace of the content being read.
    pub(crate) fn current(&self) -> Namespace {
        self.entered.last().copied().unwrap_or(Namespace::Html)
    }

    /// Follows a start tag, whose attributes and [`Tag::self_closing`] must have been
    /// read when it stands in foreign content. Returns whether the tag stood in HTML
    /// content, where `title`, `script` and friends switch the tokenizer to text (in
    /// foreign content they hold markup); `<svg>` and `<math>` enter their namespace
    /// wherever they are, and return false.
    pub(crate) fn start_tag(&mut self, tag: &Tag<'_>) -> bool {
        let name = tag.lower();
        match name {
            b"svg" => self.entered.push(Namespace::Svg),
            b"math" => self.entered.push(Namespace::MathMl),
            _ => {
                let current = self.current();
                if current == Namespace::Html {
                    return true;
                }
                if breaks_out_of_foreign_content(name)
                    || name == b"font"
                        && tag.attributes().any(|(n, _)| {
                            ["color", "size", "face"]
                                .iter()
                                .any(|a| n.eq_ignore_ascii_case(a))
                        })
                {
                    self.entered.pop();
                } else if !tag.self_closing
                    && (is_integration_point(current, name)
                        || current == Namespace::MathMl
                            && name == b"annotation-xml"
                            && tag.attributes().any(|(n, v)| {
                                n.eq_ignore_ascii_case("encoding")
                                    && (v.eq_ignore_ascii_case("text/html")
                                        || v.eq_ignore_ascii_case("application/xhtml+xml"))
                            }))
                {
                    self.entered.push(Namespace::Html);
                }
            }
        }
        false
    }

    /// Follows an end tag named `name` (as written).
    pub(crate) fn end_tag(&mut self, name: &str) {
        let is = |known: &str| name.eq_ignore_ascii_case(known);
        match self.current() {
            // Only the end of an integration point leaves HTML content, whatever element
            // it ends (lol_html's simplification).
            Namespace::Html => {
                let outer = match self.entered.len() {
                    0 => return,
                    1 => Namespace::Html,
                    n => self.entered[n - 2],
                };
                let leaves = match outer {
                    Namespace::Svg => is("desc") || is("title") || is("foreignobject"),
                    Namespace::MathMl => ["mi", "mo", "mn", "ms", "mtext", "annotation-xml"]
                        .iter()
                        .any(|known| is(known)),
                    Namespace::Html => false,
                };
                if leaves {
                    self.entered.pop();
                }
            }
            Namespace::Svg if is("svg") || is("p") || is("br") => {
                self.entered.pop();
            }
            Namespace::MathMl if is("math") || is("p") || is("br") => {
                self.entered.pop();
            }
            Namespace::Svg | Namespace::MathMl => {}
        }
    }
}

/// HTML start tags that end foreign content (`<font>` too, with `color`, `size` or
/// `face`).
fn breaks_out_of_foreign_content(name: &[u8]) -> bool {
    matches!(
        name,
        b"b" | b"big"
            | b"blockquote"
            | b"body"
            | b"br"
            | b"center"
            | b"code"
            | b"dd"
            | b"div"
            | b"dl"
            | b"dt"
            | b"em"
            | b"embed"
            | b"h1"
            | b"h2"
            | b"h3"
            | b"h4"
            | b"h5"
            | b"h6"
            | b"head"
            | b"hr"
            | b"i"
            | b"img"
            | b"li"
            | b"listing"
            | b"menu"
            | b"meta"
            | b"nobr"
            | b"ol"
            | b"p"
            | b"pre"
            | b"ruby"
            | b"s"
            | b"small"
            | b"span"
            | b"strong"
            | b"strike"
            | b"sub"
            | b"sup"
            | b"table"
            | b"tt"
            | b"u"
            | b"ul"
            | b"var"
    )
}

/// Elements of `namespace` whose content is HTML again (`annotation-xml` aside, which
/// is one only with an HTML `encoding`).
fn is_integration_point(namespace: Namespace, name: &[u8]) -> bool {
    match namespace {
        Namespace::Svg => matches!(name, b"desc" | b"title" | b"foreignobject"),
        Namespace::MathMl => matches!(name, b"mi" | b"mo" | b"mn" | b"ms" | b"mtext"),
        Namespace::Html => false,
    }
}
