/*
 * tests/cmd/test_svg.c - the SVG address map (tools/svg.c).
 *
 * Owns: proofs, on hand-made reports, that the picture carries exactly
 * the report's ranges, windows and marks as machine-readable elements
 * (svg.h's contract), that positions are monotonic in the address, that
 * holes are never drawn as RAM, that names are escaped, that the output
 * is well-formed XML and deterministic, and that write errors are
 * reported.  Needs no simulator and never touches the library; writes
 * only its own temporary file (and $SVG_SAMPLE when set: a sample picture
 * for a person to look at).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "tu_assert.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "svg.h"

#define KIB (1ULL << 10)
#define MIB (1ULL << 20)
#define GIB (1ULL << 30)
#define TIB (1ULL << 40)

/* ---- building reports ----------------------------------------------------- */

static struct rpt_device devs[8];

static void range(struct rpt_range *r, uint64_t first, uint64_t last, const char *name)
{
	r->first = first;
	r->last = last;
	snprintf(r->name, sizeof(r->name), "%s", name ? name : "");
}

static struct rpt_device *dev(struct rpt_report *r, const char *name, const char *ops,
			      unsigned int bits)
{
	struct rpt_device *d = &devs[r->ndevices++];
	memset(d, 0, sizeof(*d));
	snprintf(d->name, sizeof(d->name), "%s", name);
	snprintf(d->ops, sizeof(d->ops), "%s", ops);
	d->dma_mask_bits = d->coherent_mask_bits = bits;
	r->devices = devs;
	return d;
}

static void window(struct rpt_device *d, uint64_t first, uint64_t last)
{
	range(&d->windows[d->nwindows++], first, last, NULL);
}

static void mark(struct rpt_device *d, uint64_t first, uint64_t last, bool bounced, uint64_t n)
{
	d->marks[d->nmarks++] = (struct rpt_mark){ first, last, bounced, n };
}

/*
 * The brief's machine: RAM 0-2G and 4G-10G, a 64 MiB swiotlb pool just
 * below 2 GiB, a reserved region, a 32-bit NIC (3 direct, 2 bounced marks)
 * and a 44-bit GPU that reaches everything.
 */
static void sample(struct rpt_report *r)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->scenario, sizeof(r->scenario), "nic-and-gpu");
	r->pass = true;
	r->swiotlb = (struct rpt_swiotlb){ .enabled = true, .boot_total_bytes = 64 * MIB,
		.total_bytes = 64 * MIB, .below_4g_bytes = 64 * MIB,
		.used_hiwater_bytes = 3 * MIB, .bounced_bytes = 40 * MIB };
	range(&r->ram[r->nram++], 0, 2 * GIB - 1, NULL);
	range(&r->ram[r->nram++], 4 * GIB, 10 * GIB - 1, NULL);
	range(&r->pools[r->npools++], 0x7c000000, 0x7fffffff, "swiotlb");
	range(&r->reserved[r->nreserved++], 0x3e000000, 0x3fffffff, "framebuffer");
	struct rpt_device *nic = dev(r, "nic", "swiotlb", 32);
	window(nic, 0, 0xffffffff);
	mark(nic, 0x01000000, 0x0100ffff, false, 16);
	mark(nic, 0x20000000, 0x2003ffff, false, 64);
	mark(nic, 0x40000000, 0x40000fff, false, 1);
	mark(nic, 0x180000000ULL, 0x1800fffffULL, true, 256);
	mark(nic, 0x240000000ULL, 0x2400fffffULL, true, 256);
	struct rpt_device *gpu = dev(r, "gpu", "direct", 44);
	mark(gpu, 0x200000000ULL, 0x23fffffffULL, false, 4096);
	r->ops_total = 12345;
	r->seconds = 0.25;
}

/* ---- reading the picture --------------------------------------------------- */

static char *render(const struct rpt_report *r)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	assert_int_equal(rpt_svg_write(r, f), 0);
	assert_int_equal(fclose(f), 0);
	assert_non_null(buf);
	assert_int_equal(strlen(buf), len);
	return buf;
}

/* Count of non-overlapping occurrences of needle. */
static unsigned int count(const char *s, const char *needle)
{
	unsigned int n = 0;
	for (const char *p = strstr(s, needle); p; p = strstr(p + strlen(needle), needle))
		n++;
	return n;
}

/* The start tags "<tag class="cls"", in document order. */
struct el {
	const char *tag;   /* points at '<' */
};

static unsigned int elements(const char *svg, const char *tag, const char *cls, struct el *out,
			     unsigned int max)
{
	char needle[128];
	snprintf(needle, sizeof(needle), "<%s class=\"%s\"", tag, cls);
	unsigned int n = 0;
	for (const char *p = strstr(svg, needle); p; p = strstr(p + 1, needle)) {
		tu_assert_lt(n, max);
		out[n++].tag = p;
	}
	return n;
}

