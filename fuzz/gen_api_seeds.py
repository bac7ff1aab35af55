#!/usr/bin/env python3
"""fuzz/gen_api_seeds.py - writes the fuzz_api seed corpus (fuzz/corpus/api/).

Each seed is a byte program for fuzz/fuzz_api.c: byte 0 the configuration,
then operations (see the encoders below, which mirror the harness's reader).
Run: python3 fuzz/gen_api_seeds.py fuzz/corpus/api [fuzz/crashes]
"""
import struct, os, sys
out = sys.argv[1]
def u16(v): return struct.pack('<H', v & 0xffff)
class S:
    def __init__(s, cfg): s.b = bytearray([cfg])
    def map(s, dev, kind, dir, pieces):
        # kind 0 single 1 page 2 phys 3 sg 4 sgtable; piece: (arena, lenclass, v16, offv16, offb8)
        a = next(a for a in range(256) if a % 6 == dev and (a >> 2) % 5 == kind)
        s.b += bytes([0, a, dir])
        if kind in (3, 4): s.b += bytes([len(pieces) - 1])
        for (ar, c, v, o16, o8) in pieces:
            s.b += bytes([ar, c]) + u16(v) + u16(o16) + bytes([o8])
        return s
    def unmap(s, sel): s.b += bytes([3, sel]); return s
    def dwrite(s, sel, a, b): s.b += bytes([4, sel]) + u16(a) + u16(b); return s
    def dread(s, sel, a, b): s.b += bytes([5, sel]) + u16(a) + u16(b); return s
    def synccpu(s, sel, how, a, b): s.b += bytes([6, sel, how]) + u16(a) + u16(b); return s
    def cycle(s, sel, how, a, b): s.b += bytes([7, sel, how]) + u16(a) + u16(b); return s
    def alloc(s, dev, nc, size):
        a = next(a for a in range(256) if a % 6 == dev and bool(a & 4) == nc)
        s.b += bytes([8, a]) + u16(size); return s
    def aacc(s, sel, how, a, b): s.b += bytes([9, sel, how]) + u16(a) + u16(b); return s
    def free(s, sel): s.b += bytes([21, sel]); return s   # 21 % 12 == 9, bit 4 set
    def params(s, dev, a): s.b += bytes([23, dev, a]); return s   # 23 % 12 == 11, bit 4 set
    def mask(s, dev, bitsidx, mode):
        s.b += bytes([10, dev, bitsidx | (mode << 6)]); return s
    def cpu(s, c): s.b += bytes([11, c]); return s
seeds = {}
def exhaust(cfg):
    # 20 large to-device maps of high-arena buffers for the 32-bit device, then their unmaps
    s = S(cfg)
    for i in range(20):
        s.map(0, 0, 1, [(1, 2, 0x3fff, i * 1700, 0)])
    for i in range(20):
        s.unmap(0)
    return s
# 1: bounce a high buffer for the 32-bit coherent device, device writes, CPU syncs, unmap
seeds['bounce-bidi'] = S(0x04).map(0, 0, 0, [(1, 1, 4000, 3, 0)]).dwrite(0, 10, 2000).synccpu(0, 2, 100, 500).cycle(0, 3, 50, 700).dread(0, 0, 0xffff).unmap(0)
# 2: non-coherent 64-bit device, direct, from-device, partial syncs
seeds['noncoherent-direct'] = S(0x10).map(1, 0, 2, [(0, 1, 3000, 10, 5)]).dwrite(0, 1, 1000).synccpu(0, 0, 0, 200).synccpu(0, 1, 0, 0).cycle(0, 0, 0, 0).unmap(0)
# 3: sg lists on every device, both arenas
s = S(0x08)
for dev in range(4):
    s.map(dev, 3, dev % 3, [(1, 1, 1000 + 7 * i, 50 * i + dev * 700, i) for i in range(4)])
for sel in range(4):
    s.dwrite(sel, 0, 0xffff).cycle(sel, 1, 17, 300)
for sel in range(4):
    s.unmap(0)
seeds['sg-all-devices'] = s
# 4: exhaust the 1 MiB pool with large to-device maps from the high arena, then free
seeds['pool-exhaustion'] = exhaust(0x00)
# 5: same with swiotlb=force + dynamic growth
s = S(0x03)
for i in range(24):
    s.map(i % 3, i % 3, i % 3, [(i & 1, 2, 0x2fff, i * 1300, 0)])
