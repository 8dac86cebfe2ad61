#!/usr/bin/env python3
"""st_torch_check.py - loads .safetensors checkpoints (groovybee's, or anyone's F32 ones) into
torch tensors by parsing the format by hand, as docs/formats.md describes it, so it works with
Debian's torch 1.13, which has no `safetensors` package. Where `safetensors` is installed, it
also loads each file with safetensors.torch.load_file and checks that both agree bit for bit.

    /usr/bin/python3 tools/st_torch_check.py FILE.safetensors...

Prints each tensor's name, shape and sum; exits 1 if a file breaks the spec or the two loads
disagree. A developer tool: the test suite's own cross-check (tests/test_safetensors.c) needs
only python3 and numpy.
"""
import json
import struct
import sys

import numpy as np
import torch


def load(path):
    """The manual parse: u64 header length, JSON header, then the tensors' bytes."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError("shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", raw[:8])
    if n > len(raw) - 8:
        raise ValueError("header length %d runs past the end" % n)
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {})
    data = raw[8 + n:]
    tensors, at = {}, 0
    # The spec wants the tensors to tile the data section: check it in offset order.
    for name, info in sorted(header.items(), key=lambda kv: tuple(kv[1]["data_offsets"])):
        if info["dtype"] != "F32":
            raise ValueError("%s: dtype %s, not F32" % (name, info["dtype"]))
        b, e = info["data_offsets"]
        shape = info["shape"]
        if b != at or e - b != 4 * int(np.prod(shape, dtype=np.int64)):
            raise ValueError("%s: data_offsets %r do not fit" % (name, [b, e]))
        at = e
        # '<f4' then native: right on any host; copy: torch wants writable memory.
        arr = np.frombuffer(data, dtype="<f4", count=(e - b) // 4, offset=b).astype("=f4")
        tensors[name] = torch.from_numpy(arr.reshape(shape).copy())
    if at != len(data):
        raise ValueError("the tensors cover %d of %d data bytes" % (at, len(data)))
    # Back in the header's order, which is the writer's.
    return {k: tensors[k] for k in header}, meta


def main(paths):
    try:
        from safetensors.torch import load_file
    except ImportError:
        load_file = None
    bad = 0
    for path in paths:
        try:
            tensors, meta = load(path)
        except (ValueError, KeyError, TypeError, UnicodeDecodeError, json.JSONDecodeError) as e:
            print("%s: not a valid F32 safetensors file: %s" % (path, e))
            bad = 1
            continue
        print("%s: %d tensors, metadata %r" % (path, len(tensors), meta))
        for name, t in tensors.items():
            print("  %-40s %-18s %s sum %.9g" % (json.dumps(name, ensure_ascii=False),
                                                 tuple(t.shape), t.dtype,
                                                 float(t.double().nansum())))
        if load_file is not None:
            ref = load_file(path)
            same = ref.keys() == tensors.keys() and all(
                ref[k].shape == tensors[k].shape and
                torch.equal(ref[k].view(torch.int32), tensors[k].view(torch.int32))
                for k in tensors)
            print("  safetensors.torch.load_file: %s" % ("same" if same else "DIFFERENT"))
            bad |= not same
        else:
            print("  (safetensors not installed: manual parse only)")
    return bad


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1:]))