/* An attribute's raw value (still escaped) within one start tag. */
static bool attr(const struct el *e, const char *name, char *buf, size_t n)
{
	const char *end = strchr(e->tag, '>');
	assert_non_null(end);
	char needle[96];
	snprintf(needle, sizeof(needle), " %s=\"", name);
	const char *p = strstr(e->tag, needle);
	if (!p || p > end)
		return false;
	p += strlen(needle);
	const char *q = strchr(p, '"');
	assert_non_null(q);
	assert_true(q < end);
	tu_assert_lt((size_t)(q - p), n);
	memcpy(buf, p, (size_t)(q - p));
	buf[q - p] = 0;
	return true;
}

static const char *attr_s(const struct el *e, const char *name)
{
	static char buf[8][512];
	static unsigned int slot;
	char *b = buf[slot++ % 8];
	if (!attr(e, name, b, 512))
		fail_msg("no %s in %.80s", name, e->tag);
	return b;
}

static uint64_t attr_u64(const struct el *e, const char *name)
{
	return strtoull(attr_s(e, name), NULL, 0);
}

static double attr_d(const struct el *e, const char *name)
{
	return strtod(attr_s(e, name), NULL);
}

static double root_attr(const char *svg, const char *name)
{
	struct el root = { strstr(svg, "<svg ") };
	assert_non_null(root.tag);
	return attr_d(&root, name);
}

/* ---- well-formedness ------------------------------------------------------- */

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == ':' || c == '.';
}

/* An entity reference at s ('&'): its length, or 0 when not one XML knows. */
static size_t entity(const char *s)
{
	static const char *const known[] = { "&amp;", "&lt;", "&gt;", "&quot;", "&apos;" };
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (!strncmp(s, known[i], strlen(known[i])))
			return strlen(known[i]);
	if (s[1] == '#') {
		size_t i = 2;
		bool hex = s[2] == 'x';
		if (hex)
			i++;
		size_t start = i;
		while ((s[i] >= '0' && s[i] <= '9') ||
		       (hex && ((s[i] >= 'a' && s[i] <= 'f') || (s[i] >= 'A' && s[i] <= 'F'))))
			i++;
		if (i > start && s[i] == ';')
			return i + 1;
	}
	return 0;
}

/* Every byte sequence is well-formed UTF-8 and no control character. */
static void check_utf8(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	while (*u) {
		unsigned char c = *u;
		size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3
			   : (c & 0xf8) == 0xf0 ? 4 : 0;
		if (!len || (c < 0x20 && c != '\n' && c != '\t' && c != '\r'))
			fail_msg("bad byte 0x%02x at offset %zu", c, (size_t)(u - (const unsigned char *)s));
		for (size_t i = 1; i < len; i++)
			if ((u[i] & 0xc0) != 0x80)
				fail_msg("bad UTF-8 at offset %zu", (size_t)(u - (const unsigned char *)s));
		u += len;
	}
}

/*
 * A small XML checker: one prolog, one root, tags balance, attributes are
 * quoted and unique, and '<' or a bare '&' appear nowhere in text or
 * attribute values.  Enough to catch what a writer can get wrong.
 */
static void check_wellformed(const char *s)
{
	check_utf8(s);
	const char *stack[64];
	size_t stack_len[64];
	int depth = 0, roots = 0;
	const char *p = s;
	assert_true(!strncmp(p, "<?xml ", 6));
	p = strstr(p, "?>");
	assert_non_null(p);
	p += 2;
	while (*p) {
		if (*p != '<') {
			if (*p == '&') {
				size_t l = entity(p);
				if (!l)
					fail_msg("bare '&' at offset %zu", (size_t)(p - s));
				p += l;
				continue;
			}
			if (!depth && *p != '\n' && *p != ' ')
				fail_msg("text outside the root at offset %zu", (size_t)(p - s));
			p++;
			continue;
		}
		if (!strncmp(p, "<!--", 4)) {
			p = strstr(p, "-->");
			assert_non_null(p);
			p += 3;
			continue;
		}
		if (p[1] == '/') {
			const char *n = p + 2, *e = n;
			while (name_char(*e))
				e++;
			assert_true(e > n);
			assert_int_equal(*e, '>');
			if (!depth)
				fail_msg("close tag with nothing open at offset %zu", (size_t)(p - s));
			depth--;
			if (stack_len[depth] != (size_t)(e - n) || strncmp(stack[depth], n, (size_t)(e - n)))
				fail_msg("</%.*s> closes <%.*s> at offset %zu", (int)(e - n), n,
					 (int)stack_len[depth], stack[depth], (size_t)(p - s));
			p = e + 1;
			continue;
		}
		const char *n = p + 1, *e = n;
		while (name_char(*e))
			e++;
		if (e == n)
			fail_msg("'<' without a tag name at offset %zu", (size_t)(p - s));
		if (!depth && roots++)
			fail_msg("a second root element at offset %zu", (size_t)(p - s));
		p = e;
		char seen[64][48];
		int nseen = 0;
		for (;;) {
			while (*p == ' ' || *p == '\n')
				p++;
			if (p[0] == '/' && p[1] == '>') {
				p += 2;
				break;
			}
			if (*p == '>') {
				tu_assert_lt(depth, 64);
				stack[depth] = n;
				stack_len[depth++] = (size_t)(e - n);
				p++;
				break;
			}
			const char *an = p;
			while (name_char(*p))
				p++;
			if (p == an || p[0] != '=' || p[1] != '"')
				fail_msg("bad attribute at offset %zu: %.40s", (size_t)(an - s), an);
			tu_assert_lt(nseen, 64);
			tu_assert_lt(p - an, 48);
			snprintf(seen[nseen], sizeof(seen[0]), "%.*s", (int)(p - an), an);
			for (int i = 0; i < nseen; i++)
				if (!strcmp(seen[i], seen[nseen]))
					fail_msg("attribute %s twice at offset %zu", seen[i], (size_t)(an - s));
			nseen++;
			p += 2;
			while (*p != '"') {
				if (!*p || *p == '<')
					fail_msg("'<' or end inside an attribute at offset %zu", (size_t)(p - s));
				if (*p == '&') {
					size_t l = entity(p);
					if (!l)
						fail_msg("bare '&' in an attribute at offset %zu", (size_t)(p - s));
					p += l;
				} else {
					p++;
				}
			}
			p++;
		}
	}
	assert_int_equal(depth, 0);
	assert_int_equal(roots, 1);
}

