/*
 * src/iova.c - the IOVA allocator (see iova.h).
 *
 * Owns: the free-space tree, the per-CPU magazine caches and their
 * depots, the domain's counters.  Never includes a simulator header,
 * never prints, never exits, never programs an IOMMU: it only decides
 * which pfns are in use.
 *
 * The tree.  Free space is a set of disjoint ranges [lo, hi] (inclusive
 * pfns), one AVL node each, keyed by lo.  Reserved ranges are nodes too,
 * flagged, so that a free overlapping one is caught like a double free;
 * they count as length 0 below.  Invariants, checked by dm_iova_check:
 *   - nodes are disjoint and inside [start_pfn, end_pfn];
 *   - no two free nodes touch (a free merges with its free neighbours);
 *   - every node's height differs from its sibling's by at most one;
 *   - maxfree = the longest free node in the subtree (the search prunes
 *     on it, so it must be exact after every change).
 * Every change records the links from the root down (path[]) and walks
 * them back up re-deriving height/maxfree and rotating, stopping where a
 * subtree's height and maxfree came out unchanged.  AVL height is at most
 * 1.44 log2(n + 2), so 96 levels cover any tree that fits in memory.
 *
 * The caches (Linux's rcache).  One set per order 0..5: per CPU slot a
 * "loaded" and a "prev" magazine of 127 pfns under the slot's own lock
 * (contended only by a flush or by threads sharing a slot); per order a
 * depot of at most 32 full magazines plus a list of spare empty ones
 * under the depot's lock.  Every cached pfn is the first of an allocated,
 * size-aligned block of exactly 2^order granules: the fast calls round
 * cacheable sizes up, so a magazine entry can go back to the tree with
 * no other record.
 *
 * The windows (see "CPU windows" below and iova.h).  Each CPU slot has a
 * seventh entry, after its six magazine entries, with the same biased
 * lock: it guards the slot's window (a bitmap over 8192 granules taken
 * from the tree, marked there by a WINDOW node).  No operation holds two
 * slots' window entries, except flush, stats, check and the exhaustion
 * path, which take them all in index order.
 *
 * Lock order: a CPU slot's lock (magazine or window entry), then a
 * depot's or the tree's; the tree lock is innermost and nothing else is
 * taken under a depot lock.  Only a flush, dm_iova_get_stats,
 * dm_iova_check and the windows' exhaustion path hold several CPU slots'
 * locks at once, always in index order.
 *
 * The CPU slot's lock is biased (the fast path's cost).  A (slot, order)
 * used by one thread only, the normal case (each thread its own logical
 * CPU), is "owned" by that thread after its first locked use, and the
 * owner then enters without a locked instruction: it stores busy = 1,
 * checks (after a compiler barrier only) that lock is 0, works, and
 * stores busy = 0 (release).  Anyone else takes lock (an atomic exchange)
 * and, when the slot has an owner, runs membarrier(PRIVATE_EXPEDITED):
 * every running thread of the process executes a full barrier, so either
 * the owner's later check sees lock == 1 (and it takes the lock like
 * everyone else) or its busy = 1 is visible and the locker waits for 0 -
 * the asymmetric Dekker handshake of liburcu and biased locking.  A
 * second thread doing allocations on an owned slot revokes the bias for
 * good (one membarrier), so slots that threads share cost what a plain
 * lock costs and no thread pays a membarrier per operation; a flush or
 * dm_iova_get_stats locks every slot and pays one membarrier in all.
 * Without membarrier (an old kernel, valgrind, a seccomp filter) no slot
 * is ever biased and every operation takes the lock.
 */
#include "iova.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>
#if defined(__linux__) && defined(__has_include)
#if __has_include(<linux/membarrier.h>)
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>
#ifdef SYS_membarrier
#define DM_IOVA_HAVE_MEMBARRIER 1
#endif
#endif
#endif

#define DM_IOVA_MAX_DEPTH 96
#define DM_IOVA_NODE_POOL 64  /* spare tree nodes kept to spare malloc on splits */
#define DM_IOVA_MAX_SLOTS 4096u

/* Per CPU slot: one magazine entry per order, then the window entry. */
#define DM_IOVA_WIN_IDX DM_IOVA_RCACHE_ORDERS
#define DM_IOVA_PCPU_PER_SLOT (DM_IOVA_RCACHE_ORDERS + 1)
#define DM_IOVA_WIN_WORDS (DM_IOVA_WIN_PAGES / 64)   /* 128 bitmap words */
#define DM_IOVA_WIN_SUMW (DM_IOVA_WIN_WORDS / 64)    /* 2 summary words */
#define DM_IOVA_REBIAS 1024   /* locked uses in a row by one thread before it owns a window again */
#define DM_IOVA_CARVE_WAIT 256 /* window requests that skip carving after a carve failed */

struct dm_iova_node {
	struct dm_iova_node *l, *r; /* l doubles as the link in the spare pool */
	uint64_t lo, hi;            /* inclusive pfns */
	uint64_t maxfree;           /* longest free node in this subtree, granules */
	int32_t height;             /* leaf: 1 */
	uint8_t kind;               /* DM_NODE_FREE, _RESERVED or _WINDOW */
	uint16_t slot;              /* DM_NODE_WINDOW: the CPU slot whose window it is */
};
/* 48 bytes as before the windows: 10,000 nodes must stay within L2 (10% slower at 56). */
_Static_assert(sizeof(struct dm_iova_node) <= 48, "tree node grew");
_Static_assert(DM_IOVA_MAX_SLOTS <= 65536, "slot must fit dm_iova_node.slot");

/*
 * Node kinds.  Only FREE nodes hold free space (dm_own); RESERVED and
 * WINDOW nodes are there so that a free or reservation overlapping them
 * is caught, and (WINDOW) so that a free of a block inside a window finds
 * the slot that owns it.
 */
enum { DM_NODE_FREE = 0, DM_NODE_RESERVED = 1, DM_NODE_WINDOW = 2 };

struct dm_iova_mag {
	struct dm_iova_mag *next;   /* depot / spare list link */
	uint64_t n;                 /* valid entries, pfns[0..n) */
	uint64_t pfns[DM_IOVA_MAG_SIZE];
};

/*
 * A CPU slot's window: DM_IOVA_WIN_PAGES granules at base (a multiple of
 * DM_IOVA_WIN_PAGES), allocated from the tree as one block and marked
 * there by a DM_NODE_WINDOW node naming the slot.  Under the window
 * entry's lock (biased like the magazines').  Invariants (dm_iova_check):
 *   - base == 0 (no window: pfn 0 is never free, so no window starts
 *     there) or exactly one WINDOW node [base, base + PAGES - 1] names
 *     this slot;
 *   - bits[k] bit j set <=> granule base + 64k + j is allocated;
 *   - sum[k / 64] bit k % 64 set <=> bits[k] != 0;
 *   - nfree == PAGES - popcount(bits).
 * Every block a window hands out starts on a multiple of 64 granules (it
 * is 33..512 granules, size-aligned to 64..512), so under normal use a
 * word's set bits are a prefix of it, and "the words the block touches
 * are all zero" (the summary) is the same as "the block is free".
 */
struct dm_iova_win {
	/*
	 * Cache-line aligned (and so a multiple of lines long): the top of one
	 * slot's bitmap, where its allocations go, must not share a line with
	 * the next slot's base and nfree.  Unaligned, 2 threads cost 24 ns per
	 * alloc+free each instead of 19.
	 */
	DM_ALIGNED_CL uint64_t base;
	uint64_t nfree;
	uintptr_t last;          /* the last thread that took the lock (re-biasing) */
	uint32_t streak;         /* its locked uses in a row */
	uint32_t rebias_need;    /* uses in a row that re-bias it (0: DM_IOVA_REBIAS) */
	uint32_t carve_wait;     /* requests left before the next carve attempt */
	uint64_t carves, dissolves;
	uint64_t sum[DM_IOVA_WIN_SUMW];
	uint64_t bits[DM_IOVA_WIN_WORDS];
};

/* dm_iova_pcpu.owner: no owner yet / never again (the slot is shared). */
#define DM_IOVA_UNOWNED ((uintptr_t)0)
#define DM_IOVA_SHARED ((uintptr_t)1)

/*
 * One per (CPU slot, order); one cache line, so slots never share one.
 * Everything but lock, busy and owner is "under the lock": under lock,
 * or inside its owner's biased section (see the file comment).
 */
struct dm_iova_pcpu {
	DM_ALIGNED_CL dm_spinlock_t lock;
	atomic_int busy;             /* the owner is in its biased section */
	_Atomic uintptr_t owner;     /* a thread's token, UNOWNED or SHARED */
	struct dm_iova_mag *loaded;  /* never NULL */
	struct dm_iova_mag *prev;    /* never NULL (NULL in a window entry) */
	uint64_t hits, misses, frees; /* under lock; window entry: allocs, declines, frees */
	struct dm_iova_win *win;     /* the window entry's window, never NULL; else NULL */
};

struct dm_iova_depot {
	DM_ALIGNED_CL dm_spinlock_t lock;
	unsigned int nfull;          /* <= DM_IOVA_DEPOT_MAX */
	struct dm_iova_mag *full;    /* full magazines, most recent first */
	struct dm_iova_mag *spare;   /* empty ones, kept for the next push */
};

