/*
 * src/base.h - the primitives every library file may use: branch hints,
 * cache-line alignment, bit helpers and the spinlock.
 *
 * Owns: small inline helpers with no knowledge of devices, contexts or
 * platforms.  Must never include another library header (every module
 * header includes this one) and never grow state.
 */
#ifndef DM_BASE_H
#define DM_BASE_H

#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define dm_likely(x) __builtin_expect(!!(x), 1)
#define dm_unlikely(x) __builtin_expect(!!(x), 0)
#define DM_CACHELINE 64
#define DM_ALIGNED_CL _Alignas(DM_CACHELINE)

#define DM_SZ_4G (1ULL << 32)

/*
 * The hot paths' thread-locals (the CPU index, the counter slot): the
 * initial-exec model, one %fs-relative load.  The default model in
 * position-independent code is a call to __tls_get_addr that the linker
 * may relax, but the compiler has already saved registers around it.  A
 * library loaded with dlopen takes these few bytes from the static TLS
 * surplus the C library keeps for that.
 */
#define DM_TLS_IE __attribute__((tls_model("initial-exec")))

/* ---- bits ------------------------------------------------------------------- */

/* Linux's fls64: the 1-based index of the highest set bit, 0 for 0. */
static inline unsigned int dm_fls64(uint64_t x)
{
	return x ? 64u - (unsigned int)__builtin_clzll(x) : 0;
}

/* log2 of a power of two. */
static inline unsigned int dm_ilog2_pow2(uint64_t x)
{
	return (unsigned int)__builtin_ctzll(x);
}

/* Linux's order_base_2: ceil(log2(n)), 0 for n <= 1. */
static inline unsigned int dm_order_base_2(uint64_t n)
{
	return n <= 1 ? 0 : dm_fls64(n - 1);
}

/* m is 2^k - 1 for some k (0 and ~0 included). */
static inline bool dm_is_low_mask(uint64_t m)
{
	return (m & (m + 1)) == 0;
}

/* ---- the spinlock ------------------------------------------------------------- */

/*
 * A test-and-test-and-set lock for short critical sections (slot areas,
 * IOVA magazines, flush queues).  Waiters spin with the CPU's pause hint
 * (pause on x86, yield on arm64) and give the CPU up every 256 spins: the
 * holder may be a preempted thread, which a pure spin would starve.  The
 * uncontended path is one exchange.
 */
typedef atomic_int dm_spinlock_t;

static inline void dm_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

static __attribute__((noinline, cold, unused)) void dm_spin_lock_slow(dm_spinlock_t *l)
{
	unsigned int spins = 0;
	do {
		while (atomic_load_explicit(l, memory_order_relaxed)) {
			if (++spins < 256) {
				dm_cpu_relax();
			} else {
				sched_yield();
				spins = 0;
			}
		}
	} while (atomic_exchange_explicit(l, 1, memory_order_acquire));
}

static inline void dm_spin_lock(dm_spinlock_t *l)
{
	if (dm_likely(!atomic_exchange_explicit(l, 1, memory_order_acquire)))
		return;
	dm_spin_lock_slow(l);
}

static inline bool dm_spin_trylock(dm_spinlock_t *l)
{
	return !atomic_load_explicit(l, memory_order_relaxed) &&
	       !atomic_exchange_explicit(l, 1, memory_order_acquire);
}

static inline void dm_spin_unlock(dm_spinlock_t *l)
{
	atomic_store_explicit(l, 0, memory_order_release);
}

#endif /* DM_BASE_H */