/* The checker itself rejects what it must. */
static void test_checker_self(void **state)
{
	(void)state;
	check_wellformed("<?xml version=\"1.0\"?>\n<a x=\"1\"><b/>t &amp; &#x3c;</a>\n");
	/* (Failing inputs abort the test, so they are only argued here: an
	 * unbalanced "<a><b></a>" hits the name compare, "<a x=1>" the quote
	 * check, "a & b" the entity check.) */
	assert_int_equal(entity("&amp;"), 5);
	assert_int_equal(entity("&#60;"), 5);
	assert_int_equal(entity("& b"), 0);
	assert_int_equal(entity("&lt"), 0);
	assert_int_equal(count("aXbXXc", "X"), 3);
}

/* ---- the tests ---------------------------------------------------------- */

#define MAXEL 256

static void test_sample_contents(void **state)
{
	(void)state;
	struct rpt_report r;
	sample(&r);
	char *svg = render(&r);
	check_wellformed(svg);

	const char *dump = getenv("SVG_SAMPLE");
	if (dump) {
		FILE *f = fopen(dump, "w");
		assert_non_null(f);
		fputs(svg, f);
		fclose(f);
	}

	struct el e[MAXEL];
	assert_int_equal(elements(svg, "rect", "ram", e, MAXEL), 2);
	assert_string_equal(attr_s(&e[0], "data-first"), "0x0");
	assert_string_equal(attr_s(&e[0], "data-last"), "0x7fffffff");
	assert_string_equal(attr_s(&e[1], "data-first"), "0x100000000");
	assert_string_equal(attr_s(&e[1], "data-last"), "0x27fffffff");

	assert_int_equal(elements(svg, "rect", "hole", e, MAXEL), 1);
	assert_string_equal(attr_s(&e[0], "data-first"), "0x80000000");
	assert_string_equal(attr_s(&e[0], "data-last"), "0xffffffff");

	assert_int_equal(elements(svg, "rect", "pool", e, MAXEL), 1);
	assert_string_equal(attr_s(&e[0], "data-first"), "0x7c000000");
	assert_string_equal(attr_s(&e[0], "data-last"), "0x7fffffff");
	assert_string_equal(attr_s(&e[0], "data-name"), "swiotlb");
	assert_string_equal(attr_s(&e[0], "data-kind"), "swiotlb");
	assert_non_null(strstr(svg, ">swiotlb 64 MiB</text>"));

	assert_int_equal(elements(svg, "rect", "reserved", e, MAXEL), 1);
	assert_string_equal(attr_s(&e[0], "data-name"), "framebuffer");
	assert_string_equal(attr_s(&e[0], "data-first"), "0x3e000000");

	assert_int_equal(elements(svg, "g", "device", e, MAXEL), 2);
	assert_string_equal(attr_s(&e[0], "data-device"), "nic");
	assert_string_equal(attr_s(&e[0], "data-ops"), "swiotlb");
	assert_string_equal(attr_s(&e[0], "data-mask-bits"), "32");
	assert_string_equal(attr_s(&e[1], "data-device"), "gpu");
	assert_string_equal(attr_s(&e[1], "data-mask-bits"), "44");

	assert_int_equal(elements(svg, "rect", "window", e, MAXEL), 2);
	assert_string_equal(attr_s(&e[0], "data-device"), "nic");
	assert_string_equal(attr_s(&e[0], "data-first"), "0x0");
	assert_string_equal(attr_s(&e[0], "data-last"), "0xffffffff");
	assert_string_equal(attr_s(&e[0], "data-all"), "0");
	assert_string_equal(attr_s(&e[1], "data-device"), "gpu");
	assert_string_equal(attr_s(&e[1], "data-all"), "1");

	assert_int_equal(elements(svg, "rect", "mark", e, MAXEL), 6);
	unsigned int bounced = 0, nic = 0;
	for (unsigned int i = 0; i < 6; i++) {
		bool b = !strcmp(attr_s(&e[i], "data-bounced"), "1");
		bounced += b;
		nic += !strcmp(attr_s(&e[i], "data-device"), "nic");
		assert_string_equal(attr_s(&e[i], "fill"), b ? "#f08c00" : "#2e9e44");
	}
	assert_int_equal(bounced, 2);
	assert_int_equal(nic, 5);
	assert_string_equal(attr_s(&e[3], "data-first"), "0x180000000");
	assert_string_equal(attr_s(&e[3], "data-last"), "0x1800fffff");
	assert_string_equal(attr_s(&e[3], "data-count"), "256");

	/* Header: name, verdict, swiotlb summary. */
	assert_int_equal(elements(svg, "tspan", "verdict", e, MAXEL), 1);
	assert_string_equal(attr_s(&e[0], "data-pass"), "1");
	assert_string_equal(attr_s(&e[0], "fill"), "#1e8e3e");
	assert_non_null(strstr(svg, ">PASS</tspan>"));
	assert_non_null(strstr(svg, "nic-and-gpu"));
	assert_int_equal(elements(svg, "text", "summary", e, MAXEL), 1);
	assert_int_equal(attr_u64(&e[0], "data-total"), 64 * MIB);
	assert_int_equal(attr_u64(&e[0], "data-hiwater"), 3 * MIB);
	assert_int_equal(attr_u64(&e[0], "data-bounced"), 40 * MIB);
	assert_non_null(strstr(svg, "swiotlb: 64 MiB total"));
	assert_non_null(strstr(svg, "high-water 3 MiB used"));
	assert_non_null(strstr(svg, "40 MiB bounced"));

	/* Human tick labels; the 4 GiB and 16 MiB boundaries. */
	assert_non_null(strstr(svg, ">0x100000000 (4 GiB)</text>"));
	assert_non_null(strstr(svg, ">0x80000000 (2 GiB)</text>"));
	assert_non_null(strstr(svg, ">0x280000000 (10 GiB)</text>"));
	assert_int_equal(elements(svg, "line", "boundary", e, MAXEL), 2);
	assert_string_equal(attr_s(&e[0], "data-addr"), "0x1000000");
	assert_string_equal(attr_s(&e[1], "data-addr"), "0x100000000");
	assert_non_null(strstr(svg, ">4 GiB (32-bit)</text>"));
	/* The 44-bit GPU's boundary (16 TiB) lies beyond the span. */
	assert_null(strstr(svg, "data-bits=\"44\""));
	/* No marks were dropped: no note. */
	assert_int_equal(count(svg, "class=\"note\""), 0);
	/* The legend names every colour. */
	assert_non_null(strstr(svg, ">bounced buffer</text>"));
	assert_non_null(strstr(svg, ">restricted pool</text>"));
	free(svg);
}

