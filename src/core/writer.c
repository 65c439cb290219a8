/*
 * writer.c — the message writer of an Exporting Process (see writer.h).
 *
 * One buffer of max_message_size bytes holds the message being built. Items
 * (template records, withdrawals, data records) are appended to the open Set
 * when they belong to it (same Set ID), otherwise the open Set is closed and
 * a new one started. When an item does not fit, the message is finished,
 * handed to the sink and a new message started, reopening the Set there: a
 * Set never spans two messages (RFC 7011 §3.3: a Set lives inside one
 * Message). Sequence numbers are kept per Observation Domain in a small
 * array that grows only when a new domain is first used.
 */
#include "ipfixkit/writer.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ipfixkit/reader.h"

#define WRITER_MIN_MESSAGE 64u
#define WRITER_MAX_MESSAGE 65535u

typedef struct writer_domain {
    uint32_t odid;
    uint32_t sequence; /* RFC 7011 §3.1: data records sent before the next message, mod 2^32 */
} writer_domain;

struct ipfix_writer {
    size_t max;                /* max_message_size */
    size_t capacity;           /* bytes of buf: the max at creation */
    ipfix_message_sink sink;
    void *sink_context;
    ipfix_clock clock;
    void *clock_context;

    uint8_t *buf;              /* the message being built */
    size_t len;                /* bytes used; 0 = no message started */
    size_t set_start;          /* offset of the open Set header; 0 = none open */
    uint16_t set_id;           /* Set ID of the open Set */
    uint32_t export_time;      /* taken at message start */
    uint32_t message_records;  /* data records in the current message */

    writer_domain *domains;
    size_t domain_count;
    size_t domain_capacity;
    size_t current;            /* index into domains of the current ODID */

    uint64_t messages;
    uint64_t records;

    size_t reserved_max;       /* > 0 between reserve and commit */
    ipfix_status last_status;  /* why the last reserve returned NULL */
};

static uint32_t writer_default_clock(void *context) {
    (void)context;
    return (uint32_t)time(NULL);
}

/* Index of the domain `odid`, created with sequence 0 on first use.
 * SIZE_MAX on allocation failure. */
static size_t writer_domain_index(ipfix_writer *w, uint32_t odid) {
    for (size_t i = 0; i < w->domain_count; i++)
        if (w->domains[i].odid == odid) return i;
    if (w->domain_count == w->domain_capacity) {
        size_t cap = w->domain_capacity ? w->domain_capacity * 2 : 4;
        writer_domain *d = realloc(w->domains, cap * sizeof *d);
        if (!d) return SIZE_MAX;
        w->domains = d;
        w->domain_capacity = cap;
    }
    w->domains[w->domain_count] = (writer_domain){.odid = odid, .sequence = 0};
    return w->domain_count++;
}

ipfix_writer *ipfix_writer_new(const ipfix_writer_config *config, ipfix_message_sink sink,
                               void *sink_context) {
    if (!sink) return NULL;
    size_t max = config && config->max_message_size ? config->max_message_size : WRITER_MAX_MESSAGE;
    if (max < WRITER_MIN_MESSAGE || max > WRITER_MAX_MESSAGE) return NULL;
    ipfix_writer *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->max = w->capacity = max;
    w->sink = sink;
    w->sink_context = sink_context;
    w->clock = config && config->clock ? config->clock : writer_default_clock;
    w->clock_context = config ? config->clock_context : NULL;
    w->buf = malloc(max);
    if (!w->buf || writer_domain_index(w, config ? config->observation_domain_id : 0) != 0) {
        ipfix_writer_free(w);
        return NULL;
    }
    return w;
}

void ipfix_writer_free(ipfix_writer *writer) {
    if (!writer) return;
    free(writer->buf);
    free(writer->domains);
    free(writer);
}

/* ---- message and set framing ---- */

static void writer_message_start(ipfix_writer *w) {
    w->len = IPFIX_MESSAGE_HEADER_SIZE;
    w->set_start = 0;
    w->message_records = 0;
    w->export_time = w->clock(w->clock_context);
}

/* Write the open Set's length; an empty Set (header only, left by an
 * abandoned reservation) is dropped. */
static void writer_set_close(ipfix_writer *w) {
    if (!w->set_start) return;
    size_t set_len = w->len - w->set_start;
    if (set_len == IPFIX_SET_HEADER_SIZE)
        w->len = w->set_start;
    else
        ipfix_put_u16(w->buf + w->set_start + 2, (uint16_t)set_len);
    w->set_start = 0;
}

static void writer_set_open(ipfix_writer *w, uint16_t set_id) {
    w->set_start = w->len;
    ipfix_put_u16(w->buf + w->len, set_id);
    ipfix_put_u16(w->buf + w->len + 2, 0);
    w->len += IPFIX_SET_HEADER_SIZE;
    w->set_id = set_id;
}

/* Finish the current message and hand it to the sink. The records it holds
 * count in the sequence even if the sink fails, so that a collector sees
 * the loss as a sequence gap. */
