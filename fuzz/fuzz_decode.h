/*
 * fuzz_decode.h — shared by the libFuzzer targets: decodes every field of a
 * record with ipfix_value_decode() and walks structured data (RFC 6313)
 * recursively up to IPFIX_STRUCTURED_MAX_DEPTH, looking sub-templates up in
 * the session; reads whole messages through ipfix_reader. Besides what
 * ASan/UBSan catch, it checks the invariants the API promises (views inside
 * their record, iterators inside their list, cursors that advance, records
 * from the reader that measure and split, values and list headers that
 * encode back to their bytes, reported templates that are stored and
 * round-trip, limits held, no data set left held for a known template) and
 * aborts when one is broken, so logic bugs that stay inside the input buffer
 * are found too. Uses the internal session_internal.h for the held sets.
 */
#ifndef IPFIXKIT_FUZZ_DECODE_H
#define IPFIXKIT_FUZZ_DECODE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/session_internal.h" /* ipfix_session_has_held_set: see fuzz_read_message */
#include "ipfixkit/ipfixkit.h"

#define FUZZ_CHECK(cond)                                                                      \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond);      \
            abort();                                                                          \
        }                                                                                     \
    } while (0)

/* [p, p+n) lies inside [base, base+size). */
#define FUZZ_INSIDE(p, n, base, size)                                                         \
    ((const uint8_t *)(p) >= (const uint8_t *)(base) &&                                       \
     (size_t)((const uint8_t *)(p) - (const uint8_t *)(base)) <= (size) &&                    \
     (n) <= (size) - (size_t)((const uint8_t *)(p) - (const uint8_t *)(base)))

/* Not every target uses every helper. */
#define FUZZ_FN static __attribute__((unused))

typedef struct fuzz_ctx {
    ipfix_session *session;   /* sub-template lookups */
    uint32_t odid;
    uint32_t now;             /* passed to ipfix_session_find_template */
    uint64_t sink;            /* folds every decoded byte so nothing is optimised away */
} fuzz_ctx;

FUZZ_FN void fuzz_walk_record(fuzz_ctx *c, const ipfix_record *rec, int depth);
FUZZ_FN void fuzz_decode_field(fuzz_ctx *c, ipfix_type type, const uint8_t *data, size_t length,
                              int depth);

/* PEN 32473 (RFC 5612, documentation) elements of every abstract type,
 * ID = type code: the IANA registry has no signed8/16 or float32 element. */
#define FUZZ_PEN 32473u

/* The information model of the fuzz targets, created once: IANA elements
 * plus the FUZZ_PEN ones. */
FUZZ_FN const ipfix_infomodel *fuzz_model(void) {
    static ipfix_infomodel *m;
    if (m) return m;
    m = ipfix_infomodel_new();
    if (!m) abort();
    for (unsigned t = 0; t < IPFIX_TYPE_COUNT; t++) {
        char name[32];
        snprintf(name, sizeof name, "fuzz%s", ipfix_type_name((ipfix_type)t));
        ipfix_element e = {.name = name, .pen = FUZZ_PEN, .id = (uint16_t)t, .type = (uint8_t)t};
        if (ipfix_infomodel_add(m, &e) != IPFIX_OK) abort();
    }
    return m;
}

/* Touch every byte of a view: an out-of-bounds view then trips ASan. */
FUZZ_FN void fuzz_touch(fuzz_ctx *c, const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++) c->sink = c->sink * 31 + p[i];
}

