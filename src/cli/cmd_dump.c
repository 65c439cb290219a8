/*
 * cmd_dump.c — `ipfix dump`: decode IPFIX files and pcap/pcapng captures
 * and print templates and data records as text lines or JSON Lines, or
 * (--count) decode everything and print only counters.
 *
 * Inputs are told apart by their first bytes: pcap and pcapng magics go to
 * the capture extractor (transport/capture.c, one ipfix_session per
 * Transport Session with that transport's template rules), anything else is
 * read as an IPFIX File (RFC 5655) with the file reader (store/) and one
 * session of transport FILE. Each message is walked with ipfix_reader;
 * records are rendered by core/render.c into one large output buffer that
 * is written with fwrite. Errors go to stderr as
 * `FILE: offset N: <rule> (<detail>)` and decoding goes on after them.
 *
 * --count is a benchmark of full decoding: every field of every record is
 * decoded through a per-template decode plan (inline big-endian loads for
 * integers, addresses and timestamps; ipfix_value_decode for the rest).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "ipfixkit/capture.h"
#include "ipfixkit/file.h"
#include "ipfixkit/ipfixkit.h"
#include "ipfixkit/render.h"

#define OUTPUT_FLUSH_AT (1u << 20)

typedef struct dump_counts {
    uint64_t messages;
    uint64_t templates;
    uint64_t options_templates;
    uint64_t withdrawals;
    uint64_t data_records;
    uint64_t options_records;
    uint64_t missing_template_sets;
    uint64_t lost_records;
    uint64_t errors;
} dump_counts;

/* --count: how to decode one field. */
typedef enum decode_kind {
    DK_UNSIGNED,  /* 1..8 bytes */
    DK_SIGNED,
    DK_IPV4,
    DK_IPV6,
    DK_MAC,
    DK_SECONDS,
    DK_MILLISECONDS,
    DK_OTHER      /* ipfix_value_decode */
} decode_kind;

typedef struct decode_op {
    uint8_t kind;
    uint8_t type;
    uint16_t length;       /* IPFIX_VARLEN for variable */
    uint16_t offset;       /* fixed templates */
    const ipfix_element *element;
    uint32_t pen;
    uint16_t id;
} decode_op;

/* Fixed-length templates: field offsets grouped by load width, so the hot
 * loop is a few tight loops without a per-field branch. Fields of other
 * kinds are decoded through ops[] (the `slow` list). */
enum { G_U8, G_U16, G_U32, G_U64, G_MS, G_IPV6, G_COUNT };

typedef struct decode_plan {
    const ipfix_template *tmpl;
    uint16_t id, field_count, scope_field_count;
    bool variable;
    uint16_t group_end[G_COUNT];  /* end index of each group in offsets[] */
    uint16_t *offsets;            /* grouped offsets */
    uint16_t *slow;               /* indexes into ops[] of the other fields */
    uint16_t slow_count;
    decode_op ops[];
} decode_plan;

/* Where the bytes being decoded came from, for error lines. */
typedef struct location {
    bool capture;
    uint64_t file_offset;  /* IPFIX file: of the message */
    uint64_t packet;       /* capture: packet number */
    const char *flow;      /* capture: stream */
} location;

typedef struct dump {
    /* options */
    bool json, count, templates, numeric;
    ipfix_capture_config capture_config;
    /* state */
    ipfix_infomodel *model;
    ipfix_renderer *renderer;
    ipfix_buffer out;
    dump_counts counts;
    bool partial;          /* input errors seen */
    bool failed;           /* a file could not be opened or read */
    const char *file;
    /* --count decode plans (open addressing by template pointer) */
    decode_plan **plans;
    size_t plan_capacity, plan_count;
    const ipfix_template *last_tmpl; /* valid until the next template change */
    decode_plan *last_plan;
    uint64_t checksum;     /* keeps the decoded values alive */
} dump;

/* ----------------------------------------------------------------- output */

static void output_flush(dump *d) {
    if (d->out.length) {
        if (fwrite(d->out.data, 1, d->out.length, stdout) != d->out.length) d->failed = true;
        d->out.length = 0;
    }
}

static void output_maybe_flush(dump *d) {
    if (d->out.length >= OUTPUT_FLUSH_AT) output_flush(d);
}

static void print_where(dump *d, const location *loc, uint64_t offset, const char *offset_word) {
    if (loc && loc->capture) {
        fprintf(stderr, "%s: packet %llu", d->file, (unsigned long long)loc->packet);
        if (loc->flow) fprintf(stderr, " (%s)", loc->flow);
        fprintf(stderr, ": %s %llu: ", offset_word, (unsigned long long)offset);
    } else {
        fprintf(stderr, "%s: %s %llu: ", d->file, offset_word,
                (unsigned long long)((loc ? loc->file_offset : 0) + offset));
    }
}

/* "FILE: offset N: rule (detail)"; standard output is flushed first so the
 * two streams stay in order on a terminal. */
