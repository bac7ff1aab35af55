/*
 * sim/dt.c - the device-tree loader: flattened trees as firmware facts.
 *
 * Owns: reading .dtb files (and compiling .dts files by running dtc, no
 * shell), validating the blob with libfdt, decoding reg / dma-ranges with
 * each parent's #address-cells / #size-cells, composing a device's
 * dma-ranges windows up to the root the way Linux's of_dma_get_range and
 * of_translate_dma_address do (intersecting windows across nested buses),
 * coherency as of_dma_is_coherent, iommus / iommu-map links, reserved
 * memory and memory-region references, /chosen bootargs, the Xen
 * /hypervisor node, the explain listing, and turning a tree into
 * sim_machine_desc / sim_device_desc.
 *
 * Must never touch: DMA policy (whether a device bounces, which backend it
 * gets, what the bootargs mean) and anything in src/.  A disabled IOMMU is
 * reported as such; what that implies is the library's business.
 *
 * Errors: one line, "<file>: <node path>: <what is wrong>"; malformed input
 * never crashes (the blob is checked with fdt_check_full first, every
 * property length is checked before it is read).
 */
#include "dt.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libfdt.h>

extern char **environ;

#define DT_MAX_BLOB (64u << 20)
#define DT_MAX_DEPTH 64

struct dt_node {
	int off;
	int parent; /* index, -1 for the root */
	int depth;
};

struct dt_ctx {
	const void *fdt;
	const char *file;
	char *err;
	size_t errlen;
	struct dt_node *nodes;
	int nnodes;
	struct sim_dt *dt;
};

/* ---- helpers ---------------------------------------------------------------- */

static int node_index(const struct dt_ctx *c, int off);

/*
 * A node's path from the collected parent links: O(depth), where
 * fdt_get_path walks the blob from the root on every call (a tree of
 * 20 000 nodes took 29 s).  Before the nodes are collected: libfdt's.
 */
static void node_path(const struct dt_ctx *c, int off, char *buf, size_t len)
{
	int i = off >= 0 && c->nnodes ? node_index(c, off) : -1;
	int chain[DT_MAX_DEPTH + 1], n = 0;
	size_t at = 0;

	if (i < 0) {
		if (off < 0 || fdt_get_path(c->fdt, off, buf, (int)len) != 0)
			snprintf(buf, len, "/");
		return;
	}
	for (; i > 0 && n <= DT_MAX_DEPTH; i = c->nodes[i].parent)
		chain[n++] = i;
	buf[0] = '\0';
	if (n == 0)
		snprintf(buf, len, "/");
	while (n-- > 0 && at < len) {
		const char *name = fdt_get_name(c->fdt, c->nodes[chain[n]].off, NULL);
		int w = snprintf(buf + at, len - at, "/%s", name ? name : "?");
		if (w < 0)
			break;
		at += (size_t)w;
	}
}

/*
 * Error messages are one line: names and strings from a tree may hold
 * control characters (a newline in a node name: found by fuzz_dt), shown
 * as '?'.
 */
