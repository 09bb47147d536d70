#!/usr/bin/env python3
# Usage: tools/module-cycles.py crates/hybrid-e2e-runner/src [LEVEL]   (LEVEL 1: top-level modules only)
"""Module import graph of a Rust crate's src/ (file = module), and its cycles (strongly connected
components). Edges come from `crate::a::b` and `super::x` paths anywhere in non-test code."""
import os, re, sys
root = sys.argv[1]
mods = {}
for d, _, files in os.walk(root):
    for f in files:
        if f.endswith('.rs'):
            p = os.path.join(d, f); rel = os.path.relpath(p, root)[:-3].split(os.sep)
            if rel[-1] in ('mod', 'lib', 'main'): rel = rel[:-1]
            mods[tuple(rel)] = p
def resolve(cur, path):
    parts = path.split('::')
    if parts[0] == 'crate': base = []; parts = parts[1:]
    elif parts[0] == 'super':
        base = list(cur)
        while parts and parts[0] == 'super': base = base[:-1]; parts = parts[1:]
    else: return None
    best = None
    for i in range(len(parts)+1):
        cand = tuple(base + parts[:i])
        if cand in mods: best = cand
    return best
edges = {m: set() for m in mods}
for m, p in mods.items():
    text = open(p).read()
    text = text.split('#[cfg(test)]')[0]
    text = re.sub(r'^\s*//.*$', '', text, flags=re.M)  # comments name modules without using them
    for mm in re.finditer(r'\b((?:crate|super)(?:::[A-Za-z_][A-Za-z0-9_]*)+)', text):
        t = resolve(m, mm.group(1))
        if t is not None and t != m and not (t == m[:len(t)]):  # ignore imports of own ancestors? keep parent edges
            edges[m].add(t)
    # `use super::{a, b}` groups
    for g in re.finditer(r'use (crate|super)((?:::\w+)*)::\{([^}]*)\}', text):
        for name in re.split(r'[,\s]+', g.group(3)):
            name = name.strip().split('::')[0]
            if not name or name == 'self': continue
            t = resolve(m, g.group(1)+g.group(2)+'::'+name)
            if t is not None and t != m: edges[m].add(t)
level = int(sys.argv[2]) if len(sys.argv) > 2 else 99
def cut(m): return m[:level]
g = {}
for a, bs in edges.items():
    for b in bs:
        ca, cb = cut(a), cut(b)
        if ca != cb and not (cb == ca[:len(cb)]) and not (ca == cb[:len(ca)]):
            g.setdefault(ca, set()).add(cb)
        g.setdefault(ca, set())
# tarjan
idx = {}; low = {}; st = []; on = set(); sccs = []; c = [0]
sys.setrecursionlimit(10000)
def sc(v):
    idx[v] = low[v] = c[0]; c[0] += 1; st.append(v); on.add(v)
    for w in g.get(v, ()):
        if w not in idx: sc(w); low[v] = min(low[v], low[w])
        elif w in on: low[v] = min(low[v], idx[w])
    if low[v] == idx[v]:
        comp = []
        while True:
            w = st.pop(); on.discard(w); comp.append(w)
            if w == v: break
        if len(comp) > 1: sccs.append(comp)
for v in list(g): 
    if v not in idx: sc(v)
print(f"{len(g)} modules, {sum(len(v) for v in g.values())} edges, {len(sccs)} cycles")
for comp in sccs: print("  cycle:", ", ".join('::'.join(x) or 'crate' for x in sorted(comp)))
