//! Source positions for experiment errors, and `--set` overrides.
//!
//! Key paths look like `train.epochs` or `model.layers[1].units`.

use toml_edit::{ImDocument, Item, Table};

/// A parsed experiment document that remembers where every key is.
pub struct Doc {
    doc: ImDocument<String>,
}

impl Doc {
    /// Parses TOML, or returns the error's byte offset and message.
    pub fn parse(text: &str) -> Result<Doc, (Option<usize>, String)> {
        ImDocument::parse(text.to_string())
            .map(|doc| Doc { doc })
            .map_err(|e| {
                let message = e.message().trim().to_string();
                (
                    e.span().map(|s| s.start),
                    format!("invalid TOML: {message}"),
                )
            })
    }

    /// The byte offset of the value at `path`, or of the nearest enclosing key that exists.
    pub fn span_of(&self, path: &str) -> Option<usize> {
        let mut best = None;
        let mut table: &Table = self.doc.as_table();
        let segments = split_path(path);
        for (i, (name, index)) in segments.iter().enumerate() {
            let Some(item) = table.get(name) else {
                return best;
            };
            if let Some(key) = table.key(name) {
                best = key.span().map(|s| s.start).or(best);
            }
            let last = i + 1 == segments.len();
            match index {
                Index::At(ix) => {
                    let array = item.as_array_of_tables()?;
                    let t = array.get(*ix)?;
                    best = t.span().map(|s| s.start).or(best);
                    table = t;
                }
                Index::All | Index::Bad => return best,
                Index::Key if last => {
                    return item.span().map(|s| s.start).or(best);
                }
                Index::Key => match item {
                    Item::Table(t) => {
                        best = t.span().map(|s| s.start).or(best);
                        table = t;
                    }
                    _ => return best,
                },
            }
        }
        best
    }

    /// The byte offset of `key` (taken whole, dots and all) in the
    /// top-level table `table`: where `params."train.epochs"` is written.
    pub fn span_of_key(&self, table: &str, key: &str) -> Option<usize> {
        let t = self.doc.as_table().get(table)?.as_table()?;
        t.key(key)?.span().map(|s| s.start)
    }

    /// The key path whose key or value contains byte `offset`.
    pub fn key_at(&self, offset: usize) -> Option<String> {
        find_in_table(self.doc.as_table(), "", offset, false)
    }

    /// The innermost table (`data`, `model.layers[1]`) that contains byte
    /// `offset`; `None` for the top level.
    pub fn table_at(&self, offset: usize) -> Option<String> {
        find_in_table(self.doc.as_table(), "", offset, true)
    }
}

fn find_in_table(table: &Table, prefix: &str, offset: usize, tables_only: bool) -> Option<String> {
    let mut found = None;
    for (name, item) in table.iter() {
        let path = if prefix.is_empty() {
            name.to_string()
        } else {
            format!("{prefix}.{name}")
        };
        let key_hit = table
            .key(name)
            .and_then(|k| k.span())
            .is_some_and(|s| s.contains(&offset));
        match item {
            Item::Table(t) => {
                if let Some(p) = find_in_table(t, &path, offset, tables_only) {
                    return Some(p);
                }
                if key_hit || t.span().is_some_and(|s| s.contains(&offset)) {
                    found = Some(path);
                }
            }
            Item::ArrayOfTables(a) => {
                for (i, t) in a.iter().enumerate() {
                    let p = format!("{path}[{i}]");
                    if let Some(inner) = find_in_table(t, &p, offset, tables_only) {
                        return Some(inner);
                    }
                    if t.span().is_some_and(|s| s.contains(&offset)) {
                        found = Some(p);
                    }
                }
            }
            _ if tables_only => {}
            _ => {
                if key_hit || item.span().is_some_and(|s| s.contains(&offset)) {
                    return Some(path);
                }
            }
        }
    }
    found
}

/// A path segment's list index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Index {
    /// No index: a key.
    Key,
    At(usize),
    /// `[*]`: every entry.
    All,
    /// An index that is neither a number nor `*`.
    Bad,
}

