//! TensorBoard event files: `events.out.tfevents.<unix seconds>.<host>`, a
//! TFRecord stream of `Event` protocol buffers — scalars, and the HParams
//! plugin's experiment and session summaries, so that TensorBoard's HParams
//! table and parallel-coordinates view show a sweep.
//!
//! The few messages needed are encoded by hand (field numbers from
//! tensorboard's `event.proto`, `summary.proto` and the hparams plugin's
//! `api.proto` and `plugin_data.proto`). Each record is framed as
//! `u64 length · u32 masked crc32c(length) · data · u32 masked crc32c(data)`,
//! little-endian. `scripts/check_tensorboard.py` reads the files back with
//! the `tensorboard` package's own reader.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// Writes one event file.
pub struct EventWriter {
    out: BufWriter<File>,
    pub path: PathBuf,
}

/// A hyperparameter's value.
#[derive(Debug, Clone, PartialEq)]
pub enum HValue {
    Number(f64),
    Text(String),
    Bool(bool),
}

/// How a run (an HParams session) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStatus {
    Success,
    Failure,
    Running,
}

impl EventWriter {
    /// Creates `dir` and a new event file in it (the first record names the
    /// file version, as TensorBoard expects).
    pub fn create(dir: &Path, wall_time: f64) -> io::Result<EventWriter> {
        fs::create_dir_all(dir)?;
        let host = fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".into());
        let mut n = 0;
        let (file, path) = loop {
            let name = match n {
                0 => format!("events.out.tfevents.{}.{host}", wall_time as u64),
                n => format!("events.out.tfevents.{}.{host}.{n}", wall_time as u64),
            };
            let path = dir.join(name);
            match crate::run::atomic::create_new(&path) {
                Ok(f) => break (f, path),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && n < 1000 => n += 1,
                Err(e) => return Err(e),
            }
        };
        let mut w = EventWriter {
            out: BufWriter::new(file),
            path,
        };
        let mut event = Vec::new();
        double(&mut event, 1, wall_time);
        bytes(&mut event, 3, b"brain.Event:2");
        w.record(&event)?;
        Ok(w)
    }

    /// A scalar: `tag` at `step`.
    pub fn scalar(&mut self, tag: &str, step: i64, value: f32, wall_time: f64) -> io::Result<()> {
        let mut v = Vec::new();
        bytes(&mut v, 1, tag.as_bytes());
        fixed32(&mut v, 2, value.to_bits());
        self.summary(&v, step, wall_time)
    }

    /// The HParams experiment: the hyperparameters (with their values, when
    /// discrete) and the metric tags. Written once, in the root of a sweep's
    /// event files.
    pub fn hparams_experiment(
        &mut self,
        hparams: &[(String, Vec<HValue>)],
        metrics: &[String],
        wall_time: f64,
    ) -> io::Result<()> {
        let mut experiment = Vec::new();
        double(&mut experiment, 3, wall_time);
        for (name, values) in hparams {
            let mut info = Vec::new();
            bytes(&mut info, 1, name.as_bytes());
            let kind = match values.first() {
                Some(HValue::Text(_)) => 1,
                Some(HValue::Bool(_)) => 2,
                _ => 3,
            };
            varint_field(&mut info, 4, kind);
            if !values.is_empty() {
                let mut list = Vec::new();
                for v in values {
                    bytes(&mut list, 1, &value(v));
                }
                bytes(&mut info, 5, &list);
            }
            bytes(&mut experiment, 4, &info);
        }
        for tag in metrics {
            let mut name = Vec::new();
            bytes(&mut name, 2, tag.as_bytes());
            let mut info = Vec::new();
            bytes(&mut info, 1, &name);
            bytes(&mut experiment, 5, &info);
        }
        self.hparams("_hparams_/experiment", 2, &experiment, wall_time)
    }