static void report(dump *d, const location *loc, uint64_t offset, const ipfix_error *err,
                   bool counts_as_error) {
    output_flush(d);
    fflush(stdout);
    print_where(d, loc, offset, "offset");
    const char *rule = err->rule ? err->rule : ipfix_status_string(err->status);
    if (err->detail[0]) fprintf(stderr, "%s (%s)\n", rule, err->detail);
    else fprintf(stderr, "%s\n", rule);
    if (counts_as_error) {
        d->counts.errors++;
        d->partial = true;
    }
}

static void report_text(dump *d, const location *loc, uint64_t offset, const char *rule,
                        const char *detail, bool counts_as_error) {
    ipfix_error e;
    ipfix_error_set(&e, IPFIX_ERR_MALFORMED, 0, rule, "%s", detail ? detail : "");
    report(d, loc, offset, &e, counts_as_error);
}

/* ---------------------------------------------------- --count decoding */

static decode_kind decode_kind_of(ipfix_type type, uint16_t length) {
    switch (type) {
    case IPFIX_TYPE_UNSIGNED8:
    case IPFIX_TYPE_UNSIGNED16:
    case IPFIX_TYPE_UNSIGNED32:
    case IPFIX_TYPE_UNSIGNED64:
        return length >= 1 && length <= 8 ? DK_UNSIGNED : DK_OTHER;
    case IPFIX_TYPE_SIGNED8:
    case IPFIX_TYPE_SIGNED16:
    case IPFIX_TYPE_SIGNED32:
    case IPFIX_TYPE_SIGNED64: return length >= 1 && length <= 8 ? DK_SIGNED : DK_OTHER;
    case IPFIX_TYPE_IPV4_ADDRESS: return length == 4 ? DK_IPV4 : DK_OTHER;
    case IPFIX_TYPE_IPV6_ADDRESS: return length == 16 ? DK_IPV6 : DK_OTHER;
    case IPFIX_TYPE_MAC_ADDRESS: return length == 6 ? DK_MAC : DK_OTHER;
    case IPFIX_TYPE_DATE_TIME_SECONDS: return length == 4 ? DK_SECONDS : DK_OTHER;
    case IPFIX_TYPE_DATE_TIME_MILLISECONDS: return length == 8 ? DK_MILLISECONDS : DK_OTHER;
    default: return DK_OTHER;
    }
}

static bool decode_plan_matches(const decode_plan *p, const ipfix_template *t) {
    if (p->id != t->id || p->field_count != t->field_count ||
        p->scope_field_count != t->scope_field_count)
        return false;
    for (uint16_t i = 0; i < t->field_count; i++) {
        const decode_op *op = &p->ops[i];
        const ipfix_template_field *f = &t->fields[i];
        if (op->element != f->element || op->type != f->type || op->length != f->spec.length ||
            op->id != f->spec.id || op->pen != f->spec.pen)
            return false;
    }
    return true;
}

static int group_of(const decode_op *op) {
    switch ((decode_kind)op->kind) {
    case DK_UNSIGNED:
        return op->length == 1 ? G_U8 : op->length == 2 ? G_U16 : op->length == 4 ? G_U32
               : op->length == 8 ? G_U64 : -1;
    case DK_IPV4:
    case DK_SECONDS: return G_U32;
    case DK_MILLISECONDS: return G_MS;
    case DK_IPV6: return G_IPV6;
    default: return -1;
    }
}

static void decode_plan_free(decode_plan *p) {
    if (!p) return;
    free(p->offsets);
    free(p->slow);
    free(p);
}

static decode_plan *decode_plan_build(const ipfix_template *t) {
    decode_plan *p = calloc(1, sizeof *p + (size_t)t->field_count * sizeof(decode_op));
    if (!p) return NULL;
    p->offsets = calloc((size_t)t->field_count + 1, sizeof *p->offsets);
    p->slow = calloc((size_t)t->field_count + 1, sizeof *p->slow);
    if (!p->offsets || !p->slow) {
        decode_plan_free(p);
        return NULL;
    }
    p->tmpl = t;
    p->id = t->id;
    p->field_count = t->field_count;
    p->scope_field_count = t->scope_field_count;
    p->variable = t->variable;
    for (uint16_t i = 0; i < t->field_count; i++) {
        const ipfix_template_field *f = &t->fields[i];
        decode_op *op = &p->ops[i];
        op->type = f->type;
        op->length = f->spec.length;
        op->offset = f->offset;
        op->element = f->element;
        op->pen = f->spec.pen;
        op->id = f->spec.id;
        op->kind = (uint8_t)(f->spec.length == IPFIX_VARLEN
                                 ? DK_OTHER
                                 : decode_kind_of((ipfix_type)f->type, f->spec.length));
    }
    size_t n = 0;
    for (int g = 0; g < G_COUNT; g++) {
        for (uint16_t i = 0; i < t->field_count && !p->variable; i++)
            if (group_of(&p->ops[i]) == g) p->offsets[n++] = p->ops[i].offset;
        p->group_end[g] = (uint16_t)n;
    }
    for (uint16_t i = 0; i < t->field_count; i++)
        if (p->variable || group_of(&p->ops[i]) < 0) p->slow[p->slow_count++] = i;
    return p;
}

