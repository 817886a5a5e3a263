#!/usr/bin/env python3
"""Checks a TensorBoard log directory with TensorBoard's own readers.

usage: scripts/check_tensorboard.py LOGDIR [--runs N] [--scalars TAG=COUNT ...]

For every run (LOGDIR and each sub-directory holding tfevents files):
  * reads each event file with tensorboard's RawEventFileLoader (which checks
    the TFRecord CRCs and stops at the first bad record) and checks that every
    byte was consumed, that the first event is file_version "brain.Event:2",
    and that each event re-serializes to exactly the bytes on disk
    (protobuf canonical form, deterministic map order);
  * loads the run with event_accumulator.EventAccumulator (keeping every
    point) and prints its scalar tags with point counts and step ranges;
  * parses the hparams plugin content with the hparams plugin's own
    metadata.parse_{experiment,session_start_info,session_end_info}_plugin_data,
    checks the value tensors are the plugin's NULL_TENSOR.
Then cross-checks the sweep: one experiment (in any run), each session's
hparams declared with matching types and inside their domains, each metric tag
present as a scalar in each session run, each session ended.
Exits 1 on any mismatch.
"""
import argparse
import os
import sys

from tensorboard.backend.event_processing import event_accumulator as ea
from tensorboard.backend.event_processing import event_file_loader
from tensorboard.compat.proto import event_pb2
from tensorboard.plugins.hparams import api_pb2, metadata

ERRORS = []


def fail(msg):
    ERRORS.append(msg)
    print("ERROR:", msg)


def run_dirs(logdir):
    out = []
    for d, _, files in sorted(os.walk(logdir)):
        if any("tfevents" in f for f in files):
            out.append(d)
    return out


def check_files(run_dir, run):
    files = sorted(f for f in os.listdir(run_dir) if "tfevents" in f)
    for f in files:
        path = os.path.join(run_dir, f)
        loader = event_file_loader.RawEventFileLoader(path)
        records = list(loader.Load())
        consumed = sum(16 + len(r) for r in records)
        size = os.path.getsize(path)
        if consumed != size:
            fail(f"{run}/{f}: read {consumed} of {size} bytes (bad CRC or truncated record)")
        if not records:
            fail(f"{run}/{f}: no records")
            continue
        first = event_pb2.Event.FromString(records[0])
        if first.file_version != "brain.Event:2":
            fail(f"{run}/{f}: first event has file_version {first.file_version!r}")
        canonical = 0
        for i, r in enumerate(records):
            ev = event_pb2.Event.FromString(r)
            if ev.SerializeToString(deterministic=True) == r:
                canonical += 1
            else:
                fail(f"{run}/{f}: record {i} is not in canonical protobuf form")
        print(f"  file {f}: {len(records)} records, {size} bytes, CRCs ok, "
              f"{canonical}/{len(records)} canonical, first = {first.file_version} "
              f"(writer {first.source_metadata.writer!r})")


def load_run(run_dir, run):
    acc = ea.EventAccumulator(run_dir, size_guidance={ea.SCALARS: 0, ea.TENSORS: 0})
    acc.Reload()
    scalars = {}
    for tag in sorted(acc.Tags()[ea.SCALARS]):
        pts = acc.Scalars(tag)
        scalars[tag] = pts
        steps = [p.step for p in pts]
        print(f"  scalar {tag}: {len(pts)} points, steps {min(steps)}..{max(steps)}, "
              f"last value {pts[-1].value:.6g}")
    hp = {}
    try:
        content = acc.PluginTagToContent(metadata.PLUGIN_NAME)
    except KeyError:  # a single run: scalars only, no HParams
        content = {}
    for tag, raw in sorted(content.items()):
        try:
            if tag == metadata.EXPERIMENT_TAG:
                hp["experiment"] = metadata.parse_experiment_plugin_data(raw)
            elif tag == metadata.SESSION_START_INFO_TAG:
                hp["start"] = metadata.parse_session_start_info_plugin_data(raw)
            elif tag == metadata.SESSION_END_INFO_TAG:
                hp["end"] = metadata.parse_session_end_info_plugin_data(raw)
            else:
                fail(f"{run}: unknown hparams tag {tag}")
                continue
        except Exception as e:  # HParamsError or DecodeError
            fail(f"{run}: {tag}: {e}")
            continue
        tensors = acc.Tensors(tag)
        if [t.tensor_proto for t in tensors] != [metadata.NULL_TENSOR]:
            fail(f"{run}: {tag}: expected one NULL_TENSOR value, got {tensors}")
        print(f"  hparams {tag}: parsed ok")
    return scalars, hp


