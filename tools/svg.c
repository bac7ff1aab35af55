/*
 * tools/svg.c - the physical address map of one scenario run, drawn as a
 * standalone SVG 1.1 file for a person to look at instead of reading
 * addresses (`dmamap run FILE --svg OUT.svg`).
 *
 * Owns: the picture's layout (piecewise address scale, rows, labels,
 * legend) and its machine-readable attributes (documented in svg.h).
 * Must never touch the library or the simulator: it only reads a
 * struct rpt_report.  Output is a pure function of the report (no time,
 * no locale, no pointers), so the same report gives the same bytes.
 */
#include "svg.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- geometry ---------------------------------------------------------------- */

#define SVG_W 1200.0
#define LABEL_X 12.0          /* left column: row names */
#define LABEL_CP 30           /* code points of a name that fit the column */
#define PLOT_X0 250.0         /* the address axis spans [PLOT_X0, PLOT_X1] */
#define PLOT_X1 1185.0
#define PLOT_W (PLOT_X1 - PLOT_X0)
#define HOLE_W 36.0           /* a hole's width, whatever its size */
#define SEG_MIN_W 24.0        /* the least a RAM (or pool) run gets */
#define MARK_MIN_W 3.0        /* a one-byte buffer is still visible */
#define RANGE_MIN_W 2.0       /* a tiny pool or reserved region too */
#define MEM_H 40.0            /* the memory row */
#define ROW_H 50.0            /* one device row */
#define LANE_H 13.0           /* one line of labels */
#define MAX_LANES 4
#define MAX_OCC 512

#define COL_PASS "#1e8e3e"
#define COL_FAIL "#d93025"
#define COL_BOUNDARY "#c0392b"
#define COL_DIRECT "#2e9e44"
#define COL_BOUNCED "#f08c00"

#define KIB_SHIFT 10

/*
 * No libm: the test links this file without it, and pixels need no more
 * than these.
 */
static double dmin(double a, double b)
{
	return a < b ? a : b;
}

static double dmax(double a, double b)
{
	return a > b ? a : b;
}

static long long iround(double v)
{
	return (long long)(v < 0 ? v - 0.5 : v + 0.5);
}

static double dceil(double v)
{
	long long t = (long long)v;
	return (double)t < v ? (double)(t + 1) : (double)t;
}

/* log2 for v >= 1, within 0.09: the exponent plus a linear mantissa. */
static double lg2(double v)
{
	int e = 0;
	while (v >= 2.0) {
		v /= 2.0;
		e++;
	}
	return e + (v - 1.0);
}

/* ---- output ------------------------------------------------------------------ */

/* All writes go through here; errors are collected once, at the end, via
 * ferror(), so drawing code stays linear.  A NULL stream measures only. */
struct w {
	FILE *f;
};

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void out(struct w *w, const char *fmt, ...)
{
	if (!w->f)
		return;
	va_list ap;
	va_start(ap, fmt);
	vfprintf(w->f, fmt, ap);
	va_end(ap);
}

/*
 * A number as text without printf's %f: that honours LC_NUMERIC, and a
 * comma for a decimal point would break both the SVG and determinism.
 * One decimal is plenty for pixels.  The struct is returned by value so
 * several can sit in one out() call (C11 temporary lifetime).
 */
struct num {
	char s[32];
};

static struct num N(double v)
{
	struct num n;
	long long t = iround(v * 10.0);
	const char *sign = "";
	if (t < 0) {
		sign = "-";
		t = -t;
	}
	if (t % 10)
		snprintf(n.s, sizeof(n.s), "%s%lld.%lld", sign, t / 10, t % 10);
	else
		snprintf(n.s, sizeof(n.s), "%s%lld", sign, t / 10);
	return n;
}

struct hex {
	char s[24];
};

static struct hex H(uint64_t v)
{
	struct hex h;
	snprintf(h.s, sizeof(h.s), "0x%" PRIx64, v);
	return h;
}

/* Sizes in binary units: exact when a unit divides it with a readable
 * quotient ("1984 MiB"), else one decimal of the largest unit. */
struct size {
	char s[48];
};

static struct size S(uint64_t v)
{
	static const char *const unit[] = { "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	struct size z;
	if (v < (1ULL << KIB_SHIFT)) {
		snprintf(z.s, sizeof(z.s), "%" PRIu64 " B", v);
		return z;
	}
	int top = 0;
	for (int u = 5; u >= 0; u--)
		if (v >> (KIB_SHIFT * (u + 1))) {
			top = u;
			break;
		}
	for (int u = top; u >= 0; u--) {
		unsigned int sh = KIB_SHIFT * (unsigned int)(u + 1);
		if (!(v & ((1ULL << sh) - 1)) && (v >> sh) < 10000) {
			snprintf(z.s, sizeof(z.s), "%" PRIu64 " %s", v >> sh, unit[u]);
			return z;
		}
	}
	unsigned int sh = KIB_SHIFT * (unsigned int)(top + 1);
	uint64_t whole = v >> sh;
	/* (rest * 10) < 10 * 2^60 < 2^64: no overflow. */
	uint64_t tenth = (((v & ((1ULL << sh) - 1)) * 10) + (1ULL << (sh - 1))) >> sh;
	if (tenth == 10) {
		whole++;
		tenth = 0;
	}
	snprintf(z.s, sizeof(z.s), "%" PRIu64 ".%" PRIu64 " %s", whole, tenth, unit[top]);
	return z;
}

/*
 * Length of the well-formed UTF-8 sequence at s (n bytes left) that XML
 * 1.0 accepts, or 0.  Names come from YAML and device trees; a stray byte
 * must not make the whole file unreadable, so it is replaced instead.
 */
static size_t utf8_ok(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	if (c < 0x80)
		return (c >= 0x20 || c == '\t' || c == '\n' || c == '\r') ? 1 : 0;
	size_t len;
	unsigned char lo = 0x80, hi = 0xbf;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;   /* no surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	/* U+FFFE and U+FFFF are not XML characters. */
	if (c == 0xef && s[1] == 0xbf && (s[2] == 0xbe || s[2] == 0xbf))
		return 0;
	return len;
}

/* Code points in s (at most cap bytes): the width estimate's unit. */
static size_t cp_count(const char *s, size_t cap)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = strnlen(s, cap), cps = 0;
	for (size_t i = 0; i < n; cps++) {
		size_t l = utf8_ok(u + i, n - i);
		i += l ? l : 1;
	}
	return cps;
}

