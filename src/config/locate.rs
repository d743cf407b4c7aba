//! Stage 2 of 3: errors located in the file — the line and column of a span, and the dotted key
//! (`target.components[1].cov`) that a serde or TOML error is about.

use std::path::Path;

use toml::Spanned;

use crate::error::{Error, Location, QUOTE_LIMIT};

/// The longest message a configuration error carries (TOML's own messages quote the offending
/// value; a huge string must not come back whole).
const MESSAGE_LIMIT: usize = 4 * QUOTE_LIMIT;

fn limit_message(message: String) -> String {
    if message.chars().count() <= MESSAGE_LIMIT {
        return message;
    }
    let mut cut: String = message.chars().take(MESSAGE_LIMIT).collect();
    cut.push('…');
    cut
}

/// The file being validated: its path (for messages) and text (for locations).
pub(super) struct Ctx<'a> {
    pub path: &'a Path,
    pub text: &'a str,
}

impl Ctx<'_> {
    pub fn err(
        &self,
        span: Option<std::ops::Range<usize>>,
        key: &str,
        message: impl Into<String>,
    ) -> Error {
        Error::Config {
            path: self.path.to_path_buf(),
            at: span.map(|s| Location::of(self.text, s.start)),
            key: (!key.is_empty()).then(|| key.to_string()),
            message: limit_message(message.into()),
        }
    }
    pub fn at<T>(&self, v: &Spanned<T>, key: &str, message: impl Into<String>) -> Error {
        self.err(Some(v.span()), key, message)
    }
}

/// The sections every experiment file needs.
pub(super) const SECTIONS: [&str; 4] = ["target", "init", "objective", "optimizer"];

/// A TOML or serde error, with the dotted key it is about: serde reports only a span (and, for a
/// missing key, its bare name), so the key is found from the span in the parsed document.
pub(super) fn toml_error(cx: &Ctx, e: &toml::de::Error) -> Error {
    let message = e.message().trim_end();
    let Some(span) = e.span() else {
        return cx.err(None, "", message);
    };
    let (doc, _) = toml::de::DeTable::parse_recoverable(cx.text);
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|m| m.strip_suffix('`'));
    if let Some(field) = missing {
        // The span is the table that lacks the key: its header, or an inline table.
        let mut table = String::new();
        let found = !span.is_empty() && table_at(doc.get_ref(), &span, "", &mut table);
        if !found && SECTIONS.contains(&field) {
            return cx.err(
                Some(span),
                field,
                format!("the section [{field}] is missing"),
            );
        }
        let key = if found {
            format!("{table}.{field}")
        } else {
            field.to_string()
        };
        return cx.err(Some(span), &key, "this key is required but missing");
    }
    let mut key = String::new();
    key_at(doc.get_ref(), span.start, "", &mut key);
    if key.is_empty() {
        key = key_on_line(cx.text, span.start).unwrap_or_default();
    }
    cx.err(Some(span), &key, message)
}

/// For errors the parsed document cannot place (bad syntax, a duplicate key): the `key = ` on the
/// line of `offset`, under the last `[table]` header above it.
fn key_on_line(text: &str, offset: usize) -> Option<String> {
    let offset = offset.min(text.len());
    let start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line = text[start..].lines().next().unwrap_or("");
    let (key, _) = line.split_once('=')?;
    let key = key.trim();
    let bare = |k: &str| {
        !k.is_empty()
            && k.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-.\" ".contains(c))
    };
    if !bare(key) {
        return None;
    }
    let header = text[..start].lines().rev().find_map(|l| {
        let l = l.trim();
        let inner = l.strip_prefix('[')?.split(']').next()?;
        Some(inner.trim_start_matches('[').trim().to_string())
    });
    Some(match header {
        Some(h) if bare(&h) => format!("{h}.{key}"),
        _ => key.to_string(),
    })
}

/// Sets `out` to the deepest dotted key whose name or value contains byte `offset`.
fn key_at(t: &toml::de::DeTable, offset: usize, prefix: &str, out: &mut String) {
    for (k, v) in t {
        let path = join_key(prefix, k.get_ref());
        if (k.span().contains(&offset) || v.span().contains(&offset)) && path.len() > out.len() {
            out.clone_from(&path);
        }
        value_key_at(v, offset, &path, out);
    }
}

fn value_key_at(v: &Spanned<toml::de::DeValue>, offset: usize, path: &str, out: &mut String) {
    match v.get_ref() {
        toml::de::DeValue::Table(t) => key_at(t, offset, path, out),
        toml::de::DeValue::Array(a) => {
            for (i, item) in a.iter().enumerate() {
                let path = format!("{path}[{i}]");
                if item.span().contains(&offset) && path.len() > out.len() {
                    out.clone_from(&path);
                }
                value_key_at(item, offset, &path, out);
            }
        }
        _ => {}
    }
}

/// Finds the table whose span is `span`; sets `out` to its dotted key.
fn table_at(
    t: &toml::de::DeTable,
    span: &std::ops::Range<usize>,
    prefix: &str,
    out: &mut String,
) -> bool {
    t.iter().any(|(k, v)| {
        let path = join_key(prefix, k.get_ref());
        value_table_at(v, span, &path, out)
    })
}

fn value_table_at(
    v: &Spanned<toml::de::DeValue>,
    span: &std::ops::Range<usize>,
    path: &str,
    out: &mut String,
) -> bool {
    match v.get_ref() {
        toml::de::DeValue::Table(t) => {
            if v.span() == *span {
                out.clear();
                out.push_str(path);
                return true;
            }
            table_at(t, span, path, out)
        }
        toml::de::DeValue::Array(a) => a
            .iter()
            .enumerate()
            .any(|(i, item)| value_table_at(item, span, &format!("{path}[{i}]"), out)),
        _ => false,
    }
}

fn join_key(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}