struct dm_iova_domain {
	/* Read-only after init. */
	uint64_t granule;
	unsigned int shift;
	unsigned int slot_mask;      /* CPU slots - 1; a power of two minus one */
	uint64_t start_pfn, end_pfn;
	struct dm_iova_pcpu *pcpu;   /* [slot * DM_IOVA_PCPU_PER_SLOT + order or DM_IOVA_WIN_IDX] */
	_Atomic uint64_t failures;
	_Atomic uint64_t flushes;
	_Atomic uint64_t nwindows;   /* WINDOW nodes; changed under tree_lock, read as a hint */

	struct dm_iova_depot depot[DM_IOVA_RCACHE_ORDERS];

	/* Everything below is under tree_lock. */
	DM_ALIGNED_CL dm_spinlock_t tree_lock;
	struct dm_iova_node *root;
	struct dm_iova_node *pool;   /* spare nodes, linked through l */
	unsigned int npool;
	uint64_t nnodes;
	uint64_t free_pages;
	uint64_t tree_allocs, tree_frees, bad_frees, cache_returns;
	uint64_t searches, visits, visits_max, slow_searches, nomem;
};

/* ---- biased CPU-slot locks ---------------------------------------------------- */

/* 1 membarrier(PRIVATE_EXPEDITED) registered, -1 unavailable, 0 not tried. */
static atomic_int dm_iova_mb_state;

static bool dm_iova_bias_ok(void)
{
	int st = atomic_load_explicit(&dm_iova_mb_state, memory_order_acquire);
	if (dm_likely(st))
		return st > 0;
#ifdef DM_IOVA_HAVE_MEMBARRIER
	long cmds = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
	st = cmds > 0 && (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) &&
	     syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0
	     ? 1 : -1;
#else
	st = -1;
#endif
	atomic_store_explicit(&dm_iova_mb_state, st, memory_order_release);
	return st > 0;
}

/*
 * A full memory barrier on every running thread of the process.  Only
 * called once a slot was biased, i.e. after registration succeeded; a
 * failure (a child after fork() may need to register again) falls back
 * to registering and to the global command, which needs no registration.
 */
static void dm_iova_membarrier(void)
{
#ifdef DM_IOVA_HAVE_MEMBARRIER
	for (;;) {
		if (!syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0))
			return;
		syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0);
		if (!syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0))
			return;
		if (!syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0))
			return;
		sched_yield(); /* cannot happen once registered; never skip the barrier */
	}
#endif
}

/* The calling thread's token: unique among live threads, never 0 or 1. */
#if defined(__has_builtin) && (defined(__x86_64__) || defined(__aarch64__))
#if __has_builtin(__builtin_thread_pointer)
#define DM_IOVA_HAVE_TP 1
#endif
#endif
#ifdef DM_IOVA_HAVE_TP
static inline uintptr_t dm_iova_self(void)
{
	return (uintptr_t)__builtin_thread_pointer();
}
#else
static _Thread_local char dm_iova_token;
static inline uintptr_t dm_iova_self(void)
{
	return (uintptr_t)&dm_iova_token;
}
#endif

/*
 * The owner's way in: true when inside the biased section (leave it with
 * dm_pcpu_leave), false when c is not this thread's or is locked now.
 * The compiler barrier keeps busy's store before lock's load in program
 * order; the CPU may still reorder them, which the lockers' membarrier
 * covers (see the file comment).
 */
static inline bool dm_pcpu_enter(struct dm_iova_pcpu *c, uintptr_t me)
{
	if (atomic_load_explicit(&c->owner, memory_order_relaxed) != me)
		return false;
	atomic_store_explicit(&c->busy, 1, memory_order_relaxed);
	atomic_signal_fence(memory_order_seq_cst);
	if (dm_likely(!atomic_load_explicit(&c->lock, memory_order_acquire)))
		return true;
	atomic_store_explicit(&c->busy, 0, memory_order_release);
	return false;
}

static inline void dm_pcpu_leave(struct dm_iova_pcpu *c)
{
	atomic_store_explicit(&c->busy, 0, memory_order_release);
}

/* Locked, and (once the membarrier ran) sure the owner has left and stays out. */
static void dm_pcpu_wait_owner(struct dm_iova_pcpu *c)
{
	unsigned int spins = 0;
	while (atomic_load_explicit(&c->busy, memory_order_acquire)) {
		if (++spins < 256) {
			dm_cpu_relax();
		} else {
			sched_yield(); /* the owner may be preempted in its section */
			spins = 0;
		}
	}
}

/* Another thread's biased slot, or none to wait for. */
static inline bool dm_pcpu_foreign(const struct dm_iova_pcpu *c, uintptr_t me)
{
	uintptr_t o = atomic_load_explicit(&c->owner, memory_order_relaxed);
	return o != DM_IOVA_UNOWNED && o != DM_IOVA_SHARED && o != me;
}

/*
 * An allocation or free's way in: the biased section when c is this
 * thread's, else c->lock.  Under the lock an unowned slot becomes this
 * thread's (from the next call on) and another thread's slot becomes
 * shared for good.  Returns true when biased: pass it to dm_pcpu_exit.
 */
static void dm_pcpu_claim(struct dm_iova_pcpu *c, uintptr_t me);

static inline bool dm_pcpu_acquire(struct dm_iova_pcpu *c, uintptr_t me)
{
	if (dm_likely(dm_pcpu_enter(c, me)))
		return true;
	if (dm_likely(!atomic_exchange_explicit(&c->lock, 1, memory_order_acquire))) {
		/* A shared slot (or no membarrier): a plain lock, nothing more. */
		if (dm_likely(atomic_load_explicit(&c->owner, memory_order_relaxed) ==
			      DM_IOVA_SHARED))
			return false;
	} else {
		dm_spin_lock_slow(&c->lock);
	}
	dm_pcpu_claim(c, me);
	return false;
}

/* c->lock held: make an unowned slot ours, another thread's shared. */
static __attribute__((noinline)) void dm_pcpu_claim(struct dm_iova_pcpu *c, uintptr_t me)
{
	uintptr_t o = atomic_load_explicit(&c->owner, memory_order_relaxed);
	if (o == DM_IOVA_UNOWNED) {
		if (dm_iova_bias_ok())
			atomic_store_explicit(&c->owner, me, memory_order_relaxed);
		else
			atomic_store_explicit(&c->owner, DM_IOVA_SHARED, memory_order_relaxed);
	} else if (o != DM_IOVA_SHARED && o != me) {
		dm_iova_membarrier();
		dm_pcpu_wait_owner(c);
		atomic_store_explicit(&c->owner, DM_IOVA_SHARED, memory_order_relaxed);
	}
}

static inline void dm_pcpu_exit(struct dm_iova_pcpu *c, bool biased)
{
	if (biased)
		dm_pcpu_leave(c);
	else
		dm_spin_unlock(&c->lock);
}

/*
 * Every CPU slot locked, in index order, with no owner inside: for a
 * flush and the statistics.  One membarrier covers every biased slot.
 */
static inline bool dm_pcpu_in_set(size_t i, bool windows_only)
{
	return !windows_only || i % DM_IOVA_PCPU_PER_SLOT == DM_IOVA_WIN_IDX;
}

static void dm_pcpu_lock_all(struct dm_iova_domain *d, bool windows_only)
{
	size_t npc = (size_t)(d->slot_mask + 1) * DM_IOVA_PCPU_PER_SLOT;
	uintptr_t me = dm_iova_self();
	bool foreign = false;
	for (size_t i = 0; i < npc; i++) {
		if (!dm_pcpu_in_set(i, windows_only))
			continue;
		dm_spin_lock(&d->pcpu[i].lock);
		foreign |= dm_pcpu_foreign(&d->pcpu[i], me);
	}
	if (!foreign)
		return;
	dm_iova_membarrier();
	for (size_t i = 0; i < npc; i++)
		if (dm_pcpu_in_set(i, windows_only))
			dm_pcpu_wait_owner(&d->pcpu[i]);
}

static void dm_pcpu_unlock_all(struct dm_iova_domain *d, bool windows_only)
{
	size_t npc = (size_t)(d->slot_mask + 1) * DM_IOVA_PCPU_PER_SLOT;
	for (size_t i = 0; i < npc; i++)
		if (dm_pcpu_in_set(i, windows_only))
			dm_spin_unlock(&d->pcpu[i].lock);
}

/* ---- small helpers ------------------------------------------------------------ */

static inline uint64_t dm_iova_roundup_pow2(uint64_t n)
{
	return 1ULL << dm_order_base_2(n); /* n < 2^63 here */
}

static inline struct dm_iova_pcpu *dm_iova_this_cpu(struct dm_iova_domain *d,
						    unsigned int order)
{
	unsigned int slot = dm_cpu() & d->slot_mask;
	return &d->pcpu[slot * DM_IOVA_PCPU_PER_SLOT + order];
}

/* ---- tree nodes ------------------------------------------------------------------- */

static struct dm_iova_node *dm_node_get(struct dm_iova_domain *d)
{
	struct dm_iova_node *n = d->pool;
	if (dm_likely(n != NULL)) {
		d->pool = n->l;
		d->npool--;
		return n;
	}
	return malloc(sizeof(*n));
}

static void dm_node_put(struct dm_iova_domain *d, struct dm_iova_node *n)
{
	if (d->npool < DM_IOVA_NODE_POOL) {
		n->l = d->pool;
		d->pool = n;
		d->npool++;
	} else {
		free(n);
	}
}

