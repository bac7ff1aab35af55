/*
 * tools/trace.c - writing a trace (see trace.h; the format is in
 * docs/dmamap.1).
 *
 * Owns: the trace writer: one JSON object per line, written with stdio
 * (no allocation per line), the buffer and mapping tables that turn CPU
 * pointers into (buf, off) and bus addresses into (map, off).  Only
 * called while tracing: the workloads test their `tr` pointer first.
 * Never calls the library: it records what the workloads did and
 * classifies bounces as they do (wlenv.h's wl_bounced).  Never includes
 * workloads.h: the workloads call this file, not the other way round.
 */
#include "trace.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <dmamap/sim/sim.h>
#include "wlenv.h"  /* never workloads.h: the workloads call this file */

#define TR_PAGE 4096ULL
#define TR_VBUF (1u << 20)
#define TR_DEAD 512               /* unmapped mappings a check may name */

/* A live buffer: [cpu, cpu + len). */
struct tr_buf {
	uintptr_t cpu;
	uint64_t len;
	uint32_t id;
	uint64_t map;             /* a coherent buffer's mapping (its seq) */
};

/* A live mapping: its bus segments, one stream. */
struct tr_map {
	uint64_t seq;
	const struct dmamap_sg_table *sgt;   /* a scatterlist's table, else NULL */
	bool coherent;
	unsigned int nseg;
	uint64_t bus0, len0;                 /* nseg == 1 */
	uint64_t *segs;                      /* nseg > 1: bus, len pairs */
	uint64_t total;
};

struct trace {
	FILE *f;
	bool own;
	char *vbuf;
	uint64_t seq;
	char dev[2 * 256 + 8];    /* the current device, as a JSON string */
	struct tr_buf *bufs;      /* sorted by cpu */
	size_t nbufs, capbufs;
	uint32_t next_buf;
	struct tr_map *maps;      /* in seq order */
	size_t nmaps, capmaps;
	uint64_t last_seq, last_base; /* the most recent mapping (may be gone) */
	struct { uint64_t seq, bus, len; } dead[TR_DEAD]; /* recently unmapped */
	unsigned int ndead;
	size_t hint;              /* the mapping and segment hit last */
	unsigned int hint_seg;
	uint64_t hint_pos;        /* stream offset of hint_seg */
	uint64_t n_events, n_maps, n_map_failures, n_dev, n_bytes;
	bool nomem;
};

uint64_t trace_hash(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* s as a JSON string (quotes included) into dst; cut to fit. */
static void json_quote(char *dst, size_t n, const char *s)
{
	size_t k = 0;
	if (n < 3)
		return;
	dst[k++] = '"';
	for (; s && *s && k + 8 < n; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			dst[k++] = '\\';
			dst[k++] = (char)c;
		} else if (c < 0x20) {
			k += (size_t)snprintf(dst + k, n - k, "\\u%04x", c);
		} else {
			dst[k++] = (char)c;
		}
	}
	dst[k++] = '"';
	dst[k] = '\0';
}

static void put_str(struct trace *t, const char *key, const char *s)
{
	char q[2 * 4096 + 8];
	if (!s) {
		fprintf(t->f, ",\"%s\":null", key);
		return;
	}
	json_quote(q, sizeof(q), s);
	fprintf(t->f, ",\"%s\":%s", key, q);
}

static const char *dir_name(enum dmamap_data_direction d)
{
	switch (d) {
	case DMAMAP_BIDIRECTIONAL: return "bidi";
	case DMAMAP_TO_DEVICE: return "to";
	case DMAMAP_FROM_DEVICE: return "from";
	case DMAMAP_NONE: return "none";
	}
	return "?";
}

int trace_open(const char *path, struct trace **out, char *err, size_t errlen)
{
	struct trace *t = calloc(1, sizeof(*t));
	*out = NULL;
	if (!t)
		return -ENOMEM;
	t->f = fopen(path, "w");
	if (!t->f) {
		int rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		free(t);
		return rc;
	}
	t->own = true;
	t->vbuf = malloc(TR_VBUF);
	if (t->vbuf)
		setvbuf(t->f, t->vbuf, _IOFBF, TR_VBUF);
	t->next_buf = 1;
	json_quote(t->dev, sizeof(t->dev), "");
	*out = t;
	return 0;
}

