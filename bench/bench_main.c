/*
 * bench_main.c — main() of promo-bench: records what the results depend on (library
 * version, build, allocator, CPU model, memory) in the JSON context, then runs Google
 * Benchmark (its --benchmark_* flags apply).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "gbench.h"
#include "promo.h"

/* The value of the first "key<spaces>: value" line of a /proc file. */
static int proc_field(const char *path, const char *key, char *out, size_t cap) {
    FILE *f = fopen(path, "r");
    char line[512];
    size_t k = strlen(key);
    int found = 0;
    while (f && !found && fgets(line, sizeof line, f)) {
        if (strncmp(line, key, k) != 0) continue;
        char *v = strchr(line + k, ':');
        if (!v) continue;
        for (v++; *v == ' ' || *v == '\t'; v++) {
        }
        v[strcspn(v, "\n")] = 0;
        snprintf(out, cap, "%s", v);
        found = 1;
    }
    if (f) fclose(f);
    return found;
}

int main(int argc, char **argv) {
    char buf[256];
    gb_add_context("promo_version", promo_version());
    gb_add_context("allocator", "jemalloc");
#ifdef NDEBUG
    gb_add_context("promo_build", "release");
#else
    gb_add_context("promo_build", "debug");
#endif
    if (proc_field("/proc/cpuinfo", "model name", buf, sizeof buf))
        gb_add_context("cpu_model", buf);
    if (proc_field("/proc/meminfo", "MemTotal", buf, sizeof buf)) gb_add_context("mem_total", buf);
    snprintf(buf, sizeof buf, "%ld", sysconf(_SC_NPROCESSORS_ONLN));
    gb_add_context("nproc", buf);
    return gb_main(argc, argv);
}
