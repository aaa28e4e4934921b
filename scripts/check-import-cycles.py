#!/usr/bin/env python3
"""Report import cycles between the modules (one module = one file) of a crate.

Reads every `crate::…`, `super::…` and `self::…` path in a file (in `use` items and
inline in code) and every `use child::…` of a declared child module, resolves it to the
file that defines the item, and looks for cycles in the resulting graph. A module's
`pub use` re-exports are followed through to the defining file rather than counted as
a dependency of the re-exporting module (a `mod.rs` declaring or re-exporting its
children imports nothing; see below). Paths inside inline `mod name { … }` blocks (tests, say) are
resolved relative to that block, so `use super::*` in a file's tests is the file itself.

A path through a module that is not an ancestor of the user (`crate::server::StopSignal`
used outside crate::server) is a dependency on that module: the module is the interface.
With --follow-reexports every re-export is followed to the defining file instead.

Usage: scripts/check-import-cycles.py [--follow-reexports] [CRATE_SRC_DIR …]
       (default: src http/src bench/src)
Exit status 1 when a cycle is found.
"""

import os
import re
import sys

FOLLOW_ALL = False

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
PATH_RE = re.compile(r"(?<![A-Za-z0-9_:])((?:crate|super|self)(?:::" + IDENT + r")+)")
USE_START_RE = re.compile(r"^\s*(pub(?:\([^)]*\))?\s+)?use\s+")
INLINE_MOD_RE = re.compile(r"^(\s*)(?:pub(?:\([^)]*\))?\s+)?mod\s+(" + IDENT + r")\s*\{")
MOD_DECL_RE = re.compile(r"^\s*(?:#\[[^\]]*\]\s*)*(?:pub(?:\([^)]*\))?\s+)?mod\s+(" + IDENT + r")\s*;", re.M)


def module_files(src_dir):
    """module path (tuple) -> file, for the library crate rooted at src_dir/lib.rs."""
    mods = {}

    def walk(path_tuple, file):
        mods[path_tuple] = file
        text = open(file, encoding="utf-8").read()
        base = os.path.dirname(file)
        name = os.path.basename(file)
        if name not in ("lib.rs", "main.rs", "mod.rs"):
            base = os.path.join(base, name[:-3])
        for child in MOD_DECL_RE.findall(strip_comments(text)):
            for cand in (os.path.join(base, child + ".rs"), os.path.join(base, child, "mod.rs")):
                if os.path.exists(cand):
                    walk(path_tuple + (child,), cand)
                    break

    for root in ("lib.rs", "main.rs"):
        f = os.path.join(src_dir, root)
        if os.path.exists(f):
            walk((), f)
            break
    return mods


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def expand_use_tree(tree):
    """'a::{b, c::{d, e}}' -> ['a::b', 'a::c::d', 'a::c::e'] (aliases and globs dropped)."""
    tree = tree.strip()
    depth = 0
    for i, ch in enumerate(tree):
        if ch == "{":
            if depth == 0:
                prefix = tree[:i].rstrip(":").strip()
                inner = tree[i + 1 : tree.rindex("}")]
                parts, d, start = [], 0, 0
                for j, c in enumerate(inner):
                    if c == "{":
                        d += 1
                    elif c == "}":
                        d -= 1
                    elif c == "," and d == 0:
                        parts.append(inner[start:j])
                        start = j + 1
                parts.append(inner[start:])
                out = []
                for p in parts:
                    p = p.strip()
                    if not p:
                        continue
                    for sub in expand_use_tree(p):
                        if sub == "self":
                            out.append(prefix)
                        else:
                            out.append(prefix + "::" + sub if prefix else sub)
                return out
            depth += 1
    tree = re.sub(r"\s+as\s+" + IDENT + r"$", "", tree)
    tree = re.sub(r"::\*$", "", tree)
    return [tree] if tree and tree != "*" else []


def parse_file(file):
    """Yields (inline_mod_path, use_path, is_pub_use) for each path in the file."""
    lines = strip_comments(open(file, encoding="utf-8").read()).split("\n")
    stack = []  # (indent, name) of enclosing inline modules (rustfmt'd code)
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        while stack and stripped == "}" and indent == stack[-1][0]:
            stack.pop()
            stripped = ""
        m = INLINE_MOD_RE.match(line)
        if m:
            stack.append((len(m.group(1)), m.group(2)))
            i += 1
            continue
        inline = tuple(n for _, n in stack)
        um = USE_START_RE.match(line)
        if um:
            stmt = line[um.end():]
            while ";" not in stmt and i + 1 < len(lines):
                i += 1
                stmt += " " + lines[i].strip()
            stmt = stmt[: stmt.index(";")] if ";" in stmt else stmt
            for p in expand_use_tree(stmt):
                yield inline, p, bool(um.group(1))
        else:
            for p in PATH_RE.findall(line):
                yield inline, p, False
        i += 1