/// `model.layers[1].units` → `[("model", Key), ("layers", At(1)), ("units", Key)]`.
fn split_path(path: &str) -> Vec<(String, Index)> {
    path.split('.')
        .map(|seg| match seg.split_once('[') {
            Some((name, rest)) => {
                let ix = rest.trim_end_matches(']');
                let index = match ix.parse::<usize>() {
                    Ok(i) => Index::At(i),
                    Err(_) if ix == "*" => Index::All,
                    Err(_) => Index::Bad,
                };
                (name.to_string(), index)
            }
            None => (seg.to_string(), Index::Key),
        })
        .collect()
}

/// 1-based line and column of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// Applies `key=value` overrides (`train.epochs=5`, `model.layers.0.units=64`,
/// `model.layers[0].units=64`). Values are TOML (`0.01`, `"adam"`, `[1, 2]`);
/// a bare word is taken as a string. On error: (the override, message, hint).
pub fn apply_sets(text: &str, sets: &[String]) -> Result<String, (String, String, Option<String>)> {
    if sets.is_empty() {
        return Ok(text.to_string());
    }
    let mut doc: toml_edit::DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| {
        (
            String::new(),
            format!("invalid TOML: {}", e.message().trim()),
            None,
        )
    })?;
    for set in sets {
        let fail = |message: String| {
            (
                set.clone(),
                message,
                Some("write overrides as section.key=value, e.g. --set train.epochs=5".to_string()),
            )
        };
        let (path, raw) = set
            .split_once('=')
            .ok_or_else(|| fail("an override needs `=`".into()))?;
        let path = normalise_path(path.trim());
        let value: toml_edit::Value = raw
            .trim()
            .parse()
            .unwrap_or_else(|_| toml_edit::Value::from(raw.trim()));
        let segments = split_path(&path);
        set_in(doc.as_table_mut(), &path, &segments, &value).map_err(fail)?;
    }
    Ok(doc.to_string())
}

/// Sets `segments` (of `path`) under `table` to `value`; an index `*`
/// sets it in every entry of the list.
fn set_in(
    table: &mut Table,
    path: &str,
    segments: &[(String, Index)],
    value: &toml_edit::Value,
) -> Result<(), String> {
    let Some(((name, index), rest)) = segments.split_first() else {
        return Err(format!("`{path}` is not a key path"));
    };
    if name.is_empty() {
        return Err(format!("`{path}` is not a key path"));
    }
    let last = rest.is_empty();
    match index {
        Index::Key if last => {
            table.insert(name, Item::Value(value.clone()));
            Ok(())
        }
        Index::Key => {
            if !table.contains_key(name) {
                table.insert(name, Item::Table(Table::new()));
            }
            let inner = table
                .get_mut(name)
                .and_then(Item::as_table_mut)
                .ok_or_else(|| format!("`{name}` is not a table"))?;
            set_in(inner, path, rest, value)
        }
        Index::At(_) | Index::All if last => Err(format!("`{path}` names a table, not a key")),
        Index::Bad => Err(format!(
            "`{path}`: a list index is a whole number, or `*` for every entry"
        )),
        Index::At(_) | Index::All => {
            let item = table
                .get_mut(name)
                .ok_or_else(|| format!("`{name}` is not a list of tables"))?;
            // A list given inline (`--set model.layers=[{…}]`) becomes a
            // list of tables, so that its entries can be set too.
            if item.is_array() {
                let taken = std::mem::take(item);
                *item = match taken.into_array_of_tables() {
                    Ok(array) => Item::ArrayOfTables(array),
                    Err(back) => back,
                };
            }
            let array = item
                .as_array_of_tables_mut()
                .ok_or_else(|| format!("`{name}` is not a list of tables"))?;
            let len = array.len();
            match index {
                Index::At(ix) => {
                    let entry = array.get_mut(*ix).ok_or_else(|| {
                        format!("`{name}` has {len} entries; index {ix} is out of range")
                    })?;
                    set_in(entry, path, rest, value)
                }
                _ => {
                    for entry in array.iter_mut() {
                        set_in(entry, path, rest, value)?;
                    }
                    Ok(())
                }
            }
        }
    }
}

