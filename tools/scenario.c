/*
 * tools/scenario.c - the scenario file loader (YAML, through libyaml's
 * document API).
 *
 * Owns: reading one scenario file into a struct scn and every check the
 * file alone allows, each failure reported as one line
 * "<file>:<line>: <what is wrong>".  Must never touch the library's or the
 * simulator's state, open the device tree, or run anything: it only parses.
 * Tree node paths ("/axi/...") are kept as strings for the tree loader.
 */
#include "scenario.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define SCN_4G (1ULL << 32)

struct ctx {
	const char *path;
	yaml_document_t *doc;
	struct scn *s;
	char *err;
	size_t errlen;
};

/* ---- errors --------------------------------------------------------------- */

/* Keeps the message on one line whatever the file or its values hold. */
static void one_line(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

static int line_of(const yaml_node_t *n)
{
	return (int)n->start_mark.line + 1;
}

static int fail_at(struct ctx *c, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail_at(struct ctx *c, int line, const char *fmt, ...)
{
	if (c->err && c->errlen) {
		int k = snprintf(c->err, c->errlen, "%s:%d: ", c->path, line);
		if (k >= 0 && (size_t)k < c->errlen) {
			va_list ap;
			va_start(ap, fmt);
			vsnprintf(c->err + k, c->errlen - (size_t)k, fmt, ap);
			va_end(ap);
		}
		one_line(c->err);
	}
	return -EINVAL;
}

/* Names a key for messages ("platform.devices[1].dma_bits"); cut if long. */
static void nm(char *dst, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void nm(char *dst, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(dst, cap, fmt, ap);
	va_end(ap);
}

#define fail(c, node, ...) fail_at((c), line_of(node), __VA_ARGS__)

static const char *kind_of(yaml_node_type_t t)
{
	switch (t) {
	case YAML_SCALAR_NODE: return "a scalar";
	case YAML_SEQUENCE_NODE: return "a list";
	case YAML_MAPPING_NODE: return "a mapping";
	default: return "nothing";
	}
}

static int want(struct ctx *c, const yaml_node_t *n, yaml_node_type_t t,
		const char *what)
{
	if (n->type == t)
		return 0;
	return fail(c, n, "%s: expected %s, got %s", what, kind_of(t),
		    kind_of(n->type));
}

static const char *sval(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

/* "a, b, c" into buf. */
static const char *join(const char *const *names, size_t n, char *buf,
			size_t cap)
{
	size_t used = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < n && used < cap; i++) {
		int k = snprintf(buf + used, cap - used, "%s%s", i ? ", " : "",
				 names[i]);
		if (k < 0)
			break;
		used += (size_t)k;
	}
	return buf;
}

/* ---- numbers ---------------------------------------------------------------- */

int scn_parse_size(const char *s, uint64_t *out)
{
	if (!s || !out)
		return -EINVAL;
	const char *p = s;
	unsigned int base = 10;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	}
	uint64_t v = 0;
	int ndigits = 0;
	bool over = false;
	for (;; p++, ndigits++) {
		unsigned int d;
		char ch = *p;
		if (ch >= '0' && ch <= '9')
			d = (unsigned int)(ch - '0');
		else if (base == 16 && ch >= 'a' && ch <= 'f')
			d = (unsigned int)(ch - 'a' + 10);
		else if (base == 16 && ch >= 'A' && ch <= 'F')
			d = (unsigned int)(ch - 'A' + 10);
		else
			break;
		if (v > (UINT64_MAX - d) / base)
			over = true;
		else
			v = v * base + d;
	}
	if (!ndigits)
		return -EINVAL;
	unsigned int shift = 0;
	switch (*p) {
	case '\0': break;
	case 'K': case 'k': shift = 10; p++; break;
	case 'M': case 'm': shift = 20; p++; break;
	case 'G': case 'g': shift = 30; p++; break;
	case 'T': case 't': shift = 40; p++; break;
	default: return -EINVAL;
	}
	if (*p)
		return -EINVAL;
	if (over || (shift && v > (UINT64_MAX >> shift)))
		return -ERANGE;
	*out = v << shift;
	return 0;
}

static int get_u64(struct ctx *c, const yaml_node_t *n, const char *what,
		   uint64_t *out)
{
	int r = want(c, n, YAML_SCALAR_NODE, what);
	if (r)
		return r;
	r = scn_parse_size(sval(n), out);
	if (r == -ERANGE)
		return fail(c, n, "%s: '%.64s' does not fit in 64 bits", what,
			    sval(n));
	if (r)
		return fail(c, n,
			    "%s: bad number '%.64s' (decimal or 0x hex, optionally followed by K, M, G or T)",
			    what, sval(n));
	return 0;
}

/* A number that must not be 0. */
static int get_nonzero(struct ctx *c, const yaml_node_t *n, const char *what,
		       uint64_t *out)
{
	int r = get_u64(c, n, what, out);
	if (!r && *out == 0)
		return fail(c, n, "%s: must be greater than 0", what);
	return r;
}

static int get_bool(struct ctx *c, const yaml_node_t *n, const char *what,
		    bool *out)
{
	int r = want(c, n, YAML_SCALAR_NODE, what);
	if (r)
		return r;
	const char *v = sval(n);
	if (!strcasecmp(v, "true") || !strcasecmp(v, "yes")) {
		*out = true;
		return 0;
	}
	if (!strcasecmp(v, "false") || !strcasecmp(v, "no")) {
		*out = false;
		return 0;
	}
	return fail(c, n, "%s: expected true or false, got '%.64s'", what, v);
}

static int get_str(struct ctx *c, const yaml_node_t *n, const char *what,
		   char *dst, size_t cap)
{
	int r = want(c, n, YAML_SCALAR_NODE, what);
	if (r)
		return r;
	size_t len = n->data.scalar.length;
	if (len == 0)
		return fail(c, n, "%s: empty value", what);
	if (len >= cap)
		return fail(c, n, "%s: too long (%zu bytes, at most %zu)", what,
			    len, cap - 1);
	if (memchr(sval(n), '\0', len))
		return fail(c, n, "%s: contains a NUL byte", what);
	memcpy(dst, sval(n), len + 1);
	return 0;
}

static int get_enum(struct ctx *c, const yaml_node_t *n, const char *what,
		    const char *const *names, size_t count, int first,
		    int *out)
{
	int r = want(c, n, YAML_SCALAR_NODE, what);
	if (r)
		return r;
	for (size_t i = 0; i < count; i++) {
		if (!strcmp(sval(n), names[i])) {
			*out = first + (int)i;
			return 0;
		}
	}
	char list[256];
	return fail(c, n, "%s: unknown value '%.64s' (valid: %s)", what, sval(n),
		    join(names, count, list, sizeof(list)));
}

/* ---- mappings -------------------------------------------------------------- */

/*
 * Walks a mapping whose keys come from a fixed table.  For each pair,
 * idx[i] gets the value node of keys[i] (NULL if absent).  Rejects
 * non-scalar keys, duplicate keys and unknown keys.
 */
static int walk_map(struct ctx *c, yaml_node_t *map, const char *what,
		    const char *const *keys, size_t nkeys, yaml_node_t **vals,
		    int *keylines)
{
	int r = want(c, map, YAML_MAPPING_NODE, what);
	if (r)
		return r;
	for (size_t i = 0; i < nkeys; i++) {
		vals[i] = NULL;
		keylines[i] = 0;
	}
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
		if (!k || !v)
			return fail(c, map, "%s: broken mapping", what);
		if (k->type != YAML_SCALAR_NODE)
			return fail(c, k, "%s: keys must be scalars, got %s", what,
				    kind_of(k->type));
		size_t i;
		for (i = 0; i < nkeys; i++)
			if (!strcmp(sval(k), keys[i]))
				break;
		if (i == nkeys && map->data.mapping.style == YAML_FLOW_MAPPING_STYLE &&
		    p > map->data.mapping.pairs.start) {
			/* A tree path with a comma, cut by a {flow map}: say how to write it. */
			yaml_node_t *pv = yaml_document_get_node(c->doc, p[-1].value);
			if (pv && pv->type == YAML_SCALAR_NODE && sval(pv)[0] == '/')
				return fail(c, k, "%s: the tree path '%.128s,%.64s...' was cut at its "
					    "comma: quote it (\"%.128s,%.64s...\") or write the map in "
					    "block form (one key per line)", what, sval(pv), sval(k),
					    sval(pv), sval(k));
		}
		if (i == nkeys) {
			char list[512];
			return fail(c, k, "%s: unknown key '%.64s' (valid: %s)",
				    what, sval(k),
				    join(keys, nkeys, list, sizeof(list)));
		}
		if (vals[i])
			return fail(c, k, "%s: duplicate key '%s' (first at line %d)",
				    what, keys[i], keylines[i]);
		vals[i] = v;
		keylines[i] = line_of(k);
	}
	return 0;
}

static int need(struct ctx *c, const yaml_node_t *map, const char *what,
		const char *const *keys, yaml_node_t **vals, size_t i)
{
	if (vals[i])
		return 0;
	return fail(c, map, "%s: missing required key '%s'", what, keys[i]);
}

static int items(struct ctx *c, yaml_node_t *seq, const char *what,
		 size_t max, size_t *n)
{
	int r = want(c, seq, YAML_SEQUENCE_NODE, what);
	if (r)
		return r;
	*n = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
	if (*n > max)
		return fail(c, seq, "%s: %zu entries, at most %zu", what, *n, max);
	return 0;
}

static yaml_node_t *item(struct ctx *c, yaml_node_t *seq, size_t i)
{
	return yaml_document_get_node(c->doc, seq->data.sequence.items.start[i]);
}

#define ITEM_OR_FAIL(c, seq, i, what, var)                                     \
	yaml_node_t *var = item((c), (seq), (i));                              \
	if (!var)                                                              \
		return fail((c), (seq), "%s: broken list", (what))

/* ---- names --------------------------------------------------------------- */

static const struct scn_device *find_device(const struct scn *s,
					    const char *name)
{
	for (unsigned int i = 0; i < s->ndevices; i++)
		if (!strcmp(s->devices[i].name, name))
			return &s->devices[i];
	return NULL;
}

static const struct scn_iommu *find_iommu(const struct scn *s, const char *name)
{
	for (unsigned int i = 0; i < s->niommus; i++)
		if (!strcmp(s->iommus[i].name, name))
			return &s->iommus[i];
	return NULL;
}

/* A reference to a declared device, or with a dt, a tree path. */
static int check_device_ref(struct ctx *c, const yaml_node_t *n,
			    const char *what, const char *name)
{
	if (find_device(c->s, name))
		return 0;
	if (c->s->has_dt && name[0] == '/')
		return 0;
	if (name[0] == '/')
		return fail(c, n,
			    "%s: '%.64s' is a tree path but platform has no dt",
			    what, name);
	return fail(c, n, "%s: no device named '%.64s' in platform.devices",
		    what, name);
}

/* ---- platform ---------------------------------------------------------------- */

static int parse_range(struct ctx *c, yaml_node_t *n, const char *what,
		       struct scn_range *out)
{
	static const char *const keys[] = { "base", "size" };
	yaml_node_t *v[ARRAY_SIZE(keys)];
	int kl[ARRAY_SIZE(keys)];
	int r = walk_map(c, n, what, keys, ARRAY_SIZE(keys), v, kl);
	for (size_t i = 0; !r && i < ARRAY_SIZE(keys); i++)
		r = need(c, n, what, keys, v, i);
	if (r)
		return r;
	char sub[96];
	nm(sub, sizeof(sub), "%s.base", what);
	if ((r = get_u64(c, v[0], sub, &out->base)))
		return r;
	nm(sub, sizeof(sub), "%s.size", what);
	if ((r = get_nonzero(c, v[1], sub, &out->size)))
		return r;
	if (out->base + out->size < out->base)
		return fail(c, n, "%s: base + size wraps past 2^64", what);
	out->line = line_of(n);
	return 0;
}

static int parse_iommu(struct ctx *c, yaml_node_t *n, const char *what,
		       struct scn_iommu *out)
{
	static const char *const keys[] = { "name", "page_sizes", "window", "bypass",
					    "linear" };
	yaml_node_t *v[ARRAY_SIZE(keys)];
	int kl[ARRAY_SIZE(keys)];
	int r = walk_map(c, n, what, keys, ARRAY_SIZE(keys), v, kl);
	if (r || (r = need(c, n, what, keys, v, 0)))
		return r;
	char sub[96];
	nm(sub, sizeof(sub), "%s.name", what);
	if ((r = get_str(c, v[0], sub, out->name, sizeof(out->name))))
		return r;
	if (find_iommu(c->s, out->name))
		return fail(c, v[0], "%s: duplicate iommu name '%.64s'", sub,
			    out->name);
	out->line = line_of(n);
	if (v[2]) {
		nm(sub, sizeof(sub), "%s.window", what);
		if ((r = get_nonzero(c, v[2], sub, &out->window)))
			return r;
	}
	if (v[3]) {
		nm(sub, sizeof(sub), "%s.bypass", what);
		if ((r = get_nonzero(c, v[3], sub, &out->bypass)))
			return r;
		if (out->window && out->bypass < out->window)
			return fail(c, v[3], "%s: the bypass window must start above the "
				    "translated window (0x%llx)", sub,
				    (unsigned long long)out->window);
	}
	if (v[4]) {
		nm(sub, sizeof(sub), "%s.linear", what);
		if ((r = get_bool(c, v[4], sub, &out->linear)))
			return r;
	}
	if (!v[1])
		return 0;
	nm(sub, sizeof(sub), "%s.page_sizes", what);
	size_t cnt;
	if ((r = items(c, v[1], sub, SCN_MAX_PAGE_SIZES, &cnt)))
		return r;
	for (size_t i = 0; i < cnt; i++) {
		char el[112];
		nm(el, sizeof(el), "%s[%zu]", sub, i);
		ITEM_OR_FAIL(c, v[1], i, sub, e);
		uint64_t ps;
		if ((r = get_nonzero(c, e, el, &ps)))
			return r;
		if (ps & (ps - 1))
			return fail(c, e, "%s: %.64s is not a power of two", el,
				    sval(e));
		out->page_sizes[out->npage_sizes++] = ps;
	}
	return 0;
}

static int parse_dma_range(struct ctx *c, yaml_node_t *n, const char *what,
			   struct scn_dma_range *out)
{
	static const char *const keys[] = { "cpu", "dma", "size" };
	yaml_node_t *v[ARRAY_SIZE(keys)];
	int kl[ARRAY_SIZE(keys)];
	int r = walk_map(c, n, what, keys, ARRAY_SIZE(keys), v, kl);
	for (size_t i = 0; !r && i < ARRAY_SIZE(keys); i++)
		r = need(c, n, what, keys, v, i);
	if (r)
		return r;
	uint64_t *dst[] = { &out->cpu, &out->dma, &out->size };
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		char sub[160];
		nm(sub, sizeof(sub), "%s.%s", what, keys[i]);
		r = i == 2 ? get_nonzero(c, v[i], sub, dst[i])
			   : get_u64(c, v[i], sub, dst[i]);
		if (r)
			return r;
	}
	if (out->cpu + out->size < out->cpu || out->dma + out->size < out->dma)
		return fail(c, n, "%s: address + size wraps past 2^64", what);
	return 0;
}