int trace_close(struct trace *t)
{
	if (!t)
		return 0;
	int rc = fflush(t->f) || ferror(t->f) || t->nomem ? -EIO : 0;
	if (t->own && fclose(t->f))
		rc = -EIO;
	else if (!t->own)
		setvbuf(t->f, NULL, _IOLBF, 0);
	for (size_t i = 0; i < t->nmaps; i++)
		free(t->maps[i].segs);
	free(t->maps);
	free(t->bufs);
	free(t->vbuf);
	free(t);
	return rc;
}

/* ---- buffers -------------------------------------------------------------- */

/* Index of the last buffer starting at or below p, or SIZE_MAX. */
static size_t buf_floor(const struct trace *t, uintptr_t p)
{
	size_t lo = 0, hi = t->nbufs;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->bufs[mid].cpu <= p)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? lo - 1 : SIZE_MAX;
}

static struct tr_buf *buf_at(struct trace *t, const void *cpu, uint64_t *off)
{
	uintptr_t p = (uintptr_t)cpu;
	size_t i = buf_floor(t, p);
	if (i == SIZE_MAX || p - t->bufs[i].cpu >= t->bufs[i].len)
		return NULL;
	if (off)
		*off = p - t->bufs[i].cpu;
	return &t->bufs[i];
}

static uint32_t buf_add(struct trace *t, const void *cpu, uint64_t len)
{
	uint32_t id = t->next_buf++;
	if (t->nbufs == t->capbufs) {
		size_t cap = t->capbufs ? 2 * t->capbufs : 64;
		struct tr_buf *v = realloc(t->bufs, cap * sizeof(*v));
		if (!v) {
			t->nomem = true;
			return id;
		}
		t->bufs = v;
		t->capbufs = cap;
	}
	size_t i = buf_floor(t, (uintptr_t)cpu) + 1; /* SIZE_MAX + 1 == 0 */
	memmove(&t->bufs[i + 1], &t->bufs[i], (t->nbufs - i) * sizeof(t->bufs[0]));
	t->bufs[i] = (struct tr_buf){ (uintptr_t)cpu, len, id, 0 };
	t->nbufs++;
	return id;
}

static void buf_del(struct trace *t, struct tr_buf *b)
{
	size_t i = (size_t)(b - t->bufs);
	memmove(&t->bufs[i], &t->bufs[i + 1], (t->nbufs - i - 1) * sizeof(t->bufs[0]));
	t->nbufs--;
}

/* ---- mappings ------------------------------------------------------------- */

static uint64_t seg_bus(const struct tr_map *m, unsigned int s)
{
	return m->nseg == 1 ? m->bus0 : m->segs[2 * s];
}

static uint64_t seg_len(const struct tr_map *m, unsigned int s)
{
	return m->nseg == 1 ? m->len0 : m->segs[2 * s + 1];
}

static struct tr_map *map_add(struct trace *t, uint64_t bus, uint64_t len)
{
	if (t->nmaps == t->capmaps) {
		size_t cap = t->capmaps ? 2 * t->capmaps : 16;
		struct tr_map *v = realloc(t->maps, cap * sizeof(*v));
		if (!v) {
			t->nomem = true;
			return NULL;
		}
		t->maps = v;
		t->capmaps = cap;
	}
	struct tr_map *m = &t->maps[t->nmaps++];
	*m = (struct tr_map){ .seq = t->seq, .nseg = 1, .bus0 = bus, .len0 = len, .total = len };
	t->last_seq = t->seq;
	t->last_base = bus;
	return m;
}

