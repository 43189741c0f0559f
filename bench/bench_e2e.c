/*
 * bench_e2e.c — the whole pipeline as a user runs it: `promo run --threads N set.pbc
 * receipts.jsonl > /dev/null` on a generated 400-campaign bundle and a generated JSONL
 * file (read -> parse -> evaluate -> write JSON), timed by wall clock per run.
 * bm_e2e_io runs the same receipts with a 10-campaign bundle: evaluation is then a small
 * part, so it shows the cost of everything around it (input, parsing, threads,
 * ordering, result formatting, output).
 */
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"

extern char **environ;

#define E2E_RECEIPTS 200000u

/* One bundle + receipts file in a temporary directory, written on first use. */
typedef struct e2e_files {
    uint32_t ncampaigns;
    pthread_once_t once;
    char dir[64];
    char pbc[96], jsonl[96];
    const char *err;
} e2e_files;

static e2e_files e2e_run = {400, PTHREAD_ONCE_INIT, "", "", "", NULL};
static e2e_files e2e_io = {10, PTHREAD_ONCE_INIT, "", "", "", NULL};

static void e2e_cleanup(void) {
    e2e_files *all[] = {&e2e_run, &e2e_io};
    for (size_t i = 0; i < 2; i++) {
        if (!all[i]->dir[0]) continue;
        unlink(all[i]->pbc);
        unlink(all[i]->jsonl);
        rmdir(all[i]->dir);
    }
}

static void e2e_register_cleanup(void) {
    atexit(e2e_cleanup);
}

static void e2e_prepare(e2e_files *F) {
    static pthread_once_t at_exit = PTHREAD_ONCE_INIT;
    const bench_set *s = bench_set_get(F->ncampaigns, &F->err);
    if (!s) return;
    snprintf(F->dir, sizeof F->dir, "/tmp/promo-bench-XXXXXX");
    if (!mkdtemp(F->dir)) {
        F->dir[0] = 0;
        F->err = "mkdtemp failed";
        return;
    }
    snprintf(F->pbc, sizeof F->pbc, "%s/set.pbc", F->dir);
    snprintf(F->jsonl, sizeof F->jsonl, "%s/receipts.jsonl", F->dir);
    pthread_once(&at_exit, e2e_register_cleanup);
    if (bench_write_file(F->pbc, s->bundle.data, s->bundle.len)) {
        F->err = "cannot write the bundle";
        return;
    }
    FILE *f = fopen(F->jsonl, "wb");
    gen_arena *a = gen_arena_new();
    strbuf line = STRBUF_INIT;
    for (uint32_t i = 0; f && i < E2E_RECEIPTS; i++) {
        promo_receipt r;
        gen_arena_reset(a);
        gen_receipt(a, BENCH_SEED, i, 0, &r);
        line.len = 0;
        gen_receipt_json(&r, &line);
        sb_putc(&line, '\n');
        fwrite(line.data, 1, line.len, f);
    }
    if (!f || fclose(f) != 0) F->err = "cannot write receipts.jsonl";
    sb_free(&line);
    gen_arena_free(a);
}

static void e2e_prepare_run(void) {
    e2e_prepare(&e2e_run);
}

static void e2e_prepare_io(void) {
    e2e_prepare(&e2e_io);
}

static void e2e_bench(gb_state *st, e2e_files *F, void (*prepare)(void)) {
    pthread_once(&F->once, prepare);
    if (F->err) {
        gb_skip_with_error(st, F->err);
        return;
    }
    bench_cli_run(st, F->pbc, F->jsonl, (int)gb_range(st, 0), E2E_RECEIPTS);
}

void bench_cli_run(gb_state *st, const char *pbc, const char *jsonl, int nthreads,
                   uint32_t nreceipts) {
    if (access(PROMO_CLI_PATH, X_OK) != 0) {
        gb_skip_with_error(st, "promo CLI not built: " PROMO_CLI_PATH);
        return;
    }
    char threads[16];
    snprintf(threads, sizeof threads, "%d", nthreads);
    char *argv[] = {"promo", "run", "--threads", threads, (char *)pbc, (char *)jsonl, NULL};
    struct stat sb;
    stat(jsonl, &sb);
    long max_rss = 0;
    double cpu = 0;
    while (gb_keep_running(st)) {
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        pid_t pid;
        int rc = posix_spawn(&pid, PROMO_CLI_PATH, &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        int status = 0;
        struct rusage ru;
        if (rc != 0 || wait4(pid, &status, 0, &ru) < 0 || !WIFEXITED(status) ||
            WEXITSTATUS(status) != 0) {
            gb_skip_with_error(st, "promo run failed");
            break;
        }
        if (ru.ru_maxrss > max_rss) max_rss = ru.ru_maxrss;
        cpu += (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
               (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
    }
    gb_set_items_processed(st, gb_iterations(st) * (int64_t)nreceipts);
    gb_set_bytes_processed(st, gb_iterations(st) * (int64_t)sb.st_size);
    gb_counter(st, "cli_peak_rss_kib", (double)max_rss, 0);
    /* CPU seconds of the CLI (all its threads) per run: on a busy machine, receipts per
     * CPU second say more than wall-clock rates. */
    gb_counter(st, "cli_cpu_seconds", cpu, GB_COUNTER_AVG_ITERATIONS);
    gb_counter(st, "receipts_per_cpu_second",
               cpu > 0 ? (double)nreceipts * (double)gb_iterations(st) / cpu : 0, 0);
}

/* Both end-to-end benchmarks: 1 and 2 threads, three whole runs each, wall clock. */
static void e2e_setup(gb_bench *b) {
    gb_arg_name(b, "threads");
    gb_arg(b, 1);
    gb_arg(b, 2);
    gb_fixed_iterations(b, 3);
    gb_use_real_time(b);
    gb_unit(b, GB_MS);
}

static void bm_e2e_run(gb_state *st) {
    e2e_bench(st, &e2e_run, e2e_prepare_run);
}
GB_BENCHMARK(bm_e2e_run) {
    e2e_setup(b);
}

static void bm_e2e_io(gb_state *st) {
    e2e_bench(st, &e2e_io, e2e_prepare_io);
}
GB_BENCHMARK(bm_e2e_io) {
    e2e_setup(b);
}
