//! Reads the input with quick-xml's streaming reader into a small tree of the elements that
//! matter, enforcing the limits as it goes.
//!
//! Only elements in the profile's namespace or in no namespace are kept (matched by local
//! name); elements in any other namespace, and a `Signature` under `edXMLHeader`, are read
//! through and dropped. Text is kept as written: references are decoded (the five predefined
//! entities and character references only) and line ends normalised as XML 1.0 says.

use quick_xml::events::{BytesDecl, BytesRef, Event};
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

use super::{EdxmlError, Limits, Profile};

/// An element kept.
#[derive(Debug, Default)]
pub(super) struct Node {
    pub local: String,
    pub text: String,
    pub children: Vec<Node>,
}

impl Node {
    /// The first child called `name`.
    pub fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.local == name)
    }

    /// The first child with one of the `names` (alternative spellings).
    pub fn child_any(&self, names: &[&str]) -> Option<&Node> {
        self.children
            .iter()
            .find(|c| names.contains(&c.local.as_str()))
    }

    /// Every child called `name`.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children.iter().filter(move |c| c.local == name)
    }

    /// The text of the first child called `name`, or an empty string.
    pub fn text_of(&self, name: &str) -> &str {
        self.child(name).map(|c| c.text.as_str()).unwrap_or("")
    }
}

/// The element whose text is an attachment's base64 content.
pub(super) const ENCODED_CONTENT: &str = "ContentTransferEncoded";

enum Frame {
    Kept(Node),
    /// Read through and dropped, with everything inside it.
    Dropped,
}