static void map_del(struct trace *t, struct tr_map *m)
{
	size_t i = (size_t)(m - t->maps);
	unsigned int k = t->ndead++ % TR_DEAD;
	t->dead[k].seq = m->seq;
	t->dead[k].bus = m->bus0;
	t->dead[k].len = m->nseg == 1 ? m->len0 : m->segs[1];
	free(m->segs);
	memmove(&t->maps[i], &t->maps[i + 1], (t->nmaps - i - 1) * sizeof(t->maps[0]));
	t->nmaps--;
	t->hint = 0;
	t->hint_seg = 0;
	t->hint_pos = 0;
}

static struct tr_map *map_by_sgt(struct trace *t, const struct dmamap_sg_table *sgt)
{
	for (size_t i = t->nmaps; i-- > 0;)
		if (t->maps[i].sgt == sgt)
			return &t->maps[i];
	return NULL;
}

static struct tr_map *map_by_seq(struct trace *t, uint64_t seq)
{
	for (size_t i = t->nmaps; i-- > 0;)
		if (t->maps[i].seq == seq)
			return &t->maps[i];
	return NULL;
}

/* A streaming single mapping whose bus address is bus. */
static struct tr_map *map_single_at(struct trace *t, uint64_t bus)
{
	for (size_t i = t->nmaps; i-- > 0;)
		if (!t->maps[i].sgt && !t->maps[i].coherent && t->maps[i].bus0 == bus)
			return &t->maps[i];
	return NULL;
}

static bool seg_has(const struct tr_map *m, unsigned int s, uint64_t bus)
{
	return bus - seg_bus(m, s) < seg_len(m, s);
}

/*
 * bus as (mapping, signed stream offset): inside a live mapping's bus
 * segment, else (dead: a CPU check after the unmap) inside the first
 * segment of a recently unmapped one, else relative to the most recent
 * mapping's first byte (the adversarial device's reach around and after
 * its grant), else absolute (map 0).
 */
static void bus_ref(struct trace *t, uint64_t bus, bool dead, uint64_t *seq, int64_t *off)
{
	if (t->hint < t->nmaps) {
		const struct tr_map *m = &t->maps[t->hint];
		unsigned int s = t->hint_seg;
		uint64_t pos = t->hint_pos;
		for (int k = 0; k < 2 && s < m->nseg; k++) {
			if (seg_has(m, s, bus)) {
				t->hint_seg = s;
				t->hint_pos = pos;
				*seq = m->seq;
				*off = (int64_t)(pos + (bus - seg_bus(m, s)));
				return;
			}
			pos += seg_len(m, s);
			s++;
		}
	}
	for (size_t i = t->nmaps; i-- > 0;) {
		const struct tr_map *m = &t->maps[i];
		uint64_t pos = 0;
		for (unsigned int s = 0; s < m->nseg; s++) {
			if (seg_has(m, s, bus)) {
				t->hint = i;
				t->hint_seg = s;
				t->hint_pos = pos;
				*seq = m->seq;
				*off = (int64_t)(pos + (bus - seg_bus(m, s)));
				return;
			}
			pos += seg_len(m, s);
		}
	}
	for (unsigned int k = 0; dead && k < TR_DEAD && k < t->ndead; k++) {
		unsigned int i = (t->ndead - 1 - k) % TR_DEAD;
		if (bus - t->dead[i].bus < t->dead[i].len) {
			*seq = t->dead[i].seq;
			*off = (int64_t)(bus - t->dead[i].bus);
			return;
		}
	}
	if (t->last_seq) {
		*seq = t->last_seq;
		*off = (int64_t)(bus - t->last_base);
		return;
	}
	*seq = 0;
	*off = (int64_t)bus;
}

/* ---- lines ----------------------------------------------------------------- */

static void w_begin(struct trace *t, const char *op)
{
	t->seq++;
	t->n_events++;
	fprintf(t->f, "{\"seq\":%" PRIu64 ",\"op\":\"%s\",\"device\":%s", t->seq, op, t->dev);
}

static void w_end(struct trace *t)
{
	fputs("}\n", t->f);
}