static const char *const bus_names[] = { "pci", "platform" };

enum { D_NAME, D_BUS, D_BITS, D_COHERENT, D_IOMMU, D_HOTPLUG, D_UNTRUSTED,
       D_POOL, D_RANGES, D_LIMIT, D_DOMAIN, D_N };

static int parse_device(struct ctx *c, yaml_node_t *n, const char *what,
			struct scn_device *d)
{
	static const char *const keys[D_N] = {
		[D_NAME] = "name", [D_BUS] = "bus", [D_BITS] = "dma_bits",
		[D_COHERENT] = "coherent", [D_IOMMU] = "iommu",
		[D_HOTPLUG] = "hotplug", [D_UNTRUSTED] = "untrusted",
		[D_POOL] = "restricted_pool", [D_RANGES] = "dma_ranges",
		[D_LIMIT] = "bus_dma_limit", [D_DOMAIN] = "domain",
	};
	yaml_node_t *v[D_N];
	int kl[D_N];
	int r = walk_map(c, n, what, keys, D_N, v, kl);
	if (r || (r = need(c, n, what, keys, v, D_NAME)) ||
	    (r = need(c, n, what, keys, v, D_BITS)))
		return r;
	char sub[96];
#define SUB(k) (nm(sub, sizeof(sub), "%s.%s", what, keys[k]), sub)
	if ((r = get_str(c, v[D_NAME], SUB(D_NAME), d->name, sizeof(d->name))))
		return r;
	if (find_device(c->s, d->name))
		return fail(c, v[D_NAME], "%s: duplicate device name '%.64s'",
			    sub, d->name);
	d->line = line_of(n);

