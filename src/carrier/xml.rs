//! The little XML the Bandwidth adapter needs: answers read into a small
//! element tree over `quick-xml`'s tokenizer, and request bodies written with
//! their text escaped.
//!
//! An answer is untrusted input, so the reader accepts only what the
//! carrier's documents use and refuses the rest before it can cost much:
//!
//! - no document type declaration (`<!DOCTYPE ...>`), so no entity can be
//!   defined and none expanded: only the five predefined entities and
//!   character references are read, any other `&name;` is an error;
//! - at most [`MAX_BODY`] bytes of UTF-8, [`MAX_DEPTH`] levels of nesting,
//!   [`MAX_ELEMENTS`] elements and [`MAX_TEXT`] bytes of text in one element;
//! - exactly one root element, every element closed by its own name, nothing
//!   but white space, comments and processing instructions around the root.
//!
//! The tree is built without recursion (an open-element stack), so nesting
//! up to the limit costs a few bytes per level and never the call stack.
//! Names are read without their namespace prefix; attributes are ignored
//! (nothing the adapter reads is an attribute).

use std::fmt;

use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::Reader;

/// The largest answer read, in bytes (a search for 5,000 numbers with their
/// details is about 2 MiB).
pub(crate) const MAX_BODY: usize = 8 * 1024 * 1024;
/// The deepest nesting read (the documented answers nest five levels).
pub(crate) const MAX_DEPTH: usize = 32;
/// The most elements read in one answer.
pub(crate) const MAX_ELEMENTS: usize = 200_000;
/// The most text one element may hold, in bytes.
pub(crate) const MAX_TEXT: usize = 64 * 1024;

/// Why a body is not XML the reader accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct XmlError(String);

impl fmt::Display for XmlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn err(what: impl Into<String>) -> XmlError {
    XmlError(what.into())
}

/// One element: its local name, its child elements in order, and its text
/// (the character data directly inside it, entities resolved).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Element {
    pub(crate) name: String,
    pub(crate) children: Vec<Element>,
    text: String,
}

impl Element {
    /// The text, white space around it trimmed.
    pub(crate) fn text(&self) -> &str {
        self.text.trim()
    }

    /// The first child named `name`.
    pub(crate) fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Every child named `name`.
    pub(crate) fn children_named<'a>(
        &'a self,
        name: &'a str,
    ) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The element down `path` (child names, first match at each step).
    pub(crate) fn at(&self, path: &[&str]) -> Option<&Element> {
        path.iter().try_fold(self, |e, name| e.child(name))
    }

    /// The trimmed, non-empty text of the element down `path`.
    pub(crate) fn text_at(&self, path: &[&str]) -> Option<&str> {
        self.at(path).map(Element::text).filter(|t| !t.is_empty())
    }

    /// Every element named `name` below this one, in document order
    /// (depth is bounded by [`MAX_DEPTH`], so the walk is too).
    pub(crate) fn descendants<'a>(&'a self, name: &str) -> Vec<&'a Element> {
        let mut out = Vec::new();
        let mut stack: Vec<&Element> = self.children.iter().rev().collect();
        while let Some(e) = stack.pop() {
            if e.name == name {
                out.push(e);
            }
            stack.extend(e.children.iter().rev());
        }
        out
    }
}

/// Reads `body` as one XML document and returns its root element.
pub(crate) fn parse(body: &[u8]) -> Result<Element, XmlError> {
    if body.len() > MAX_BODY {
        return Err(err(format!("body of {} bytes is too large", body.len())));
    }
    let text = std::str::from_utf8(body).map_err(|e| err(format!("not UTF-8: {e}")))?;
    // A byte-order mark may open a UTF-8 document.
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    let mut reader = Reader::from_str(text);
    let mut tree = Tree::default();
    loop {
        let at = reader.buffer_position();
        let event = reader
            .read_event()
            .map_err(|e| err(format!("at byte {at}: {e}")))?;
        match event {
            Event::Start(start) => tree.open(element_name(&start)?)?,
            Event::Empty(start) => {
                tree.open(element_name(&start)?)?;
                tree.close()?;
            }
            // The reader checks that the name matches the open element's.
            Event::End(_) => tree.close()?,
            Event::Text(t) => tree.text(&t.decode().map_err(|e| err(e.to_string()))?)?,
            Event::CData(t) => tree.text(&t.decode().map_err(|e| err(e.to_string()))?)?,
            Event::GeneralRef(r) => {
                let mut buf = [0u8; 4];
                tree.text(resolve(&r)?.encode_utf8(&mut buf))?;
            }
            Event::DocType(_) => return Err(err("document type declarations are not read")),
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
            Event::Eof => return tree.finish(),
        }
    }
}