void trace_header(struct trace *t, const struct trace_platform *p)
{
	fprintf(t->f, "{\"dmamap_trace\":%d", TRACE_FORMAT);
	put_str(t, "scenario", p->scenario);
	put_str(t, "file", p->file);
	fprintf(t->f, ",\"seed\":\"0x%" PRIx64 "\"", p->seed);
	put_str(t, "bootargs", p->bootargs);
	fputs(",\"ram\":[", t->f);
	for (unsigned int i = 0; i < p->nram; i++)
		fprintf(t->f, "%s[\"0x%" PRIx64 "\",\"0x%" PRIx64 "\"]", i ? "," : "", p->ram[i][0],
			p->ram[i][1]);
	fprintf(t->f, "],\"swiotlb\":%s,\"swiotlb_bytes\":%" PRIu64, p->swiotlb ? "true" : "false",
		p->swiotlb_bytes);
	put_str(t, "hypervisor", p->hypervisor);
	fputs(",\"devices\":[", t->f);
	for (unsigned int i = 0; i < p->ndevs; i++) {
		char q[2 * 256 + 8];
		json_quote(q, sizeof(q), p->dev_names[i]);
		fprintf(t->f, "%s{\"name\":%s,\"ops\":\"%s\",\"dma_bits\":%u,\"hotplug\":%s}",
			i ? "," : "", q, p->dev_ops[i], p->dev_bits[i],
			p->dev_hotplug[i] ? "true" : "false");
	}
	fputs("]}\n", t->f);
}

void trace_workload(struct trace *t, const char *device, const char *kind, int line,
		    uint64_t seed, unsigned int domid)
{
	json_quote(t->dev, sizeof(t->dev), device);
	w_begin(t, "workload");
	fprintf(t->f, ",\"kind\":\"%s\",\"line\":%d,\"seed\":\"0x%" PRIx64 "\",\"domid\":%u", kind,
		line, seed, domid);
	w_end(t);
}

void trace_end(struct trace *t, int partial)
{
	uint64_t n = t->n_events;
	t->seq++;
	fprintf(t->f, "{\"seq\":%" PRIu64 ",\"op\":\"end\",\"events\":%" PRIu64 ",\"maps\":%" PRIu64
		",\"map_failures\":%" PRIu64 ",\"device_accesses\":%" PRIu64
		",\"bytes_moved\":%" PRIu64 "%s}\n", t->seq, n, t->n_maps, t->n_map_failures, t->n_dev,
		t->n_bytes, partial ? ",\"partial\":true" : "");
}

void trace_alloc(struct trace *t, struct wl_env *e, const char *where, uint64_t npages,
		 uint64_t align, int rc, uint64_t phys)
{
	uint32_t id;
	if (!rc)
		id = buf_add(t, sim_phys_to_cpu(e->m, phys), npages * TR_PAGE);
	else
		id = t->next_buf++;
	w_begin(t, "alloc");
	fprintf(t->f, ",\"buf\":%u,\"pages\":%" PRIu64 ",\"align\":%" PRIu64 ",\"where\":\"%s\","
		"\"ok\":%s,\"phys\":\"0x%" PRIx64 "\"", id, npages, align, where,
		rc ? "false" : "true", phys);
	w_end(t);
}

void trace_free(struct trace *t, struct wl_env *e, uint64_t phys)
{
	uint64_t off;
	struct tr_buf *b = buf_at(t, sim_phys_to_cpu(e->m, phys), &off);
	w_begin(t, "free");
	fprintf(t->f, ",\"buf\":%u", b && !off ? b->id : 0);
	w_end(t);
	if (b && !off)
		buf_del(t, b);
}

void trace_alloc_coherent(struct trace *t, size_t size, void *cpu, dmamap_dma_addr_t bus)
{
	uint32_t id;
	w_begin(t, "alloc_coherent");
	if (cpu) {
		id = buf_add(t, cpu, size);
		struct tr_map *m = map_add(t, bus, size);
		if (m)
			m->coherent = true;
		struct tr_buf *b = buf_at(t, cpu, NULL);
		if (b)
			b->map = t->seq;
	} else {
		id = t->next_buf++;
	}
	fprintf(t->f, ",\"buf\":%u,\"size\":%zu,\"ok\":%s,\"bus\":\"0x%" PRIx64 "\"", id, size,
		cpu ? "true" : "false", (uint64_t)bus);
	w_end(t);
}