	uint64_t bits;
	if ((r = get_u64(c, v[D_BITS], SUB(D_BITS), &bits)))
		return r;
	if (bits < 1 || bits > 64)
		return fail(c, v[D_BITS], "%s: %.64s is out of range (1..64)",
			    sub, sval(v[D_BITS]));
	d->dma_bits = (unsigned int)bits;

	d->bus = SCN_BUS_PCI;
	if (v[D_BUS]) {
		int e;
		if ((r = get_enum(c, v[D_BUS], SUB(D_BUS), bus_names,
				  ARRAY_SIZE(bus_names), 0, &e)))
			return r;
		d->bus = (enum scn_bus)e;
		d->given |= SCN_HAS_BUS;
	}
	d->coherent = d->bus == SCN_BUS_PCI;
	if (v[D_COHERENT]) {
		if ((r = get_bool(c, v[D_COHERENT], SUB(D_COHERENT), &d->coherent)))
			return r;
		d->given |= SCN_HAS_COHERENT;
	}
	if (v[D_IOMMU]) {
		if ((r = get_str(c, v[D_IOMMU], SUB(D_IOMMU), d->iommu,
				 sizeof(d->iommu))))
			return r;
		if (!find_iommu(c->s, d->iommu) &&
		    !(c->s->has_dt && d->iommu[0] == '/'))
			return fail(c, v[D_IOMMU],
				    d->iommu[0] == '/'
					    ? "%s: '%.64s' is a tree path but platform has no dt"
					    : "%s: no iommu named '%.64s' in platform.iommus",
				    sub, d->iommu);
		d->given |= SCN_HAS_IOMMU;
	}
	if (v[D_DOMAIN]) {
		if (!v[D_IOMMU])
			return fail(c, v[D_DOMAIN], "%s: a domain needs an iommu", SUB(D_DOMAIN));
		if ((r = get_str(c, v[D_DOMAIN], SUB(D_DOMAIN), d->domain, sizeof(d->domain))))
			return r;
	}
	if (v[D_HOTPLUG]) {
		if ((r = get_bool(c, v[D_HOTPLUG], SUB(D_HOTPLUG), &d->hotplug)))
			return r;
		d->given |= SCN_HAS_HOTPLUG;
	}
	if (v[D_UNTRUSTED]) {
		if ((r = get_bool(c, v[D_UNTRUSTED], SUB(D_UNTRUSTED),
				  &d->untrusted)))
			return r;
		d->given |= SCN_HAS_UNTRUSTED;
	}
	if (v[D_POOL]) {
		if ((r = get_nonzero(c, v[D_POOL], SUB(D_POOL),
				     &d->restricted_pool)))
			return r;
		d->given |= SCN_HAS_RESTRICTED_POOL;
	}
	if (v[D_LIMIT]) {
		if ((r = get_u64(c, v[D_LIMIT], SUB(D_LIMIT), &d->bus_dma_limit)))
			return r;
		d->given |= SCN_HAS_BUS_DMA_LIMIT;
	}
	if (v[D_RANGES]) {
		size_t cnt;
		if ((r = items(c, v[D_RANGES], SUB(D_RANGES), SCN_MAX_DMA_RANGES,
			       &cnt)))
			return r;
		for (size_t i = 0; i < cnt; i++) {
			char el[112];
			nm(el, sizeof(el), "%s[%zu]", sub, i);
			ITEM_OR_FAIL(c, v[D_RANGES], i, sub, e);
			if ((r = parse_dma_range(c, e, el, &d->dma_ranges[i])))
				return r;
			d->ndma_ranges++;
		}
		d->given |= SCN_HAS_DMA_RANGES;
	}
#undef SUB
	return 0;
}

