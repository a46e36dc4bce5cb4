#!/usr/bin/env python3
"""Damage one page of a named table of an LMDB data.mdb (LMDB 0.9's 64-bit layout), as a flipped
byte would: the tests of what the tool does on a damaged page of an ordinary table.
  lmdb_page.py DATA.MDB TABLE KIND FIELD VALUE
KIND: leaf or branch (the table's first page of that kind, in key order; leaf#N: its leaf N, from
0); FIELD: flags, lower or upper (the page header's 16-bit fields). Prints the page number damaged; exit 1 when none."""
import struct
import sys

path, table, kind, field, value = sys.argv[1], sys.argv[2].encode(), sys.argv[3], sys.argv[4], int(sys.argv[5], 0)
data = bytearray(open(path, 'rb').read())
psize = 4096
u16 = lambda o: struct.unpack_from('<H', data, o)[0]
u64 = lambda o: struct.unpack_from('<Q', data, o)[0]
# the meta page of the last commit: its main table's root (MDB_meta after a page header of 16)
meta = max((u64(i * psize + 16 + 128), i * psize + 16) for i in range(2))[1]


def pages(root):
    """The pages of a tree in key order (branch before its children), as (pgno, is_branch)."""
    out, todo = [], [root]
    while todo:
        pg = todo.pop()
        p = pg * psize
        nodes = [u16(p + 16 + 2 * i) for i in range((u16(p + 12) - 16) // 2)]
        branch = bool(u16(p + 10) & 1)
        out.append((pg, branch))
        if branch:
            todo.extend(reversed([u16(p + o) | u16(p + o + 2) << 16 | u16(p + o + 4) << 32 for o in nodes]))
    return out


def table_root(name):
    for pg, branch in pages(u64(meta + 72 + 40)):
        if branch:
            continue
        p = pg * psize
        for i in range((u16(p + 12) - 16) // 2):
            o = p + u16(p + 16 + 2 * i)
            ks = u16(o + 6)
            if bytes(data[o + 8:o + 8 + ks]) == name and u16(o + 4) & 2:
                return u64(o + 8 + ks + 40)
    sys.exit('no table %s' % name.decode())



root = table_root(table)
if root == 2**64 - 1:
    sys.exit('table %s is empty' % table.decode())
kind, _, nth = kind.partition('#')
nth = int(nth or 0)
for pg, branch in pages(root):
    if branch == (kind == 'branch') and nth > 0:
        nth -= 1
    elif branch == (kind == 'branch'):
        struct.pack_into('<H', data, pg * psize + {'flags': 10, 'lower': 12, 'upper': 14}[field], value)
        open(path, 'r+b').write(data)
        print(pg)
        break
else:
    sys.exit('no %s page in %s' % (kind, table.decode()))