/* x grows with the address over RAM, holes, marks and ticks alike. */
static void test_monotonic(void **state)
{
	(void)state;
	struct rpt_report r;
	memset(&r, 0, sizeof(r));
	snprintf(r.scenario, sizeof(r.scenario), "sparse");
	/* Sizes from 4 KiB to 16 TiB, holes from 4 KiB to petabytes. */
	range(&r.ram[r.nram++], 0x1000, 0x1fff, NULL);
	range(&r.ram[r.nram++], 1 * MIB, 16 * MIB - 1, NULL);
	range(&r.ram[r.nram++], 16 * MIB, 2 * GIB - 1, NULL);   /* touches: no hole */
	range(&r.ram[r.nram++], 4 * GIB, 6 * GIB - 1, NULL);
	range(&r.ram[r.nram++], 6 * GIB + 4 * KIB, 7 * GIB - 1, NULL);
	range(&r.ram[r.nram++], 1 * TIB, 17 * TIB - 1, NULL);
	range(&r.ram[r.nram++], 1ULL << 56, (1ULL << 56) + 64 * MIB - 1, NULL);
	struct rpt_device *d = dev(&r, "walker", "direct", 64);
	uint64_t at[] = { 0x1000, 2 * MIB, 1 * GIB, 3 * GIB, 4 * GIB + 4096, 6 * GIB,
			  2 * TIB, 16 * TIB, (1ULL << 56) + 1 };
	for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++)
		mark(d, at[i], at[i] + 4095, i % 2, 1);
	char *svg = render(&r);
	check_wellformed(svg);

	/* RAM and holes together, ordered by address: their rectangles
	 * follow each other left to right without overlapping. */
	struct el ram[MAXEL], hole[MAXEL], all[2 * MAXEL];
	unsigned int nr = elements(svg, "rect", "ram", ram, MAXEL);
	unsigned int nh = elements(svg, "rect", "hole", hole, MAXEL);
	assert_int_equal(nr, 7);
	/* Holes: 0-0xfff, 0x2000-1M-1, 2G-4G-1, 6G..6G+4K-1, 7G-1T-1, 17T-2^56-1. */
	assert_int_equal(nh, 6);
	unsigned int n = 0;
	for (unsigned int i = 0; i < nr; i++)
		all[n++] = ram[i];
	for (unsigned int i = 0; i < nh; i++)
		all[n++] = hole[i];
	for (unsigned int i = 0; i < n; i++)
		for (unsigned int j = 0; j < n; j++) {
			if (attr_u64(&all[i], "data-first") >= attr_u64(&all[j], "data-first"))
				continue;
			double xi = attr_d(&all[i], "x"), wi = attr_d(&all[i], "width");
			double xj = attr_d(&all[j], "x");
			if (!(xi < xj && xi + wi <= xj + 0.15))
				fail_msg("%s at x %g (w %g) vs %s at x %g", attr_s(&all[i], "data-first"),
					 xi, wi, attr_s(&all[j], "data-first"), xj);
		}
	/* Each hole is the same narrow width; every RAM run is wider. */
	double hw = attr_d(&hole[0], "width");
	for (unsigned int i = 0; i < nh; i++)
		tu_assert_eq(attr_d(&hole[i], "width"), hw);
	for (unsigned int i = 0; i < nr; i++)
		tu_assert_ge(attr_d(&ram[i], "width"), 2.0);

	struct el mk[MAXEL];
	unsigned int nm = elements(svg, "rect", "mark", mk, MAXEL);
	assert_int_equal(nm, sizeof(at) / sizeof(at[0]));
	for (unsigned int i = 1; i < nm; i++) {
		tu_assert_lt(attr_u64(&mk[i - 1], "data-first"),
			     attr_u64(&mk[i], "data-first"));
		tu_assert_lt(attr_d(&mk[i - 1], "x"), attr_d(&mk[i], "x"));
		tu_assert_ge(attr_d(&mk[i], "width"), 3.0);
	}

	struct el tk[MAXEL];
	unsigned int nt = elements(svg, "line", "tick", tk, MAXEL);
	tu_assert_ge(nt, nr + nh + 1);
	for (unsigned int i = 0; i < nt; i++)
		for (unsigned int j = 0; j < nt; j++)
			if (attr_u64(&tk[i], "data-addr") < attr_u64(&tk[j], "data-addr"))
				tu_assert_lt(attr_d(&tk[i], "x1"), attr_d(&tk[j], "x1"));

	/* Everything on the axis stays inside it. */
	double x0 = root_attr(svg, "data-plot-x0"), x1 = root_attr(svg, "data-plot-x1");
	for (unsigned int i = 0; i < n; i++) {
		tu_assert_ge(attr_d(&all[i], "x"), x0 - 0.05);
		tu_assert_le(attr_d(&all[i], "x") + attr_d(&all[i], "width"), x1 + 0.15);
	}
	free(svg);
}