/// Reads `bytes` (already known to be within `limits.max_bytes`) into the tree of its root,
/// which is `edXML` in the profile's namespace.
pub(super) fn read_tree(
    bytes: &[u8],
    profile: &Profile,
    limits: &Limits,
) -> Result<Node, EdxmlError> {
    let text = utf8(bytes)?;
    let mut reader = NsReader::from_str(text);
    {
        let config = reader.config_mut();
        config.check_end_names = true;
        config.expand_empty_elements = false;
        config.trim_text(false);
    }
    let encoded_limit = base64_limit(limits.max_attachment_bytes);
    let mut stack: Vec<Frame> = Vec::new();
    let mut root: Option<Node> = None;
    let mut elements: usize = 0;
    let malformed = |reader: &NsReader<&[u8]>, detail: String, at_error: bool| {
        let offset = if at_error {
            reader.error_position()
        } else {
            reader.buffer_position()
        };
        malformed_at(text, offset, detail)
    };

    loop {
        let (resolved, event) = match reader.read_resolved_event() {
            Ok((r, e)) => (namespace_of(r), e),
            Err(e) => return Err(malformed(&reader, e.to_string(), true)),
        };
        match event {
            Event::Decl(decl) => {
                check_declaration(&decl).map_err(|detail| EdxmlError::Encoding { detail })?
            }
            Event::DocType(_) => return Err(EdxmlError::Doctype),
            Event::PI(_) | Event::Comment(_) => {}
            Event::Start(ref start) | Event::Empty(ref start) => {
                let is_empty = matches!(event, Event::Empty(_));
                if root.is_some() {
                    return Err(malformed(
                        &reader,
                        "an element follows the root element".to_string(),
                        false,
                    ));
                }
                elements += 1;
                if elements > limits.max_elements {
                    return Err(EdxmlError::TooLarge {
                        what: "the number of elements".to_string(),
                        limit: limits.max_elements,
                    });
                }
                if stack.len() + 1 > limits.max_depth {
                    return Err(EdxmlError::TooDeep {
                        limit: limits.max_depth,
                    });
                }
                let namespace = match resolved {
                    Namespace::Unknown(prefix) => {
                        return Err(malformed(
                            &reader,
                            format!("the prefix `{prefix}` is not declared"),
                            false,
                        ));
                    }
                    other => other,
                };
                let local = start.local_name().into_inner().to_string();
                let frame = if stack.is_empty() {
                    let in_profile =
                        matches!(&namespace, Namespace::Bound(ns) if *ns == profile.namespace);
                    if local != "edXML" || !in_profile {
                        let found = match &namespace {
                            Namespace::Bound(ns) => format!("{{{ns}}}{local}"),
                            _ => local.clone(),
                        };
                        return Err(EdxmlError::WrongRoot {
                            found,
                            expected: profile.namespace.clone(),
                        });
                    }
                    Frame::Kept(Node {
                        local,
                        ..Node::default()
                    })
                } else {
                    let ours = match &namespace {
                        Namespace::Bound(ns) => *ns == profile.namespace,
                        Namespace::Unbound => true,
                        Namespace::Unknown(_) => false,
                    };
                    let parent_kept = match stack.last() {
                        Some(Frame::Kept(parent)) => Some(parent.local.as_str()),
                        _ => None,
                    };
                    let signature = local == "Signature" && parent_kept == Some("edXMLHeader");
                    if ours && parent_kept.is_some() && !signature {
                        Frame::Kept(Node {
                            local,
                            ..Node::default()
                        })
                    } else {
                        Frame::Dropped
                    }
                };
                if is_empty {
                    close(&mut stack, &mut root, frame);
                } else {
                    stack.push(frame);
                }
            }
            Event::End(_) => match stack.pop() {
                Some(frame) => close(&mut stack, &mut root, frame),
                None => {
                    return Err(malformed(
                        &reader,
                        "a closing tag without an opening one".to_string(),
                        false,
                    ));
                }
            },
            Event::Text(t) => {
                let content = t.xml10_content();
                append(&mut stack, &content, limits, encoded_limit, |detail| {
                    malformed(&reader, detail, false)
                })?;
            }
            Event::CData(c) => {
                let content = c.xml10_content();
                if stack.is_empty() {
                    return Err(malformed(
                        &reader,
                        "character data outside the root element".to_string(),
                        false,
                    ));
                }
                append(&mut stack, &content, limits, encoded_limit, |detail| {
                    malformed(&reader, detail, false)
                })?;
            }
            Event::GeneralRef(r) => {
                let ch = reference(&r).map_err(|detail| malformed(&reader, detail, false))?;
                if stack.is_empty() {
                    return Err(malformed(
                        &reader,
                        "a reference outside the root element".to_string(),
                        false,
                    ));
                }
                let mut buf = [0u8; 4];
                append(
                    &mut stack,
                    ch.encode_utf8(&mut buf),
                    limits,
                    encoded_limit,
                    |detail| malformed(&reader, detail, false),
                )?;
            }
            Event::Eof => {
                if !stack.is_empty() {
                    return Err(malformed(
                        &reader,
                        "the input ends inside an element".to_string(),
                        false,
                    ));
                }
                return match root {
                    Some(node) => Ok(node),
                    None => Err(malformed(&reader, "no root element".to_string(), false)),
                };
            }
        }
    }
}

/// A namespace as resolved, owned so that the reader can move on.
enum Namespace {
    Bound(String),
    Unbound,
    Unknown(String),
}

fn namespace_of(r: ResolveResult<'_>) -> Namespace {
    match r {
        ResolveResult::Bound(ns) => Namespace::Bound(ns.into_inner().to_string()),
        ResolveResult::Unbound => Namespace::Unbound,
        ResolveResult::Unknown(prefix) => Namespace::Unknown(prefix),
    }
}

/// Ends an element: a kept one joins its parent (or becomes the root).
fn close(stack: &mut [Frame], root: &mut Option<Node>, frame: Frame) {
    let Frame::Kept(node) = frame else {
        return;
    };
    match stack.last_mut() {
        Some(Frame::Kept(parent)) => parent.children.push(node),
        Some(Frame::Dropped) => {}
        None => *root = Some(node),
    }
}