static size_t plan_slot(const ipfix_template *t, size_t mask) {
    uint64_t h = (uint64_t)(uintptr_t)t * 0x9e3779b97f4a7c15ull;
    return (size_t)(h >> 40) & mask;
}

static void decode_plans_free(dump *d) {
    for (size_t i = 0; i < d->plan_capacity; i++) decode_plan_free(d->plans[i]);
    free(d->plans);
    d->plans = NULL;
    d->plan_capacity = d->plan_count = 0;
    d->last_tmpl = NULL;
    d->last_plan = NULL;
}

static decode_plan *decode_plan_get(dump *d, const ipfix_template *t) {
    if (d->plan_count * 4 >= d->plan_capacity * 3) {
        size_t capacity = d->plan_capacity ? d->plan_capacity * 2 : 64;
        if (capacity > (1u << 20)) { /* pathological template churn: start over */
            decode_plans_free(d);
            capacity = 64;
        }
        decode_plan **plans = calloc(capacity, sizeof *plans);
        if (!plans) return NULL;
        for (size_t i = 0; i < d->plan_capacity; i++) {
            decode_plan *p = d->plans[i];
            if (!p) continue;
            size_t j = plan_slot(p->tmpl, capacity - 1);
            while (plans[j]) j = (j + 1) & (capacity - 1);
            plans[j] = p;
        }
        free(d->plans);
        d->plans = plans;
        d->plan_capacity = capacity;
    }
    size_t mask = d->plan_capacity - 1;
    size_t i = plan_slot(t, mask);
    for (; d->plans[i]; i = (i + 1) & mask) {
        if (d->plans[i]->tmpl != t) continue;
        if (decode_plan_matches(d->plans[i], t)) return d->plans[i];
        decode_plan *fresh = decode_plan_build(t); /* address reused by a new template */
        if (!fresh) return NULL;
        decode_plan_free(d->plans[i]);
        d->plans[i] = fresh;
        return fresh;
    }
    decode_plan *p = decode_plan_build(t);
    if (!p) return NULL;
    d->plans[i] = p;
    d->plan_count++;
    return p;
}

/* Decode one field; false (and `err`) when the value is invalid. */
static inline bool decode_field(const decode_op *op, const uint8_t *f, size_t n, uint64_t *acc,
                                ipfix_error *err) {
    switch ((decode_kind)op->kind) {
    case DK_UNSIGNED: *acc += ipfix_get_unsigned(f, n); return true;
    case DK_SIGNED: {
        uint64_t v = ipfix_get_unsigned(f, n);
        unsigned shift = (unsigned)(64 - 8 * n);
        *acc += (uint64_t)((int64_t)(v << shift) >> shift); /* RFC 7011 §6.2 sign */
        return true;
    }
    case DK_IPV4: *acc += ipfix_get_u32(f); return true;
    case DK_IPV6: *acc += ipfix_get_u64(f) ^ ipfix_get_u64(f + 8); return true;
    case DK_MAC: *acc += (uint64_t)ipfix_get_u16(f) << 32 | ipfix_get_u32(f + 2); return true;
    case DK_SECONDS: *acc += ipfix_get_u32(f); return true;
    case DK_MILLISECONDS: {
        uint64_t ms = ipfix_get_u64(f);
        ipfix_timestamp ts = {(int64_t)(ms / 1000), (uint32_t)(ms % 1000) * 1000000u};
        *acc += (uint64_t)ts.seconds + ts.nanoseconds;
        return true;
    }
    case DK_OTHER:
    default: {
        ipfix_value v;
        if (ipfix_value_decode((ipfix_type)op->type, f, n, &v, err) != IPFIX_OK) return false;
        *acc += v.v.u64; /* first 8 bytes of whatever was decoded */
        return true;
    }
    }
}

