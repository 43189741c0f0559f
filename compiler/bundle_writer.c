/*
 * bundle_writer.c — the last step of code generation: lays the tables built by
 * codegen.c out as a .pbc file (runtime/bundle_format.h): header, section table, then
 * every section 8-byte aligned in section-id order, padding zeroed, and the XXH3
 * checksum of the whole file (bundle_sum.h). Equal tables give equal bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "codegen_int.h"
#include "compile.h"
#include "bundle_sum.h"
#include "hash.h"
#include "sema.h"

static void bw_section(strbuf *f, pb_section *tab, uint32_t id, uint32_t count, const void *p,
                       size_t size) {
    sb_align(f, 8);
    tab[id] = (pb_section){id, count, f->len, size};
    sb_add(f, p, size);
}

void cg_write(cg *g, strbuf *out) {
    strbuf f = STRBUF_INIT;
    pb_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, PB_MAGIC, PB_MAGIC_LEN);
    h.format = PB_FORMAT;
    h.endian = PB_ENDIAN_PROBE;
    h.nsections = PBS__COUNT;
    h.flags = g->s->tiebreak_benefit ? PBF_TIEBREAK_BENEFIT : 0;
    /* The bundle depends on what the sources mean, never on where they live or how
     * they are laid out (promo fmt must not change a bundle): no source hash, no
     * paths, no line numbers. */
    h.source_hash = 0;
    sb_zero(&f, sizeof h + PBS__COUNT * sizeof(pb_section));
    pb_section tab[PBS__COUNT];
    memset(tab, 0, sizeof tab);

    /* STRINGS: offsets[n + 1] then the NUL-ended bytes. */
    sb_align(&f, 8);
    tab[PBS_STRINGS] = (pb_section){PBS_STRINGS, g->str_off.n, f.len, 0};
    size_t start = f.len;
    sb_add(&f, g->str_off.v, (size_t)g->str_off.n * 4);
    uint32_t end = (uint32_t)g->str_bytes.len;
    sb_add(&f, &end, 4);
    sb_add(&f, g->str_bytes.data, g->str_bytes.len);
    tab[PBS_STRINGS].size = f.len - start;

#define SEC(ID, vec) bw_section(&f, tab, ID, (vec).n, (vec).v, (size_t)(vec).n * sizeof *(vec).v)
    SEC(PBS_CONSTS, g->consts);
    SEC(PBS_SETS, g->sets);
    SEC(PBS_SLOTS, g->slots);
    SEC(PBS_SETITEMS, g->setitems);
    SEC(PBS_CODE, g->code);
    SEC(PBS_BLOCKS, g->blocks);
    SEC(PBS_GROUPS, g->groups);
    SEC(PBS_ACCEPT, g->accept);
    SEC(PBS_HOURS, g->hours);
    SEC(PBS_STEPS, g->steps);
    SEC(PBS_REWARDS, g->rewards);
    SEC(PBS_HIST, g->hist);
    SEC(PBS_CAMPAIGNS, g->campaigns);
#undef SEC
    sb_align(&f, 8);

    h.file_size = f.len;
    memcpy(f.data + sizeof h, tab, sizeof tab);
    h.checksum = 0;
    memcpy(f.data, &h, sizeof h);
    h.checksum = pb_checksum(f.data, f.len);
    memcpy(f.data, &h, sizeof h);
    sb_add(out, f.data, f.len);
    sb_free(&f);
}