/* Makes sure the next want dm_node_get calls cannot fail. */
static bool dm_pool_fill(struct dm_iova_domain *d, unsigned int want)
{
	while (d->npool < want) {
		struct dm_iova_node *n = malloc(sizeof(*n));
		if (!n)
			return false;
		n->l = d->pool;
		d->pool = n;
		d->npool++;
	}
	return true;
}

/* ---- AVL mechanics ------------------------------------------------------------------ */

static inline int32_t dm_h(const struct dm_iova_node *n)
{
	return n ? n->height : 0;
}

static inline uint64_t dm_mf(const struct dm_iova_node *n)
{
	return n ? n->maxfree : 0;
}

static inline uint64_t dm_own(const struct dm_iova_node *n)
{
	return n->kind != DM_NODE_FREE ? 0 : n->hi - n->lo + 1;
}

static inline void dm_fix(struct dm_iova_node *n)
{
	int32_t hl = dm_h(n->l), hr = dm_h(n->r);
	n->height = 1 + (hl > hr ? hl : hr);
	uint64_t m = dm_own(n), ml = dm_mf(n->l), mr = dm_mf(n->r);
	if (ml > m)
		m = ml;
	if (mr > m)
		m = mr;
	n->maxfree = m;
}

static struct dm_iova_node *dm_rot_right(struct dm_iova_node *n)
{
	struct dm_iova_node *l = n->l;
	n->l = l->r;
	l->r = n;
	dm_fix(n);
	dm_fix(l);
	return l;
}

static struct dm_iova_node *dm_rot_left(struct dm_iova_node *n)
{
	struct dm_iova_node *r = n->r;
	n->r = r->l;
	r->l = n;
	dm_fix(n);
	dm_fix(r);
	return r;
}

/* Children are valid AVL subtrees differing in height by at most 2. */
static struct dm_iova_node *dm_balance(struct dm_iova_node *n)
{
	dm_fix(n);
	int32_t bf = dm_h(n->l) - dm_h(n->r);
	if (bf > 1) {
		if (dm_h(n->l->l) < dm_h(n->l->r))
			n->l = dm_rot_left(n->l);
		return dm_rot_right(n);
	}
	if (bf < -1) {
		if (dm_h(n->r->r) < dm_h(n->r->l))
			n->r = dm_rot_right(n->r);
		return dm_rot_left(n);
	}
	return n;
}

/*
 * Walks a recorded path back up from level from (path[i] is the link to
 * the level-i node, path[0] = &root), re-deriving and rebalancing.  At
 * levels <= exit_at it stops at the first subtree whose height and
 * maxfree came out as stored before: the ancestors were derived from
 * exactly those.  (Deeper levels may not stop early when the node at
 * exit_at itself was replaced: see dm_tree_remove_at.)
 */
static void dm_retrace(struct dm_iova_node **path[], int from, int exit_at)
{
	for (int i = from; i >= 0; i--) {
		struct dm_iova_node *n = *path[i];
		int32_t oh = n->height;
		uint64_t om = n->maxfree;
		n = dm_balance(n);
		*path[i] = n;
		if (i <= exit_at && n->height == oh && n->maxfree == om)
			return;
	}
}

/* Depth of the node whose lo is key, with path[] filled; -1 if none. */
static int dm_tree_find_path(struct dm_iova_domain *d, uint64_t key,
			     struct dm_iova_node **path[])
{
	int depth = 0;
	path[0] = &d->root;
	for (struct dm_iova_node *n; (n = *path[depth]) != NULL; depth++) {
		if (key == n->lo)
			return depth;
		path[depth + 1] = key < n->lo ? &n->l : &n->r;
	}
	return -1;
}

static void dm_tree_insert(struct dm_iova_domain *d, struct dm_iova_node *x)
{
	struct dm_iova_node **path[DM_IOVA_MAX_DEPTH];
	int depth = 0;
	path[0] = &d->root;
	for (struct dm_iova_node *n; (n = *path[depth]) != NULL; depth++)
		path[depth + 1] = x->lo < n->lo ? &n->l : &n->r;
	x->l = x->r = NULL;
	x->height = 1;
	x->maxfree = dm_own(x);
	*path[depth] = x;
	dm_retrace(path, depth - 1, depth - 1);
}

/* Unlinks the node at *path[depth]; the caller owns it afterwards. */
static void dm_tree_remove_at(struct dm_iova_node **path[], int depth)
{
	struct dm_iova_node *n = *path[depth];
	if (!n->l || !n->r) {
		*path[depth] = n->l ? n->l : n->r;
		dm_retrace(path, depth - 1, depth - 1);
		return;
	}
	/* Two children: the successor s (leftmost of the right subtree) takes n's place. */
	int k = depth + 1;
	path[k] = &n->r;
	while ((*path[k])->l) {
		path[k + 1] = &(*path[k])->l;
		k++;
	}
	struct dm_iova_node *s = *path[k];
	*path[k] = s->r;
	s->l = n->l;
	s->r = n->r;
	/*
	 * s inherits n's stored values: the ancestors were derived from
	 * them, so the early stop at level depth compares against the right
	 * thing.  Below it there is no early stop: the subtree lost s but s's
	 * own range now counts at level depth, so a child subtree that came
	 * out unchanged says nothing about the new level-depth value.
	 */
	s->height = n->height;
	s->maxfree = n->maxfree;
	*path[depth] = s;
	path[depth + 1] = &s->r;
	dm_retrace(path, k - 1, depth);
}

/* Unlinks the node whose lo is key and returns it (NULL if none). */
static struct dm_iova_node *dm_tree_remove_key(struct dm_iova_domain *d, uint64_t key)
{
	struct dm_iova_node **path[DM_IOVA_MAX_DEPTH];
	int depth = dm_tree_find_path(d, key, path);
	if (depth < 0)
		return NULL;
	struct dm_iova_node *n = *path[depth];
	dm_tree_remove_at(path, depth);
	return n;
}

/* The node at key changed its range in place (order unchanged): re-derive up. */
static void dm_tree_touch(struct dm_iova_domain *d, uint64_t key)
{
	struct dm_iova_node **path[DM_IOVA_MAX_DEPTH];
	int depth = dm_tree_find_path(d, key, path);
	if (depth >= 0)
		dm_retrace(path, depth, depth);
}

/* The node with the greatest lo <= key, and the one with the least lo > key. */
static void dm_tree_bracket(struct dm_iova_node *n, uint64_t key,
			    struct dm_iova_node **floor, struct dm_iova_node **ceil)
{
	*floor = *ceil = NULL;
	while (n) {
		if (n->lo <= key) {
			*floor = n;
			n = n->r;
		} else {
			*ceil = n;
			n = n->l;
		}
	}
}

/* ---- the tree allocator ------------------------------------------------------------------ */

/*
 * Right-first depth-first search for the highest block of size granules,
 * aligned to amask + 1, ending at or below limit, skipping subtrees whose
 * longest free range is shorter than prune.  On success returns the depth
 * of the node holding it (path[0..depth] leads there) and sets *pfn.
 *
 * Cost: a node with lo > limit sends the search left only; one with
 * lo <= limit first searches its right subtree, whose nodes may straddle
 * the limit, then itself, then its left subtree, which lies wholly below
 * the limit.  So straddling subtrees form one root-to-leaf path, and the
 * wholly-below subtrees hanging off it are entered highest first.  With
 * prune = size + amask each such subtree either stops at its root (too
 * short) or certainly holds a fit (a range of size + align - 1 granules
 * holds an aligned block), found down one path: at most about 4 * height
 * nodes in all, and AVL height <= 1.44 log2(n + 2), so under 6 log2 n
 * (what test_iova asserts).  With prune = size the second half no longer
 * holds: a subtree can pass the pruning and still hold no aligned fit.
 */
static int dm_tree_search(struct dm_iova_domain *d, struct dm_iova_node **path[],
			  uint64_t size, uint64_t amask, uint64_t limit,
			  uint64_t prune, uint64_t *pfn, uint64_t *visits)
{
	/* Per level: 0 entering, 1 right subtree failed, 2 left subtree failed. */
	uint8_t phase[DM_IOVA_MAX_DEPTH];
	uint64_t v = 0;
	int depth = 0;
	path[0] = &d->root;
	phase[0] = 0;
	while (depth >= 0) {
		struct dm_iova_node *n = *path[depth];
		switch (phase[depth]) {
		case 0:
			if (!n) {
				depth--;
				break;
			}
			v++;
			if (n->maxfree < prune) {
				depth--;
				break;
			}
			/* Above the limit: only the left subtree can hold a block. */
			phase[depth] = n->lo > limit ? 2 : 1;
			path[depth + 1] = n->lo > limit ? &n->l : &n->r;
			phase[++depth] = 0;
			break;
		case 1:
			if (n->kind == DM_NODE_FREE) {
				/* n->lo <= limit here, so hi >= n->lo. */
				uint64_t hi = n->hi < limit ? n->hi : limit;
				if (hi - n->lo + 1 >= size) {
					uint64_t p = (hi - size + 1) & ~amask;
					if (p >= n->lo) {
						*pfn = p;
						*visits += v;
						return depth;
					}
				}
			}
			phase[depth] = 2;
			path[depth + 1] = &n->l;
			phase[++depth] = 0;
			break;
		default:
			depth--;
			break;
		}
	}
	*visits += v;
	return -1;
}