/*
 * Writes s (at most cap bytes) as XML character data, valid in text and
 * in double-quoted attributes: & < > " ' escaped, bad bytes as '?'.  With
 * max_cp > 0, longer strings are cut to max_cp - 1 code points and "…".
 */
static void put_esc(struct w *w, const char *s, size_t cap, size_t max_cp)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = strnlen(s, cap);
	bool cut = max_cp && cp_count(s, cap) > max_cp;
	size_t cps = 0;
	for (size_t i = 0; i < n; cps++) {
		if (cut && cps + 1 >= max_cp) {
			fputs("\xe2\x80\xa6", w->f);
			return;
		}
		size_t l = utf8_ok(u + i, n - i);
		if (!l) {
			fputc('?', w->f);
			i++;
			continue;
		}
		switch (u[i]) {
		case '&': fputs("&amp;", w->f); break;
		case '<': fputs("&lt;", w->f); break;
		case '>': fputs("&gt;", w->f); break;
		case '"': fputs("&quot;", w->f); break;
		case '\'': fputs("&apos;", w->f); break;
		case '\n': case '\r': case '\t': fputc(' ', w->f); break;
		default: fwrite(u + i, 1, l, w->f); break;
		}
		i += l;
	}
}

#define ESC(w, field) put_esc((w), (field), sizeof(field), 0)

/* Rough text width: the picture has no font metrics, only placement. */
static double text_w(size_t cps, double font)
{
	return (double)cps * font * 0.6;
}

/* ---- the piecewise address scale -------------------------------------------- */

/*
 * The axis is a sequence of pieces: runs of populated memory (RAM, pools,
 * reserved regions, merged where they overlap) and the holes between them.
 * A run's width grows with the log of its size, so a 1 MiB region and a
 * 16 TiB one both stay legible; a hole gets a fixed narrow width whatever
 * it spans.  Inside a piece the scale is linear, so positions are
 * monotonic in the address over the whole axis.
 */
struct piece {
	uint64_t first, last;
	double x, w;
	bool hole;
};

#define MAX_SEGS (3 * RPT_MAX_RANGES)
#define MAX_PIECES (2 * MAX_SEGS + 1)

struct map {
	struct piece p[MAX_PIECES];
	unsigned int n;
};

struct iv {
	uint64_t first, last;
};

static int iv_cmp(const void *a, const void *b)
{
	const struct iv *x = a, *y = b;
	if (x->first != y->first)
		return x->first < y->first ? -1 : 1;
	if (x->last != y->last)
		return x->last < y->last ? -1 : 1;
	return 0;
}

static void add_ranges(struct iv *iv, unsigned int *n, const struct rpt_range *r, unsigned int nr)
{
	for (unsigned int i = 0; i < nr && i < RPT_MAX_RANGES; i++)
		if (r[i].first <= r[i].last)
			iv[(*n)++] = (struct iv){ r[i].first, r[i].last };
}

static double piece_size(const struct piece *p)
{
	return (double)(p->last - p->first) + 1.0;
}

static void build_map(const struct rpt_report *r, struct map *m)
{
	struct iv iv[MAX_SEGS];
	unsigned int n = 0;
	add_ranges(iv, &n, r->ram, r->nram);
	add_ranges(iv, &n, r->pools, r->npools);
	add_ranges(iv, &n, r->reserved, r->nreserved);
	if (!n) {
		/* No memory described: span the buffers, or the low 4 GiB. */
		struct iv b = { UINT64_MAX, 0 };
		for (unsigned int d = 0; d < r->ndevices; d++)
			for (unsigned int k = 0; k < r->devices[d].nmarks && k < RPT_MAX_MARKS; k++) {
				const struct rpt_mark *mk = &r->devices[d].marks[k];
				if (mk->first > mk->last)
					continue;
				if (mk->first < b.first)
					b.first = mk->first;
				if (mk->last > b.last)
					b.last = mk->last;
			}
		iv[n++] = b.first <= b.last ? b : (struct iv){ 0, 0xffffffffULL };
	}
	qsort(iv, n, sizeof(iv[0]), iv_cmp);
	unsigned int ns = 0;
	for (unsigned int i = 0; i < n; i++) {
		/* Only overlaps merge: RAM ranges that merely touch stay separate
		 * pieces, so a small one next to a big one keeps its own width. */
		if (ns && iv[i].first <= iv[ns - 1].last) {
			if (iv[i].last > iv[ns - 1].last)
				iv[ns - 1].last = iv[i].last;
		} else {
			iv[ns++] = iv[i];
		}
	}

	m->n = 0;
	if (iv[0].first > 0)
		m->p[m->n++] = (struct piece){ .first = 0, .last = iv[0].first - 1, .hole = true };
	for (unsigned int i = 0; i < ns; i++) {
		m->p[m->n++] = (struct piece){ .first = iv[i].first, .last = iv[i].last };
		if (i + 1 < ns && iv[i].last + 1 < iv[i + 1].first)
			m->p[m->n++] = (struct piece){ .first = iv[i].last + 1,
						       .last = iv[i + 1].first - 1, .hole = true };
	}

	/* Holes and minimum widths shrink when there are many pieces, so the
	 * axis never overflows: they take at most 35% and 30% of it. */
	unsigned int nh = m->n - ns;
	double hole_w = nh ? dmin(HOLE_W, 0.35 * PLOT_W / nh) : 0.0;
	double seg_min = dmin(SEG_MIN_W, 0.30 * PLOT_W / ns);
	double wsum = 0.0;
	for (unsigned int i = 0; i < m->n; i++)
		if (!m->p[i].hole)
			wsum += dmax(lg2(piece_size(&m->p[i])) - 12.0, 1.0);
	double extra = PLOT_W - nh * hole_w - ns * seg_min;
	double x = PLOT_X0;
	for (unsigned int i = 0; i < m->n; i++) {
		struct piece *p = &m->p[i];
		p->x = x;
		p->w = p->hole ? hole_w
			       : seg_min + extra * dmax(lg2(piece_size(p)) - 12.0, 1.0) / wsum;
		x += p->w;
	}
	/* Rounding must not leave the last edge a hair off the axis end. */
	m->p[m->n - 1].w = PLOT_X1 - m->p[m->n - 1].x;
}

