/*
 * tools/explain.c - `dmamap explain BOARD`: a verdict per DMA master.
 *
 * Owns: the board explanation (explain.h): the machine from the tree and
 * --ram, the bounce pool as the library makes it on that machine, and per
 * device the tree's answer (sim/dt.h: Linux's of_dma_configure_id) with a
 * verdict per mask, as text (like `lspci -vv`) or JSON.
 *
 * Must never decide DMA policy: whether swiotlb is on and where its pool
 * lies is read back from a library context made on the simulated machine;
 * a verdict is dma-direct's capability rule (dma_capable: the buffer's bus
 * address within min(mask, bus_dma_limit) and inside a window) applied to
 * the RAM, the pool and the device's windows.
 */
#include "explain.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <dmamap/platform.h>

#include <dmamap/sim/dt.h>
#include <dmamap/sim/sim.h>

/* ---- --ram ------------------------------------------------------------------ */

static bool parse_size(const char *s, const char *end, uint64_t *v)
{
	char buf[64], *e;
	size_t n = (size_t)(end - s);
	unsigned int shift = 0;

	if (n == 0 || n >= sizeof(buf) || s[0] == '-')
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	switch (buf[n - 1]) {
	case 'k': case 'K': shift = 10; break;
	case 'm': case 'M': shift = 20; break;
	case 'g': case 'G': shift = 30; break;
	case 't': case 'T': shift = 40; break;
	default: break;
	}
	if (shift)
		buf[--n] = '\0';
	errno = 0;
	unsigned long long x = strtoull(buf, &e, 0);
	if (errno || e == buf || *e || (shift && x > (UINT64_MAX >> shift)))
		return false;
	*v = (uint64_t)x << shift;
	return true;
}

int explain_parse_ram(const char *arg, struct explain_opts *o, char *err, size_t errlen)
{
	const char *p = arg;

	o->nram = 0;
	while (*p) {
		const char *colon = strchr(p, ':'), *comma = strchr(p, ',');
		uint64_t base, size;

		if (!comma)
			comma = p + strlen(p);
		if (!colon || colon > comma || !parse_size(p, colon, &base) ||
		    !parse_size(colon + 1, comma, &size) || size == 0 ||
		    base + (size - 1) < base) {
			snprintf(err, errlen, "--ram: '%.*s' is not BASE:SIZE (e.g. 0x0:8G)",
				 (int)(comma - p), p);
			return -EINVAL;
		}
		if (o->nram == EXPLAIN_MAX_RAM) {
			snprintf(err, errlen, "--ram: more than %d ranges", EXPLAIN_MAX_RAM);
			return -EINVAL;
		}
		o->ram[o->nram][0] = base;
		o->ram[o->nram][1] = size;
		o->nram++;
		p = *comma ? comma + 1 : comma;
	}
	if (o->nram == 0) {
		snprintf(err, errlen, "--ram: no range given");
		return -EINVAL;
	}
	return 0;
}

/* ---- the machine and its bounce pool -------------------------------------------- */

struct ex_pool {
	bool known;          /* RAM known: the library decided */
	bool enabled;
	uint64_t base, size;
	char reason[320];
};

struct ex_env {
	const struct sim_dt *dt;
	struct sim_machine_desc md;
	struct ex_pool pool;
	uint64_t ram_end;    /* last byte of RAM (md.nram > 0) */
};

static bool word_in(const char *args, const char *w)
{
	size_t n = strlen(w);

	for (const char *p = args; p && (p = strstr(p, w)) != NULL; p += n)
		if ((p == args || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' ' || p[n] == ','))
			return true;
	return false;
}

