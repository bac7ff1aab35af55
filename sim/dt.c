/*
 * sim/dt.c - the device-tree loader: flattened trees as firmware facts.
 *
 * Owns: reading trees (FDT blobs by magic, /proc/device-tree directories,
 * .dts compiled by running cpp and dtc, no shell, through pipes and under
 * a time limit, DMAMAP_DTC_TIMEOUT; FIFOs and devices refused up front),
 * validating the blob with libfdt, decoding reg / dma-ranges with each
 * parent's #address-cells / #size-cells, and for every node Linux's
 * of_dma_configure_id answer: the DMA parent (__of_get_dma_parent), the
 * windows (of_dma_get_range, of_translate_dma_address), coherency (of_dma_is_coherent), iommus and,
 * for PCI, the host's iommu-map (of_map_id), restricted pools, whether
 * Linux creates the device (of_platform_populate); the lowest top of any
 * dma-ranges (of_dma_get_max_cpu_address); reserved memory, /chosen
 * bootargs, the Xen /hypervisor node, the facts listing, and turning a
 * tree into sim_machine_desc / sim_device_desc.
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
#include <dirent.h>
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

static uint64_t iommu_page_sizes(const struct dt_ctx *c, int off);

static bool ancestors_available(const struct dt_ctx *c, int idx)
{
	for (; idx >= 0; idx = c->nodes[idx].parent)
		if (!node_available(c, c->nodes[idx].off))
			return false;
	return true;
}

/*
 * The DMA parent, as Linux's __of_get_dma_parent: the node named by the
 * "interconnects" entry at the index of "dma-mem" in "interconnect-names"
 * (Tegra's memory controller), else the tree parent.  An entry that does
 * not resolve falls back to the tree parent, as Linux does.
 */
static int dma_parent(const struct dt_ctx *c, int off)
{
	int idx = fdt_stringlist_search(c->fdt, off, "interconnect-names",
					"dma-mem");
	int len, n, pos = 0;
	const fdt32_t *p;

	if (idx < 0)
		return parent_off(c, off);
	p = fdt_getprop(c->fdt, off, "interconnects", &len);
	n = p && len > 0 ? len / 4 : 0;
	for (int i = 0; pos < n; i++) {
		int tgt = fdt_node_offset_by_phandle(c->fdt, fdt32_to_cpu(p[pos]));
		int cl;
		const fdt32_t *cp;

		if (tgt < 0)
			break;
		cp = fdt_getprop(c->fdt, tgt, "#interconnect-cells", &cl);
		if (!cp || cl != 4)
			break;
		if (i == idx)
			return tgt;
		/*
		 * The target's cell count comes from the tree: a huge one must
		 * not wrap pos (found by fuzz_dt).  Linux's phandle parser
		 * refuses more than MAX_PHANDLE_ARGS (16) cells.
		 */
		uint32_t cells = fdt32_to_cpu(*cp);
		if (cells > 16 || cells >= (uint32_t)(n - pos))
			break;
		pos += 1 + (int)cells;
	}
	return parent_off(c, off);
}

/*
 * of_translate_dma_address: an address in the child space of `node`'s
 * DMA parent, translated through each DMA parent's dma-ranges (absent or
 * empty: 1:1) up to, not including, the top node.  Only the address is
 * translated, as Linux does.  false: a level had dma-ranges and none of
 * its entries holds the address (OF_BAD_ADDR).
 */
static int translate_dma(struct dt_ctx *c, int node, uint64_t *addr, bool *ok)
{
	struct win w[DMAMAP_MAX_DMA_RANGES];
	unsigned int n;
	int depth = 0;

	*ok = true;
	for (int cur = dma_parent(c, node); cur >= 0; cur = dma_parent(c, cur)) {
		int rc;
		bool hit = false;

		if (++depth > DT_MAX_DEPTH)
			return dt_fail(c, node, -EINVAL,
				       "DMA parents (interconnects \"dma-mem\") form a loop");
		if (dma_parent(c, cur) < 0)
			break;
		rc = read_dma_ranges(c, cur, w, DMAMAP_MAX_DMA_RANGES, &n);
		if (rc)
			return rc;
		if (!has_prop(c, cur, "dma-ranges") || n == 0)
			continue;
		for (unsigned int k = 0; k < n && !hit; k++) {
			if (*addr >= w[k].dma && *addr - w[k].dma <= w[k].last) {
				*addr = w[k].cpu + (*addr - w[k].dma);
				hit = true;
			}
		}
		if (!hit) {
			*ok = false;
			return 0;
		}
	}
	return 0;
}

/*
 * of_dma_get_range from `start` (a device's DMA parent, or a PCI host
 * bridge for the devices behind it): walk DMA parents upward; the first
 * node with a non-empty dma-ranges gives the windows.  The first node may
 * lack dma-ranges; after it, an absent one ends the walk with no windows
 * (1:1, no limit), an empty one lets it go on.  Each window's CPU side is
 * translated by of_translate_dma_address; windows that do not translate
 * are dropped, and if none is left Linux configures the device without a
 * map (1:1).  Contiguous entries merge as Linux's range parser does.
 */
static int dma_get_range(struct dt_ctx *c, int start, int report,
			 struct sim_dt_dma *out)
{
	struct win w[DMAMAP_MAX_DMA_RANGES];
	unsigned int n = 0, kept = 0;
	bool found = false;
	int node = start, depth = 0, len, rc;
	char path[512];