static void one_line(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

/*
 * Walks the structure block's tags once, requiring every step to move
 * forward.  libfdt 1.6.1's fdt_check_full loops forever on some blobs
 * whose tag offsets wrap (found by fuzz_dt), so this runs first.
 */
static int dt_tags_advance(const void *fdt)
{
	int off = 0, next = 0;
	for (;;) {
		uint32_t tag = fdt_next_tag(fdt, off, &next);
		if (next < 0)
			return next;
		if (next <= off && tag != FDT_END)
			return -FDT_ERR_BADSTRUCTURE;
		if (tag == FDT_END)
			return 0;
		off = next;
	}
}

static int dt_fail(struct dt_ctx *c, int off, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int dt_fail(struct dt_ctx *c, int off, int rc, const char *fmt, ...)
{
	char path[512], what[512];
	va_list ap;

	node_path(c, off, path, sizeof(path));
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (c->err && c->errlen) {
		snprintf(c->err, c->errlen, "%s: %s: %s", c->file, path, what);
		one_line(c->err);
	}
	return rc;
}

static char *xstrdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

static int node_index(const struct dt_ctx *c, int off)
{
	int lo = 0, hi = c->nnodes - 1;

	while (lo <= hi) {
		int mid = (lo + hi) / 2;

		if (c->nodes[mid].off == off)
			return mid;
		if (c->nodes[mid].off < off)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

static int parent_off(const struct dt_ctx *c, int off)
{
	int i = node_index(c, off);

	if (i < 0 || c->nodes[i].parent < 0)
		return -1;
	return c->nodes[c->nodes[i].parent].off;
}

static bool has_prop(const struct dt_ctx *c, int off, const char *name)
{
	return fdt_getprop(c->fdt, off, name, NULL) != NULL;
}

/* A string property, NUL-terminated inside its length; NULL otherwise. */
static const char *str_prop(const struct dt_ctx *c, int off, const char *name)
{
	int len;
	const char *s = fdt_getprop(c->fdt, off, name, &len);

	if (!s || len <= 0 || memchr(s, '\0', (size_t)len) == NULL)
		return NULL;
	return s;
}

static bool node_available(const struct dt_ctx *c, int off)
{
	int len;
	const char *s = fdt_getprop(c->fdt, off, "status", &len);

	if (!s)
		return true;
	if (len <= 0 || memchr(s, '\0', (size_t)len) == NULL)
		return false;
	return strcmp(s, "okay") == 0 || strcmp(s, "ok") == 0;
}

static bool is_pci_bus(const struct dt_ctx *c, int off)
{
	const char *t = off >= 0 ? str_prop(c, off, "device_type") : NULL;

	return t && (strcmp(t, "pci") == 0 || strcmp(t, "pciex") == 0);
}

/* #address-cells / #size-cells of a node (what its children use). */
static int cells(struct dt_ctx *c, int off, const char *name, uint32_t dflt,
		 uint32_t *out)
{
	int len;
	const fdt32_t *p = fdt_getprop(c->fdt, off, name, &len);

	if (!p) {
		*out = dflt;
		return 0;
	}
	if (len != 4)
		return dt_fail(c, off, -EINVAL, "%s is %d bytes, not one cell",
			       name, len);
	*out = fdt32_to_cpu(*p);
	return 0;
}

/*
 * Address cells for decoding a child address of bus `off`: 1 or 2, or 3 on
 * a PCI bus (the first, phys.hi, holds flags and is skipped).
 */
static int addr_cells(struct dt_ctx *c, int off, uint32_t *na)
{
	int rc = cells(c, off, "#address-cells", 2, na);

	if (rc)
		return rc;
	if (*na == 1 || *na == 2 || (*na == 3 && is_pci_bus(c, off)))
		return 0;
	return dt_fail(c, off, -EINVAL,
		       "#address-cells = %" PRIu32 " not supported (1 or 2%s)",
		       *na, is_pci_bus(c, off) ? ", 3 on PCI" : "");
}

static int size_cells(struct dt_ctx *c, int off, uint32_t *ns, bool zero_ok)
{
	int rc = cells(c, off, "#size-cells", 1, ns);

	if (rc)
		return rc;
	if (*ns == 1 || *ns == 2 || (zero_ok && *ns == 0))
		return 0;
	return dt_fail(c, off, -EINVAL,
		       "#size-cells = %" PRIu32 " not supported (1 or 2)", *ns);
}

/* A number of n cells (n <= 3: a 3-cell PCI address keeps its low 64 bits). */
static uint64_t rd(const fdt32_t *p, uint32_t n)
{
	uint64_t v = 0;

	if (n == 3) {
		p++;
		n = 2;
	}
	for (uint32_t i = 0; i < n; i++)
		v = (v << 32) | fdt32_to_cpu(p[i]);
	return v;
}

/* ---- collecting the node list ------------------------------------------------ */

static int collect_nodes(struct dt_ctx *c)
{
	int stack[DT_MAX_DEPTH + 1];
	int cap = 64, depth = 0, off = 0;

	c->nodes = malloc(sizeof(*c->nodes) * (size_t)cap);
	if (!c->nodes)
		return -ENOMEM;
	for (off = 0; off >= 0; off = fdt_next_node(c->fdt, off, &depth)) {
		if (depth < 0) /* past the root's end */
			return 0;
		if (depth > DT_MAX_DEPTH)
			return dt_fail(c, -1, -EINVAL, "node nesting too deep");
		if (c->nnodes == cap) {
			struct dt_node *n;

			cap *= 2;
			n = realloc(c->nodes, sizeof(*n) * (size_t)cap);
			if (!n)
				return -ENOMEM;
			c->nodes = n;
		}
		stack[depth] = c->nnodes;
		c->nodes[c->nnodes].off = off;
		c->nodes[c->nnodes].depth = depth;
		c->nodes[c->nnodes].parent = depth ? stack[depth - 1] : -1;
		c->nnodes++;
	}
	if (off != -FDT_ERR_NOTFOUND)
		return dt_fail(c, -1, -EINVAL, "malformed structure: %s",
			       fdt_strerror(off));
	return 0;
}

/* ---- validation of reg and dma-ranges ----------------------------------------- */

static int check_reg(struct dt_ctx *c, int off)
{
	int par = parent_off(c, off), len, rc;
	uint32_t na = 0, ns = 0;

	if (par < 0 || !fdt_getprop(c->fdt, off, "reg", &len))
		return 0;
	rc = cells(c, par, "#address-cells", 2, &na);
	if (rc)
		return rc;
	if (na == 0 && len == 0)
		return 0;
	if (!(na == 1 || na == 2 || (na == 3 && is_pci_bus(c, par))))
		return dt_fail(c, off, -EINVAL,
			       "reg: parent #address-cells = %" PRIu32
			       " not supported (1 or 2)", na);
	rc = size_cells(c, par, &ns, true);
	if (rc)
		return rc;
	if (len % (int)((na + ns) * 4))
		return dt_fail(c, off, -EINVAL,
			       "reg is %d bytes, not a multiple of %" PRIu32
			       " cells", len, na + ns);
	return 0;
}

struct win {
	uint64_t dma, cpu, last; /* last: inclusive offset, size - 1 */
};

/*
 * The dma-ranges of bus `off` decoded: child (bus) address -> address in
 * the bus's parent's space.  *n = 0 for an empty property.
 */
static int read_dma_ranges(struct dt_ctx *c, int off, struct win *w,
			   unsigned int max, unsigned int *n)
{
	int len, rc, par = parent_off(c, off);
	uint32_t na, pna, ns, ent;
	const fdt32_t *p = fdt_getprop(c->fdt, off, "dma-ranges", &len);

	*n = 0;
	if (!p || len == 0)
		return 0;
	rc = addr_cells(c, off, &na);
	if (!rc)
		rc = addr_cells(c, par >= 0 ? par : off, &pna);
	if (!rc)
		rc = size_cells(c, off, &ns, false);
	if (rc)
		return rc;
	ent = na + pna + ns;
	if (len < 0 || len % (int)(ent * 4))
		return dt_fail(c, off, -EINVAL,
			       "dma-ranges is %d bytes, not a multiple of %" PRIu32
			       " cells", len, ent);
	for (int i = 0; i < len / (int)(ent * 4); i++) {
		const fdt32_t *e = p + (size_t)i * ent;
		uint64_t size = rd(e + na + pna, ns);

		if (size == 0)
			continue;
		if (*n == max)
			return dt_fail(c, off, -EINVAL,
				       "more than %u dma-ranges entries", max);
		w[*n].dma = rd(e, na);
		w[*n].cpu = rd(e + na, pna);
		w[*n].last = size - 1;
		if (w[*n].dma + w[*n].last < w[*n].dma ||
		    w[*n].cpu + w[*n].last < w[*n].cpu)
			return dt_fail(c, off, -EINVAL,
				       "dma-ranges entry %d wraps past 2^64", i);
		(*n)++;
	}
	return 0;
}

/* ---- memory, reserved-memory, chosen, hypervisor ----------------------------------- */

static int cmp_ram(const void *a, const void *b)
{
	const struct sim_ram_range *x = a, *y = b;

	return x->base < y->base ? -1 : x->base > y->base;
}

static int add_ram(struct dt_ctx *c, int off, uint64_t base, uint64_t size)
{
	struct sim_dt *dt = c->dt;
	struct sim_ram_range *r;

	if (size == 0)
		return 0;
	if (base + (size - 1) < base)
		return dt_fail(c, off, -EINVAL, "reg range wraps past 2^64");
	r = realloc(dt->ram, sizeof(*r) * (dt->nram + 1));
	if (!r)
		return -ENOMEM;
	dt->ram = r;
	r[dt->nram].base = base;
	r[dt->nram].size = size;
	dt->nram++;
	return 0;
}

static int parse_memory(struct dt_ctx *c)
{
	uint32_t na, ns;
	int rc = addr_cells(c, 0, &na);

	if (!rc)
		rc = size_cells(c, 0, &ns, false);
	if (rc)
		return rc;
	for (int i = 1; i < c->nnodes; i++) {
		int off = c->nodes[i].off, len;
		const char *name = fdt_get_name(c->fdt, off, NULL);
		const char *type = str_prop(c, off, "device_type");
		const fdt32_t *p;

		if (c->nodes[i].depth != 1 || !name ||
		    strncmp(name, "memory", 6) != 0 ||
		    (name[6] != '\0' && name[6] != '@'))
			continue;
		if ((type && strcmp(type, "memory") != 0) ||
		    !node_available(c, off))
			continue;
		p = fdt_getprop(c->fdt, off, "reg", &len);
		if (!p)
			return dt_fail(c, off, -EINVAL, "memory node has no reg");
		for (int k = 0; k < len / (int)((na + ns) * 4); k++) {
			const fdt32_t *e = p + (size_t)k * (na + ns);

			rc = add_ram(c, off, rd(e, na), rd(e + na, ns));
			if (rc)
				return rc;
		}
	}
	if (c->dt->nram == 0)
		return 0;
	qsort(c->dt->ram, c->dt->nram, sizeof(*c->dt->ram), cmp_ram);
	unsigned int o = 0;
	for (unsigned int i = 1; i < c->dt->nram; i++) {
		struct sim_ram_range *a = &c->dt->ram[o], *b = &c->dt->ram[i];
		uint64_t alast = a->base + a->size - 1;

		if (b->base <= alast + 1 && alast != UINT64_MAX) {
			uint64_t blast = b->base + b->size - 1;

			if (blast > alast)
				a->size = blast - a->base + 1;
		} else {
			c->dt->ram[++o] = *b;
		}
	}
	c->dt->nram = o + 1;
	return 0;
}

static int parse_reserved(struct dt_ctx *c)
{
	int rm = fdt_path_offset(c->fdt, "/reserved-memory"), rc, child;
	uint32_t na, ns;

	if (rm < 0)
		return 0;
	rc = addr_cells(c, rm, &na);
	if (!rc)
		rc = size_cells(c, rm, &ns, false);
	if (rc)
		return rc;
	fdt_for_each_subnode(child, c->fdt, rm) {
		struct sim_dt *dt = c->dt;
		struct sim_dt_rmem *r;
		const fdt32_t *p;
		int len;
		char path[512];

		if (!node_available(c, child))
			continue;
		r = realloc(dt->rmem, sizeof(*r) * (dt->nrmem + 1));
		if (!r)
			return -ENOMEM;
		dt->rmem = r;
		r = &dt->rmem[dt->nrmem];
		memset(r, 0, sizeof(*r));
		node_path(c, child, path, sizeof(path));
		r->path = strdup(path);
		r->name = xstrdup(fdt_get_name(c->fdt, child, NULL));
		dt->nrmem++;
		if (!r->path || !r->name)
			return -ENOMEM;
		p = fdt_getprop(c->fdt, child, "reg", &len);
		if (p) {
			if (len < (int)((na + ns) * 4))
				return dt_fail(c, child, -EINVAL,
					       "reg is %d bytes, needs %" PRIu32
					       " cells", len, na + ns);
			r->base = rd(p, na);
			r->size = rd(p + na, ns);
		} else {
			p = fdt_getprop(c->fdt, child, "size", &len);
			if (!p || len != (int)(ns * 4))
				return dt_fail(c, child, -EINVAL,
					       "reserved region has neither reg nor a %" PRIu32
					       "-cell size", ns);
			r->size = rd(p, ns);
			r->dynamic = true;
		}
		if (r->size == 0 || r->base + (r->size - 1) < r->base)
			return dt_fail(c, child, -EINVAL,
				       "reserved region size 0x%" PRIx64
				       " is empty or wraps", r->size);
		if (fdt_node_check_compatible(c->fdt, child,
					      "restricted-dma-pool") == 0)
			r->kind = SIM_DT_RMEM_RESTRICTED;
		else if (fdt_node_check_compatible(c->fdt, child,
						   "shared-dma-pool") == 0)
			r->kind = SIM_DT_RMEM_SHARED;
		r->no_map = has_prop(c, child, "no-map");
		r->reusable = has_prop(c, child, "reusable");
		r->phandle = fdt_get_phandle(c->fdt, child);
	}
	return 0;
}

static int parse_misc(struct dt_ctx *c)
{
	int off = fdt_path_offset(c->fdt, "/chosen"), cpus, child;
	const char *s;

	if (off >= 0 && has_prop(c, off, "bootargs")) {
		s = str_prop(c, off, "bootargs");
		if (!s)
			return dt_fail(c, off, -EINVAL,
				       "bootargs is not a string");
		c->dt->bootargs = strdup(s);
		if (!c->dt->bootargs)
			return -ENOMEM;
	}
	off = fdt_path_offset(c->fdt, "/hypervisor");
	if (off >= 0 && fdt_node_check_compatible(c->fdt, off, "xen,xen") == 0)
		c->dt->xen = true;
	s = str_prop(c, 0, "compatible");
	if (s) {
		c->dt->root_compatible = strdup(s);
		if (!c->dt->root_compatible)
			return -ENOMEM;
	}
	cpus = fdt_path_offset(c->fdt, "/cpus");
	if (cpus >= 0) {
		fdt_for_each_subnode(child, c->fdt, cpus) {
			const char *t = str_prop(c, child, "device_type");

			if (t && strcmp(t, "cpu") == 0 &&
			    node_available(c, child))
				c->dt->ncpus++;
		}
	}
	return 0;
}

/* ---- devices ----------------------------------------------------------------------- */

static bool ancestors_available(const struct dt_ctx *c, int idx)
{
	for (; idx >= 0; idx = c->nodes[idx].parent)
		if (!node_available(c, c->nodes[idx].off))
			return false;
	return true;
}

static bool under_dma_ranges(const struct dt_ctx *c, int idx)
{
	for (int p = c->nodes[idx].parent; p >= 0; p = c->nodes[p].parent)
		if (has_prop(c, c->nodes[p].off, "dma-ranges"))
			return true;
	return false;
}

static bool is_candidate(struct dt_ctx *c, int idx)
{
	int off = c->nodes[idx].off;

	if (idx == 0)
		return false;
	if (is_pci_bus(c, off) || has_prop(c, off, "iommus") ||
	    has_prop(c, off, "memory-region"))
		return true;
	/* A bus node (dma-coherent on it is for its children) is no master. */
	if (has_prop(c, off, "ranges") || has_prop(c, off, "dma-ranges"))
		return false;
	return has_prop(c, off, "dma-coherent") || under_dma_ranges(c, idx);
}

/*
 * Windows of the device at `off`, as Linux: from the parent bus (a PCI host
 * bridge: from itself), skip buses
 * with an empty dma-ranges; stop (identity) at one without dma-ranges; the
 * first non-empty dma-ranges gives the windows, whose parent addresses are
 * then translated through every further ancestor's dma-ranges below the
 * root (absent or empty: 1:1), keeping only the parts every level passes.
 */
static int compose_windows(struct dt_ctx *c, int off, struct sim_dt_device *d)
{
	struct win w[DMAMAP_MAX_DMA_RANGES], pw[DMAMAP_MAX_DMA_RANGES];
	struct win out[DMAMAP_MAX_DMA_RANGES];
	unsigned int n = 0, np, no;
	/*
	 * A PCI host bridge stands for the devices behind it, which Linux
	 * configures from the bridge node itself (pci_dma_configure).
	 */
	int bus = is_pci_bus(c, off) ? off : parent_off(c, off), rc;

	while (bus >= 0) {
		int len;

		if (!fdt_getprop(c->fdt, bus, "dma-ranges", &len))
			return 0; /* identity */
		if (len > 0)
			break;
		bus = parent_off(c, bus);
	}
	if (bus < 0)
		return 0;
	rc = read_dma_ranges(c, bus, w, DMAMAP_MAX_DMA_RANGES, &n);
	if (rc)
		return rc;
	for (int cur = parent_off(c, bus); cur > 0; cur = parent_off(c, cur)) {
		rc = read_dma_ranges(c, cur, pw, DMAMAP_MAX_DMA_RANGES, &np);
		if (rc)
			return rc;
		if (np == 0)
			continue; /* 1:1 */
		no = 0;
		for (unsigned int i = 0; i < n; i++) {
			for (unsigned int k = 0; k < np; k++) {
				uint64_t lo = w[i].cpu > pw[k].dma ? w[i].cpu : pw[k].dma;
				uint64_t wl = w[i].cpu + w[i].last;
				uint64_t pl = pw[k].dma + pw[k].last;
				uint64_t hi = wl < pl ? wl : pl;

				if (lo > hi)
					continue;
				if (no == DMAMAP_MAX_DMA_RANGES)
					return dt_fail(c, off, -EINVAL,
						       "more than %d composed dma-ranges windows",
						       DMAMAP_MAX_DMA_RANGES);
				out[no].dma = w[i].dma + (lo - w[i].cpu);
				out[no].cpu = pw[k].cpu + (lo - pw[k].dma);
				out[no].last = hi - lo;
				no++;
			}
		}
		if (no == 0)
			return dt_fail(c, bus, -EINVAL,
				       "no dma-ranges window reaches the root through %s",
				       fdt_get_name(c->fdt, cur, NULL));
		memcpy(w, out, sizeof(out[0]) * no);
		n = no;
	}
	for (unsigned int i = 0; i < n; i++) {
		uint64_t last = w[i].dma + w[i].last;

		if (w[i].last == UINT64_MAX)
			return dt_fail(c, bus, -EINVAL,
				       "a dma-ranges window of 2^64 bytes");
		d->ranges[i].cpu = w[i].cpu;
		d->ranges[i].dma = w[i].dma;
		d->ranges[i].size = w[i].last + 1;
		if (last > d->bus_dma_limit)
			d->bus_dma_limit = last;
	}
	d->nranges = n;
	return 0;
}

static bool coherent(const struct dt_ctx *c, int idx)
{
	for (; idx >= 0; idx = c->nodes[idx].parent) {
		if (has_prop(c, c->nodes[idx].off, "dma-coherent"))
			return true;
		if (has_prop(c, c->nodes[idx].off, "dma-noncoherent"))
			return false;
	}
	return false;
}

static int resolve(struct dt_ctx *c, int off, const char *prop, uint32_t ph,
		   int *target, char **path)
{
	char buf[512];

	*target = fdt_node_offset_by_phandle(c->fdt, ph);
	if (*target < 0)
		return dt_fail(c, off, -EINVAL,
			       "%s references missing phandle 0x%" PRIx32, prop,
			       ph);
	if (path) {
		node_path(c, *target, buf, sizeof(buf));
		*path = strdup(buf);
		if (!*path)
			return -ENOMEM;
	}
	return 0;
}

static int parse_iommus(struct dt_ctx *c, int off, struct sim_dt_device *d)
{
	int len, tgt, rc;
	uint32_t ncells = 0;
	const fdt32_t *p = fdt_getprop(c->fdt, off, "iommus", &len);

	if (p) {
		if (len < 4)
			return dt_fail(c, off, -EINVAL, "iommus is empty");
		d->has_iommu = true;
		d->iommu_phandle = fdt32_to_cpu(p[0]);
		rc = resolve(c, off, "iommus", d->iommu_phandle, &tgt,
			     &d->iommu_path);
		if (rc)
			return rc;
		rc = cells(c, tgt, "#iommu-cells", 0, &ncells);
		if (rc)
			return rc;
		if (!has_prop(c, tgt, "#iommu-cells"))
			return dt_fail(c, off, -EINVAL,
				       "iommus target %s has no #iommu-cells",
				       d->iommu_path);
		if (ncells > SIM_DT_MAX_IOMMU_CELLS ||
		    len < (int)((1 + ncells) * 4))
			return dt_fail(c, off, -EINVAL,
				       "iommus: %d bytes for #iommu-cells = %" PRIu32,
				       len, ncells);
		for (uint32_t i = 0; i < ncells; i++)
			d->iommu_cells[i] = fdt32_to_cpu(p[1 + i]);
		d->iommu_ncells = ncells;
		d->iommu_enabled = node_available(c, tgt);
	}
	p = fdt_getprop(c->fdt, off, "iommu-map", &len);
	if (p) {
		if (len <= 0 || len % 16)
			return dt_fail(c, off, -EINVAL,
				       "iommu-map is %d bytes, not a multiple of 4 cells",
				       len);
		if (len / 16 > SIM_DT_MAX_IOMMU_MAP)
			return dt_fail(c, off, -EINVAL,
				       "more than %d iommu-map entries",
				       SIM_DT_MAX_IOMMU_MAP);
		for (int i = 0; i < len / 16; i++) {
			struct sim_dt_iommu_map *m = &d->iommu_map[i];

			m->rid_base = fdt32_to_cpu(p[4 * i]);
			m->iommu_phandle = fdt32_to_cpu(p[4 * i + 1]);
			m->iommu_base = fdt32_to_cpu(p[4 * i + 2]);
			m->length = fdt32_to_cpu(p[4 * i + 3]);
			d->niommu_map++;
			rc = resolve(c, off, "iommu-map", m->iommu_phandle,
				     &tgt, &m->iommu_path);
			if (rc)
				return rc;
			m->iommu_enabled = node_available(c, tgt);
		}
	}
	return 0;
}

static int parse_regions(struct dt_ctx *c, int off, struct sim_dt_device *d)
{
	int len, tgt, rc;
	const fdt32_t *p = fdt_getprop(c->fdt, off, "memory-region", &len);

	d->restricted_pool = -1;
	d->shared_pool = -1;
	if (!p)
		return 0;
	if (len <= 0 || len % 4)
		return dt_fail(c, off, -EINVAL,
			       "memory-region is %d bytes, not phandles", len);
	for (int i = 0; i < len / 4; i++) {
		uint32_t ph = fdt32_to_cpu(p[i]);

		rc = resolve(c, off, "memory-region", ph, &tgt, NULL);
		if (rc)
			return rc;
		for (unsigned int k = 0; k < c->dt->nrmem; k++) {
			const struct sim_dt_rmem *r = &c->dt->rmem[k];

			if (r->phandle != ph)
				continue;
			if (r->kind == SIM_DT_RMEM_RESTRICTED &&
			    d->restricted_pool < 0)
				d->restricted_pool = (int)k;
			if (r->kind == SIM_DT_RMEM_SHARED && d->shared_pool < 0)
				d->shared_pool = (int)k;
		}
	}
	return 0;
}

static int parse_devices(struct dt_ctx *c)
{
	for (int i = 1; i < c->nnodes; i++) {
		int off = c->nodes[i].off, rc;
		struct sim_dt *dt = c->dt;
		struct sim_dt_device *d;
		char path[512];

		if (!is_candidate(c, i) || !ancestors_available(c, i))
			continue;
		/* Capacity doubles (at 0, 16, 32, ...): one realloc per device
		 * copied the array each time under ASan, quadratic in devices. */
		unsigned int nd = dt->ndevices;
		if (nd == 0 || (nd >= 16 && !(nd & (nd - 1)))) {
			d = realloc(dt->devices, sizeof(*d) * (nd ? 2 * (size_t)nd : 16));
			if (!d)
				return -ENOMEM;
			dt->devices = d;
		}
		d = &dt->devices[dt->ndevices++];
		memset(d, 0, sizeof(*d));
		d->restricted_pool = -1;
		d->shared_pool = -1;
		node_path(c, off, path, sizeof(path));
		d->path = strdup(path);
		if (!d->path)
			return -ENOMEM;
		d->is_pci = is_pci_bus(c, off);
		for (int p = c->nodes[i].parent; p >= 0; p = c->nodes[p].parent)
			if (is_pci_bus(c, c->nodes[p].off))
				d->is_pci = true;
		d->coherent = coherent(c, i);
		rc = compose_windows(c, off, d);
		if (!rc)
			rc = parse_iommus(c, off, d);
		if (!rc)
			rc = parse_regions(c, off, d);
		if (rc)
			return rc;
	}
	return 0;
}

/* ---- loading ---------------------------------------------------------------------- */

static bool ends_with(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);

	return a >= b && strcmp(s + a - b, suf) == 0;
}

static void seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	one_line(err);
}

/* dtc's first "Error: ..." line (or its first line), made one line. */
static void dtc_message(const char *file, const char *msg, char *err,
			size_t errlen)
{
	const char *line = strstr(msg, "Error: ");
	size_t n;

	if (line)
		line += strlen("Error: ");
	else
		line = msg;
	n = strcspn(line, "\n");
	while (n && (line[n - 1] == '\r' || line[n - 1] == ' '))
		n--;
	if (n == 0)
		seterr(err, errlen, "%s: /: dtc failed", file);
	else if (strncmp(line, file, strlen(file)) == 0)
		seterr(err, errlen, "%.*s", (int)n, line);
	else
		seterr(err, errlen, "%s: /: dtc: %.*s", file, (int)n, line);
}

/*
 * How long dtc may take (DMAMAP_DTC_TIMEOUT seconds in the environment,
 * default 60): a tree that takes longer is refused, and dtc killed.
 */
static int dtc_timeout_ms(void)
{
	const char *s = getenv("DMAMAP_DTC_TIMEOUT");
	char *end;
	long v = s ? strtol(s, &end, 10) : 0;

	return s && *s && !*end && v > 0 && v <= 3600 ? (int)v * 1000 : 60 * 1000;
}

static long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/*
 * Compiles path with dtc, the blob coming back through a pipe (no
 * temporary file, so nothing is left behind whatever way this process
 * ends), within dtc_timeout_ms and DT_MAX_BLOB bytes.
 */
static int run_dtc(const char *path, void **blob, size_t *size, char *err, size_t errlen)
{
	posix_spawn_file_actions_t fa;
	int epfd[2], opfd[2], rc, status, limit = dtc_timeout_ms();
	pid_t pid;
	char msg[4096];
	size_t got = 0, cap = 1 << 16, n = 0;
	char *out = malloc(cap);
	char *argv[] = { "dtc", "-q", "-I", "dts", "-O", "dtb", (char *)path, NULL };
	const char *why = NULL;
	long deadline = now_ms() + limit;

	if (!out)
		return -ENOMEM;
	if (pipe2(epfd, O_CLOEXEC) != 0) {
		free(out);
		seterr(err, errlen, "%s: /: pipe: %s", path, strerror(errno));
		return -errno;
	}
	if (pipe2(opfd, O_CLOEXEC) != 0) {
		rc = errno;
		close(epfd[0]);
		close(epfd[1]);
		free(out);
		seterr(err, errlen, "%s: /: pipe: %s", path, strerror(rc));
		return -rc;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, epfd[1], 2);
	posix_spawn_file_actions_adddup2(&fa, opfd[1], 1);
	rc = posix_spawnp(&pid, "dtc", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(epfd[1]);
	close(opfd[1]);
	if (rc != 0) {
		close(epfd[0]);
		close(opfd[0]);
		free(out);
		seterr(err, errlen, "%s: /: cannot run dtc: %s", path,
		       strerror(rc));
		return -rc;
	}
	struct pollfd pf[2] = { { opfd[0], POLLIN, 0 }, { epfd[0], POLLIN, 0 } };
	while (pf[0].fd >= 0 || pf[1].fd >= 0) {
		long left = deadline - now_ms();

		if (left <= 0) {
			why = "time";
			break;
		}
		int r = poll(pf, 2, (int)left);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			why = "poll";
			break;
		}
		for (int k = 0; k < 2; k++) {
			char sink[4096];
			ssize_t m;

			if (pf[k].fd < 0 || !pf[k].revents)
				continue;
			if (k == 0) {
				if (n == cap && cap < DT_MAX_BLOB + 1) {
					char *bigger = realloc(out, cap * 2);

					if (!bigger) {
						why = "memory";
						break;
					}
					out = bigger;
					cap *= 2;
				}
				m = n < cap ? read(pf[k].fd, out + n, cap - n) : -1;
				if (n == cap) {
					why = "size";
					break;
				}
			} else {
				m = read(pf[k].fd, got < sizeof(msg) - 1 ? msg + got : sink,
					 got < sizeof(msg) - 1 ? sizeof(msg) - 1 - got : sizeof(sink));
			}
			if (m < 0 && errno == EINTR)
				continue;
			if (m <= 0) {
				close(pf[k].fd);
				pf[k].fd = -1;
			} else if (k == 0) {
				n += (size_t)m;
			} else if (got < sizeof(msg) - 1) {
				got += (size_t)m;
			}
		}
		if (why)
			break;
	}
	msg[got] = '\0';
	for (int k = 0; k < 2; k++)
		if (pf[k].fd >= 0)
			close(pf[k].fd);
	if (why)
		kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			free(out);
			seterr(err, errlen, "%s: /: waitpid: %s", path,
			       strerror(errno));
			return -ECHILD;
		}
	}
	if (why) {
		free(out);
		if (!strcmp(why, "time"))
			seterr(err, errlen, "%s: /: dtc did not finish within %d s (stopped; "
			       "DMAMAP_DTC_TIMEOUT sets the limit)", path, limit / 1000);
		else if (!strcmp(why, "size"))
			seterr(err, errlen, "%s: /: dtc's blob is larger than %u bytes",
			       path, DT_MAX_BLOB);
		else
			seterr(err, errlen, "%s: /: reading dtc's output: %s", path,
			       !strcmp(why, "memory") ? "out of memory" : strerror(errno));
		return !strcmp(why, "memory") ? -ENOMEM : -EINVAL;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		*blob = out;
		*size = n;
		return 0;
	}
	free(out);
	dtc_message(path, msg, err, errlen);
	return -EINVAL;
}