/*
 * Carves size granules (aligned to amask + 1) at or below limit; 0 if none
 * fit.  exact: run the slow search when the bounded one fails (callers
 * that can do without, a window carve, pass false).  Counts the search,
 * not the allocation (the callers do).
 */
static uint64_t dm_tree_alloc_locked(struct dm_iova_domain *d, uint64_t size,
				     uint64_t limit, uint64_t amask, bool exact)
{
	struct dm_iova_node **path[DM_IOVA_MAX_DEPTH];
	uint64_t pfn = 0, visits = 0;
	d->searches++;
	int depth = dm_tree_search(d, path, size, amask, limit, size + amask, &pfn, &visits);
	if (depth < 0 && amask && exact) {
		/* No range has slack for any alignment: look at the tight ones. */
		d->slow_searches++;
		depth = dm_tree_search(d, path, size, amask, limit, size, &pfn, &visits);
	}
	d->visits += visits;
	if (visits > d->visits_max)
		d->visits_max = visits;
	if (depth < 0)
		return 0;

	struct dm_iova_node *n = *path[depth];
	uint64_t end = pfn + size - 1;
	if (pfn == n->lo && end == n->hi) {
		dm_tree_remove_at(path, depth);
		dm_node_put(d, n);
		d->nnodes--;
	} else if (pfn == n->lo) {
		n->lo = end + 1; /* keeps its place in the order: nothing lies between */
		dm_retrace(path, depth, depth);
	} else if (end == n->hi) {
		n->hi = pfn - 1;
		dm_retrace(path, depth, depth);
	} else {
		/* The middle: n keeps the part above, a new node the part below. */
		struct dm_iova_node *low = dm_node_get(d);
		if (!low) {
			d->nomem++;
			return 0;
		}
		low->lo = n->lo;
		low->hi = pfn - 1;
		low->kind = DM_NODE_FREE;
		n->lo = end + 1;
		dm_retrace(path, depth, depth);
		dm_tree_insert(d, low);
		d->nnodes++;
	}
	d->free_pages -= size;
	return pfn;
}

/*
 * Returns [a, a + size) to the tree, merging with free neighbours.
 * -EINVAL (nothing changed) when it leaves the domain or overlaps a free,
 * reserved or window node; -ENOMEM when a node was needed and none could
 * be had.  DM_IN_WINDOW (nothing changed) when win_slot is not NULL and
 * the range lies wholly inside a CPU window: *win_slot says whose, and
 * the window's bitmap, not the tree, knows whether it is allocated.
 */
#define DM_IN_WINDOW 1
static int dm_tree_free_locked(struct dm_iova_domain *d, uint64_t a, uint64_t size,
			       uint16_t *win_slot)
{
	if (size == 0 || a < d->start_pfn || a > d->end_pfn ||
	    size > d->end_pfn - a + 1)
		return -EINVAL;
	uint64_t b = a + size - 1;
	struct dm_iova_node *fl, *ce;
	dm_tree_bracket(d->root, b, &fl, &ce);
	/*
	 * Nodes are disjoint and sorted, so if any node overlaps [a, b] the
	 * last one starting at or below b does.
	 */
	if (fl && fl->hi >= a) {
		if (win_slot && fl->kind == DM_NODE_WINDOW && a >= fl->lo && b <= fl->hi) {
			*win_slot = fl->slot;
			return DM_IN_WINDOW;
		}
		return -EINVAL;
	}
	bool merge_lo = fl && fl->kind == DM_NODE_FREE && fl->hi + 1 == a;
	bool merge_hi = ce && ce->kind == DM_NODE_FREE && ce->lo == b + 1;
	if (merge_lo && merge_hi) {
		uint64_t hi = ce->hi;
		(void)dm_tree_remove_key(d, ce->lo);
		dm_node_put(d, ce);
		d->nnodes--;
		fl->hi = hi;
		dm_tree_touch(d, fl->lo);
	} else if (merge_lo) {
		fl->hi = b;
		dm_tree_touch(d, fl->lo);
	} else if (merge_hi) {
		ce->lo = a; /* still above fl: the order holds */
		dm_tree_touch(d, a);
	} else {
		struct dm_iova_node *x = dm_node_get(d);
		if (!x) {
			d->nomem++;
			return -ENOMEM;
		}
		x->lo = a;
		x->hi = b;
		x->kind = DM_NODE_FREE;
		dm_tree_insert(d, x);
		d->nnodes++;
	}
	d->free_pages += size;
	return 0;
}

/* Takes [lo, hi] (inside the domain) out; every pfn must be free or reserved. */
static int dm_tree_reserve_locked(struct dm_iova_domain *d, uint64_t lo, uint64_t hi)
{
	struct dm_iova_node *fl, *ce;
	/* First a read-only pass: a gap is allocated space. */
	for (uint64_t cur = lo;;) {
		dm_tree_bracket(d->root, cur, &fl, &ce);
		/* A CPU window counts as allocated: the retry after a flush dissolves it. */
		if (!fl || fl->hi < cur || fl->kind == DM_NODE_WINDOW)
			return -EBUSY;
		if (fl->hi >= hi)
			break;
		cur = fl->hi + 1;
	}
	/*
	 * Removing nodes only adds to the pool; at most three are inserted
	 * (a free remainder on each side and the reserved node), so with
	 * three in hand no get below can fail.
	 */
	if (!dm_pool_fill(d, 3)) {
		d->nomem++;
		return -ENOMEM;
	}
	uint64_t rlo = lo, rhi = hi;
	for (uint64_t cur = lo;;) {
		dm_tree_bracket(d->root, cur, &fl, &ce);
		uint64_t flo = fl->lo, fhi = fl->hi;
		bool res = fl->kind == DM_NODE_RESERVED;
		(void)dm_tree_remove_key(d, flo);
		dm_node_put(d, fl);
		d->nnodes--;
		if (!res)
			d->free_pages -= fhi - flo + 1;
		if (flo < lo) {
			if (res) {
				rlo = flo; /* overlapping reservations become one */
			} else {
				struct dm_iova_node *x = dm_node_get(d);
				*x = (struct dm_iova_node){ .lo = flo, .hi = lo - 1 };
				dm_tree_insert(d, x);
				d->nnodes++;
				d->free_pages += lo - flo;
			}
		}
		if (fhi > hi) {
			if (res) {
				rhi = fhi;
			} else {
				struct dm_iova_node *x = dm_node_get(d);
				*x = (struct dm_iova_node){ .lo = hi + 1, .hi = fhi };
				dm_tree_insert(d, x);
				d->nnodes++;
				d->free_pages += fhi - hi;
			}
		}
		if (fhi >= hi)
			break;
		cur = fhi + 1;
	}
	struct dm_iova_node *x = dm_node_get(d);
	*x = (struct dm_iova_node){ .lo = rlo, .hi = rhi, .kind = DM_NODE_RESERVED };
	dm_tree_insert(d, x);
	d->nnodes++;
	return 0;
}

/* Locks, validates, allocates; counts no failure (the callers do). */
static uint64_t dm_tree_alloc(struct dm_iova_domain *d, uint64_t npages,
			      uint64_t limit, bool size_aligned)
{
	if (limit > d->end_pfn)
		limit = d->end_pfn;
	if (npages == 0 || limit < d->start_pfn || npages > limit - d->start_pfn + 1)
		return 0;
	uint64_t amask = size_aligned ? dm_iova_roundup_pow2(npages) - 1 : 0;
	dm_spin_lock(&d->tree_lock);
	uint64_t pfn = dm_tree_alloc_locked(d, npages, limit, amask, true);
	if (pfn)
		d->tree_allocs++;
	dm_spin_unlock(&d->tree_lock);
	return pfn;
}

/* ---- magazines ---------------------------------------------------------------------- */

/*
 * Pops the most recently pushed entry whose block of size granules ends
 * at or below limit (Linux checks only the start; the end is what the
 * device must reach).  0 when none does.
 */
static uint64_t dm_mag_pop(struct dm_iova_mag *m, uint64_t size, uint64_t limit)
{
	for (uint64_t i = m->n; i-- > 0;) {
		uint64_t p = m->pfns[i];
		if (p + size - 1 <= limit) {
			m->pfns[i] = m->pfns[--m->n];
			return p;
		}
	}
	return 0;
}

/* Gives a magazine's IOVAs back to the tree; the caller holds no tree lock. */
static void dm_mag_drain(struct dm_iova_domain *d, struct dm_iova_mag *m,
			 unsigned int order)
{
	if (!m->n)
		return;
	uint64_t size = 1ULL << order;
	dm_spin_lock(&d->tree_lock);
	for (uint64_t i = 0; i < m->n; i++) {
		/* -ENOMEM is counted inside; the block then stays lost. */
		if (dm_tree_free_locked(d, m->pfns[i], size, NULL) == -EINVAL)
			d->bad_frees++; /* freed twice through the fast path */
	}
	d->cache_returns += m->n;
	dm_spin_unlock(&d->tree_lock);
	m->n = 0;
}

/*
 * The magazine path's miss side (the fast path in dm_iova_alloc_fast
 * handles "the loaded magazine's top entry fits"), entered with c held
 * (biased or locked) and leaving it: swap in prev or a full magazine from
 * the depot, then search the loaded one for an entry below the limit.
 * 0 when none fits.
 */
