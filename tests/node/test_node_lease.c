/*
 * test_node_lease.c — partition leases and changelog fencing (node/lease.c) on the
 * loopback cluster: one owner at a time, renewal, expiry, release, and above all a
 * stale owner that lost its lease cannot append to the changelog.
 */
#include <string.h>
#include <time.h>

#include "lease.h"
#include "nats_helpers.h"

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

typedef struct replayed {
    int commits, fences;
    char last[64];
} replayed;

static int count(void *arg, uint64_t seq, const char *data, int len) {
    replayed *r = arg;
    (void)seq;
    if (len > 0 && data[0] == 'F')
        r->fences++;
    else
        r->commits++;
    snprintf(r->last, sizeof r->last, "%.*s", len, data);
    return TP_OK;
}

Test(lease, one_owner_at_a_time_renew_and_release) {
    char pre[64];
    tp *t = nh_open("lsa", 4, pre);
    lease a, b;
    cr_assert_eq(lease_claim(t, 1, "nodeA", 5000, &a), TP_OK, "%s", tp_errmsg());
    cr_assert_eq(a.epoch, 1);
    cr_assert(lease_live(&a));
    cr_assert_eq(lease_claim(t, 1, "nodeB", 5000, &b), TP_ECONFLICT, "A holds a live lease");
    cr_assert_eq(lease_claim(t, 2, "nodeB", 5000, &b), TP_OK, "another partition is free");
    uint64_t rev = a.rev;
    cr_assert_eq(lease_renew(t, &a), TP_OK, "%s", tp_errmsg());
    cr_assert_gt(a.rev, rev);
    cr_assert_eq(a.epoch, 1, "renewal keeps the epoch");
    cr_assert_eq(lease_release(t, &a), TP_OK);
    cr_assert(!lease_live(&a));
    cr_assert_eq(lease_claim(t, 1, "nodeB", 5000, &b), TP_OK, "released: B may claim at once");
    cr_assert_eq(b.epoch, 2);
    t->ops->close(t);
}

Test(lease, a_stale_owner_that_lost_its_lease_cannot_append) {
    char pre[64];
    tp *t = nh_open("lsb", 2, pre);
    replayed ra = {0}, rb = {0};
    lease a, b;
    /* A owns partition 0 with a short lease, fences the log, commits twice. */
    cr_assert_eq(lease_claim(t, 0, "nodeA", 1500, &a), TP_OK, "%s", tp_errmsg());
    cr_assert_eq(lease_takeover(t, &a, count, &ra), TP_OK, "%s", tp_errmsg());
    cr_assert_eq(ra.commits + ra.fences, 0, "empty changelog");
    cr_assert_eq(lease_append(t, &a, "C1", 2), TP_OK, "%s", tp_errmsg());
    cr_assert_eq(lease_append(t, &a, "C2", 2), TP_OK);
    cr_assert_eq(lease_renew(t, &a), TP_OK, "%s", tp_errmsg());
    cr_assert_eq(lease_claim(t, 0, "nodeB", 1500, &b), TP_ECONFLICT, "not expired yet");
    /* A stalls (GC pause, network partition) past its TTL... */
    sleep_ms(1800);
    cr_assert(!lease_live(&a), "A's own clock tells it to stop acting");
    /* ...B claims the expired lease and takes the log over: it replays A's commits. */
    cr_assert_eq(lease_claim(t, 0, "nodeB", 1500, &b), TP_OK, "%s", tp_errmsg());
    cr_assert_eq(b.epoch, 2);
    cr_assert_eq(lease_takeover(t, &b, count, &rb), TP_OK, "%s", tp_errmsg());
    cr_assert_eq(rb.commits, 2, "B replays every commit of A");
    cr_assert_eq(rb.fences, 1, "and A's fence");
    cr_assert_str_eq(rb.last, "C2");
    /* A wakes up and tries to commit: refused, whatever it believes about its lease. */
    cr_assert_eq(lease_append(t, &a, "C3", 2), TP_EFENCED, "a deposed owner cannot commit");
    cr_assert_eq(lease_renew(t, &a), TP_ECONFLICT, "nor renew");
    /* B commits; a fresh replay sees exactly C1, C2, B's commit. */
    cr_assert_eq(lease_append(t, &b, "C4", 2), TP_OK, "%s", tp_errmsg());
    cr_assert_eq(lease_append(t, &a, "C5", 2), TP_EFENCED);
    replayed all = {0};
    cr_assert_eq(t->ops->log_read(t, 0, 0, count, &all), TP_OK);
    cr_assert_eq(all.commits, 3);
    cr_assert_eq(all.fences, 2);
    cr_assert_str_eq(all.last, "C4");
    t->ops->close(t);
}

Test(lease, an_append_that_slips_in_before_the_fence_is_replayed_not_lost) {
    char pre[64];
    tp *t = nh_open("lsc", 1, pre);
    lease a, b;
    replayed ra = {0}, rb = {0};
    cr_assert_eq(lease_claim(t, 0, "nodeA", 300, &a), TP_OK);
    cr_assert_eq(lease_takeover(t, &a, count, &ra), TP_OK);
    sleep_ms(500);
    cr_assert_eq(lease_claim(t, 0, "nodeB", 300, &b), TP_OK, "%s", tp_errmsg());
    /* A appends after B's claim but before B's fence: the append stands (it is in the
     * log before the fence), and B's takeover replays it. */
    cr_assert_eq(lease_append(t, &a, "C1", 2), TP_OK);
    cr_assert_eq(lease_takeover(t, &b, count, &rb), TP_OK, "%s", tp_errmsg());
    cr_assert_eq(rb.commits, 1);
    cr_assert_str_eq(rb.last, "C1");
    cr_assert_eq(lease_append(t, &a, "C2", 2), TP_EFENCED);
    t->ops->close(t);
}