static uint64_t span_last(const struct map *m)
{
	return m->p[m->n - 1].last;
}

/* x where byte a begins (after_last: where it ends).  Past the span: the
 * axis end; the span always starts at 0. */
static double x_of(const struct map *m, uint64_t a, bool after)
{
	for (unsigned int i = 0; i < m->n; i++) {
		const struct piece *p = &m->p[i];
		if (a < p->first || a > p->last)
			continue;
		double off = (double)(a - p->first) + (after ? 1.0 : 0.0);
		return p->x + p->w * dmin(off / piece_size(p), 1.0);
	}
	return PLOT_X1;
}

/* A range's rectangle: at least minw wide, kept inside the axis. */
static void range_x(const struct map *m, uint64_t first, uint64_t last, double minw,
		    double *x, double *wd)
{
	double a = x_of(m, first, false), b = x_of(m, last, true);
	double w = dmax(b - a, minw);
	if (a + w > PLOT_X1)
		a = dmax(PLOT_X0, PLOT_X1 - w);
	*x = a;
	*wd = w;
}

/* ---- label placement ---------------------------------------------------------- */

/*
 * Lines ("lanes") of labels that must not overlap: a label goes into the
 * first lane where it fits.  Placement order is the caller's priority.
 */
struct occ {
	double l, r;
	int lane;
};

struct placer {
	struct occ o[MAX_OCC];
	int n, nlanes, used;
};

static int place(struct placer *p, double l, double r, bool force)
{
	for (int lane = 0; lane < p->nlanes; lane++) {
		bool free = true;
		for (int i = 0; i < p->n && free; i++)
			if (p->o[i].lane == lane && l < p->o[i].r + 6.0 && p->o[i].l < r + 6.0)
				free = false;
		if (!free)
			continue;
		if (p->n < MAX_OCC)
			p->o[p->n++] = (struct occ){ l, r, lane };
		if (lane + 1 > p->used)
			p->used = lane + 1;
		return lane;
	}
	if (!force)
		return -1;
	/* Crowded: overlap in the last lane rather than lose the label. */
	p->used = p->nlanes;
	return p->nlanes - 1;
}

/* A label of width tw centred on cx, clamped into the picture. */
static double clamp_cx(double cx, double tw, double lo)
{
	if (cx - tw / 2 < lo)
		cx = lo + tw / 2;
	if (cx + tw / 2 > SVG_W - 4.0)
		cx = SVG_W - 4.0 - tw / 2;
	return cx;
}

/* ---- what is drawn ------------------------------------------------------------ */

enum ann_kind { ANN_RAM, ANN_POOL, ANN_RESERVED };

/* A memory-row label: inside its rectangle when it fits, else below. */
struct ann {
	enum ann_kind kind;
	const struct rpt_range *r;
	double x, w;            /* the rectangle */
	double cx, tw;          /* the text */
	bool inside;
	bool bare;              /* RAM: the size alone ("RAM " did not fit) */
	int lane;
};

struct boundary {
	uint64_t addr;
	unsigned int bits;
	double x, cx, tw;
	int lane;
};

struct tick {
	uint64_t addr;
	bool end;               /* addr is the span's last byte, drawn at its end */
	double x, cx, tw;
	int lane;               /* -1: tick without a label (no room) */
};

#define MAX_BOUNDARIES 72
#define MAX_TICKS (MAX_PIECES + 32)

struct layout {
	struct map m;
	struct ann ann[MAX_SEGS];
	unsigned int nann;
	struct boundary b[MAX_BOUNDARIES];
	unsigned int nb;
	struct tick t[MAX_TICKS];
	unsigned int nt;
	unsigned int nproblem_lines;
	double header_end, mem_top, dev_top, axis_y, legend_y, height;
	int ann_lanes, b_lanes, t_lanes;
};

static const char *pool_kind(const struct rpt_range *p)
{
	if (!strncmp(p->name, "swiotlb", 7))
		return strstr(p->name, "grown") ? "swiotlb-grown" : "swiotlb";
	return "restricted";
}

static void pool_colors(const char *kind, const char **fill, const char **stroke)
{
	if (!strcmp(kind, "swiotlb")) {
		*fill = "#f4c430";
		*stroke = "#9a7400";
	} else if (!strcmp(kind, "swiotlb-grown")) {
		*fill = "#fae39a";
		*stroke = "#9a7400";
	} else {
		*fill = "#b48ad8";
		*stroke = "#6b3fa0";
	}
}