static void decode_record(dump *d, const ipfix_record *rec, const location *loc,
                          size_t record_offset) {
    const ipfix_template *t = rec->tmpl;
    decode_plan *plan = d->last_plan;
    if (t != d->last_tmpl || !plan) {
        plan = decode_plan_get(d, t);
        if (!plan) {
            report_text(d, loc, record_offset, "out of memory", "", true);
            return;
        }
        d->last_tmpl = t;
        d->last_plan = plan;
    }
    uint64_t acc = 0;
    ipfix_error err;
    const uint8_t *data = rec->data;
    __builtin_prefetch(data + 1024); /* records are read in file order */
    if (!plan->variable) {
        const uint16_t *o = plan->offsets;
        unsigned i = 0;
        for (; i < plan->group_end[G_U8]; i++) acc += data[o[i]];
        for (; i < plan->group_end[G_U16]; i++) acc += ipfix_get_u16(data + o[i]);
        for (; i < plan->group_end[G_U32]; i++) acc += ipfix_get_u32(data + o[i]);
        for (; i < plan->group_end[G_U64]; i++) acc += ipfix_get_u64(data + o[i]);
        for (; i < plan->group_end[G_MS]; i++) { /* dateTimeMilliseconds to (s, ns) */
            uint64_t ms = ipfix_get_u64(data + o[i]);
            ipfix_timestamp ts = {(int64_t)(ms / 1000), (uint32_t)(ms % 1000) * 1000000u};
            acc += (uint64_t)ts.seconds ^ ts.nanoseconds;
        }
        for (; i < plan->group_end[G_IPV6]; i++)
            acc += ipfix_get_u64(data + o[i]) ^ ipfix_get_u64(data + o[i] + 8);
        for (unsigned k = 0; k < plan->slow_count; k++) {
            const decode_op *op = &plan->ops[plan->slow[k]];
            if (!decode_field(op, data + op->offset, op->length, &acc, &err))
                report(d, loc, record_offset + op->offset, &err, true);
        }
    } else {
        const uint8_t *p = data, *end = data + rec->length;
        for (uint16_t i = 0; i < plan->field_count; i++) {
            const decode_op *op = &plan->ops[i];
            size_t n = op->length;
            const uint8_t *field_start = p;
            if (n == IPFIX_VARLEN) { /* RFC 7011 §7 */
                size_t prefix;
                if (ipfix_varlen_decode(p, (size_t)(end - p), &prefix, &n) != IPFIX_OK) {
                    report_text(d, loc, record_offset + (size_t)(p - data),
                                "RFC 7011 §7: variable-length field passes the record", "",
                                true);
                    break;
                }
                p += prefix;
            } else if ((size_t)(end - p) < n) {
                report_text(d, loc, record_offset + (size_t)(p - data),
                            "RFC 7011 §3.4.3: record shorter than its template", "", true);
                break;
            }
            if (!decode_field(op, p, n, &acc, &err))
                report(d, loc, record_offset + (size_t)(field_start - data), &err, true);
            p += n;
        }
    }
    d->checksum += acc;
}

/* ------------------------------------------------------------- messages */

static const ipfix_template *lookup_template(void *context, uint32_t odid, uint16_t id) {
    return ipfix_session_find_template(context, odid, id, 0);
}

/* Decode one IPFIX Message of `session` and print what it holds. */
static void dump_message(dump *d, ipfix_session *session, const uint8_t *message, size_t length,
                         uint32_t now, const location *loc, const char *origin) {
    ipfix_reader reader;
    ipfix_error err;
    ipfix_error_clear(&err);
    d->last_tmpl = NULL; /* templates may expire or change from here on */
    if (ipfix_reader_begin(&reader, session, message, length, now, &err) != IPFIX_OK) {
        report(d, loc, err.offset, &err, true);
        return;
    }
    d->counts.messages++;
    ipfix_render_source source = {0, origin, lookup_template, session};
    ipfix_event ev;
    while (ipfix_reader_next(&reader, &ev) == IPFIX_OK) {
        switch (ev.kind) {
        case IPFIX_EVENT_RECORD: {
            bool options = ipfix_template_is_options(ev.u.record.tmpl);
            if (options) d->counts.options_records++;
            else d->counts.data_records++;
            if (d->count) {
                decode_record(d, &ev.u.record, loc, ev.offset);
                break;
            }
            source.odid = ev.odid;
            ipfix_status st = ipfix_render_record(d->renderer, &source, &ev.u.record, &d->out, &err);
            if (st == IPFIX_ERR_MALFORMED) report(d, loc, ev.offset + err.offset, &err, true);
            else if (st != IPFIX_OK) report_text(d, loc, ev.offset, "out of memory", "", true);
            output_maybe_flush(d);
            break;
        }
        case IPFIX_EVENT_TEMPLATE:
            d->last_tmpl = NULL;
            if (ipfix_template_is_options(ev.u.tmpl.tmpl)) d->counts.options_templates++;
            else d->counts.templates++;
            if (ev.u.tmpl.change == IPFIX_TEMPLATE_CONFLICT) {
                char detail[64];
                snprintf(detail, sizeof detail, "template %u redefined",
                         (unsigned)ev.u.tmpl.tmpl->id);
                report_text(d, loc, ev.offset,
                            "RFC 7011 §8.1: template redefined without a withdrawal", detail,
                            true);
            }
            if (d->templates && !d->count) {
                source.odid = ev.odid;
                ipfix_render_template(d->renderer, &source, ev.u.tmpl.tmpl, &d->out);
            }
            break;
        case IPFIX_EVENT_WITHDRAWAL:
            d->last_tmpl = NULL;
            d->counts.withdrawals++;
            if (ev.u.withdrawal.ignored) {
                char detail[64];
                snprintf(detail, sizeof detail, "template %u", (unsigned)ev.u.withdrawal.template_id);
                /* RFC 7011 §8.1 (unknown template: ignore and log), §8.4 (UDP). */
                report_text(d, loc, ev.offset,
                            ipfix_session_get_config(session)->transport == IPFIX_TRANSPORT_UDP
                                ? "RFC 7011 §8.4: withdrawal over UDP ignored"
                                : "RFC 7011 §8.1: withdrawal of a template not in use ignored",
                            detail, false);
            }
            if (d->templates && !d->count) {
                source.odid = ev.odid;
                ipfix_render_withdrawal(d->renderer, &source, ev.u.withdrawal.template_id,
                                        ev.u.withdrawal.options, &d->out);
            }
            break;
        case IPFIX_EVENT_MISSING_TEMPLATE:
            d->counts.missing_template_sets++;
            if (!ev.u.missing.held) {
                char detail[96];
                snprintf(detail, sizeof detail, "template %u, %zu bytes of records skipped",
                         (unsigned)ev.u.missing.template_id, ev.u.missing.length);
                report_text(d, loc, ev.offset,
                            "RFC 7011 §8: data set for a template not received", detail, true);
            }
            break;
        case IPFIX_EVENT_ERROR: report(d, loc, ev.u.error.offset, &ev.u.error, true); break;
        case IPFIX_EVENT_SEQUENCE: {
            char detail[112];
            if (ev.u.sequence.out_of_order)
                snprintf(detail, sizeof detail,
                         "odid %u: expected %u, received %u, %llu records no longer counted as lost",
                         (unsigned)ev.odid, (unsigned)ev.u.sequence.expected,
                         (unsigned)ev.u.sequence.received,
                         (unsigned long long)ev.u.sequence.recovered);
            else
                snprintf(detail, sizeof detail, "odid %u: expected %u, received %u, %llu records lost",
                         (unsigned)ev.odid, (unsigned)ev.u.sequence.expected,
                         (unsigned)ev.u.sequence.received,
                         (unsigned long long)ev.u.sequence.lost);
            report_text(d, loc, ev.offset,
                        ev.u.sequence.out_of_order
                            ? "RFC 7011 §3.1: message out of order (sequence number)"
                            : "RFC 7011 §3.1: sequence number gap",
                        detail, false);
            break;
        }
        }
    }
}