static ipfix_status writer_message_finish(ipfix_writer *w) {
    if (!w->len) return IPFIX_OK;
    writer_set_close(w);
    w->reserved_max = 0;
    if (w->len <= IPFIX_MESSAGE_HEADER_SIZE) {
        w->len = 0;
        return IPFIX_OK;
    }
    writer_domain *d = &w->domains[w->current];
    uint8_t *h = w->buf;
    ipfix_put_u16(h, IPFIX_VERSION);
    ipfix_put_u16(h + 2, (uint16_t)w->len);
    ipfix_put_u32(h + 4, w->export_time);
    /* RFC 7011 §3.1: sequence = data records sent in this domain before this
     * message; template-only messages carry the current value. */
    ipfix_put_u32(h + 8, d->sequence);
    ipfix_put_u32(h + 12, d->odid);
    ipfix_status st = w->sink(w->sink_context, w->buf, w->len);
    d->sequence += w->message_records; /* wraps mod 2^32 */
    w->records += w->message_records;
    w->messages++;
    w->message_records = 0;
    w->len = 0;
    return st;
}

/* Make room for an item of `size` bytes in a Set `set_id`, starting a new
 * message when it does not fit. On success the item goes at buf + len. */
static ipfix_status writer_room(ipfix_writer *w, uint16_t set_id, size_t size) {
    w->reserved_max = 0; /* any other item ends a pending reservation */
    if (IPFIX_MESSAGE_HEADER_SIZE + IPFIX_SET_HEADER_SIZE + size > w->max) return IPFIX_ERR_NO_SPACE;
    if (!w->len) writer_message_start(w);
    bool same_set = w->set_start && w->set_id == set_id;
    size_t need = size + (same_set ? 0 : IPFIX_SET_HEADER_SIZE);
    if (w->len + need > w->max) {
        ipfix_status st = writer_message_finish(w);
        writer_message_start(w);
        same_set = false;
        if (st != IPFIX_OK) {
            writer_set_open(w, set_id);
            return st;
        }
    }
    if (!same_set) {
        writer_set_close(w);
        writer_set_open(w, set_id);
    }
    return IPFIX_OK;
}

/* ---- public API ---- */

ipfix_status ipfix_writer_set_domain(ipfix_writer *writer, uint32_t odid) {
    if (!writer) return IPFIX_ERR_INVALID_ARG;
    if (writer->domains[writer->current].odid == odid) return IPFIX_OK;
    ipfix_status st = writer_message_finish(writer);
    size_t i = writer_domain_index(writer, odid);
    if (i == SIZE_MAX) return IPFIX_ERR_NOMEM;
    writer->current = i;
    return st;
}

ipfix_status ipfix_writer_add_template(ipfix_writer *writer, const ipfix_template *tmpl) {
    if (!writer || !tmpl) return IPFIX_ERR_INVALID_ARG;
    size_t size = ipfix_template_record_size(tmpl);
    uint16_t set_id = ipfix_template_is_options(tmpl) ? IPFIX_SET_ID_OPTIONS_TEMPLATE
                                                      : IPFIX_SET_ID_TEMPLATE;
    ipfix_status st = writer_room(writer, set_id, size);
    if (st != IPFIX_OK) return st;
    size_t n = ipfix_template_record_encode(tmpl, writer->buf + writer->len, writer->max - writer->len);
    if (n != size) return IPFIX_ERR_NO_SPACE;
    writer->len += n;
    return IPFIX_OK;
}

ipfix_status ipfix_writer_withdraw(ipfix_writer *writer, uint16_t template_id, bool options) {
    if (!writer) return IPFIX_ERR_INVALID_ARG;
    /* RFC 7011 §8.1: a withdrawal is a template record with field count 0,
     * in Set 2 (templates) or Set 3 (options templates); ID 2 in Set 2 / ID 3
     * in Set 3 withdraws all (options) templates of the domain. */
    uint16_t set_id = options ? IPFIX_SET_ID_OPTIONS_TEMPLATE : IPFIX_SET_ID_TEMPLATE;
    if (template_id < IPFIX_TEMPLATE_ID_MIN && template_id != set_id) return IPFIX_ERR_INVALID_ARG;
    ipfix_status st = writer_room(writer, set_id, 4);
    if (st != IPFIX_OK) return st;
    ipfix_put_u16(writer->buf + writer->len, template_id);
    ipfix_put_u16(writer->buf + writer->len + 2, 0);
    writer->len += 4;
    return IPFIX_OK;
}