/* The memory row's label text for one range, as code points. */
static size_t ann_cps(const struct ann *a)
{
	size_t sz = strlen(S(a->r->last - a->r->first + 1).s);
	if (a->kind == ANN_RAM)
		return (a->bare ? 0 : 4) + sz;     /* "RAM " */
	return cp_count(a->r->name, sizeof(a->r->name)) + 1 + sz;
}

static void put_ann_text(struct w *w, const struct ann *a)
{
	if (a->kind == ANN_RAM) {
		if (!a->bare)
			out(w, "RAM ");
	} else {
		ESC(w, a->r->name);
		out(w, " ");
	}
	out(w, "%s", S(a->r->last - a->r->first + 1).s);
}

static void add_boundary(struct layout *L, unsigned int bits)
{
	if (bits == 0 || bits >= 64)
		return;
	uint64_t a = 1ULL << bits;
	uint64_t sl = span_last(&L->m);
	/* Inside the drawn span, its end edge included. */
	if (a > sl && !(sl != UINT64_MAX && a == sl + 1))
		return;
	for (unsigned int i = 0; i < L->nb; i++)
		if (L->b[i].bits == bits)
			return;
	if (L->nb < MAX_BOUNDARIES)
		L->b[L->nb++] = (struct boundary){ .addr = a, .bits = bits };
}

static int boundary_cmp(const void *a, const void *b)
{
	const struct boundary *x = a, *y = b;
	return x->bits < y->bits ? -1 : x->bits > y->bits;
}

static void tick_label(const struct tick *t, char *buf, size_t n)
{
	uint64_t a = t->end && t->addr != UINT64_MAX ? t->addr + 1 : t->addr;
	if (a == 0)
		snprintf(buf, n, "0x0");
	else
		snprintf(buf, n, "%s (%s)", H(a).s, S(a).s);
}

static void add_tick(struct layout *L, uint64_t addr, bool end)
{
	if (L->nt >= MAX_TICKS)
		return;
	struct tick *t = &L->t[L->nt++];
	*t = (struct tick){ .addr = addr, .end = end, .lane = -1 };
	t->x = x_of(&L->m, addr, end);
	char buf[96];
	tick_label(t, buf, sizeof(buf));
	t->tw = text_w(strlen(buf), 9.0);
	t->cx = clamp_cx(t->x, t->tw, PLOT_X0 - 40.0);
}

static void layout(const struct rpt_report *r, struct layout *L)
{
	memset(L, 0, sizeof(*L));
	build_map(r, &L->m);
	const struct map *m = &L->m;

	/* Header: title, summary, then up to four problems and a count. */
	unsigned int np = r->problems ? r->nproblems : 0;
	L->nproblem_lines = np > 4 ? 5 : np;
	L->header_end = 54.0 + L->nproblem_lines * 15.0 + 6.0;

	/* Mask boundaries: the classic ISA and 32-bit limits, and every
	 * device's own masks, where they fall inside the span. */
	add_boundary(L, 24);
	add_boundary(L, 32);
	for (unsigned int i = 0; i < r->ndevices; i++) {
		add_boundary(L, r->devices[i].dma_mask_bits);
		add_boundary(L, r->devices[i].coherent_mask_bits);
	}
	qsort(L->b, L->nb, sizeof(L->b[0]), boundary_cmp);
	struct placer pl = { .nlanes = 2 };
	for (unsigned int i = 0; i < L->nb; i++) {
		struct boundary *b = &L->b[i];
		char buf[96];
		snprintf(buf, sizeof(buf), "%s (%u-bit)", S(b->addr).s, b->bits);
		b->x = x_of(m, b->addr, false);
		if (b->addr > span_last(m))
			b->x = PLOT_X1;
		b->tw = text_w(strlen(buf), 9.0);
		b->cx = clamp_cx(b->x, b->tw, PLOT_X0 - 40.0);
		b->lane = place(&pl, b->cx - b->tw / 2, b->cx + b->tw / 2, true);
	}
	L->b_lanes = pl.used;
	L->mem_top = L->header_end + L->b_lanes * LANE_H + (L->b_lanes ? 6.0 : 4.0);

	/* Memory-row labels: RAM first (most important), then pools and
	 * reserved regions; what does not fit its rectangle goes below. */
	struct placer pa = { .nlanes = MAX_LANES };
	const struct { enum ann_kind k; const struct rpt_range *v; unsigned int n; } src[] = {
		{ ANN_RAM, r->ram, r->nram },
		{ ANN_POOL, r->pools, r->npools },
		{ ANN_RESERVED, r->reserved, r->nreserved },
	};
	for (size_t s = 0; s < sizeof(src) / sizeof(src[0]); s++)
		for (unsigned int i = 0; i < src[s].n && i < RPT_MAX_RANGES; i++) {
			const struct rpt_range *g = &src[s].v[i];
			if (g->first > g->last)
				continue;
			struct ann *a = &L->ann[L->nann++];
			*a = (struct ann){ .kind = src[s].k, .r = g, .lane = -1 };
			range_x(m, g->first, g->last, RANGE_MIN_W, &a->x, &a->w);
			a->tw = text_w(ann_cps(a), a->kind == ANN_RAM ? 10.0 : 9.0);
			a->inside = a->tw + 6.0 <= a->w;
			if (!a->inside && a->kind == ANN_RAM) {
				/* Narrow RAM: the size alone, inside or below. */
				a->bare = true;
				a->tw = text_w(ann_cps(a), 10.0);
				a->inside = a->tw + 6.0 <= a->w;
			}
			a->cx = a->x + a->w / 2;
			if (!a->inside) {
				a->cx = clamp_cx(a->cx, a->tw, PLOT_X0 - 10.0);
				a->lane = place(&pa, a->cx - a->tw / 2, a->cx + a->tw / 2, true);
			}
		}
	L->ann_lanes = pa.used;
	L->dev_top = L->mem_top + MEM_H + L->ann_lanes * LANE_H + 10.0;
	L->axis_y = L->dev_top + r->ndevices * ROW_H + 6.0;

	/* Ticks at every piece edge (where the scale changes), then a few
	 * evenly spaced power-of-two ticks inside wide runs. */
	for (unsigned int i = 0; i < m->n; i++)
		add_tick(L, m->p[i].first, false);
	add_tick(L, span_last(m), true);
	for (unsigned int i = 0; i < m->n; i++) {
		const struct piece *p = &m->p[i];
		unsigned int k = p->hole ? 0 : (unsigned int)(p->w / 150.0);
		if (!k || p->last - p->first < 2)
			continue;
		uint64_t want = (p->last - p->first) / (k + 1) + 1, step = 1;
		while (step < want && step < (1ULL << 62))
			step <<= 1;
		uint64_t a = (p->first / step + 1) * step;
		for (unsigned int j = 0; j < k + 1 && a > p->first && a <= p->last; j++, a += step)
			add_tick(L, a, false);
	}
	struct placer pt = { .nlanes = 3 };
	for (unsigned int i = 0; i < L->nt; i++) {
		struct tick *t = &L->t[i];
		t->lane = place(&pt, t->cx - t->tw / 2, t->cx + t->tw / 2, false);
	}
	L->t_lanes = pt.used;
	L->legend_y = L->axis_y + 8.0 + L->t_lanes * LANE_H + 18.0;
}