/// The tree being read: the elements still open (innermost last), the root
/// once it closed, and the count of elements so far.
#[derive(Default)]
struct Tree {
    open: Vec<Element>,
    root: Option<Element>,
    elements: usize,
}

impl Tree {
    fn open(&mut self, name: String) -> Result<(), XmlError> {
        if self.root.is_some() {
            return Err(err(format!("a second root element <{name}>")));
        }
        if self.open.len() >= MAX_DEPTH {
            return Err(err(format!("nested deeper than {MAX_DEPTH} levels")));
        }
        self.elements += 1;
        if self.elements > MAX_ELEMENTS {
            return Err(err(format!("more than {MAX_ELEMENTS} elements")));
        }
        self.open.push(Element {
            name,
            ..Element::default()
        });
        Ok(())
    }

    fn close(&mut self) -> Result<(), XmlError> {
        let done = self
            .open
            .pop()
            .ok_or_else(|| err("a closing tag with nothing open"))?;
        match self.open.last_mut() {
            Some(parent) => parent.children.push(done),
            None => self.root = Some(done),
        }
        Ok(())
    }

    fn text(&mut self, s: &str) -> Result<(), XmlError> {
        match self.open.last_mut() {
            // The indentation between child elements is not text anyone
            // reads; kept, a long pretty-printed list would hit the limit.
            Some(e) if !e.children.is_empty() && s.trim().is_empty() => Ok(()),
            Some(e) => {
                if e.text.len() + s.len() > MAX_TEXT {
                    return Err(err(format!(
                        "more than {MAX_TEXT} bytes of text in <{}>",
                        e.name
                    )));
                }
                e.text.push_str(s);
                Ok(())
            }
            None if s.trim().is_empty() => Ok(()),
            None => Err(err("text outside the root element")),
        }
    }

    fn finish(mut self) -> Result<Element, XmlError> {
        if let Some(e) = self.open.last() {
            return Err(err(format!("<{}> is never closed", e.name)));
        }
        self.root.take().ok_or_else(|| err("no root element"))
    }
}

/// An element's name without its namespace prefix, as UTF-8, once its
/// attributes are seen to be well formed (their values are not kept).
fn element_name(start: &BytesStart<'_>) -> Result<String, XmlError> {
    for attribute in start.attributes() {
        attribute.map_err(|e| err(format!("bad attribute: {e}")))?;
    }
    std::str::from_utf8(start.local_name().as_ref())
        .map(str::to_string)
        .map_err(|e| err(format!("element name not UTF-8: {e}")))
}

/// The text of a reference: a predefined entity or a character reference.
fn resolve(r: &BytesRef<'_>) -> Result<char, XmlError> {
    if let Some(c) = r
        .resolve_char_ref()
        .map_err(|e| err(format!("bad character reference: {e}")))?
    {
        return Ok(c);
    }
    let name = r.decode().map_err(|e| err(e.to_string()))?;
    match name.as_ref() {
        "lt" => Ok('<'),
        "gt" => Ok('>'),
        "amp" => Ok('&'),
        "quot" => Ok('"'),
        "apos" => Ok('\''),
        other => Err(err(format!("undefined entity &{other};"))),
    }
}

