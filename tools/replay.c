/*
 * tools/replay.c - `dmamap replay TRACE [--scenario FILE]` (see trace.h).
 *
 * Owns: reading a trace line by line (jansson), rebuilding the platform
 * of the trace's scenario or another one (machine.h's run_platform_*),
 * re-issuing every operation in order on its own buffers and mappings,
 * and comparing each outcome with the recorded one.  Must never decide
 * DMA policy nor look inside the library: bounced or not is where the bus
 * address lands, as in the workloads.
 *
 * Operations that depend on something the replay could not do (a map
 * that failed here, a buffer that could not be allocated, a device the OS
 * refused) are skipped and counted, not compared: the difference is the
 * first failure, reported once.
 */
#include "trace.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include <dmamap/platform.h>
#include <dmamap/xen.h>

#include "machine.h"
#include "scenario.h"
#include <dmamap/sim/sim.h>
#include "wlenv.h"
#include <dmamap/sim/xen.h>

#define RP_PAGE 4096ULL
#define RP_4G (1ULL << 32)
#define RP_DEAD 64                /* unmapped mappings remembered */
#define RP_MAX_DEVS 128

enum rp_buf_kind { RB_PAGES = 1, RB_COHERENT, RB_DOMU, RB_GRANT };

struct rp_dev {
	char name[256];
	int state;                /* 0 ready, -ENODEV the OS refused it */
	bool reported;            /* its refusal was counted */
	char why[256];            /* the library's line when refused */
	struct wl_env we;
};

struct rp_buf {
	enum rp_buf_kind kind;    /* 0: never made */
	bool ok, live;
	uint8_t *cpu;
	uint64_t phys, len, npages;
	dmamap_dma_addr_t bus;    /* coherent */
	struct rp_dev *dev;
	uint16_t domid;           /* domU pages */
	uint64_t gfn;
	uint32_t gref;
	bool granted;
};

struct rp_map {
	uint64_t seq;
	bool ok;                  /* mapped here */
	bool coherent;
	struct rp_dev *dev;
	dmamap_dma_addr_t bus0;
	uint64_t total;
	struct dmamap_sg_table sgt;   /* a scatterlist's (sgl NULL otherwise) */
	unsigned int hint_seg;
	uint64_t hint_pos;
};

struct rp {
	const char *path;
	unsigned long line;
	struct replay_result *r;
	char *err;
	size_t errlen;
	struct scn *s;
	struct run_platform *pf;
	char *extra[RP_MAX_DEVS];     /* the header's device names (the platform keeps them) */
	unsigned int nextra;
	struct sim_machine *m;
	struct rp_dev devs[RP_MAX_DEVS];
	unsigned int ndevs;
	struct rp_dev *cur;
	struct rp_buf *bufs;      /* by id; [0] unused */
	size_t nbufs, capbufs;
	struct rp_map *maps;      /* live, in seq order */
	size_t nmaps, capmaps;
	struct rp_map dead[RP_DEAD]; /* recently unmapped (no sg table) */
	unsigned int ndead;
	uint64_t *failed;         /* seqs of mappings recorded but not made here */
	size_t nfailed, capfailed;
	uint64_t seq;             /* the last line's */
	uint8_t *scratch;
	size_t scratch_len;
	uint64_t events;
};

const char *replay_kind_name(enum replay_kind k)
{
	static const char *const n[REPLAY_NKINDS] = {
		[REPLAY_DEVICE] = "device", [REPLAY_OK] = "ok", [REPLAY_BOUNCED] = "bounced",
		[REPLAY_NENTS] = "nents", [REPLAY_RC] = "rc", [REPLAY_HASH] = "hash",
	};
	return k < REPLAY_NKINDS ? n[k] : "?";
}