void trace_free_coherent(struct trace *t, void *cpu)
{
	uint64_t off;
	struct tr_buf *b = buf_at(t, cpu, &off);
	uint64_t seq = b ? b->map : 0;
	w_begin(t, "free_coherent");
	fprintf(t->f, ",\"buf\":%u,\"map\":%" PRIu64, b ? b->id : 0, seq);
	w_end(t);
	struct tr_map *m = seq ? map_by_seq(t, seq) : NULL;
	if (m)
		map_del(t, m);
	if (b)
		buf_del(t, b);
}

static void put_buf(struct trace *t, const void *cpu)
{
	uint64_t off = 0;
	struct tr_buf *b = buf_at(t, cpu, &off);
	fprintf(t->f, ",\"buf\":%u,\"off\":%" PRIu64, b ? b->id : 0, off);
}

void trace_fill(struct trace *t, const void *cpu, size_t len, uint64_t seed, uint64_t at)
{
	w_begin(t, "fill");
	put_buf(t, cpu);
	fprintf(t->f, ",\"len\":%zu,\"seed\":\"0x%" PRIx64 "\",\"at\":%" PRIu64, len, seed, at);
	w_end(t);
}

void trace_set(struct trace *t, const void *cpu, int byte, size_t len)
{
	w_begin(t, "set");
	put_buf(t, cpu);
	fprintf(t->f, ",\"len\":%zu,\"byte\":%d", len, byte & 0xff);
	w_end(t);
}

void trace_store(struct trace *t, const void *cpu, const void *src, size_t len)
{
	const uint8_t *p = src;
	w_begin(t, "store");
	put_buf(t, cpu);
	fputs(",\"hex\":\"", t->f);
	for (size_t i = 0; i < len; i++)
		fprintf(t->f, "%02x", p[i]);
	fputc('"', t->f);
	w_end(t);
}

void trace_check(struct trace *t, const void *cpu, size_t len, dmamap_dma_addr_t bus)
{
	uint64_t seq;
	int64_t off;
	bus_ref(t, bus, true, &seq, &off);
	w_begin(t, "check");
	put_buf(t, cpu);
	fprintf(t->f, ",\"len\":%zu,\"map\":%" PRIu64 ",\"hash\":\"0x%016" PRIx64 "\"", len, seq,
		trace_hash(cpu, len));
	w_end(t);
}

void trace_map(struct trace *t, struct wl_env *e, const char *op, const void *cpu,
	       size_t size, enum dmamap_data_direction dir, unsigned long attrs,
	       dmamap_dma_addr_t bus)
{
	bool ok = bus != DMAMAP_MAPPING_ERROR;
	w_begin(t, op);
	put_buf(t, cpu);
	fprintf(t->f, ",\"size\":%zu,\"dir\":\"%s\",\"attrs\":%lu,\"ok\":%s", size, dir_name(dir),
		attrs, ok ? "true" : "false");
	if (ok) {
		fprintf(t->f, ",\"bus\":\"0x%" PRIx64 "\",\"bounced\":%s", (uint64_t)bus,
			wl_bounced(e, cpu, bus, NULL) ? "true" : "false");
		map_add(t, bus, size);
		t->n_maps++;
	} else {
		t->n_map_failures++;
	}
	w_end(t);
}

void trace_unmap(struct trace *t, const char *op, dmamap_dma_addr_t bus, size_t size,
		 enum dmamap_data_direction dir, unsigned long attrs)
{
	struct tr_map *m = map_single_at(t, bus);
	w_begin(t, op);
	fprintf(t->f, ",\"map\":%" PRIu64 ",\"size\":%zu,\"dir\":\"%s\",\"attrs\":%lu",
		m ? m->seq : 0, size, dir_name(dir), attrs);
	w_end(t);
	if (m)
		map_del(t, m);
}

