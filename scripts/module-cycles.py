#!/usr/bin/env python3
"""Finds import loops between the files of a Rust crate.

A file's module path comes from where it lives under `src/`; an edge A -> B is any `crate::…`,
`super::…` or `self::…` path in A that names an item of B's module. Loops (strongly connected
components of more than one file) are printed and make the exit status 1, so CI can hold the line
that no import loop spans files.

Usage: scripts/module-cycles.py crates/server [crates/mvcc ...]
"""
import os
import re
import sys

PATH = re.compile(r"\b(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)+)")
USE_GROUP = re.compile(r"\buse\s+(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)*)::\{([^;]*)\};", re.S)
# `use child::Item;` in a parent module (the 2018 edition's relative paths).
CHILD_USE = re.compile(r"\buse\s+([a-z_][a-z0-9_]*)((?:::[A-Za-z_][A-Za-z0-9_]*|::\{[^;]*\})+);", re.S)


def module_of(src, path):
    rel = os.path.relpath(path, src)[:-3].split(os.sep)
    if rel[-1] in ("lib", "main", "mod"):
        rel = rel[:-1]
    return tuple(rel)


def strip_comments_and_tests(text):
    text = re.sub(r"//[^\n]*", "", text)
    # In-file unit tests may reach anywhere; they are not part of the module's design.
    cut = re.search(r"#\[cfg\(test\)\]\s*mod\s+\w+\s*\{", text)
    return text[: cut.start()] if cut else text


def resolve(base, kind, parts, here):
    if kind == "crate":
        start = ()
    elif kind == "self":
        start = here
    else:
        start = here
        while parts and parts[0] == "super":
            parts = parts[1:]
            start = start[:-1]
        start = start[:-1]
    return start + tuple(parts)


def referenced_paths(text, here):
    for m in USE_GROUP.finditer(text):
        kind, prefix = m.group(1), [p for p in m.group(2).split("::") if p]
        for item in re.split(r"[,\s]+", re.sub(r"\{[^}]*\}", "", m.group(3))):
            item = item.split(" as ")[0].strip()
            if item and item != "self":
                yield resolve(None, kind, prefix + item.split("::"), here)
            elif item == "self":
                yield resolve(None, kind, prefix, here)
        for inner in re.finditer(r"(\w+)::\{([^}]*)\}", m.group(3)):
            for item in re.split(r"[,\s]+", inner.group(2)):
                if item:
                    yield resolve(None, kind, prefix + [inner.group(1), item], here)
    for m in CHILD_USE.finditer(text):
        if m.group(1) not in ("crate", "super", "self", "std", "core", "alloc"):
            yield here + (m.group(1),)
    for m in PATH.finditer(USE_GROUP.sub("", text)):
        parts = [p for p in m.group(2).split("::") if p]
        yield resolve(None, m.group(1), parts, here)


def graph(crate):
    src = os.path.join(crate, "src")
    files = {}
    for root, _, names in os.walk(src):
        for name in names:
            if name.endswith(".rs"):
                path = os.path.join(root, name)
                files[module_of(src, path)] = path
    edges = {m: set() for m in files}
    for mod, path in files.items():
        if os.path.basename(path) in ("main.rs",) or path.endswith("tests.rs"):
            continue
        with open(path) as f:
            text = strip_comments_and_tests(f.read())
        for ref in referenced_paths(text, mod):
            target = ref
            while target and target not in files:
                target = target[:-1]
            if target in files and target != mod and target != ():
                edges[mod].add(target)
    return files, edges


def loops(edges):
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
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
                out.append(comp)

    sys.setrecursionlimit(10000)
    for v in edges:
        if v not in index:
            visit(v)
    return out


def main():
    found = False
    for crate in sys.argv[1:]:
        files, edges = graph(crate)
        for comp in loops(edges):
            found = True
            names = sorted(os.path.relpath(files[m], crate) for m in comp)
            print(f"{crate}: import loop between {', '.join(names)}")
    sys.exit(1 if found else 0)


if __name__ == "__main__":
    main()