	memset(out, 0, sizeof(*out));
	while (node >= 0) {
		const void *p = fdt_getprop(c->fdt, node, "dma-ranges", &len);

		if (++depth > DT_MAX_DEPTH)
			return dt_fail(c, report, -EINVAL,
				       "DMA parents (interconnects \"dma-mem\") form a loop");
		if (p && len > 0)
			break;
		if (found && !p)
			return 0;
		found = true;
		node = dma_parent(c, node);
	}
	if (node < 0)
		return 0;
	rc = read_dma_ranges(c, node, w, DMAMAP_MAX_DMA_RANGES, &n);
	if (rc)
		return rc;
	for (unsigned int i = 0; i < n; i++) {
		uint64_t cpu = w[i].cpu, size;
		bool ok;
		struct dmamap_dma_range *prev = kept ? &out->ranges[kept - 1] : NULL;

		rc = translate_dma(c, node, &cpu, &ok);
		if (rc)
			return rc;
		if (!ok)
			continue;
		if (w[i].last == UINT64_MAX)
			return dt_fail(c, node, -EINVAL,
				       "a dma-ranges window of 2^64 bytes");
		size = w[i].last + 1;
		if (prev && prev->dma + prev->size == w[i].dma &&
		    prev->cpu + prev->size == cpu) {
			prev->size += size;
			continue;
		}
		out->ranges[kept].cpu = cpu;
		out->ranges[kept].dma = w[i].dma;
		out->ranges[kept].size = size;
		kept++;
	}
	if (kept == 0) {
		out->untranslatable = true;
		return 0;
	}
	node_path(c, node, path, sizeof(path));
	out->via = strdup(path);
	if (!out->via)
		return -ENOMEM;
	out->nranges = kept;
	/* dma_range_map_max: the highest bus address of any window. */
	for (unsigned int i = 0; i < kept; i++) {
		uint64_t last = out->ranges[i].dma + out->ranges[i].size - 1;

		if (last > out->bus_dma_limit)
			out->bus_dma_limit = last;
	}
	return 0;
}

/*
 * of_dma_is_coherent: dma-coherent / dma-noncoherent on the node or the
 * first DMA parent that says either; arm64's default is non-coherent.
 */
static bool coherent(const struct dt_ctx *c, int off)
{
	for (int depth = 0; off >= 0 && depth <= DT_MAX_DEPTH;
	     off = dma_parent(c, off), depth++) {
		if (has_prop(c, off, "dma-coherent"))
			return true;
		if (has_prop(c, off, "dma-noncoherent"))
			return false;
	}
	return false;
}

static int dma_answer(struct dt_ctx *c, int start, int report,
		      struct sim_dt_dma *out)
{
	int rc = dma_get_range(c, start, report, out);

	if (!rc && start >= 0) {
		char path[512];

		node_path(c, start, path, sizeof(path));
		out->dma_parent = strdup(path);
		if (!out->dma_parent)
			return -ENOMEM;
	}
	return rc;
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
			m->iommu_page_sizes = iommu_page_sizes(c, tgt);
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

/*
 * Page sizes of an IOMMU, from its compatible (a hardware fact): Arm SMMUs
 * (v1/v2, MMU-500 and their vendor variants, v3) and Tegra's SMMU map
 * 4 KiB, 2 MiB and 1 GiB pages; Apple's DART maps 16 KiB pages (and 32 MiB
 * blocks).  Unknown IOMMUs: 0 (the simulator's default geometry).
 */
static uint64_t iommu_page_sizes(const struct dt_ctx *c, int off)
{
	static const struct { const char *compat; uint64_t sizes; } table[] = {
		{ "apple,t8103-dart", (16ULL << 10) | (32ULL << 20) },
		{ "apple,t8110-dart", (16ULL << 10) | (32ULL << 20) },
		{ "apple,t6000-dart", (16ULL << 10) | (32ULL << 20) },
		{ "arm,smmu-v3", (4ULL << 10) | (2ULL << 20) | (1ULL << 30) },
		{ "arm,mmu-500", (4ULL << 10) | (2ULL << 20) | (1ULL << 30) },
		{ "arm,smmu-v2", (4ULL << 10) | (2ULL << 20) | (1ULL << 30) },
		{ "arm,smmu-v1", (4ULL << 10) | (2ULL << 20) | (1ULL << 30) },
		{ "arm,mmu-401", (4ULL << 10) | (2ULL << 20) | (1ULL << 30) },
		{ "qcom,smmu-500", (4ULL << 10) | (2ULL << 20) | (1ULL << 30) },
		{ "qcom,smmu-v2", (4ULL << 10) | (2ULL << 20) | (1ULL << 30) },
		{ "nvidia,smmu-500", (4ULL << 10) | (2ULL << 20) | (1ULL << 30) },
		{ "nvidia,tegra194-smmu", (4ULL << 10) | (2ULL << 20) | (1ULL << 30) },
	};

	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (fdt_node_check_compatible(c->fdt, off, table[i].compat) == 0)
			return table[i].sizes;
	return 0;
}

static int iommu_facts(struct dt_ctx *c, const char *path, uint64_t *sizes,
		       char **compat)
{
	int off = path ? fdt_path_offset(c->fdt, path) : -1;
	const char *s = off >= 0 ? str_prop(c, off, "compatible") : NULL;

	*sizes = off >= 0 ? iommu_page_sizes(c, off) : 0;
	if (s) {
		*compat = strdup(s);
		if (!*compat)
			return -ENOMEM;
	}
	return 0;
}

static bool compat_any(const struct dt_ctx *c, int off,
		       const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (fdt_node_check_compatible(c->fdt, off, list[i]) == 0)
			return true;
	return false;
}

/*
 * A node whose children Linux creates devices for: of_platform_populate's
 * of_default_bus_match_table (simple-bus, simple-mfd, isa, arm,amba-bus),
 * simple-pm-bus, and a device that maps its children into its address space
 * with "ranges" (its driver populates them: host1x, dwc3 glue, aconnect).
 */
static bool populates_children(const struct dt_ctx *c, int off)
{
	static const char *const buses[] = { "simple-bus", "simple-mfd", "isa",
					     "arm,amba-bus", "simple-pm-bus" };

	return compat_any(c, off, buses, sizeof(buses) / sizeof(buses[0])) ||
	       has_prop(c, off, "ranges");
}

/*
 * Nodes with a text verdict: ones a driver moves data with.  Decided from
 * the tree alone: a PCI device, a node with iommus, its own dma-coherent
 * or a memory-region, or a node named for a data-moving class (the generic
 * names of the devicetree specification: mmc, usb, ethernet, dma-controller,
 * gpu, display..., sata, ufs, nvme, wifi, crypto, video-codec, audio DMA).
 */
static bool dma_user(const struct dt_ctx *c, int off, bool pci)
{
	static const char *const names[] = {
		"mmc", "sdhci", "usb", "ethernet", "dma-controller", "dma", "gpu",
		"display", "display-controller", "lcd-controller", "video-codec",
		"vpu", "npu", "crypto", "sata", "ufshc", "ufs", "nvme", "wifi",
		"hda", "sai", "spdif", "i2s", "sound", "audio-controller",
		"camera", "isp", "jpeg", "nvdec", "nvenc", "nvjpg", "vic",
		"host1x", "mailbox", "can", "spi",
	};
	static const char *const buses[] = { "simple-bus", "simple-mfd", "isa",
					     "arm,amba-bus", "simple-pm-bus" };
	const char *name = fdt_get_name(c->fdt, off, NULL);
	size_t n;

	if (compat_any(c, off, buses, sizeof(buses) / sizeof(buses[0])))
		return false;
	if (pci || has_prop(c, off, "iommus") || has_prop(c, off, "dma-coherent") ||
	    has_prop(c, off, "memory-region"))
		return true;
	if (!name)
		return false;
	n = strcspn(name, "@");
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == n && strncmp(name, names[i], n) == 0)
			return true;
	return false;
}