static __attribute__((noinline)) uint64_t dm_rcache_get(struct dm_iova_domain *d,
							  struct dm_iova_pcpu *c, bool biased,
							  unsigned int order, uint64_t limit)
{
	struct dm_iova_mag *m = c->loaded;
	if (!m->n) {
		if (c->prev->n) {
			c->loaded = c->prev;
			c->prev = m;
		} else {
			struct dm_iova_depot *dp = &d->depot[order];
			dm_spin_lock(&dp->lock);
			struct dm_iova_mag *full = dp->full;
			if (full) {
				dp->full = full->next;
				dp->nfull--;
				m->next = dp->spare; /* the empty one waits for a push */
				dp->spare = m;
				c->loaded = full;
			}
			dm_spin_unlock(&dp->lock);
		}
	}
	/* As Linux: a loaded magazine with nothing below the limit is a miss. */
	uint64_t pfn = dm_mag_pop(c->loaded, 1ULL << order, limit);
	if (pfn)
		c->hits++;
	else
		c->misses++;
	dm_pcpu_exit(c, biased);
	return pfn;
}

/*
 * loaded and prev are both full: loaded goes to the depot for an empty
 * magazine, or, when the depot is full (or no magazine can be had), its
 * IOVAs go back to the tree and it is reused.  Called under c's lock (or
 * in its owner's biased section); the malloc there is rare (no spare) and
 * the lock is this CPU's.
 */
static void dm_rcache_push_depot(struct dm_iova_domain *d, struct dm_iova_pcpu *c,
				 unsigned int order)
{
	struct dm_iova_depot *dp = &d->depot[order];
	struct dm_iova_mag *fresh = NULL;
	dm_spin_lock(&dp->lock);
	bool room = dp->nfull < DM_IOVA_DEPOT_MAX;
	if (room && dp->spare) {
		fresh = dp->spare;
		dp->spare = fresh->next;
	}
	dm_spin_unlock(&dp->lock);
	if (room && !fresh)
		fresh = malloc(sizeof(*fresh));
	if (fresh) {
		fresh->n = 0;
		dm_spin_lock(&dp->lock);
		if (dp->nfull < DM_IOVA_DEPOT_MAX) {
			c->loaded->next = dp->full;
			dp->full = c->loaded;
			dp->nfull++;
			c->loaded = fresh;
		} else {
			/* Filled up meanwhile: keep the magazine as a spare. */
			fresh->next = dp->spare;
			dp->spare = fresh;
		}
		dm_spin_unlock(&dp->lock);
	}
	if (c->loaded->n == DM_IOVA_MAG_SIZE)
		dm_mag_drain(d, c->loaded, order);
}

/* The free side's slow path, entered with c held: the loaded magazine is full. */
static __attribute__((noinline)) void dm_rcache_insert(struct dm_iova_domain *d,
							struct dm_iova_pcpu *c, bool biased,
							unsigned int order, uint64_t pfn)
{
	if (c->loaded->n == DM_IOVA_MAG_SIZE) {
		if (c->prev->n < DM_IOVA_MAG_SIZE) {
			struct dm_iova_mag *t = c->loaded;
			c->loaded = c->prev;
			c->prev = t;
		} else {
			dm_rcache_push_depot(d, c, order);
		}
	}
	c->loaded->pfns[c->loaded->n++] = pfn;
	c->frees++;
	dm_pcpu_exit(c, biased);
}

static int dm_iova_bad_fast_free(struct dm_iova_domain *d);

/* ---- CPU windows ---------------------------------------------------------------------- */

/*
 * The tree fallback for 33..512 granules, size-aligned (what dma-iommu's
 * alloc_iova_fast() asks the tree for beyond the magazines' orders).
 * Each CPU slot takes a window of DM_IOVA_WIN_PAGES granules from the
 * tree (its highest size-aligned fit below the request's limit) and
 * serves such requests from it through a bitmap under the slot's own
 * biased lock: no tree lock, no shared cache line, no node to allocate
 * or rebalance.  A free finds the window from this CPU's slot first, else
 * through the tree (the block lies inside a WINDOW node, which names the
 * slot).  A window with no room for a request whose limit it lies wholly
 * below is dissolved (its free runs go back to the tree; the blocks still
 * out become ordinary allocated space, freed later through the tree) and
 * a fresh one is carved.  Tree exhaustion and dm_iova_cache_flush
 * dissolve windows too, so space never stays hidden in them.
 */

static inline struct dm_iova_pcpu *dm_win_entry(struct dm_iova_domain *d, unsigned int slot)
{
	return &d->pcpu[(size_t)slot * DM_IOVA_PCPU_PER_SLOT + DM_IOVA_WIN_IDX];
}

static inline bool dm_win_eligible(uint64_t npages, bool size_aligned)
{
	return size_aligned && npages >= DM_IOVA_WIN_MIN_NPAGES &&
	       npages <= DM_IOVA_WIN_MAX_NPAGES;
}

static inline uint64_t dm_lowmask(uint64_t nbits) /* 1..64 */
{
	return nbits >= 64 ? ~0ULL : (1ULL << nbits) - 1;
}

/*
 * Re-biasing, under c's lock.  A thread that once used a slot (a setup
 * thread, a thread since gone, one completion on another CPU) leaves it
 * shared for good, and then every use costs a plain lock (two locked
 * instructions, about 10 ns here).  When one thread then takes a shared
 * window entry DM_IOVA_REBIAS times in a row, it becomes the owner again.
 * Each re-bias doubles the run the next one needs (up to 2^20): a slot
 * that another thread keeps touching now and then (a completion on
 * another CPU every few thousand operations) costs a membarrier ever
 * more rarely, not once per visit.  Safe for the same reason the first
 * claim is: owner changes only under the lock, and whoever locks a slot
 * owned by another thread runs the membarrier and waits for busy == 0
 * before using it (dm_pcpu_claim).
 */
static void dm_win_rebias(struct dm_iova_pcpu *c, uintptr_t me)
{
	struct dm_iova_win *w = c->win;
	if (atomic_load_explicit(&c->owner, memory_order_relaxed) != DM_IOVA_SHARED)
		return;
	if (w->last != me) {
		w->last = me;
		w->streak = 0;
		return;
	}
	uint32_t need = w->rebias_need ? w->rebias_need : DM_IOVA_REBIAS;
	if (++w->streak >= need && dm_iova_bias_ok()) {
		atomic_store_explicit(&c->owner, me, memory_order_relaxed);
		w->streak = 0;
		w->rebias_need = need < (1u << 20) ? 2 * need : need;
	}
}

static inline bool dm_win_acquire(struct dm_iova_pcpu *c, uintptr_t me)
{
	if (dm_likely(dm_pcpu_enter(c, me)))
		return true;
	bool biased = dm_pcpu_acquire(c, me);
	if (!biased)
		dm_win_rebias(c, me);
	return biased;
}

/*
 * The highest block of n granules (33..512), aligned to
 * roundup_pow_of_two(n), inside w and ending at or below limit, whose
 * bitmap words are all zero; 0 when there is none.  Works on the summary
 * only: candidate k's first word is k * g (g = alignment / 64 words), and
 * it needs m = ceil(n / 64) zero summary bits from there; g divides 64,
 * so a candidate's bits never straddle two summary words.
 */
static uint64_t dm_win_find(const struct dm_iova_win *w, uint64_t n, uint64_t limit)
{
	if (limit < w->base + n - 1)
		return 0;
	/* Shifts only: a 64-bit division costs 10-40 cycles, the whole search about 20. */
	static const uint64_t starts_of[4] = { /* bits 0, g, 2g, ... for g = 1, 2, 4, 8 */
		~0ULL, 0x5555555555555555ULL, 0x1111111111111111ULL, 0x0101010101010101ULL
	};
	unsigned int order = dm_order_base_2(n);       /* alignment 2^order: 6..9 */
	unsigned int gshift = order - 6;               /* g = 2^gshift words per candidate */
	uint64_t m = (n + 63) >> 6;
	uint64_t kmax = (limit - w->base - n + 1) >> order;
	if (kmax > (DM_IOVA_WIN_PAGES >> order) - 1)
		kmax = (DM_IOVA_WIN_PAGES >> order) - 1;
	uint64_t top = kmax << gshift;                 /* the highest candidate's first word */
	uint64_t starts = starts_of[gshift];
	for (uint64_t sw = top / 64 + 1; sw-- > 0;) {
		uint64_t f = ~w->sum[sw], run = f;
		for (uint64_t i = 1; i < m; i++)
			run &= f >> i;
		run &= starts;
		if (sw == top / 64)
			run &= dm_lowmask(top % 64 + 1);
		if (run) {
			uint64_t word = sw * 64 + 63 - (uint64_t)__builtin_clzll(run);
			return w->base + word * 64;
		}
	}
	return 0;
}

/* Marks the block at pfn (a multiple of 64) of n granules allocated. */
static void dm_win_take(struct dm_iova_win *w, uint64_t pfn, uint64_t n)
{
	uint64_t k = (pfn - w->base) / 64;
	w->nfree -= n;
	for (; n >= 64; n -= 64, k++) {
		w->bits[k] = ~0ULL;
		w->sum[k / 64] |= 1ULL << (k % 64);
	}
	if (n) {
		w->bits[k] |= dm_lowmask(n);
		w->sum[k / 64] |= 1ULL << (k % 64);
	}
}