/* An address inside a hole is drawn in the hole, never as RAM. */
static void test_hole_not_ram(void **state)
{
	(void)state;
	struct rpt_report r;
	memset(&r, 0, sizeof(r));
	/* RAM from 2 GiB (a leading hole), a gap 3G-5G, a mark inside it. */
	range(&r.ram[r.nram++], 2 * GIB, 3 * GIB - 1, NULL);
	range(&r.ram[r.nram++], 5 * GIB, 8 * GIB - 1, NULL);
	struct rpt_device *d = dev(&r, "odd", "direct", 64);
	mark(d, 4 * GIB, 4 * GIB + 4095, false, 1);
	char *svg = render(&r);
	check_wellformed(svg);

	struct el ram[MAXEL], hole[MAXEL], mk[MAXEL];
	assert_int_equal(elements(svg, "rect", "ram", ram, MAXEL), 2);
	assert_int_equal(elements(svg, "rect", "hole", hole, MAXEL), 2);
	assert_string_equal(attr_s(&hole[0], "data-first"), "0x0");
	assert_string_equal(attr_s(&hole[0], "data-last"), "0x7fffffff");
	assert_string_equal(attr_s(&hole[1], "data-first"), "0xc0000000");
	assert_string_equal(attr_s(&hole[1], "data-last"), "0x13fffffff");
	for (unsigned int h = 0; h < 2; h++) {
		double hx = attr_d(&hole[h], "x"), hx1 = hx + attr_d(&hole[h], "width");
		uint64_t hf = attr_u64(&hole[h], "data-first"), hl = attr_u64(&hole[h], "data-last");
		for (unsigned int i = 0; i < 2; i++) {
			double rx = attr_d(&ram[i], "x"), rx1 = rx + attr_d(&ram[i], "width");
			/* No horizontal overlap beyond rounding. */
			assert_true(rx1 <= hx + 0.15 || rx >= hx1 - 0.15);
			uint64_t rf = attr_u64(&ram[i], "data-first"), rl = attr_u64(&ram[i], "data-last");
			assert_true(rl < hf || rf > hl);
		}
	}
	/* The 4 GiB mark falls inside the second hole's rectangle. */
	assert_int_equal(elements(svg, "rect", "mark", mk, MAXEL), 1);
	double mx = attr_d(&mk[0], "x");
	tu_assert_ge(mx, attr_d(&hole[1], "x"));
	tu_assert_le(mx + 3.0, attr_d(&hole[1], "x") + attr_d(&hole[1], "width") + 0.15);
	/* The 4 GiB boundary is in the span (inside the hole) and drawn. */
	assert_non_null(strstr(svg, "class=\"boundary\" data-addr=\"0x100000000\""));
	free(svg);
}