static int bad(struct rp *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(struct rp *p, const char *fmt, ...)
{
	char what[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(p->err, p->errlen, "%s:%lu: %s", p->path, p->line, what);
	return -EINVAL;
}

static void diff(struct rp *p, const char *op, enum replay_kind k, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void diff(struct rp *p, const char *op, enum replay_kind k, const char *fmt, ...)
{
	struct replay_result *r = p->r;
	r->differences++;
	r->by_kind[k]++;
	unsigned int i;
	for (i = 0; i < r->nby_op && strcmp(r->by_op[i].op, op); i++)
		;
	if (i == r->nby_op && i < sizeof(r->by_op) / sizeof(r->by_op[0])) {
		snprintf(r->by_op[i].op, sizeof(r->by_op[i].op), "%s", op);
		r->nby_op++;
	}
	if (i < r->nby_op)
		r->by_op[i].n++;
	if (r->nfirst >= r->show)
		return;
	struct replay_diff *d = &r->first[r->nfirst++];
	d->seq = p->seq;
	snprintf(d->op, sizeof(d->op), "%s", op);
	snprintf(d->device, sizeof(d->device), "%.*s", (int)sizeof(d->device) - 1,
		 p->cur ? p->cur->name : "");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(d->what, sizeof(d->what), fmt, ap);
	va_end(ap);
}

/* ---- fields ---------------------------------------------------------------- */

/* A number: a JSON integer >= 0, or a "0x..." string (64-bit values). */
static int get_u64(struct rp *p, json_t *o, const char *op, const char *key, uint64_t *v)
{
	*v = 0; /* defined on every path, error or not */
	json_t *x = json_object_get(o, key);
	if (json_is_integer(x) && json_integer_value(x) >= 0) {
		*v = (uint64_t)json_integer_value(x);
		return 0;
	}
	if (json_is_string(x)) {
		const char *s = json_string_value(x);
		char *end;
		errno = 0;
		unsigned long long u = strtoull(s, &end, 16);
		if (!strncmp(s, "0x", 2) && s[2] && !*end && !errno) {
			*v = u;
			return 0;
		}
	}
	return bad(p, "%s: field '%s' is missing or not a number", op, key);
}

static int get_i64(struct rp *p, json_t *o, const char *op, const char *key, int64_t *v)
{
	*v = 0;
	json_t *x = json_object_get(o, key);
	if (!json_is_integer(x))
		return bad(p, "%s: field '%s' is missing or not an integer", op, key);
	*v = json_integer_value(x);
	return 0;
}

static int get_int(struct rp *p, json_t *o, const char *op, const char *key, int *v)
{
	*v = 0;
	int64_t x = 0;
	int rc = get_i64(p, o, op, key, &x);
	if (rc)
		return rc;
	if (x < INT32_MIN || x > INT32_MAX)
		return bad(p, "%s: field '%s' is out of range", op, key);
	*v = (int)x;
	return 0;
}

static int get_bool(struct rp *p, json_t *o, const char *op, const char *key, bool *v)
{
	*v = false;
	json_t *x = json_object_get(o, key);
	if (!json_is_boolean(x))
		return bad(p, "%s: field '%s' is missing or not true/false", op, key);
	*v = json_is_true(x);
	return 0;
}

static int get_dir(struct rp *p, json_t *o, const char *op, enum dmamap_data_direction *d)
{
	const char *s = json_string_value(json_object_get(o, "dir"));
	if (s && !strcmp(s, "bidi"))
		*d = DMAMAP_BIDIRECTIONAL;
	else if (s && !strcmp(s, "to"))
		*d = DMAMAP_TO_DEVICE;
	else if (s && !strcmp(s, "from"))
		*d = DMAMAP_FROM_DEVICE;
	else if (s && !strcmp(s, "none"))
		*d = DMAMAP_NONE;
	else
		return bad(p, "%s: field 'dir' must be bidi, to, from or none", op);
	return 0;
}

/* ---- buffers and mappings ----------------------------------------------------- */

static int buf_new(struct rp *p, const char *op, uint64_t id, struct rp_buf **out)
{
	if (id != p->nbufs + (p->nbufs == 0))
		return bad(p, "%s: buf %" PRIu64 " is not the next new buffer (%zu)", op, id,
			   p->nbufs ? p->nbufs : 1);
	if (!p->nbufs)
		p->nbufs = 1;
	if (p->nbufs + 1 > p->capbufs) {
		size_t cap = p->capbufs ? 2 * p->capbufs : 256;
		struct rp_buf *v = realloc(p->bufs, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		p->bufs = v;
		p->capbufs = cap;
	}
	*out = &p->bufs[p->nbufs++];
	memset(*out, 0, sizeof(**out));
	(*out)->dev = p->cur;
	return 0;
}

/* The buffer id names, live; NULL (and an error) otherwise. */
static int buf_get(struct rp *p, json_t *o, const char *op, const char *key, struct rp_buf **b)
{
	*b = NULL;
	uint64_t id;
	int rc = get_u64(p, o, op, key, &id);
	if (rc)
		return rc;
	if (!id || id >= p->nbufs || !p->bufs[id].kind)
		return bad(p, "%s: buf %" PRIu64 " does not exist", op, id);
	if (p->bufs[id].ok && !p->bufs[id].live)
		return bad(p, "%s: buf %" PRIu64 " was freed", op, id);
	*b = &p->bufs[id];
	return 0;
}

/* bytes [off, off + len) inside b. */
static int buf_range(struct rp *p, const char *op, const struct rp_buf *b, uint64_t off,
		     uint64_t len)
{
	if (off > b->len || len > b->len - off)
		return bad(p, "%s: bytes %" PRIu64 "+%" PRIu64 " lie outside the buffer (%" PRIu64
			   " bytes)", op, off, len, b->len);
	return 0;
}

static struct rp_map *map_new(struct rp *p)
{
	if (p->nmaps == p->capmaps) {
		size_t cap = p->capmaps ? 2 * p->capmaps : 16;
		struct rp_map *v = realloc(p->maps, cap * sizeof(*v));
		if (!v)
			return NULL;
		p->maps = v;
		p->capmaps = cap;
	}
	struct rp_map *m = &p->maps[p->nmaps++];
	memset(m, 0, sizeof(*m));
	m->seq = p->seq;
	m->dev = p->cur;
	return m;
}

static struct rp_map *map_live(struct rp *p, uint64_t seq)
{
	size_t lo = 0, hi = p->nmaps;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (p->maps[mid].seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < p->nmaps && p->maps[lo].seq == seq ? &p->maps[lo] : NULL;
}

static void map_del(struct rp *p, struct rp_map *m)
{
	dmamap_sg_free_table(&m->sgt);
	struct rp_map *d = &p->dead[p->ndead++ % RP_DEAD];
	*d = *m;
	memset(&d->sgt, 0, sizeof(d->sgt));
	size_t i = (size_t)(m - p->maps);
	memmove(&p->maps[i], &p->maps[i + 1], (p->nmaps - i - 1) * sizeof(p->maps[0]));
	p->nmaps--;
}

static int failed_add(struct rp *p, uint64_t seq)
{
	if (p->nfailed == p->capfailed) {
		size_t cap = p->capfailed ? 2 * p->capfailed : 64;
		uint64_t *v = realloc(p->failed, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		p->failed = v;
		p->capfailed = cap;
	}
	p->failed[p->nfailed++] = seq;
	return 0;
}

static bool failed_has(const struct rp *p, uint64_t seq)
{
	size_t lo = 0, hi = p->nfailed;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (p->failed[mid] < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < p->nfailed && p->failed[lo] == seq;
}

/* How map_get looks. */
enum { MAP_LIVE = 0, MAP_DEAD_OK = 1, MAP_ANY = 2 };

/*
 * The mapping `map` names: *m the live one (MAP_DEAD_OK: or one recently
 * unmapped); NULL with *skip when it was not made here; map 0 is
 * absolute.  MAP_ANY: a mapping long gone is no error (*m NULL).
 */
static int map_get(struct rp *p, json_t *o, const char *op, int mode, uint64_t *seq,
		   struct rp_map **m, bool *skip)
{
	bool dead_ok = mode != MAP_LIVE;
	int rc = get_u64(p, o, op, "map", seq);
	*m = NULL;
	*skip = false;
	if (rc || !*seq)
		return rc;
	if ((*m = map_live(p, *seq)))
		return 0;
	if (failed_has(p, *seq)) {
		*skip = true;
		return 0;
	}
	for (unsigned int i = 0; dead_ok && i < RP_DEAD && i < p->ndead; i++)
		if (p->dead[i].seq == *seq) {
			*m = &p->dead[i];
			return 0;
		}
	if (mode == MAP_ANY && *seq < p->seq)
		return 0;
	return bad(p, "%s: map %" PRIu64 " is not a live mapping", op, *seq);
}

/*
 * Bus pieces for stream bytes [off, off + len) of m (absolute when m is
 * NULL): within a scatterlist's stream, split at its bus segments; else
 * relative to its first byte.  Calls fn on each; the first error wins.
 */
typedef int (*piece_fn)(struct sim_device *sd, uint64_t bus, void *buf, size_t len);

static int sd_read(struct sim_device *sd, uint64_t bus, void *buf, size_t len)
{
	return sim_dma_read(sd, bus, buf, len);
}

static int sd_write(struct sim_device *sd, uint64_t bus, void *buf, size_t len)
{
	return sim_dma_write(sd, bus, buf, len);
}

static int pieces(struct rp_map *m, int64_t off, uint8_t *buf, uint64_t len,
		  struct sim_device *sd, piece_fn fn)
{
	if (!m)
		return fn(sd, (uint64_t)off, buf, len);
	if (!m->sgt.sgl || m->sgt.nents <= 1 || off < 0 || (uint64_t)off >= m->total)
		return fn(sd, m->bus0 + (uint64_t)off, buf, len);
	int first = 0;
	unsigned int s = 0;
	uint64_t pos = 0, at = (uint64_t)off;
	if (m->hint_seg < m->sgt.nents && m->hint_pos <= at) {
		s = m->hint_seg;
		pos = m->hint_pos;
	}
	while (len) {
		while (s < m->sgt.nents && at >= pos + m->sgt.sgl[s].dma_length)
			pos += m->sgt.sgl[s++].dma_length;
		uint64_t bus, n;
		if (s < m->sgt.nents) {
			m->hint_seg = s;
			m->hint_pos = pos;
			bus = m->sgt.sgl[s].dma_address + (at - pos);
			n = pos + m->sgt.sgl[s].dma_length - at;
		} else {
			/* Past the stream's end: after the last segment. */
			const struct dmamap_sg *g = &m->sgt.sgl[m->sgt.nents - 1];
			bus = g->dma_address + g->dma_length + (at - pos);
			n = len;
		}
		if (n > len)
			n = len;
		int rc = fn(sd, bus, buf, n);
		if (rc && !first)
			first = rc;
		buf += n;
		at += n;
		len -= n;
	}
	return first;
}

static uint8_t *scratch(struct rp *p, uint64_t len)
{
	if (len > p->scratch_len) {
		uint8_t *v = realloc(p->scratch, len);
		if (!v)
			return NULL;
		p->scratch = v;
		p->scratch_len = len;
	}
	return p->scratch ? p->scratch : (uint8_t *)"";
}

/* ---- devices -------------------------------------------------------------------- */

static int dev_get(struct rp *p, const char *name, struct rp_dev **out)
{
	if (p->cur && !strcmp(p->cur->name, name)) {
		*out = p->cur;
		return 0;
	}
	for (unsigned int i = 0; i < p->ndevs; i++)
		if (!strcmp(p->devs[i].name, name)) {
			*out = &p->devs[i];
			return 0;
		}
	if (p->ndevs == RP_MAX_DEVS)
		return bad(p, "more than %d devices", RP_MAX_DEVS);
	struct rp_dev *d = &p->devs[p->ndevs];
	memset(d, 0, sizeof(*d));
	snprintf(d->name, sizeof(d->name), "%s", name);
	const char *why = NULL;
	int rc = run_platform_env(p->pf, name, &d->we, &why);
	if (rc == -ENOENT)
		return bad(p, "device '%s' is not in %s", name, p->r->file);
	if (rc == -ENODEV) {
		d->state = -ENODEV;
		snprintf(d->why, sizeof(d->why), "%s", why ? why : "no reason given");
	} else if (rc) {
		char what[512];
		snprintf(what, sizeof(what), "%s", p->err[0] ? p->err : dmamap_strerror(rc));
		snprintf(p->err, p->errlen, "%s: device '%s': %s", p->r->file, name, what);
		return rc;
	}
	p->ndevs++;
	*out = d;
	return 0;
}

/* ---- one line -------------------------------------------------------------------- */

static int op_alloc(struct rp *p, json_t *o, const char *op)
{
	uint64_t id, npages, align;
	bool ok = false;
	struct rp_buf *b;
	int rc;
	const char *where = json_string_value(json_object_get(o, "where"));
	if ((rc = get_u64(p, o, op, "buf", &id)) || (rc = get_u64(p, o, op, "pages", &npages)) ||
	    (rc = get_u64(p, o, op, "align", &align)) || (rc = get_bool(p, o, op, "ok", &ok)))
		return rc;
	if (!where || (strcmp(where, "any") && strcmp(where, "low") && strcmp(where, "high")))
		return bad(p, "%s: field 'where' must be any, low or high", op);
	if (!npages || npages > (1ULL << 36))
		return bad(p, "%s: pages %" PRIu64 " is out of range", op, npages);
	if ((rc = buf_new(p, op, id, &b)))
		return rc;
	b->kind = RB_PAGES;
	b->npages = npages;
	b->len = npages * RP_PAGE;
	uint64_t lo = !strcmp(where, "high") ? RP_4G : 0;
	uint64_t hi = !strcmp(where, "low") ? RP_4G - 1 : UINT64_MAX;
	b->ok = !sim_alloc_pages(p->m, npages, align, lo, hi, &b->phys);
	if (b->ok) {
		b->live = true;
		b->cpu = sim_phys_to_cpu(p->m, b->phys);
	}
	if (b->ok != ok)
		diff(p, op, REPLAY_OK, "%s %" PRIu64 " pages (%s) %s", b->ok ? "allocated" :
		     "could not allocate", npages, where, b->ok ? "(recorded: failed)" :
		     "(recorded: allocated)");
	return 0;
}

static int op_free(struct rp *p, json_t *o, const char *op)
{
	struct rp_buf *b;
	int rc = buf_get(p, o, op, "buf", &b);
	if (rc)
		return rc;
	if (b->kind != RB_PAGES)
		return bad(p, "%s: buf is not pages from alloc", op);
	if (!b->ok)
		return 1;
	sim_free_pages(p->m, b->phys, b->npages);
	b->live = false;
	return 0;
}

static int op_alloc_coherent(struct rp *p, json_t *o, const char *op)
{
	uint64_t id, size, rbus;
	bool ok = false;
	struct rp_buf *b;
	int rc;
	if ((rc = get_u64(p, o, op, "buf", &id)) || (rc = get_u64(p, o, op, "size", &size)) ||
	    (rc = get_bool(p, o, op, "ok", &ok)) || (rc = get_u64(p, o, op, "bus", &rbus)))
		return rc;
	if ((rc = buf_new(p, op, id, &b)))
		return rc;
	b->kind = RB_COHERENT;
	b->len = size;
	b->cpu = dmamap_alloc_coherent(p->cur->we.dev, size, &b->bus);
	b->ok = b->cpu != NULL;
	if (b->ok != ok)
		diff(p, op, REPLAY_OK, "%s %" PRIu64 " coherent bytes (recorded: %s)",
		     b->ok ? "allocated" : "could not allocate", size, ok ? "allocated" : "failed");
	if (b->ok && !ok) {
		/* The driver gave up there: nothing later uses it. */
		dmamap_free_coherent(p->cur->we.dev, size, b->cpu, b->bus);
		b->ok = false;
		return 0;
	}
	if (!b->ok)
		return failed_add(p, p->seq);
	b->live = true;
	if (b->bus != rbus)
		p->r->bus_moved++;
	struct rp_map *m = map_new(p);
	if (!m)
		return -ENOMEM;
	m->ok = true;
	m->coherent = true;
	m->bus0 = b->bus;
	m->total = size;
	return 0;
}

static int op_free_coherent(struct rp *p, json_t *o, const char *op)
{
	struct rp_buf *b;
	struct rp_map *m;
	uint64_t seq;
	bool skip;
	int rc = buf_get(p, o, op, "buf", &b);
	if (rc || (rc = map_get(p, o, op, MAP_LIVE, &seq, &m, &skip)))
		return rc;
	if (b->kind != RB_COHERENT)
		return bad(p, "%s: buf is not a coherent allocation", op);
	if (!b->ok || skip)
		return 1;
	if (!m || !m->coherent)
		return bad(p, "%s: map %" PRIu64 " is not the buffer's coherent mapping", op, seq);
	dmamap_free_coherent(b->dev->we.dev, b->len, b->cpu, b->bus);
	b->live = false;
	map_del(p, m);
	return 0;
}

static int op_cpu_write(struct rp *p, json_t *o, const char *op)
{
	struct rp_buf *b;
	uint64_t off = 0, len = 0;
	int rc = buf_get(p, o, op, "buf", &b);
	if (rc || (rc = get_u64(p, o, op, "off", &off)))
		return rc;
	const char *hex = NULL;
	if (!strcmp(op, "store")) {
		hex = json_string_value(json_object_get(o, "hex"));
		if (!hex || strlen(hex) % 2)
			return bad(p, "%s: field 'hex' is missing or not an even count of hex digits",
				   op);
		len = strlen(hex) / 2;
	} else if ((rc = get_u64(p, o, op, "len", &len))) {
		return rc;
	}
	if ((rc = buf_range(p, op, b, off, len)))
		return rc;
	if (!strcmp(op, "fill")) {
		uint64_t seed, at;
		if ((rc = get_u64(p, o, op, "seed", &seed)) || (rc = get_u64(p, o, op, "at", &at)))
			return rc;
		if (b->ok)
			wl_pattern_fill(b->cpu + off, len, seed, at);
	} else if (!strcmp(op, "set")) {
		uint64_t v;
		if ((rc = get_u64(p, o, op, "byte", &v)))
			return rc;
		if (v > 255)
			return bad(p, "%s: byte %" PRIu64 " is not a byte", op, v);
		if (b->ok)
			memset(b->cpu + off, (int)v, len);
	} else {
		for (uint64_t i = 0; i < len; i++) {
			unsigned int x;
			if (sscanf(hex + 2 * i, "%2x", &x) != 1 || !strchr("0123456789abcdefABCDEF",
									   hex[2 * i + 1]))
				return bad(p, "%s: field 'hex' has a non-hex digit", op);
			if (b->ok)
				b->cpu[off + i] = (uint8_t)x;
		}
	}
	return b->ok ? 0 : 1;
}

static int op_check(struct rp *p, json_t *o, const char *op)
{
	struct rp_buf *b;
	struct rp_map *m;
	uint64_t off, len, seq, hash;
	bool skip;
	int rc = buf_get(p, o, op, "buf", &b);
	if (rc || (rc = get_u64(p, o, op, "off", &off)) || (rc = get_u64(p, o, op, "len", &len)) ||
	    (rc = get_u64(p, o, op, "hash", &hash)) ||
	    (rc = map_get(p, o, op, MAP_ANY, &seq, &m, &skip)))
		return rc;
	if ((rc = buf_range(p, op, b, off, len)))
		return rc;
	if (!b->ok || skip)
		return 1;
	uint64_t h = trace_hash(b->cpu + off, len);
	if (h != hash)
		diff(p, op, REPLAY_HASH, "the CPU read other bytes: hash 0x%016" PRIx64
		     " (recorded 0x%016" PRIx64 ")", h, hash);
	return 0;
}

static int op_map(struct rp *p, json_t *o, const char *op)
{
	struct rp_buf *b;
	uint64_t off = 0, size = 0, attrs = 0, rbus = 0;
	bool ok = false, rbounced = false;
	enum dmamap_data_direction d;
	int rc = buf_get(p, o, op, "buf", &b);
	if (rc || (rc = get_u64(p, o, op, "off", &off)) || (rc = get_u64(p, o, op, "size", &size)) ||
	    (rc = get_u64(p, o, op, "attrs", &attrs)) || (rc = get_dir(p, o, op, &d)) ||
	    (rc = get_bool(p, o, op, "ok", &ok)))
		return rc;
	if (ok && ((rc = get_u64(p, o, op, "bus", &rbus)) ||
		   (rc = get_bool(p, o, op, "bounced", &rbounced))))
		return rc;
	if ((rc = buf_range(p, op, b, off, size)))
		return rc;
	if (!b->ok) {
		if (ok)
			return failed_add(p, p->seq) ? -ENOMEM : 1;
		return 1;
	}
	struct dmamap_device *dev = p->cur->we.dev;
	uint8_t *cpu = b->cpu + off;
	dmamap_dma_addr_t a = !strcmp(op, "map_page") ?
		dmamap_map_page_attrs(dev, dmamap_virt_to_page(cpu), (uintptr_t)cpu & (RP_PAGE - 1),
				      size, d, attrs) :
		dmamap_map_single_attrs(dev, cpu, size, d, attrs);
	bool mapped = !dmamap_mapping_error(dev, a);
	if (!mapped) {
		if (ok) {
			diff(p, op, REPLAY_OK, "the map failed (recorded: mapped, %s)",
			     rbounced ? "bounced" : "direct");
			return failed_add(p, p->seq);
		}
		return 0;
	}
	bool bnc = wl_bounced(&p->cur->we, cpu, a, NULL);
	if (!ok) {
		diff(p, op, REPLAY_OK, "mapped, %s (recorded: the map failed)",
		     bnc ? "bounced" : "direct");
		if (!strcmp(op, "map_page"))
			dmamap_unmap_page_attrs(dev, a, size, d, attrs);
		else
			dmamap_unmap_single_attrs(dev, a, size, d, attrs);
		return 0;
	}
	if (bnc != rbounced)
		diff(p, op, REPLAY_BOUNCED, "%s (recorded: %s)", bnc ? "bounced" : "direct",
		     rbounced ? "bounced" : "direct");
	else if (a != rbus)
		p->r->bus_moved++;
	struct rp_map *m = map_new(p);
	if (!m)
		return -ENOMEM;
	m->ok = true;
	m->bus0 = a;
	m->total = size;
	return 0;
}

static int op_unmap(struct rp *p, json_t *o, const char *op)
{
	struct rp_map *m;
	uint64_t seq, size, attrs;
	bool skip;
	enum dmamap_data_direction d;
	int rc = map_get(p, o, op, MAP_LIVE, &seq, &m, &skip);
	if (rc || (rc = get_u64(p, o, op, "size", &size)) ||
	    (rc = get_u64(p, o, op, "attrs", &attrs)) || (rc = get_dir(p, o, op, &d)))
		return rc;
	if (skip)
		return 1;
	if (!m || m->coherent || m->sgt.sgl || !map_live(p, seq))
		return bad(p, "%s: map %" PRIu64 " is not a live single mapping", op, seq);
	if (!strcmp(op, "unmap_page"))
		dmamap_unmap_page_attrs(m->dev->we.dev, m->bus0, size, d, attrs);
	else
		dmamap_unmap_single_attrs(m->dev->we.dev, m->bus0, size, d, attrs);
	map_del(p, m);
	return 0;
}

static int op_map_sgt(struct rp *p, json_t *o, const char *op)
{
	uint64_t attrs;
	int rrc = 0;
	enum dmamap_data_direction d;
	int rc;
	json_t *sg = json_object_get(o, "sg");
	if ((rc = get_u64(p, o, op, "attrs", &attrs)) || (rc = get_dir(p, o, op, &d)) ||
	    (rc = get_int(p, o, op, "rc", &rrc)))
		return rc;
	size_t n = json_array_size(sg);
	if (!json_is_array(sg) || !n || n > UINT32_MAX / 2)
		return bad(p, "%s: field 'sg' is missing or not a non-empty list", op);
	uint64_t rnents = 0, rbounced = 0;
	json_t *rbus = json_object_get(o, "bus");
	if (!rrc && ((rc = get_u64(p, o, op, "nents", &rnents)) ||
		     (rc = get_u64(p, o, op, "bounced", &rbounced))))
		return rc;
	if (!rrc && (!json_is_array(rbus) || json_array_size(rbus) != rnents))
		return bad(p, "%s: field 'bus' is not a list of nents entries", op);
	struct dmamap_sg_table sgt = { 0 };
	if (dmamap_sg_alloc_table(&sgt, (unsigned int)n))
		return -ENOMEM;
	bool skip = false;
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_array_get(sg, i);
		json_t *jb = json_array_get(e, 0), *jo = json_array_get(e, 1), *jl = json_array_get(e, 2);
		if (json_array_size(e) != 3 || !json_is_integer(jb) || !json_is_integer(jo) ||
		    !json_is_integer(jl) || json_integer_value(jb) <= 0 ||
		    json_integer_value(jo) < 0 || json_integer_value(jl) <= 0 ||
		    json_integer_value(jl) > UINT32_MAX) {
			dmamap_sg_free_table(&sgt);
			return bad(p, "%s: sg entry %zu is not [buf, off, len]", op, i);
		}
		uint64_t id = (uint64_t)json_integer_value(jb);
		uint64_t off = (uint64_t)json_integer_value(jo), len = (uint64_t)json_integer_value(jl);
		if (id >= p->nbufs || !p->bufs[id].kind || (p->bufs[id].ok && !p->bufs[id].live)) {
			dmamap_sg_free_table(&sgt);
			return bad(p, "%s: sg entry %zu: buf %" PRIu64 " does not exist", op, i, id);
		}
		struct rp_buf *b = &p->bufs[id];
		if ((rc = buf_range(p, op, b, off, len))) {
			dmamap_sg_free_table(&sgt);
			return rc;
		}
		if (!b->ok)
			skip = true;
		else
			dmamap_sg_set_buf(&sgt.sgl[i], b->cpu + off, (unsigned int)len);
	}
	if (skip) {
		dmamap_sg_free_table(&sgt);
		return rrc ? 1 : failed_add(p, p->seq) ? -ENOMEM : 1;
	}
	struct dmamap_device *dev = p->cur->we.dev;
	int mrc = dmamap_map_sgtable(dev, &sgt, d, attrs);
	if (mrc) {
		if (!rrc) {
			diff(p, op, REPLAY_OK, "the map failed (%s) (recorded: %" PRIu64 " bus "
			     "segments, %" PRIu64 " bounced)", dmamap_strerror(mrc), rnents, rbounced);
			rc = failed_add(p, p->seq);
		} else if (mrc != rrc) {
			diff(p, op, REPLAY_RC, "the map failed with %s (recorded: %s)",
			     dmamap_strerror(mrc), dmamap_strerror(rrc));
		}
		dmamap_sg_free_table(&sgt);
		return rc;
	}
	unsigned int nb = 0;
	for (unsigned int s = 0; sgt.nents == sgt.orig_nents && s < sgt.nents; s++)
		nb += wl_bounced(&p->cur->we, sgt.sgl[s].cpu, sgt.sgl[s].dma_address, NULL);
	if (rrc) {
		diff(p, op, REPLAY_OK, "mapped to %u bus segments, %u bounced (recorded: the map "
		     "failed, %s)", sgt.nents, nb, dmamap_strerror(rrc));
		dmamap_unmap_sgtable(dev, &sgt, d, attrs);
		dmamap_sg_free_table(&sgt);
		return 0;
	}
	if (sgt.nents != rnents)
		diff(p, op, REPLAY_NENTS, "%u bus segments (recorded: %" PRIu64 ")", sgt.nents,
		     rnents);
	else if (nb != rbounced)
		diff(p, op, REPLAY_BOUNCED, "%u of %u segments bounced (recorded: %" PRIu64 ")", nb,
		     sgt.nents, rbounced);
	else {
		uint64_t b0 = 0;
		json_t *first = json_array_get(json_array_get(rbus, 0), 0);
		if (json_is_string(first))
			b0 = strtoull(json_string_value(first), NULL, 16);
		if (b0 != sgt.sgl[0].dma_address)
			p->r->bus_moved++;
	}
	struct rp_map *m = map_new(p);
	if (!m) {
		dmamap_unmap_sgtable(dev, &sgt, d, attrs);
		dmamap_sg_free_table(&sgt);
		return -ENOMEM;
	}
	m->ok = true;
	m->sgt = sgt;
	m->bus0 = sgt.sgl[0].dma_address;
	for (unsigned int s = 0; s < sgt.nents; s++)
		m->total += sgt.sgl[s].dma_length;
	return 0;
}

static int op_unmap_sgt(struct rp *p, json_t *o, const char *op)
{
	struct rp_map *m;
	uint64_t seq, attrs;
	bool skip;
	enum dmamap_data_direction d;
	int rc = map_get(p, o, op, MAP_LIVE, &seq, &m, &skip);
	if (rc || (rc = get_u64(p, o, op, "attrs", &attrs)) || (rc = get_dir(p, o, op, &d)))
		return rc;
	if (skip)
		return 1;
	if (!m || !m->sgt.sgl || !map_live(p, seq))
		return bad(p, "%s: map %" PRIu64 " is not a live scatterlist mapping", op, seq);
	dmamap_unmap_sgtable(m->dev->we.dev, &m->sgt, d, attrs);
	map_del(p, m);
	return 0;
}

static int op_sync(struct rp *p, json_t *o, const char *op, bool sg)
{
	struct rp_map *m;
	uint64_t seq = 0, size = 0;
	int64_t off = 0;
	bool skip;
	enum dmamap_data_direction d;
	const char *f = json_string_value(json_object_get(o, "for"));
	int rc = map_get(p, o, op, MAP_LIVE, &seq, &m, &skip);
	if (rc || (rc = get_dir(p, o, op, &d)))
		return rc;
	if (!sg && ((rc = get_i64(p, o, op, "off", &off)) || (rc = get_u64(p, o, op, "size", &size))))
		return rc;
	if (!f || (strcmp(f, "cpu") && strcmp(f, "device")))
		return bad(p, "%s: field 'for' must be cpu or device", op);
	if (skip)
		return 1;
	if (!m || !map_live(p, seq) || (sg && !m->sgt.sgl))
		return bad(p, "%s: map %" PRIu64 " is not a live %smapping", op, seq,
			   sg ? "scatterlist " : "");
	bool cpu = !strcmp(f, "cpu");
	struct dmamap_device *dev = m->dev->we.dev;
	if (sg && cpu)
		dmamap_sync_sgtable_for_cpu(dev, &m->sgt, d);
	else if (sg)
		dmamap_sync_sgtable_for_device(dev, &m->sgt, d);
	else if (cpu)
		dmamap_sync_single_for_cpu(dev, m->bus0 + (uint64_t)off, size, d);
	else
		dmamap_sync_single_for_device(dev, m->bus0 + (uint64_t)off, size, d);
	return 0;
}

static int op_dev(struct rp *p, json_t *o, const char *op, bool write)
{
	struct rp_map *m;
	uint64_t seq = 0, len = 0, hash = 0;
	int64_t off = 0;
	int rrc = 0;
	bool skip;
	int rc = map_get(p, o, op, MAP_DEAD_OK, &seq, &m, &skip);
	if (rc || (rc = get_i64(p, o, op, "off", &off)) || (rc = get_u64(p, o, op, "len", &len)) ||
	    (rc = get_int(p, o, op, "rc", &rrc)) || (rc = get_u64(p, o, op, "hash", &hash)))
		return rc;
	if (len > (1ULL << 32))
		return bad(p, "%s: len %" PRIu64 " is too large", op, len);
	uint8_t *buf = scratch(p, len);
	if (!buf)
		return -ENOMEM;
	if (write) {
		uint64_t v, seed, at;
		if (json_object_get(o, "byte")) {
			if ((rc = get_u64(p, o, op, "byte", &v)))
				return rc;
			if (v > 255)
				return bad(p, "%s: byte %" PRIu64 " is not a byte", op, v);
			memset(buf, (int)v, len);
		} else {
			if ((rc = get_u64(p, o, op, "seed", &seed)) || (rc = get_u64(p, o, op, "at", &at)))
				return rc;
			wl_pattern_fill(buf, len, seed, at);
		}
		if (trace_hash(buf, len) != hash)
			return bad(p, "%s: the data described hashes to 0x%016" PRIx64 ", not the "
				   "recorded 0x%016" PRIx64, op, trace_hash(buf, len), hash);
	}
	if (skip)
		return 1;
	struct sim_device *sd = p->cur->we.sd;
	int drc = pieces(m, off, buf, len, sd, write ? sd_write : sd_read);
	if (drc != rrc)
		diff(p, op, REPLAY_RC, "the device's %s returned %s (recorded: %s)",
		     write ? "write" : "read", drc ? dmamap_strerror(drc) : "0",
		     rrc ? dmamap_strerror(rrc) : "0");
	else if (!write && trace_hash(buf, len) != hash)
		diff(p, op, REPLAY_HASH, "the device read other bytes: hash 0x%016" PRIx64
		     " (recorded 0x%016" PRIx64 ")", trace_hash(buf, len), hash);
	return 0;
}

static int op_param(struct rp *p, json_t *o, const char *op)
{
	uint64_t v;
	int rrc;
	int rc = get_u64(p, o, op, "value", &v);
	if (rc || (rc = get_int(p, o, op, "rc", &rrc)))
		return rc;
	struct dmamap_device *dev = p->cur->we.dev;
	int got;
	if (!strcmp(op, "set_max_seg_size")) {
		if (v > UINT32_MAX)
			return bad(p, "%s: value is over 32 bits", op);
		got = dmamap_set_max_seg_size(dev, (unsigned int)v);
	} else {
		got = dmamap_set_seg_boundary(dev, v);
	}
	if (got != rrc)
		diff(p, op, REPLAY_RC, "returned %d (recorded: %d)", got, rrc);
	return 0;
}

static void rc_diff(struct rp *p, const char *op, int got, int rrc)
{
	if ((got == 0) != (rrc == 0))
		diff(p, op, REPLAY_OK, "%s (recorded: %s)", got ? dmamap_strerror(got) : "succeeded",
		     rrc ? dmamap_strerror(rrc) : "succeeded");
	else if (got != rrc)
		diff(p, op, REPLAY_RC, "%s (recorded: %s)", dmamap_strerror(got),
		     dmamap_strerror(rrc));
}

static int op_xen(struct rp *p, json_t *o, const char *op)
{
	struct wl_env *we = &p->cur->we;
	struct rp_buf *b;
	int rc, rrc = 0;
	if (!strcmp(op, "domu_page")) {
		uint64_t id, domid, gfn;
		if ((rc = get_u64(p, o, op, "buf", &id)) || (rc = get_u64(p, o, op, "domid", &domid)) ||
		    (rc = get_u64(p, o, op, "gfn", &gfn)))
			return rc;
		if (domid > UINT16_MAX)
			return bad(p, "%s: domid %" PRIu64 " is out of range", op, domid);
		if ((rc = buf_new(p, op, id, &b)))
			return rc;
		b->kind = RB_DOMU;
		b->len = RP_PAGE;
		b->domid = (uint16_t)domid;
		b->gfn = gfn;
		b->cpu = we->xen ? sim_xen_domu_page(we->xen, b->domid, gfn) : NULL;
		b->ok = b->live = b->cpu != NULL;
		if (!b->ok) {
			diff(p, op, REPLAY_OK, "domU %" PRIu64 " has no frame 0x%" PRIx64 " here%s",
			     domid, gfn, we->xen ? "" : " (no hypervisor)");
			b->live = true;
		}
		return 0;
	}
	if ((rc = get_int(p, o, op, "rc", &rrc)))
		return rc;
	if (!strcmp(op, "grant") || !strcmp(op, "grant_end")) {
		bool ro = false;
		if ((rc = buf_get(p, o, op, "buf", &b)) ||
		    (!strcmp(op, "grant") && (rc = get_bool(p, o, op, "readonly", &ro))))
			return rc;
		if (b->kind != RB_DOMU)
			return bad(p, "%s: buf is not a domU page", op);
		if (!b->ok || (!strcmp(op, "grant_end") && !b->granted))
			return 1;
		int got;
		if (!strcmp(op, "grant")) {
			got = sim_xen_grant(we->xen, b->domid, b->gfn, ro, &b->gref);
			b->granted = !got;
		} else {
			got = sim_xen_grant_end(we->xen, b->domid, b->gref);
			if (!got)
				b->granted = false;
		}
		rc_diff(p, op, got, rrc);
		return 0;
	}
	if (!strcmp(op, "grant_map")) {
		uint64_t id = 0;
		bool ro = false;
		struct rp_buf *of = NULL;
		if ((rc = get_u64(p, o, op, "buf", &id)) || (rc = buf_get(p, o, op, "of", &of)) ||
		    (rc = get_bool(p, o, op, "readonly", &ro)))
			return rc;
		if (of->kind != RB_DOMU)
			return bad(p, "%s: of is not a domU page", op);
		uint32_t gref = of->gref;
		uint16_t domid = of->domid;
		bool can = of->ok && of->granted;
		if ((rc = buf_new(p, op, id, &b)))
			return rc;
		b->kind = RB_GRANT;
		b->len = RP_PAGE;
		if (!can)
			return 1;
		void *cpu = NULL;
		dmamap_phys_addr_t phys = 0;
		int got = dmamap_xen_grant_map(dmamap_device_ctx(we->dev), domid, gref, ro, &cpu,
					       &phys);
		b->ok = !got && cpu;
		b->cpu = cpu;
		b->phys = phys;
		b->live = b->ok;
		rc_diff(p, op, got, rrc);
		if (!got && rrc) {
			dmamap_xen_grant_unmap(dmamap_device_ctx(we->dev), phys);
			b->ok = b->live = false;
		}
		return 0;
	}
	/* grant_unmap */
	if ((rc = buf_get(p, o, op, "buf", &b)))
		return rc;
	if (b->kind != RB_GRANT)
		return bad(p, "%s: buf is not a grant mapping", op);
	if (!b->ok)
		return 1;
	int got = dmamap_xen_grant_unmap(dmamap_device_ctx(we->dev), b->phys);
	b->live = false;
	rc_diff(p, op, got, rrc);
	return 0;
}

static int op_sync_single(struct rp *p, json_t *o, const char *op)
{
	return op_sync(p, o, op, false);
}

static int op_sync_sgt(struct rp *p, json_t *o, const char *op)
{
	return op_sync(p, o, op, true);
}

static int op_dev_read(struct rp *p, json_t *o, const char *op)
{
	return op_dev(p, o, op, false);
}

static int op_dev_write(struct rp *p, json_t *o, const char *op)
{
	return op_dev(p, o, op, true);
}

static int op_workload(struct rp *p, json_t *o, const char *op)
{
	(void)o;
	(void)op;
	if (p->cur->state == -ENODEV && !p->cur->reported) {
		diff(p, op, REPLAY_DEVICE, "the OS could not add the device: %s", p->cur->why);
		p->cur->reported = true;
	}
	return 0;
}

static const struct {
	const char *name;
	int (*fn)(struct rp *p, json_t *o, const char *op);
} ops[] = {
	{ "workload", op_workload }, { "alloc", op_alloc }, { "free", op_free },
	{ "alloc_coherent", op_alloc_coherent }, { "free_coherent", op_free_coherent },
	{ "fill", op_cpu_write }, { "set", op_cpu_write }, { "store", op_cpu_write },
	{ "check", op_check }, { "map_single", op_map }, { "map_page", op_map },
	{ "unmap_single", op_unmap }, { "unmap_page", op_unmap },
	{ "map_sgtable", op_map_sgt }, { "unmap_sgtable", op_unmap_sgt },
	{ "sync_single", op_sync_single }, { "sync_sgtable", op_sync_sgt },
	{ "dev_read", op_dev_read }, { "dev_write", op_dev_write },
	{ "set_max_seg_size", op_param }, { "set_seg_boundary", op_param },
	{ "domu_page", op_xen }, { "grant", op_xen }, { "grant_end", op_xen },
	{ "grant_map", op_xen }, { "grant_unmap", op_xen },
};

/* The op's handler; NULL for an op format 1 does not have. */
static int (*op_fn(const char *op))(struct rp *, json_t *, const char *)
{
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (!strcmp(ops[i].name, op))
			return ops[i].fn;
	return NULL;
}

/* ---- the header ------------------------------------------------------------------- */

static int header(struct rp *p, json_t *h, const struct replay_opts *o)
{
	json_t *v = json_object_get(h, "dmamap_trace");
	if (!json_is_integer(v))
		return bad(p, "not a dmamap trace: the first line has no \"dmamap_trace\" format");
	if (json_integer_value(v) != TRACE_FORMAT)
		return bad(p, "trace format %" JSON_INTEGER_FORMAT "; this dmamap reads format %d",
			   json_integer_value(v), TRACE_FORMAT);
	const char *name = json_string_value(json_object_get(h, "scenario"));
	const char *file = json_string_value(json_object_get(h, "file"));
	json_t *devs = json_object_get(h, "devices");
	if (!name || !file || !json_is_array(devs))
		return bad(p, "header: 'scenario', 'file' and 'devices' are required");
	snprintf(p->r->recorded, sizeof(p->r->recorded), "%s", name);

	/* The scenario: as given, else the header's file (as written, else
	 * beside the trace). */
	char path[4096];
	const char *scn = o && o->scenario ? o->scenario : file;
	snprintf(path, sizeof(path), "%s", scn);
	if (!(o && o->scenario) && file[0] != '/') {
		/* stat, not open: a FIFO by that name must not block here. */
		struct stat st;
		const char *slash = strrchr(p->path, '/');
		if (stat(file, &st) && slash)
			snprintf(path, sizeof(path), "%.*s/%s", (int)(slash - p->path), p->path, file);
	}
	snprintf(p->r->file, sizeof(p->r->file), "%s", path);
	char err[1024] = "";
	int rc = scn_load(path, &p->s, err, sizeof(err));
	if (rc) {
		snprintf(p->err, p->errlen, "%s%s", err, o && o->scenario ? "" :
			 " (the trace's scenario; --scenario names another)");
		return rc;
	}
	snprintf(p->r->scenario, sizeof(p->r->scenario), "%s", p->s->name);
	for (size_t i = 0; i < json_array_size(devs) && p->nextra < RP_MAX_DEVS; i++) {
		const char *n = json_string_value(json_object_get(json_array_get(devs, i), "name"));
		if (!n)
			return bad(p, "header: devices[%zu] has no name", i);
		if (!(p->extra[p->nextra] = strdup(n)))
			return -ENOMEM;
		p->nextra++;
	}
	struct run_opts ro = { .seed = 1, .verbose = o && o->verbose };
	rc = run_platform_up(p->s, path, &ro, (const char *const *)p->extra, p->nextra, &p->pf,
			     p->err, p->errlen);
	if (rc)
		return rc;
	p->m = run_platform_machine(p->pf);
	return 0;
}

/* ---- the whole trace ------------------------------------------------------------------ */

static int replay_lines(struct rp *p, FILE *f, const struct replay_opts *o)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	bool ended = false;
	int rc = 0;
	while (!rc && (n = getline(&line, &cap, f)) >= 0) {
		p->line++;
		if (ended) {
			rc = bad(p, "a line after the footer");
			break;
		}
		json_error_t je;
		json_t *obj = json_loadb(line, (size_t)n, 0, &je);
		if (!obj) {
			rc = bad(p, "not JSON (%s at column %d)%s", je.text, je.column,
				 n && line[n - 1] != '\n' ? ": the last line is cut (truncated trace)" :
				 "");
			break;
		}
		if (!json_is_object(obj)) {
			json_decref(obj);
			rc = bad(p, "not a JSON object");
			break;
		}
		if (p->line == 1) {
			rc = header(p, obj, o);
			json_decref(obj);
			continue;
		}
		uint64_t seq;
		const char *op = json_string_value(json_object_get(obj, "op"));
		if ((rc = get_u64(p, obj, "line", "seq", &seq))) {
			json_decref(obj);
			break;
		}
		if (seq != p->seq + 1) {
			json_decref(obj);
			rc = bad(p, "seq %" PRIu64 ", expected %" PRIu64, seq, p->seq + 1);
			break;
		}
		p->seq = seq;
		if (!op) {
			json_decref(obj);
			rc = bad(p, "no 'op'");
			break;
		}
		if (!strcmp(op, "end")) {
			uint64_t events;
			if (!(rc = get_u64(p, obj, op, "events", &events)) && events != p->events)
				rc = bad(p, "end: the footer counts %" PRIu64 " operations, the trace "
					 "has %" PRIu64, events, p->events);
			ended = true;
			json_decref(obj);
			continue;
		}
		const char *dev = json_string_value(json_object_get(obj, "device"));
		int (*fn)(struct rp *, json_t *, const char *) = op_fn(op);
		if (!fn)
			rc = bad(p, "unknown op '%s'", op);
		else if (!dev || !dev[0])
			rc = bad(p, "%s: no 'device'", op);
		else
			rc = dev_get(p, dev, &p->cur);
		p->events++;
		p->r->operations++;
		if (!rc && p->cur->state == -ENODEV && strcmp(op, "workload")) {
			p->r->skipped++;
		} else if (!rc) {
			rc = fn(p, obj, op);
			if (rc == 1) {
				p->r->skipped++;
				rc = 0;
			}
		}
		json_decref(obj);
	}
	free(line);
	if (!rc && ferror(f))
		rc = bad(p, "read error");
	if (!rc && p->line == 0) {
		p->line = 1;
		rc = bad(p, "empty trace (no header line)");
	}
	if (!rc && !ended)
		rc = bad(p, "the trace ends without its footer line (truncated)");
	return rc;
}

int trace_replay(const char *path, const struct replay_opts *o, struct replay_result *r,
		 char *err, size_t errlen)
{
	memset(r, 0, sizeof(*r));
	r->show = o && o->show ? o->show : REPLAY_SHOW_DEFAULT;
	r->first = calloc(r->show, sizeof(*r->first));
	if (!r->first)
		return -ENOMEM;
	snprintf(r->trace, sizeof(r->trace), "%s", path);
	err[0] = '\0';
	/* A FIFO, device or directory is refused at once ("-" is stdin). */
	struct stat st;
	if (strcmp(path, "-") && !stat(path, &st) && !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file (%s)", path,
			 S_ISDIR(st.st_mode) ? "a directory" : S_ISFIFO(st.st_mode) ? "a FIFO"
			 : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "a device" : "a socket or other");
		replay_free(r);
		return -EINVAL;
	}
	FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
	if (!f) {
		int rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		replay_free(r);
		return rc;
	}
	struct rp *p = calloc(1, sizeof(*p));
	if (!p) {
		if (f != stdin)
			fclose(f);
		replay_free(r);
		return -ENOMEM;
	}
	p->path = path;
	p->r = r;
	p->err = err;
	p->errlen = errlen;
	int rc = replay_lines(p, f, o);
	if (f != stdin)
		fclose(f);
	/* Tear down: what the trace left mapped, then the platform. */
	for (size_t i = p->nmaps; i-- > 0;)
		dmamap_sg_free_table(&p->maps[i].sgt);
	run_platform_down(p->pf);
	scn_free(p->s);
	for (unsigned int i = 0; i < p->nextra; i++)
		free(p->extra[i]);
	free(p->maps);
	free(p->bufs);
	free(p->failed);
	free(p->scratch);
	free(p);
	if (rc) {
		if (rc == -ENOMEM && !err[0])
			snprintf(err, errlen, "%s: out of memory", path);
		replay_free(r);
	}
	return rc;
}

void replay_free(struct replay_result *r)
{
	if (!r)
		return;
	free(r->first);
	r->first = NULL;
	r->nfirst = 0;
}

void replay_print_text(const struct replay_result *r, FILE *out)
{
	fprintf(out, "replay %s (scenario %s) on %s (%s): %s\n", r->trace, r->recorded,
		r->scenario, r->file, r->differences ? "DIFFERS" : "IDENTICAL");
	fprintf(out, "%" PRIu64 " operations, %" PRIu64 " differences, %" PRIu64 " skipped, %"
		PRIu64 " at another bus address\n", r->operations, r->differences, r->skipped,
		r->bus_moved);
	if (!r->differences)
		return;
	fputs("by kind:", out);
	for (int k = 0; k < REPLAY_NKINDS; k++)
		if (r->by_kind[k])
			fprintf(out, " %s %" PRIu64, replay_kind_name((enum replay_kind)k),
				r->by_kind[k]);
	fputs("\nby op:", out);
	for (unsigned int i = 0; i < r->nby_op; i++)
		fprintf(out, " %s %" PRIu64, r->by_op[i].op, r->by_op[i].n);
	fputc('\n', out);
	for (unsigned int i = 0; i < r->nfirst; i++)
		fprintf(out, "  seq %" PRIu64 " %s %s: %s\n", r->first[i].seq, r->first[i].op,
			r->first[i].device, r->first[i].what);
	if (r->differences > r->nfirst)
		fprintf(out, "  ... %" PRIu64 " more\n", r->differences - r->nfirst);
}

int replay_print_json(const struct replay_result *r, FILE *out)
{
	json_t *o = json_object(), *kinds = json_object(), *byop = json_object();
	json_t *first = json_array();
	if (!o || !kinds || !byop || !first) {
		json_decref(o);
		json_decref(kinds);
		json_decref(byop);
		json_decref(first);
		return -ENOMEM;
	}
	json_object_set_new(o, "trace", json_string(r->trace));
	json_object_set_new(o, "recorded_scenario", json_string(r->recorded));
	json_object_set_new(o, "scenario", json_string(r->scenario));
	json_object_set_new(o, "file", json_string(r->file));
	json_object_set_new(o, "identical", json_boolean(!r->differences));
	json_object_set_new(o, "operations", json_integer((json_int_t)r->operations));
	json_object_set_new(o, "differences", json_integer((json_int_t)r->differences));
	json_object_set_new(o, "skipped", json_integer((json_int_t)r->skipped));
	json_object_set_new(o, "bus_moved", json_integer((json_int_t)r->bus_moved));
	for (int k = 0; k < REPLAY_NKINDS; k++)
		json_object_set_new(kinds, replay_kind_name((enum replay_kind)k),
				    json_integer((json_int_t)r->by_kind[k]));
	json_object_set_new(o, "by_kind", kinds);
	for (unsigned int i = 0; i < r->nby_op; i++)
		json_object_set_new(byop, r->by_op[i].op, json_integer((json_int_t)r->by_op[i].n));
	json_object_set_new(o, "by_op", byop);
	for (unsigned int i = 0; i < r->nfirst; i++)
		json_array_append_new(first, json_pack("{s:I,s:s,s:s,s:s}", "seq",
						       (json_int_t)r->first[i].seq, "op",
						       r->first[i].op, "device", r->first[i].device,
						       "what", r->first[i].what));
	json_object_set_new(o, "first", first);
	int rc = json_dumpf(o, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER) ? -EIO : 0;
	if (!rc)
		fputc('\n', out);
	json_decref(o);
	return rc;
}