static int has_suffix(const char *s, const char *suf)
{
	size_t ls = strlen(s), lf = strlen(suf);
	return ls > lf && !strcmp(s + ls - lf, suf);
}

static int parse_dt(struct ctx *c, yaml_node_t *n)
{
	char raw[SCN_PATH_MAX];
	int r = get_str(c, n, "platform.dt", raw, sizeof(raw));
	if (r)
		return r;
	if (!has_suffix(raw, ".dts") && !has_suffix(raw, ".dtb"))
		return fail(c, n, "platform.dt: '%.64s' is not a .dts or .dtb file",
			    raw);
	const char *slash = strrchr(c->path, '/');
	int k;
	if (raw[0] == '/' || !slash)
		k = snprintf(c->s->dt, sizeof(c->s->dt), "%s", raw);
	else
		k = snprintf(c->s->dt, sizeof(c->s->dt), "%.*s/%s",
			     (int)(slash - c->path), c->path, raw);
	if (k < 0 || (size_t)k >= sizeof(c->s->dt))
		return fail(c, n, "platform.dt: resolved path too long (at most %zu)",
			    sizeof(c->s->dt) - 1);
	c->s->has_dt = true;
	c->s->dt_line = line_of(n);
	return 0;
}

static int parse_platform(struct ctx *c, yaml_node_t *n, int keyline)
{
	static const char *const keys[] = { "dt", "ram", "iommus", "devices" };
	yaml_node_t *v[ARRAY_SIZE(keys)];
	int kl[ARRAY_SIZE(keys)];
	struct scn *s = c->s;
	int r = walk_map(c, n, "platform", keys, ARRAY_SIZE(keys), v, kl);
	if (r)
		return r;
	/* dt first: it decides how names are checked. */
	if (v[0] && (r = parse_dt(c, v[0])))
		return r;
	size_t cnt;
	if (v[1]) {
		if ((r = items(c, v[1], "platform.ram", SCN_MAX_RAM, &cnt)))
			return r;
		for (size_t i = 0; i < cnt; i++) {
			char what[64];
			nm(what, sizeof(what), "platform.ram[%zu]", i);
			ITEM_OR_FAIL(c, v[1], i, "platform.ram", e);
			if ((r = parse_range(c, e, what, &s->ram[i])))
				return r;
			s->nram++;
		}
	}
	if (!s->has_dt && !s->nram)
		return fail_at(c, keyline,
			       "platform: no ram (give platform.ram or platform.dt)");
	/* iommus before devices: devices refer to them. */
	if (v[2]) {
		if ((r = items(c, v[2], "platform.iommus", SCN_MAX_IOMMUS, &cnt)))
			return r;
		for (size_t i = 0; i < cnt; i++) {
			char what[64];
			nm(what, sizeof(what), "platform.iommus[%zu]", i);
			ITEM_OR_FAIL(c, v[2], i, "platform.iommus", e);
			if ((r = parse_iommu(c, e, what, &s->iommus[i])))
				return r;
			s->niommus++;
		}
	}
	if (v[3]) {
		if ((r = items(c, v[3], "platform.devices", SCN_MAX_DEVICES, &cnt)))
			return r;
		for (size_t i = 0; i < cnt; i++) {
			char what[64];
			nm(what, sizeof(what), "platform.devices[%zu]", i);
			ITEM_OR_FAIL(c, v[3], i, "platform.devices", e);
			if ((r = parse_device(c, e, what, &s->devices[i])))
				return r;
			s->ndevices++;
		}
	}
	return 0;
}

/* ---- hypervisor ----------------------------------------------------------- */

static const char *const hv_type_names[] = { "xen" };
static const char *const hv_arch_names[] = { "x86", "arm" };
static const char *const hv_domain_names[] = { "dom0", "domU" };
static const char *const hv_mode_names[] = { "pv", "pvh", "hvm" };
static const char *const hv_feat_names[] = { "direct_mapped",
					     "not_direct_mapped", "dom0_iommu",
					     "p2m_query" };
static const char *const hv_p2m_names[] = { "identity", "scattered", "colored" };
static const char *const hv_policy_names[] = { "per-device", "linux" };

enum { H_TYPE, H_ARCH, H_DOMAIN, H_MODE, H_FEATURES, H_P2M, H_POLICY, H_LOWMEM,
       H_HOST_RAM, H_COLORS, H_OS_COLORS, H_SEED, H_DOMUS, H_N };