FUZZ_FN void fuzz_walk_basic_list(fuzz_ctx *c, const uint8_t *data, size_t length, int depth) {
    ipfix_basic_list list;
    ipfix_error err;
    if (ipfix_basic_list_decode(data, length, &list, &err) != IPFIX_OK) return;
    FUZZ_CHECK(FUZZ_INSIDE(list.data, list.length, data, length));
    if (list.pen != 0 || !(data[1] & 0x80)) { /* PEN 0 with the E bit cannot be re-encoded */
        uint8_t hdr[9];
        size_t n = ipfix_basic_list_encode_header(hdr, sizeof hdr, list.semantic, list.pen,
                                                  list.element_id, list.element_length);
        FUZZ_CHECK(n == (size_t)(list.data - data) && memcmp(hdr, data, n) == 0);
    }
    const ipfix_element *e =
        ipfix_infomodel_find(ipfix_session_model(c->session), list.pen, list.element_id);
    ipfix_type type = e ? (ipfix_type)e->type : IPFIX_TYPE_OCTET_ARRAY;
    size_t cursor = 0;
    for (;;) {
        const uint8_t *element;
        size_t element_length, before = cursor;
        ipfix_status st = ipfix_basic_list_next(&list, &cursor, &element, &element_length, &err);
        if (st != IPFIX_OK) break;
        FUZZ_CHECK(cursor > before && cursor <= list.length);
        FUZZ_CHECK(FUZZ_INSIDE(element, element_length, list.data, list.length));
        if (list.element_length != IPFIX_VARLEN) FUZZ_CHECK(element_length == list.element_length);
        fuzz_decode_field(c, type, element, element_length, depth);
    }
}

FUZZ_FN void fuzz_walk_records(fuzz_ctx *c, const ipfix_template *tmpl, const uint8_t *data,
                              size_t length, const ipfix_sub_template_list *stl,
                              const ipfix_multi_list_entry *entry, int depth) {
    size_t cursor = 0;
    for (;;) {
        ipfix_record rec;
        ipfix_error err;
        size_t before = cursor;
        ipfix_status st = stl ? ipfix_sub_template_list_next(stl, tmpl, &cursor, &rec, &err)
                              : ipfix_multi_list_entry_next_record(entry, tmpl, &cursor, &rec, &err);
        if (st != IPFIX_OK) break;
        FUZZ_CHECK(cursor > before && cursor <= length);
        FUZZ_CHECK(rec.tmpl == tmpl);
        FUZZ_CHECK(FUZZ_INSIDE(rec.data, rec.length, data, length));
        fuzz_walk_record(c, &rec, depth);
    }
}

FUZZ_FN void fuzz_walk_sub_template_list(fuzz_ctx *c, const uint8_t *data, size_t length, int depth) {
    ipfix_sub_template_list list;
    ipfix_error err;
    if (ipfix_sub_template_list_decode(data, length, &list, &err) != IPFIX_OK) return;
    FUZZ_CHECK(FUZZ_INSIDE(list.data, list.length, data, length));
    uint8_t hdr[3];
    FUZZ_CHECK(ipfix_sub_template_list_encode_header(hdr, sizeof hdr, list.semantic,
                                                     list.template_id) == 3);
    FUZZ_CHECK(list.data == data + 3 && memcmp(hdr, data, 3) == 0);
    const ipfix_template *tmpl =
        ipfix_session_find_template(c->session, c->odid, list.template_id, c->now);
    if (!tmpl) return;
    fuzz_walk_records(c, tmpl, list.data, list.length, &list, NULL, depth);
}

FUZZ_FN void fuzz_walk_multi_list(fuzz_ctx *c, const uint8_t *data, size_t length, int depth) {
    ipfix_sub_template_multi_list list;
    ipfix_error err;
    if (ipfix_sub_template_multi_list_decode(data, length, &list, &err) != IPFIX_OK) return;
    FUZZ_CHECK(FUZZ_INSIDE(list.data, list.length, data, length));
    uint8_t hdr[4];
    FUZZ_CHECK(ipfix_sub_template_multi_list_encode_header(hdr, sizeof hdr, list.semantic) == 1);
    FUZZ_CHECK(list.data == data + 1 && hdr[0] == data[0]);
    size_t cursor = 0;
    for (;;) {
        ipfix_multi_list_entry entry;
        size_t before = cursor;
        if (ipfix_multi_list_next_entry(&list, &cursor, &entry, &err) != IPFIX_OK) break;
        FUZZ_CHECK(cursor > before && cursor <= list.length);
        FUZZ_CHECK(FUZZ_INSIDE(entry.data, entry.length, list.data, list.length));
        FUZZ_CHECK(ipfix_multi_list_entry_encode_header(hdr, sizeof hdr, entry.template_id,
                                                        (uint16_t)(entry.length + 4)) == 4);
        FUZZ_CHECK(memcmp(hdr, entry.data - 4, 4) == 0);
        const ipfix_template *tmpl =
            ipfix_session_find_template(c->session, c->odid, entry.template_id, c->now);
        if (!tmpl) continue;
        fuzz_walk_records(c, tmpl, entry.data, entry.length, NULL, &entry, depth);
    }
}

