#!/usr/bin/env bash
# Checks that rawrt's top-level modules import only downward (issue 11).
#
# The layers, lowest first; a module may import from its own layer and
# from any layer below, never from one above:
#
#   0  arch                 `_start`, the system-call instruction, the thread pointer
#   1  sys, mem             typed system calls; memcpy & co. (mem imports only arch)
#   2  rt, check            start-up, exit, I/O, errno, the thread-control-block head
#                           (rt/tls.rs); check, the harness of the static-ELF tests,
#                           uses only sys and rt (printing, exit)
#   3  sync                 locks
#   4  heap, pool, gran     allocators (heap implementing pool's ChunkSource is fine)
#   5  thread               spawn, join, C11 threads
#   6  cabi                 the `extern "C"` shims
#   7  lib, testing         the crate root (src/lib.rs: module list, global
#                           allocator); the hosted unit tests' tables (test-only,
#                           they drive every layer; the runner and the hosted
#                           checks live outside the library, in testkit/)
#
# What counts as an import: every `crate::X` path (in `use` lines, brace
# groups such as `use crate::{sys::Errno, print}` over several lines, and
# paths in code) and every `$crate::X` in a macro body, in src/<module>.rs
# and src/<module>/**. Lines that are comments or docs (`//`, `///`, `//!`,
# and the rest of a line after `//`) and string literals are ignored, so a
# doc link to an upper layer is prose, not a dependency. A macro path
# (`crate::print!`, `crate::syscall!`, or `use crate::{print}`) counts as an
# import of the module whose file defines the `macro_rules!`. Another root
# name (`crate::GLOBAL`) counts as lib.
#
# First exemption (checked): `crate::check::Rng` is the test random
# generator, src/check/rng.rs, which imports nothing from the crate (this
# script verifies that); the hosted unit tests see it as lib.rs's test-only
# `mod check { mod rng; }`. Any module may use it (today mem's tests from
# below layer 2; heap's, pool's and gran's tests use it from above anyway):
# a leaf file cannot close a circle.
#
# Second exemption (test-only): src/testing.rs is the hosted unit tests'
# main (their tables, run by rawrt_testkit::run), compiled only in that build (`#[cfg(test)] mod testing` in
# lib.rs); it lists each module's test table and offers the death-test
# helper `testing::dies` (fork, expect a signal), which the modules' test
# files use (src/pool/tests.rs today). Those files are compiled only under
# `#[cfg(test)]` too, so the edge back to `testing` exists in no library
# build; it is allowed from test files only (tests.rs, tests_*.rs).
#
# Usage: scripts/layers.sh [--list]. Prints one line per upward import
# (file:line: from -> to) and exits 1 if there is any; --list also prints
# every module-to-module edge with its count.
set -euo pipefail
cd "$(dirname "$0")/.."

list=0
[ "${1:-}" = "--list" ] && list=1

# Module -> layer.
layers='arch 0
sys 1
mem 1
rt 2
check 2
sync 3
heap 4
pool 4
gran 4
thread 5
cabi 6
lib 7
testing 7'

# Every top-level module in src/ must have a layer.
for f in src/*.rs src/*/; do
    m=$(basename "$f" .rs)
    if ! grep -q "^$m " <<<"$layers"; then
        echo "scripts/layers.sh: module $m has no layer: add it to the list" >&2
        exit 2
    fi
done

# The exemption's condition: rng.rs names nothing of the crate.
if [ -f src/check/rng.rs ] && grep -v '^\s*//' src/check/rng.rs | grep -qE '(^|[^a-z_])(crate|super)::'; then
    echo "scripts/layers.sh: src/check/rng.rs imports from the crate: crate::check::Rng is no longer a leaf" >&2
    exit 2
fi

# Macro name -> defining module.
macros=$(grep -rnoE 'macro_rules!\s*[A-Za-z_][A-Za-z0-9_]*' src --include=*.rs |
    sed -E 's#^src/([^/:.]+)(\.rs|/[^:]*):[0-9]+:macro_rules!\s*# \1 #' | awk '{print $2, $1}')

