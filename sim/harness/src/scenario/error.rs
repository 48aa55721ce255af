//! The one-line error of a scenario file: `FILE:LINE:COLUMN: PATH: REASON`.

use super::tree::{path_string, Node, Seg};
use std::fmt;
use std::ops::Range;

/// What kind of mistake a [`ScenarioError`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The file could not be read, or is not UTF-8.
    Io,
    /// Not TOML.
    Syntax,
    /// TOML, but not the scenario's shape: an unknown or missing field, a wrong type, a bad
    /// size or word string.
    Schema,
    /// The right shape, but a value out of range or a reference that does not hold.
    Invalid,
}

/// Why a scenario file was rejected. Its `Display` is one line:
/// `examples/bad.toml:12:10: traffic[1].writer: node "n9" is not defined (nodes: a, b, c)`;
/// the line and column are left out when unknown (an unreadable file) and the path when the
/// mistake is not in one field (a TOML syntax error). Names and values quoted from the file
/// are shown up to `SHOWN_CHARS` characters (see `shorten`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    pub kind: ErrorKind,
    /// The name the file was read under.
    pub file: String,
    /// 1-based line and column (columns count characters).
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// The field, e.g. `traffic[1].writer`; empty when the mistake is not in one field.
    pub path: String,
    /// The reason, on one line.
    pub message: String,
}

impl std::error::Error for ScenarioError {}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        let mut rest = String::new();
        if !self.path.is_empty() {
            rest = format!(": {}", shorten(&self.path));
        }
        rest += ": ";
        rest += &shorten(&self.message);
        // A guard: after `shorten` only a long run of short words (a long quoted value with
        // spaces and quotes inside) can still be this long.
        let chars = rest.chars().count();
        if chars > LINE_CHARS {
            let cut: String = rest.chars().take(LINE_CHARS).collect();
            rest = format!("{cut}… (cut at {LINE_CHARS} of {chars} characters)");
        }
        f.write_str(&rest)
    }
}

/// Longest name, value or unbroken run of text an error shows whole: a file can hold a
/// 20 MB name, and its error should still fit a terminal.
pub const SHOWN_CHARS: usize = 60;
/// Longest field path and reason an error shows, once [`shorten`] has cut what it cuts.
pub const LINE_CHARS: usize = 1000;

/// `text` with every quoted part (`"…"` or `` `…` ``) and every other run without spaces
/// longer than [`SHOWN_CHARS`] characters cut to that many, followed by `…` and, after the
/// quotes, its full length: `node name "aaaa…" (20000000 characters)`.
pub fn shorten(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(4 * LINE_CHARS));
    let mut rest = text;
    while let Some(first) = rest.chars().next() {
        let quoted = (first == '"' || first == '`')
            .then(|| rest[1..].find(first))
            .flatten();
        let (part, quote, len) = match quoted {
            Some(end) => (&rest[1..1 + end], Some(first), end + 2),
            None => {
                let end = rest
                    .find(|c: char| c.is_whitespace() || c == '"' || c == '`')
                    .unwrap_or(rest.len())
                    .max(first.len_utf8());
                (&rest[..end], None, end)
            }
        };
        let chars = part.chars().count();
        if let Some(q) = quote {
            out.push(q);
        }
        if chars > SHOWN_CHARS {
            out.extend(part.chars().take(SHOWN_CHARS));
            out.push('…');
        } else {
            out.push_str(part);
        }
        if let Some(q) = quote {
            out.push(q);
        }
        if chars > SHOWN_CHARS {
            out += &format!(" ({chars} characters)");
        }
        rest = &rest[len..];
    }
    out
}

/// Folds a message onto one line (toml's own messages may span several); control characters
/// left inside a line are escaped.
pub fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(escape_controls)
        .collect::<Vec<_>>()
        .join("; ")
}

/// `text` with control characters written as escapes (`\r`, `\u{1b}`), so that text quoted
/// from the file (a key, or a value the TOML parser names) cannot break the line.
fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// 1-based line and column (in characters) of byte `at` in `text`.
pub fn line_column(text: &str, at: usize) -> (usize, usize) {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

impl ScenarioError {
    pub(crate) fn io(file: &str, message: String) -> ScenarioError {
        ScenarioError {
            kind: ErrorKind::Io,
            file: file.to_string(),
            line: None,
            column: None,
            path: String::new(),
            message: one_line(&message),
        }
    }

    pub(crate) fn at(
        kind: ErrorKind,
        file: &str,
        text: &str,
        span: Option<Range<usize>>,
        path: &[Seg],
        message: &str,
    ) -> ScenarioError {
        let (line, column) = match span {
            Some(span) => {
                let (l, c) = line_column(text, span.start);
                (Some(l), Some(c))
            }
            None => (None, None),
        };
        ScenarioError {
            kind,
            file: file.to_string(),
            line,
            column,
            path: escape_controls(&path_string(path)),
            message: one_line(message),
        }
    }

    /// An error of toml's: a syntax error, or one of the typed read (its span then locates the
    /// field in the spanned tree, when the document parses).
    pub(crate) fn from_toml(file: &str, text: &str, e: &toml::de::Error) -> ScenarioError {
        let span = e.span();
        match Node::parse(text) {
            None => ScenarioError::at(ErrorKind::Syntax, file, text, span, &[], e.message()),
            Some(tree) => {
                let path = span
                    .clone()
                    .map(|s| tree.path_at(s, text))
                    .unwrap_or_default();
                ScenarioError::at(ErrorKind::Schema, file, text, span, &path, e.message())
            }
        }
    }

    /// A semantic error at `path`, located through the spanned tree.
    pub(crate) fn invalid(
        file: &str,
        text: &str,
        tree: &Node,
        path: &[Seg],
        message: &str,
    ) -> ScenarioError {
        let span = tree.span_of(path).or(Some(0..0));
        ScenarioError::at(ErrorKind::Invalid, file, text, span, path, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_columns() {
        let text = "a\nbé = 1\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 2), (2, 1));
        assert_eq!(line_column(text, 6), (2, 4));
        assert_eq!(line_column(text, 4), (2, 2)); // inside 'é': its start
        assert_eq!(line_column(text, 99), (3, 1));
        assert_eq!(one_line("expected\n  a key\n"), "expected; a key");
        assert_eq!(
            one_line("unknown variant `malf\rmed`\r\n"),
            "unknown variant `malf\\rmed`"
        );
    }

    #[test]
    fn long_names_and_values_are_cut() {
        let short = "node \"n9\" is not defined (nodes: a, b, c); unknown field `x`";
        assert_eq!(shorten(short), short);
        let name = "é".repeat(SHOWN_CHARS + 1);
        let cut = "é".repeat(SHOWN_CHARS);
        assert_eq!(
            shorten(&format!("node \"{name}\" is not defined")),
            format!("node \"{cut}…\" (61 characters) is not defined")
        );
        let path = format!("nodes[0].{name}");
        assert_eq!(
            shorten(&path),
            format!("nodes[0].{}… (70 characters)", "é".repeat(SHOWN_CHARS - 9))
        );
        assert_eq!(
            shorten(&format!("unknown field `{name}`, expected `name`")),
            format!("unknown field `{cut}…` (61 characters), expected `name`")
        );
        // An unmatched quote is text like any other.
        assert_eq!(shorten("a \" b"), "a \" b");
        let e = ScenarioError::io("f.toml", format!("{} ", "w ".repeat(LINE_CHARS)));
        let line = e.to_string();
        assert!(
            line.ends_with(&format!("… (cut at {LINE_CHARS} of 2001 characters)")),
            "{line}"
        );
    }
}
