//! Naming a run on the command line: a path, or — as `rnnlab runs` shows
//! them — a run's name in the runs directory, a unique prefix of one, or
//! `latest` (the run started last). Sweeps resolve the same way in
//! `sweeps/` for the commands that take a sweep directory.

use std::path::{Path, PathBuf};

use super::error::{CliResult, bad_input};
use crate::run::read::summary::is_run_dir;
use crate::sweep::SweepDir;

/// Where names are looked up.
pub struct Places<'a> {
    /// The runs directory (`runs`, or `--runs-dir`).
    pub runs: &'a Path,
    /// Whether sweep directories (in `sweeps/`) are accepted too.
    pub sweeps: bool,
}

/// The directory `arg` names: itself when it exists, else a run (or sweep)
/// by name, unique prefix or `latest`. The error lists the candidates.
pub fn run(arg: &Path, places: &Places) -> CliResult<PathBuf> {
    if arg.exists() || arg.components().count() > 1 {
        // A path: the command checks it and names it in its errors.
        return Ok(arg.to_path_buf());
    }
    let name = arg.to_string_lossy();
    let mut roots = vec![places.runs.to_path_buf()];
    if places.sweeps {
        roots.push(PathBuf::from("sweeps"));
    }
    let candidates: Vec<(PathBuf, String)> = roots
        .iter()
        .flat_map(|root| entries(root, places.sweeps))
        .collect();
    if name == "latest" {
        let newest = candidates
            .iter()
            .filter(|(p, _)| is_run_dir(p))
            .max_by_key(|(p, _)| started(p));
        return match newest {
            Some((p, _)) => Ok(p.clone()),
            None => bad_input!("`latest`: there are no runs in {}/", places.runs.display()),
        };
    }
    if let Some((p, _)) = candidates.iter().find(|(_, n)| *n == name) {
        return Ok(p.clone());
    }
    let matching: Vec<&(PathBuf, String)> = candidates
        .iter()
        .filter(|(_, n)| n.starts_with(name.as_ref()))
        .collect();
    match matching.as_slice() {
        [(p, _)] => Ok(p.clone()),
        [] => bad_input!(
            "{name}: no such directory, and no run in {}/ is named so{}; `rnnlab runs` lists the runs",
            places.runs.display(),
            if places.sweeps {
                " (nor a sweep in sweeps/)"
            } else {
                ""
            }
        ),
        many => {
            let mut names: Vec<String> =
                many.iter().map(|(p, _)| p.display().to_string()).collect();
            names.sort();
            let shown = names.len().min(8);
            let more = names.len() - shown;
            bad_input!(
                "`{name}` is the start of {} runs: {}{}; give more of the name",
                names.len(),
                names[..shown].join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            )
        }
    }
}

/// Each run (and, with `sweeps`, sweep) directory under `root`, with its name.
fn entries(root: &Path, sweeps: bool) -> Vec<(PathBuf, String)> {
    let Ok(dir) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    dir.filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| is_run_dir(p) || sweeps && SweepDir::is_sweep_dir(p))
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?.to_string();
            Some((p, name))
        })
        .collect()
}

/// When a run started: `summary.json`'s start time, else its directory's
/// modification time, as sortable text.
fn started(run: &Path) -> String {
    let summary = crate::run::read::summary::read_summary(run);
    if let Some(s) = summary.started
        && let Ok(t) = chrono::DateTime::parse_from_rfc3339(&s)
    {
        return t.with_timezone(&chrono::Utc).to_rfc3339();
    }
    std::fs::metadata(run)
        .and_then(|m| m.modified())
        .map(|t| chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn make_run(root: &Path, name: &str, started: &str) -> PathBuf {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("experiment.toml"), "name = \"x\"\n").unwrap();
        std::fs::write(
            dir.join("summary.json"),
            format!("{{\"status\": \"completed\", \"started\": \"{started}\"}}"),
        )
        .unwrap();
        dir
    }

    #[test]
    fn names_prefixes_and_latest() {
        let tmp = tempfile::tempdir().unwrap();
        let runs = tmp.path();
        let a = make_run(
            runs,
            "quickstart-20261205-101500",
            "2026-12-05T10:15:00+00:00",
        );
        let b = make_run(
            runs,
            "quickstart-20261205-111500",
            "2026-12-05T12:15:00+01:00",
        );
        let c = make_run(
            runs,
            "sunspots-20261204-090000",
            "2026-12-05T11:00:00+00:00",
        );
        let places = Places {
            runs,
            sweeps: false,
        };
        let r = |s: &str| run(Path::new(s), &places);
        assert_eq!(r("quickstart-20261205-101500").unwrap(), a);
        assert_eq!(r("sun").unwrap(), c);
        // Time zones are compared as instants: b started at 11:15 UTC.
        assert_eq!(r("latest").unwrap(), b);
        let err = r("quickstart").unwrap_err().to_string();
        assert!(err.contains("is the start of 2 runs"), "{err}");
        let err = r("nothing").unwrap_err().to_string();
        assert!(
            err.contains("no run in") && err.contains("rnnlab runs"),
            "{err}"
        );
        // A path is taken as it is (the command names it if it is wrong).
        assert_eq!(r("x/y").unwrap(), PathBuf::from("x/y"));
        let empty = tempfile::tempdir().unwrap();
        let none = Places {
            runs: empty.path(),
            sweeps: false,
        };
        let err = run(Path::new("latest"), &none).unwrap_err().to_string();
        assert!(err.contains("no runs in"), "{err}");
    }
}
