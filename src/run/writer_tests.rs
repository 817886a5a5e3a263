//! The run writer's errors name the file they happened on.

use std::fs::OpenOptions;
use std::io::BufWriter;
use std::path::Path;

use super::RunDir;
use crate::error::{Failure, Kind};
use crate::events::{Event, Note, NoteKind};
use crate::experiment::Experiment;

fn run_dir(dir: &Path) -> RunDir {
    let text = "name = \"w\"\n[data]\nsource = \"synthetic\"\ngenerator = \"sine\"\ncount = 20\n\
                window = 5\n[[model.layers]]\ncell = \"gru\"\nunits = 2\n";
    let exp = Experiment::from_str_at(text, &dir.join("e.toml"), dir, &[]).unwrap();
    let data = crate::data::load(&exp).unwrap();
    RunDir::create(&exp, Some(dir.join("run")), &data.scaler).unwrap()
}

/// A full disk, for real: `/dev/full` fails every write with ENOSPC. The
/// run's events.csv is swapped for it, as a disk filling up would do.
#[test]
fn a_full_disk_is_reported_with_the_file_and_the_fix() {
    let Ok(full) = OpenOptions::new().write(true).open("/dev/full") else {
        eprintln!("skipped: no /dev/full");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut run = run_dir(dir.path());
    run.events = csv::Writer::from_writer(BufWriter::new(full));
    let note = Note {
        step: 1,
        wall_s: 0.5,
        kind: NoteKind::Start,
        detail: "x".into(),
    };
    // A note is flushed at once.
    let e = run.record(&Event::Note(note)).unwrap_err();
    let events = dir.path().join("run/events.csv");
    let message = e.to_string();
    assert!(
        message.starts_with(&format!("cannot write {}: ", events.display())),
        "{message}"
    );
    assert!(message.contains("No space left on device"), "{message}");
    assert!(
        message.contains("free some space, or write to another disk"),
        "{message}"
    );
    assert_eq!(e.kind(), Kind::Failure);
    let e = run.flush_all().unwrap_err().to_string();
    assert!(e.contains(&events.display().to_string()), "{e}");
}