void trace_map_sgt(struct trace *t, struct wl_env *e, const struct dmamap_sg_table *sgt,
		   enum dmamap_data_direction dir, unsigned long attrs, int rc)
{
	w_begin(t, "map_sgtable");
	fprintf(t->f, ",\"dir\":\"%s\",\"attrs\":%lu,\"sg\":[", dir_name(dir), attrs);
	for (unsigned int s = 0; s < sgt->orig_nents; s++) {
		uint64_t off = 0;
		struct tr_buf *b = buf_at(t, sgt->sgl[s].cpu, &off);
		fprintf(t->f, "%s[%u,%" PRIu64 ",%u]", s ? "," : "", b ? b->id : 0, off,
			sgt->sgl[s].length);
	}
	fprintf(t->f, "],\"rc\":%d", rc);
	if (!rc) {
		unsigned int n = sgt->nents, nb = 0;
		struct tr_map *m = map_add(t, sgt->sgl[0].dma_address, sgt->sgl[0].dma_length);
		if (m) {
			m->sgt = sgt;
			if (n > 1) {
				m->segs = malloc(2 * sizeof(uint64_t) * n);
				if (!m->segs)
					t->nomem = true;
				else
					m->nseg = n;
				m->total = 0;
				for (unsigned int s = 0; m->segs && s < n; s++) {
					m->segs[2 * s] = sgt->sgl[s].dma_address;
					m->segs[2 * s + 1] = sgt->sgl[s].dma_length;
					m->total += sgt->sgl[s].dma_length;
				}
			}
		}
		fprintf(t->f, ",\"nents\":%u,\"bus\":[", n);
		for (unsigned int s = 0; s < n; s++) {
			fprintf(t->f, "%s[\"0x%" PRIx64 "\",%u]", s ? "," : "",
				(uint64_t)sgt->sgl[s].dma_address, sgt->sgl[s].dma_length);
			/* Merged segments (an IOMMU) are never bounce buffers. */
			if (n == sgt->orig_nents &&
			    wl_bounced(e, sgt->sgl[s].cpu, sgt->sgl[s].dma_address, NULL))
				nb++;
		}
		fprintf(t->f, "],\"bounced\":%u", nb);
		t->n_maps++;
	} else {
		t->n_map_failures++;
	}
	w_end(t);
}

void trace_unmap_sgt(struct trace *t, const struct dmamap_sg_table *sgt,
		     enum dmamap_data_direction dir, unsigned long attrs)
{
	struct tr_map *m = map_by_sgt(t, sgt);
	w_begin(t, "unmap_sgtable");
	fprintf(t->f, ",\"map\":%" PRIu64 ",\"dir\":\"%s\",\"attrs\":%lu", m ? m->seq : 0,
		dir_name(dir), attrs);
	w_end(t);
	if (m)
		map_del(t, m);
}

void trace_sync(struct trace *t, bool for_cpu, dmamap_dma_addr_t bus, size_t size,
		enum dmamap_data_direction dir)
{
	uint64_t seq;
	int64_t off;
	bus_ref(t, bus, false, &seq, &off);
	w_begin(t, "sync_single");
	fprintf(t->f, ",\"for\":\"%s\",\"map\":%" PRIu64 ",\"off\":%" PRId64 ",\"size\":%zu,"
		"\"dir\":\"%s\"", for_cpu ? "cpu" : "device", seq, off, size, dir_name(dir));
	w_end(t);
}

void trace_sync_sgt(struct trace *t, bool for_cpu, const struct dmamap_sg_table *sgt,
		    enum dmamap_data_direction dir)
{
	struct tr_map *m = map_by_sgt(t, sgt);
	w_begin(t, "sync_sgtable");
	fprintf(t->f, ",\"for\":\"%s\",\"map\":%" PRIu64 ",\"dir\":\"%s\"",
		for_cpu ? "cpu" : "device", m ? m->seq : 0, dir_name(dir));
	w_end(t);
}