/* A PCI function's requester ID from its reg (phys.hi: bus, devfn). */
static bool pci_rid(const struct dt_ctx *c, int off, uint32_t *rid)
{
	int len;
	const fdt32_t *p = fdt_getprop(c->fdt, off, "reg", &len);

	if (!p || len < 4)
		return false;
	*rid = (fdt32_to_cpu(p[0]) >> 8) & 0xffff;
	return true;
}

static int parse_map_mask(struct dt_ctx *c, int off, struct sim_dt_device *d)
{
	int len;
	const fdt32_t *p = fdt_getprop(c->fdt, off, "iommu-map-mask", &len);

	d->iommu_map_mask = 0xffffffffu;
	if (!p)
		return 0;
	if (len != 4)
		return dt_fail(c, off, -EINVAL, "iommu-map-mask is %d bytes, not one cell",
			       len);
	d->iommu_map_mask = fdt32_to_cpu(*p);
	return 0;
}

static int new_device(struct dt_ctx *c, int i, struct sim_dt_device **out)
{
	struct sim_dt *dt = c->dt;
	struct sim_dt_device *d;
	char path[512];
	const char *compat = str_prop(c, c->nodes[i].off, "compatible");

	/* Capacity doubles (at 0, 16, 32, ...): one realloc per device
	 * copied the array each time under ASan, quadratic in devices.
	 * The array may move: callers find their pointers into it again. */
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
	d->host = -1;
	d->iommu_map_mask = 0xffffffffu;
	node_path(c, c->nodes[i].off, path, sizeof(path));
	d->path = strdup(path);
	if (compat)
		d->compatible = strdup(compat);
	if (!d->path || (compat && !d->compatible))
		return -ENOMEM;
	*out = d;
	return 0;
}

static void copy_answer(struct sim_dt_device *d, const struct sim_dt_dma *a)
{
	memcpy(d->ranges, a->ranges, sizeof(a->ranges[0]) * a->nranges);
	d->nranges = a->nranges;
	d->bus_dma_limit = a->bus_dma_limit;
	d->untranslatable = a->untranslatable;
}

/*
 * Every available node with a compatible, and every node below a PCI host
 * bridge, gets Linux's answer (of_dma_configure_id): a platform device is
 * configured from its DMA parent; a PCI device (in the tree or only on the
 * simulated bus) from its host bridge, with the IOMMU through the host's
 * iommu-map by requester ID (of_map_id) and the host's memory-region.  A
 * host bridge's own entry is the bridge as a platform device; `behind` is
 * what a device on its bus gets.
 */
