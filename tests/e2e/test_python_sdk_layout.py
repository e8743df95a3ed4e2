"""The Python guest SDK's row layout is the host's: `wit/layout.rs` against
`guest-crates/python/tracemend_plugin.py`.

The Python module repeats the byte offsets of the packed row tables by hand (it
runs inside componentize-py, which cannot read Rust). This test reads both sources
as text (the Python module imports `wit_world`, which exists only inside a
component, so it is parsed, not imported) and holds every offset, size, kind,
operation and target equal, the struct formats the module packs edits and values
with included. A field added to `wit/layout.rs` fails here until the Python module
mirrors it or the test names it as one the module does not read.
"""

import ast
import pathlib
import re
import struct

ROOT = pathlib.Path(__file__).resolve().parents[2]
LAYOUT_RS = ROOT / "wit" / "layout.rs"
PLUGIN_PY = ROOT / "guest-crates" / "python" / "tracemend_plugin.py"

# Row tables: the Python dict's name for each `wit/layout.rs` module.
TABLES = {"resource": "RESOURCE", "scope": "SCOPE", "span": "SPAN", "event": "EVENT",
          "link": "LINK", "log": "LOG", "value": "VALUE", "edit": "EDIT"}
# Python field names that are not the Rust constant's name lowercased.
RENAMED = {"attrs": "ATTRS_FIRST", "dropped": "DROPPED_ATTRS",
           "events": "EVENTS_FIRST", "links": "LINKS_FIRST"}
# Fields the Python SDK does not read (it exposes no dropped counts of these).
NOT_READ = {("span", "DROPPED_EVENTS"), ("span", "DROPPED_LINKS")}


def rust_layout() -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    """Top-level constants and each `pub mod`'s constants of wit/layout.rs."""
    text = LAYOUT_RS.read_text()
    const = re.compile(r"pub const (\w+): \w+ = ([^;]+);")

    def value(expr: str) -> int:
        expr = expr.strip()
        if expr == "u32::MAX":
            return 0xFFFFFFFF
        return int(expr.replace("_", ""), 0)

    modules: dict[str, dict[str, int]] = {}
    for m in re.finditer(r"pub mod (\w+) \{(.*?)\n\}", text, re.S):
        modules[m.group(1)] = {k: value(v) for k, v in const.findall(m.group(2))}
    outside = re.sub(r"pub mod \w+ \{.*?\n\}", "", text, flags=re.S)
    top = {k: value(v) for k, v in const.findall(outside)}
    return top, modules


def python_layout() -> dict[str, object]:
    """The module-level constants of tracemend_plugin.py, evaluated from its
    syntax tree: ints, `dict(...)` of ints, `range(...)` unpacked into names,
    `X["field"]`, and `struct.Struct("...")` (kept as the format string)."""
    tree = ast.parse(PLUGIN_PY.read_text())
    env: dict[str, object] = {}

    def ev(node: ast.expr) -> object:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return env[node.id]
        if isinstance(node, ast.Subscript):
            return ev(node.value)[ev(node.slice)]
        if isinstance(node, ast.Call):
            func = ast.unparse(node.func)
            args = [ev(a) for a in node.args]
            if func == "dict":
                return {kw.arg: ev(kw.value) for kw in node.keywords}
            if func == "range":
                return list(range(*args))
            if func == "struct.Struct":
                return args[0]
        raise ValueError(f"cannot evaluate {ast.unparse(node)}")

    for stmt in tree.body:
        if not isinstance(stmt, ast.Assign) or len(stmt.targets) != 1:
            continue
        target = stmt.targets[0]
        try:
            value = ev(stmt.value)
        except (ValueError, KeyError):
            continue
        if isinstance(target, ast.Name):
            env[target.id] = value
        elif isinstance(target, ast.Tuple):
            names = [t.id for t in target.elts]
            assert len(names) == len(value), ast.unparse(stmt)
            env.update(zip(names, value))
    return env


def field_offsets(fmt: str) -> list[int]:
    """The offset of each field a `struct` format packs (pad bytes are not
    fields), for little-endian formats without alignment."""
    assert fmt[0] == "<", fmt
    offsets, at = [], 0
    for count, code in re.findall(r"(\d*)([xBHIQqd])", fmt[1:]):
        n = int(count or 1)
        size = struct.calcsize("<" + code)
        if code == "x":
            at += n
            continue
        for _ in range(n):
            offsets.append(at)
            at += size
    return offsets


def test_both_sources_are_read():
    top, modules = rust_layout()
    py = python_layout()
    assert set(TABLES) <= set(modules), sorted(modules)
    assert top["NONE"] == 0xFFFFFFFF
    assert all(len(modules[m]) >= 5 for m in TABLES), modules
    assert all(isinstance(py.get(name), dict) for name in TABLES.values()), sorted(py)


def test_none_sentinel():
    top, _ = rust_layout()
    assert python_layout()["NONE"] == top["NONE"]


def test_row_offsets_and_sizes():
    _, modules = rust_layout()
    py = python_layout()
    for module, name in TABLES.items():
        rust = modules[module]
        fields = py[name]
        mirrored = set()
        for field, offset in fields.items():
            const = RENAMED.get(field, field.upper())
            assert const in rust, f"{name}[{field!r}]: no {module}::{const} in wit/layout.rs"
            assert offset == rust[const], (
                f"{name}[{field!r}] is {offset}, {module}::{const} is {rust[const]}")
            mirrored.add(const)
        # The SDK reads a run's count four bytes after its first index.
        for const in list(mirrored):
            if const.endswith("_FIRST"):
                count = const.removesuffix("_FIRST") + "_COUNT"
                assert rust.get(count) == rust[const] + 4, f"{module}::{count}"
                mirrored.add(count)
        offsets = {k for k in rust if not k.startswith(("KIND_", "OP_", "TARGET_"))}
        missing = {(module, k) for k in offsets - mirrored} - NOT_READ
        assert not missing, f"not mirrored in tracemend_plugin.py: {sorted(missing)}"


def test_kinds_operations_and_targets():
    _, modules = rust_layout()
    py = python_layout()
    enums = {k: v for m in ("value", "edit") for k, v in modules[m].items()
             if k.startswith(("KIND_", "OP_", "TARGET_"))}
    assert len(enums) == 8 + 7 + 6, sorted(enums)
    for const, value in enums.items():
        assert py.get(const) == value, f"{const}: Python {py.get(const)}, Rust {value}"
    assert py["VALUE_SIZE"] == modules["value"]["SIZE"]
    assert py["EDIT_SIZE"] == modules["edit"]["SIZE"]


def test_packed_formats_put_fields_at_the_layout_offsets():
    _, modules = rust_layout()
    py = python_layout()
    edit, value = modules["edit"], modules["value"]
    row = py["_EDIT_ROW"]
    assert struct.calcsize(row) == edit["SIZE"], row
    op, target, _pad, index, text, text_len, val, code = field_offsets(row)
    assert (op, target, index, text, val, code) == (
        edit["OP"], edit["TARGET"], edit["INDEX"], edit["TEXT"], edit["VALUE"], edit["CODE"])
    assert text_len == edit["TEXT"] + 4
    head = py["_VALUE_HEAD"]
    kind, parent, key, key_len = field_offsets(head)
    assert (kind, parent, key) == (value["KIND"], value["PARENT"], value["KEY"])
    assert key_len == value["KEY"] + 4
    # The payload follows the head.
    assert struct.calcsize(head) == value["PAYLOAD"]
    assert value["PAYLOAD"] + 8 == value["SIZE"]
