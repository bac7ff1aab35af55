/*
 * tools/report.c - the report's lifetime and its lists (see report.h).
 *
 * Owns: freeing a report and appending to its problems and notes.
 * Must never touch the machine, the library or the simulator, nor print:
 * the report is a plain record (report.h).
 */
#include "report.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Appends one formatted line to a list of owned strings.  0 or -ENOMEM. */
static int add_line(char ***list, unsigned int *n, const char *fmt, va_list ap)
{
	char buf[512];
	vsnprintf(buf, sizeof(buf), fmt, ap);
	char **v = realloc(*list, (*n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	*list = v;
	if (!(v[*n] = strdup(buf)))
		return -ENOMEM;
	(*n)++;
	return 0;
}

int rpt_add_problem(struct rpt_report *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = add_line(&r->problems, &r->nproblems, fmt, ap);
	va_end(ap);
	return rc;
}

int rpt_add_note(struct rpt_report *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = add_line(&r->notes, &r->nnotes, fmt, ap);
	va_end(ap);
	return rc;
}

void rpt_free(struct rpt_report *r)
{
	if (!r)
		return;
	for (unsigned int i = 0; i < r->nproblems; i++)
		free(r->problems[i]);
	free(r->problems);
	for (unsigned int i = 0; i < r->nnotes; i++)
		free(r->notes[i]);
	free(r->notes);
	free(r->devices);
	memset(r, 0, sizeof(*r));
}