static int parse_devices(struct dt_ctx *c)
{
	int *dev_of = malloc(sizeof(int) * (size_t)c->nnodes);
	int rc = 0;

	if (!dev_of)
		return -ENOMEM;
	for (int i = 0; i < c->nnodes; i++)
		dev_of[i] = -1;
	for (int i = 1; i < c->nnodes && !rc; i++) {
		int off = c->nodes[i].off, par = c->nodes[i].parent;
		int pdev = par >= 0 ? dev_of[par] : -1;
		struct sim_dt_device *d, *host = NULL;
		bool in_pci = false;

		if (!ancestors_available(c, i))
			continue;
		/* Below a host bridge (or a bridge below one): a PCI device. */
		if (pdev >= 0 && (c->dt->devices[pdev].pci_host ||
				  c->dt->devices[pdev].is_pci_dev)) {
			in_pci = true;
			host = &c->dt->devices[pdev];
			if (host->is_pci_dev)
				host = &c->dt->devices[host->host];
		}
		if (!in_pci && !has_prop(c, off, "compatible"))
			continue;
		rc = new_device(c, i, &d);
		if (rc)
			break;
		dev_of[i] = (int)(d - c->dt->devices);
		/* new_device may move the array: find the host again. */
		if (in_pci)
			host = &c->dt->devices[pdev];
		if (in_pci && host->is_pci_dev)
			host = &c->dt->devices[host->host];
		d->master = par == 0 ||
			    (pdev >= 0 && c->dt->devices[pdev].master &&
			     populates_children(c, c->nodes[par].off));
		if (fdt_node_check_compatible(c->fdt, off, "operating-points-v2") == 0)
			d->master = false;
		if (in_pci) {
			d->is_pci = true;
			d->is_pci_dev = true;
			d->host = (int)(host - c->dt->devices);
			d->coherent = host->behind.coherent;
			copy_answer(d, &host->behind);
			if (host->behind.via) {
				d->via = strdup(host->behind.via);
				if (!d->via)
					rc = -ENOMEM;
			}
			d->dma_parent = strdup(host->path);
			if (!d->dma_parent)
				rc = -ENOMEM;
			d->has_rid = pci_rid(c, off, &d->rid);
			d->restricted_pool = host->restricted_pool;
			/* A bridge (device_type "pci") forwards; functions below it move data. */
			d->dma_user = d->master && !is_pci_bus(c, off) && dma_user(c, off, true);
			continue;
		}
		{
			struct sim_dt_dma a;

			rc = dma_answer(c, dma_parent(c, off), off, &a);
			if (rc) {
				free(a.via);
				free(a.dma_parent);
				break;
			}
			copy_answer(d, &a);
			d->via = a.via;
			d->dma_parent = a.dma_parent;
		}
		d->coherent = coherent(c, off);
		d->pci_host = is_pci_bus(c, off);
		d->is_pci = d->pci_host;
		if (d->pci_host) {
			rc = dma_answer(c, off, off, &d->behind);
			d->behind.coherent = d->coherent;
			if (!rc)
				rc = parse_map_mask(c, off, d);
		}
		if (!rc)
			rc = parse_iommus(c, off, d);
		if (!rc && d->has_iommu)
			rc = iommu_facts(c, d->iommu_path, &d->iommu_page_sizes,
					 &d->iommu_compatible);
		if (!rc)
			rc = parse_regions(c, off, d);
		d->dma_user = d->master && !d->pci_host && dma_user(c, off, false);
	}
	free(dev_of);
	return rc;
}

/*
 * of_map_id for "iommu-map"/"iommu-map-mask": the IOMMU entry a requester
 * ID behind host bridge `host` goes to, or NULL (no map, or no entry for
 * this ID: no IOMMU).  *id: the ID the IOMMU sees.
 */
const struct sim_dt_iommu_map *sim_dt_map_rid(const struct sim_dt_device *host,
					      uint32_t rid, uint32_t *id)
{
	uint32_t masked = rid & host->iommu_map_mask;

	for (unsigned int i = 0; i < host->niommu_map; i++) {
		const struct sim_dt_iommu_map *m = &host->iommu_map[i];

		if (m->rid_base & ~host->iommu_map_mask)
			return NULL; /* the mask ignores the base: Linux fails the lookup */
		if (masked < m->rid_base || masked - m->rid_base >= m->length)
			continue;
		if (id)
			*id = masked - m->rid_base + m->iommu_base;
		return m;
	}
	return NULL;
}

/*
 * of_dma_get_max_cpu_address: the lowest CPU address that the top of any
 * available node's non-empty dma-ranges reaches (translated to the root);
 * UINT64_MAX where no node has one.
 */