static void dev_access(struct trace *t, const char *op, uint64_t bus, const void *data,
		       size_t len, int rc)
{
	uint64_t seq;
	int64_t off;
	bus_ref(t, bus, false, &seq, &off);
	w_begin(t, op);
	fprintf(t->f, ",\"map\":%" PRIu64 ",\"off\":%" PRId64 ",\"len\":%zu,\"bus\":\"0x%" PRIx64
		"\",\"rc\":%d,\"hash\":\"0x%016" PRIx64 "\"", seq, off, len, bus, rc,
		trace_hash(data, len));
	t->n_dev++;
	if (!rc)
		t->n_bytes += len;
}

void trace_dev_read(struct trace *t, uint64_t bus, const void *data, size_t len, int rc)
{
	dev_access(t, "dev_read", bus, data, len, rc);
	w_end(t);
}

void trace_dev_write(struct trace *t, uint64_t bus, const void *data, size_t len, int rc,
		     uint64_t seed, uint64_t at, int byte)
{
	dev_access(t, "dev_write", bus, data, len, rc);
	if (byte >= 0)
		fprintf(t->f, ",\"byte\":%d", byte & 0xff);
	else
		fprintf(t->f, ",\"seed\":\"0x%" PRIx64 "\",\"at\":%" PRIu64, seed, at);
	w_end(t);
}

void trace_param(struct trace *t, const char *op, uint64_t value, int rc)
{
	w_begin(t, op);
	fprintf(t->f, ",\"value\":\"0x%" PRIx64 "\",\"rc\":%d", value, rc);
	w_end(t);
}

void trace_domu_page(struct trace *t, unsigned int domid, uint64_t gfn, const void *pg)
{
	uint64_t off;
	if (buf_at(t, pg, &off))
		return; /* seen before: the same buffer */
	uint32_t id = buf_add(t, pg, TR_PAGE);
	w_begin(t, "domu_page");
	fprintf(t->f, ",\"buf\":%u,\"domid\":%u,\"gfn\":%" PRIu64, id, domid, gfn);
	w_end(t);
}

static uint32_t buf_id(struct trace *t, const void *cpu)
{
	struct tr_buf *b = cpu ? buf_at(t, cpu, NULL) : NULL;
	return b ? b->id : 0;
}

void trace_grant(struct trace *t, const void *pg, bool readonly, int rc, uint32_t gref)
{
	w_begin(t, "grant");
	fprintf(t->f, ",\"buf\":%u,\"readonly\":%s,\"rc\":%d,\"gref\":%u", buf_id(t, pg),
		readonly ? "true" : "false", rc, rc ? 0 : gref);
	w_end(t);
}

void trace_grant_end(struct trace *t, const void *pg, int rc)
{
	w_begin(t, "grant_end");
	fprintf(t->f, ",\"buf\":%u,\"rc\":%d", buf_id(t, pg), rc);
	w_end(t);
}

void trace_grant_map(struct trace *t, const void *pg, bool readonly, int rc, void *cpu,
		     uint64_t phys)
{
	uint32_t of = buf_id(t, pg);
	uint32_t id = !rc && cpu ? buf_add(t, cpu, TR_PAGE) : t->next_buf++;
	w_begin(t, "grant_map");
	fprintf(t->f, ",\"buf\":%u,\"of\":%u,\"readonly\":%s,\"rc\":%d,\"phys\":\"0x%" PRIx64 "\"",
		id, of, readonly ? "true" : "false", rc, rc ? 0 : phys);
	w_end(t);
}

void trace_grant_unmap(struct trace *t, const void *cpu, int rc)
{
	struct tr_buf *b = cpu ? buf_at(t, cpu, NULL) : NULL;
	w_begin(t, "grant_unmap");
	fprintf(t->f, ",\"buf\":%u,\"rc\":%d", b ? b->id : 0, rc);
	w_end(t);
	if (b)
		buf_del(t, b);
}