/*
 * Frees granules [off, off + n) of w (any offset, inside the window) if
 * every one of them is allocated; false, changing nothing, if not (a
 * double free, or a range that was never handed out).
 */
static bool dm_win_release(struct dm_iova_win *w, uint64_t off, uint64_t n)
{
	const uint64_t end = off + n;
	for (uint64_t pos = off; pos < end;) {
		uint64_t k = pos / 64, b = pos % 64;
		uint64_t cnt = 64 - b < end - pos ? 64 - b : end - pos;
		uint64_t mask = dm_lowmask(cnt) << b;
		if ((w->bits[k] & mask) != mask)
			return false;
		pos += cnt;
	}
	for (uint64_t pos = off; pos < end;) {
		uint64_t k = pos / 64, b = pos % 64;
		uint64_t cnt = 64 - b < end - pos ? 64 - b : end - pos;
		w->bits[k] &= ~(dm_lowmask(cnt) << b);
		if (!w->bits[k])
			w->sum[k / 64] &= ~(1ULL << (k % 64));
		pos += cnt;
	}
	w->nfree += n;
	return true;
}

/* The first granule at or after pos whose bit is want (0 or 1); PAGES if none. */
static uint64_t dm_win_next(const struct dm_iova_win *w, uint64_t pos, bool want)
{
	if (pos >= DM_IOVA_WIN_PAGES)
		return DM_IOVA_WIN_PAGES;
	uint64_t k = pos / 64;
	uint64_t x = (want ? w->bits[k] : ~w->bits[k]) & (~0ULL << (pos % 64));
	while (!x) {
		if (++k == DM_IOVA_WIN_WORDS)
			return DM_IOVA_WIN_PAGES;
		x = want ? w->bits[k] : ~w->bits[k];
	}
	return k * 64 + (uint64_t)__builtin_ctzll(x);
}

/*
 * Takes a window for slot below limit from the tree: its highest
 * DM_IOVA_WIN_PAGES-aligned fit (the exact search when the bounded one,
 * which wants 2 x PAGES - 1 free granules in one range, finds none: once
 * per window, and a failure holds carving off for DM_IOVA_CARVE_WAIT
 * requests).  Called with the slot's window entry held; false (nothing
 * changed) when none fits or no node could be had.
 */
static bool dm_win_carve(struct dm_iova_domain *d, unsigned int slot,
			 struct dm_iova_win *w, uint64_t limit)
{
	uint64_t base = 0;
	dm_spin_lock(&d->tree_lock);
	/* One node for a split in the middle, one for the WINDOW node. */
	if (!dm_pool_fill(d, 2)) {
		d->nomem++;
	} else {
		base = dm_tree_alloc_locked(d, DM_IOVA_WIN_PAGES, limit,
					    DM_IOVA_WIN_PAGES - 1, true);
		if (base) {
			struct dm_iova_node *x = dm_node_get(d);
			*x = (struct dm_iova_node){ .lo = base, .hi = base + DM_IOVA_WIN_PAGES - 1,
						    .kind = DM_NODE_WINDOW,
						    .slot = (uint16_t)slot };
			dm_tree_insert(d, x);
			d->nnodes++;
			atomic_fetch_add_explicit(&d->nwindows, 1, memory_order_relaxed);
		}
	}
	/*
	 * w is filled in before the tree lock goes: a free that finds the new
	 * node then waits for this slot's entry, which the caller holds.
	 */
	if (base) {
		w->base = base;
		w->nfree = DM_IOVA_WIN_PAGES;
		memset(w->sum, 0, sizeof(w->sum));
		memset(w->bits, 0, sizeof(w->bits));
		w->carves++;
	}
	dm_spin_unlock(&d->tree_lock);
	return base != 0;
}

/*
 * Gives w back to the tree: its free runs become free ranges (merged with
 * free neighbours), its allocated blocks ordinary allocated space.  Called
 * with the window entry held.  false, nothing changed, when the nodes for
 * the runs cannot be had.
 */
static bool dm_win_dissolve(struct dm_iova_domain *d, struct dm_iova_win *w)
{
	unsigned int runs = 0;
	for (uint64_t pos = dm_win_next(w, 0, false); pos < DM_IOVA_WIN_PAGES;
	     pos = dm_win_next(w, dm_win_next(w, pos, true), false))
		runs++;
	dm_spin_lock(&d->tree_lock);
	/* Each run needs at most one node; with them in hand nothing below fails. */
	if (!dm_pool_fill(d, runs)) {
		d->nomem++;
		dm_spin_unlock(&d->tree_lock);
		return false;
	}
	struct dm_iova_node *x = dm_tree_remove_key(d, w->base);
	dm_node_put(d, x);
	d->nnodes--;
	atomic_fetch_sub_explicit(&d->nwindows, 1, memory_order_relaxed);
	for (uint64_t pos = dm_win_next(w, 0, false); pos < DM_IOVA_WIN_PAGES;) {
		uint64_t end = dm_win_next(w, pos, true);
		(void)dm_tree_free_locked(d, w->base + pos, end - pos, NULL);
		pos = dm_win_next(w, end, false);
	}
	dm_spin_unlock(&d->tree_lock);
	w->base = 0;
	w->dissolves++;
	return true;
}

/*
 * A size-aligned block of n (33..512) granules ending at or below limit
 * (clamped to the domain) from this CPU's window; 0 when the window path
 * declines (no window can be had below the limit, or this one lies partly
 * above it and has no room under it): the tree then serves the request.
 */
static uint64_t dm_win_alloc(struct dm_iova_domain *d, uint64_t n, uint64_t limit)
{
	unsigned int slot = dm_cpu() & d->slot_mask;
	struct dm_iova_pcpu *c = dm_win_entry(d, slot);
	bool biased = dm_win_acquire(c, dm_iova_self());
	struct dm_iova_win *w = c->win;
	uint64_t pfn = 0;
	if (dm_likely(w->base != 0)) {
		pfn = dm_win_find(w, n, limit);
		/* Full (for this size) under a limit it lies wholly below: replace it. */
		if (!pfn && w->base + DM_IOVA_WIN_PAGES - 1 <= limit)
			(void)dm_win_dissolve(d, w);
	}
	if (!pfn && !w->base) {
		if (w->carve_wait) {
			w->carve_wait--;
		} else if (dm_win_carve(d, slot, w, limit)) {
			pfn = dm_win_find(w, n, limit); /* a fresh window always has room */
		} else {
			w->carve_wait = DM_IOVA_CARVE_WAIT; /* the tree is fragmented or full */
		}
	}
	if (pfn) {
		dm_win_take(w, pfn, n);
		c->hits++;
	} else {
		c->misses++;
	}
	dm_pcpu_exit(c, biased);
	return pfn;
}

/*
 * Frees [pfn, pfn + n) into slot c's window.  1: that window does not
 * touch the range (or there is none); 0: freed; -EINVAL: refused and
 * counted (it straddles the window's edge, or not every granule of it is
 * allocated).
 */
static int dm_win_free(struct dm_iova_domain *d, struct dm_iova_pcpu *c, uint64_t pfn,
		       uint64_t n)
{
	bool biased = dm_win_acquire(c, dm_iova_self());
	struct dm_iova_win *w = c->win;
	const uint64_t wlast = w->base + DM_IOVA_WIN_PAGES - 1;
	int r = 1;
	/* pfn <= wlast first: then pfn + n - 1 (n fits the domain) cannot wrap. */
	if (w->base && pfn <= wlast && pfn + n - 1 >= w->base) {
		if (pfn >= w->base && pfn + n - 1 <= wlast && dm_win_release(w, pfn - w->base, n)) {
			c->frees++;
			r = 0;
		} else {
			r = -EINVAL;
		}
	}
	dm_pcpu_exit(c, biased);
	if (r < 0)
		dm_iova_bad_fast_free(d);
	return r;
}

/*
 * Tree exhaustion: dissolves every window that starts at or below limit
 * (one lying wholly above it cannot help).  true when one was.
 */
static bool dm_win_dissolve_all(struct dm_iova_domain *d, uint64_t limit)
{
	if (!atomic_load_explicit(&d->nwindows, memory_order_relaxed))
		return false;
	bool any = false;
	dm_pcpu_lock_all(d, true);
	for (unsigned int s = 0; s <= d->slot_mask; s++) {
		struct dm_iova_win *w = dm_win_entry(d, s)->win;
		w->carve_wait = 0;
		if (w->base && w->base <= limit && dm_win_dissolve(d, w))
			any = true;
	}
	dm_pcpu_unlock_all(d, true);
	return any;
}

/*
 * Linux's alloc_iova() placement, with the windows in front (see
 * DIFFERENCES.md): window-eligible requests are served top-down inside
 * this CPU's window; everything else, and what the windows decline, by
 * the tree.  Counts no failure (the callers do).
 */
static uint64_t dm_alloc_any(struct dm_iova_domain *d, uint64_t npages, uint64_t limit,
			     bool size_aligned)
{
	if (limit > d->end_pfn)
		limit = d->end_pfn;
	if (npages == 0 || limit < d->start_pfn || npages > limit - d->start_pfn + 1)
		return 0;
	if (dm_win_eligible(npages, size_aligned)) {
		uint64_t pfn = dm_win_alloc(d, npages, limit);
		if (pfn)
			return pfn;
	}
	uint64_t pfn = dm_tree_alloc(d, npages, limit, size_aligned);
	/* The space may be sitting in the windows: give it back once and retry. */
	if (!pfn && dm_win_dissolve_all(d, limit))
		pfn = dm_tree_alloc(d, npages, limit, size_aligned);
	return pfn;
}