/// Adds text to the current element, if kept, within its limit.
fn append(
    stack: &mut [Frame],
    content: &str,
    limits: &Limits,
    encoded_limit: usize,
    malformed: impl Fn(String) -> EdxmlError,
) -> Result<(), EdxmlError> {
    let Some(top) = stack.last_mut() else {
        if content.chars().all(is_xml_space) {
            return Ok(());
        }
        return Err(malformed("text outside the root element".to_string()));
    };
    if let Some(bad) = content.chars().find(|c| !is_xml_char(*c)) {
        return Err(malformed(format!(
            "the character U+{:04X} is not allowed in XML",
            bad as u32
        )));
    }
    let Frame::Kept(node) = top else {
        return Ok(());
    };
    let limit = if node.local == ENCODED_CONTENT {
        encoded_limit
    } else {
        limits.max_text
    };
    if node.text.len() + content.len() > limit {
        return Err(EdxmlError::TooLarge {
            what: format!("the text of {}", node.local),
            limit,
        });
    }
    node.text.push_str(content);
    Ok(())
}

/// The character a reference stands for: a character reference or one of the five entities
/// XML predefines. Nothing else is declared, so anything else is refused.
fn reference(r: &BytesRef<'_>) -> Result<char, String> {
    if r.is_char_ref() {
        return match r.resolve_char_ref() {
            Ok(Some(c)) if is_xml_char(c) => Ok(c),
            Ok(Some(c)) => Err(format!(
                "the character reference U+{:04X} is not allowed in XML",
                c as u32
            )),
            Ok(None) | Err(_) => Err(format!("the character reference &{}; is invalid", &**r)),
        };
    }
    match &**r {
        "lt" => Ok('<'),
        "gt" => Ok('>'),
        "amp" => Ok('&'),
        "apos" => Ok('\''),
        "quot" => Ok('"'),
        other => Err(format!("the entity &{other}; is not declared")),
    }
}

/// Whether `c` may appear in an XML 1.0 document.
pub(super) fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

fn is_xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// Refuses a declaration that names an encoding other than UTF-8.
fn check_declaration(decl: &BytesDecl<'_>) -> Result<(), String> {
    match decl.encoding() {
        None => Ok(()),
        Some(Ok(enc)) => {
            if enc.eq_ignore_ascii_case("utf-8") || enc.eq_ignore_ascii_case("utf8") {
                Ok(())
            } else {
                Err(format!("the XML declaration names the encoding `{enc}`"))
            }
        }
        Some(Err(e)) => Err(format!("the XML declaration cannot be read: {e}")),
    }
}

/// The input as UTF-8 text, without a byte order mark.
fn utf8(bytes: &[u8]) -> Result<&str, EdxmlError> {
    let encoding = |detail: &str| EdxmlError::Encoding {
        detail: detail.to_string(),
    };
    if bytes.starts_with(&[0xFE, 0xFF]) || bytes.starts_with(&[0xFF, 0xFE]) {
        return Err(encoding("the input starts with a UTF-16 byte order mark"));
    }
    let bytes = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
    if bytes.contains(&0) {
        return Err(encoding(
            "the input contains NUL bytes (UTF-16 or UTF-32 perhaps)",
        ));
    }
    std::str::from_utf8(bytes).map_err(|e| EdxmlError::Encoding {
        detail: format!("invalid UTF-8 at byte {}", e.valid_up_to()),
    })
}

fn malformed_at(text: &str, offset: u64, detail: String) -> EdxmlError {
    let end = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(text.len());
    let line = 1 + text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count();
    EdxmlError::Malformed {
        line,
        offset,
        detail,
    }
}

/// The longest base64 text that can hold `max` bytes, with room for line breaks.
pub(super) fn base64_limit(max: usize) -> usize {
    let encoded = max.div_ceil(3).saturating_mul(4);
    encoded.saturating_add(encoded / 38).saturating_add(4)
}