static void test_escaping(void **state)
{
	(void)state;
	struct rpt_report r;
	sample(&r);
	snprintf(r.scenario, sizeof(r.scenario), "a<b&c\"d'e>f");
	snprintf(devs[0].name, sizeof(devs[0].name), "nic<&\"'>");
	snprintf(devs[1].name, sizeof(devs[1].name), "bad\x01\xff\xc3(byte");
	snprintf(r.pools[0].name, sizeof(r.pools[0].name), "pool&<x>");
	char *problems[] = { "expect <a> & \"b\"" };
	r.problems = problems;
	r.nproblems = 1;
	r.pass = false;
	char *svg = render(&r);
	check_wellformed(svg);

	assert_non_null(strstr(svg, "a&lt;b&amp;c&quot;d&apos;e&gt;f"));
	assert_null(strstr(svg, "a<b"));
	assert_null(strstr(svg, "nic<"));
	assert_non_null(strstr(svg, "data-device=\"nic&lt;&amp;&quot;&apos;&gt;\""));
	assert_non_null(strstr(svg, "data-name=\"pool&amp;&lt;x&gt;\""));
	assert_non_null(strstr(svg, "expect &lt;a&gt; &amp; &quot;b&quot;"));
	/* A control character and broken UTF-8 become '?'. */
	assert_non_null(strstr(svg, "data-device=\"bad??" "?(byte\""));

	struct el e[MAXEL];
	assert_int_equal(elements(svg, "tspan", "verdict", e, MAXEL), 1);
	assert_string_equal(attr_s(&e[0], "data-pass"), "0");
	assert_string_equal(attr_s(&e[0], "fill"), "#d93025");
	assert_non_null(strstr(svg, ">FAIL</tspan>"));
	assert_int_equal(count(svg, "class=\"problem\""), 1);
	free(svg);
}

/* A long name is cut in the label column (on a character boundary) but
 * kept whole in the attributes. */
static void test_long_utf8_name(void **state)
{
	(void)state;
	struct rpt_report r;
	sample(&r);
	char name[200] = "";
	for (int i = 0; i < 40; i++)
		strcat(name, "\xc3\xa9");   /* é */
	snprintf(devs[0].name, sizeof(devs[0].name), "%s", name);
	char *svg = render(&r);
	check_wellformed(svg);
	char want[256];
	snprintf(want, sizeof(want), "data-device=\"%s\"", name);
	assert_non_null(strstr(svg, want));
	char cut[200] = "";
	for (int i = 0; i < 29; i++)
		strcat(cut, "\xc3\xa9");
	snprintf(want, sizeof(want), ">%s\xe2\x80\xa6</text>", cut);
	assert_non_null(strstr(svg, want));
	free(svg);
}

static void test_full_window(void **state)
{
	(void)state;
	struct rpt_report r;
	sample(&r);
	char *svg = render(&r);
	double x0 = root_attr(svg, "data-plot-x0"), x1 = root_attr(svg, "data-plot-x1");
	tu_assert_gt(x0, 100);
	tu_assert_gt(x1, x0);
	struct el e[MAXEL];
	assert_int_equal(elements(svg, "rect", "window", e, MAXEL), 2);
	/* The GPU (nwindows 0) reaches everything: the whole axis. */
	assert_string_equal(attr_s(&e[1], "data-first"), "0x0");
	assert_string_equal(attr_s(&e[1], "data-last"), "0xffffffffffffffff");
	tu_assert_eq(attr_d(&e[1], "x"), x0);
	tu_assert_eq(attr_d(&e[1], "width"), x1 - x0);
	/* The NIC's 32-bit window starts at the axis and ends at the 4 GiB
	 * tick, well short of the end. */
	double nx = attr_d(&e[0], "x"), nw = attr_d(&e[0], "width");
	tu_assert_eq(nx, x0);
	struct el tk[MAXEL];
	unsigned int nt = elements(svg, "line", "tick", tk, MAXEL);
	bool found = false;
	for (unsigned int i = 0; i < nt; i++)
		if (!strcmp(attr_s(&tk[i], "data-addr"), "0x100000000")) {
			tu_assert_lt(attr_d(&tk[i], "x1") - (nx + nw), 0.15);
			tu_assert_gt(attr_d(&tk[i], "x1") - (nx + nw), -0.15);
			found = true;
		}
	assert_true(found);
	tu_assert_lt(nx + nw, x1 - 100);
	free(svg);
}

