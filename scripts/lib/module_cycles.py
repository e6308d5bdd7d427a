"""Finds circles in the module graph of a Rust crate's `src/`: an edge A -> B for every path
A's code names into B (`use crate::…`, `crate::…` paths, `super::…`, `pub use` re-exports),
tests (`#[cfg(test)]` onwards, `plan/tests.rs`) left out. Edges between a module and its own
parent or children are part of how Rust nests modules and are not counted; every other edge
is projected onto the children of the two modules' common ancestor (`engine::execute::create`
-> `engine::snapshot` counts as `engine::execute` -> `engine::snapshot`), so a circle between
siblings at any level is found. Prints each circle with its edges; exits 1 if there is one.

    module_cycles.py [SRC_DIR]   (default: src)
"""
import os
import re
import sys
files={}
ROOT = sys.argv[1] if len(sys.argv) > 1 else 'src'
for root,_,fs in os.walk(ROOT):
    for f in fs:
        if f.endswith('.rs'):
            p=os.path.join(root,f)
            mod=os.path.relpath(p, ROOT)[:-3].replace('/','::')
            if mod.endswith('::mod'): mod=mod[:-5]
            if mod in ('lib','main'): continue
            files[mod]=p
mods=set(files)
def resolve(path):
    parts=path.split('::')
    for i in range(len(parts),0,-1):
        m='::'.join(parts[:i])
        if m in mods: return m
    return None
def strip(t):
    i=t.find('#[cfg(test)]')
    t=t if i<0 else t[:i]
    t=re.sub(r'//.*','',t); t=re.sub(r'"(\\.|[^"\\])*"','""',t)
    return t
edges={}
for m,p in files.items():
    if m=='plan::tests': continue
    t=strip(open(p).read())
    deps=set()
    parent=m.rsplit('::',1)[0] if '::' in m else ''
    def add(path):
        r=resolve(path)
        if r and r!=m: deps.add(r)
    for mm in re.finditer(r'crate::((?:\w+::)*\w+)',t): add(mm.group(1))
    for mm in re.finditer(r'use crate::\{([^;]*)\};',t,re.S):
        for part in re.split(r',\s*(?![^{]*\})',mm.group(1)):
            part=part.strip()
            if not part: continue
            head=part.split('::{')[0]
            add(head)
    for mm in re.finditer(r'super::((?:\w+::)*\w+)',t):
        add((parent+'::' if parent else '')+mm.group(1))
    for mm in re.finditer(r'use super::\{([^;]*)\};',t,re.S):
        for part in re.split(r',\s*(?![^{]*\})',mm.group(1)):
            part=part.strip().split('::{')[0]
            if part: add((parent+'::' if parent else '')+part)
    edges[m]=deps
def related(a,b):  # parent/child or ancestor
    return a.startswith(b+'::') or b.startswith(a+'::')
def sibling_key(a,b):
    # project edge a->b onto the children of their common ancestor
    pa=a.split('::'); pb=b.split('::')
    i=0
    while i<min(len(pa),len(pb)) and pa[i]==pb[i]: i+=1
    return '::'.join(pa[:i+1]), '::'.join(pb[:i+1])
g={}
for a,ds in edges.items():
    for b in ds:
        if related(a,b): continue
        x,y=sibling_key(a,b)
        g.setdefault(x,set()).add(y)
# find cycles via SCC
idx={};low={};st=[];on=set();out=[];c=[0]
sys.setrecursionlimit(10000)
def sc(v):
    idx[v]=low[v]=c[0];c[0]+=1;st.append(v);on.add(v)
    for w in g.get(v,()):
        if w not in idx: sc(w);low[v]=min(low[v],low[w])
        elif w in on: low[v]=min(low[v],idx[w])
    if low[v]==idx[v]:
        comp=[]
        while True:
            w=st.pop();on.discard(w);comp.append(w)
            if w==v:break
        if len(comp)>1: out.append(comp)
for v in list(g):
    if v not in idx: sc(v)
for comp in out:
    print("cycle:",sorted(comp))
    for a in comp:
        for b in g.get(a,()):
            if b in comp: print("   ",a,"->",b)
sys.exit(1 if out else 0)
