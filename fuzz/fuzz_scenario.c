/*
 * fuzz/fuzz_scenario.c - libFuzzer target: the scenario loader
 * (tools/scenario.c, scn_load_string) on arbitrary text.
 *
 * The loader must never crash, leak or read past its input, and answers
 * either 0 with a scenario or a negative errno with exactly one line
 * "<label>:<line>: <what>" (or "<label>: ..."), as tools/scenario.h says.
 * A loaded scenario's numbers are re-checked against the header's
 * promises (sizes > 0, ranges that do not wrap, counts within maxima).
 * scn_parse_size is fed the same text.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenario.h"

#define FS_LABEL "fuzz/input.yaml"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fs_fail(const char *what)
{
	fprintf(stderr, "fuzz_scenario: %s\n", what);
	abort();
}

static void fs_check(const struct scn *s)
{
	if (s->nram > SCN_MAX_RAM || s->niommus > SCN_MAX_IOMMUS ||
	    s->ndevices > SCN_MAX_DEVICES || s->nworkloads > SCN_MAX_WORKLOADS ||
	    s->nexpects > SCN_MAX_EXPECTS)
		fs_fail("a count beyond its maximum");
	if (!s->has_dt && s->nram == 0)
		fs_fail("a scenario with neither dt nor ram");
	if (memchr(s->name, 0, sizeof(s->name)) == NULL)
		fs_fail("name not terminated");
	for (unsigned int i = 0; i < s->nram; i++)
		if (s->ram[i].size == 0 || s->ram[i].base + s->ram[i].size - 1 < s->ram[i].base)
			fs_fail("a ram range that is empty or wraps");
	for (unsigned int i = 0; i < s->ndevices; i++) {
		const struct scn_device *d = &s->devices[i];
		if (d->dma_bits < 1 || d->dma_bits > 64)
			fs_fail("dma_bits out of 1..64");
		if (d->ndma_ranges > SCN_MAX_DMA_RANGES)
			fs_fail("too many dma_ranges");
		for (unsigned int k = 0; k < d->ndma_ranges; k++)
			if (d->dma_ranges[k].size == 0)
				fs_fail("a dma_range of size 0");
		if (memchr(d->name, 0, sizeof(d->name)) == NULL)
			fs_fail("device name not terminated");
	}
	for (unsigned int i = 0; i < s->niommus; i++)
		if (s->iommus[i].npage_sizes > SCN_MAX_PAGE_SIZES)
			fs_fail("too many page sizes");
	if (s->has_hypervisor && s->hv.nhost_ram > SCN_MAX_RAM)
		fs_fail("too many host_ram ranges");
	for (unsigned int i = 0; i < s->nexpects; i++)
		if (memchr(s->expects[i].counter, 0, sizeof(s->expects[i].counter)) == NULL)
			fs_fail("counter name not terminated");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';

	uint64_t v;
	(void)scn_parse_size(text, &v);

	struct scn *s = NULL;
	char err[512];
	err[0] = '\0';
	int rc = scn_load_string(FS_LABEL, text, &s, err, sizeof(err));
	if (rc == 0) {
		if (!s)
			fs_fail("0 and no scenario");
		fs_check(s);
		scn_free(s);
	} else {
		if (rc > 0 || s)
			fs_fail("a refusal with a positive errno or a scenario");
		if (rc != -ENOMEM &&
		    (!err[0] || strchr(err, '\n') || strncmp(err, FS_LABEL, strlen(FS_LABEL)) != 0)) {
			fprintf(stderr, "fuzz_scenario: refusal %d without its one line: \"%s\"\n", rc,
				err);
			abort();
		}
	}
	free(text);
	return 0;
}