/* Walk a field of a list type (anything else: nothing to do). */
FUZZ_FN void fuzz_walk_list(fuzz_ctx *c, ipfix_type type, const uint8_t *data, size_t length,
                            int depth) {
    switch (type) {
    case IPFIX_TYPE_BASIC_LIST: fuzz_walk_basic_list(c, data, length, depth); break;
    case IPFIX_TYPE_SUB_TEMPLATE_LIST: fuzz_walk_sub_template_list(c, data, length, depth); break;
    case IPFIX_TYPE_SUB_TEMPLATE_MULTI_LIST: fuzz_walk_multi_list(c, data, length, depth); break;
    default: break;
    }
}

/* Types whose decoding loses nothing must encode back to the same bytes
 * (floats: NaN payloads may change; micro/nanoseconds: rounding). */
FUZZ_FN void fuzz_check_roundtrip(const ipfix_value *v, const uint8_t *data, size_t length) {
    static uint8_t out[65536];
    switch (v->type) {
    case IPFIX_TYPE_FLOAT32:
    case IPFIX_TYPE_FLOAT64:
    case IPFIX_TYPE_DATE_TIME_MICROSECONDS:
    case IPFIX_TYPE_DATE_TIME_NANOSECONDS: return;
    default: break;
    }
    if (length > sizeof out) return;
    ipfix_status st = ipfix_value_encode(v, out, length);
    if (st != IPFIX_OK || (length > 0 && memcmp(out, data, length) != 0)) {
        fprintf(stderr, "decode/encode round trip of %s (%zu bytes) failed: status %d, in",
                ipfix_type_name(v->type), length, (int)st);
        for (size_t i = 0; i < length && i < 64; i++) fprintf(stderr, " %02x", data[i]);
        fprintf(stderr, "\n");
        FUZZ_CHECK(!"value round trip");
    }
}

/* Decode one field (or list element) as `type`; lists are walked one level
 * deeper while the depth allows. */
FUZZ_FN void fuzz_decode_field(fuzz_ctx *c, ipfix_type type, const uint8_t *data, size_t length,
                              int depth) {
    ipfix_value v;
    ipfix_error err;
    memset(&v, 0, sizeof v);
    if (ipfix_value_decode(type, data, length, &v, &err) != IPFIX_OK) {
        /* Lists the value codec rejects (too short for a header) must be
         * rejected by the list decoders as well: walk them anyway. */
        if (depth < IPFIX_STRUCTURED_MAX_DEPTH) fuzz_walk_list(c, type, data, length, depth + 1);
        return;
    }
    switch (type) {
    case IPFIX_TYPE_OCTET_ARRAY:
    case IPFIX_TYPE_STRING:
    case IPFIX_TYPE_BASIC_LIST:
    case IPFIX_TYPE_SUB_TEMPLATE_LIST:
    case IPFIX_TYPE_SUB_TEMPLATE_MULTI_LIST:
        FUZZ_CHECK(FUZZ_INSIDE(v.v.bytes.data, v.v.bytes.length, data, length));
        fuzz_touch(c, v.v.bytes.data, v.v.bytes.length);
        break;
    case IPFIX_TYPE_DATE_TIME_SECONDS:
    case IPFIX_TYPE_DATE_TIME_MILLISECONDS:
    case IPFIX_TYPE_DATE_TIME_MICROSECONDS:
    case IPFIX_TYPE_DATE_TIME_NANOSECONDS:
        FUZZ_CHECK(v.v.time.nanoseconds < 1000000000u);
        if (type == IPFIX_TYPE_DATE_TIME_SECONDS) FUZZ_CHECK(v.v.time.nanoseconds == 0);
        if (type == IPFIX_TYPE_DATE_TIME_MILLISECONDS) FUZZ_CHECK(v.v.time.nanoseconds % 1000000u == 0);
        if (type == IPFIX_TYPE_DATE_TIME_MICROSECONDS) FUZZ_CHECK(v.v.time.nanoseconds % 1000u == 0);
        c->sink += (uint64_t)v.v.time.seconds + v.v.time.nanoseconds;
        break;
    default:
        fuzz_touch(c, (const uint8_t *)&v.v, sizeof v.v);
        break;
    }
    FUZZ_CHECK(v.type == type);
    fuzz_check_roundtrip(&v, data, length);
    if (depth < IPFIX_STRUCTURED_MAX_DEPTH) fuzz_walk_list(c, type, data, length, depth + 1);
}