/* A transport session ends: take its loss counters, report what was held
 * for templates that never came, free it. */
static void session_finish(dump *d, ipfix_session *session, const location *loc) {
    if (!session) return;
    ipfix_domain_stats total;
    ipfix_session_total_stats(session, &total);
    d->counts.lost_records += total.lost_records;
    size_t pending = ipfix_session_pending_bytes(session);
    if (pending || total.held_sets_dropped) {
        char detail[112];
        snprintf(detail, sizeof detail, "%zu bytes still held, %llu sets dropped", pending,
                 (unsigned long long)total.held_sets_dropped);
        report_text(d, loc, 0, "RFC 7011 §8: data sets whose template never arrived", detail,
                    true);
    }
    ipfix_session_free(session);
    d->last_tmpl = NULL;
}

/* ------------------------------------------------------------ IPFIX files */

static int dump_ipfix_file(dump *d, const char *path) {
    ipfix_file_reader *fr;
    ipfix_error err;
    ipfix_error_clear(&err);
    if (ipfix_file_reader_open(path, &fr, &err) != IPFIX_OK) {
        fprintf(stderr, "ipfix dump: %s: %s\n", d->file, err.detail[0] ? err.detail : "cannot open");
        d->failed = true;
        return -1;
    }
    ipfix_session_config config;
    ipfix_session_config_default(&config, IPFIX_TRANSPORT_FILE);
    ipfix_session *session = ipfix_session_new(d->model, &config);
    if (!session) {
        ipfix_file_reader_close(fr);
        fprintf(stderr, "ipfix dump: out of memory\n");
        d->failed = true;
        return -1;
    }
    location loc = {0};
    for (;;) {
        const uint8_t *message;
        size_t length;
        uint64_t offset;
        ipfix_status st = ipfix_file_reader_next(fr, &message, &length, &offset, &err);
        if (st == IPFIX_END) break;
        if (st == IPFIX_OK) {
            loc.file_offset = offset;
            dump_message(d, session, message, length, 0, &loc, NULL);
            continue;
        }
        location at = {0};
        report(d, &at, err.offset, &err, true); /* err.offset is a file offset */
        if (st == IPFIX_ERR_IO) {
            d->failed = true;
            break;
        }
    }
    loc.file_offset = 0;
    session_finish(d, session, &loc);
    ipfix_file_reader_close(fr);
    return 0;
}

/* --------------------------------------------------------------- captures */

typedef struct capture_session {
    ipfix_session *session;
    char origin[64];       /* exporter address:port */
    char flow[112];
} capture_session;