mapfile -t files < <(find src -name '*.rs' | sort)
awk -v list="$list" -v layers="$layers" -v macros="$macros" '
BEGIN {
    n = split(layers, l, "\n")
    for (i = 1; i <= n; i++) { split(l[i], f, " "); rank[f[1]] = f[2] + 0 }
    n = split(macros, l, "\n")
    for (i = 1; i <= n; i++) { split(l[i], f, " "); if (f[1] != "") mac[f[1]] = f[2] }
    bad = 0
}
function module_of(path,   p) {
    p = path; sub(/^src\//, "", p)
    if (p == "lib.rs") return "lib"
    sub(/\/.*/, "", p); sub(/\.rs$/, "", p)
    return p
}
# The module a path segment names: a module, a macro, or a root item.
function target(name, after) {
    if (name in rank && name != "lib" && after != "!") return name
    if (name in mac) return mac[name]
    return "lib"
}
function edge(to, item) {
    if (to == from) return
    if (to == "check" && item == "Rng") return                 # the first exemption above
    if (to == "testing" && FILENAME ~ /\/tests(_[a-z_0-9]+)?\.rs$/) return   # the second
    count[from " -> " to]++
    if (rank[to] > rank[from]) {
        printf "%s:%d: %s -> %s (layer %d imports layer %d)\n", FILENAME, at, from, to, rank[from], rank[to]
        bad++
    }
}
# The first identifier of s, and what follows it.
function ident(s) {
    if (match(s, /^[ \t\n]*[A-Za-z_][A-Za-z0-9_]*/)) {
        id = substr(s, RSTART, RLENGTH); gsub(/[ \t\n]/, "", id)
        rest = substr(s, RSTART + RLENGTH)
        return 1
    }
    return 0
}
# A brace group after `crate::{`: one edge per top-level item.
function group(s,   depth, i, c, item) {
    depth = 0; item = ""
    for (i = 1; i <= length(s); i++) {
        c = substr(s, i, 1)
        if (c == "{") depth++
        else if (c == "}") { if (depth == 0) { one(item); return } depth-- }
        else if (c == "," && depth == 0) { one(item); item = ""; continue }
        item = item c
    }
    one(item)
}
function one(item,   nm, after, sub2) {
    if (!ident(item)) return
    nm = id; after = rest
    sub2 = ""
    if (after ~ /^::/ && ident(substr(after, 3))) sub2 = id
    edge(target(nm, substr(after, 1, 1)), sub2)
}
# Scans one line of code for crate paths.
function scan(s,   nm, after, sub2) {
    while (match(s, /(^|[^A-Za-z0-9_])\$?crate::/)) {
        s = substr(s, RSTART + RLENGTH)
        if (substr(s, 1, 1) == "{") {
            pending = substr(s, 2)
            if (index(pending, "}") && balanced(pending)) { group(pending); pending = "" }
            else { ingroup = 1; groupline = FNR; return }
            continue
        }
        if (!ident(s)) continue
        nm = id; after = rest
        sub2 = ""
        if (after ~ /^::/ && ident(substr(after, 3))) sub2 = id
        edge(target(nm, substr(after, 1, 1)), sub2)
    }
}
# Whether the group text closes its first brace.
function balanced(s,   d, i, c) {
    d = 0
    for (i = 1; i <= length(s); i++) {
        c = substr(s, i, 1)
        if (c == "{") d++
        else if (c == "}") { if (d == 0) return 1; d-- }
    }
    return 0
}
FNR == 1 { from = module_of(FILENAME); ingroup = 0; pending = "" }
{
    line = $0
    if (line ~ /^[ \t]*\/\//) next
    gsub(/\\\\/, "", line)                  # escaped backslashes, then
    gsub(/\\"/, "", line)                   # escaped quotes, then
    gsub(/"[^"]*"/, "\"\"", line)           # string literals
    sub(/\/\/.*/, "", line)                 # a trailing comment
    if (ingroup) {
        pending = pending "\n" line
        if (balanced(pending)) { at = groupline; group(pending); pending = ""; ingroup = 0 }
        next
    }
    at = FNR
    scan(line)
}
END {
    if (list) for (e in count) printf "edge %s (%d)\n", e, count[e] | "sort"
    close("sort")
    if (bad) { printf "%d upward import(s): see the layers in scripts/layers.sh\n", bad; exit 1 }
    print "layers: ok (no module imports from a layer above its own)"
}' "${files[@]}"
