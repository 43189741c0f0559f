/*
 * bundle_helpers.c — see bundle_helpers.h.
 */
#include "bundle_helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundle_sum.h"
#include "hash.h"
#include "xalloc.h"

void tb_init(tb *t) {
    memset(t, 0, sizeof *t);
}

void tb_free(tb *t) {
    for (int i = 0; i < PBS__COUNT; i++)
        sb_free(&t->sec[i]);
    sb_free(&t->str_bytes);
    sb_free(&t->str_off);
}

uint32_t tb_str(tb *t, const char *s) {
    uint32_t off = (uint32_t)t->str_bytes.len;
    sb_add(&t->str_off, &off, 4);
    sb_add(&t->str_bytes, s, strlen(s) + 1);
    return t->nstrings++;
}

uint32_t tb_add(tb *t, int sec, const void *elem, size_t size) {
    sb_add(&t->sec[sec], elem, size);
    return t->count[sec]++;
}

uint32_t tb_block(tb *t, uint32_t kind, const promo_insn *code, uint32_t n, uint32_t max_stack) {
    pb_block b = {t->count[PBS_CODE], n, kind, max_stack};
    for (uint32_t i = 0; i < n; i++)
        tb_add(t, PBS_CODE, &code[i], 4);
    return tb_add(t, PBS_BLOCKS, &b, sizeof b);
}

uint32_t tb_set(tb *t, uint32_t kind, const char *const *items, uint32_t n) {
    uint32_t nslots = 2;
    while (nslots < 2 * n)
        nslots *= 2;
    pb_set s = {kind, n, t->count[PBS_SLOTS], nslots, t->count[PBS_SETITEMS], PB_NONE};
    uint64_t *slots = calloc(nslots, 8);
    for (uint32_t i = 0; i < n; i++) {
        uint64_t h = promo_hash(items[i], strlen(items[i]));
        uint32_t j = (uint32_t)h & (nslots - 1);
        while (slots[j])
            j = (j + 1) & (nslots - 1);
        slots[j] = h;
        uint32_t si = tb_str(t, items[i]);
        tb_add(t, PBS_SETITEMS, &si, 4);
    }
    for (uint32_t j = 0; j < nslots; j++)
        tb_add(t, PBS_SLOTS, &slots[j], 8);
    free(slots);
    return tb_add(t, PBS_SETS, &s, sizeof s);
}

pb_campaign tb_campaign(tb *t, const char *id) {
    pb_campaign c;
    memset(&c, 0, sizeof c);
    c.id_hash = promo_hash(id, strlen(id));
    c.budget = -1;
    c.id = tb_str(t, id);
    c.title = PB_NONE;
    c.date_from = INT32_MIN;
    c.date_to = INT32_MAX;
    c.weekday_mask = 0x7F;
    c.stores_set = c.regions_set = c.card_set = c.segment_set = c.code_set = PB_NONE;
    c.channel_mask = 3;
    c.cond_block = PB_NONE;
    c.src_file = PB_NONE;
    return c;
}

unsigned char *tb_finish(tb *t, size_t *len) {
    strbuf f = STRBUF_INIT;
    pb_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, PB_MAGIC, PB_MAGIC_LEN);
    h.format = PB_FORMAT;
    h.endian = PB_ENDIAN_PROBE;
    h.nsections = PBS__COUNT;
    h.flags = t->flags;
    pb_section tab[PBS__COUNT];
    memset(tab, 0, sizeof tab);
    sb_zero(&f, sizeof h + sizeof tab);
    for (int i = 0; i < PBS__COUNT; i++) {
        sb_align(&f, 8);
        size_t start = f.len;
        if (i == PBS_STRINGS) {
            sb_add(&f, t->str_off.data, t->str_off.len);
            uint32_t end = (uint32_t)t->str_bytes.len;
            sb_add(&f, &end, 4);
            sb_add(&f, t->str_bytes.data, t->str_bytes.len);
            tab[i] = (pb_section){(uint32_t)i, t->nstrings, start, f.len - start};
        } else {
            sb_add(&f, t->sec[i].data, t->sec[i].len);
            tab[i] = (pb_section){(uint32_t)i, t->count[i], start, t->sec[i].len};
        }
    }
    sb_align(&f, 8);
    h.file_size = f.len;
    memcpy(f.data, &h, sizeof h);
    memcpy(f.data + sizeof h, tab, sizeof tab);
    tb_fix_checksum((unsigned char *)f.data, f.len);
    *len = f.len;
    unsigned char *mem = xmalloc(f.len);
    memcpy(mem, f.data, f.len);
    sb_free(&f);
    return mem;
}

void tb_fix_checksum(unsigned char *mem, size_t len) {
    if (len < sizeof(pb_header)) return;
    uint64_t sum = pb_checksum(mem, len);
    memcpy(mem + offsetof(pb_header, checksum), &sum, 8);
}

unsigned char *tb_sample(size_t *len) {
    tb t;
    tb_init(&t);
    uint32_t g = tb_str(&t, "g");
    tb_add(&t, PBS_GROUPS, &g, 4);
    pb_campaign c = tb_campaign(&t, "c1");
    uint32_t s1 = tb_str(&t, "1");
    pb_const k = {(int64_t)promo_hash("1", 1), s1, 5 /* TY_STRING */};
    uint32_t ki = tb_add(&t, PBS_CONSTS, &k, sizeof k);
    promo_insn pred[] = {INSN_MAKE(OP_L_SKU, 0), INSN_MAKE(OP_PUSH_K, ki), INSN_MAKE(OP_SEQ, 0),
                         INSN_MAKE(OP_RET, 0)};
    uint32_t pb = tb_block(&t, PB_BLOCK_PRED, pred, 4, 2);
    uint32_t part = tb_str(&t, "sum(lines where sku \"1\") >= 500");
    promo_insn cond[] = {INSN_MAKE(OP_AGG_SUM, pb), INSN_MAKE(OP_PUSH_I, 50000),
                         INSN_MAKE(OP_GE, 0),       INSN_MAKE(OP_ASSERT, part),
                         INSN_MAKE(OP_PUSH_I, 1),   INSN_MAKE(OP_RET, 0)};
    c.cond_block = tb_block(&t, PB_BLOCK_COND, cond, 6, 2);
    pb_reward r;
    memset(&r, 0, sizeof r);
    r.kind = REWARD_DISCOUNT_PCT;
    r.level = PB_LEVEL_LINE;
    r.pred = pb;
    r.str = PB_NONE;
    r.a = 10000;
    r.activate_days = r.expire_days = -1;
    c.reward_off = tb_add(&t, PBS_REWARDS, &r, sizeof r);
    c.reward_cnt = 1;
    pb_hist hs = {12345, pb, 0};
    tb_add(&t, PBS_HIST, &hs, sizeof hs);
    tb_add(&t, PBS_CAMPAIGNS, &c, sizeof c);
    unsigned char *mem = tb_finish(&t, len);
    tb_free(&t);
    return mem;
}

unsigned char *tb_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    strbuf b = STRBUF_INIT;
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        sb_add(&b, buf, n);
    fclose(f);
    *len = b.len;
    if (!b.data) return xcalloc(1, 1);
    return (unsigned char *)b.data;
}