/// Accepts `layers.0.units` as a spelling of `layers[0].units`.
fn normalise_path(path: &str) -> String {
    let mut out = String::new();
    for seg in path.split('.') {
        if (seg == "*" || seg.parse::<usize>().is_ok()) && !out.is_empty() {
            out.push_str(&format!("[{seg}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(seg);
        }
    }
    out
}

/// The `--set` argument that sets `key`, if one does.
pub fn set_for(sets: &[String], key: &str) -> Option<String> {
    sets.iter()
        .rev()
        .find(|s| {
            s.split_once('=')
                .is_some_and(|(p, _)| normalise_path(p.trim()) == key)
        })
        .cloned()
}

/// Turns a serde message into (message, hint).
pub fn explain_serde(message: &str) -> (String, Option<String>) {
    let message = message.trim().to_string();
    let hint = if message.starts_with("unknown field") {
        Some(
            "remove the key or fix its spelling; every key is listed in docs/experiment-file.md"
                .to_string(),
        )
    } else if message.starts_with("unknown variant") {
        Some("use one of the values listed".to_string())
    } else if message.starts_with("missing field") {
        Some("add the key; see docs/experiment-file.md for its meaning".to_string())
    } else if message.contains("expected usize") || message.contains("expected u64") {
        Some("use a whole number of at least 0".to_string())
    } else {
        None
    };
    (message, hint)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "name = \"x\"\n[train]\nepochs = 3\n[[model.layers]]\ncell = \"lstm\"\nunits = 4\n[[model.layers]]\ncell = \"gru\"\nunits = 0\n";

    #[test]
    fn spans_and_keys_round_trip() {
        let doc = Doc::parse(TEXT).unwrap();
        let off = doc.span_of("model.layers[1].units").unwrap();
        assert_eq!(line_col(TEXT, off), (9, 9));
        assert_eq!(doc.key_at(off).as_deref(), Some("model.layers[1].units"));
        let off = doc.span_of("train.epochs").unwrap();
        assert_eq!(line_col(TEXT, off), (3, 10));
        // A key that is absent falls back to its table.
        let off = doc.span_of("train.batch_size").unwrap();
        assert_eq!(line_col(TEXT, off).0, 2);
    }

    #[test]
    fn overrides_edit_nested_keys() {
        let out = apply_sets(
            TEXT,
            &[
                "train.epochs=7".into(),
                "model.layers.1.units=5".into(),
                "train.optimizer=sgd".into(),
                "data.split=[0.5, 0.25, 0.25]".into(),
            ],
        )
        .unwrap();
        let v: toml::Value = toml::from_str(&out).unwrap();
        assert_eq!(v["train"]["epochs"].as_integer(), Some(7));
        assert_eq!(v["train"]["optimizer"].as_str(), Some("sgd"));
        assert_eq!(v["model"]["layers"][1]["units"].as_integer(), Some(5));
        assert_eq!(v["data"]["split"].as_array().unwrap().len(), 3);
        assert_eq!(
            set_for(&["model.layers.1.units=5".into()], "model.layers[1].units").as_deref(),
            Some("model.layers.1.units=5")
        );
        let err = apply_sets(TEXT, &["model.layers.5.units=1".into()]).unwrap_err();
        assert!(err.1.contains("out of range"), "{err:?}");
        assert!(apply_sets(TEXT, &["epochs".into()]).is_err());
    }

    #[test]
    fn a_star_sets_every_layer_also_of_a_list_given_inline() {
        let out = apply_sets(TEXT, &["model.layers.*.units=9".into()]).unwrap();
        let v: toml::Value = toml::from_str(&out).unwrap();
        let units = |v: &toml::Value| -> Vec<i64> {
            v["model"]["layers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l["units"].as_integer().unwrap())
                .collect()
        };
        assert_eq!(units(&v), [9, 9]);
        let out = apply_sets(
            TEXT,
            &[
                "model.layers=[{cell=\"rnn\", units=1}, {cell=\"rnn\", units=2}, {cell=\"gru\", units=3}]".into(),
                "model.layers[*].units=4".into(),
                "model.layers.2.dropout=0.1".into(),
            ],
        )
        .unwrap();
        let v: toml::Value = toml::from_str(&out).unwrap();
        assert_eq!(units(&v), [4, 4, 4]);
        assert_eq!(v["model"]["layers"][2]["cell"].as_str(), Some("gru"));
        assert_eq!(v["model"]["layers"][2]["dropout"].as_float(), Some(0.1));
        let err = apply_sets(TEXT, &["model.layers[x].units=1".into()]).unwrap_err();
        assert!(err.1.contains("whole number, or `*`"), "{err:?}");
        let err = apply_sets(TEXT, &["model.layers.*=1".into()]).unwrap_err();
        assert!(err.1.contains("names a table"), "{err:?}");
    }
}