/* ---- drawing ------------------------------------------------------------------ */

static void draw_header(struct w *w, const struct rpt_report *r, const struct layout *L)
{
	out(w, "<text class=\"title\" x=\"%s\" y=\"28\" font-size=\"18\" font-weight=\"bold\">",
	    N(LABEL_X).s);
	ESC(w, r->scenario);
	out(w, " <tspan class=\"verdict\" data-pass=\"%d\" fill=\"%s\">%s</tspan></text>\n",
	    r->pass ? 1 : 0, r->pass ? COL_PASS : COL_FAIL, r->pass ? "PASS" : "FAIL");

	const struct rpt_swiotlb *s = &r->swiotlb;
	out(w, "<text class=\"summary\" x=\"%s\" y=\"48\" font-size=\"12\" data-enabled=\"%d\" "
	    "data-total=\"%" PRIu64 "\" data-hiwater=\"%" PRIu64 "\" data-bounced=\"%" PRIu64 "\">",
	    N(LABEL_X).s, s->enabled ? 1 : 0, s->total_bytes, s->used_hiwater_bytes,
	    s->bounced_bytes);
	if (s->enabled)
		out(w, "swiotlb: %s total (boot %s, %s below 4 GiB), high-water %s used, "
		    "%s bounced, %" PRIu64 " full failures",
		    S(s->total_bytes).s, S(s->boot_total_bytes).s, S(s->below_4g_bytes).s,
		    S(s->used_hiwater_bytes).s, S(s->bounced_bytes).s, s->full_failures);
	else
		out(w, "swiotlb: off");
	long long cs = iround(r->seconds * 100.0);
	out(w, "; %" PRIu64 " map/unmap operations in %lld.%02lld s</text>\n", r->ops_total,
	    cs / 100, cs % 100);

	unsigned int np = r->problems ? r->nproblems : 0;
	for (unsigned int i = 0; i < L->nproblem_lines; i++) {
		double y = 54.0 + 15.0 * (i + 1);
		if (i == 4) {
			out(w, "<text class=\"problem-more\" x=\"%s\" y=\"%s\" font-size=\"11\" "
			    "fill=\"%s\">and %u more problems</text>\n",
			    N(LABEL_X + 12).s, N(y).s, COL_FAIL, np - 4);
			break;
		}
		out(w, "<text class=\"problem\" x=\"%s\" y=\"%s\" font-size=\"11\" fill=\"%s\">"
		    "\xe2\x80\xa2 ", N(LABEL_X + 12).s, N(y).s, COL_FAIL);
		if (r->problems[i])
			put_esc(w, r->problems[i], SIZE_MAX, 160);
		out(w, "</text>\n");
	}
}

