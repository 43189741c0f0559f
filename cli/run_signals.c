/*
 * run_signals.c — see run_signals.h.
 */
#include "run_signals.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "strbuf.h"
#include "xalloc.h"

static volatile sig_atomic_t rs_stop_sig, rs_hup_flag;

static void rs_on_stop(int sig) {
    if (rs_stop_sig) { /* asked twice: stop now (whole lines already written stay) */
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    rs_stop_sig = sig;
}

static void rs_on_hup(int sig) {
    (void)sig;
    rs_hup_flag = 1;
}

void rs_install(int reload) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sa.sa_handler = rs_on_stop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = reload ? rs_on_hup : SIG_IGN;
    sigaction(SIGHUP, &sa, NULL);
}

int rs_stop_signal(void) {
    return rs_stop_sig;
}

int rs_hup(void) {
    return rs_hup_flag;
}

void rs_hup_clear(void) {
    rs_hup_flag = 0;
}

/* ------------------------------------------------------------------- watch ---- */

void rs_watch_init(rs_watch *w, const char *path, int on) {
    memset(w, 0, sizeof *w);
    w->path = path;
    w->on = on;
    if (on && stat(path, &w->st) != 0) memset(&w->st, 0, sizeof w->st);
}

int rs_watch_due(rs_watch *w) {
    if (!w->on || w->pending) return w->pending;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec < w->next.tv_sec ||
        (now.tv_sec == w->next.tv_sec && now.tv_nsec < w->next.tv_nsec))
        return 0;
    w->next = now;
    w->next.tv_nsec += 200000000L;
    if (w->next.tv_nsec >= 1000000000L) {
        w->next.tv_sec++;
        w->next.tv_nsec -= 1000000000L;
    }
    struct stat st;
    if (stat(w->path, &st) != 0) return 0; /* gone for now: wait for the new one */
    if (st.st_dev != w->st.st_dev || st.st_ino != w->st.st_ino || st.st_size != w->st.st_size ||
        st.st_mtim.tv_sec != w->st.st_mtim.tv_sec || st.st_mtim.tv_nsec != w->st.st_mtim.tv_nsec) {
        w->st = st;
        w->pending = 1;
    }
    return w->pending;
}

void rs_watch_done(rs_watch *w) {
    w->pending = 0;
}

/* ----------------------------------------------------------------- metrics ---- */

static void rs_json_str(strbuf *o, const char *s) {
    sb_putc(o, '"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            sb_printf(o, "\\%c", c);
        else if (c < 0x20)
            sb_printf(o, "\\u%04x", c);
        else
            sb_putc(o, (char)c);
    }
    sb_putc(o, '"');
}

static void rs_money(strbuf *o, int64_t v) {
    uint64_t a = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    sb_printf(o, "%s%" PRIu64 ".%02" PRIu64, v < 0 ? "-" : "", a / 100, a % 100);
}

int rs_metrics_write(const char *path, const rs_stats *s) {
    static int reported;
    strbuf o = STRBUF_INIT;
    promo_bundle *b = promo_engine_bundle(s->eng);
    uint64_t rate = s->elapsed_ms > 0 ? s->receipts * 1000 / (uint64_t)s->elapsed_ms : 0;
    sb_printf(&o,
              "{\"receipts\":%" PRIu64 ",\"errors\":%" PRIu64 ",\"elapsed_ms\":%" PRId64
              ",\"receipts_per_s\":%" PRIu64 ",\"conflicts\":%" PRIu64 ",\"reloads\":%" PRIu64
              ",\"reload_failures\":%" PRIu64 ",\"input_line\":%" PRIu64,
              s->receipts, s->errors, s->elapsed_ms, rate, s->conflicts, s->reloads,
              s->reload_failures, s->input_line);
    sb_printf(&o, ",\"bundle\":\"%016" PRIx64 "\",\"campaigns\":%" PRIu32 ",\"budgets\":[",
              promo_bundle_checksum(b), promo_bundle_campaign_count(b));
    int first = 1;
    for (uint32_t i = 0; i < promo_bundle_campaign_count(b); i++) {
        int64_t cap = promo_bundle_campaign_budget(b, i);
        if (cap < 0) continue;
        const char *id = promo_bundle_campaign_id(b, i);
        int64_t spent = promo_engine_budget_spent(s->eng, id);
        if (spent < 0) spent = 0;
        sb_puts(&o, first ? "{\"campaign\":" : ",{\"campaign\":");
        first = 0;
        rs_json_str(&o, id);
        sb_puts(&o, ",\"budget\":");
        rs_money(&o, cap);
        sb_puts(&o, ",\"spent\":");
        rs_money(&o, spent);
        sb_puts(&o, ",\"remaining\":");
        rs_money(&o, cap > spent ? cap - spent : 0);
        sb_putc(&o, '}');
    }
    promo_bundle_release(b);
    sb_printf(&o, "],\"stopped_by\":%s,\"final\":%s}\n",
              s->stop_signal == SIGTERM  ? "\"SIGTERM\""
              : s->stop_signal == SIGINT ? "\"SIGINT\""
                                         : "null",
              s->final ? "true" : "false");
    strbuf tmp = STRBUF_INIT;
    sb_printf(&tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(sb_cstr(&tmp), "wb");
    int ok = f && fwrite(o.data, 1, o.len, f) == o.len;
    if (f && fclose(f) != 0) ok = 0;
    if (ok && rename(sb_cstr(&tmp), path) != 0) ok = 0;
    if (!ok) {
        if (!reported)
            fprintf(stderr, "promo run: cannot write metrics to %s: %s\n", path, strerror(errno));
        reported = 1;
        if (f) unlink(sb_cstr(&tmp));
    }
    sb_free(&tmp);
    sb_free(&o);
    return ok ? 0 : -1;
}

/* ------------------------------------------------------------------- stamp ---- */

void rs_stamp(char *buf, size_t *len, const promo_bundle *b) {
    if (*len == 0 || buf[*len - 1] != '}') return;
    int n = snprintf(buf + *len - 1, RS_STAMP_LEN + 2, ",\"bundle\":\"%016" PRIx64 "\"}",
                     promo_bundle_checksum(b));
    *len += (size_t)n - 1;
}