    /// A run's hyperparameters (an HParams session's start).
    pub fn hparams_session_start(
        &mut self,
        hparams: &[(String, HValue)],
        group: &str,
        wall_time: f64,
    ) -> io::Result<()> {
        // A protobuf map, its entries by key (as deterministic encoders write it).
        let mut sorted: Vec<&(String, HValue)> = hparams.iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        let mut start = Vec::new();
        for (name, v) in sorted {
            let mut entry = Vec::new();
            bytes(&mut entry, 1, name.as_bytes());
            bytes(&mut entry, 2, &value(v));
            bytes(&mut start, 1, &entry);
        }
        if !group.is_empty() {
            bytes(&mut start, 4, group.as_bytes());
        }
        double(&mut start, 5, wall_time);
        self.hparams("_hparams_/session_start_info", 3, &start, wall_time)
    }

    /// How a run ended (an HParams session's end).
    pub fn hparams_session_end(&mut self, status: SessionStatus, wall_time: f64) -> io::Result<()> {
        let mut end = Vec::new();
        let code = match status {
            SessionStatus::Success => 1,
            SessionStatus::Failure => 2,
            SessionStatus::Running => 3,
        };
        varint_field(&mut end, 1, code);
        double(&mut end, 2, wall_time);
        self.hparams("_hparams_/session_end_info", 4, &end, wall_time)
    }

    /// Pushes buffered records to the file.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// A summary with the hparams plugin's data in its metadata and a null tensor.
    fn hparams(&mut self, tag: &str, field: u32, data: &[u8], wall_time: f64) -> io::Result<()> {
        // HParamsPluginData { version: 0 (a default, so not written), field: data }.
        let mut plugin_data = Vec::new();
        bytes(&mut plugin_data, field, data);
        let mut plugin = Vec::new();
        bytes(&mut plugin, 1, b"hparams");
        bytes(&mut plugin, 2, &plugin_data);
        let mut metadata = Vec::new();
        bytes(&mut metadata, 1, &plugin);
        // Fields in number order: tag (1), tensor (8), metadata (9).
        let mut v = Vec::new();
        bytes(&mut v, 1, tag.as_bytes());
        // TensorProto { dtype: DT_FLOAT, tensor_shape { dim {} } }, as the plugin writes.
        bytes(&mut v, 8, &[0x08, 0x01, 0x12, 0x02, 0x12, 0x00]);
        bytes(&mut v, 9, &metadata);
        self.summary(&v, 0, wall_time)
    }

    /// An event holding a summary of one value.
    fn summary(&mut self, value: &[u8], step: i64, wall_time: f64) -> io::Result<()> {
        let mut summary = Vec::new();
        bytes(&mut summary, 1, value);
        // Fields at their default value are not written (proto3's
        // canonical form, which TensorBoard's own writer produces).
        let mut event = Vec::new();
        double(&mut event, 1, wall_time);
        if step != 0 {
            varint_field(&mut event, 2, step as u64);
        }
        bytes(&mut event, 5, &summary);
        self.record(&event)
    }

    /// One TFRecord.
    fn record(&mut self, data: &[u8]) -> io::Result<()> {
        let len = (data.len() as u64).to_le_bytes();
        self.out.write_all(&len)?;
        self.out.write_all(&masked_crc(&len).to_le_bytes())?;
        self.out.write_all(data)?;
        self.out.write_all(&masked_crc(data).to_le_bytes())
    }
}

impl Drop for EventWriter {
    fn drop(&mut self) {
        let _ = self.out.flush();
    }
}

/// The records of an event file, each checked against its CRCs: what a
/// reader sees (for tests and checks; TensorBoard has its own).
pub fn read_records(path: &Path) -> io::Result<Vec<Vec<u8>>> {
    let data = fs::read(path)?;
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_string());
    let mut out = Vec::new();
    let mut at = 0;
    while at < data.len() {
        let head = data
            .get(at..at + 12)
            .ok_or_else(|| bad("a torn record header"))?;
        let len = u64::from_le_bytes(head[..8].try_into().unwrap_or_default()) as usize;
        let crc = u32::from_le_bytes(head[8..12].try_into().unwrap_or_default());
        if crc != masked_crc(&head[..8]) {
            return Err(bad("a record length with a wrong CRC"));
        }
        let body = data
            .get(at + 12..at + 12 + len)
            .ok_or_else(|| bad("a torn record"))?;
        let tail = data
            .get(at + 12 + len..at + 16 + len)
            .ok_or_else(|| bad("a torn record CRC"))?;
        if u32::from_le_bytes(tail.try_into().unwrap_or_default()) != masked_crc(body) {
            return Err(bad("a record with a wrong CRC"));
        }
        out.push(body.to_vec());
        at += 16 + len;
    }
    Ok(out)
}