static void draw_memory(struct w *w, const struct rpt_report *r, const struct layout *L)
{
	const struct map *m = &L->m;
	double y = L->mem_top;
	out(w, "<text x=\"%s\" y=\"%s\" font-size=\"12\" font-weight=\"bold\">physical memory</text>\n",
	    N(LABEL_X).s, N(y + 24).s);

	/* Holes: hatched, the same narrow width whatever they span. */
	for (unsigned int i = 0; i < m->n; i++) {
		const struct piece *p = &m->p[i];
		if (!p->hole)
			continue;
		out(w, "<rect class=\"hole\" data-first=\"%s\" data-last=\"%s\" x=\"%s\" y=\"%s\" "
		    "width=\"%s\" height=\"%s\" fill=\"url(#hatch)\" stroke=\"#999999\">"
		    "<title>hole %s-%s (%s)</title></rect>\n",
		    H(p->first).s, H(p->last).s, N(p->x).s, N(y).s, N(p->w).s, N(MEM_H).s,
		    H(p->first).s, H(p->last).s, S(p->last - p->first + 1).s);
		if (p->w >= 20.0)
			out(w, "<text x=\"%s\" y=\"%s\" font-size=\"9\" text-anchor=\"middle\" "
			    "fill=\"#555555\">hole</text>\n", N(p->x + p->w / 2).s, N(y + 24).s);
	}

	for (unsigned int i = 0; i < L->nann; i++) {
		const struct ann *a = &L->ann[i];
		const struct rpt_range *g = a->r;
		double ry = y, rh = MEM_H;
		if (a->kind == ANN_RAM) {
			out(w, "<rect class=\"ram\" data-first=\"%s\" data-last=\"%s\" x=\"%s\" y=\"%s\" "
			    "width=\"%s\" height=\"%s\" fill=\"#dbe8f6\" stroke=\"#5b7fa6\">"
			    "<title>RAM %s-%s (%s)</title></rect>\n",
			    H(g->first).s, H(g->last).s, N(a->x).s, N(ry).s, N(a->w).s, N(rh).s,
			    H(g->first).s, H(g->last).s, S(g->last - g->first + 1).s);
			continue;
		}
		/* Pools and reserved regions sit over RAM in its lower part, so
		 * the RAM label above them stays readable. */
		ry = y + 15.0;
		rh = MEM_H - 15.0;
		const char *fill = "#8d8d8d", *stroke = "#555555", *cls = "reserved", *kind = NULL;
		if (a->kind == ANN_POOL) {
			cls = "pool";
			kind = pool_kind(g);
			pool_colors(kind, &fill, &stroke);
		}
		out(w, "<rect class=\"%s\" data-first=\"%s\" data-last=\"%s\" data-name=\"", cls,
		    H(g->first).s, H(g->last).s);
		ESC(w, g->name);
		out(w, "\"");
		if (kind)
			out(w, " data-kind=\"%s\"", kind);
		out(w, " x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\" fill=\"%s\" stroke=\"%s\">"
		    "<title>", N(a->x).s, N(ry).s, N(a->w).s, N(rh).s, fill, stroke);
		ESC(w, g->name);
		out(w, " %s-%s (%s)</title></rect>\n", H(g->first).s, H(g->last).s,
		    S(g->last - g->first + 1).s);
	}

	/* Labels last, so no rectangle covers them. */
	for (unsigned int i = 0; i < L->nann; i++) {
		const struct ann *a = &L->ann[i];
		double font = a->kind == ANN_RAM ? 10.0 : 9.0;
		double ty;
		if (a->inside) {
			ty = a->kind == ANN_RAM ? y + 12.0 : y + 31.0;
		} else {
			ty = y + MEM_H + 11.0 + a->lane * LANE_H;
			/* A leader from the region down to its label. */
			double lx = a->x + a->w / 2;
			out(w, "<line class=\"leader\" x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" "
			    "stroke=\"#777777\" stroke-width=\"0.7\"/>\n",
			    N(lx).s, N(y + MEM_H).s, N(lx).s, N(ty - 9.0).s);
		}
		out(w, "<text class=\"label\" x=\"%s\" y=\"%s\" font-size=\"%s\" text-anchor=\"middle\"%s>",
		    N(a->cx).s, N(ty).s, N(font).s,
		    a->kind == ANN_RAM ? " fill=\"#2c4a6b\"" : "");
		put_ann_text(w, a);
		out(w, "</text>\n");
	}
	(void)r;
}

static void draw_device(struct w *w, const struct rpt_device *d, unsigned int idx,
			const struct layout *L)
{
	const struct map *m = &L->m;
	double top = L->dev_top + idx * ROW_H;

	out(w, "<g class=\"device\" data-device=\"");
	ESC(w, d->name);
	out(w, "\" data-ops=\"");
	ESC(w, d->ops);
	out(w, "\" data-mask-bits=\"%u\" data-coherent-mask-bits=\"%u\" "
	    "data-marks-dropped=\"%" PRIu64 "\">\n",
	    d->dma_mask_bits, d->coherent_mask_bits, d->marks_dropped);

	/* Left column: name, how it maps, and what was not drawn. */
	out(w, "<text x=\"%s\" y=\"%s\" font-size=\"12\" font-weight=\"bold\"><title>",
	    N(LABEL_X).s, N(top + 17).s);
	ESC(w, d->name);
	if (d->reason[0]) {
		out(w, ": ");
		ESC(w, d->reason);
	}
	out(w, "</title>");
	put_esc(w, d->name, sizeof(d->name), LABEL_CP);
	out(w, "</text>\n<text x=\"%s\" y=\"%s\" font-size=\"10\" fill=\"#444444\">",
	    N(LABEL_X).s, N(top + 31).s);
	put_esc(w, d->ops[0] ? d->ops : "?", sizeof(d->ops), 14);
	if (d->dma_mask_bits)
		out(w, ", %u-bit mask", d->dma_mask_bits);
	else
		out(w, ", no mask");
	if (d->coherent_mask_bits && d->coherent_mask_bits != d->dma_mask_bits)
		out(w, " (coherent %u)", d->coherent_mask_bits);
	out(w, "</text>\n");
	if (d->marks_dropped) {
		out(w, "<text class=\"note\" data-device=\"");
		ESC(w, d->name);
		out(w, "\" data-marks-dropped=\"%" PRIu64 "\" x=\"%s\" y=\"%s\" font-size=\"10\" "
		    "fill=\"%s\">+%" PRIu64 " placements not drawn</text>\n",
		    d->marks_dropped, N(LABEL_X).s, N(top + 44).s, COL_FAIL, d->marks_dropped);
	}

	/*
	 * What it reaches without bouncing: a translucent band.  Windows in
	 * machine addresses (a Xen guest that is not 1:1) have no place on
	 * the OS's physical map: none is drawn.
	 */
	double by = top + 5.0, bh = ROW_H - 10.0;
	unsigned int nwin = d->nwindows > RPT_MAX_WINDOWS ? RPT_MAX_WINDOWS : d->nwindows;
	for (unsigned int i = 0; !d->windows_machine && i < (nwin || d->reach_none ? nwin : 1); i++) {
		uint64_t f = 0, l = UINT64_MAX;
		double x = PLOT_X0, wd = PLOT_W;
		if (nwin) {
			f = d->windows[i].first;
			l = d->windows[i].last;
			if (f > l)
				continue;
			range_x(m, f, l, RANGE_MIN_W, &x, &wd);
		}
		out(w, "<rect class=\"window\" data-device=\"");
		ESC(w, d->name);
		out(w, "\" data-first=\"%s\" data-last=\"%s\" data-all=\"%d\" x=\"%s\" y=\"%s\" "
		    "width=\"%s\" height=\"%s\" fill=\"#4a90d9\" fill-opacity=\"0.22\" "
		    "stroke=\"#4a90d9\" stroke-opacity=\"0.6\"><title>reaches %s-%s%s</title></rect>\n",
		    H(f).s, H(l).s, nwin ? 0 : 1, N(x).s, N(by).s, N(wd).s, N(bh).s, H(f).s, H(l).s,
		    nwin ? "" : " (everything)");
	}

	/* Where its buffers landed. */
	unsigned int nmk = d->nmarks > RPT_MAX_MARKS ? RPT_MAX_MARKS : d->nmarks;
	for (unsigned int i = 0; i < nmk; i++) {
		const struct rpt_mark *k = &d->marks[i];
		if (k->first > k->last)
			continue;
		double x, wd;
		range_x(m, k->first, k->last, MARK_MIN_W, &x, &wd);
		out(w, "<rect class=\"mark\" data-device=\"");
		ESC(w, d->name);
		out(w, "\" data-first=\"%s\" data-last=\"%s\" data-bounced=\"%d\" "
		    "data-count=\"%" PRIu64 "\" x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\" "
		    "fill=\"%s\"><title>%" PRIu64 " %s buffer%s %s-%s (%s)</title></rect>\n",
		    H(k->first).s, H(k->last).s, k->bounced ? 1 : 0, k->count, N(x).s,
		    N(top + 11.0).s, N(wd).s, N(ROW_H - 22.0).s,
		    k->bounced ? COL_BOUNCED : COL_DIRECT, k->count,
		    k->bounced ? "bounced" : "direct", k->count == 1 ? "" : "s",
		    H(k->first).s, H(k->last).s, S(k->last - k->first + 1).s);
	}
	out(w, "</g>\n");
}

