#!/usr/bin/env python3
"""Self instruction counts by function of JIT-compiled guest code, per call.

valgrind names no function in code wasmtime compiled at run time; wasmtime's
perf map (`TRACEMEND_WASM_PERFMAP=1` writes /tmp/perf-PID.map) does. This
joins the two: for a callgrind profile taken with `--dump-instr=yes` and the
perf map of the same process, it sums each instruction's self cost into the
guest function whose address range holds it ("(not guest)" for the rest).

Given two profiles (a run of 0 calls and a run of N calls), it prints the
difference divided by N: the cost of one call, without startup and
`configure`. Used by `scripts/guest-icount.sh`.

    callgrind_by_function.py BASE.out BASE.map RUN.out RUN.map N [TOP]

With `--annotate`, it prints one guest function's machine code (objdump of
the compiled `.cwasm`, whose symbols carry the same names as the perf map)
with each instruction's count per call beside it, to see which loop of a
large function the instructions go to:

    callgrind_by_function.py --annotate NAME_PART RUN.out RUN.map N CWASM_OR_CACHE_DIR
"""

import bisect
import collections
import glob
import os
import re
import subprocess
import sys


def read_map(path):
    """(start, size, name) of every guest function, sorted by start."""
    ranges = []
    with open(path) as f:
        for line in f:
            addr, size, name = line.rstrip("\n").split(" ", 2)
            # wasmtime writes each function twice, once with its
            # `wasm[0]::function[N]::` prefix; keep the plain symbol.
            if name.startswith("wasm["):
                continue
            ranges.append((int(addr, 16), int(size, 16), name))
    ranges.sort()
    return ranges


def position(token, previous):
    """A callgrind position: absolute, relative (+n/-n) or repeated (*)."""
    if token == "*":
        return previous
    if token[0] in "+-":
        return previous + int(token, 0)
    return int(token, 0)


def self_costs(profile):
    """(instruction address, self cost) of every cost line of a profile
    taken with `--dump-instr=yes`."""
    addr = 0
    after_calls = False
    with open(profile) as f:
        for line in f:
            if not line or not (line[0].isdigit() or line[0] in "+-*"):
                # The cost line after `calls=` is the callee's inclusive
                # cost, not this function's own.
                after_calls = line.startswith("calls=")
                continue
            fields = line.split()
            if len(fields) < 3:
                continue
            addr = position(fields[0], addr)
            if after_calls:
                after_calls = False
                continue
            yield addr, int(fields[2])


def self_cost(profile, ranges):
    """Self instruction count by guest function name."""
    starts = [r[0] for r in ranges]
    cost = collections.Counter()
    for addr, n in self_costs(profile):
        i = bisect.bisect_right(starts, addr) - 1
        if i >= 0 and addr < ranges[i][0] + ranges[i][1]:
            cost[ranges[i][2]] += n
        else:
            cost["(not guest)"] += n
    return cost


def instruction_costs(profile, start, size):
    """Self cost by offset of each instruction in `start..start + size`."""
    cost = collections.Counter()
    for addr, n in self_costs(profile):
        if start <= addr < start + size:
            cost[addr - start] += n
    return cost


def annotate(part, profile, perf_map, calls, cwasm):
    matches = [r for r in read_map(perf_map) if part in r[2]]
    if len({r[2] for r in matches}) != 1:
        names = "\n  ".join(r[2] for r in matches) or "(none)"
        sys.exit(f"{len(matches)} guest functions match {part!r}:\n  {names}")
    # The same module loaded twice (two processors) is mapped twice: the
    # copy that ran is the one with the cost.
    costs = [(instruction_costs(profile, r[0], r[1]), r) for r in matches]
    cost, (start, size, name) = max(costs, key=lambda c: sum(c[0].values()))
    # The object's symbols are `wasm[0]::function[N]::<name>` with long
    # names cut short; the perf map's prefixed entry at the same address
    # gives the `wasm[0]::function[N]::` to look for.
    prefix = None
    with open(perf_map) as f:
        for line in f:
            addr, _, full = line.rstrip("\n").split(" ", 2)
            if int(addr, 16) == start and full.startswith("wasm["):
                prefix = full[: full.index("::", full.index("function[")) + 2]
    # `cwasm` may be the benchmark's cache folder: it holds every guest the
    # run compiled, whose function numbers differ, so the file is the one
    # with this number *and* this name.
    files = sorted(glob.glob(os.path.join(cwasm, "*.cwasm"))) if os.path.isdir(cwasm) else [cwasm]
    sym = None
    for path in files:
        symbols = subprocess.run(["objdump", "-t", path], capture_output=True, text=True, check=True)
        for l in symbols.stdout.splitlines():
            full = l.split()[-1] if l.split() else ""
            if prefix and full.startswith(prefix) and name.startswith(full[len(prefix):]):
                sym, cwasm = l.split(), path
                break
        if sym:
            break
    if sym is None:
        sys.exit(f"{name} is not a symbol of {' '.join(files)}")
    base = int(sym[0], 16)
    dump = subprocess.run(
        ["objdump", "-d", "--no-show-raw-insn", f"--start-address={base:#x}",
         f"--stop-address={base + size:#x}", cwasm],
        capture_output=True, text=True, check=True,
    )
    total = sum(cost.values()) / calls
    print(f"{name}: {total:,.0f} instructions per call")
    for line in dump.stdout.splitlines():
        m = re.match(r"\s*([0-9a-f]+):\s*(.*)$", line)
        if not m:
            continue
        n = cost.get(int(m.group(1), 16) - base, 0) / calls
        print(f"{n:10,.0f}  {int(m.group(1), 16) - base:6x}  {m.group(2)}")


def main(argv):
    if len(argv) == 7 and argv[1] == "--annotate":
        annotate(argv[2], argv[3], argv[4], int(argv[5]), argv[6])
        return
    if len(argv) not in (6, 7):
        sys.exit(__doc__)
    base = self_cost(argv[1], read_map(argv[2]))
    run = self_cost(argv[3], read_map(argv[4]))
    calls = int(argv[5])
    top = int(argv[6]) if len(argv) == 7 else 25
    per_call = {k: (run.get(k, 0) - base.get(k, 0)) / calls for k in set(base) | set(run)}
    total = sum(per_call.values())
    print(f"instructions per call: {total:,.0f}")
    for name, n in sorted(per_call.items(), key=lambda kv: -kv[1])[:top]:
        print(f"{n:12,.0f} {100 * n / total:5.1f}%  {name[:110]}")


if __name__ == "__main__":
    main(sys.argv)