/* ---- the interface ------------------------------------------------------------------- */

int dm_iova_domain_init(struct dm_iova_domain **out, uint64_t granule,
			uint64_t start_pfn, uint64_t end_pfn, unsigned int ncpus)
{
	*out = NULL;
	if (granule < 4096 || (granule & (granule - 1)))
		return -EINVAL;
	unsigned int shift = (unsigned int)__builtin_ctzll(granule);
	if (start_pfn == 0)
		start_pfn = 1; /* pfn 0 is the failure value */
	if (end_pfn < start_pfn || end_pfn > (UINT64_MAX >> shift))
		return -EINVAL;
	if (ncpus == 0)
		ncpus = 1;
	dm_iova_bias_ok(); /* the one-time membarrier registration, outside any lock */
	if (ncpus > DM_IOVA_MAX_SLOTS)
		ncpus = DM_IOVA_MAX_SLOTS;
	unsigned int nslots = (unsigned int)dm_iova_roundup_pow2(ncpus);

	struct dm_iova_domain *d = aligned_alloc(DM_CACHELINE, sizeof(*d));
	if (!d)
		return -ENOMEM;
	memset(d, 0, sizeof(*d));
	d->granule = granule;
	d->shift = shift;
	d->slot_mask = nslots - 1;
	d->start_pfn = start_pfn;
	d->end_pfn = end_pfn;
	size_t npc = (size_t)nslots * DM_IOVA_PCPU_PER_SLOT;
	d->pcpu = aligned_alloc(DM_CACHELINE, npc * sizeof(*d->pcpu));
	if (!d->pcpu)
		goto nomem;
	memset(d->pcpu, 0, npc * sizeof(*d->pcpu));
	for (size_t i = 0; i < npc; i++) {
		if (i % DM_IOVA_PCPU_PER_SLOT == DM_IOVA_WIN_IDX) {
			/* The window's bitmap: 1.1 KiB per slot, eager like the magazines. */
			d->pcpu[i].win = aligned_alloc(DM_CACHELINE, sizeof(struct dm_iova_win));
			if (!d->pcpu[i].win)
				goto nomem;
			memset(d->pcpu[i].win, 0, sizeof(struct dm_iova_win));
			continue;
		}
		/* Eager, as Linux: 12 KiB per slot; the fast path never allocates them. */
		d->pcpu[i].loaded = calloc(1, sizeof(struct dm_iova_mag));
		d->pcpu[i].prev = calloc(1, sizeof(struct dm_iova_mag));
		if (!d->pcpu[i].loaded || !d->pcpu[i].prev)
			goto nomem;
	}
	struct dm_iova_node *n = malloc(sizeof(*n));
	if (!n)
		goto nomem;
	*n = (struct dm_iova_node){ .lo = start_pfn, .hi = end_pfn };
	dm_tree_insert(d, n);
	d->nnodes = 1;
	d->free_pages = end_pfn - start_pfn + 1;
	*out = d;
	return 0;
nomem:
	dm_iova_domain_destroy(d);
	return -ENOMEM;
}

static void dm_free_subtree(struct dm_iova_node *n)
{
	while (n) {
		dm_free_subtree(n->l);
		struct dm_iova_node *r = n->r;
		free(n);
		n = r;
	}
}

static void dm_free_mag_list(struct dm_iova_mag *m)
{
	while (m) {
		struct dm_iova_mag *next = m->next;
		free(m);
		m = next;
	}
}

void dm_iova_domain_destroy(struct dm_iova_domain *d)
{
	if (!d)
		return;
	dm_free_subtree(d->root);
	while (d->pool) {
		struct dm_iova_node *n = d->pool;
		d->pool = n->l;
		free(n);
	}
	if (d->pcpu) {
		size_t npc = (size_t)(d->slot_mask + 1) * DM_IOVA_PCPU_PER_SLOT;
		for (size_t i = 0; i < npc; i++) {
			free(d->pcpu[i].loaded);
			free(d->pcpu[i].prev);
			free(d->pcpu[i].win);
		}
		free(d->pcpu);
	}
	for (unsigned int o = 0; o < DM_IOVA_RCACHE_ORDERS; o++) {
		dm_free_mag_list(d->depot[o].full);
		dm_free_mag_list(d->depot[o].spare);
	}
	free(d);
}

uint64_t dm_iova_granule(const struct dm_iova_domain *d)
{
	return d->granule;
}

unsigned int dm_iova_shift(const struct dm_iova_domain *d)
{
	return d->shift;
}

int dm_iova_reserve(struct dm_iova_domain *d, uint64_t lo_pfn, uint64_t hi_pfn)
{
	if (lo_pfn > hi_pfn)
		return -EINVAL;
	if (hi_pfn < d->start_pfn || lo_pfn > d->end_pfn)
		return 0; /* nothing of it is ours to hand out */
	if (lo_pfn < d->start_pfn)
		lo_pfn = d->start_pfn;
	if (hi_pfn > d->end_pfn)
		hi_pfn = d->end_pfn;
	for (int attempt = 0;; attempt++) {
		dm_spin_lock(&d->tree_lock);
		int r = dm_tree_reserve_locked(d, lo_pfn, hi_pfn);
		dm_spin_unlock(&d->tree_lock);
		/* Cached IOVAs look allocated: give them back once and retry. */
		if (r != -EBUSY || attempt)
			return r;
		dm_iova_cache_flush(d);
	}
}

uint64_t dm_iova_alloc(struct dm_iova_domain *d, uint64_t npages,
		       uint64_t limit_pfn, bool size_aligned)
{
	uint64_t pfn = dm_alloc_any(d, npages, limit_pfn, size_aligned);
	if (!pfn)
		atomic_fetch_add_explicit(&d->failures, 1, memory_order_relaxed);
	return pfn;
}

int dm_iova_free(struct dm_iova_domain *d, uint64_t pfn, uint64_t npages)
{
	/*
	 * A block a window handed out is found in this CPU's window without
	 * the tree lock (the usual case: freed where it was allocated).  Only
	 * a hint decides whether to look; the tree finds the window anyway.
	 */
	if (npages >= DM_IOVA_WIN_MIN_NPAGES && npages <= DM_IOVA_WIN_MAX_NPAGES &&
	    atomic_load_explicit(&d->nwindows, memory_order_relaxed)) {
		int r = dm_win_free(d, dm_win_entry(d, dm_cpu() & d->slot_mask), pfn, npages);
		if (r <= 0)
			return r;
	}
	for (;;) {
		uint16_t slot = 0;
		dm_spin_lock(&d->tree_lock);
		int r = dm_tree_free_locked(d, pfn, npages, &slot);
		if (r == 0)
			d->tree_frees++;
		else if (r == -EINVAL)
			d->bad_frees++;
		dm_spin_unlock(&d->tree_lock);
		if (r != DM_IN_WINDOW)
			return r;
		/* Another slot's window (slot < nslots: only dm_win_carve names one). */
		r = dm_win_free(d, dm_win_entry(d, slot), pfn, npages);
		if (r <= 0)
			return r;
		/* Dissolved since the tree said so: the tree knows the block now. */
	}
}

/* The tree fallback of dm_iova_alloc_fast (npages already rounded). */
static __attribute__((noinline)) uint64_t dm_iova_alloc_tree(struct dm_iova_domain *d,
							     uint64_t npages, uint64_t limit_pfn,
							     bool flush_rcache)
{
	if (npages == 0 || limit_pfn < d->start_pfn)
		goto fail;
	for (;;) {
		uint64_t pfn = dm_alloc_any(d, npages, limit_pfn, true);
		if (pfn)
			return pfn;
		if (!flush_rcache)
			break;
		/* The space may be sitting in other CPUs' magazines. */
		flush_rcache = false;
		dm_iova_cache_flush(d);
	}
fail:
	atomic_fetch_add_explicit(&d->failures, 1, memory_order_relaxed);
	return 0;
}

/*
 * Cacheable sizes try this CPU's magazines first.  The inline part is a
 * hit: the loaded magazine's most recent entry fits below the limit (in
 * this thread's own slot: no locked instruction).  dm_rcache_get does the
 * rest of the magazine work, dm_iova_alloc_tree the fallback.
 */
uint64_t dm_iova_alloc_fast(struct dm_iova_domain *d, uint64_t npages,
			    uint64_t limit_pfn, bool flush_rcache)
{
	if (limit_pfn > d->end_pfn)
		limit_pfn = d->end_pfn;
	unsigned int order = dm_order_base_2(npages);
	if (dm_unlikely(npages == 0 || order >= DM_IOVA_RCACHE_ORDERS ||
			limit_pfn < d->start_pfn))
		return dm_iova_alloc_tree(d, npages, limit_pfn, flush_rcache);
	struct dm_iova_pcpu *c = dm_iova_this_cpu(d, order);
	bool biased = dm_pcpu_acquire(c, dm_iova_self());
	struct dm_iova_mag *m = c->loaded;
	uint64_t n = m->n;
	if (dm_likely(n != 0)) {
		uint64_t pfn = m->pfns[n - 1];
		if (dm_likely(pfn + (1ULL << order) - 1 <= limit_pfn)) {
			m->n = n - 1;
			c->hits++;
			dm_pcpu_exit(c, biased);
			return pfn;
		}
	}
	uint64_t pfn = dm_rcache_get(d, c, biased, order, limit_pfn);
	if (pfn)
		return pfn;
	return dm_iova_alloc_tree(d, 1ULL << order, limit_pfn, flush_rcache);
}