/// `s` escaped for an element's text or an attribute value.
pub(crate) fn escape(s: &str) -> String {
    quick_xml::escape::escape(s).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(s: &str) -> Result<Element, XmlError> {
        parse(s.as_bytes())
    }

    #[test]
    fn reads_a_documented_answer() {
        let root = read(
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
            <!-- a comment -->
            <SearchResult xmlns:x="urn:x">
                <ResultCount>2</ResultCount>
                <TelephoneNumberList>
                    <TelephoneNumber>+14155550123</TelephoneNumber>
                    <x:TelephoneNumber> 4155550187 </x:TelephoneNumber>
                    <Empty/>
                </TelephoneNumberList>
            </SearchResult>"#,
        )
        .unwrap();
        assert_eq!(root.name, "SearchResult");
        assert_eq!(root.text_at(&["ResultCount"]), Some("2"));
        let list = root.child("TelephoneNumberList").unwrap();
        let numbers: Vec<&str> = list
            .children_named("TelephoneNumber")
            .map(Element::text)
            .collect();
        assert_eq!(numbers, vec!["+14155550123", "4155550187"]);
        assert_eq!(root.text_at(&["TelephoneNumberList", "Empty"]), None);
        assert!(root.at(&["TelephoneNumberList", "Empty"]).is_some());
        assert_eq!(root.descendants("TelephoneNumber").len(), 2);
        assert_eq!(root.text_at(&["Missing", "Path"]), None);
    }

    #[test]
    fn a_byte_order_mark_and_a_long_indented_list_are_read() {
        assert_eq!(read("\u{FEFF}<a>x</a>").unwrap().text(), "x");
        let rows = "\r\n                <n>1</n>".repeat(MAX_TEXT / 10);
        let root = read(&format!("<list>{rows}\r\n</list>")).unwrap();
        assert_eq!(root.children.len(), MAX_TEXT / 10);
        // Spaces between references inside a leaf are text, kept.
        assert_eq!(read("<a>&amp; &amp;</a>").unwrap().text(), "& &");
    }

    #[test]
    fn resolves_predefined_entities_character_references_and_cdata() {
        let root = read("<a>x &lt;&gt;&amp;&quot;&apos; &#65;&#x42; <![CDATA[<raw & kept>]]></a>")
            .unwrap();
        assert_eq!(root.text(), "x <>&\"' AB <raw & kept>");
    }

    #[test]
    fn refuses_entities_it_does_not_know_and_any_dtd() {
        assert!(read("<a>&nbsp;</a>").is_err());
        assert!(read("<a>&#0;</a>").is_err());
        assert!(read("<a>&#xFFFFFFFF;</a>").is_err());
        assert!(read("<a>dangling & amp</a>").is_err());
        // The classic expansion bomb never gets its entities defined.
        let bomb = r#"<?xml version="1.0"?>
            <!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;">]>
            <lolz>&lol2;</lolz>"#;
        let e = read(bomb).unwrap_err();
        assert!(e.to_string().contains("document type"), "{e}");
        let external = r#"<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>"#;
        assert!(read(external).is_err());
    }

    #[test]
    fn deep_nesting_stops_at_the_limit_without_recursion() {
        let ok = format!("{}{}", "<a>".repeat(MAX_DEPTH), "</a>".repeat(MAX_DEPTH));
        assert!(read(&ok).is_ok());
        let deep = format!(
            "{}{}",
            "<a>".repeat(MAX_DEPTH + 1),
            "</a>".repeat(MAX_DEPTH + 1)
        );
        let e = read(&deep).unwrap_err();
        assert!(e.to_string().contains("nested deeper"), "{e}");
        // Far deeper than any stack would take, refused early all the same.
        let hostile = "<a>".repeat(1_000_000);
        assert!(read(&hostile).is_err());
    }

    #[test]
    fn huge_text_and_huge_bodies_are_refused() {
        let big = format!("<a>{}</a>", "x".repeat(MAX_TEXT + 1));
        let e = read(&big).unwrap_err();
        assert!(e.to_string().contains("bytes of text"), "{e}");
        // Split over many references, the same limit holds.
        let split = format!("<a>{}</a>", "&amp;".repeat(MAX_TEXT + 1));
        assert!(read(&split).is_err());
        let body = vec![b' '; MAX_BODY + 1];
        assert!(parse(&body).unwrap_err().to_string().contains("too large"));
        let many = format!("<r>{}</r>", "<e/>".repeat(MAX_ELEMENTS));
        assert!(read(&many).unwrap_err().to_string().contains("elements"));
    }

    #[test]
    fn malformed_documents_are_errors() {
        for bad in [
            "",
            "   ",
            "not xml at all",
            "<a>",
            "<a><b></a>",
            "<a></b>",
            "</a>",
            "<a></a><b></b>",
            "<a></a>trailing",
            "text<a></a>",
            "<a attr=></a>",
            "<a",
            "{\"json\": true}",
            "<html><body>Service Unavailable</html>",
        ] {
            assert!(read(bad).is_err(), "{bad:?} was read");
        }
        assert!(parse(&[0x3C, 0x61, 0x3E, 0xFF, 0x3C, 0x2F, 0x61, 0x3E]).is_err());
    }

    #[test]
    fn escapes_what_it_writes() {
        assert_eq!(escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&apos;");
        assert_eq!(escape("+14155550123"), "+14155550123");
        let root = read(&format!("<a>{}</a>", escape("<&'\">"))).unwrap();
        assert_eq!(root.text(), "<&'\">");
    }
}
