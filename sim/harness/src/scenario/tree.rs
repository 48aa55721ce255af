//! A TOML document as a tree of byte spans, to turn a field path into a line and back.
//!
//! The typed scenario carries no spans (the runner should not see them); errors name a field
//! path, and this tree finds where that path is written. It is read with toml's own
//! deserializer, asking for the `Spanned` marker on every value: toml gives a span for every
//! key's value except tables it made up itself (the parents of dotted keys and of `[a.b]`
//! headers), which then have the union of their children's spans.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_spanned::__unstable::{END_FIELD, NAME, START_FIELD, VALUE_FIELD};
use std::fmt;
use std::ops::Range;

/// One step of a field path: a table key or an array index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// Writes a path as `traffic[1].writer`.
pub fn path_string(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// A value of the document with the bytes it was written on.
#[derive(Debug, Default)]
pub struct Node {
    pub span: Option<Range<usize>>,
    pub kind: Kind,
}

#[derive(Debug, Default)]
pub enum Kind {
    Table(Vec<(String, Node)>),
    Array(Vec<Node>),
    #[default]
    Leaf,
}

impl Node {
    /// Reads the whole document; `None` when toml cannot (the typed read reports why).
    pub fn parse(text: &str) -> Option<Node> {
        let mut root: Node = toml::from_str(text).ok()?;
        root.fill_spans();
        Some(root)
    }

    /// Gives tables without a span the union of their children's spans.
    fn fill_spans(&mut self) -> Option<Range<usize>> {
        let children: Vec<Option<Range<usize>>> = match &mut self.kind {
            Kind::Table(items) => items.iter_mut().map(|(_, n)| n.fill_spans()).collect(),
            Kind::Array(items) => items.iter_mut().map(Node::fill_spans).collect(),
            Kind::Leaf => Vec::new(),
        };
        if self.span.is_none() {
            self.span = children.into_iter().flatten().reduce(|a, b| {
                let start = a.start.min(b.start);
                let end = a.end.max(b.end);
                start..end
            });
        }
        self.span.clone()
    }

    fn child(&self, seg: &Seg) -> Option<&Node> {
        match (&self.kind, seg) {
            (Kind::Table(items), Seg::Key(k)) => items.iter().find(|(n, _)| n == k).map(|x| &x.1),
            (Kind::Array(items), Seg::Index(i)) => items.get(*i),
            _ => None,
        }
    }

    /// The span of `path`, or of its longest prefix that is written in the file (a field left
    /// to its default is reported where its table is).
    pub fn span_of(&self, path: &[Seg]) -> Option<Range<usize>> {
        let mut node = self;
        let mut best = self.span.clone();
        for seg in path {
            match node.child(seg) {
                Some(next) => {
                    node = next;
                    if next.span.is_some() {
                        best = next.span.clone();
                    }
                }
                None => break,
            }
        }
        best
    }

    /// The path of the innermost value whose span holds `at`; when `at` lies on a key of that
    /// table (toml reports unknown fields there), the key is added.
    pub fn path_at(&self, at: Range<usize>, text: &str) -> Vec<Seg> {
        let mut path = Vec::new();
        let mut node = self;
        'down: loop {
            let children: Vec<(Seg, &Node)> = match &node.kind {
                Kind::Table(items) => items
                    .iter()
                    .map(|(k, n)| (Seg::Key(k.clone()), n))
                    .collect(),
                Kind::Array(items) => items
                    .iter()
                    .enumerate()
                    .map(|(i, n)| (Seg::Index(i), n))
                    .collect(),
                Kind::Leaf => break,
            };
            for (seg, child) in children {
                if let Some(span) = &child.span {
                    if span.start <= at.start && at.end <= span.end.max(span.start + 1) {
                        path.push(seg);
                        node = child;
                        continue 'down;
                    }
                }
            }
            break;
        }
        if let Kind::Table(items) = &node.kind {
            let word = text
                .get(at.clone())
                .unwrap_or("")
                .trim()
                .trim_matches(|c| c == '"' || c == '\'');
            if !word.is_empty() && items.iter().any(|(k, _)| k == word) {
                path.push(Seg::Key(word.to_string()));
            }
        }
        path
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Node, D::Error> {
        // Ask for a span; toml answers with the marker map when it has one, and with the plain
        // value otherwise.
        d.deserialize_struct(NAME, &[START_FIELD, END_FIELD, VALUE_FIELD], NodeVisitor)
    }
}

/// Reads a value without asking for its span (the inside of the marker map).
struct Plain(Kind);

impl<'de> Deserialize<'de> for Plain {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Plain, D::Error> {
        d.deserialize_any(NodeVisitor).map(|n| Plain(n.kind))
    }
}

struct NodeVisitor;

fn leaf<E>() -> Result<Node, E> {
    Ok(Node::default())
}

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any TOML value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Node, E> {
        leaf()
    }
    fn visit_i64<E>(self, _: i64) -> Result<Node, E> {
        leaf()
    }
    fn visit_u64<E>(self, _: u64) -> Result<Node, E> {
        leaf()
    }
    fn visit_f64<E>(self, _: f64) -> Result<Node, E> {
        leaf()
    }
    fn visit_str<E>(self, _: &str) -> Result<Node, E> {
        leaf()
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(n) = seq.next_element::<Node>()? {
            items.push(n);
        }
        Ok(Node {
            span: None,
            kind: Kind::Array(items),
        })
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        let Some(first) = map.next_key::<String>()? else {
            return Ok(Node {
                span: None,
                kind: Kind::Table(items),
            });
        };
        if first == START_FIELD {
            let start: usize = map.next_value()?;
            let mut end = start;
            let mut kind = Kind::Leaf;
            while let Some(key) = map.next_key::<String>()? {
                if key == END_FIELD {
                    end = map.next_value()?;
                } else if key == VALUE_FIELD {
                    kind = map.next_value::<Plain>()?.0;
                } else {
                    return Err(de::Error::unknown_field(&key, &[END_FIELD, VALUE_FIELD]));
                }
            }
            return Ok(Node {
                span: Some(start..end),
                kind,
            });
        }
        items.push((first, map.next_value::<Node>()?));
        while let Some(key) = map.next_key::<String>()? {
            items.push((key, map.next_value::<Node>()?));
        }
        Ok(Node {
            span: None,
            kind: Kind::Table(items),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_reach_every_value() {
        let text =
            "[sim]\nbackend = \"rtl\"\ncore.rx_cache_entries = 8\n\n[[nodes]]\nname = \"a\"\n\
                    [[nodes]]\nname = \"b\"\n[faults]\ndrop = [{ probability = 0.1 }]\n";
        let root = Node::parse(text).unwrap();
        let k = |s: &str| Seg::Key(s.into());
        let line_of = |path: &[Seg]| {
            let span = root.span_of(path).unwrap();
            text[..span.start].matches('\n').count() + 1
        };
        assert_eq!(line_of(&[k("sim"), k("core"), k("rx_cache_entries")]), 3);
        assert_eq!(line_of(&[k("nodes"), Seg::Index(1), k("name")]), 8);
        assert_eq!(line_of(&[k("faults"), k("drop"), Seg::Index(0)]), 10);
        assert_eq!(line_of(&[k("nodes"), Seg::Index(1), k("memory")]), 7);
        let at = text.find("0.1").unwrap();
        let path = root.path_at(at..at + 3, text);
        assert_eq!(path_string(&path), "faults.drop[0].probability");
    }
}
