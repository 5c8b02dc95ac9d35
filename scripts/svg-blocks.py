#!/usr/bin/env python3
"""Reads a heap picture (rawrt_heap_svg, heap::svg_to_fd) on stdin with an
XML parser, counts and sums its blocks by kind, and sums the figures of its
heaps. Prints "KIND COUNT BYTES" per kind and "figures ALLOCATED_BLOCKS
ALLOCATED_BYTES FREE_BLOCKS FREE_BYTES"; exits 1 if the blocks drawn do not
add up to the figures (allocated: used + large; free: free + cached + top).
Used by testkit/tests/hosted/heapmap.rs and scripts/cross.sh."""
import sys
import xml.etree.ElementTree as ET

root = ET.fromstring(sys.stdin.buffer.read())
ns = '{http://www.w3.org/2000/svg}'
n, b = {}, {}
for e in root.iter(ns + 'rect'):
    size = e.get('data-size')
    if size is None:
        continue
    k, size = e.get('class'), int(size)
    # The top counts as a free block when it could hold one (24 usable bytes).
    n[k] = n.get(k, 0) + (k != 'top' or size >= 24)
    b[k] = b.get(k, 0) + size
kinds = ('used', 'free', 'cached', 'top', 'large')
for k in kinds:
    print(k, n.get(k, 0), b.get(k, 0))
f = [0, 0, 0, 0]
for g in root.iter(ns + 'g'):
    if g.get('class') == 'figures':
        for i, a in enumerate(('allocated-blocks', 'allocated-bytes', 'free-blocks', 'free-bytes')):
            f[i] += int(g.get('data-' + a))
print('figures', *f)
drawn = [sum(n.get(k, 0) for k in ('used', 'large')), sum(b.get(k, 0) for k in ('used', 'large')),
         sum(n.get(k, 0) for k in ('free', 'cached', 'top')), sum(b.get(k, 0) for k in ('free', 'cached', 'top'))]
if drawn != f:
    print('blocks drawn', drawn, 'do not match the figures', f, file=sys.stderr)
    sys.exit(1)
