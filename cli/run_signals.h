/*
 * run_signals.h — the operator's side of `promo run` (cli/cmd_run.c calls these):
 * signals (SIGTERM/SIGINT stop the stream gracefully, SIGHUP reloads or is ignored),
 * --watch (reload when the bundle file is replaced), --metrics FILE (a JSON stats
 * object rewritten atomically every second) and --stamp (the checksum of the bundle
 * that produced each result). docs/cli.md describes them, docs/io.md what a stop
 * leaves behind.
 */
#ifndef PROMO_RUN_SIGNALS_H
#define PROMO_RUN_SIGNALS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "promo.h"

/* SIGTERM and SIGINT ask the stream to stop (a second one kills at once); SIGHUP sets
 * the reload flag when `reload`, else it is ignored. */
void rs_install(int reload);
int rs_stop_signal(void); /* the signal that asked to stop, 0 if none */
int rs_hup(void);         /* SIGHUP seen since rs_hup_clear */
void rs_hup_clear(void);

/* Watches a file for replacement (rename over it, or a rewrite): device, inode, size
 * and modification time, looked at no more often than every 200 ms. */
typedef struct rs_watch {
    const char *path;
    int on, pending;
    struct stat st;
    struct timespec next;
} rs_watch;

void rs_watch_init(rs_watch *w, const char *path, int on);
int rs_watch_due(rs_watch *w);   /* 1 from a change until rs_watch_done */
void rs_watch_done(rs_watch *w); /* the change is handled (reloaded or refused) */

/* What --metrics writes. */
typedef struct rs_stats {
    uint64_t receipts, errors, conflicts, reloads, reload_failures, input_line;
    int64_t elapsed_ms;
    int stop_signal, final;
    promo_engine *eng;
} rs_stats;

/* Replaces `path` with one JSON object (written to a temporary file, then renamed);
 * -1 on an I/O error (reported once on stderr; the run goes on). */
int rs_metrics_write(const char *path, const rs_stats *s);

/* Turns the result JSON object in buf[0, *len) into one with "bundle":"<checksum>" as
 * its last member; buf has room for RS_STAMP_LEN more bytes. */
#define RS_STAMP_LEN 30
void rs_stamp(char *buf, size_t *len, const promo_bundle *b);

#endif