def value_of(v):
    kind = v.WhichOneof("kind")
    return kind, getattr(v, kind) if kind else None


TYPE_OF_KIND = {
    "number_value": api_pb2.DATA_TYPE_FLOAT64,
    "string_value": api_pb2.DATA_TYPE_STRING,
    "bool_value": api_pb2.DATA_TYPE_BOOL,
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("logdir")
    ap.add_argument("--runs", type=int, help="expected number of session runs")
    ap.add_argument("--scalars", nargs="*", default=[], metavar="TAG=COUNT",
                    help="expected point count of a scalar tag in every session run")
    args = ap.parse_args()
    logdir = os.path.abspath(args.logdir)

    runs = {}
    for d in run_dirs(logdir):
        run = os.path.relpath(d, logdir)
        print(f"run {run}")
        check_files(d, run)
        runs[run] = load_run(d, run)
    if not runs:
        fail("no event files")

    experiments = {r: hp["experiment"] for r, (_, hp) in runs.items() if "experiment" in hp}
    # TensorBoard's HParams plugin reads the experiment config from whichever
    # run holds it (`rnnlab export SWEEP --tensorboard tb/` puts it in
    # tb/<sweep>/); more than one would leave all but the first unseen.
    if len(experiments) > 1:
        fail(f"expected at most one experiment config, found in {list(experiments)}")
    exp = next(iter(experiments.values()), None)
    sessions = {r: v for r, v in runs.items() if "start" in v[1]}
    if args.runs is not None and len(sessions) != args.runs:
        fail(f"expected {args.runs} session runs, found {len(sessions)}")

    if exp is not None:
        infos = {h.name: h for h in exp.hparam_infos}
        metric_tags = [(m.name.group, m.name.tag) for m in exp.metric_infos]
        print(f"experiment: hparams {[(h.name, api_pb2.DataType.Name(h.type), h.WhichOneof('domain')) for h in exp.hparam_infos]}")
        print(f"experiment: metrics {metric_tags}")
    for run, (scalars, hp) in sorted(sessions.items()):
        start, end = hp["start"], hp.get("end")
        values = {k: value_of(v) for k, v in sorted(start.hparams.items())}
        status = api_pb2.Status.Name(end.status) if end else None
        print(f"session {run}: group {start.group_name!r}, hparams "
              f"{ {k: v for k, (_, v) in values.items()} }, status {status}")
        if end is None:
            fail(f"{run}: no session_end_info")
        elif end.end_time_secs < start.start_time_secs:
            fail(f"{run}: session ends before it starts")
        if exp is None:
            continue
        if set(values) != set(infos):
            fail(f"{run}: hparams {sorted(values)} != experiment's {sorted(infos)}")
        for name, (kind, val) in values.items():
            info = infos.get(name)
            if info is None:
                continue
            if TYPE_OF_KIND.get(kind) != info.type:
                fail(f"{run}: {name} is {kind}, declared {api_pb2.DataType.Name(info.type)}")
            dom = info.WhichOneof("domain")
            if dom == "domain_discrete":
                allowed = [value_of(v)[1] for v in info.domain_discrete.values]
                if val not in allowed:
                    fail(f"{run}: {name}={val!r} not in {allowed}")
            elif dom == "domain_interval":
                iv = info.domain_interval
                if not iv.min_value <= val <= iv.max_value:
                    fail(f"{run}: {name}={val!r} outside [{iv.min_value}, {iv.max_value}]")
        for group, tag in metric_tags:
            sub = os.path.normpath(os.path.join(run, group.lstrip("/"))) if group else run
            if tag not in runs.get(sub, ({}, {}))[0]:
                fail(f"{run}: metric {tag!r} (group {group!r}) has no scalars in run {sub}")
        for spec in args.scalars:
            tag, _, count = spec.partition("=")
            got = len(scalars.get(tag, []))
            if got != int(count):
                fail(f"{run}: {tag}: {got} points, expected {count}")

    if ERRORS:
        print(f"FAILED: {len(ERRORS)} error(s)")
        return 1
    print(f"OK: {len(runs)} runs, {len(sessions)} sessions, experiment {'yes' if exp else 'no'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
