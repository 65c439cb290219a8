/*
 * msg_builder.h — hand assembly of IPFIX messages byte by byte for tests,
 * including deliberately malformed ones (lengths can be overridden). Kept
 * independent of the library's writer so tests of the reader do not trust
 * the code they check.
 */
#ifndef IPFIXKIT_TESTS_MSG_BUILDER_H
#define IPFIXKIT_TESTS_MSG_BUILDER_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct msg_builder {
    uint8_t buf[65536 + 64];
    size_t len;
    size_t set_start;
} msg_builder;

static inline void mb_u8(msg_builder *m, uint8_t v) { m->buf[m->len++] = v; }
static inline void mb_u16(msg_builder *m, uint16_t v) {
    mb_u8(m, (uint8_t)(v >> 8));
    mb_u8(m, (uint8_t)v);
}
static inline void mb_u32(msg_builder *m, uint32_t v) {
    mb_u16(m, (uint16_t)(v >> 16));
    mb_u16(m, (uint16_t)v);
}
static inline void mb_u64(msg_builder *m, uint64_t v) {
    mb_u32(m, (uint32_t)(v >> 32));
    mb_u32(m, (uint32_t)v);
}
static inline void mb_bytes(msg_builder *m, const void *p, size_t n) {
    memcpy(m->buf + m->len, p, n);
    m->len += n;
}
static inline void mb_begin(msg_builder *m, uint32_t export_time, uint32_t sequence, uint32_t odid) {
    m->len = 0;
    mb_u16(m, 10);
    mb_u16(m, 0); /* patched by mb_finish */
    mb_u32(m, export_time);
    mb_u32(m, sequence);
    mb_u32(m, odid);
}
static inline void mb_set(msg_builder *m, uint16_t set_id) {
    m->set_start = m->len;
    mb_u16(m, set_id);
    mb_u16(m, 0); /* patched by mb_end_set */
}
static inline void mb_end_set(msg_builder *m) {
    size_t n = m->len - m->set_start;
    m->buf[m->set_start + 2] = (uint8_t)(n >> 8);
    m->buf[m->set_start + 3] = (uint8_t)n;
}
static inline size_t mb_finish(msg_builder *m) {
    m->buf[2] = (uint8_t)(m->len >> 8);
    m->buf[3] = (uint8_t)m->len;
    return m->len;
}
/* A template record: id, then (element id, length) pairs; pen 0. */
static inline void mb_field(msg_builder *m, uint16_t id, uint16_t length) {
    mb_u16(m, id);
    mb_u16(m, length);
}
static inline void mb_enterprise_field(msg_builder *m, uint16_t id, uint16_t length, uint32_t pen) {
    mb_u16(m, (uint16_t)(id | 0x8000));
    mb_u16(m, length);
    mb_u32(m, pen);
}

/* A Template Set with template 256: sourceIPv4Address(4)
 * destinationIPv4Address(4) octetDeltaCount(8). */
static inline void mb_template_256(msg_builder *m) {
    mb_set(m, 2);
    mb_u16(m, 256);
    mb_u16(m, 3);
    mb_field(m, 8, 4);
    mb_field(m, 12, 4);
    mb_field(m, 1, 8);
    mb_end_set(m);
}

#endif