/// A `google.protobuf.Value`.
fn value(v: &HValue) -> Vec<u8> {
    let mut out = Vec::new();
    match v {
        HValue::Number(x) => double(&mut out, 2, *x),
        HValue::Text(s) => bytes(&mut out, 3, s.as_bytes()),
        HValue::Bool(b) => varint_field(&mut out, 4, u64::from(*b)),
    }
    out
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn key(out: &mut Vec<u8>, field: u32, wire: u8) {
    varint(out, (u64::from(field) << 3) | u64::from(wire));
}

fn varint_field(out: &mut Vec<u8>, field: u32, v: u64) {
    key(out, field, 0);
    varint(out, v);
}

fn double(out: &mut Vec<u8>, field: u32, v: f64) {
    key(out, field, 1);
    out.extend_from_slice(&v.to_le_bytes());
}

fn fixed32(out: &mut Vec<u8>, field: u32, v: u32) {
    key(out, field, 5);
    out.extend_from_slice(&v.to_le_bytes());
}

fn bytes(out: &mut Vec<u8>, field: u32, b: &[u8]) {
    key(out, field, 2);
    varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// CRC-32C (Castagnoli), bitwise by a table.
fn crc32c(data: &[u8]) -> u32 {
    static TABLE: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut t = [0u32; 256];
        for (i, e) in t.iter_mut().enumerate() {
            let mut c = i as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    0x82F6_3B78 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
            *e = c;
        }
        t
    });
    let mut crc = !0u32;
    for &b in data {
        crc = table[((crc ^ u32::from(b)) & 0xFF) as usize] ^ (crc >> 8);
    }
    !crc
}

/// TFRecord's masked CRC: rotated and offset, so that a CRC of data that
/// holds CRCs is not itself trivially a CRC.
fn masked_crc(data: &[u8]) -> u32 {
    let c = crc32c(data);
    c.rotate_right(15).wrapping_add(0xa282_ead8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_matches_the_standard_check_value() {
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(b""), 0);
    }

    #[test]
    fn varints_and_records_frame_as_tfrecord() {
        let mut v = Vec::new();
        varint(&mut v, 300);
        assert_eq!(v, [0xAC, 0x02]);
        let dir = tempfile::tempdir().unwrap();
        let mut w = EventWriter::create(dir.path(), 1_700_000_000.0).unwrap();
        w.scalar("loss", 3, 0.25, 1_700_000_001.0).unwrap();
        w.flush().unwrap();
        let data = std::fs::read(&w.path).unwrap();
        // Walk the records back, checking each length and CRC.
        let mut at = 0;
        let mut records = Vec::new();
        while at < data.len() {
            let len = u64::from_le_bytes(data[at..at + 8].try_into().unwrap()) as usize;
            let crc = u32::from_le_bytes(data[at + 8..at + 12].try_into().unwrap());
            assert_eq!(crc, masked_crc(&data[at..at + 8]));
            let body = &data[at + 12..at + 12 + len];
            let crc = u32::from_le_bytes(data[at + 12 + len..at + 16 + len].try_into().unwrap());
            assert_eq!(crc, masked_crc(body));
            records.push(body.to_vec());
            at += 16 + len;
        }
        assert_eq!(records.len(), 2);
        assert!(records[0].windows(13).any(|w| w == b"brain.Event:2"));
        // The scalar's value: tag "loss", simple_value 0.25 (fixed32, field 2).
        let mut value = Vec::new();
        bytes(&mut value, 1, b"loss");
        fixed32(&mut value, 2, 0.25f32.to_bits());
        assert!(
            records[1]
                .windows(value.len())
                .any(|w| w == value.as_slice())
        );
        assert!(
            w.path
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("events.out.tfevents.1700000000.")
        );
    }
}