static __attribute__((noinline)) int dm_iova_bad_fast_free(struct dm_iova_domain *d)
{
	dm_spin_lock(&d->tree_lock);
	d->bad_frees++;
	dm_spin_unlock(&d->tree_lock);
	return -EINVAL;
}

int dm_iova_free_fast(struct dm_iova_domain *d, uint64_t pfn, uint64_t npages)
{
	unsigned int order = dm_order_base_2(npages);
	if (dm_unlikely(npages == 0 || order >= DM_IOVA_RCACHE_ORDERS))
		return dm_iova_free(d, pfn, npages);
	uint64_t size = 1ULL << order;
	/* What can be checked without a lookup: bounds and size alignment. */
	if (dm_unlikely(pfn < d->start_pfn || pfn > d->end_pfn ||
			size > d->end_pfn - pfn + 1 || (pfn & (size - 1))))
		return dm_iova_bad_fast_free(d);
	struct dm_iova_pcpu *c = dm_iova_this_cpu(d, order);
	bool biased = dm_pcpu_acquire(c, dm_iova_self());
	struct dm_iova_mag *m = c->loaded;
	uint64_t n = m->n;
	if (dm_likely(n < DM_IOVA_MAG_SIZE)) {
		m->pfns[n] = pfn;
		m->n = n + 1;
		c->frees++;
		dm_pcpu_exit(c, biased);
		return 0;
	}
	dm_rcache_insert(d, c, biased, order, pfn);
	return 0;
}

uint64_t dm_iova_cache_flush(struct dm_iova_domain *d)
{
	uint64_t n = 0;
	size_t npc = (size_t)(d->slot_mask + 1) * DM_IOVA_PCPU_PER_SLOT;
	dm_pcpu_lock_all(d, false);
	for (size_t i = 0; i < npc; i++) {
		struct dm_iova_pcpu *c = &d->pcpu[i];
		unsigned int order = (unsigned int)(i % DM_IOVA_PCPU_PER_SLOT);
		if (order == DM_IOVA_WIN_IDX) {
			/* Not cached IOVAs, but free space all the same: back to the tree. */
			c->win->carve_wait = 0;
			if (c->win->base)
				(void)dm_win_dissolve(d, c->win);
			continue;
		}
		n += c->loaded->n + c->prev->n;
		dm_mag_drain(d, c->loaded, order);
		dm_mag_drain(d, c->prev, order);
	}
	dm_pcpu_unlock_all(d, false);
	for (unsigned int o = 0; o < DM_IOVA_RCACHE_ORDERS; o++) {
		struct dm_iova_depot *dp = &d->depot[o];
		dm_spin_lock(&dp->lock);
		struct dm_iova_mag *full = dp->full, *spare = dp->spare;
		dp->full = dp->spare = NULL;
		dp->nfull = 0;
		dm_spin_unlock(&dp->lock);
		for (struct dm_iova_mag *m = full; m; m = m->next) {
			n += m->n;
			dm_mag_drain(d, m, o);
		}
		/* Memory pressure: the depot's magazines go too. */
		dm_free_mag_list(full);
		dm_free_mag_list(spare);
	}
	atomic_fetch_add_explicit(&d->flushes, 1, memory_order_relaxed);
	return n;
}

void dm_iova_get_stats(struct dm_iova_domain *d, struct dm_iova_stats *st)
{
	memset(st, 0, sizeof(*st));
	size_t npc = (size_t)(d->slot_mask + 1) * DM_IOVA_PCPU_PER_SLOT;
	dm_pcpu_lock_all(d, false);
	for (size_t i = 0; i < npc; i++) {
		struct dm_iova_pcpu *c = &d->pcpu[i];
		if (i % DM_IOVA_PCPU_PER_SLOT == DM_IOVA_WIN_IDX) {
			const struct dm_iova_win *w = c->win;
			st->win_allocs += c->hits;
			st->win_frees += c->frees;
			st->windows += w->base != 0;
			st->win_free_pages += w->base ? w->nfree : 0;
			st->win_carves += w->carves;
			st->win_dissolves += w->dissolves;
			continue;
		}
		st->cache_hits += c->hits;
		st->cache_misses += c->misses;
		st->cache_frees += c->frees;
		st->cached += c->loaded->n + c->prev->n;
	}
	dm_pcpu_unlock_all(d, false);
	for (unsigned int o = 0; o < DM_IOVA_RCACHE_ORDERS; o++) {
		struct dm_iova_depot *dp = &d->depot[o];
		dm_spin_lock(&dp->lock);
		st->depot_mags += dp->nfull;
		for (struct dm_iova_mag *m = dp->full; m; m = m->next)
			st->cached += m->n;
		dm_spin_unlock(&dp->lock);
	}
	dm_spin_lock(&d->tree_lock);
	st->tree_allocs = d->tree_allocs + st->win_allocs;
	st->tree_frees = d->tree_frees + st->win_frees;
	st->bad_frees = d->bad_frees;
	st->cache_returns = d->cache_returns;
	st->tree_nodes = d->nnodes;
	st->free_pages = d->free_pages + st->win_free_pages;
	st->tree_searches = d->searches;
	st->tree_visits = d->visits;
	st->tree_visits_max = d->visits_max;
	st->slow_searches = d->slow_searches;
	st->nomem = d->nomem;
	dm_spin_unlock(&d->tree_lock);
	st->allocs = st->tree_allocs + st->cache_hits;
	st->frees = st->tree_frees + st->cache_frees;
	st->failures = atomic_load_explicit(&d->failures, memory_order_relaxed);
	st->flushes = atomic_load_explicit(&d->flushes, memory_order_relaxed);
}

/* ---- invariant check (tests) ----------------------------------------------------------- */

struct dm_check {
	struct dm_iova_domain *d;
	bool have_prev, prev_free;
	uint64_t prev_hi;
	uint64_t nodes, free_pages, windows;
};

/* A WINDOW node: its slot's window is exactly this range, and consistent. */
static bool dm_check_window(struct dm_check *k, const struct dm_iova_node *n)
{
	if (n->slot > k->d->slot_mask)
		return false;
	const struct dm_iova_win *w = dm_win_entry(k->d, n->slot)->win;
	if (w->base != n->lo || n->lo % DM_IOVA_WIN_PAGES ||
	    n->hi - n->lo + 1 != DM_IOVA_WIN_PAGES)
		return false;
	uint64_t used = 0;
	for (unsigned int i = 0; i < DM_IOVA_WIN_WORDS; i++) {
		used += (uint64_t)__builtin_popcountll(w->bits[i]);
		bool sum = (w->sum[i / 64] >> (i % 64)) & 1;
		if (sum != (w->bits[i] != 0))
			return false;
	}
	k->windows++;
	return w->nfree == DM_IOVA_WIN_PAGES - used;
}

static bool dm_check_node(struct dm_check *k, const struct dm_iova_node *n)
{
	if (!n)
		return true;
	if (!dm_check_node(k, n->l))
		return false;
	if (n->lo > n->hi || n->lo < k->d->start_pfn || n->hi > k->d->end_pfn ||
	    n->kind > DM_NODE_WINDOW)
		return false;
	if (n->kind == DM_NODE_WINDOW && !dm_check_window(k, n))
		return false;
	if (k->have_prev) {
		if (n->lo <= k->prev_hi)
			return false;
		if (k->prev_free && n->kind == DM_NODE_FREE && n->lo == k->prev_hi + 1)
			return false; /* two free ranges left unmerged */
	}
	k->have_prev = true;
	k->prev_hi = n->hi;
	k->prev_free = n->kind == DM_NODE_FREE;
	k->nodes++;
	k->free_pages += dm_own(n);
	if (!dm_check_node(k, n->r))
		return false;
	int32_t hl = dm_h(n->l), hr = dm_h(n->r);
	if (hl - hr > 1 || hr - hl > 1 || n->height != 1 + (hl > hr ? hl : hr))
		return false;
	uint64_t m = dm_own(n);
	if (dm_mf(n->l) > m)
		m = dm_mf(n->l);
	if (dm_mf(n->r) > m)
		m = dm_mf(n->r);
	return n->maxfree == m;
}

int dm_iova_check(struct dm_iova_domain *d)
{
	struct dm_check k = { .d = d };
	dm_pcpu_lock_all(d, true); /* the windows, then the tree: the lock order */
	dm_spin_lock(&d->tree_lock);
	bool ok = dm_check_node(&k, d->root) && k.nodes == d->nnodes &&
		  k.free_pages == d->free_pages;
	/* Every slot with a window has its node (each node checked its slot's window). */
	uint64_t nwin = 0;
	for (unsigned int s = 0; s <= d->slot_mask; s++)
		nwin += dm_win_entry(d, s)->win->base != 0;
	ok = ok && nwin == k.windows &&
	     nwin == atomic_load_explicit(&d->nwindows, memory_order_relaxed);
	dm_spin_unlock(&d->tree_lock);
	dm_pcpu_unlock_all(d, true);
	return ok ? 0 : -EIO;
}