static int parse_hypervisor(struct ctx *c, yaml_node_t *n)
{
	static const char *const keys[H_N] = {
		[H_TYPE] = "type", [H_ARCH] = "arch", [H_DOMAIN] = "domain",
		[H_MODE] = "mode", [H_FEATURES] = "features", [H_P2M] = "p2m",
		[H_POLICY] = "policy", [H_LOWMEM] = "lowmem",
		[H_HOST_RAM] = "host_ram", [H_COLORS] = "colors",
		[H_OS_COLORS] = "os_colors", [H_SEED] = "seed", [H_DOMUS] = "domus",
	};
	yaml_node_t *v[H_N];
	int kl[H_N];
	struct scn_hypervisor *hv = &c->s->hv;
	int r = walk_map(c, n, "hypervisor", keys, H_N, v, kl);
	if (r)
		return r;
	hv->line = line_of(n);
	int e = 0;
#define ENUM(k, names, first, field, type)                                       \
	if (v[k]) {                                                            \
		if ((r = get_enum(c, v[k], "hypervisor." #field, names,         \
				  ARRAY_SIZE(names), first, &e)))               \
			return r;                                              \
		hv->field = (type)e;                                           \
	}
	ENUM(H_TYPE, hv_type_names, 0, type, enum scn_hv_type)
	ENUM(H_ARCH, hv_arch_names, 1, arch, enum scn_hv_arch)
	ENUM(H_DOMAIN, hv_domain_names, 1, domain, enum scn_hv_domain)
	ENUM(H_MODE, hv_mode_names, 1, mode, enum scn_hv_mode)
	ENUM(H_P2M, hv_p2m_names, 1, p2m, enum scn_hv_p2m)
	ENUM(H_POLICY, hv_policy_names, 0, policy, enum scn_hv_policy)
#undef ENUM
	hv->arch_line = v[H_ARCH] ? line_of(v[H_ARCH]) : 0;
	hv->mode_line = v[H_MODE] ? line_of(v[H_MODE]) : 0;
	hv->p2m_line = v[H_P2M] ? line_of(v[H_P2M]) : 0;
	if (hv->mode != SCN_HV_MODE_UNSET && hv->arch == SCN_HV_ARCH_ARM)
		return fail(c, v[H_MODE],
			    "hypervisor.mode: '%s' is for arch x86 only (arch is arm)",
			    hv_mode_names[hv->mode - 1]);
	if (v[H_FEATURES]) {
		size_t cnt;
		if ((r = items(c, v[H_FEATURES], "hypervisor.features", 16, &cnt)))
			return r;
		for (size_t i = 0; i < cnt; i++) {
			char el[64];
			nm(el, sizeof(el), "hypervisor.features[%zu]", i);
			ITEM_OR_FAIL(c, v[H_FEATURES], i, "hypervisor.features", f);
			if ((r = get_enum(c, f, el, hv_feat_names,
					  ARRAY_SIZE(hv_feat_names), 0, &e)))
				return r;
			hv->features |= 1u << e;
		}
		unsigned int both = SCN_FEAT_DIRECT_MAPPED | SCN_FEAT_NOT_DIRECT_MAPPED;
		if ((hv->features & both) == both)
			return fail(c, v[H_FEATURES],
				    "hypervisor.features: direct_mapped and not_direct_mapped exclude each other");
		hv->has_features = true;
		hv->features_line = line_of(v[H_FEATURES]);
	}
	if (v[H_LOWMEM]) {
		if ((r = get_nonzero(c, v[H_LOWMEM], "hypervisor.lowmem", &hv->lowmem)))
			return r;
		if (hv->lowmem & 4095)
			return fail(c, v[H_LOWMEM],
				    "hypervisor.lowmem: %.64s is not a multiple of 4 KiB",
				    sval(v[H_LOWMEM]));
		if (hv->lowmem > SCN_4G)
			return fail(c, v[H_LOWMEM],
				    "hypervisor.lowmem: %.64s is more than 4G (it lies below 4 GiB)",
				    sval(v[H_LOWMEM]));
	}
	if (v[H_HOST_RAM]) {
		size_t cnt;
		if ((r = items(c, v[H_HOST_RAM], "hypervisor.host_ram", SCN_MAX_RAM, &cnt)))
			return r;
		if (!cnt)
			return fail(c, v[H_HOST_RAM],
				    "hypervisor.host_ram: empty (leave it out for the default)");
		for (size_t i = 0; i < cnt; i++) {
			char what[64];
			nm(what, sizeof(what), "hypervisor.host_ram[%zu]", i);
			ITEM_OR_FAIL(c, v[H_HOST_RAM], i, "hypervisor.host_ram", h);
			if ((r = parse_range(c, h, what, &hv->host_ram[i])))
				return r;
			hv->nhost_ram++;
		}
		hv->host_ram_line = line_of(v[H_HOST_RAM]);
	}
	bool colored = hv->p2m == SCN_P2M_COLORED;
	if (v[H_COLORS]) {
		uint64_t nc;
		if ((r = get_u64(c, v[H_COLORS], "hypervisor.colors", &nc)))
			return r;
		if (nc < 2 || nc > 64 || (nc & (nc - 1)))
			return fail(c, v[H_COLORS],
				    "hypervisor.colors: %.64s is not a power of two in 2..64",
				    sval(v[H_COLORS]));
		if (!colored)
			return fail(c, v[H_COLORS],
				    "hypervisor.colors: only with p2m: colored");
		hv->colors = (unsigned int)nc;
		hv->colors_line = line_of(v[H_COLORS]);
	}
	if (v[H_OS_COLORS]) {
		if ((r = get_nonzero(c, v[H_OS_COLORS], "hypervisor.os_colors",
				     &hv->os_colors)))
			return r;
		if (!colored)
			return fail(c, v[H_OS_COLORS],
				    "hypervisor.os_colors: only with p2m: colored");
		unsigned int nc = hv->colors ? hv->colors : 16;
		if (nc < 64 && (hv->os_colors >> nc))
			return fail(c, v[H_OS_COLORS],
				    "hypervisor.os_colors: 0x%llx names colours beyond the %u there are",
				    (unsigned long long)hv->os_colors, nc);
		if (nc < 64 ? hv->os_colors == (1ULL << nc) - 1 : hv->os_colors == UINT64_MAX)
			return fail(c, v[H_OS_COLORS],
				    "hypervisor.os_colors: 0x%llx is every colour (the OS must leave "
				    "some to others)", (unsigned long long)hv->os_colors);
	}
	if (v[H_SEED]) {
		if ((r = get_u64(c, v[H_SEED], "hypervisor.seed", &hv->seed)))
			return r;
		bool scattered = hv->p2m == SCN_P2M_SCATTERED ||
				 (hv->p2m == SCN_P2M_UNSET && hv->mode == SCN_HV_PV);
		if (!scattered)
			return fail(c, v[H_SEED],
				    "hypervisor.seed: only with p2m: scattered (or mode: pv, its default)");
		hv->has_seed = true;
		hv->seed_line = line_of(v[H_SEED]);
	}
	if (v[H_DOMUS]) {
		uint64_t nd;
		if ((r = get_u64(c, v[H_DOMUS], "hypervisor.domus", &nd)))
			return r;
		if (nd > SCN_MAX_DOMUS)
			return fail(c, v[H_DOMUS], "hypervisor.domus: %.64s is out of range (0..%d)",
				    sval(v[H_DOMUS]), SCN_MAX_DOMUS);
		if (nd && hv->domain == SCN_HV_DOMU)
			return fail(c, v[H_DOMUS],
				    "hypervisor.domus: other domains are served by dom0 (domain is domU)");
		hv->domus = (unsigned int)nd;
		hv->has_domus = true;
		hv->domus_line = line_of(v[H_DOMUS]);
	}
	c->s->has_hypervisor = true;
	return 0;
}