/* The library's pool on this machine: made, read back, torn down. */
static int ask_library(struct ex_env *e, char *err, size_t errlen)
{
	struct sim_machine *m = NULL;
	struct dmamap_ctx *ctx = NULL;
	const char *why = NULL;
	struct dmamap_swiotlb_stats st;
	const struct dmamap_platform *p;
	const char *args = e->dt->bootargs;
	int rc = sim_machine_create(&e->md, &m, &why);

	if (rc) {
		snprintf(err, errlen, "%s: the machine: %s", e->dt->file,
			 why ? why : dmamap_strerror(rc));
		return rc == -ENOMEM ? rc : -EINVAL;
	}
	for (unsigned int i = 0; i < e->dt->nrmem; i++)
		if (!e->dt->rmem[i].dynamic)
			(void)sim_reserve(m, e->dt->rmem[i].base, e->dt->rmem[i].size);
	p = sim_platform(m);
	struct dmamap_config cfg = { .bootargs = args }; /* no log: explain is quiet */
	rc = dmamap_ctx_create(p, &cfg, &ctx);
	if (rc) {
		sim_machine_destroy(m);
		snprintf(err, errlen, "%s: bootargs \"%s\" refused (%s)", e->dt->file,
			 args ? args : "", dmamap_strerror(rc));
		return rc == -ENOMEM ? rc : -EINVAL;
	}
	memset(&st, 0, sizeof(st));
	dmamap_swiotlb_get_stats(ctx, NULL, &st);
	e->pool.known = true;
	e->pool.enabled = st.enabled;
	e->pool.base = st.boot_base;
	e->pool.size = st.boot_total_bytes;
	dmamap_ctx_destroy(ctx);
	sim_machine_destroy(m);

	/* Why, in the words of the rule the library followed. */
	if (args && word_in(args, "swiotlb=noforce"))
		snprintf(e->pool.reason, sizeof(e->pool.reason),
			 "swiotlb=noforce on the command line: no bounce pool");
	else if (args && (strstr(args, ",force") || word_in(args, "iommu=soft")))
		snprintf(e->pool.reason, sizeof(e->pool.reason),
			 "asked for on the command line (%s)", args);
	else if (e->md.arch == DMAMAP_ARCH_ARM64 && e->pool.enabled)
		snprintf(e->pool.reason, sizeof(e->pool.reason),
			 "arm64: RAM ends at 0x%" PRIx64 ", above ZONE_DMA's limit 0x%" PRIx64
			 " (min(of_dma_get_max_cpu_address, 4 GiB - 1)); the pool comes from "
			 "low memory below that limit (ARCH_LOW_ADDRESS_LIMIT)",
			 e->ram_end, e->md.zone_dma_limit);
	else if (e->md.arch == DMAMAP_ARCH_ARM64)
		snprintf(e->pool.reason, sizeof(e->pool.reason),
			 "arm64: RAM ends at 0x%" PRIx64 ", within ZONE_DMA (limit 0x%" PRIx64
			 "): every bus reaches all RAM, no bounce pool", e->ram_end,
			 e->md.zone_dma_limit);
	else if (e->pool.enabled)
		snprintf(e->pool.reason, sizeof(e->pool.reason),
			 "x86: RAM ends at 0x%" PRIx64 ", above 4 GiB (pci_swiotlb_detect); "
			 "the pool comes from memory below 4 GiB", e->ram_end);
	else
		snprintf(e->pool.reason, sizeof(e->pool.reason),
			 "x86: RAM ends at 0x%" PRIx64 ", below 4 GiB: no bounce pool",
			 e->ram_end);
	return 0;
}

static int machine(struct ex_env *e, const struct explain_opts *o, char *err, size_t errlen)
{
	int rc = sim_dt_machine_desc(e->dt, &e->md, err, errlen);

	if (rc)
		return rc;
	if (o->nram) {
		e->md.nram = 0;
		for (unsigned int i = 0; i < o->nram; i++) {
			uint64_t b = (o->ram[i][0] + 4095) & ~4095ULL;
			uint64_t end = (o->ram[i][0] + o->ram[i][1]) & ~4095ULL;

			if (end <= b || e->md.nram == SIM_MAX_RAM_RANGES) {
				snprintf(err, errlen, "--ram: 0x%" PRIx64 ":0x%" PRIx64
					 " holds no whole 4 KiB page, or too many ranges",
					 o->ram[i][0], o->ram[i][1]);
				return -EINVAL;
			}
			/* Sorted by base. */
			unsigned int k = e->md.nram++;
			while (k > 0 && e->md.ram[k - 1].base > b) {
				e->md.ram[k] = e->md.ram[k - 1];
				k--;
			}
			e->md.ram[k] = (struct sim_ram_range){ b, end - b };
		}
		for (unsigned int i = 1; i < e->md.nram; i++)
			if (e->md.ram[i - 1].base + e->md.ram[i - 1].size > e->md.ram[i].base) {
				snprintf(err, errlen, "--ram: ranges at 0x%" PRIx64 " and 0x%" PRIx64
					 " overlap", e->md.ram[i - 1].base, e->md.ram[i].base);
				return -EINVAL;
			}
		sim_dt_zone_dma(e->dt, &e->md);
	}
	if (e->md.nram == 0)
		return 0;
	e->ram_end = e->md.ram[e->md.nram - 1].base + e->md.ram[e->md.nram - 1].size - 1;
	return ask_library(e, err, errlen);
}