static capture_session *capture_session_get(dump *d, capture_session ***table, size_t *size,
                                            const ipfix_capture_item *item) {
    uint64_t id = item->stream_id;
    if (id >= *size) {
        size_t n = *size ? *size : 64;
        while (n <= id) n *= 2;
        capture_session **t = realloc(*table, n * sizeof *t);
        if (!t) return NULL;
        memset(t + *size, 0, (n - *size) * sizeof *t);
        *table = t;
        *size = n;
    }
    capture_session *cs = (*table)[id];
    if (cs) return cs;
    cs = calloc(1, sizeof *cs);
    if (!cs) return NULL;
    ipfix_session_config config;
    ipfix_session_config_default(&config, (ipfix_transport)item->flow.transport);
    cs->session = ipfix_session_new(d->model, &config);
    if (!cs->session) {
        free(cs);
        return NULL;
    }
    ipfix_flow_key_format(&item->flow, cs->flow, sizeof cs->flow);
    /* The exporter is the sender of the messages: the source. */
    char *w = cs->origin;
    if (item->flow.family == 6) {
        *w++ = '[';
        w += ipfix_format_ipv6(w, item->flow.src);
        *w++ = ']';
    } else {
        w += ipfix_format_ipv4(w, item->flow.src);
    }
    *w++ = ':';
    w += ipfix_format_u64(w, item->flow.src_port);
    *w = 0;
    (*table)[id] = cs;
    return cs;
}

static void capture_session_end(dump *d, capture_session **table, size_t size, uint64_t id,
                                 const location *loc) {
    if (id >= size || !table[id]) return;
    location at = *loc;
    at.flow = table[id]->flow;
    session_finish(d, table[id]->session, &at);
    free(table[id]);
    table[id] = NULL;
}

static int dump_capture(dump *d, const char *path) {
    ipfix_capture *capture;
    ipfix_error err;
    ipfix_error_clear(&err);
    if (ipfix_capture_open(path, &d->capture_config, &capture, &err) != IPFIX_OK) {
        fprintf(stderr, "ipfix dump: %s: %s\n", d->file, err.detail);
        d->failed = true;
        return -1;
    }
    capture_session **table = NULL;
    size_t size = 0;
    ipfix_capture_item item;
    ipfix_status st;
    location loc = {.capture = true};
    while ((st = ipfix_capture_next(capture, &item)) == IPFIX_OK) {
        loc.packet = item.packet_number;
        loc.flow = NULL;
        switch (item.kind) {
        case IPFIX_CAPTURE_MESSAGE: {
            capture_session *cs = capture_session_get(d, &table, &size, &item);
            if (!cs) {
                report_text(d, &loc, 0, "out of memory", "", true);
                break;
            }
            loc.flow = cs->flow;
            dump_message(d, cs->session, item.data, item.length, (uint32_t)item.seconds, &loc,
                         cs->origin);
            break;
        }
        case IPFIX_CAPTURE_PROBLEM: {
            char flow[112];
            if (item.stream_id) {
                ipfix_flow_key_format(&item.flow, flow, sizeof flow);
                loc.flow = flow;
            }
            output_flush(d);
            fflush(stdout);
            print_where(d, &loc, item.error.offset, item.stream_id ? "stream offset" : "offset");
            if (item.error.detail[0])
                fprintf(stderr, "%s (%s)\n", item.error.rule, item.error.detail);
            else
                fprintf(stderr, "%s\n", item.error.rule);
            d->counts.errors++;
            d->partial = true;
            break;
        }
        case IPFIX_CAPTURE_STREAM_END:
            capture_session_end(d, table, size, item.stream_id, &loc);
            break;
        }
        output_maybe_flush(d);
    }
    if (st == IPFIX_ERR_IO) {
        loc.packet = item.packet_number;
        report(d, &loc, 0, &item.error, true);
        d->failed = true;
    }
    for (size_t i = 0; i < size; i++) capture_session_end(d, table, size, i, &loc);
    free(table);
    ipfix_capture_close(capture);
    return 0;
}

/* ------------------------------------------------------------ inputs */

typedef enum input_kind { INPUT_IPFIX, INPUT_PCAP } input_kind;

static input_kind kind_of_magic(const uint8_t *m, size_t n) {
    if (n < 4) return INPUT_IPFIX;
    uint32_t be = (uint32_t)m[0] << 24 | (uint32_t)m[1] << 16 | (uint32_t)m[2] << 8 | m[3];
    switch (be) {
    case 0xa1b2c3d4: case 0xd4c3b2a1: /* pcap, microseconds */
    case 0xa1b23c4d: case 0x4d3cb2a1: /* pcap, nanoseconds */
    case 0x0a0d0d0a:                  /* pcapng section header block */
        return INPUT_PCAP;
    default: return INPUT_IPFIX;
    }
}

/* Standard input that cannot seek: the first bytes were read to choose the
 * decoder, so a thread replays them and the rest of stdin through a pipe
 * whose /dev/fd path the decoders open. */
typedef struct relay {
    int fd;
    uint8_t head[4];
    size_t head_length;
    uint8_t buf[1 << 16];
} relay;

static bool write_all(int fd, const uint8_t *p, size_t n) {
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        p += k;
        n -= (size_t)k;
    }
    return true;
}

static void *relay_run(void *arg) {
    relay *r = arg;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE); /* a reader that stops early gives EPIPE, not death */
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (write_all(r->fd, r->head, r->head_length)) {
        for (;;) {
            ssize_t k = read(STDIN_FILENO, r->buf, sizeof r->buf);
            if (k < 0 && errno == EINTR) continue;
            if (k <= 0 || !write_all(r->fd, r->buf, (size_t)k)) break;
        }
    }
    close(r->fd);
    free(r);
    return NULL;
}