static int max_cpu_address(struct dt_ctx *c)
{
	uint64_t best = UINT64_MAX;

	for (int i = 0; i < c->nnodes; i++) {
		int off = c->nodes[i].off, len, rc;
		struct win w[DMAMAP_MAX_DMA_RANGES];
		unsigned int n;
		uint64_t end = 0;
		bool any = false;

		if (!fdt_getprop(c->fdt, off, "dma-ranges", &len) || len <= 0 ||
		    !ancestors_available(c, i))
			continue;
		rc = read_dma_ranges(c, off, w, DMAMAP_MAX_DMA_RANGES, &n);
		if (rc)
			return rc;
		for (unsigned int k = 0; k < n; k++) {
			uint64_t cpu = w[k].cpu;
			bool ok;

			rc = translate_dma(c, off, &cpu, &ok);
			if (rc)
				return rc;
			if (ok && cpu + w[k].last >= cpu) {
				any = true;
				if (cpu + w[k].last > end)
					end = cpu + w[k].last;
			}
		}
		if (any && end < best)
			best = end;
	}
	c->dt->max_cpu_address = best;
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
 * How long the external tools may take, cpp and dtc together
 * (DMAMAP_DTC_TIMEOUT seconds in the environment, default 60): a tree that
 * takes longer is refused, and the tools killed.
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

/* One external program of a pipeline: what it is, what it said, how it ended. */
struct tool {
	char *const *argv;
	pid_t pid;
	int errfd;	/* the read end of its stderr, -1 once closed */
	char msg[4096];	/* the start of its stderr */
	size_t got;
	int status;	/* its wait status, once reaped */
	bool reaped;
};

#define DT_MAX_TOOLS 2

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Reaps t, waiting for it; 0, or -errno when waitpid fails. */
static int reap_tool(struct tool *t)
{
	while (!t->reaped) {
		if (waitpid(t->pid, &t->status, 0) == t->pid)
			t->reaped = true;
		else if (errno != EINTR)
			return -errno;
	}
	return 0;
}

/*
 * Runs t[0] | t[1] | ... (no shell, no temporary file: what the last one
 * writes comes back through a pipe into *blob, so nothing is left behind
 * whatever way this process ends), the first one's stdin /dev/null, each
 * one's stderr kept in its msg.  All of them within dtc_timeout_ms
 * together, the output within DT_MAX_BLOB bytes; otherwise they are
 * killed.  0 when they all ran to their end (each one's wait status in
 * t[i].status, *blob malloc'd), or a negative errno with one line in err.
 */
static int run_tools(struct tool *t, int nt, const char *path, void **blob, size_t *size,
		     char *err, size_t errlen)
{
	int limit = dtc_timeout_ms(), rc = 0, in = -1, outfd = -1, e = 0;
	long deadline = now_ms() + limit;
	size_t cap = 1 << 16, n = 0;
	char *out = malloc(cap);
	const char *why = NULL;
	int started = 0;

	if (!out)
		return -ENOMEM;
	for (int i = 0; i < nt; i++) {
		t[i].pid = -1;
		t[i].errfd = -1;
		t[i].got = 0;
		t[i].msg[0] = '\0';
		t[i].status = 0;
		t[i].reaped = false;
	}
	/* Spawn them in order, each one's stdout the next one's stdin. */
	for (int i = 0; i < nt && !rc; i++) {
		posix_spawn_file_actions_t fa;
		int epfd[2], opfd[2];

		if (pipe2(epfd, O_CLOEXEC) != 0) {
			rc = -errno;
			seterr(err, errlen, "%s: /: pipe: %s", path, strerror(-rc));
			break;
		}
		if (pipe2(opfd, O_CLOEXEC) != 0) {
			rc = -errno;
			close(epfd[0]);
			close(epfd[1]);
			seterr(err, errlen, "%s: /: pipe: %s", path, strerror(-rc));
			break;
		}
		posix_spawn_file_actions_init(&fa);
		if (in >= 0)
			posix_spawn_file_actions_adddup2(&fa, in, 0);
		else
			posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
		posix_spawn_file_actions_adddup2(&fa, opfd[1], 1);
		posix_spawn_file_actions_adddup2(&fa, epfd[1], 2);
		e = posix_spawnp(&t[i].pid, t[i].argv[0], &fa, NULL, t[i].argv, environ);
		posix_spawn_file_actions_destroy(&fa);
		close(epfd[1]);
		close(opfd[1]);
		close_fd(&in);
		if (e != 0) {
			close(epfd[0]);
			close(opfd[0]);
			rc = -e;
			seterr(err, errlen, "%s: /: cannot run %s: %s", path, t[i].argv[0],
			       strerror(e));
			break;
		}
		started++;
		t[i].errfd = epfd[0];
		in = opfd[0];
	}
	if (rc) {
		for (int i = 0; i < started; i++) {
			kill(t[i].pid, SIGKILL);
			close_fd(&t[i].errfd);
			reap_tool(&t[i]);
		}
		free(out);
		return rc;
	}
	outfd = in;

	/* Collect the output and every stderr until all are closed, or time is up. */
	for (;;) {
		struct pollfd pf[1 + DT_MAX_TOOLS];
		int np = 0, r;
		long left = deadline - now_ms();

		if (outfd >= 0)
			pf[np++] = (struct pollfd){ outfd, POLLIN, 0 };
		for (int i = 0; i < nt; i++)
			if (t[i].errfd >= 0)
				pf[np++] = (struct pollfd){ t[i].errfd, POLLIN, 0 };
		if (np == 0)
			break;
		if (left <= 0) {
			why = "time";
			break;
		}
		r = poll(pf, (nfds_t)np, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			e = errno;
			why = "poll";
			break;
		}
		for (int k = 0; k < np && !why; k++) {
			ssize_t m;

			if (!pf[k].revents)
				continue;
			if (pf[k].fd == outfd) {
				if (n == cap) {
					size_t want = cap * 2 > (size_t)DT_MAX_BLOB + 1
							      ? (size_t)DT_MAX_BLOB + 1 : cap * 2;
					char *bigger = realloc(out, want);

					if (!bigger) {
						why = "memory";
						break;
					}
					out = bigger;
					cap = want;
				}
				m = read(outfd, out + n, cap - n);
				if (m < 0 && errno == EINTR)
					continue;
				if (m <= 0) {
					close_fd(&outfd);
					continue;
				}
				n += (size_t)m;
				if (n > DT_MAX_BLOB)
					why = "size";
				continue;
			}
			for (int i = 0; i < nt; i++) {
				struct tool *ti = &t[i];
				char sink[4096];
				bool room = ti->got < sizeof(ti->msg) - 1;

				if (ti->errfd != pf[k].fd)
					continue;
				m = read(ti->errfd, room ? ti->msg + ti->got : sink,
					 room ? sizeof(ti->msg) - 1 - ti->got : sizeof(sink));
				if (m < 0 && errno == EINTR)
					break;
				if (m <= 0)
					close_fd(&ti->errfd);
				else if (room)
					ti->got += (size_t)m;
				break;
			}
		}
		if (why)
			break;
	}
	close_fd(&outfd);
	for (int i = 0; i < nt; i++) {
		close_fd(&t[i].errfd);
		t[i].msg[t[i].got] = '\0';
	}

	/*
	 * Every pipe is closed; a tool may still run (it closed them, or time
	 * is up): wait for each until the deadline, then kill what is left.
	 * The first one still running is the one named.
	 */
	const char *late = NULL;

	for (int i = 0; i < nt; i++) {
		while (!t[i].reaped && !why) {
			pid_t w = waitpid(t[i].pid, &t[i].status, WNOHANG);

			if (w == t[i].pid) {
				t[i].reaped = true;
			} else if (w < 0 && errno != EINTR) {
				e = errno;
				why = "wait";
			} else if (w == 0 && now_ms() >= deadline) {
				why = "time";
			} else if (w == 0) {
				struct timespec ms = { 0, 2 * 1000 * 1000 };

				nanosleep(&ms, NULL);
			}
		}
	}
	for (int i = 0; i < nt; i++) {
		if (t[i].reaped)
			continue;
		if (waitpid(t[i].pid, &t[i].status, WNOHANG) == t[i].pid) {
			t[i].reaped = true;
			continue;
		}
		if (!late)
			late = t[i].argv[0];
		kill(t[i].pid, SIGKILL);
	}
	for (int i = 0; i < nt; i++) {
		int wrc = reap_tool(&t[i]);

		if (wrc && !rc) {
			rc = wrc;
			seterr(err, errlen, "%s: /: waitpid: %s", path, strerror(-wrc));
		}
	}
	if (rc) {
		free(out);
		return -ECHILD;
	}
	if (why) {
		const char *last = t[nt - 1].argv[0];

		free(out);
		if (!strcmp(why, "time"))
			seterr(err, errlen, "%s: /: %s did not finish within %d s (stopped; "
			       "DMAMAP_DTC_TIMEOUT sets the limit)", path, late ? late : last,
			       limit / 1000);
		else if (!strcmp(why, "size"))
			seterr(err, errlen, "%s: /: %s's blob is larger than %u bytes",
			       path, last, DT_MAX_BLOB);
		else if (!strcmp(why, "memory"))
			seterr(err, errlen, "%s: /: reading %s's output: out of memory", path,
			       last);
		else
			seterr(err, errlen, "%s: /: reading %s's output: %s", path, last,
			       strerror(e));
		return !strcmp(why, "memory") ? -ENOMEM : -EINVAL;
	}
	*blob = out;
	*size = n;
	return 0;
}

/* Source that uses the C preprocessor: a line starting with a directive. */
static bool needs_cpp(const char *path)
{
	static const char *const dirs[] = { "#include", "#define", "#if", "#undef" };
	/* O_NONBLOCK: never wait on a FIFO swapped in after the check. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
	char line[1024];
	bool yes = false;

	if (!f) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	while (!yes && fgets(line, sizeof(line), f)) {
		const char *p = line + strspn(line, " \t");

		for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
			if (!strncmp(p, dirs[i], strlen(dirs[i])))
				yes = true;
	}
	fclose(f);
	return yes;
}

/*
 * cpp's failure as one line: a missing include names the file, line and
 * header, anything else is cpp's first error line.
 */
static void cpp_message(const char *path, const char *msg, char *err, size_t errlen)
{
	/* "FILE:LINE:COL: fatal error: NAME: No such file or directory" */
	const char *fe = strstr(msg, ": fatal error: ");
	const char *nf = fe ? strstr(fe, ": No such file or directory") : NULL;

	if (fe && nf) {
		const char *start = fe;
		const char *name = fe + strlen(": fatal error: ");
		int col_colons = 0;

		/* back to the start of "FILE:LINE:COL" */
		while (start > msg && start[-1] != '\n')
			start--;
		for (const char *q = fe - 1; q > start && col_colons < 1; q--)
			if (*q == ':') {
				col_colons++;
				fe = q; /* drop ":COL" */
			}
		/* No FILE:LINE (cc1 itself): cpp could not open the source. */
		if (!memchr(start, ':', (size_t)(fe - start))) {
			seterr(err, errlen, "%s: the preprocessor cannot read %.*s", path,
			       (int)(nf - name), name);
			return;
		}
		/* Always the tree's name first; an included file's place after it. */
		size_t plen = strlen(path);
		bool ours = (size_t)(fe - start) > plen && !strncmp(start, path, plen) &&
			    start[plen] == ':';
		seterr(err, errlen, "%s%s%.*s: #include <%.*s> not found (give "
		       "--include-dir DIR for the folder that holds it, e.g. the "
		       "kernel's include/ or scripts/dtc/include-prefixes)",
		       ours ? "" : path, ours ? "" : ": ",
		       (int)(fe - start), start, (int)(nf - name), name);
		return;
	}
	dtc_message(path, msg, err, errlen);
}

static bool exited_ok(int status)
{
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/*
 * .dts source to a blob: dtc alone, or, when the source uses the C
 * preprocessor, cpp | dtc as the kernel runs them (dtc_cpp_flags: cpp
 * -nostdinc -undef -D__DTS__ -x assembler-with-cpp, with -I for the
 * source's folder and each include directory; dtc -i for the same, its
 * /include/ now reading stdin).  Both through pipes, under one time limit.
 */
static int compile_dts(const char *path, const struct sim_dt_load_opts *o, void **blob,
		       size_t *size, char *err, size_t errlen)
{
	char *cpp_argv[16 + 2 * 32], *dtc_argv[16 + 2 * 32];
	char dir[1024];
	const char *slash = strrchr(path, '/');
	struct tool t[DT_MAX_TOOLS];
	unsigned int nc = 0, nd = 0;
	int nt = 0, rc;
	bool cpp = needs_cpp(path);

	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) : 1,
		 slash ? path : ".");
	if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	dtc_argv[nd++] = "dtc";
	dtc_argv[nd++] = "-q";
	dtc_argv[nd++] = "-I";
	dtc_argv[nd++] = "dts";
	dtc_argv[nd++] = "-O";
	dtc_argv[nd++] = "dtb";
	if (cpp) {
		cpp_argv[nc++] = "cpp";
		cpp_argv[nc++] = "-nostdinc";
		cpp_argv[nc++] = "-undef";
		cpp_argv[nc++] = "-D__DTS__";
		cpp_argv[nc++] = "-x";
		cpp_argv[nc++] = "assembler-with-cpp";
		cpp_argv[nc++] = "-I";
		cpp_argv[nc++] = dir;
		dtc_argv[nd++] = "-i";
		dtc_argv[nd++] = dir;
		for (unsigned int i = 0; o && i < o->ninclude && i < 32; i++) {
			cpp_argv[nc++] = "-I";
			cpp_argv[nc++] = (char *)o->include[i];
			dtc_argv[nd++] = "-i";
			dtc_argv[nd++] = (char *)o->include[i];
		}
		cpp_argv[nc++] = (char *)path;
		cpp_argv[nc] = NULL;
		dtc_argv[nd++] = "-";
		t[nt++].argv = cpp_argv;
	} else {
		dtc_argv[nd++] = (char *)path;
	}
	dtc_argv[nd] = NULL;
	t[nt++].argv = dtc_argv;

	rc = run_tools(t, nt, path, blob, size, err, errlen);
	if (rc)
		return rc;
	/*
	 * cpp's failure first (dtc then saw part of the source), unless cpp
	 * was stopped by a closed pipe: dtc gave up first, and says why.
	 */
	if (cpp && !exited_ok(t[0].status) &&
	    !(WIFSIGNALED(t[0].status) && WTERMSIG(t[0].status) == SIGPIPE)) {
		free(*blob);
		*blob = NULL;
		cpp_message(path, t[0].msg, err, errlen);
		return -EINVAL;
	}
	if (!exited_ok(t[nt - 1].status)) {
		free(*blob);
		*blob = NULL;
		dtc_message(path, t[nt - 1].msg, err, errlen);
		return -EINVAL;
	}
	return 0;
}

/*
 * What a path names must be a regular file, or a directory read as
 * /proc/device-tree: a FIFO would block the reader (or cpp, or dtc)
 * forever, a device could be endless.  A directory named as a tree file
 * (.dts, .dtsi, .dtb, .dtbo) is no tree either.  Refused at once, before
 * anything opens it.
 */
static int tree_file(const char *path, char *err, size_t errlen)
{
	static const char *const file_names[] = { ".dts", ".dtsi", ".dtb", ".dtbo" };
	struct stat st;

	if (stat(path, &st) != 0) {
		int e = errno;

		seterr(err, errlen, "%s: cannot open: %s", path, strerror(e));
		return -e;
	}
	if (S_ISREG(st.st_mode))
		return 0;
	if (S_ISDIR(st.st_mode)) {
		bool named_file = false;

		for (size_t i = 0; i < sizeof(file_names) / sizeof(file_names[0]); i++)
			if (ends_with(path, file_names[i]))
				named_file = true;
		if (!named_file)
			return 0;
	}
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

/* ---- /proc/device-tree: a directory of nodes and property files ---------------- */

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * One node: its files become properties (the legacy "name" file is the
 * node's name, not a property), then its folders become subnodes, each
 * in name order so the blob is the same on every run.
 */
static int dir_node(void *fdt, const char *dirpath, const char *shown, int depth,
		    char *err, size_t errlen)
{
	DIR *d;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;

	if (depth > DT_MAX_DEPTH) {
		seterr(err, errlen, "%s: %s: nodes nested too deep", shown, dirpath);
		return -EINVAL;
	}
	d = opendir(dirpath);
	if (!d) {
		seterr(err, errlen, "%s: cannot open %s: %s", shown, dirpath, strerror(errno));
		return -errno;
	}
	while ((de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n == cap) {
			char **nn = realloc(names, sizeof(*nn) * (cap ? cap * 2 : 32));

			if (!nn) {
				rc = -ENOMEM;
				break;
			}
			names = nn;
			cap = cap ? cap * 2 : 32;
		}
		names[n] = strdup(de->d_name);
		if (!names[n]) {
			rc = -ENOMEM;
			break;
		}
		n++;
	}
	closedir(d);
	if (!rc)
		qsort(names, n, sizeof(*names), cmp_names);
	for (int pass = 0; pass < 2 && !rc; pass++) {
		for (size_t i = 0; i < n && !rc; i++) {
			char child[4096];
			struct stat st;

			snprintf(child, sizeof(child), "%s/%s", dirpath, names[i]);
			if (stat(child, &st) != 0)
				continue;
			if (pass == 0 && S_ISREG(st.st_mode) && strcmp(names[i], "name") != 0) {
				void *buf = NULL;
				size_t len = 0;

				if (st.st_size > (off_t)(1u << 20)) {
					seterr(err, errlen, "%s: %s: property of %lld bytes",
					       shown, child, (long long)st.st_size);
					rc = -EINVAL;
					break;
				}
				rc = read_blob(child, shown, &buf, &len, err, errlen);
				if (!rc)
					rc = fdt_property(fdt, names[i], buf, (int)len);
				free(buf);
			} else if (pass == 1 && S_ISDIR(st.st_mode)) {
				rc = fdt_begin_node(fdt, names[i]);
				if (!rc)
					rc = dir_node(fdt, child, shown, depth + 1, err, errlen);
				if (!rc)
					rc = fdt_end_node(fdt);
			}
		}
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

/* A blob built from a /proc/device-tree-like directory. */
static int read_dir(const char *path, void **blob, size_t *size, char *err,
		    size_t errlen)
{
	for (size_t cap = 1u << 20; cap <= DT_MAX_BLOB; cap *= 2) {
		void *fdt = malloc(cap);
		int rc;

		if (!fdt)
			return -ENOMEM;
		rc = fdt_create(fdt, (int)cap);
		if (!rc)
			rc = fdt_finish_reservemap(fdt);
		if (!rc)
			rc = fdt_begin_node(fdt, "");
		if (!rc) {
			err[0] = '\0';
			rc = dir_node(fdt, path, path, 0, err, errlen);
		}
		if (!rc)
			rc = fdt_end_node(fdt);
		if (!rc)
			rc = fdt_finish(fdt);
		if (rc == -FDT_ERR_NOSPACE) {
			free(fdt);
			continue;
		}
		if (rc) {
			free(fdt);
			if (rc < 0 && rc > -64 && err[0] == '\0')
				seterr(err, errlen, "%s: /: %s", path, fdt_strerror(rc));
			return rc == -ENOMEM ? rc : -EINVAL;
		}
		*blob = fdt;
		*size = fdt_totalsize(fdt);
		return 0;
	}
	seterr(err, errlen, "%s: /: tree larger than %u bytes", path, DT_MAX_BLOB);
	return -EINVAL;
}

/* ---- what a file is -------------------------------------------------------------- */

enum dt_form { DT_FORM_BLOB, DT_FORM_DTS, DT_FORM_DIR };

static enum dt_form form_of(const char *path)
{
	struct stat st;
	unsigned char head[4096];
	size_t got = 0;
	int fd;

	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return DT_FORM_DIR;
	/* O_NONBLOCK: never wait on a FIFO swapped in after the check. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	while (fd >= 0 && got < sizeof(head) - 1) {
		ssize_t r = read(fd, head + got, sizeof(head) - 1 - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	if (fd >= 0)
		close(fd);
	if (got >= 4 && fdt_magic(head) == FDT_MAGIC)
		return DT_FORM_BLOB;
	if (ends_with(path, ".dts") || ends_with(path, ".dtsi"))
		return DT_FORM_DTS;
	head[got] = '\0';
	if (got && memchr(head, '\0', got) == NULL && strstr((char *)head, "/dts-v1/"))
		return DT_FORM_DTS;
	return DT_FORM_BLOB;
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
		free(d->compatible);
		free(d->via);
		free(d->dma_parent);
		free(d->behind.via);
		free(d->behind.dma_parent);
		free(d->iommu_compatible);
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
	if (!rc)
		rc = max_cpu_address(c);
	return rc;
}

int sim_dt_load(const char *path, struct sim_dt **out, char *err,
		size_t errlen)
{
	return sim_dt_load_ex(path, NULL, out, err, errlen);
}

int sim_dt_load_ex(const char *path, const struct sim_dt_load_opts *o,
		   struct sim_dt **out, char *err, size_t errlen)
{
	void *blob = NULL;
	size_t size = 0;
	int rc, frc;
	struct dt_ctx c;
	char scratch[512];

	*out = NULL;
	if (!err || !errlen) {
		err = scratch;
		errlen = sizeof(scratch);
	}
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
	if ((rc = tree_file(path, err, errlen)))
		return rc;
	switch (form_of(path)) {
	case DT_FORM_DIR:
		rc = read_dir(path, &blob, &size, err, errlen);
		break;
	case DT_FORM_DTS:
		rc = compile_dts(path, o, &blob, &size, err, errlen);
		break;
	default:
		rc = read_blob(path, path, &blob, &size, err, errlen);
		break;
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

static void explain_one(const struct sim_dt *dt, const struct sim_dt_device *d, FILE *out);

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

		if (d->pci_host) {
			struct sim_dt_device b = *d;

			/* A host bridge stands for the devices on its bus. */
			memcpy(b.ranges, d->behind.ranges, sizeof(b.ranges));
			b.nranges = d->behind.nranges;
			d = &b;
			explain_one(dt, d, out);
			continue;
		}
		explain_one(dt, d, out);
	}
	return ferror(out) ? -EIO : 0;
}

static void explain_one(const struct sim_dt *dt, const struct sim_dt_device *d, FILE *out)
{
	{
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
}

/* ---- machines ---------------------------------------------------------------------- */

/*
 * A tree describes an arm64 machine unless it says otherwise: a root
 * compatible from an x86 vendor (intel, amd) makes it x86.
 */
static bool x86_vendor(const char *compat)
{
	return compat && (strncmp(compat, "intel,", 6) == 0 ||
			  strncmp(compat, "amd,", 4) == 0);
}

int sim_dt_machine_desc(const struct sim_dt *dt, struct sim_machine_desc *md,
			char *err, size_t errlen)
{
	memset(md, 0, sizeof(*md));
	md->arch = x86_vendor(dt->root_compatible) ? DMAMAP_ARCH_X86
						   : DMAMAP_ARCH_ARM64;
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
	if (md->nram == 0 && dt->nram) {
		seterr(err, errlen, "%s: /memory: no RAM of at least 4 KiB",
		       dt->file);
		return -EINVAL;
	}
	sim_dt_zone_dma(dt, md);
	return 0;
}

void sim_dt_zone_dma(const struct sim_dt *dt, struct sim_machine_desc *md)
{
	uint64_t limit, end;

	md->zone_dma_limit = 0;
	if (md->arch != DMAMAP_ARCH_ARM64 || md->nram == 0)
		return;
	/*
	 * arm64's zone_sizes_init and max_zone_phys: ZONE_DMA ends at
	 * of_dma_get_max_cpu_address, at most 4 GiB - 1 when RAM starts below
	 * 4 GiB, and never beyond the end of RAM.  The platform fact is the
	 * last byte of the zone (Linux's arm64_dma_phys_limit - 1, which is
	 * also ARCH_LOW_ADDRESS_LIMIT, where the bounce pool must lie).
	 */
	limit = dt->max_cpu_address;
	if (md->ram[0].base < 0xffffffffULL && limit > 0xffffffffULL)
		limit = 0xffffffffULL;
	end = md->ram[md->nram - 1].base + md->ram[md->nram - 1].size - 1;
	if (limit > end)
		limit = end;
	/* The simulator's zones end on a page. */
	if ((limit & 4095) != 4095)
		limit = limit > 4095 ? (limit & ~4095ULL) - 1 : 4095;
	md->zone_dma_limit = limit;
}

void sim_dt_device_desc(const struct sim_dt_device *d, unsigned int addr_bits,
			struct sim_device_desc *out)
{
	/* A host bridge's path stands for a device on its bus. */
	const struct dmamap_dma_range *r = d->pci_host ? d->behind.ranges : d->ranges;
	unsigned int n = d->pci_host ? d->behind.nranges : d->nranges;

	memset(out, 0, sizeof(*out));
	out->name = d->path;
	out->bus = d->is_pci ? DMAMAP_BUS_PCI : DMAMAP_BUS_PLATFORM;
	out->addr_bits = addr_bits;
	out->coherent = d->coherent;
	memcpy(out->ranges, r, sizeof(r[0]) * n);
	out->nranges = n;
	out->bus_dma_limit = d->pci_host ? d->behind.bus_dma_limit : d->bus_dma_limit;
}