/* ---- one device ------------------------------------------------------------------- */

struct ex_dev {
	const struct sim_dt_device *d;
	const char *bus;
	bool coherent;
	const struct dmamap_dma_range *ranges;
	unsigned int nranges;
	uint64_t limit;            /* bus_dma_limit, 0: none */
	const char *iommu;         /* a translating IOMMU's path, or NULL */
	uint64_t granule;
	uint32_t stream_id;
	const char *iommu_off;     /* an IOMMU link to a disabled IOMMU */
	const struct sim_dt_rmem *pool;
	char verdict[2][256];
	char reason[512];
};

static uint64_t smallest_page(uint64_t sizes)
{
	return sizes ? sizes & (~sizes + 1) : 4096;
}

/*
 * dma_capable for every RAM byte, as CPU ranges the device reaches with
 * this mask: identity reaches [0, min(mask, limit)]; a window reaches the
 * CPU side of its bus addresses up to min(mask, limit).
 */
struct reach {
	uint64_t first[DMAMAP_MAX_DMA_RANGES + 1], last[DMAMAP_MAX_DMA_RANGES + 1];
	unsigned int n;
};

static void reach_of(const struct ex_dev *x, uint64_t mask, struct reach *r)
{
	uint64_t top = x->limit && x->limit < mask ? x->limit : mask;

	r->n = 0;
	if (x->nranges == 0) {
		r->first[0] = 0;
		r->last[0] = top;
		r->n = 1;
		return;
	}
	for (unsigned int i = 0; i < x->nranges; i++) {
		const struct dmamap_dma_range *w = &x->ranges[i];
		uint64_t blast = w->dma + w->size - 1;

		if (w->dma > top)
			continue;
		if (blast > top)
			blast = top;
		r->first[r->n] = w->cpu;
		r->last[r->n] = w->cpu + (blast - w->dma);
		r->n++;
	}
}

static bool reached(const struct reach *r, uint64_t a, uint64_t b)
{
	for (unsigned int i = 0; i < r->n; i++)
		if (a >= r->first[i] && b <= r->last[i])
			return true;
	return false;
}

/* The lowest RAM byte outside the reach, or UINT64_MAX if all is reached. */
static uint64_t first_unreached(const struct ex_env *e, const struct reach *r)
{
	uint64_t best = UINT64_MAX;

	for (unsigned int i = 0; i < e->md.nram; i++) {
		uint64_t a = e->md.ram[i].base, b = a + e->md.ram[i].size - 1;

		while (a <= b) {
			unsigned int k;
			bool in = false;

			for (k = 0; k < r->n; k++)
				if (a >= r->first[k] && a <= r->last[k]) {
					in = true;
					break;
				}
			if (!in) {
				if (a < best)
					best = a;
				break;
			}
			if (r->last[k] >= b)
				break;
			a = r->last[k] + 1;
		}
	}
	return best;
}

/* Whether all RAM above `from` is out of reach (the reach is a prefix). */
static bool reach_is_prefix(const struct ex_env *e, const struct reach *r, uint64_t from)
{
	for (unsigned int i = 0; i < e->md.nram; i++) {
		uint64_t a = e->md.ram[i].base, b = a + e->md.ram[i].size - 1;

		if (b < from)
			continue;
		if (a < from)
			a = from;
		for (unsigned int k = 0; k < r->n; k++)
			if (r->last[k] >= a && r->first[k] <= b)
				return false;
	}
	return true;
}