def main():
    global FOLLOW_ALL
    args = sys.argv[1:]
    FOLLOW_ALL = "--follow-reexports" in args
    dirs = [a for a in args if not a.startswith("--")] or ["src", "http/src", "bench/src"]
    found = False
    for src_dir in dirs:
        mods = module_files(src_dir)
        file_mod = {f: m for m, f in mods.items()}
        parsed = {f: list(parse_file(f)) for f in mods.values()}

        def absolute(mod, path):
            """Absolute segment list of `path` used in module `mod` (tuple), or None."""
            segs = path.split("::")
            if segs[0] == "crate":
                return list(segs[1:])
            if segs[0] in ("super", "self"):
                cur = list(mod)
                while segs and segs[0] in ("super", "self"):
                    if segs[0] == "super":
                        if not cur:
                            return None
                        cur.pop()
                    segs = segs[1:]
                return cur + segs
            if tuple(mod) + (segs[0],) in mods:
                return list(mod) + segs  # a child module, used without `self::`
            return None  # an extern crate, std, or a name in scope

        # Re-exports: (module, name) -> absolute path it stands for.
        reexports = {}
        for f, items in parsed.items():
            mod = file_mod[f]
            for inline, p, is_pub in items:
                if is_pub and not inline:
                    a = absolute(mod, p)
                    if a:
                        reexports[(mod, a[-1])] = a

        def resolve(segs, user, seen=0):
            """The file `user` (a module path) depends on by naming absolute path `segs`:
            the module the path names, or, for a name one of `user`'s ancestors
            re-exports (`use crate::php::Job` inside crate::php::pool), the file that
            defines it: a parent re-exporting its children imports nothing."""
            for n in range(len(segs), -1, -1):
                m = tuple(segs[:n])
                if m in mods:
                    rest = segs[n:]
                    through = FOLLOW_ALL or user[: len(m)] == m
                    if rest and (m, rest[0]) in reexports and through and seen < 16:
                        return resolve(reexports[(m, rest[0])] + rest[1:], user, seen + 1)
                    return mods[m]
            return None

        graph = {f: set() for f in mods.values()}
        for f, items in parsed.items():
            mod = file_mod[f]
            for inline, p, is_pub in items:
                if is_pub and not inline:
                    continue  # a re-export, followed through in resolve()
                a = absolute(mod + inline, p)
                if a is None:
                    continue
                target = resolve(a, mod)
                # Inside an inline module, a path into the file's own module tree
                # (`super::*` from tests) is the file itself.
                if target and target != f:
                    graph[f].add(target)

        cycles = find_cycles(graph)
        for c in cycles:
            found = True
            print(f"{src_dir}: cycle: " + " -> ".join(c + [c[0]]))
        if not cycles:
            print(f"{src_dir}: {len(mods)} modules, no import cycles")
    sys.exit(1 if found else 0)


def find_cycles(graph):
    """One representative cycle per non-trivial strongly connected component, plus
    every 2-cycle (the usual mutual import)."""
    index, low, on, stack, sccs, counter = {}, {}, set(), [], [], [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                sccs.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            strong(v)

    cycles = []
    for comp in sccs:
        members = set(comp)
        pairs = [[a, b] for a in comp for b in comp if a < b and b in graph[a] and a in graph[b]]
        cycles.extend(pairs)
        if not pairs:
            # shortest cycle through the first member, by BFS
            start = comp[0]
            prev, queue, done = {start: None}, [start], None
            while queue and not done:
                v = queue.pop(0)
                for w in sorted(graph[v] & members):
                    if w == start:
                        done = v
                        break
                    if w not in prev:
                        prev[w] = v
                        queue.append(w)
            path, v = [], done
            while v is not None:
                path.append(v)
                v = prev[v]
            cycles.append(path[::-1])
        elif len(members) > 2:
            print(f"note: strongly connected component of {len(comp)}: " + ", ".join(comp))
    return cycles


if __name__ == "__main__":
    main()
