/*
 * dmamap/platform.h - the seam between libdmamap and a machine, whole:
 * the machine contract (dmamap/machine.h: what a machine provides) and
 * the system API (dmamap/system.h: contexts, devices, statistics).
 *
 * Owns: nothing of its own; it exists so one include gives both halves
 * (and so code written before the split still builds).  New code may
 * include just the half it needs.
 */
#ifndef DMAMAP_PLATFORM_H
#define DMAMAP_PLATFORM_H

#include <dmamap/machine.h>
#include <dmamap/system.h>

#endif /* DMAMAP_PLATFORM_H */