/* Locate and decode every field of a record that a reader or an iterator
 * produced (so it must measure to its own length and split cleanly). */
FUZZ_FN void fuzz_walk_record(fuzz_ctx *c, const ipfix_record *rec, int depth) {
    const ipfix_template *t = rec->tmpl;
    FUZZ_CHECK(t != NULL && t->field_count > 0);
    size_t measured = 0;
    FUZZ_CHECK(ipfix_record_measure(t, rec->data, rec->length, &measured) == IPFIX_OK);
    FUZZ_CHECK(measured == rec->length);
    FUZZ_CHECK(rec->length >= t->min_record_length);
    ipfix_field_view stack_views[64];
    ipfix_field_view *views = t->field_count <= 64 ? stack_views
                                                   : malloc(t->field_count * sizeof *views);
    if (!views) return;
    FUZZ_CHECK(ipfix_record_fields(rec, views) == IPFIX_OK);
    for (uint16_t i = 0; i < t->field_count; i++) {
        const ipfix_template_field *f = &t->fields[i];
        FUZZ_CHECK(f->element != NULL);
        FUZZ_CHECK(FUZZ_INSIDE(views[i].data, views[i].length, rec->data, rec->length));
        if (f->spec.length != IPFIX_VARLEN) {
            FUZZ_CHECK(views[i].length == f->spec.length);
            if (f->offset != IPFIX_OFFSET_VARIABLE)
                FUZZ_CHECK(views[i].data == rec->data + f->offset);
        } else if (f->offset != IPFIX_OFFSET_VARIABLE) {
            size_t prefix = (size_t)(views[i].data - (rec->data + f->offset));
            FUZZ_CHECK(prefix == 1 || prefix == 3);
        }
        fuzz_decode_field(c, (ipfix_type)f->type, views[i].data, views[i].length, depth);
    }
    if (views != stack_views) free(views);
}

/* A template the reader reported must be stored and encode/parse back to
 * an equal template. */
FUZZ_FN void fuzz_check_template(ipfix_session *s, const ipfix_event *ev) {
    const ipfix_template *t = ev->u.tmpl.tmpl;
    FUZZ_CHECK(t != NULL);
    FUZZ_CHECK(ipfix_session_find_template(s, ev->odid, t->id, 0) == t);
    FUZZ_CHECK(t->id >= IPFIX_TEMPLATE_ID_MIN && t->field_count > 0);
    FUZZ_CHECK(t->scope_field_count <= t->field_count);
    static uint8_t buf[65536 * 8 + 8];
    size_t size = ipfix_template_record_size(t);
    FUZZ_CHECK(size <= sizeof buf);
    FUZZ_CHECK(ipfix_template_record_encode(t, buf, sizeof buf) == size);
    ipfix_template *back = NULL;
    uint16_t withdrawn = 0;
    size_t consumed = 0;
    ipfix_error err;
    FUZZ_CHECK(ipfix_template_parse(ipfix_session_model(s), ipfix_template_is_options(t), buf, size,
                                    &consumed, &back, &withdrawn, &err) == IPFIX_OK);
    FUZZ_CHECK(back != NULL && consumed == size);
    FUZZ_CHECK(ipfix_template_equal(t, back));
    FUZZ_CHECK(back->min_record_length == t->min_record_length && back->variable == t->variable);
    ipfix_template_unref(back);
}

/* Decode one message (`length` bytes at `msg`, `avail` >= length bytes
 * handed to the reader, the rest trailing) into session `s` and walk every
 * event; with `abandon`, stop after the third event. `check_held`: check
 * that no held data set waits for a known template afterwards. */