static void test_marks_and_note(void **state)
{
	(void)state;
	struct rpt_report r;
	memset(&r, 0, sizeof(r));
	range(&r.ram[r.nram++], 0, 16 * TIB - 1, NULL);
	struct rpt_device *d = dev(&r, "tiny", "swiotlb", 32);
	window(d, 0, 0xffffffff);
	mark(d, 0x1234, 0x1234, false, 1);           /* one byte on 16 TiB */
	mark(d, 16 * TIB - 1, 16 * TIB - 1, true, 1); /* the very last byte */
	d->marks_dropped = 7;
	char *svg = render(&r);
	check_wellformed(svg);
	double x1 = root_attr(svg, "data-plot-x1");
	struct el e[MAXEL];
	assert_int_equal(elements(svg, "rect", "mark", e, MAXEL), 2);
	for (unsigned int i = 0; i < 2; i++) {
		tu_assert_ge(attr_d(&e[i], "width"), 3.0);
		tu_assert_le(attr_d(&e[i], "x") + attr_d(&e[i], "width"), x1 + 0.05);
	}
	assert_string_equal(attr_s(&e[1], "data-bounced"), "1");
	assert_int_equal(elements(svg, "text", "note", e, MAXEL), 1);
	assert_string_equal(attr_s(&e[0], "data-device"), "tiny");
	assert_string_equal(attr_s(&e[0], "data-marks-dropped"), "7");
	assert_non_null(strstr(svg, "+7 placements not drawn"));
	assert_non_null(strstr(svg, "data-marks-dropped=\"7\">"));
	/* One RAM range, no hole; boundaries at 16 MiB and 4 GiB. */
	assert_int_equal(count(svg, "<rect class=\"hole\""), 0);
	assert_int_equal(count(svg, "<line class=\"boundary\""), 2);
	assert_non_null(strstr(svg, ">RAM 16 TiB</text>"));
	free(svg);
}

/* Boundaries: only powers of two inside the span; devices add theirs. */
static void test_boundaries(void **state)
{
	(void)state;
	struct rpt_report r;
	memset(&r, 0, sizeof(r));
	range(&r.ram[r.nram++], 32 * MIB, 2 * GIB - 1, NULL);
	char *svg = render(&r);
	check_wellformed(svg);
	/* 16 MiB is in the leading hole: drawn; 4 GiB is beyond the span. */
	assert_int_equal(count(svg, "<line class=\"boundary\""), 1);
	assert_non_null(strstr(svg, "data-addr=\"0x1000000\" data-bits=\"24\""));
	free(svg);

	range(&r.ram[r.nram++], 4 * GIB, 100 * GIB - 1, NULL);
	dev(&r, "dev36", "swiotlb", 36);
	dev(&r, "dev40", "direct", 40)->coherent_mask_bits = 30;
	svg = render(&r);
	check_wellformed(svg);
	struct el e[MAXEL];
	/* 16M, 1G (coherent 30), 4G, 64G (36-bit); 40-bit (1 TiB) is out. */
	assert_int_equal(elements(svg, "line", "boundary", e, MAXEL), 4);
	const char *want[] = { "24", "30", "32", "36" };
	for (unsigned int i = 0; i < 4; i++) {
		assert_string_equal(attr_s(&e[i], "data-bits"), want[i]);
		if (i)
			tu_assert_lt(attr_d(&e[i - 1], "x1"), attr_d(&e[i], "x1"));
	}
	assert_non_null(strstr(svg, ">64 GiB (36-bit)</text>"));
	assert_non_null(strstr(svg, "(coherent 30)"));
	free(svg);

	/* RAM ending exactly at 4 GiB: the boundary sits on the axis end. */
	memset(&r, 0, sizeof(r));
	range(&r.ram[r.nram++], 0, 4 * GIB - 1, NULL);
	svg = render(&r);
	assert_int_equal(elements(svg, "line", "boundary", e, MAXEL), 2);
	tu_assert_eq(attr_d(&e[1], "x1"), root_attr(svg, "data-plot-x1"));
	free(svg);
}

static void test_pool_kinds_and_crowding(void **state)
{
	(void)state;
	struct rpt_report r;
	memset(&r, 0, sizeof(r));
	/* Every table full: 16 RAM ranges with holes, 16 pools, 16 reserved. */
	for (unsigned int i = 0; i < RPT_MAX_RANGES; i++)
		range(&r.ram[r.nram++], i * 8 * GIB, i * 8 * GIB + (i + 1) * 256 * MIB - 1, NULL);
	const char *names[] = { "swiotlb", "swiotlb (grown)", "restricted", "dma-pool@9000" };
	for (unsigned int i = 0; i < RPT_MAX_RANGES; i++)
		range(&r.pools[r.npools++], i * 8 * GIB + 64 * MIB, i * 8 * GIB + 96 * MIB - 1,
		      names[i % 4]);
	for (unsigned int i = 0; i < RPT_MAX_RANGES; i++)
		range(&r.reserved[r.nreserved++], i * 8 * GIB + 4096, i * 8 * GIB + 8191, "rsv");
	struct rpt_device *d = dev(&r, "busy", "swiotlb", 34);
	for (unsigned int i = 0; i < RPT_MAX_WINDOWS; i++)
		window(d, i * 16 * GIB, i * 16 * GIB + GIB - 1);
	for (unsigned int i = 0; i < RPT_MAX_MARKS; i++)
		mark(d, i * 2 * GIB, i * 2 * GIB + 4095, i & 1, i);
	char *svg = render(&r);
	check_wellformed(svg);
	struct el e[MAXEL];
	assert_int_equal(elements(svg, "rect", "ram", e, MAXEL), 16);
	assert_int_equal(elements(svg, "rect", "hole", e, MAXEL), 15);
	assert_int_equal(elements(svg, "rect", "reserved", e, MAXEL), 16);
	assert_int_equal(elements(svg, "rect", "window", e, MAXEL), 8);
	assert_int_equal(elements(svg, "rect", "mark", e, MAXEL), 64);
	assert_int_equal(elements(svg, "rect", "pool", e, MAXEL), 16);
	const char *kinds[] = { "swiotlb", "swiotlb-grown", "restricted", "restricted" };
	for (unsigned int i = 0; i < 16; i++) {
		assert_string_equal(attr_s(&e[i], "data-kind"), kinds[i % 4]);
		tu_assert_ge(attr_d(&e[i], "width"), 2.0);
	}
	double x0 = root_attr(svg, "data-plot-x0"), x1 = root_attr(svg, "data-plot-x1");
	double h = root_attr(svg, "height");
	/* Nothing falls off the picture. */
	const char *classes[] = { "ram", "hole", "pool", "reserved", "window", "mark" };
	for (size_t c = 0; c < sizeof(classes) / sizeof(classes[0]); c++) {
		unsigned int n = elements(svg, "rect", classes[c], e, MAXEL);
		for (unsigned int i = 0; i < n; i++) {
			tu_assert_ge(attr_d(&e[i], "x"), x0 - 0.05);
			tu_assert_le(attr_d(&e[i], "x") + attr_d(&e[i], "width"),
				     x1 + 0.15);
			tu_assert_le(attr_d(&e[i], "y") + attr_d(&e[i], "height"), h);
		}
	}
	free(svg);
}

