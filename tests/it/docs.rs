//! Documentation that cannot drift from the code: the experiment-file
//! reference parses as an experiment and names every key the schema has;
//! the dashboard guide's key table is the help screen's; the limits table
//! gives the bounds validation applies; the performance page measures every
//! shape of the sweep.

use std::collections::BTreeSet;

use rnnlab::experiment::Experiment;
use rnnlab::frontend::tui::keys::HINTS;

use crate::common::root;

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The first fenced block of `lang` in a Markdown text.
fn fenced(text: &str, lang: &str) -> String {
    let open = format!("```{lang}\n");
    let start = text.find(&open).expect("a fenced block") + open.len();
    let end = start + text[start..].find("```").expect("its end");
    text[start..end].to_string()
}

/// Every key path in a TOML text: `data.window`, `model.layers.units`, …
fn keys(value: &toml::Value, prefix: &str, out: &mut BTreeSet<String>) {
    match value {
        toml::Value::Table(t) => {
            for (k, v) in t {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                out.insert(path.clone());
                keys(v, &path, out);
            }
        }
        toml::Value::Array(items) => {
            for item in items.iter().filter(|i| i.is_table()) {
                keys(item, prefix, out);
            }
        }
        _ => {}
    }
}

#[test]
fn the_experiment_reference_parses_and_names_every_key() {
    let block = fenced(&read("docs/experiment-file.md"), "toml");
    // Every documented key exists, with a value of the right type.
    let exp: Experiment = toml::from_str(&block).unwrap_or_else(|e| {
        panic!("docs/experiment-file.md's TOML block is not an experiment: {e}")
    });
    let documented = {
        let mut set = BTreeSet::new();
        keys(&block.parse::<toml::Value>().unwrap(), "", &mut set);
        set
    };
    // Every key the schema writes out is documented.
    let mut written = BTreeSet::new();
    keys(
        &exp.to_toml().parse::<toml::Value>().unwrap(),
        "",
        &mut written,
    );
    let missing: Vec<_> = written.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "keys missing from docs/experiment-file.md: {missing:?}"
    );
}

#[test]
fn the_dashboard_guide_lists_the_help_screens_keys() {
    let guide = read("docs/dashboard.md");
    let table = &guide[guide.find("| key | action |").expect("the key table")..];
    let documented: Vec<String> = table
        .lines()
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            l.split('|')
                .nth(1)
                .unwrap()
                .trim()
                .trim_matches('`')
                .to_string()
        })
        .collect();
    let in_code: Vec<String> = HINTS.iter().map(|(k, _)| k.to_string()).collect();
    assert_eq!(
        documented, in_code,
        "docs/dashboard.md's key table and the help screen (keys::HINTS) differ"
    );
}

#[test]
fn the_sweep_reference_parses_and_names_every_key() {
    let text = read("docs/sweeps.md");
    let block = fenced(&text, "toml");
    let base = root().join("experiments/sweeps");
    let file = base.join("docs.toml");
    // The reference's grid (its commented random-only lines aside) is a sweep file.
    let sweep = rnnlab::sweep::Sweep::from_str_at(&block, &file, &base, &[])
        .unwrap_or_else(|e| panic!("docs/sweeps.md's first TOML block: {e}"));
    assert_eq!(sweep.configurations(), 6);
    // Every key of the resolved sweep that a file sets is named in it
    // (`trials` as a comment: a grid refuses it).
    let resolved: toml::Value = sweep.to_toml().parse().unwrap();
    let mut written = BTreeSet::new();
    keys(&resolved, "", &mut written);
    let derived = ["maximize", "sets"];
    for key in written.iter().filter(|k| !k.starts_with("params")) {
        if derived.contains(&key.as_str()) {
            continue;
        }
        let leaf = key.rsplit('.').next().unwrap();
        assert!(
            block.contains(&format!("{leaf} =")) || block.contains(&format!("[{key}]")),
            "docs/sweeps.md's reference does not name `{key}`"
        );
    }
    // The forms of a random search parse as one.
    let random: String = block
        .lines()
        .filter(|l| !l.starts_with("\"train.learning_rate\" = [0.001"))
        .map(|l| match l.strip_prefix("# \"") {
            Some(rest) => format!("\"{rest}\n"),
            None if l.starts_with("method = \"grid\"") => {
                "method = \"random\"\ntrials = 4\n".into()
            }
            None => format!("{l}\n"),
        })
        .collect();
    let sweep = rnnlab::sweep::Sweep::from_str_at(&random, &file, &base, &[])
        .unwrap_or_else(|e| panic!("the random-only forms of docs/sweeps.md: {e}"));
    assert_eq!(sweep.params.len(), 4);
}

