/*
 * bench_e2e.c — the whole pipeline as a user runs it: `promo run --threads N set.pbc
 * receipts.jsonl > /dev/null` on a generated 400-campaign bundle and a generated JSONL
 * file (read -> parse -> evaluate -> write JSON), timed by wall clock per run.
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

static char e2e_dir[64];
static char e2e_pbc[96], e2e_jsonl[96];
static const char *e2e_err;
static pthread_once_t e2e_once = PTHREAD_ONCE_INIT;

static void e2e_cleanup(void) {
    unlink(e2e_pbc);
    unlink(e2e_jsonl);
    rmdir(e2e_dir);
}

static void e2e_prepare(void) {
    const bench_set *s = bench_set_get(400, &e2e_err);
    if (!s) return;
    snprintf(e2e_dir, sizeof e2e_dir, "/tmp/promo-bench-XXXXXX");
    if (!mkdtemp(e2e_dir)) {
        e2e_err = "mkdtemp failed";
        return;
    }
    snprintf(e2e_pbc, sizeof e2e_pbc, "%s/set.pbc", e2e_dir);
    snprintf(e2e_jsonl, sizeof e2e_jsonl, "%s/receipts.jsonl", e2e_dir);
    atexit(e2e_cleanup);
    if (bench_write_file(e2e_pbc, s->bundle.data, s->bundle.len)) {
        e2e_err = "cannot write the bundle";
        return;
    }
    FILE *f = fopen(e2e_jsonl, "wb");
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
    if (!f || fclose(f) != 0) e2e_err = "cannot write receipts.jsonl";
    sb_free(&line);
    gen_arena_free(a);
}

static void bm_e2e_run(gb_state *st) {
    pthread_once(&e2e_once, e2e_prepare);
    if (e2e_err) {
        gb_skip_with_error(st, e2e_err);
        return;
    }
    if (access(PROMO_CLI_PATH, X_OK) != 0) {
        gb_skip_with_error(st, "promo CLI not built: " PROMO_CLI_PATH);
        return;
    }
    char threads[16];
    snprintf(threads, sizeof threads, "%d", (int)gb_range(st, 0));
    char *argv[] = {"promo", "run", "--threads", threads, e2e_pbc, e2e_jsonl, NULL};
    struct stat sb;
    stat(e2e_jsonl, &sb);
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
    gb_set_items_processed(st, gb_iterations(st) * (int64_t)E2E_RECEIPTS);
    gb_set_bytes_processed(st, gb_iterations(st) * (int64_t)sb.st_size);
    gb_counter(st, "cli_peak_rss_kib", (double)max_rss, 0);
    /* CPU seconds of the CLI (all its threads) per run: on a busy machine, receipts per
     * CPU second say more than wall-clock rates. */
    gb_counter(st, "cli_cpu_seconds", cpu, GB_COUNTER_AVG_ITERATIONS);
    gb_counter(st, "receipts_per_cpu_second",
               cpu > 0 ? (double)E2E_RECEIPTS * (double)gb_iterations(st) / cpu : 0, 0);
}
GB_BENCHMARK(bm_e2e_run) {
    gb_arg_name(b, "threads");
    gb_arg(b, 1);
    gb_arg(b, 2);
    gb_fixed_iterations(b, 3);
    gb_use_real_time(b);
    gb_unit(b, GB_MS);
}