static void test_height_grows(void **state)
{
	(void)state;
	struct rpt_report r;
	sample(&r);
	r.ndevices = 1;
	char *a = render(&r);
	r.ndevices = 2;
	char *b = render(&r);
	double ha = root_attr(a, "height"), hb = root_attr(b, "height");
	tu_assert_gt(hb, ha);
	tu_assert_eq(root_attr(a, "width"), 1200);
	/* And every text baseline fits the height. */
	struct el e[MAXEL];
	unsigned int n = elements(b, "text", "tick-label", e, MAXEL);
	tu_assert_gt(n, 0);
	for (unsigned int i = 0; i < n; i++)
		tu_assert_lt(attr_d(&e[i], "y"), hb);
	free(a);
	free(b);
}

static void test_deterministic(void **state)
{
	(void)state;
	struct rpt_report r;
	sample(&r);
	char *a = render(&r);
	char *b = render(&r);
	assert_string_equal(a, b);
	r.devices[0].marks[0].count++;
	char *c = render(&r);
	assert_string_not_equal(a, c);
	free(a);
	free(b);
	free(c);
}

/* No memory, no devices: still a valid picture over a default span. */
static void test_empty(void **state)
{
	(void)state;
	struct rpt_report r;
	memset(&r, 0, sizeof(r));
	char *svg = render(&r);
	check_wellformed(svg);
	assert_int_equal(count(svg, "<rect class=\"ram\""), 0);
	assert_int_equal(count(svg, "<rect class=\"hole\""), 0);
	assert_int_equal(count(svg, "<g class=\"device\""), 0);
	assert_non_null(strstr(svg, "swiotlb: off"));
	free(svg);
}

static void test_write_errors(void **state)
{
	(void)state;
	struct rpt_report r;
	sample(&r);
	char err[512] = "";

	const char *bad = "/nonexistent-dmamap-dir/x.svg";
	assert_int_equal(rpt_svg_write_file(&r, bad, err, sizeof(err)), -ENOENT);
	assert_string_equal(err, "/nonexistent-dmamap-dir/x.svg: No such file or directory");

	FILE *full = fopen("/dev/full", "w");
	if (full) {
		assert_int_equal(rpt_svg_write(&r, full), -EIO);
		fclose(full);
		err[0] = 0;
		assert_int_equal(rpt_svg_write_file(&r, "/dev/full", err, sizeof(err)), -ENOSPC);
		assert_string_equal(err, "/dev/full: No space left on device");
	}

	char path[] = "/tmp/test_svg_XXXXXX";
	int fd = mkstemp(path);
	tu_assert_ge(fd, 0);
	close(fd);
	assert_int_equal(rpt_svg_write_file(&r, path, err, sizeof(err)), 0);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	char *want = render(&r);
	size_t n = strlen(want);
	char *got = malloc(n + 2);
	assert_non_null(got);
	assert_int_equal(fread(got, 1, n + 1, f), n);
	got[n] = 0;
	fclose(f);
	unlink(path);
	assert_string_equal(got, want);
	free(got);
	free(want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_checker_self),
		cmocka_unit_test(test_sample_contents),
		cmocka_unit_test(test_monotonic),
		cmocka_unit_test(test_hole_not_ram),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_long_utf8_name),
		cmocka_unit_test(test_full_window),
		cmocka_unit_test(test_marks_and_note),
		cmocka_unit_test(test_boundaries),
		cmocka_unit_test(test_pool_kinds_and_crowding),
		cmocka_unit_test(test_height_grows),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_write_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