uint8_t *ipfix_writer_reserve_record(ipfix_writer *writer, const ipfix_template *tmpl,
                                     size_t max_length) {
    if (!writer) return NULL;
    if (!tmpl || max_length == 0 || tmpl->id < IPFIX_SET_ID_DATA_MIN) {
        writer->last_status = IPFIX_ERR_INVALID_ARG;
        return NULL;
    }
    /* Fast path: same data set and room left. */
    if (writer->set_start && writer->set_id == tmpl->id && writer->len + max_length <= writer->max) {
        writer->reserved_max = max_length;
        return writer->buf + writer->len;
    }
    ipfix_status st = writer_room(writer, tmpl->id, max_length);
    if (st != IPFIX_OK) {
        writer->last_status = st;
        return NULL;
    }
    writer->reserved_max = max_length;
    return writer->buf + writer->len;
}

ipfix_status ipfix_writer_commit_record(ipfix_writer *writer, size_t length) {
    if (!writer || !writer->reserved_max || length == 0 || length > writer->reserved_max)
        return IPFIX_ERR_INVALID_ARG;
    writer->len += length;
    writer->message_records++;
    writer->reserved_max = 0;
    return IPFIX_OK;
}

ipfix_status ipfix_writer_add_record(ipfix_writer *writer, const ipfix_template *tmpl,
                                     const uint8_t *record, size_t length) {
    if (!writer || !tmpl || !record || length == 0) return IPFIX_ERR_INVALID_ARG;
    uint8_t *p = ipfix_writer_reserve_record(writer, tmpl, length);
    if (!p) return writer->last_status;
    memcpy(p, record, length);
    return ipfix_writer_commit_record(writer, length);
}

ipfix_status ipfix_writer_flush(ipfix_writer *writer) {
    if (!writer) return IPFIX_ERR_INVALID_ARG;
    return writer_message_finish(writer);
}

uint32_t ipfix_writer_next_sequence(const ipfix_writer *writer, uint32_t odid) {
    if (!writer) return 0;
    for (size_t i = 0; i < writer->domain_count; i++)
        if (writer->domains[i].odid == odid) return writer->domains[i].sequence;
    return 0;
}

ipfix_status ipfix_writer_set_sequence(ipfix_writer *writer, uint32_t odid, uint32_t sequence) {
    if (!writer) return IPFIX_ERR_INVALID_ARG;
    if (writer->len > IPFIX_MESSAGE_HEADER_SIZE && writer->domains[writer->current].odid == odid) {
        ipfix_status st = writer_message_finish(writer);
        if (st != IPFIX_OK) return st;
    }
    size_t i = writer_domain_index(writer, odid);
    if (i == SIZE_MAX) return IPFIX_ERR_NOMEM;
    writer->domains[i].sequence = sequence;
    return IPFIX_OK;
}

uint32_t ipfix_writer_domain(const ipfix_writer *writer) {
    return writer ? writer->domains[writer->current].odid : 0;
}

ipfix_status ipfix_writer_last_status(const ipfix_writer *writer) {
    return writer ? writer->last_status : IPFIX_ERR_INVALID_ARG;
}

uint32_t ipfix_writer_message_records(const ipfix_writer *writer) {
    return writer ? writer->message_records : 0;
}

size_t ipfix_writer_max_message_size(const ipfix_writer *writer) {
    return writer ? writer->max : 0;
}

ipfix_status ipfix_writer_set_max_message_size(ipfix_writer *writer, size_t size) {
    if (size < WRITER_MIN_MESSAGE || size > writer->capacity) return IPFIX_ERR_INVALID_ARG;
    ipfix_status st = writer->len > size ? ipfix_writer_flush(writer) : IPFIX_OK;
    writer->max = size;
    return st;
}

uint64_t ipfix_writer_messages(const ipfix_writer *writer) {
    return writer ? writer->messages : 0;
}

uint64_t ipfix_writer_records(const ipfix_writer *writer) {
    return writer ? writer->records : 0;
}

/* ---- record encoding from values ---- */

ipfix_status ipfix_record_encode(const ipfix_template *tmpl, const ipfix_value *values,
                                 uint8_t *out, size_t out_size, size_t *length) {
    if (!tmpl || !values || !out || !length) return IPFIX_ERR_INVALID_ARG;
    size_t pos = 0;
    for (uint16_t i = 0; i < tmpl->field_count; i++) {
        uint16_t flen = tmpl->fields[i].spec.length;
        const ipfix_value *v = &values[i];
        size_t n = flen;
        if (flen == IPFIX_VARLEN) {
            /* RFC 7011 §7: variable-length fields carry a 1- or 3-byte prefix. */
            n = v->v.bytes.length;
            size_t prefix = ipfix_varlen_encode(out + pos, out_size - pos, n);
            if (!prefix) return n > 65535 ? IPFIX_ERR_RANGE : IPFIX_ERR_NO_SPACE;
            pos += prefix;
        }
        if (n > out_size - pos) return IPFIX_ERR_NO_SPACE;
        ipfix_status st = ipfix_value_encode(v, out + pos, n);
        if (st != IPFIX_OK) return st;
        pos += n;
    }
    if (pos > 65535 - IPFIX_MESSAGE_HEADER_SIZE - IPFIX_SET_HEADER_SIZE) return IPFIX_ERR_RANGE;
    *length = pos;
    return IPFIX_OK;
}