static void verdict(const struct ex_env *e, const struct ex_dev *x, uint64_t mask, char *out,
		    size_t len)
{
	struct reach r;
	uint64_t lo;

	if (x->iommu) {
		snprintf(out, len, "translated by %s (%" PRIu64 " KiB pages): never bounces",
			 x->iommu, x->granule >> 10);
		return;
	}
	if (x->pool) {
		snprintf(out, len, "uses pool %s (0x%" PRIx64 "-0x%" PRIx64 "): every map bounces",
			 x->pool->path, x->pool->base, x->pool->base + x->pool->size - 1);
		return;
	}
	reach_of(x, mask, &r);
	lo = first_unreached(e, &r);
	if (lo == UINT64_MAX) {
		snprintf(out, len, "never bounces");
		return;
	}
	/* "above X": X is the top of what it reaches below the first miss. */
	uint64_t top = 0;
	for (unsigned int k = 0; k < r.n; k++)
		if (r.last[k] < lo && r.last[k] > top)
			top = r.last[k];
	char where[96];
	if (lo == e->md.ram[0].base)
		snprintf(where, sizeof(where), "any RAM");
	else if (reach_is_prefix(e, &r, lo))
		snprintf(where, sizeof(where), "RAM above 0x%" PRIx64, top);
	else
		snprintf(where, sizeof(where), "RAM outside its windows (first at 0x%" PRIx64 ")",
			 lo);
	if (!e->pool.enabled)
		snprintf(out, len, "cannot map %s: maps fail (no bounce pool)", where);
	else if (!reached(&r, e->pool.base, e->pool.base + e->pool.size - 1))
		snprintf(out, len, "cannot map %s: maps fail (the bounce pool at 0x%" PRIx64
			 " is out of its reach)", where, e->pool.base);
	else if (lo == e->md.ram[0].base)
		snprintf(out, len, "bounces every map");
	else if (reach_is_prefix(e, &r, lo))
		snprintf(out, len, "bounces above 0x%" PRIx64, top);
	else
		snprintf(out, len, "bounces %s", where);
}

static void describe(const struct ex_env *e, const struct sim_dt_device *d, struct ex_dev *x)
{
	const struct sim_dt *dt = e->dt;
	size_t n = 0;

	memset(x, 0, sizeof(*x));
	x->d = d;
	x->bus = d->is_pci_dev ? "pci" : "platform";
	x->coherent = d->coherent;
	x->ranges = d->ranges;
	x->nranges = d->nranges;
	x->limit = d->bus_dma_limit;
	if (d->is_pci_dev) {
		const struct sim_dt_device *host = &dt->devices[d->host];
		const struct sim_dt_iommu_map *m =
			d->has_rid ? sim_dt_map_rid(host, d->rid, &x->stream_id) : NULL;

		if (m && m->iommu_enabled) {
			x->iommu = m->iommu_path;
			x->granule = smallest_page(m->iommu_page_sizes);
		} else if (m) {
			x->iommu_off = m->iommu_path;
		}
	} else if (d->has_iommu && d->iommu_enabled) {
		x->iommu = d->iommu_path;
		x->granule = smallest_page(d->iommu_page_sizes);
		x->stream_id = d->iommu_ncells ? d->iommu_cells[0] : 0;
	} else if (d->has_iommu) {
		x->iommu_off = d->iommu_path;
	}
	/* of_dma_set_restricted_buffer: only without an IOMMU. */
	if (!x->iommu && d->restricted_pool >= 0)
		x->pool = &dt->rmem[d->restricted_pool];

	if (d->via)
		n += (size_t)snprintf(x->reason + n, sizeof(x->reason) - n,
				      "windows from dma-ranges of %s (walk from %s)", d->via,
				      d->dma_parent ? d->dma_parent : "-");
	else if (d->untranslatable)
		n += (size_t)snprintf(x->reason + n, sizeof(x->reason) - n,
				      "dma-ranges on the walk from %s translate to no CPU "
				      "address: 1:1, no limit", d->dma_parent ? d->dma_parent : "-");
	else
		n += (size_t)snprintf(x->reason + n, sizeof(x->reason) - n,
				      "no dma-ranges on the walk from %s: 1:1, no limit",
				      d->dma_parent ? d->dma_parent : "the root");
	if (x->iommu)
		n += (size_t)snprintf(x->reason + n, sizeof(x->reason) - n,
				      "; %s %s (stream 0x%" PRIx32 ")",
				      d->is_pci_dev ? "iommu-map by requester ID to" : "iommus",
				      x->iommu, x->stream_id);
	else if (x->iommu_off)
		n += (size_t)snprintf(x->reason + n, sizeof(x->reason) - n,
				      "; IOMMU %s is disabled: dma-direct", x->iommu_off);
	if (x->pool)
		n += (size_t)snprintf(x->reason + n, sizeof(x->reason) - n,
				      "; memory-region %s is a restricted-dma-pool%s",
				      x->pool->path, d->is_pci_dev ? " (on the host bridge)" : "");
	if (e->pool.known) {
		verdict(e, x, 0xffffffffULL, x->verdict[0], sizeof(x->verdict[0]));
		verdict(e, x, UINT64_MAX, x->verdict[1], sizeof(x->verdict[1]));
	}
}