/* Peek at standard input; *path becomes /dev/fd/0 (seekable: reopened, so
 * a regular file can be mapped) or the /dev/fd path of the relay pipe,
 * whose read end is returned in *pipe_fd (close it when done). */
static bool stdin_prepare(uint8_t *magic, size_t *magic_length, char *path, size_t path_size,
                          int *pipe_fd) {
    size_t n = 0;
    while (n < 4) {
        ssize_t k = read(STDIN_FILENO, magic + n, 4 - n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        n += (size_t)k;
    }
    *magic_length = n;
    if (lseek(STDIN_FILENO, 0, SEEK_SET) == 0) {
        snprintf(path, path_size, "/dev/fd/%d", STDIN_FILENO);
        return true;
    }
    int fds[2];
    if (pipe(fds) != 0) return false;
    relay *r = malloc(sizeof *r);
    if (!r) {
        close(fds[0]);
        close(fds[1]);
        return false;
    }
    r->fd = fds[1];
    memcpy(r->head, magic, n);
    r->head_length = n;
    pthread_t thread;
    if (pthread_create(&thread, NULL, relay_run, r) != 0) {
        free(r);
        close(fds[0]);
        close(fds[1]);
        return false;
    }
    pthread_detach(thread);
    snprintf(path, path_size, "/dev/fd/%d", fds[0]);
    *pipe_fd = fds[0];
    return true;
}

static void dump_input(dump *d, const char *name) {
    d->file = strcmp(name, "-") == 0 ? "<stdin>" : name;
    uint8_t magic[4];
    size_t magic_length = 0;
    char path[64];
    const char *open_path = name;
    int pipe_fd = -1;
    if (strcmp(name, "-") == 0) {
        if (!stdin_prepare(magic, &magic_length, path, sizeof path, &pipe_fd)) {
            fprintf(stderr, "ipfix dump: <stdin>: %s\n", strerror(errno));
            d->failed = true;
            return;
        }
        open_path = path;
    } else {
        FILE *f = fopen(name, "rb");
        if (!f) {
            fprintf(stderr, "ipfix dump: %s: %s\n", name, strerror(errno));
            d->failed = true;
            return;
        }
        magic_length = fread(magic, 1, sizeof magic, f);
        fclose(f);
    }
    if (kind_of_magic(magic, magic_length) == INPUT_PCAP) dump_capture(d, open_path);
    else dump_ipfix_file(d, open_path);
    if (pipe_fd >= 0) close(pipe_fd); /* the relay thread sees EPIPE if still running */
}

/* ------------------------------------------------------------- command */

static void usage(FILE *out) {
    fprintf(out,
            "usage: ipfix dump [options] FILE...\n"
            "\n"
            "Decode IPFIX files (RFC 5655) and pcap/pcapng captures of IPFIX over UDP or\n"
            "TCP and print templates and data records, one per line. FILE '-' reads\n"
            "standard input. The input type is detected from its first bytes.\n"
            "\n"
            "options:\n"
            "  --json            JSON Lines instead of text\n"
            "  --count           decode everything, print only counters\n"
            "  --templates       print templates and withdrawals (default)\n"
            "  --no-templates    do not print templates and withdrawals\n"
            "  --numeric         text: registry values and TCP flags as numbers\n"
            "  --port N          captures: IPFIX port (repeatable; default 4739)\n"
            "  --elements FILE   load enterprise elements from a CSV in the IANA\n"
            "                    registry's shape with a PEN column (repeatable)\n"
            "  -h, --help        this help\n"
            "\n"
            "Text lines start with record, options (options record), template,\n"
            "options-template or withdrawal. JSON: {\"record\":{ELEMENT:VALUE,...},\n"
            "\"odid\":N,\"templateId\":N} ({\"options\":...} for options records;\n"
            "\"exporter\" for captures), {\"template\":{...}}, {\"withdrawal\":{...}}.\n"
            "Errors go to standard error as\n"
            "'FILE: offset N: RULE (DETAIL)' (captures: 'FILE: packet P (FLOW): offset N');\n"
            "decoding continues after them. --count prints: messages, templates,\n"
            "options_templates, withdrawals, data_records (without options records),\n"
            "options_records, missing_template_sets, lost_records, errors.\n"
            "\n"
            "examples:\n"
            "  ipfix dump flows.ipfix\n"
            "  ipfix dump --json --no-templates flows.ipfix | jq .record.sourceIPv4Address\n"
            "  ipfix dump --port 4739 --port 9995 capture.pcapng\n"
            "  ipfix generate --records 1000000 - | ipfix dump --count -\n"
            "\n"
            "exit status: 0 ok, 1 a file could not be read, 2 usage error,\n"
            "3 the input had errors (reported on standard error).\n");
}

static bool parse_port(const char *s, uint16_t *port) {
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || v == 0 || v > 65535) return false;
    *port = (uint16_t)v;
    return true;
}

