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
 * Lock order: a CPU slot's lock, then a depot's or the tree's; the tree
 * lock is innermost and nothing else is taken under a depot lock.  Only
 * a flush and dm_iova_get_stats hold several CPU slots' locks at once,
 * always in index order.
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

struct dm_iova_node {
	struct dm_iova_node *l, *r; /* l doubles as the link in the spare pool */
	uint64_t lo, hi;            /* inclusive pfns */
	uint64_t maxfree;           /* longest free node in this subtree, granules */
	int32_t height;             /* leaf: 1 */
	bool reserved;
};

struct dm_iova_mag {
	struct dm_iova_mag *next;   /* depot / spare list link */
	uint64_t n;                 /* valid entries, pfns[0..n) */
	uint64_t pfns[DM_IOVA_MAG_SIZE];
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
	struct dm_iova_mag *prev;    /* never NULL */
	uint64_t hits, misses, frees; /* under lock */
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
	struct dm_iova_pcpu *pcpu;   /* [slot * DM_IOVA_RCACHE_ORDERS + order] */
	_Atomic uint64_t failures;
	_Atomic uint64_t flushes;

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
static void dm_pcpu_lock_all(struct dm_iova_domain *d)
{
	size_t npc = (size_t)(d->slot_mask + 1) * DM_IOVA_RCACHE_ORDERS;
	uintptr_t me = dm_iova_self();
	bool foreign = false;
	for (size_t i = 0; i < npc; i++) {
		dm_spin_lock(&d->pcpu[i].lock);
		foreign |= dm_pcpu_foreign(&d->pcpu[i], me);
	}
	if (!foreign)
		return;
	dm_iova_membarrier();
	for (size_t i = 0; i < npc; i++)
		dm_pcpu_wait_owner(&d->pcpu[i]);
}

static void dm_pcpu_unlock_all(struct dm_iova_domain *d)
{
	size_t npc = (size_t)(d->slot_mask + 1) * DM_IOVA_RCACHE_ORDERS;
	for (size_t i = 0; i < npc; i++)
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
	return &d->pcpu[slot * DM_IOVA_RCACHE_ORDERS + order];
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
	return n->reserved ? 0 : n->hi - n->lo + 1;
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

static void dm_tree_remove_key(struct dm_iova_domain *d, uint64_t key)
{
	struct dm_iova_node **path[DM_IOVA_MAX_DEPTH];
	int depth = dm_tree_find_path(d, key, path);
	if (depth >= 0)
		dm_tree_remove_at(path, depth);
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
			if (!n->reserved) {
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

/* Carves size granules (aligned to amask + 1) at or below limit; 0 if none fit. */
static uint64_t dm_tree_alloc_locked(struct dm_iova_domain *d, uint64_t size,
				     uint64_t limit, uint64_t amask)
{
	struct dm_iova_node **path[DM_IOVA_MAX_DEPTH];
	uint64_t pfn = 0, visits = 0;
	d->searches++;
	int depth = dm_tree_search(d, path, size, amask, limit, size + amask, &pfn, &visits);
	if (depth < 0 && amask) {
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
		low->reserved = false;
		n->lo = end + 1;
		dm_retrace(path, depth, depth);
		dm_tree_insert(d, low);
		d->nnodes++;
	}
	d->free_pages -= size;
	d->tree_allocs++;
	return pfn;
}

/*
 * Returns [a, a + size) to the tree, merging with free neighbours.
 * -EINVAL (nothing changed) when it leaves the domain or overlaps a free
 * or reserved node; -ENOMEM when a node was needed and none could be had.
 */
static int dm_tree_free_locked(struct dm_iova_domain *d, uint64_t a, uint64_t size)
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
	if (fl && fl->hi >= a)
		return -EINVAL;
	bool merge_lo = fl && !fl->reserved && fl->hi + 1 == a;
	bool merge_hi = ce && !ce->reserved && ce->lo == b + 1;
	if (merge_lo && merge_hi) {
		uint64_t hi = ce->hi;
		dm_tree_remove_key(d, ce->lo);
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
		x->reserved = false;
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
		if (!fl || fl->hi < cur)
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
		bool res = fl->reserved;
		dm_tree_remove_key(d, flo);
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
	*x = (struct dm_iova_node){ .lo = rlo, .hi = rhi, .reserved = true };
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
	uint64_t pfn = dm_tree_alloc_locked(d, npages, limit, amask);
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
		if (dm_tree_free_locked(d, m->pfns[i], size) == -EINVAL)
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
	size_t npc = (size_t)nslots * DM_IOVA_RCACHE_ORDERS;
	d->pcpu = aligned_alloc(DM_CACHELINE, npc * sizeof(*d->pcpu));
	if (!d->pcpu)
		goto nomem;
	memset(d->pcpu, 0, npc * sizeof(*d->pcpu));
	for (size_t i = 0; i < npc; i++) {
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
		size_t npc = (size_t)(d->slot_mask + 1) * DM_IOVA_RCACHE_ORDERS;
		for (size_t i = 0; i < npc; i++) {
			free(d->pcpu[i].loaded);
			free(d->pcpu[i].prev);
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
	uint64_t pfn = dm_tree_alloc(d, npages, limit_pfn, size_aligned);
	if (!pfn)
		atomic_fetch_add_explicit(&d->failures, 1, memory_order_relaxed);
	return pfn;
}

int dm_iova_free(struct dm_iova_domain *d, uint64_t pfn, uint64_t npages)
{
	dm_spin_lock(&d->tree_lock);
	int r = dm_tree_free_locked(d, pfn, npages);
	if (r == 0)
		d->tree_frees++;
	else if (r == -EINVAL)
		d->bad_frees++;
	dm_spin_unlock(&d->tree_lock);
	return r;
}

/* The tree fallback of dm_iova_alloc_fast (npages already rounded). */
static __attribute__((noinline)) uint64_t dm_iova_alloc_tree(struct dm_iova_domain *d,
							     uint64_t npages, uint64_t limit_pfn,
							     bool flush_rcache)
{
	if (npages == 0 || limit_pfn < d->start_pfn)
		goto fail;
	for (;;) {
		uint64_t pfn = dm_tree_alloc(d, npages, limit_pfn, true);
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
	size_t npc = (size_t)(d->slot_mask + 1) * DM_IOVA_RCACHE_ORDERS;
	dm_pcpu_lock_all(d);
	for (size_t i = 0; i < npc; i++) {
		struct dm_iova_pcpu *c = &d->pcpu[i];
		unsigned int order = (unsigned int)(i % DM_IOVA_RCACHE_ORDERS);
		n += c->loaded->n + c->prev->n;
		dm_mag_drain(d, c->loaded, order);
		dm_mag_drain(d, c->prev, order);
	}
	dm_pcpu_unlock_all(d);
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
	size_t npc = (size_t)(d->slot_mask + 1) * DM_IOVA_RCACHE_ORDERS;
	dm_pcpu_lock_all(d);
	for (size_t i = 0; i < npc; i++) {
		struct dm_iova_pcpu *c = &d->pcpu[i];
		st->cache_hits += c->hits;
		st->cache_misses += c->misses;
		st->cache_frees += c->frees;
		st->cached += c->loaded->n + c->prev->n;
	}
	dm_pcpu_unlock_all(d);
	for (unsigned int o = 0; o < DM_IOVA_RCACHE_ORDERS; o++) {
		struct dm_iova_depot *dp = &d->depot[o];
		dm_spin_lock(&dp->lock);
		st->depot_mags += dp->nfull;
		for (struct dm_iova_mag *m = dp->full; m; m = m->next)
			st->cached += m->n;
		dm_spin_unlock(&dp->lock);
	}
	dm_spin_lock(&d->tree_lock);
	st->tree_allocs = d->tree_allocs;
	st->tree_frees = d->tree_frees;
	st->bad_frees = d->bad_frees;
	st->cache_returns = d->cache_returns;
	st->tree_nodes = d->nnodes;
	st->free_pages = d->free_pages;
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
	const struct dm_iova_domain *d;
	bool have_prev, prev_free;
	uint64_t prev_hi;
	uint64_t nodes, free_pages;
};

static bool dm_check_node(struct dm_check *k, const struct dm_iova_node *n)
{
	if (!n)
		return true;
	if (!dm_check_node(k, n->l))
		return false;
	if (n->lo > n->hi || n->lo < k->d->start_pfn || n->hi > k->d->end_pfn)
		return false;
	if (k->have_prev) {
		if (n->lo <= k->prev_hi)
			return false;
		if (k->prev_free && !n->reserved && n->lo == k->prev_hi + 1)
			return false; /* two free ranges left unmerged */
	}
	k->have_prev = true;
	k->prev_hi = n->hi;
	k->prev_free = !n->reserved;
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
	dm_spin_lock(&d->tree_lock);
	bool ok = dm_check_node(&k, d->root) && k.nodes == d->nnodes &&
		  k.free_pages == d->free_pages;
	dm_spin_unlock(&d->tree_lock);
	return ok ? 0 : -EIO;
}