/*
 * What a path names must be a regular file: a FIFO would block the
 * reader (or dtc) forever, a device could be endless, a directory is no
 * tree.  Refused at once, before anything opens it.
 */
static int regular_file(const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (stat(path, &st) != 0) {
		int e = errno;

		seterr(err, errlen, "%s: cannot open: %s", path, strerror(e));
		return -e;
	}
	if (S_ISREG(st.st_mode))
		return 0;
	seterr(err, errlen, "%s: not a regular file (%s)", path,
	       S_ISDIR(st.st_mode) ? "a directory" : S_ISFIFO(st.st_mode) ? "a FIFO"
	       : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "a device" : "a socket or other");
	return -EINVAL;
}

static int read_blob(const char *path, const char *shown, void **blob,
		     size_t *size, char *err, size_t errlen)
{
	/* O_NONBLOCK: never wait on a FIFO swapped in after the check. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK), e;
	struct stat st;
	char *buf;
	size_t got = 0;

	if (fd < 0) {
		e = errno;
		seterr(err, errlen, "%s: cannot open: %s", shown,
		       strerror(e));
		return -e;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > (off_t)DT_MAX_BLOB) {
		close(fd);
		seterr(err, errlen, "%s: /: not a regular file of at most %u bytes",
		       shown, DT_MAX_BLOB);
		return -EINVAL;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	*blob = buf;
	*size = got;
	return 0;
}

void sim_dt_free(struct sim_dt *dt)
{
	if (!dt)
		return;
	for (unsigned int i = 0; i < dt->nrmem; i++) {
		free(dt->rmem[i].path);
		free(dt->rmem[i].name);
	}
	for (unsigned int i = 0; i < dt->ndevices; i++) {
		struct sim_dt_device *d = &dt->devices[i];

		free(d->path);
		free(d->iommu_path);
		for (unsigned int k = 0; k < d->niommu_map; k++)
			free(d->iommu_map[k].iommu_path);
	}
	free(dt->rmem);
	free(dt->devices);
	free(dt->ram);
	free(dt->bootargs);
	free(dt->root_compatible);
	free(dt->file);
	free(dt);
}

/* Every reg and dma-ranges in the tree decodes, used or not. */
static int check_all(struct dt_ctx *c)
{
	for (int i = 0; i < c->nnodes; i++) {
		int off = c->nodes[i].off, rc = check_reg(c, off);

		if (!rc && has_prop(c, off, "dma-ranges")) {
			struct win w[DMAMAP_MAX_DMA_RANGES];
			unsigned int n;

			rc = read_dma_ranges(c, off, w, DMAMAP_MAX_DMA_RANGES,
					     &n);
		}
		if (rc)
			return rc;
	}
	return 0;
}

static int parse(struct dt_ctx *c)
{
	int rc = collect_nodes(c);

	if (!rc)
		rc = check_all(c);
	if (!rc)
		rc = parse_memory(c);
	if (!rc)
		rc = parse_reserved(c);
	if (!rc)
		rc = parse_misc(c);
	if (!rc)
		rc = parse_devices(c);
	return rc;
}

int sim_dt_load(const char *path, struct sim_dt **out, char *err,
		size_t errlen)
{
	void *blob = NULL;
	size_t size = 0;
	int rc, frc;
	struct dt_ctx c;

	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	if (!path) {
		seterr(err, errlen, "(null): /: no file given");
		return -EINVAL;
	}
	if (access(path, R_OK) != 0) {
		int e = errno;

		seterr(err, errlen, "%s: cannot open: %s", path,
		       strerror(e));
		return -e;
	}
	if ((rc = regular_file(path, err, errlen)))
		return rc;
	if (ends_with(path, ".dts")) {
		rc = run_dtc(path, &blob, &size, err, errlen);
	} else {
		rc = read_blob(path, path, &blob, &size, err, errlen);
	}
	if (rc)
		return rc;
	/*
	 * Versions before 16 (dtc has written 17 since 2008) are refused
	 * before libfdt's full check, which dereferences NULL on some old
	 * layouts (libfdt 1.6.1; found by fuzz_dt).
	 */
	unsigned int version = size >= FDT_V1_SIZE && fdt_magic(blob) == FDT_MAGIC
				       ? (unsigned int)fdt_version(blob) : 17;
	if (version < 16) {
		free(blob);
		seterr(err, errlen, "%s: /: device tree blob version %u is older than 16",
		       path, version);
		return -EINVAL;
	}
	frc = size >= FDT_V1_SIZE ? fdt_check_header(blob) : -FDT_ERR_TRUNCATED;
	/* The header's sizes are checked against its own totalsize only. */
	if (frc == 0 && fdt_totalsize(blob) > size)
		frc = -FDT_ERR_TRUNCATED;
	if (frc == 0)
		frc = dt_tags_advance(blob);
	if (frc == 0)
		frc = fdt_check_full(blob, size);
	if (frc != 0) {
		free(blob);
		seterr(err, errlen, "%s: /: malformed device tree blob: %s",
		       path, fdt_strerror(frc));
		return -EINVAL;
	}
	memset(&c, 0, sizeof(c));
	c.fdt = blob;
	c.file = path;
	c.err = err;
	c.errlen = errlen;
	c.dt = calloc(1, sizeof(*c.dt));
	if (!c.dt) {
		free(blob);
		return -ENOMEM;
	}
	c.dt->file = strdup(path);
	rc = c.dt->file ? parse(&c) : -ENOMEM;
	if (rc == -ENOMEM && err && errlen && !err[0])
		seterr(err, errlen, "%s: /: out of memory", path);
	free(c.nodes);
	free(blob);
	if (rc) {
		sim_dt_free(c.dt);
		return rc;
	}
	*out = c.dt;
	return 0;
}

const struct sim_dt_device *sim_dt_find(const struct sim_dt *dt,
					const char *path)
{
	for (unsigned int i = 0; dt && i < dt->ndevices; i++)
		if (strcmp(dt->devices[i].path, path) == 0)
			return &dt->devices[i];
	return NULL;
}

/* ---- explain ------------------------------------------------------------------------ */

static const char *kind_name(enum sim_dt_rmem_kind k)
{
	switch (k) {
	case SIM_DT_RMEM_RESTRICTED:
		return "restricted-dma-pool";
	case SIM_DT_RMEM_SHARED:
		return "shared-dma-pool";
	default:
		return "other";
	}
}

int sim_dt_explain(const struct sim_dt *dt, FILE *out)
{
	fprintf(out, "file %s\n", dt->file);
	for (unsigned int i = 0; i < dt->nram; i++)
		fprintf(out, "ram 0x%" PRIx64 "-0x%" PRIx64 "\n",
			dt->ram[i].base, dt->ram[i].base + dt->ram[i].size - 1);
	for (unsigned int i = 0; i < dt->nrmem; i++) {
		const struct sim_dt_rmem *r = &dt->rmem[i];

		if (r->dynamic)
			fprintf(out, "reserved %s dynamic size 0x%" PRIx64 " %s",
				r->path, r->size, kind_name(r->kind));
		else
			fprintf(out, "reserved %s 0x%" PRIx64 "-0x%" PRIx64 " %s",
				r->path, r->base, r->base + r->size - 1,
				kind_name(r->kind));
		fprintf(out, "%s%s\n", r->no_map ? " no-map" : "",
			r->reusable ? " reusable" : "");
	}
	if (dt->bootargs)
		fprintf(out, "bootargs \"%s\"\n", dt->bootargs);
	else
		fprintf(out, "bootargs none\n");
	fprintf(out, "hypervisor %s\n", dt->xen ? "xen" : "none");
	for (unsigned int i = 0; i < dt->ndevices; i++) {
		const struct sim_dt_device *d = &dt->devices[i];

		fprintf(out, "device %s %s %s ", d->path,
			d->is_pci ? "pci" : "platform",
			d->coherent ? "coherent" : "non-coherent");
		if (d->nranges == 0)
			fprintf(out, "identity (no dma-ranges)");
		for (unsigned int k = 0; k < d->nranges; k++) {
			const struct dmamap_dma_range *r = &d->ranges[k];

			fprintf(out, "%sbus 0x%" PRIx64 "-0x%" PRIx64
				" -> cpu 0x%" PRIx64 "-0x%" PRIx64,
				k ? ", " : "", (uint64_t)r->dma,
				(uint64_t)(r->dma + r->size - 1),
				(uint64_t)r->cpu,
				(uint64_t)(r->cpu + r->size - 1));
		}
		if (d->has_iommu) {
			fprintf(out, " iommu %s",
				d->iommu_path ? d->iommu_path : "?");
			for (unsigned int k = 0; k < d->iommu_ncells; k++)
				fprintf(out, "%s0x%" PRIx32, k ? "," : "#",
					d->iommu_cells[k]);
			fprintf(out, " %s",
				d->iommu_enabled ? "enabled" : "disabled");
		} else {
			fprintf(out, " iommu none");
		}
		for (unsigned int k = 0; k < d->niommu_map; k++) {
			const struct sim_dt_iommu_map *m = &d->iommu_map[k];

			fprintf(out, " iommu-map rid 0x%" PRIx32 "+0x%" PRIx32
				" -> %s#0x%" PRIx32 " %s", m->rid_base,
				m->length, m->iommu_path, m->iommu_base,
				m->iommu_enabled ? "enabled" : "disabled");
		}
		if (d->restricted_pool >= 0) {
			const struct sim_dt_rmem *r =
				&dt->rmem[d->restricted_pool];

			fprintf(out, " restricted-pool %s 0x%" PRIx64
				"-0x%" PRIx64, r->path, r->base,
				r->base + r->size - 1);
		}
		if (d->shared_pool >= 0)
			fprintf(out, " shared-pool %s",
				dt->rmem[d->shared_pool].path);
		fputc('\n', out);
	}
	return ferror(out) ? -EIO : 0;
}

/* ---- machines ---------------------------------------------------------------------- */

static bool arm_vendor(const char *compat)
{
	static const char *const vendors[] = {
		"arm,", "xlnx,", "brcm,", "raspberrypi,", "qcom,", "rockchip,",
		"allwinner,", "amlogic,", "nvidia,", "fsl,", "marvell,",
		"mediatek,", "renesas,", "samsung,", "ti,", "linux,dummy-virt",
		"apple,", "hisilicon,", "socionext,", "xen,",
	};

	if (!compat)
		return false;
	for (size_t i = 0; i < sizeof(vendors) / sizeof(vendors[0]); i++)
		if (strncmp(compat, vendors[i], strlen(vendors[i])) == 0)
			return true;
	return false;
}

int sim_dt_machine_desc(const struct sim_dt *dt, struct sim_machine_desc *md,
			char *err, size_t errlen)
{
	uint64_t max_cpu = UINT64_MAX, mask;
	unsigned int bits = 32;

	memset(md, 0, sizeof(*md));
	md->arch = arm_vendor(dt->root_compatible) ? DMAMAP_ARCH_ARM64
						    : DMAMAP_ARCH_X86;
	md->ncpus = dt->ncpus ? dt->ncpus : 1;
	if (dt->nram > SIM_MAX_RAM_RANGES) {
		seterr(err, errlen, "%s: /memory: %u RAM ranges, at most %d",
		       dt->file, dt->nram, SIM_MAX_RAM_RANGES);
		return -EINVAL;
	}
	for (unsigned int i = 0; i < dt->nram; i++) {
		uint64_t b = (dt->ram[i].base + 4095) & ~4095ULL;
		uint64_t e = (dt->ram[i].base + dt->ram[i].size) & ~4095ULL;

		if (dt->ram[i].base > UINT64_MAX - 4095 || e <= b)
			continue;
		md->ram[md->nram].base = b;
		md->ram[md->nram].size = e - b;
		md->nram++;
	}
	if (md->nram == 0) {
		seterr(err, errlen, "%s: /memory: no RAM of at least 4 KiB",
		       dt->file);
		return -EINVAL;
	}
	if (md->arch != DMAMAP_ARCH_ARM64)
		return 0;
	/*
	 * arm64's ZONE_DMA: as many bits as the most restricted dma-ranges
	 * window reaches (of_dma_get_max_cpu_address), at most 32; widened to
	 * all of 32 bits when RAM starts above it, none when above 4 GiB.
	 */
	for (unsigned int i = 0; i < dt->ndevices; i++) {
		const struct sim_dt_device *d = &dt->devices[i];
		uint64_t top = 0;

		for (unsigned int k = 0; k < d->nranges; k++)
			if (d->ranges[k].cpu + d->ranges[k].size - 1 > top)
				top = d->ranges[k].cpu + d->ranges[k].size - 1;
		if (d->nranges && top < max_cpu)
			max_cpu = top;
	}
	if (max_cpu != UINT64_MAX) {
		unsigned int b = 64 - (unsigned int)__builtin_clzll(max_cpu | 1);

		if (b < bits)
			bits = b;
	}
	mask = bits >= 64 ? UINT64_MAX : (1ULL << bits) - 1;
	if (md->ram[0].base > 0xffffffffULL)
		mask = UINT64_MAX;
	else if (md->ram[0].base > mask)
		mask = 0xffffffffULL;
	{
		uint64_t end = md->ram[md->nram - 1].base +
			       md->ram[md->nram - 1].size - 1;

		md->zone_dma_limit = mask < end ? mask : end;
	}
	return 0;
}

void sim_dt_device_desc(const struct sim_dt_device *d, unsigned int addr_bits,
			struct sim_device_desc *out)
{
	memset(out, 0, sizeof(*out));
	out->name = d->path;
	out->bus = d->is_pci ? DMAMAP_BUS_PCI : DMAMAP_BUS_PLATFORM;
	out->addr_bits = addr_bits;
	out->coherent = d->coherent;
	memcpy(out->ranges, d->ranges, sizeof(d->ranges[0]) * d->nranges);
	out->nranges = d->nranges;
	out->bus_dma_limit = d->bus_dma_limit;
}