static bool selected(const struct sim_dt_device *d, const char *want)
{
	const char *last, *name;
	size_t n;

	if (!want)
		return true;
	if (!strcmp(d->path, want))
		return true;
	last = strrchr(d->path, '/');
	name = last ? last + 1 : d->path;
	if (!strcmp(name, want))
		return true;
	n = strcspn(name, "@");
	return strlen(want) == n && !strncmp(name, want, n);
}

/* ---- output ------------------------------------------------------------------------ */

static void json_str(FILE *out, const char *s)
{
	fputc('"', out);
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

static void json_hex(FILE *out, uint64_t v)
{
	fprintf(out, "\"0x%" PRIx64 "\"", v);
}

/* `, "key": ` then the string, or null without one. */
static void json_key_str(FILE *out, const char *key, const char *s)
{
	fprintf(out, ", \"%s\": ", key);
	if (s)
		json_str(out, s);
	else
		fputs("null", out);
}

/* `, "key": ` then the number as hex, or null when there is none. */
static void json_key_hex(FILE *out, const char *key, bool present, uint64_t v)
{
	fprintf(out, ", \"%s\": ", key);
	if (present)
		json_hex(out, v);
	else
		fputs("null", out);
}

static void print_json(const struct ex_env *e, const struct explain_opts *o, FILE *out)
{
	bool first = true;

	fprintf(out, "{\"machine\": {\"arch\": \"%s\", \"ram\": [",
		e->md.arch == DMAMAP_ARCH_ARM64 ? "arm64" : "x86");
	for (unsigned int i = 0; i < e->md.nram; i++) {
		fprintf(out, "%s{\"base\": ", i ? ", " : "");
		json_hex(out, e->md.ram[i].base);
		fputs(", \"size\": ", out);
		json_hex(out, e->md.ram[i].size);
		fputc('}', out);
	}
	fputs("], \"zone_dma_limit\": ", out);
	if (e->md.arch == DMAMAP_ARCH_ARM64 && e->md.nram)
		json_hex(out, e->md.zone_dma_limit);
	else
		fputs("null", out);
	fputs("},\n", out);
	if (e->pool.known) {
		fprintf(out, " \"swiotlb\": {\"enabled\": %s, \"base\": ",
			e->pool.enabled ? "true" : "false");
		if (e->pool.enabled)
			json_hex(out, e->pool.base);
		else
			fputs("null", out);
		fputs(", \"size\": ", out);
		json_hex(out, e->pool.enabled ? e->pool.size : 0);
		fputs(", \"reason\": ", out);
		json_str(out, e->pool.reason);
		fputs("},\n", out);
	}
	fputs(" \"devices\": [", out);
	for (unsigned int i = 0; i < e->dt->ndevices; i++) {
		const struct sim_dt_device *d = &e->dt->devices[i];
		struct ex_dev x;

		if (!d->master || !selected(d, o->device))
			continue;
		describe(e, d, &x);
		fputs(first ? "{" : ",\n  {", out);
		first = false;
		fputs("\"path\": ", out);
		json_str(out, d->path);
		fprintf(out, ", \"bus\": \"%s\", \"coherent\": %s, \"windows\": [", x.bus,
			x.coherent ? "true" : "false");
		for (unsigned int k = 0; k < x.nranges; k++) {
			fprintf(out, "%s{\"bus\": ", k ? ", " : "");
			json_hex(out, x.ranges[k].dma);
			fputs(", \"cpu\": ", out);
			json_hex(out, x.ranges[k].cpu);
			fputs(", \"size\": ", out);
			json_hex(out, x.ranges[k].size);
			fputc('}', out);
		}
		fputc(']', out);
		json_key_str(out, "dma_parent", d->dma_parent);
		json_key_hex(out, "bus_dma_limit", x.limit != 0, x.limit);
		json_key_str(out, "iommu", x.iommu);
		json_key_hex(out, "iommu_granule", x.iommu != NULL, x.granule);
		json_key_str(out, "restricted_pool", x.pool ? x.pool->path : NULL);
		if (e->pool.known) {
			fputs(", \"verdict32\": ", out);
			json_str(out, x.verdict[0]);
			fputs(", \"verdict64\": ", out);
			json_str(out, x.verdict[1]);
		}
		fputs(", \"reason\": ", out);
		json_str(out, x.reason);
		fputc('}', out);
	}
	fputs("]}\n", out);
}

static void size_text(uint64_t b, char *buf, size_t n)
{
	if (b && !(b & ((1ULL << 30) - 1)))
		snprintf(buf, n, "%" PRIu64 " GiB", b >> 30);
	else if (b && !(b & ((1ULL << 20) - 1)))
		snprintf(buf, n, "%" PRIu64 " MiB", b >> 20);
	else
		snprintf(buf, n, "%" PRIu64 " KiB", b >> 10);
}

static void print_text(const struct ex_env *e, const struct explain_opts *o, FILE *out)
{
	char sz[32];
	uint64_t total = 0;
	unsigned int shown = 0, hidden = 0;

	fprintf(out, "board %s: %s\n", e->dt->file,
		e->md.arch == DMAMAP_ARCH_ARM64 ? "arm64" : "x86");
	if (e->md.nram == 0) {
		fputs("RAM: unknown (the tree's /memory is empty: firmware fills it in); give "
		      "--ram BASE:SIZE to decide the bounce pool and the verdicts\n", out);
	} else {
		fputs("RAM:", out);
		for (unsigned int i = 0; i < e->md.nram; i++) {
			fprintf(out, "%s 0x%" PRIx64 "-0x%" PRIx64, i ? "," : "", e->md.ram[i].base,
				e->md.ram[i].base + e->md.ram[i].size - 1);
			total += e->md.ram[i].size;
		}
		size_text(total, sz, sizeof(sz));
		fprintf(out, " (%s)\n", sz);
	}
	if (e->md.arch == DMAMAP_ARCH_ARM64) {
		if (e->dt->max_cpu_address == UINT64_MAX)
			fputs("ZONE_DMA: no dma-ranges anywhere: of_dma_get_max_cpu_address is "
			      "unbounded", out);
		else
			fprintf(out, "ZONE_DMA: of_dma_get_max_cpu_address 0x%" PRIx64,
				e->dt->max_cpu_address);
		if (e->md.nram)
			fprintf(out, "; limit 0x%" PRIx64 " (at most 4 GiB - 1, at most the "
				"end of RAM)\n", e->md.zone_dma_limit);
		else
			fputs("\n", out);
	}
	if (e->pool.known) {
		if (e->pool.enabled) {
			size_text(e->pool.size, sz, sizeof(sz));
			fprintf(out, "swiotlb: on, %s at 0x%" PRIx64 "-0x%" PRIx64 ": %s\n", sz,
				e->pool.base, e->pool.base + e->pool.size - 1, e->pool.reason);
		} else {
			fprintf(out, "swiotlb: off: %s\n", e->pool.reason);
		}
	}
	for (unsigned int i = 0; i < e->dt->ndevices; i++) {
		const struct sim_dt_device *d = &e->dt->devices[i];
		struct ex_dev x;

		if (!d->master || !selected(d, o->device))
			continue;
		if (!o->all && !o->device && !d->dma_user) {
			hidden++;
			continue;
		}
		shown++;
		describe(e, d, &x);
		fprintf(out, "\n%s  %s  %s, %s\n", d->path, d->compatible ? d->compatible : "-",
			x.bus, x.coherent ? "coherent" : "non-coherent");
		fprintf(out, "\tDMA parent: %s\n", d->dma_parent ? d->dma_parent : "none");
		if (x.nranges == 0)
			fputs("\twindows: none (1:1, all addresses)\n", out);
		for (unsigned int k = 0; k < x.nranges; k++)
			fprintf(out, "\twindow: bus 0x%" PRIx64 "-0x%" PRIx64 " -> cpu 0x%" PRIx64
				"-0x%" PRIx64 "\n", (uint64_t)x.ranges[k].dma,
				(uint64_t)(x.ranges[k].dma + x.ranges[k].size - 1),
				(uint64_t)x.ranges[k].cpu,
				(uint64_t)(x.ranges[k].cpu + x.ranges[k].size - 1));
		if (x.limit)
			fprintf(out, "\tbus_dma_limit: 0x%" PRIx64 "\n", x.limit);
		if (x.iommu)
			fprintf(out, "\tIOMMU: %s, stream 0x%" PRIx32 ", %" PRIu64 " KiB granule\n",
				x.iommu, x.stream_id, x.granule >> 10);
		else
			fprintf(out, "\tIOMMU: none%s%s\n", x.iommu_off ? " (" : "",
				x.iommu_off ? "linked IOMMU disabled)" : "");
		if (x.pool)
			fprintf(out, "\trestricted pool: %s 0x%" PRIx64 "-0x%" PRIx64 "\n",
				x.pool->path, x.pool->base, x.pool->base + x.pool->size - 1);
		if (e->pool.known) {
			fprintf(out, "\t32-bit mask: %s\n", x.verdict[0]);
			fprintf(out, "\t64-bit mask: %s\n", x.verdict[1]);
		}
		fprintf(out, "\twhy: %s\n", x.reason);
	}
	if (hidden)
		fprintf(out, "\n%u more configured device%s not shown: shown are those a driver "
			"moves data with (PCI functions, nodes with iommus, dma-coherent or "
			"memory-region, nodes named mmc, usb, ethernet, dma-controller, gpu, "
			"display, crypto, sata, ufs, nvme, wifi, audio...); --all shows every one\n",
			hidden, hidden == 1 ? "" : "s");
	(void)shown;
}

int explain_board(const char *path, const struct explain_opts *o, FILE *out, char *err,
		  size_t errlen)
{
	struct ex_env e;
	struct sim_dt *dt = NULL;
	struct sim_dt_load_opts lo = { .include = o->include, .ninclude = o->ninclude };
	int rc = sim_dt_load_ex(path, &lo, &dt, err, errlen);
	bool any = false;

	if (rc)
		return rc;
	memset(&e, 0, sizeof(e));
	e.dt = dt;
	rc = machine(&e, o, err, errlen);
	if (!rc && o->device) {
		for (unsigned int i = 0; i < dt->ndevices && !any; i++)
			any = dt->devices[i].master && selected(&dt->devices[i], o->device);
		if (!any) {
			snprintf(err, errlen, "%s: no DMA master '%s' (a path, or a node name "
				 "like mmc@7e340000 or mmc)", path, o->device);
			rc = -EINVAL;
		}
	}
	if (!rc) {
		if (o->json)
			print_json(&e, o, out);
		else
			print_text(&e, o, out);
		if (ferror(out))
			rc = -EIO;
	}
	sim_dt_free(dt);
	return rc;
}
