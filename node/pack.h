/*
 * pack.h — zstd frames for what the scale-out ships through the engine: a client's
 * batch messages and the changelog's write sets (docs/deploy.md, "Processing"). Every
 * byte of those is written three times (R3) by the servers, which on a small machine
 * are the bottleneck; JSON lines and write sets shrink 3-5 times at ~300 MB/s.
 *
 * A packed buffer is one zstd frame, recognized by its magic number (a JSON line
 * never starts with byte 0x28 followed by 0xb5 0x2f 0xfd), so unpacked and packed
 * messages can be mixed.
 */
#ifndef PROMO_NODE_PACK_H
#define PROMO_NODE_PACK_H

#include <stddef.h>

#include "strbuf.h"

/* Appends a zstd frame of data[0..len) to out. 0, or -1 (out unchanged). */
int pk_pack(strbuf *out, const void *data, size_t len);
/* 1: data is a frame, its content appended to out; 0: not a frame (out unchanged);
 * -1: a corrupt frame, or one whose content exceeds `max` bytes. */
int pk_unpack(strbuf *out, const void *data, size_t len, size_t max);

#endif