#[test]
fn the_limits_table_gives_the_bounds_validation_applies() {
    use rnnlab::experiment::limits::*;
    let doc = read("docs/experiment-file.md");
    let table = &doc[doc.find("| key | at most |").expect("the limits table")..];
    let rows: Vec<(String, String)> = table
        .lines()
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            (cells[1].to_string(), cells[2].to_string())
        })
        .collect();
    let bounds = [
        ("`data.window`", MAX_STEPS),
        ("`data.season`", MAX_STEPS),
        ("`data.count`", MAX_COUNT),
        ("`data.stride`", MAX_COUNT),
        ("`data.features`", MAX_FEATURES),
        ("`data.vocab_size`", MAX_VOCAB),
        ("`model.layers` (the number of layers)", MAX_LAYERS),
        ("`model.layers[k].units`", MAX_UNITS),
        ("`model.embedding`", MAX_UNITS),
        ("`task.sample_length`", MAX_SAMPLE),
        ("`train.batch_size`", MAX_BATCH),
        ("`train.epochs`", MAX_EPOCHS),
        ("`evaluate.origins`", MAX_EPOCHS),
        ("`evaluate.step`", MAX_STEPS),
        ("`train.threads`", MAX_THREADS),
        ("`task.quantiles` (the number of levels)", MAX_QUANTILES),
        ("`name` (bytes)", MAX_NAME),
    ];
    for (key, max) in bounds {
        let row = rows.iter().find(|(keys, _)| keys.contains(key));
        let Some((_, documented)) = row else {
            panic!("docs/experiment-file.md's limits table has no row for {key}");
        };
        assert_eq!(documented, &max.to_string(), "{key}");
    }
}

/// The performance page's grid tables (the sweep's section) give, for the
/// AVX-512 path and the AVX2 path, a training step and an inference pass of
/// every configuration `rnnlab bench --sweep` runs, and name no other.
#[test]
fn the_performance_page_measures_every_shape_of_the_sweep() {
    let page = read("docs/performance.md");
    let start = page
        .find("## Any shape a user trains")
        .expect("docs/performance.md has the sweep's section");
    let end = start
        + 3
        + page[start + 3..]
            .find("\n## ")
            .unwrap_or(page.len() - start - 3);
    let grid: BTreeSet<String> = rnnlab::cli::bench::grid()
        .iter()
        .map(|c| c.label())
        .collect();
    let mut rows: std::collections::BTreeMap<(String, String), usize> = Default::default();
    for line in page[start..end].lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if let [_, config, pass @ ("train step" | "inference"), ..] = cells[..] {
            assert!(
                grid.contains(config),
                "docs/performance.md measures `{config}`, which the sweep does not run"
            );
            *rows
                .entry((config.to_string(), pass.to_string()))
                .or_default() += 1;
        }
    }
    for config in &grid {
        for pass in ["train step", "inference"] {
            let n = rows
                .get(&(config.clone(), pass.to_string()))
                .copied()
                .unwrap_or(0);
            assert!(
                n >= 2,
                "docs/performance.md gives {n} {pass} rows of `{config}` in the sweep's \
                 section: one per instruction set (AVX-512, AVX2) is wanted"
            );
        }
    }
}