for i in range(24):
    s.unmap(i % 5)
seeds['force-dynamic'] = s
# 6: coherent / noncoherent allocations with accesses, masks
s = S(0x2c)
for dev in range(4):
    s.alloc(dev, False, 5000 + dev * 3000).alloc(dev, True, 300 + dev)
for i in range(8):
    s.aacc(i, i & 1, 10 * i, 4000)
for i in range(8):
    s.free(0)
s.mask(2, 0, 2).mask(1, 4, 0).mask(3, 4, 2).map(3, 0, 0, [(1, 1, 1234, 1, 1)]).map(2, 1, 1, [(0, 1, 999, 5, 5)])
s.unmap(0).unmap(0)
seeds['alloc-masks'] = s
# 7: IOMMU device with several CPUs, mixed kinds
s = S(0x3c)
for i in range(10):
    s.cpu(i).map(3, i % 5, i % 3, [(i & 1, 1, 100 * i + 1, 300 * i, i)] * (1 if i % 5 < 3 else 3))
for i in range(10):
    s.dwrite(i, 0, 0xffff).synccpu(i, 1, 0, 0)
for i in range(10):
    s.unmap(i)
seeds['iommu-mixed'] = s
# 8: too-large bounce (beyond 256 KiB) fails cleanly, small one succeeds
# 9: the dma-ranges device and the restricted-pool device, every kind, allocations
s = S(0x14)
for i in range(10):
    s.map(4 + (i & 1), i % 5, i % 3, [((i >> 1) & 1, 1 + (i & 1), 900 * i + 5, 400 * i, i)] * (1 if i % 5 < 3 else 2))
for i in range(10):
    s.dwrite(i, 3, 0xffff).cycle(i, 3, 5, 900).synccpu(i, 2, 1, 77)
s.alloc(4, False, 6000).alloc(5, False, 9000).alloc(5, True, 100).aacc(0, 0, 0, 0xffff).aacc(1, 1, 3, 0xffff).aacc(2, 0, 0, 50)
s.free(0).free(0).free(0)
for i in range(10):
    s.unmap(0)
s.mask(4, 2, 2).map(4, 0, 0, [(0, 1, 1000, 0, 0)]).unmap(0)
seeds['windows-restricted'] = s
# 10: segment rules: the IOMMU device merges page-aligned entries within max_seg_size
s = S(0x00)
s.params(3, 1 | 2 | (1 << 2)).params(3, 0 | (4 << 1)).params(0, 0 | (3 << 1))
s.map(3, 3, 0, [(1, 1, 4095, 64 * i, 0) for i in range(6)])
s.map(0, 3, 1, [(1, 2, 0x1fff, 3000 + 700 * i, 0) for i in range(4)])
s.dwrite(0, 0, 0xffff).synccpu(0, 1, 0, 0).unmap(0).unmap(0)
seeds['segment-rules'] = s
# 11 (regression, CI run with libFuzzer seed 1005201057): a dynamic pool runs dry and a
# 64 KiB map gets a transient one-request pool, which get_pool_range does not list
seeds['regress-dynamic-transient-pool'] = exhaust(0x02)
seeds['too-big'] = S(0x00).map(0, 0, 0, [(1, 3, 0xffff, 0, 0)]).map(0, 0, 0, [(1, 0, 10, 100, 3)]).unmap(0).unmap(0)
for name, s in seeds.items():
    open(os.path.join(out, name), 'wb').write(bytes(s.b))

# With a second argument (fuzz/crashes), also the saved findings' inputs.
if len(sys.argv) > 2:
    found = {
        # sim/cache.c: a partial sync_for_cpu's edge line overwrites the device's bytes.
        'fuzz_api-unaligned-sync-sim-cache-edge':
            S(0x00).map(1, 0, 2, [(0, 1, 3000, 10, 5)]).dwrite(0, 0, 0xffff).synccpu(0, 0, 0, 200).unmap(0),
        # src/direct.c: restricted-pool allocation beyond the coherent mask.
        'fuzz_api-restricted-alloc-beyond-coherent-mask': S(0x00).mask(5, 2, 2).alloc(5, False, 1),
    }
    for name, s in found.items():
        open(os.path.join(sys.argv[2], name), 'wb').write(bytes(s.b))