static void draw_boundaries(struct w *w, const struct layout *L)
{
	for (unsigned int i = 0; i < L->nb; i++) {
		const struct boundary *b = &L->b[i];
		out(w, "<line class=\"boundary\" data-addr=\"%s\" data-bits=\"%u\" x1=\"%s\" y1=\"%s\" "
		    "x2=\"%s\" y2=\"%s\" stroke=\"%s\" stroke-width=\"1.2\" stroke-dasharray=\"5,4\"/>\n",
		    H(b->addr).s, b->bits, N(b->x).s, N(L->mem_top - 3).s, N(b->x).s,
		    N(L->axis_y).s, COL_BOUNDARY);
		double ty = L->mem_top - 6.0 - (L->b_lanes - 1 - b->lane) * LANE_H;
		out(w, "<text class=\"boundary-label\" x=\"%s\" y=\"%s\" font-size=\"9\" "
		    "text-anchor=\"middle\" fill=\"%s\">%s (%u-bit)</text>\n",
		    N(b->cx).s, N(ty).s, COL_BOUNDARY, S(b->addr).s, b->bits);
	}
}

static void draw_axis(struct w *w, const struct layout *L)
{
	double y = L->axis_y;
	out(w, "<line class=\"axis\" x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"#333333\"/>\n",
	    N(PLOT_X0).s, N(y).s, N(PLOT_X1).s, N(y).s);
	for (unsigned int i = 0; i < L->nt; i++) {
		const struct tick *t = &L->t[i];
		uint64_t a = t->end && t->addr != UINT64_MAX ? t->addr + 1 : t->addr;
		out(w, "<line class=\"tick\" data-addr=\"%s\" x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" "
		    "stroke=\"#333333\"/>\n", H(a).s, N(t->x).s, N(y).s, N(t->x).s, N(y + 5).s);
		if (t->lane < 0)
			continue;
		char buf[96];
		tick_label(t, buf, sizeof(buf));
		double ty = y + 16.0 + t->lane * LANE_H;
		if (t->lane)
			out(w, "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"#bbbbbb\" "
			    "stroke-width=\"0.6\"/>\n", N(t->x).s, N(y + 5).s, N(t->x).s, N(ty - 9).s);
		out(w, "<text class=\"tick-label\" x=\"%s\" y=\"%s\" font-size=\"9\" "
		    "text-anchor=\"middle\">%s</text>\n", N(t->cx).s, N(ty).s, buf);
	}
}

