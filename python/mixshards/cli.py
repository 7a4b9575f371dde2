"""``python -m mixshards inspect FILE [--samples]`` and ``python -m mixshards verify DIR``."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Optional

from . import fileio, layout, manifest as manifest_mod, sourcefiles, wording
from .errors import ShardError
from .dataset import open_shard
from .verify import labels_text, verify


def describe(path: str, samples: bool = False) -> str:
    """A shard file's header and chunk index as text (like ``mixprep inspect``); with
    ``samples``, every chunk decoded (references resolved from the directory's source copy),
    and in a directory made from image files, the file behind each sample shown
    (and its partner's when mixed)."""
    with open_shard(path) as r:
        h = r.header
        epoch = str(h.epoch) if h.split == "train" else "-"
        references = f", unmixed samples stored as references to {layout.SOURCE_FILE}" if h.has_references else ""
        lines = [
            f"{path}: MixShard v{h.version}, {r.size} bytes",
            f"  split {h.split}, epoch {epoch}, shard {h.shard_index}{references}",
            f"  samples {h.sample_count} in {h.chunk_count} chunks of ≤ {h.samples_per_chunk}",
            f"  image {wording.image(h.channels, h.height, h.width)} uint8, {h.class_count} classes, labels {labels_text(h)}, "
            f"provenance {'yes' if h.has_provenance else 'no'}",
            f"  codec {h.codec}, image filter {h.image_filter}",
            "  chunk      offset    stored       raw   ratio  first  count images  rawCRC",
        ]
        for i, (offset, stored, raw, first, count, crc, images) in enumerate(r.index.tolist()):
            lines.append(f"  {i:5d} {offset:11d} {stored:9d} {raw:9d}  {stored / max(raw, 1):5.3f} {first:6d} {count:6d} "
                         f"{images:6d}  {crc:08x}")
        if samples:
            files = source_file_paths(path, h.split)
            for i in range(r.chunk_count):
                c = r.read_chunk(i)
                for s in range(min(len(c), 4)):
                    row = " ".join(f"{v:.3f}" for v in c.labels[s])
                    prov = "" if c.provenance is None else " " + describe_provenance(c.provenance[s], h.version)
                    if c.ops is not None:
                        prov += describe_ops(c.ops[s], int(c.provenance[s]["kind"]))
                    lines.append(f"  chunk {i} sample {c.first_sample + s}:{prov} label [{row}]")
                    if files is not None and c.provenance is not None and int(c.provenance[s]["primary"]) < len(files):
                        rec = c.provenance[s]
                        partner = int(rec["partner"])
                        mixed = int(rec["kind"]) != layout.KIND_COPY and partner < len(files)
                        lines.append(f"    file {files[int(rec['primary'])]}" + (f", partner {files[partner]}" if mixed else ""))
            lines.append(f"  all {r.chunk_count} chunks decoded and checked")
    return "\n".join(lines)


def source_file_paths(path: str, split: str) -> Optional[list[str]]:
    """The paths of the files behind the source images a shard's provenance indexes, when
    the shard lies in a directory made from image files (``DIR/train/epoch-NNN/`` or
    ``DIR/test/``; its file list parsed and checked row by row), else ``None``."""
    if split not in sourcefiles.SPLIT_FILES:
        return None
    up = 3 if split == "train" else 2
    directory = str(path)
    for _ in range(up):
        directory = os.path.dirname(directory)
    directory = directory or "."
    if not os.path.exists(os.path.join(directory, manifest_mod.FILE_NAME)):
        return None
    m = manifest_mod.load(directory)
    if m.source_files is None:
        return None
    entry = m.source_files.train if split == "train" else m.source_files.test
    list_path = os.path.join(directory, entry.file)
    if not os.path.exists(list_path):
        raise ShardError(f"{list_path}: missing")
    data, size, _ = fileio.read_listed(list_path, entry.bytes)
    if data is None:
        raise ShardError(f"{list_path}: {size} bytes, the manifest says {entry.bytes}")
    return sourcefiles.parse_files(data, list_path, split, m.class_names).paths


def describe_provenance(record, version: int) -> str:
    """One provenance record as ``mixprep inspect`` shows it: ``primary 12 partner 40 λ 0.8123``,
    then (v2) the kind and transforms, e.g. ``blend [flip 2,-1] partner [0,3]``, the box and ``ref``."""
    text = f"primary {int(record['primary'])} partner {int(record['partner'])} λ {float(record['lam']):.4f}"
    if version < 2:
        return text
    flags, kind = int(record["flags"]), int(record["kind"])

    def transform(who: str, bit: int) -> str:
        return f"[{'flip ' if flags & bit else ''}{int(record[who + '_dx'])},{int(record[who + '_dy'])}]"
    text += f" {layout.KINDS[kind]} {transform('primary', layout.FLIP_PRIMARY)}"
    if kind != layout.KIND_COPY:
        text += f" partner {transform('partner', layout.FLIP_PARTNER)}"
    if kind == layout.KIND_CUTMIX:
        text += (f" box [{int(record['box_x0'])},{int(record['box_x1'])})×"
                 f"[{int(record['box_y0'])},{int(record['box_y1'])})")
    if flags & layout.REFERENCE:
        text += " ref"
    return text


def describe_ops(record, kind: int) -> str:
    """A v4 op record as ``mixprep inspect`` shows it after the provenance (Swift's
    ``Provenance.opsSummary``): `` ops ResizedCrop(0,1,2×2) Rotate(-12.5) | Posterize(6); erase zero (1,0,1×2)``,
    the partner's part only for a mixed sample; empty without ops."""
    from .rules import float_text

    def image(o) -> str:
        parts = []
        if o["flags"] & layout.OPS_RESIZED_CROP:
            parts.append(f"ResizedCrop({int(o['crop_top'])},{int(o['crop_left'])},{int(o['crop_height'])}×{int(o['crop_width'])})")
        parts += [f"{layout.POLICY_OPS[int(o['slots']['id'][i])]}({float_text(o['slots']['magnitude'][i])})"
                  for i in range(int(o["count"]))]
        return " ".join(parts) if parts else "-"
    p, q, fill = record["primary"], record["partner"], int(record["erase_fill"])
    if not (p["count"] or p["flags"] or q["count"] or q["flags"] or fill):
        return ""
    text = " ops " + image(p)
    if kind != layout.KIND_COPY:
        text += " | " + image(q)
    if fill:
        text += (f"; erase {'zero' if fill == layout.ERASE_ZERO else 'random'} ({int(record['erase_top'])},"
                 f"{int(record['erase_left'])},{int(record['erase_height'])}×{int(record['erase_width'])})")
    return text


def main(argv: list[str] | None = None) -> int:
    try:
        try:
            code = _run(argv)
        except SystemExit:  # argparse's --help and usage errors: their text goes out too
            sys.stdout.flush()
            raise
        sys.stdout.flush()  # inside the try: a reader gone (`| head`) is seen here, not at exit
        return code
    except BrokenPipeError:
        # The reader went away: nothing to say, and nothing more to write at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return 1


def _run(argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mixshards", description="Read MixShard directories.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("inspect", help="print a shard file's header and chunk index (v1 or v2)")
    p.add_argument("file")
    p.add_argument("--samples", action="store_true", help="also decode every chunk and show its first samples")
    p = sub.add_parser("verify", help="check every shard of a directory against its manifest")
    p.add_argument("directory")
    args = parser.parse_args(argv)
    try:
        if args.command == "inspect":
            print(describe(args.file, args.samples))
            return 0
        problems = verify(args.directory)
        for line in problems:
            print(f"error: {line}", file=sys.stderr)
        if not problems:
            print(f"{args.directory}: every shard verified (OK)")
        return 1 if problems else 0
    except BrokenPipeError:
        raise
    except (ShardError, OSError, ValueError, MemoryError) as e:
        print(f"error: {one_line(e)}", file=sys.stderr)
        return 1


def one_line(e: BaseException) -> str:
    """An error as one line: a ShardError's message, an OSError as ``FILE: reason``."""
    if isinstance(e, MemoryError):
        text = "out of memory" + (f" ({e})" if str(e) else "")
    elif isinstance(e, OSError) and e.strerror:
        text = f"{e.filename}: {e.strerror}" if e.filename is not None else e.strerror
    else:
        text = str(e) or type(e).__name__
    return " ".join(text.splitlines())