/* xen-backend workloads need a dom0 and a domU to serve. */
static int check_xen_backends(struct ctx *c)
{
	const struct scn *s = c->s;
	for (unsigned int i = 0; i < s->nworkloads; i++) {
		const struct scn_workload *w = &s->workloads[i];
		if (w->kind != SCN_KIND_XEN_BACKEND)
			continue;
		if (!s->has_hypervisor && !s->has_dt)
			return fail_at(c, w->line,
				       "workloads[%u].kind: xen-backend needs a hypervisor "
				       "(add hypervisor: or a dt with a Xen node)", i);
		if (s->has_hypervisor && s->hv.domain == SCN_HV_DOMU)
			return fail_at(c, w->line,
				       "workloads[%u].kind: xen-backend runs a PV backend in dom0, "
				       "but hypervisor.domain is domU", i);
		if (s->hv.has_domus && s->hv.domus == 0)
			return fail_at(c, s->hv.domus_line,
				       "hypervisor.domus: 0, but workloads[%u] (line %d) is a "
				       "xen-backend that needs a domU to serve", i, w->line);
	}
	return 0;
}

/* ---- workloads ------------------------------------------------------------ */

static const char *const kind_names[] = { "nic", "blk", "gpu", "xen-backend",
					  "adversarial" };
static const char *const buffers_names[] = { "any", "low", "high" };
static const char *const dir_names[] = { "to", "from", "bidi" };

const char *scn_kind_name(enum scn_kind k)
{
	return (unsigned int)k < ARRAY_SIZE(kind_names) ? kind_names[k] : "?";
}

enum { W_DEVICE, W_KIND, W_COUNT, W_SIZE, W_BUFFERS, W_SEED, W_DIR,
       W_SEGMENTS, W_MAXSEG, W_BOUNDARY, W_N };

static int parse_workload(struct ctx *c, yaml_node_t *n, const char *what,
			  struct scn_workload *w)
{
	static const char *const keys[W_N] = {
		[W_DEVICE] = "device", [W_KIND] = "kind", [W_COUNT] = "count",
		[W_SIZE] = "size", [W_BUFFERS] = "buffers", [W_SEED] = "seed",
		[W_DIR] = "dir", [W_SEGMENTS] = "segments",
		[W_MAXSEG] = "max_segment_size", [W_BOUNDARY] = "boundary",
	};
	yaml_node_t *v[W_N];
	int kl[W_N];
	int r = walk_map(c, n, what, keys, W_N, v, kl);
	if (r || (r = need(c, n, what, keys, v, W_DEVICE)) ||
	    (r = need(c, n, what, keys, v, W_KIND)))
		return r;
	char sub[96];
	int e;
#define SUB(k) (nm(sub, sizeof(sub), "%s.%s", what, keys[k]), sub)
	w->line = line_of(n);
	if ((r = get_str(c, v[W_DEVICE], SUB(W_DEVICE), w->device,
			 sizeof(w->device))) ||
	    (r = check_device_ref(c, v[W_DEVICE], sub, w->device)))
		return r;
	if ((r = get_enum(c, v[W_KIND], SUB(W_KIND), kind_names,
			  ARRAY_SIZE(kind_names), 0, &e)))
		return r;
	w->kind = (enum scn_kind)e;
	if (v[W_COUNT] && (r = get_nonzero(c, v[W_COUNT], SUB(W_COUNT), &w->count)))
		return r;
	if (v[W_SIZE] && (r = get_nonzero(c, v[W_SIZE], SUB(W_SIZE), &w->size)))
		return r;
	if (v[W_BUFFERS]) {
		if ((r = get_enum(c, v[W_BUFFERS], SUB(W_BUFFERS), buffers_names,
				  ARRAY_SIZE(buffers_names), 0, &e)))
			return r;
		w->buffers = (enum scn_buffers)e;
	}
	if (v[W_SEED]) {
		if ((r = get_u64(c, v[W_SEED], SUB(W_SEED), &w->seed)))
			return r;
		w->has_seed = true;
	}
	if (v[W_DIR]) {
		if ((r = get_enum(c, v[W_DIR], SUB(W_DIR), dir_names,
				  ARRAY_SIZE(dir_names), 1, &e)))
			return r;
		w->dir = (enum scn_dir)e;
	}
	if (v[W_SEGMENTS]) {
		if ((r = get_nonzero(c, v[W_SEGMENTS], SUB(W_SEGMENTS),
				     &w->segments)))
			return r;
		if (w->segments > UINT32_MAX)
			return fail(c, v[W_SEGMENTS], "%s: %.64s is out of range (1..%u)",
				    sub, sval(v[W_SEGMENTS]), UINT32_MAX);
	}
	if (v[W_MAXSEG] && (r = get_nonzero(c, v[W_MAXSEG], SUB(W_MAXSEG),
					    &w->max_segment_size)))
		return r;
	if (v[W_BOUNDARY] && (r = get_nonzero(c, v[W_BOUNDARY], SUB(W_BOUNDARY),
					      &w->boundary)))
		return r;
#undef SUB
	return 0;
}

/* ---- expect ---------------------------------------------------------------- */

static const char *const cmp_names[] = { "==", "!=", ">", "<", ">=", "<=" };

const char *scn_cmp_name(enum scn_cmp c)
{
	return (unsigned int)c < ARRAY_SIZE(cmp_names) ? cmp_names[c] : "?";
}

static int parse_cmp(struct ctx *c, const yaml_node_t *n, const char *what,
		     struct scn_expect *x)
{
	int r = want(c, n, YAML_SCALAR_NODE, what);
	if (r)
		return r;
	const char *p = sval(n);
	/* Longest operators first. */
	static const enum scn_cmp order[] = { SCN_CMP_GE, SCN_CMP_LE, SCN_CMP_EQ,
					      SCN_CMP_NE, SCN_CMP_GT, SCN_CMP_LT };
	x->cmp = SCN_CMP_EQ;
	for (size_t i = 0; i < ARRAY_SIZE(order); i++) {
		const char *op = cmp_names[order[i]];
		size_t len = strlen(op);
		if (!strncmp(p, op, len)) {
			x->cmp = order[i];
			p += len;
			while (*p == ' ')
				p++;
			break;
		}
	}
	r = scn_parse_size(p, &x->value);
	if (r == -ERANGE)
		return fail(c, n, "%s: '%.64s' does not fit in 64 bits", what,
			    sval(n));
	if (r)
		return fail(c, n,
			    "%s: bad comparison '%.64s' (a number, or \">N\", \"<N\", \">=N\", \"<=N\", \"==N\", \"!=N\")",
			    what, sval(n));
	return 0;
}

