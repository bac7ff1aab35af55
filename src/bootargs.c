/*
 * src/bootargs.c - the kernel command line options dmamap understands.
 *
 * Owns: parsing swiotlb=, iommu=, iommu.strict= and iommu.forcedac= into struct
 * dm_bootopts.  Never acts on them (core.c and policy.c do).
 *
 * Grammar (Linux's):
 *   swiotlb=<slabs>[,<areas>][,force|noforce]   or   swiotlb=noforce
 *   iommu=pt|nopt|soft|off|on|strict|nostrict   (comma-separated list)
 *   iommu.strict=0|1
 *   iommu.forcedac=0|1                          (PCI: no 32-bit IOVA first)
 *   swiotlb_poison=0|1                          (poison released bounce slots)
 *   dma_debug=on|off (or 1|0)                   (the DMA API checker, debug.c)
 * <slabs> is rounded up to a 128-slot segment (at least one); <areas> up to
 * a power of two.  Numbers are decimal or 0x-hex.
 */
#include "context.h"

#include <stdlib.h>
#include <string.h>

#define DM_SEGSIZE 128u

static bool dm_parse_u64(const char *s, size_t len, uint64_t *out)
{
	if (len == 0 || len > 20)
		return false;
	char buf[24];
	memcpy(buf, s, len);
	buf[len] = '\0';
	char *end;
	errno = 0;
	unsigned long long v = strtoull(buf, &end, 0);
	if (errno || *end || buf[0] == '-')
		return false;
	*out = v;
	return true;
}

static unsigned int dm_roundup_pow2(uint64_t v)
{
	unsigned int p = 1;
	while (p < v && p < (1u << 30))
		p <<= 1;
	return p;
}

/* One comma-separated item of swiotlb=: position 0 is the slab count. */
static bool dm_swiotlb_item(const char *s, size_t len, unsigned int pos,
			    struct dm_bootopts *o)
{
	if (len == 5 && !strncmp(s, "force", 5)) {
		o->swiotlb_force = true;
		return true;
	}
	if (len == 7 && !strncmp(s, "noforce", 7)) {
		o->swiotlb_noforce = true;
		return true;
	}
	uint64_t v;
	if (pos > 1 || !dm_parse_u64(s, len, &v))
		return false;
	if (pos == 0) {
		/* Saturates: a count past any pool's bound stays past it (core.c refuses it). */
		uint64_t n = v > UINT64_MAX - DM_SEGSIZE ? UINT64_MAX
			     : (v + DM_SEGSIZE - 1) / DM_SEGSIZE * DM_SEGSIZE;
		o->swiotlb_set = true;
		o->swiotlb_nslabs = n ? n : DM_SEGSIZE;
	} else {
		if (v == 0)
			return false;
		o->swiotlb_nareas = dm_roundup_pow2(v);
	}
	return true;
}

static bool dm_iommu_item(const char *s, size_t len, struct dm_bootopts *o)
{
	static const struct {
		const char *w;
		int mode;   /* -1: not a mode word */
		int strict; /* -1: unchanged */
	} words[] = {
		{ "pt", DM_IOMMU_PT, -1 },       { "nopt", DM_IOMMU_NOPT, -1 },
		{ "soft", DM_IOMMU_SOFT, -1 },   { "off", DM_IOMMU_OFF, -1 },
		{ "on", DM_IOMMU_DEFAULT, -1 },  { "strict", -1, 1 },
		{ "nostrict", -1, 0 },           { "force", DM_IOMMU_DEFAULT, -1 },
	};
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		if (strlen(words[i].w) == len && !strncmp(s, words[i].w, len)) {
			if (words[i].mode >= 0)
				o->iommu_mode = (enum dm_iommu_mode)words[i].mode;
			if (words[i].strict >= 0)
				o->iommu_strict = words[i].strict;
			return true;
		}
	}
	return false;
}

/* A 0|1 option value into *out; false (nothing written) for anything else. */
static bool dm_parse_bit(const char *val, size_t vlen, int *out)
{
	if (vlen != 1 || (val[0] != '0' && val[0] != '1'))
		return false;
	*out = val[0] - '0';
	return true;
}

int dm_parse_bootargs(const char *args, struct dm_bootopts *o,
		      const char **bad_word)
{
	memset(o, 0, sizeof(*o));
	o->iommu_strict = -1;
	o->swiotlb_poison = -1;
	if (bad_word)
		*bad_word = NULL;
	if (!args)
		return 0;
	const char *p = args;
	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == '\n')
			p++;
		if (!*p)
			break;
		const char *word = p;
		while (*p && *p != ' ' && *p != '\t' && *p != '\n')
			p++;
		size_t wlen = (size_t)(p - word);
		const char *eq = memchr(word, '=', wlen);
		if (!eq)
			continue;
		size_t klen = (size_t)(eq - word);
		const char *val = eq + 1;
		size_t vlen = wlen - klen - 1;
		bool ok = true;
		if (klen == 7 && !strncmp(word, "swiotlb", 7)) {
			unsigned int pos = 0;
			const char *it = val, *end = val + vlen;
			ok = vlen > 0;
			while (ok && it <= end) {
				const char *c = memchr(it, ',', (size_t)(end - it));
				const char *ie = c ? c : end;
				ok = dm_swiotlb_item(it, (size_t)(ie - it), pos++, o);
				it = ie + 1;
			}
		} else if (klen == 5 && !strncmp(word, "iommu", 5)) {
			const char *it = val, *end = val + vlen;
			ok = vlen > 0;
			while (ok && it <= end) {
				const char *c = memchr(it, ',', (size_t)(end - it));
				const char *ie = c ? c : end;
				ok = dm_iommu_item(it, (size_t)(ie - it), o);
				it = ie + 1;
			}
		} else if (klen == 14 && !strncmp(word, "swiotlb_poison", 14)) {
			ok = dm_parse_bit(val, vlen, &o->swiotlb_poison);
		} else if (klen == 12 && !strncmp(word, "iommu.strict", 12)) {
			ok = dm_parse_bit(val, vlen, &o->iommu_strict);
		} else if (klen == 14 && !strncmp(word, "iommu.forcedac", 14)) {
			int v = 0;
			ok = dm_parse_bit(val, vlen, &v);
			o->iommu_forcedac = v;
		} else if (klen == 9 && !strncmp(word, "dma_debug", 9)) {
			/* The DMA API checker (debug.c): on|off (1|0). */
			bool on = (vlen == 2 && !strncmp(val, "on", 2)) ||
				  (vlen == 1 && val[0] == '1');
			bool off = (vlen == 3 && !strncmp(val, "off", 3)) ||
				   (vlen == 1 && val[0] == '0');
			ok = on || off;
			if (ok) {
				o->dma_debug_set = true;
				o->dma_debug = on;
			}
		}
		if (!ok) {
			if (bad_word)
				*bad_word = word;
			return -EINVAL;
		}
	}
	return 0;
}