static void draw_legend(struct w *w, const struct layout *L, double *bottom)
{
	static const struct {
		const char *label, *fill, *stroke, *extra;
	} item[] = {
		{ "RAM", "#dbe8f6", "#5b7fa6", "" },
		{ "hole (not to scale)", "url(#hatch)", "#999999", "" },
		{ "reserved", "#8d8d8d", "#555555", "" },
		{ "swiotlb pool", "#f4c430", "#9a7400", "" },
		{ "swiotlb pool (grown)", "#fae39a", "#9a7400", "" },
		{ "restricted pool", "#b48ad8", "#6b3fa0", "" },
		{ "reachable without bouncing", "#4a90d9", "#4a90d9",
		  " fill-opacity=\"0.22\" stroke-opacity=\"0.6\"" },
		{ "direct buffer", COL_DIRECT, COL_DIRECT, "" },
		{ "bounced buffer", COL_BOUNCED, COL_BOUNCED, "" },
		{ NULL, NULL, NULL, NULL },        /* the boundary line */
	};
	double x = LABEL_X, y = L->legend_y;
	out(w, "<g class=\"legend\">\n");
	for (size_t i = 0; i < sizeof(item) / sizeof(item[0]); i++) {
		const char *label = item[i].label ? item[i].label : "mask boundary (2^bits)";
		double wd = 20.0 + text_w(strlen(label), 11.0) + 18.0;
		if (x + wd > SVG_W - 8) {
			x = LABEL_X;
			y += 18.0;
		}
		if (item[i].label)
			out(w, "<rect class=\"legend-swatch\" x=\"%s\" y=\"%s\" width=\"14\" height=\"10\" "
			    "fill=\"%s\" stroke=\"%s\"%s/>\n",
			    N(x).s, N(y - 9).s, item[i].fill, item[i].stroke, item[i].extra);
		else
			out(w, "<line class=\"legend-swatch\" x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" "
			    "stroke=\"%s\" stroke-width=\"1.2\" stroke-dasharray=\"5,4\"/>\n",
			    N(x + 7).s, N(y - 11).s, N(x + 7).s, N(y + 3).s, COL_BOUNDARY);
		out(w, "<text x=\"%s\" y=\"%s\" font-size=\"11\">%s</text>\n", N(x + 20).s, N(y).s,
		    label);
		x += wd;
	}
	out(w, "</g>\n");
	*bottom = y + 14.0;
}

int rpt_svg_write(const struct rpt_report *r, FILE *f)
{
	/* Static storage would not be reentrant; ~30 KiB of stack is fine. */
	struct layout lay;
	struct layout *L = &lay;
	layout(r, L);
	struct w w = { f };

	/* The legend's height is known only once it wraps: measure it with
	 * a null writer first, so the root element can carry the height. */
	double bottom;
	struct w measure = { NULL };
	draw_legend(&measure, L, &bottom);
	L->height = dceil(bottom + 6.0);

	out(&w, "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n"
	    "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%s\" height=\"%s\" "
	    "viewBox=\"0 0 %s %s\" font-family=\"DejaVu Sans, Verdana, Arial, sans-serif\" "
	    "data-plot-x0=\"%s\" data-plot-x1=\"%s\">\n",
	    N(SVG_W).s, N(L->height).s, N(SVG_W).s, N(L->height).s, N(PLOT_X0).s, N(PLOT_X1).s);
	out(&w, "<title>dmamap: ");
	ESC(&w, r->scenario);
	out(&w, "</title>\n<desc>Physical address map of one dmamap scenario run: RAM, holes "
	    "(compressed), bounce pools, and per device its reachable windows and buffers.</desc>\n");
	out(&w, "<defs><pattern id=\"hatch\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" "
	    "patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"#ffffff\"/>"
	    "<line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#b5b5b5\" stroke-width=\"2\"/>"
	    "</pattern><pattern id=\"hatch-faint\" width=\"6\" height=\"6\" "
	    "patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\">"
	    "<line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#e2e2e2\" stroke-width=\"2\"/>"
	    "</pattern></defs>\n");
	out(&w, "<rect x=\"0\" y=\"0\" width=\"%s\" height=\"%s\" fill=\"#ffffff\"/>\n",
	    N(SVG_W).s, N(L->height).s);

	draw_header(&w, r, L);

	/* Alternate row stripes first: everything else lies over them. */
	for (unsigned int i = 0; i < r->ndevices; i += 2)
		out(&w, "<rect class=\"stripe\" x=\"4\" y=\"%s\" width=\"%s\" height=\"%s\" "
		    "fill=\"#f3f5f8\"/>\n", N(L->dev_top + i * ROW_H).s, N(SVG_W - 8).s, N(ROW_H).s);

	/* Faint guides through the device rows: piece edges, and holes
	 * hatched the whole way down so a band crossing one reads as such. */
	for (unsigned int i = 0; i < L->m.n; i++) {
		const struct piece *p = &L->m.p[i];
		if (p->hole && r->ndevices)
			out(&w, "<rect class=\"hole-bg\" x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\" "
			    "fill=\"url(#hatch-faint)\"/>\n", N(p->x).s, N(L->dev_top).s, N(p->w).s,
			    N(r->ndevices * ROW_H).s);
	}
	draw_memory(&w, r, L);
	for (unsigned int i = 0; i < r->ndevices && r->devices; i++)
		draw_device(&w, &r->devices[i], i, L);
	for (unsigned int i = 0; i < L->m.n; i++)
		out(&w, "<line class=\"grid\" x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" "
		    "stroke=\"#c8c8c8\" stroke-width=\"0.6\"/>\n", N(L->m.p[i].x).s,
		    N(L->mem_top + MEM_H).s, N(L->m.p[i].x).s, N(L->axis_y).s);
	draw_boundaries(&w, L);
	draw_axis(&w, L);
	draw_legend(&w, L, &bottom);
	out(&w, "</svg>\n");
	if (fflush(f) || ferror(f))
		return -EIO;
	return 0;
}

int rpt_svg_write_file(const struct rpt_report *r, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "w");
	if (!f) {
		int e = errno ? errno : EIO;
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		return -e;
	}
	errno = 0;
	int rc = rpt_svg_write(r, f);
	/* The stream's errno names the failure (ENOSPC, EIO, ...). */
	int e = rc ? (errno ? errno : EIO) : 0;
	if (fclose(f) && !e)
		e = errno ? errno : EIO;
	if (e) {
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		return -e;
	}
	return 0;
}
