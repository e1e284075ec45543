/* bfloat16 matrix times a few vectors, for one-token decode steps on CPU (alm/kernels/gemv.py builds and loads it).
 *
 * y[b, o] = sum_i w[o, i] * x[b, i] for b < m (input rows), o < rows (output features), i < n (input features):
 * w (rows, n), x (m, n), y (m, rows), all row-major bfloat16. Products are summed in float32 and rounded to
 * bfloat16 once, to nearest even, as PyTorch's bfloat16 matmul does (the summation order differs).
 * A decode step is memory-bound: each weight is read once and used m times, so the loop streams w row by row
 * (a row stays in L1 across the m inputs) and the compiler vectorizes the inner sum (built with -O3 -march=native
 * and reassociation allowed).
 *
 * Output rows are split over `threads` threads: the caller and helpers of a pool of its own (pthreads), not
 * OpenMP. PyTorch's libgomp counts every thread of every OpenMP team in the process; once they outnumber the
 * cores (a second thread that runs parallel PyTorch ops, e.g. a server's worker thread, or another library's
 * OpenMP bound to it), its workers stop spinning between parallel regions and sleep, and a decode step's ~120
 * short regions each pay a wake-up (measured here: decode 41 tokens/s from a worker thread, 65 on the main one).
 * The pool's helpers spin for a while after each job (a decode step's products come every few tens of
 * microseconds, its tokens every ~15 ms), then sleep on a condition variable; one caller at a time uses the pool (another runs on its own thread alone).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#define MAX_THREADS 64
#define SPIN_ROUNDS 200000L /* polls before a helper sleeps: 5 ms of `pause` on the AMD EPYC here */

static inline float bf16_to_float(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline uint16_t float_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u); /* NaN stays a (quiet) NaN */
    u += 0x7fffu + ((u >> 16) & 1u); /* round to nearest even */
    return (uint16_t)(u >> 16);
}

typedef struct {
    const uint16_t *w, *x;
    uint16_t *y;
    long m, n, rows;
    int parts;
} job_t;

static void run_part(const job_t *job, int part) {
    long lo = job->rows * part / job->parts, hi = job->rows * (part + 1) / job->parts;
    for (long o = lo; o < hi; o++) {
        const uint16_t *row = job->w + o * job->n;
        for (long b = 0; b < job->m; b++) {
            const uint16_t *in = job->x + b * job->n;
            float sum = 0.0f;
            for (long i = 0; i < job->n; i++) sum += bf16_to_float(row[i]) * bf16_to_float(in[i]);
            job->y[b * job->rows + o] = float_to_bf16(sum);
        }
    }
}

/* ------------------------------------------------------------------ the pool */
static pthread_mutex_t submit = PTHREAD_MUTEX_INITIALIZER; /* one caller at a time */
static pthread_mutex_t sleep_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static job_t current;
static atomic_long generation; /* (jobs so far << 8) | the job's parts: one load tells a helper both */
static atomic_int pending;     /* helpers still working on the current job */
static int helpers;            /* started, each with its part index 1..helpers */
static long started_at[MAX_THREADS]; /* the generation when each helper was started: its jobs come after it */

static inline void relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* A helper takes part `part` of every job split into more parts than that. `current` is read only by the helpers
 * taking part, and the caller does not replace it before they all are done. */
static void *helper(void *arg) {
    int part = (int)(intptr_t)arg;
    long seen = started_at[part];
    for (;;) {
        long now;
        long spins = 0;
        while ((now = atomic_load_explicit(&generation, memory_order_acquire)) == seen) {
            if (++spins < SPIN_ROUNDS) {
                relax();
                continue;
            }
            pthread_mutex_lock(&sleep_lock);
            while (atomic_load(&generation) == seen) pthread_cond_wait(&wake, &sleep_lock);
            pthread_mutex_unlock(&sleep_lock);
        }
        seen = now;
        if (part < (now & 0xff)) {
            run_part(&current, part);
            atomic_fetch_sub_explicit(&pending, 1, memory_order_release);
        }
    }
    return NULL;
}

/* A forked child has none of the parent's threads, and a lock one of them held at the fork would stay held. */
static void forget_helpers(void) {
    helpers = 0;
    pthread_mutex_init(&submit, NULL);
    pthread_mutex_init(&sleep_lock, NULL);
    pthread_cond_init(&wake, NULL);
}

static int start_helpers(int wanted) {
    static int registered;
    if (!registered) {
        pthread_atfork(NULL, NULL, forget_helpers);
        registered = 1;
    }
    while (helpers < wanted) {
        pthread_t t;
        started_at[helpers + 1] = atomic_load(&generation); /* set before the thread exists: no race */
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int failed = pthread_create(&t, &attr, helper, (void *)(intptr_t)(helpers + 1));
        pthread_attr_destroy(&attr);
        if (failed) break;
        helpers++;
    }
    return helpers;
}

void alm_gemv_bf16(const uint16_t *w, const uint16_t *x, uint16_t *y, long m, long n, long rows, int threads) {
    job_t job = {w, x, y, m, n, rows, 1};
    if (threads > MAX_THREADS) threads = MAX_THREADS;
    if (threads > rows) threads = (int)rows;
    if (threads <= 1 || pthread_mutex_trylock(&submit) != 0) { /* alone, or the pool is busy: this thread alone */
        run_part(&job, 0);
        return;
    }
    int available = start_helpers(threads - 1);
    job.parts = 1 + (available < threads - 1 ? available : threads - 1);
    current = job;
    atomic_store_explicit(&pending, job.parts - 1, memory_order_relaxed);
    pthread_mutex_lock(&sleep_lock);
    long jobs = (atomic_load_explicit(&generation, memory_order_relaxed) >> 8) + 1;
    atomic_store_explicit(&generation, (jobs << 8) | job.parts, memory_order_release);
    pthread_cond_broadcast(&wake);
    pthread_mutex_unlock(&sleep_lock);
    run_part(&job, 0);
    while (atomic_load_explicit(&pending, memory_order_acquire) > 0) relax();
    pthread_mutex_unlock(&submit);
}