static int parse_expect(struct ctx *c, yaml_node_t *n, const char *what)
{
	struct scn *s = c->s;
	int r = want(c, n, YAML_MAPPING_NODE, what);
	if (r)
		return r;
	char device[SCN_NAME_MAX] = "";
	yaml_node_t *devnode = NULL;
	unsigned int first = s->nexpects;
	/* The device first, wherever it is written. */
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
	     p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
		if (!k || !v)
			return fail(c, n, "%s: broken mapping", what);
		if (k->type != YAML_SCALAR_NODE)
			return fail(c, k, "%s: keys must be scalars, got %s", what,
				    kind_of(k->type));
		for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < p; q++) {
			yaml_node_t *k2 = yaml_document_get_node(c->doc, q->key);
			if (k2 && k2->type == YAML_SCALAR_NODE &&
			    !strcmp(sval(k2), sval(k)))
				return fail(c, k,
					    "%s: duplicate key '%.64s' (first at line %d)",
					    what, sval(k), line_of(k2));
		}
		if (!strcmp(sval(k), "device"))
			devnode = v;
	}
	char sub[96];
	if (devnode) {
		nm(sub, sizeof(sub), "%s.device", what);
		if ((r = get_str(c, devnode, sub, device, sizeof(device))) ||
		    (r = check_device_ref(c, devnode, sub, device)))
			return r;
	}
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
	     p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
		if (!strcmp(sval(k), "device"))
			continue;
		if (k->data.scalar.length == 0)
			return fail(c, k, "%s: empty counter name", what);
		if (k->data.scalar.length >= SCN_COUNTER_MAX)
			return fail(c, k, "%s: counter name '%.64s' too long (at most %d)",
				    what, sval(k), SCN_COUNTER_MAX - 1);
		if (s->nexpects == SCN_MAX_EXPECTS)
			return fail(c, k, "expect: more than %d comparisons",
				    SCN_MAX_EXPECTS);
		struct scn_expect *x = &s->expects[s->nexpects];
		nm(sub, sizeof(sub), "%s.%.64s", what, sval(k));
		if ((r = parse_cmp(c, v, sub, x)))
			return r;
		memcpy(x->device, device, sizeof(x->device));
		memcpy(x->counter, sval(k), k->data.scalar.length + 1);
		x->line = line_of(k);
		s->nexpects++;
	}
	if (s->nexpects == first)
		return fail(c, n, "%s: no counter to compare (e.g. bounced_bytes: 0)",
			    what);
	return 0;
}

/* ---- top level --------------------------------------------------------------- */

enum { T_NAME, T_PLATFORM, T_HYPERVISOR, T_BOOTARGS, T_WORKLOADS, T_EXPECT,
       T_N };

static int parse_root(struct ctx *c, yaml_node_t *root)
{
	static const char *const keys[T_N] = {
		[T_NAME] = "name", [T_PLATFORM] = "platform",
		[T_HYPERVISOR] = "hypervisor", [T_BOOTARGS] = "bootargs",
		[T_WORKLOADS] = "workloads", [T_EXPECT] = "expect",
	};
	yaml_node_t *v[T_N];
	int kl[T_N];
	struct scn *s = c->s;
	int r = walk_map(c, root, "top level", keys, T_N, v, kl);
	if (r || (r = need(c, root, "top level", keys, v, T_NAME)) ||
	    (r = need(c, root, "top level", keys, v, T_PLATFORM)))
		return r;
	if ((r = get_str(c, v[T_NAME], "name", s->name, sizeof(s->name))) ||
	    (r = parse_platform(c, v[T_PLATFORM], kl[T_PLATFORM])))
		return r;
	if (v[T_HYPERVISOR] && (r = parse_hypervisor(c, v[T_HYPERVISOR])))
		return r;
	if (v[T_BOOTARGS]) {
		if ((r = want(c, v[T_BOOTARGS], YAML_SCALAR_NODE, "bootargs")))
			return r;
		/* May be empty: "no options". */
		if (v[T_BOOTARGS]->data.scalar.length) {
			if ((r = get_str(c, v[T_BOOTARGS], "bootargs", s->bootargs,
					 sizeof(s->bootargs))))
				return r;
		}
		s->has_bootargs = true;
		s->bootargs_line = line_of(v[T_BOOTARGS]);
	}
	size_t cnt;
	if (v[T_WORKLOADS]) {
		if ((r = items(c, v[T_WORKLOADS], "workloads", SCN_MAX_WORKLOADS,
			       &cnt)))
			return r;
		for (size_t i = 0; i < cnt; i++) {
			char what[48];
			nm(what, sizeof(what), "workloads[%zu]", i);
			ITEM_OR_FAIL(c, v[T_WORKLOADS], i, "workloads", e);
			if ((r = parse_workload(c, e, what, &s->workloads[i])))
				return r;
			s->nworkloads++;
		}
		if ((r = check_xen_backends(c)))
			return r;
	}
	if (v[T_EXPECT]) {
		/* The maximum is on comparisons, checked as they are added. */
		if ((r = items(c, v[T_EXPECT], "expect", SCN_MAX_EXPECTS, &cnt)))
			return r;
		for (size_t i = 0; i < cnt; i++) {
			char what[48];
			nm(what, sizeof(what), "expect[%zu]", i);
			ITEM_OR_FAIL(c, v[T_EXPECT], i, "expect", e);
			if ((r = parse_expect(c, e, what)))
				return r;
		}
	}
	return 0;
}

/* libyaml's reader reports a byte offset, not a line: count them. */
static int line_at_offset(FILE *f, size_t offset)
{
	int line = 1;
	if (fseek(f, 0, SEEK_SET))
		return line;
	for (size_t i = 0; i < offset; i++) {
		int ch = getc(f);
		if (ch == EOF)
			break;
		if (ch == '\n')
			line++;
	}
	return line;
}