FUZZ_FN void fuzz_read_message(ipfix_session *s, const uint8_t *msg, size_t length, size_t avail,
                              uint32_t now, bool abandon, bool check_held) {
    fuzz_ctx ctx = {.session = s, .now = now};
    ipfix_reader r;
    ipfix_error err;
    if (ipfix_reader_begin(&r, s, msg, avail, now, &err) != IPFIX_OK) return;
    /* SCTP stream from the export time's low bits: streams 0-31, so some
     * are past the default max_streams of 16 (accounted in the last slot).
     * Other transports ignore it. */
    const ipfix_session_config *cfg = ipfix_session_get_config(s);
    bool sctp = cfg->transport == IPFIX_TRANSPORT_SCTP;
    uint16_t stream = (uint16_t)(msg[7] & 31);
    ipfix_reader_set_stream(&r, stream);
    ipfix_event ev;
    unsigned events = 0;
    while (ipfix_reader_next(&r, &ev) == IPFIX_OK) {
        ctx.odid = ev.odid;
        switch (ev.kind) {
        case IPFIX_EVENT_RECORD:
            if (!ev.replayed)
                FUZZ_CHECK(FUZZ_INSIDE(ev.u.record.data, ev.u.record.length, msg, length));
            fuzz_walk_record(&ctx, &ev.u.record, 0);
            break;
        case IPFIX_EVENT_TEMPLATE: fuzz_check_template(s, &ev); break;
        case IPFIX_EVENT_WITHDRAWAL:
            if (!ev.u.withdrawal.ignored && ev.u.withdrawal.template_id >= IPFIX_TEMPLATE_ID_MIN)
                FUZZ_CHECK(ipfix_session_find_template(s, ev.odid, ev.u.withdrawal.template_id, 0) ==
                           NULL);
            break;
        case IPFIX_EVENT_MISSING_TEMPLATE: FUZZ_CHECK(ev.u.missing.length <= length); break;
        case IPFIX_EVENT_ERROR:
            FUZZ_CHECK(ev.u.error.rule != NULL);
            FUZZ_CHECK(ev.u.error.offset <= avail);
            break;
        case IPFIX_EVENT_SEQUENCE:
            FUZZ_CHECK(ev.u.sequence.stream == (sctp ? stream : 0));
            FUZZ_CHECK(ev.u.sequence.lost || ev.u.sequence.out_of_order);
            break;
        default: FUZZ_CHECK(!"unknown event kind");
        }
        if (abandon && ++events == 3) {
            ipfix_reader_abandon(&r);
            break;
        }
    }
    FUZZ_CHECK(ipfix_session_pending_bytes(s) <= cfg->pending_bytes_max);
    (void)ctx.sink;
    /* RFC 7011 §8 buffering: once a message is read to its end, no data set
     * is still held for a template the session knows (arrival of a template
     * replays the sets held for it). Valid only while no message of the
     * session was abandoned, so callers stop passing check_held after one. */
    if (!check_held) return;
    for (size_t i = 0; i < ipfix_session_domain_count(s); i++) {
        uint32_t odid = ipfix_session_domain_stats(s, i)->odid, cursor = 0;
        const ipfix_template *t;
        while ((t = ipfix_session_next_template(s, odid, &cursor)) != NULL) {
            if (ipfix_session_has_held_set(s, odid, t->id)) {
                fprintf(stderr, "domain %u: data set still held for known template %u\n",
                        (unsigned)odid, (unsigned)t->id);
                FUZZ_CHECK(!"held set not replayed");
            }
        }
    }
}

/* Session-wide invariants after a stream: limits hold, iteration matches
 * the counts. */
FUZZ_FN void fuzz_check_session(const ipfix_session *s) {
    const ipfix_session_config *cfg = ipfix_session_get_config(s);
    size_t templates = 0;
    if (cfg->max_domains) FUZZ_CHECK(ipfix_session_domain_count(s) <= cfg->max_domains);
    for (size_t i = 0; i < ipfix_session_domain_count(s); i++) {
        const ipfix_domain_stats *d = ipfix_session_domain_stats(s, i);
        FUZZ_CHECK(d != NULL);
        uint32_t cursor = 0;
        size_t n = 0;
        while (ipfix_session_next_template(s, d->odid, &cursor) != NULL) n++;
        FUZZ_CHECK(n == ipfix_session_template_count(s, d->odid));
        templates += n;
    }
    if (cfg->max_templates) FUZZ_CHECK(templates <= cfg->max_templates);
    ipfix_domain_stats total;
    ipfix_session_total_stats(s, &total);
    FUZZ_CHECK(total.option_records <= total.data_records);
}

#endif