static void print_counts(const dump_counts *c) {
    printf("messages: %llu\n", (unsigned long long)c->messages);
    printf("templates: %llu\n", (unsigned long long)c->templates);
    printf("options_templates: %llu\n", (unsigned long long)c->options_templates);
    printf("withdrawals: %llu\n", (unsigned long long)c->withdrawals);
    printf("data_records: %llu\n", (unsigned long long)c->data_records);
    printf("options_records: %llu\n", (unsigned long long)c->options_records);
    printf("missing_template_sets: %llu\n", (unsigned long long)c->missing_template_sets);
    printf("lost_records: %llu\n", (unsigned long long)c->lost_records);
    printf("errors: %llu\n", (unsigned long long)c->errors);
}

int ipfix_cmd_dump(int argc, char **argv) {
    dump d;
    memset(&d, 0, sizeof d);
    d.templates = true;
    ipfix_capture_config_default(&d.capture_config);
    d.capture_config.port_count = 0;
    const char **files = calloc((size_t)argc + 1, sizeof *files);
    const char **element_files = calloc((size_t)argc + 1, sizeof *element_files);
    if (!files || !element_files) {
        free(files);
        free(element_files);
        return IPFIX_EXIT_FAILURE;
    }
    size_t element_file_count = 0;
    size_t file_count = 0;
    bool options_done = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (options_done || a[0] != '-' || strcmp(a, "-") == 0) {
            files[file_count++] = a;
        } else if (strcmp(a, "--") == 0) {
            options_done = true;
        } else if (strcmp(a, "--json") == 0) {
            d.json = true;
        } else if (strcmp(a, "--count") == 0) {
            d.count = true;
        } else if (strcmp(a, "--templates") == 0) {
            d.templates = true;
        } else if (strcmp(a, "--no-templates") == 0) {
            d.templates = false;
        } else if (strcmp(a, "--numeric") == 0) {
            d.numeric = true;
        } else if (strcmp(a, "--elements") == 0 && i + 1 < argc) {
            element_files[element_file_count++] = argv[++i];
        } else if (strcmp(a, "--port") == 0 || strncmp(a, "--port=", 7) == 0) {
            const char *v = a[6] == '=' ? a + 7 : (i + 1 < argc ? argv[++i] : NULL);
            uint16_t port;
            if (!v || !parse_port(v, &port)) {
                fprintf(stderr, "ipfix dump: --port needs a port number 1..65535\n");
                free(files);
                free(element_files);
                return IPFIX_EXIT_USAGE;
            }
            if (d.capture_config.port_count == IPFIX_CAPTURE_MAX_PORTS) {
                fprintf(stderr, "ipfix dump: at most %d ports\n", IPFIX_CAPTURE_MAX_PORTS);
                free(files);
                free(element_files);
                return IPFIX_EXIT_USAGE;
            }
            d.capture_config.ports[d.capture_config.port_count++] = port;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            free(files);
            free(element_files);
            return IPFIX_EXIT_OK;
        } else {
            fprintf(stderr, "ipfix dump: unknown option '%s'\n", a);
            usage(stderr);
            free(files);
            free(element_files);
            return IPFIX_EXIT_USAGE;
        }
    }
    if (!file_count) {
        fprintf(stderr, "ipfix dump: no input file (use - for standard input)\n");
        usage(stderr);
        free(files);
        free(element_files);
        return IPFIX_EXIT_USAGE;
    }
    if (!d.capture_config.port_count) {
        d.capture_config.ports[0] = IPFIX_PORT_DEFAULT;
        d.capture_config.port_count = 1;
    }
    ipfix_render_options render_options = {d.json ? IPFIX_RENDER_JSON : IPFIX_RENDER_TEXT,
                                           d.numeric};
    d.model = ipfix_infomodel_new();
    d.renderer = ipfix_renderer_new(&render_options);
    bool ready = d.model && d.renderer;
    if (!ready) fprintf(stderr, "ipfix dump: out of memory\n");
    for (size_t i = 0; ready && i < element_file_count; i++)
        ready = ipfix_cli_load_elements(d.model, element_files[i], "ipfix dump");
    free(element_files);
    if (!ready) {
        ipfix_renderer_free(d.renderer);
        ipfix_infomodel_free(d.model);
        free(files);
        return IPFIX_EXIT_FAILURE;
    }
    /* Output is batched in d.out and written in large fwrite calls. */
    ipfix_buffer_reserve(&d.out, OUTPUT_FLUSH_AT + 65536);
    for (size_t i = 0; i < file_count; i++) {
        dump_input(&d, files[i]);
        decode_plans_free(&d); /* templates of this input are gone */
    }
    output_flush(&d);
    if (d.count) print_counts(&d.counts);
    if (fflush(stdout) != 0) d.failed = true;
    ipfix_buffer_free(&d.out);
    ipfix_renderer_free(d.renderer);
    ipfix_infomodel_free(d.model);
    free(files);
    if (d.failed) return IPFIX_EXIT_FAILURE;
    return d.partial ? IPFIX_EXIT_PARTIAL : IPFIX_EXIT_OK;
}
