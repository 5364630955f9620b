// Counts heap allocations of a process, for allocation-free hot paths (issue 6: "the hot
// path does no allocation per packet"). Build and preload:
//   cc -shared -fPIC -O2 -o /tmp/libmalloc_counter.so Benchmarks/MallocCounter/malloc_counter.c
//   LD_PRELOAD=/tmp/libmalloc_counter.so swift test ... --filter MediaForwardingBenchmark
// A test finds `demarc_malloc_count` with dlsym and reads it around the measured loop;
// without the preload the symbol is absent and the test says so. glibc only.
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stddef.h>
#include <errno.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static _Atomic unsigned long allocations;

unsigned long demarc_malloc_count(void) { return atomic_load(&allocations); }

void *malloc(size_t n) { atomic_fetch_add(&allocations, 1); return __libc_malloc(n); }
void *calloc(size_t a, size_t b) { atomic_fetch_add(&allocations, 1); return __libc_calloc(a, b); }
void *realloc(void *p, size_t n) { atomic_fetch_add(&allocations, 1); return __libc_realloc(p, n); }
void *aligned_alloc(size_t a, size_t n) { atomic_fetch_add(&allocations, 1); return __libc_memalign(a, n); }
void *memalign(size_t a, size_t n) { atomic_fetch_add(&allocations, 1); return __libc_memalign(a, n); }
int posix_memalign(void **out, size_t a, size_t n) {
    atomic_fetch_add(&allocations, 1);
    void *p = __libc_memalign(a, n);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}