static int yaml_fail(struct ctx *c, yaml_parser_t *p, FILE *f)
{
	if (p->error == YAML_MEMORY_ERROR) {
		if (c->err && c->errlen) {
			snprintf(c->err, c->errlen, "%s: out of memory", c->path);
			one_line(c->err);
		}
		return -ENOMEM;
	}
	const char *problem = p->problem ? p->problem : "unknown error";
	if (p->error == YAML_READER_ERROR)
		return fail_at(c, line_at_offset(f, p->problem_offset),
			       "malformed YAML: %s (byte %zu)", problem,
			       p->problem_offset);
	if (p->context)
		return fail_at(c, (int)p->problem_mark.line + 1,
			       "malformed YAML: %s (%s at line %d)", problem,
			       p->context, (int)p->context_mark.line + 1);
	return fail_at(c, (int)p->problem_mark.line + 1, "malformed YAML: %s",
		       problem);
}

/*
 * Nesting deeper than SCN_MAX_DEPTH is refused with its line, by a pass
 * over the events that stops there, before the document is built.  A
 * YAML error is left for the real parse to report.  0, or -EINVAL.
 */
static int check_depth(struct ctx *c, FILE *f)
{
	yaml_parser_t p;
	yaml_event_t ev;
	int depth = 0, r = 0;
	if (!yaml_parser_initialize(&p))
		return 0;
	yaml_parser_set_input_file(&p, f);
	while (!r && yaml_parser_parse(&p, &ev)) {
		yaml_event_type_t t = ev.type;
		if (t == YAML_SEQUENCE_START_EVENT || t == YAML_MAPPING_START_EVENT) {
			if (++depth > SCN_MAX_DEPTH)
				r = fail_at(c, (int)ev.start_mark.line + 1,
					    "nested deeper than %d levels (a scenario needs far "
					    "fewer)", SCN_MAX_DEPTH);
		} else if (t == YAML_SEQUENCE_END_EVENT || t == YAML_MAPPING_END_EVENT) {
			depth--;
		}
		yaml_event_delete(&ev);
		if (t == YAML_STREAM_END_EVENT)
			break;
	}
	yaml_parser_delete(&p);
	rewind(f);
	return r;
}

/* Parses an open stream labelled `path` (closed here). */
static int scn_load_stream(const char *path, FILE *f, struct scn **out, char *err,
			   size_t errlen)
{
	struct ctx c = { .path = path, .err = err, .errlen = errlen };
	int r = 0;
	struct scn *s = calloc(1, sizeof(*s));
	yaml_parser_t parser;
	yaml_document_t doc;
	if (!s || !yaml_parser_initialize(&parser)) {
		free(s);
		fclose(f);
		if (err && errlen) {
			snprintf(err, errlen, "%s: out of memory", path);
			one_line(err);
		}
		return -ENOMEM;
	}
	c.s = s;
	if ((r = check_depth(&c, f)))
		goto out_parser;
	yaml_parser_set_input_file(&parser, f);
	c.doc = &doc;
	if (!yaml_parser_load(&parser, &doc)) {
		/* libyaml has already freed the document. */
		r = yaml_fail(&c, &parser, f);
		goto out_parser;
	}
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	if (!root) {
		r = fail_at(&c, 1,
			    "empty file (expected a mapping with name and platform)");
		goto out_doc;
	}
	/* A scalar "" document (only comments) reads as empty too. */
	if (root->type == YAML_SCALAR_NODE && root->data.scalar.length == 0) {
		r = fail_at(&c, 1,
			    "empty file (expected a mapping with name and platform)");
		goto out_doc;
	}
	r = parse_root(&c, root);
	if (!r) {
		yaml_document_t more;
		if (!yaml_parser_load(&parser, &more)) {
			r = yaml_fail(&c, &parser, f);
		} else {
			yaml_node_t *extra = yaml_document_get_root_node(&more);
			if (extra)
				r = fail(&c, extra,
					 "a second YAML document: a scenario file holds one");
			yaml_document_delete(&more);
		}
	}
out_doc:
	yaml_document_delete(&doc);
out_parser:
	yaml_parser_delete(&parser);
	fclose(f);
	if (r) {
		free(s);
		return r;
	}
	*out = s;
	return 0;
}

int scn_load(const char *path, struct scn **out, char *err, size_t errlen)
{
	if (out)
		*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	if (!path || !out)
		return -EINVAL;

	/*
	 * A regular file of at most SCN_MAX_FILE_BYTES, read whole: a FIFO or
	 * a device is refused at once (O_NONBLOCK: the open never waits for
	 * a writer), and what is parsed is what was measured.
	 */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	struct stat st;
	int r = 0;
	const char *what = NULL;
	char *text = NULL;
	size_t n = 0;
	if (fd < 0)
		r = -errno;
	else if (fstat(fd, &st))
		r = -errno;
	else if (S_ISDIR(st.st_mode))
		r = -EISDIR;
	else if (!S_ISREG(st.st_mode))
		what = S_ISFIFO(st.st_mode) ? "a FIFO" : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)
		       ? "a device" : "a socket or other";
	if (!r && !what) {
		text = malloc(SCN_MAX_FILE_BYTES + 1);
		if (!text)
			r = -ENOMEM;
		while (!r && n <= SCN_MAX_FILE_BYTES) {
			ssize_t got = read(fd, text + n, SCN_MAX_FILE_BYTES + 1 - n);
			if (got < 0 && errno == EINTR)
				continue;
			if (got < 0)
				r = -errno;
			if (got <= 0)
				break;
			n += (size_t)got;
		}
	}
	if (fd >= 0)
		close(fd);
	if (r || what || n > SCN_MAX_FILE_BYTES) {
		free(text);
		if (err && errlen) {
			if (r)
				snprintf(err, errlen, "%s: %s", path, strerror(-r));
			else if (what)
				snprintf(err, errlen, "%s: not a regular file (%s)", path, what);
			else
				snprintf(err, errlen, "%s: larger than the %u bytes a scenario file "
					 "may be", path, SCN_MAX_FILE_BYTES);
			one_line(err);
		}
		return r ? r : -EINVAL;
	}
	FILE *f = fmemopen(text, n, "r");
	if (!f) {
		free(text);
		if (err && errlen)
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -ENOMEM;
	}
	r = scn_load_stream(path, f, out, err, errlen);
	free(text);
	return r;
}

int scn_load_string(const char *label, const char *text, struct scn **out, char *err,
		    size_t errlen)
{
	if (out)
		*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	if (!label || !text || !out)
		return -EINVAL;
	/* A read-only stream over the text, so one parser serves files and built-ins. */
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	if (!f) {
		if (err && errlen)
			snprintf(err, errlen, "%s: %s", label, strerror(errno));
		return -ENOMEM;
	}
	return scn_load_stream(label, f, out, err, errlen);
}

void scn_free(struct scn *s)
{
	free(s);
}
