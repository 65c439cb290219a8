/*
 * file_writer.c — the IPFIX File Writer of RFC 5655 (see file.h).
 *
 * Layers, from the API down:
 *   template table  — which template each (domain, ID) has in the file, so a
 *                     template is written before its first record (§7.2);
 *   ipfix_writer    — packs sets into messages of at most 65535 bytes and
 *                     hands each finished message to file_store_message();
 *   store path      — adds the Message Details record (§8.1.4) when asked,
 *                     keeps sequence numbers consistent, tracks export times;
 *   output          — a 1 MiB buffer written to the temporary file, which
 *                     close() fsyncs and renames to the final name.
 * Raw messages (ipfix_file_writer_write_message) enter at the store path and
 * are decoded by an ipfix_session of transport FILE so that the metadata
 * written at close continues each domain's sequence and the time window
 * covers their flows.
 */
#include "ipfixkit/file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ipfixkit/reader.h"
#include "ipfixkit/session.h"
#include "ipfixkit/value.h"

#define OUT_BUFFER_SIZE (1u << 20)
#define IE_COLLECTION_TIME_MS 258u
#define IE_MESSAGE_SCOPE 263u
#define IE_SESSION_SCOPE 267u
#define IE_MIN_FLOW_START_MS 272u
#define IE_MAX_FLOW_END_MS 269u
#define IE_EXPORTER_IPV4 130u
#define IE_EXPORTER_IPV6 131u
#define IE_EXPORTER_PORT 217u
#define IE_COLLECTOR_IPV4 211u
#define IE_COLLECTOR_IPV6 212u
#define IE_COLLECTOR_PORT 216u
/* RFC 5655 §8.1.3 calls it collectorTransportProtocol; the IANA registry
 * element with that meaning is exportTransportProtocol (215). */
#define IE_TRANSPORT_PROTOCOL 215u
#define IE_MIN_EXPORT_SECONDS 264u
#define IE_MAX_EXPORT_SECONDS 260u

/* Message Details: Options Template Set (4 + 14) and Data Set (4 + 1 + 8). */
#define MD_TEMPLATE_SET_SIZE 18u
#define MD_DATA_SET_SIZE 13u
#define MD_EXTENSION_MAX (MD_TEMPLATE_SET_SIZE + MD_DATA_SET_SIZE)

/* Precision of a flow time field. */
enum { TIME_NONE = 0, TIME_S, TIME_MS, TIME_US, TIME_NS };

/* Where a template keeps its flow start/end times. */
typedef struct time_fields {
    uint8_t start_kind, end_kind;
    int start_index, end_index;       /* field index, -1 when absent */
    uint16_t start_offset, end_offset; /* IPFIX_OFFSET_VARIABLE: locate per record */
} time_fields;

/* One (domain, template ID) of the file. tmpl NULL: withdrawn / never. */
typedef struct template_slot {
    bool used;
    uint32_t odid;
    uint16_t id;
    ipfix_template *tmpl; /* a reference we hold */
    time_fields times;
} template_slot;

/* Store-path state of one Observation Domain. */
typedef struct domain_state {
    uint32_t odid;
    uint32_t delta;         /* added to sequence numbers: records we inserted */
    bool md_written;        /* Message Details template is in the file */
    bool raw;               /* raw messages were stored in this domain */
} domain_state;

struct ipfix_file_writer {
    ipfix_file_writer_options opt;
    char *path;             /* final name */
    char *temp_path;        /* "<path>.tmp-XXXXXX", or "-" */
    int fd;
    bool is_stdout;

    uint8_t *out;           /* output buffer */
    size_t out_len;

    ipfix_writer *writer;
    uint32_t odid;          /* current domain of the API */
    uint32_t pinned_export_time; /* non-zero: the clock returns this */

    template_slot *slots;   /* open addressing, power-of-two capacity */
    size_t slot_count, slot_capacity;
    const ipfix_template *cache_tmpl; /* the last template a record used ... */
    template_slot *cache_slot;        /* ... and its slot */
    uint8_t *reserved;                /* record reserved, awaiting commit */
    ipfix_field_view *views;          /* scratch for variable-length templates */
    size_t views_capacity;

    domain_state *domains;
    size_t domain_count, domain_capacity;

    uint8_t *scratch;       /* a message being extended */

    bool have_times;
    uint64_t min_start_ms, max_end_ms;
    bool have_export_times;
    uint32_t min_export, max_export;
    uint64_t collection_ms;

    ipfix_session *session; /* decodes raw messages */
    const ipfix_template *raw_cache_tmpl;
    time_fields raw_cache_times;

    ipfix_file_writer_stats stats;
    ipfix_error last_error;
};

/* ------------------------------------------------------------------ output */

static ipfix_status io_error(ipfix_file_writer *w, ipfix_error *err, const char *what) {
    int e = errno;
    ipfix_error_set(&w->last_error, IPFIX_ERR_IO, w->stats.bytes, "I/O error", "%s %s: %s", what,
                    w->temp_path, strerror(e));
    if (err) *err = w->last_error;
    return IPFIX_ERR_IO;
}

static ipfix_status write_all(ipfix_file_writer *w, const uint8_t *p, size_t n) {
    while (n) {
        ssize_t k = write(w->fd, p, n);
        if (k < 0) {
            if (errno == EINTR) continue;
            return io_error(w, NULL, "write");
        }
        p += k;
        n -= (size_t)k;
    }
    return IPFIX_OK;
}

static ipfix_status out_flush(ipfix_file_writer *w) {
    ipfix_status st = write_all(w, w->out, w->out_len);
    w->out_len = 0;
    return st;
}

static ipfix_status out_write(ipfix_file_writer *w, const uint8_t *p, size_t n) {
    if (w->out_len + n > OUT_BUFFER_SIZE) {
        ipfix_status st = out_flush(w);
        if (st != IPFIX_OK) return st;
    }
    memcpy(w->out + w->out_len, p, n);
    w->out_len += n;
    w->stats.messages++;
    w->stats.bytes += n;
    return IPFIX_OK;
}

/* ------------------------------------------------------------- store path */

static domain_state *domain_get(ipfix_file_writer *w, uint32_t odid) {
    for (size_t i = 0; i < w->domain_count; i++)
        if (w->domains[i].odid == odid) return &w->domains[i];
    if (w->domain_count == w->domain_capacity) {
        size_t cap = w->domain_capacity ? w->domain_capacity * 2 : 4;
        domain_state *d = realloc(w->domains, cap * sizeof *d);
        if (!d) return NULL;
        w->domains = d;
        w->domain_capacity = cap;
    }
    w->domains[w->domain_count] = (domain_state){.odid = odid};
    return &w->domains[w->domain_count++];
}

static uint64_t wall_clock_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint16_t md_template_id(const ipfix_file_writer *w) {
    return w->opt.message_details_template_id;
}

/* Append the Message Details sets (RFC 5655 §8.1.4: messageScope scope +
 * collectionTimeMilliseconds) at `p`; returns the bytes written. */
static size_t md_encode(ipfix_file_writer *w, uint8_t *p, bool with_template) {
    size_t n = 0;
    if (with_template) {
        ipfix_put_u16(p, IPFIX_SET_ID_OPTIONS_TEMPLATE);
        ipfix_put_u16(p + 2, MD_TEMPLATE_SET_SIZE);
        ipfix_put_u16(p + 4, md_template_id(w));
        ipfix_put_u16(p + 6, 2); /* field count */
        ipfix_put_u16(p + 8, 1); /* scope field count */
        ipfix_put_u16(p + 10, IE_MESSAGE_SCOPE);
        ipfix_put_u16(p + 12, 1);
        ipfix_put_u16(p + 14, IE_COLLECTION_TIME_MS);
        ipfix_put_u16(p + 16, 8);
        n = MD_TEMPLATE_SET_SIZE;
    }
    ipfix_put_u16(p + n, md_template_id(w));
    ipfix_put_u16(p + n + 2, MD_DATA_SET_SIZE);
    p[n + 4] = 0; /* RFC 5655 §8.2.11: messageScope MUST be written as 0 */
    ipfix_put_u64(p + n + 5, w->collection_ms ? w->collection_ms : wall_clock_ms());
    return n + MD_DATA_SET_SIZE;
}

/* Does the message hold an Options Template Set? (It may withdraw or
 * redefine our Message Details template: we then send ours again.) */
static bool has_options_template_set(const uint8_t *msg, size_t len) {
    size_t pos = IPFIX_MESSAGE_HEADER_SIZE;
    while (pos + IPFIX_SET_HEADER_SIZE <= len) {
        uint16_t id = ipfix_get_u16(msg + pos), slen = ipfix_get_u16(msg + pos + 2);
        if (id == IPFIX_SET_ID_OPTIONS_TEMPLATE) return true;
        if (slen < IPFIX_SET_HEADER_SIZE) break;
        pos += slen;
    }
    return false;
}

static void note_export_time(ipfix_file_writer *w, uint32_t t) {
    if (!w->have_export_times) {
        w->min_export = w->max_export = t;
        w->have_export_times = true;
        return;
    }
    if (t < w->min_export) w->min_export = t;
    if (t > w->max_export) w->max_export = t;
}

static void note_times(ipfix_file_writer *w, uint64_t start_ms, uint64_t end_ms) {
    if (!w->have_times) {
        w->min_start_ms = start_ms;
        w->max_end_ms = end_ms;
        w->have_times = true;
        return;
    }
    if (start_ms < w->min_start_ms) w->min_start_ms = start_ms;
    if (end_ms > w->max_end_ms) w->max_end_ms = end_ms;
}

static ipfix_status account_raw(ipfix_file_writer *w, const uint8_t *msg, size_t len);

/* Write a message to the file, adding the Message Details record and
 * adjusting the sequence number when needed. `raw`: from write_message. */
static ipfix_status file_store_message(ipfix_file_writer *w, const uint8_t *msg, size_t len,
                                       bool raw) {
    uint32_t odid = ipfix_get_u32(msg + 12);
    note_export_time(w, ipfix_get_u32(msg + 4));
    domain_state *d = domain_get(w, odid);
    if (!d) return ipfix_error_set(&w->last_error, IPFIX_ERR_NOMEM, 0, "out of memory", NULL);
    if (raw) d->raw = true;
    if (!w->opt.message_details && d->delta == 0) {
        ipfix_status st = out_write(w, msg, len);
        if (st == IPFIX_OK && raw) st = account_raw(w, msg, len);
        return st;
    }
    uint32_t sequence = ipfix_get_u32(msg + 8);
    bool with_template = !d->md_written || has_options_template_set(msg, len);
    uint8_t *s = w->scratch;
    if (w->opt.message_details && len + MD_EXTENSION_MAX > IPFIX_FILE_MAX_MESSAGE) {
        /* Too large to extend (only raw messages can be): the record goes in
         * a message of its own just before, with the same export time. */
        memcpy(s, msg, IPFIX_MESSAGE_HEADER_SIZE);
        ipfix_put_u32(s + 8, sequence + d->delta);
        size_t n = IPFIX_MESSAGE_HEADER_SIZE + md_encode(w, s + IPFIX_MESSAGE_HEADER_SIZE, true);
        ipfix_put_u16(s + 2, (uint16_t)n);
        d->md_written = true;
        d->delta++;
        ipfix_status st = out_write(w, s, n);
        if (st == IPFIX_OK && raw) st = account_raw(w, s, n);
        if (st != IPFIX_OK) return st;
        memcpy(s, msg, len);
        ipfix_put_u32(s + 8, sequence + d->delta);
        st = out_write(w, s, len);
        if (st == IPFIX_OK && raw) st = account_raw(w, s, len);
        return st;
    }
    memcpy(s, msg, len);
    /* RFC 7011 §3.1: the sequence counts every data record sent before, so
     * the Message Details records we inserted earlier raise it. */
    ipfix_put_u32(s + 8, sequence + d->delta);
    size_t n = len;
    if (w->opt.message_details) {
        n += md_encode(w, s + len, with_template);
        ipfix_put_u16(s + 2, (uint16_t)n);
        d->md_written = true;
        d->delta++;
    }
    ipfix_status st = out_write(w, s, n);
    if (st == IPFIX_OK && raw) st = account_raw(w, s, n);
    return st;
}

static ipfix_status writer_sink(void *context, const uint8_t *message, size_t length) {
    return file_store_message(context, message, length, false);
}

static uint32_t writer_clock(void *context) {
    ipfix_file_writer *w = context;
    if (w->pinned_export_time) return w->pinned_export_time;
    return w->opt.clock ? w->opt.clock(w->opt.clock_context) : (uint32_t)time(NULL);
}

/* ------------------------------------------------------------- flow times */

static int time_kind(uint16_t id, bool start) {
    switch (id) {
    case IPFIX_IE_FLOW_START_SECONDS: return start ? TIME_S : TIME_NONE;
    case IPFIX_IE_FLOW_START_MILLISECONDS: return start ? TIME_MS : TIME_NONE;
    case IPFIX_IE_FLOW_START_MICROSECONDS: return start ? TIME_US : TIME_NONE;
    case IPFIX_IE_FLOW_START_NANOSECONDS: return start ? TIME_NS : TIME_NONE;
    case IPFIX_IE_FLOW_END_SECONDS: return start ? TIME_NONE : TIME_S;
    case IPFIX_IE_FLOW_END_MILLISECONDS: return start ? TIME_NONE : TIME_MS;
    case IPFIX_IE_FLOW_END_MICROSECONDS: return start ? TIME_NONE : TIME_US;
    case IPFIX_IE_FLOW_END_NANOSECONDS: return start ? TIME_NONE : TIME_NS;
    default: return TIME_NONE;
    }
}

/* The first flowStart* and flowEnd* fields of a (non-options) template with
 * their full encoded length (dateTime types are never reduced, RFC 7011 §6.2). */
static time_fields time_fields_find(const ipfix_template *t) {
    time_fields tf = {.start_index = -1, .end_index = -1};
    if (ipfix_template_is_options(t)) return tf;
    for (uint16_t i = 0; i < t->field_count; i++) {
        const ipfix_template_field *f = &t->fields[i];
        if (f->spec.pen != 0) continue;
        for (int start = 1; start >= 0; start--) {
            int kind = time_kind(f->spec.id, start);
            if (kind == TIME_NONE || f->spec.length != (kind == TIME_S ? 4 : 8)) continue;
            if (start && tf.start_index < 0) {
                tf.start_index = i;
                tf.start_kind = (uint8_t)kind;
                tf.start_offset = f->offset;
            } else if (!start && tf.end_index < 0) {
                tf.end_index = i;
                tf.end_kind = (uint8_t)kind;
                tf.end_offset = f->offset;
            }
        }
    }
    if (tf.start_index < 0 || tf.end_index < 0) tf.start_kind = tf.end_kind = TIME_NONE;
    return tf;
}

/* A time field in milliseconds, rounded down for starts and up for ends so
 * that the window contains the flow (RFC 5655 §8.1.2 "MUST NOT write any
 * Flow with a start time before the beginning of the window"). */
static uint64_t time_to_ms(const uint8_t *p, int kind, bool round_up) {
    switch (kind) {
    case TIME_S: return (uint64_t)ipfix_get_u32(p) * 1000u;
    case TIME_MS: return ipfix_get_u64(p);
    default: {
        ipfix_timestamp ts = ipfix_timestamp_from_ntp(ipfix_get_u64(p));
        uint64_t ms = (uint64_t)(ts.seconds < 0 ? 0 : ts.seconds) * 1000u + ts.nanoseconds / 1000000u;
        if (round_up && ts.nanoseconds % 1000000u) ms++;
        return ms;
    }
    }
}

static bool views_reserve(ipfix_file_writer *w, size_t count) {
    if (count <= w->views_capacity) return true;
    ipfix_field_view *v = realloc(w->views, count * sizeof *v);
    if (!v) return false;
    w->views = v;
    w->views_capacity = count;
    return true;
}

/* Widen the window by one record of `t`. */
static void note_record_times(ipfix_file_writer *w, const ipfix_template *t, const time_fields *tf,
                              const uint8_t *data, size_t length) {
    const uint8_t *ps, *pe;
    if (tf->start_offset != IPFIX_OFFSET_VARIABLE && tf->end_offset != IPFIX_OFFSET_VARIABLE) {
        if ((size_t)tf->start_offset + (tf->start_kind == TIME_S ? 4 : 8) > length ||
            (size_t)tf->end_offset + (tf->end_kind == TIME_S ? 4 : 8) > length)
            return;
        ps = data + tf->start_offset;
        pe = data + tf->end_offset;
    } else {
        if (!views_reserve(w, t->field_count)) return;
        ipfix_record rec = {.tmpl = t, .data = data, .length = length};
        if (ipfix_record_fields(&rec, w->views) != IPFIX_OK) return;
        ps = w->views[tf->start_index].data;
        pe = w->views[tf->end_index].data;
    }
    note_times(w, time_to_ms(ps, tf->start_kind, false), time_to_ms(pe, tf->end_kind, true));
}

/* --------------------------------------------------------- template table */

static size_t slot_hash(uint32_t odid, uint16_t id, size_t capacity) {
    uint64_t k = ((uint64_t)odid << 16 | id) * 0x9E3779B97F4A7C15ull;
    return (size_t)(k >> 32) & (capacity - 1);
}

static template_slot *slot_find(ipfix_file_writer *w, uint32_t odid, uint16_t id, bool create) {
    if (create && (w->slot_count + 1) * 4 > w->slot_capacity * 3) {
        size_t cap = w->slot_capacity ? w->slot_capacity * 2 : 64;
        template_slot *s = calloc(cap, sizeof *s);
        if (!s) return NULL;
        for (size_t i = 0; i < w->slot_capacity; i++) {
            if (!w->slots[i].used) continue;
            size_t j = slot_hash(w->slots[i].odid, w->slots[i].id, cap);
            while (s[j].used) j = (j + 1) & (cap - 1);
            s[j] = w->slots[i];
        }
        free(w->slots);
        w->slots = s;
        w->slot_capacity = cap;
        w->cache_tmpl = NULL;
        w->cache_slot = NULL;
    }
    if (!w->slot_capacity) return NULL;
    size_t j = slot_hash(odid, id, w->slot_capacity);
    while (w->slots[j].used) {
        if (w->slots[j].odid == odid && w->slots[j].id == id) return &w->slots[j];
        j = (j + 1) & (w->slot_capacity - 1);
    }
    if (!create) return NULL;
    w->slots[j] = (template_slot){.used = true, .odid = odid, .id = id};
    w->slot_count++;
    return &w->slots[j];
}

static void slot_set(template_slot *s, const ipfix_template *t) {
    /* The reference count is the only thing changed through the cast. */
    ipfix_template *ref = t ? ipfix_template_ref((ipfix_template *)t) : NULL;
    if (s->tmpl) ipfix_template_unref(s->tmpl);
    s->tmpl = ref;
    s->times = t ? time_fields_find(t) : (time_fields){.start_index = -1, .end_index = -1};
}

static bool reserved_id(const ipfix_file_writer *w, uint16_t id) {
    if (w->odid != w->opt.observation_domain_id) return false;
    return id == w->opt.time_window_template_id || id == w->opt.session_details_template_id ||
           id == w->opt.message_details_template_id;
}

static ipfix_status api_error(ipfix_file_writer *w, ipfix_status st, const char *rule,
                              const char *detail) {
    return ipfix_error_set(&w->last_error, st, w->stats.bytes, rule, "%s", detail ? detail : "");
}

/* Writer status -> last_error (sink failures already filled it). */
static ipfix_status writer_status(ipfix_file_writer *w, ipfix_status st) {
    if (st == IPFIX_OK || st == IPFIX_ERR_IO || st == IPFIX_ERR_NOMEM) return st;
    return api_error(w, st, "IPFIX message writer", ipfix_status_string(st));
}

/* Make `t` the template of its ID in the current domain, writing it (after a
 * withdrawal of a different one) unless the file already has it. */
static ipfix_status template_install(ipfix_file_writer *w, const ipfix_template *t,
                                     template_slot **out) {
    if (reserved_id(w, t->id))
        return api_error(w, IPFIX_ERR_INVALID_ARG, "RFC 5655 §8.1: template ID reserved for file metadata",
                         "choose another ID or other metadata IDs in the options");
    template_slot *s = slot_find(w, w->odid, t->id, true);
    if (!s) return api_error(w, IPFIX_ERR_NOMEM, "out of memory", NULL);
    if (s->tmpl && (s->tmpl == t || ipfix_template_equal(s->tmpl, t))) {
        if (s->tmpl != t) slot_set(s, t); /* hold the caller's pointer for the cache */
        *out = s;
        return IPFIX_OK;
    }
    ipfix_status st;
    if (s->tmpl) {
        /* RFC 5655 §7.2: withdraw before reusing a Template ID. */
        st = ipfix_writer_withdraw(w->writer, t->id, ipfix_template_is_options(s->tmpl));
        if (st != IPFIX_OK) return writer_status(w, st);
        w->stats.templates++;
    }
    st = ipfix_writer_add_template(w->writer, t);
    if (st != IPFIX_OK) return writer_status(w, st);
    w->stats.templates++;
    slot_set(s, t);
    *out = s;
    return IPFIX_OK;
}

/* The slot of `t` for a record, writing the template first if needed. */
static inline ipfix_status template_for_record(ipfix_file_writer *w, const ipfix_template *t) {
    if (t == w->cache_tmpl) return IPFIX_OK;
    if (t->id < IPFIX_SET_ID_DATA_MIN)
        return api_error(w, IPFIX_ERR_INVALID_ARG, "RFC 7011 §3.4.1: Template ID must be 256 or more", NULL);
    template_slot *s;
    ipfix_status st = template_install(w, t, &s);
    if (st != IPFIX_OK) return st;
    w->cache_tmpl = t;
    w->cache_slot = s;
    return IPFIX_OK;
}

/* ------------------------------------------------------------ open/close */

void ipfix_file_writer_options_init(ipfix_file_writer_options *o) {
    memset(o, 0, sizeof *o);
    o->time_window = true;
    o->sync = true;
}

static void writer_free(ipfix_file_writer *w) {
    if (!w) return;
    for (size_t i = 0; i < w->slot_capacity; i++)
        if (w->slots[i].tmpl) ipfix_template_unref(w->slots[i].tmpl);
    free(w->slots);
    free(w->views);
    free(w->domains);
    ipfix_writer_free(w->writer);
    ipfix_session_free(w->session);
    free(w->scratch);
    free(w->out);
    free(w->path);
    free(w->temp_path);
    free(w);
}

/* Create "<path>.tmp-XXXXXX" exclusively (O_EXCL), honouring the umask. */
static int create_temp(ipfix_file_writer *w, const char *path) {
    size_t n = strlen(path) + 16;
    w->temp_path = malloc(n);
    if (!w->temp_path) return -1;
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    for (int attempt = 0; attempt < 100; attempt++) {
        uint8_t rnd[6];
        if (getrandom(rnd, sizeof rnd, GRND_NONBLOCK) != (ssize_t)sizeof rnd) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 20) ^ (uint64_t)attempt * 7919u;
            for (size_t i = 0; i < sizeof rnd; i++) rnd[i] = (uint8_t)(x >> (i * 8));
        }
        char suffix[7];
        for (size_t i = 0; i < 6; i++) suffix[i] = alphabet[rnd[i] % (sizeof alphabet - 1)];
        suffix[6] = '\0';
        snprintf(w->temp_path, n, "%s.tmp-%s", path, suffix);
        int fd = open(w->temp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                      w->opt.file_mode ? (mode_t)w->opt.file_mode : 0644);
        if (fd >= 0 || errno != EEXIST) return fd;
    }
    errno = EEXIST;
    return -1;
}

ipfix_status ipfix_file_writer_open(const char *path, const ipfix_file_writer_options *options,
                                    ipfix_file_writer **out, ipfix_error *err) {
    if (!path || !*path || !out)
        return ipfix_error_set(err, IPFIX_ERR_INVALID_ARG, 0, "file writer", "no path");
    *out = NULL;
    ipfix_file_writer *w = calloc(1, sizeof *w);
    if (!w) return ipfix_error_set(err, IPFIX_ERR_NOMEM, 0, "out of memory", NULL);
    w->fd = -1;
    if (options)
        w->opt = *options;
    else
        ipfix_file_writer_options_init(&w->opt);
    if (!w->opt.time_window_template_id) w->opt.time_window_template_id = IPFIX_FILE_TEMPLATE_TIME_WINDOW;
    if (!w->opt.session_details_template_id)
        w->opt.session_details_template_id = IPFIX_FILE_TEMPLATE_SESSION_DETAILS;
    if (!w->opt.message_details_template_id)
        w->opt.message_details_template_id = IPFIX_FILE_TEMPLATE_MESSAGE_DETAILS;
    uint16_t a = w->opt.time_window_template_id, b = w->opt.session_details_template_id,
             c = w->opt.message_details_template_id;
    if (a < IPFIX_TEMPLATE_ID_MIN || b < IPFIX_TEMPLATE_ID_MIN || c < IPFIX_TEMPLATE_ID_MIN || a == b ||
        a == c || b == c) {
        writer_free(w);
        return ipfix_error_set(err, IPFIX_ERR_INVALID_ARG, 0, "RFC 7011 §3.4.1: Template ID must be 256 or more",
                               "metadata template IDs must be distinct and >= 256");
    }
    w->odid = w->opt.observation_domain_id;
    w->path = strdup(path);
    w->out = malloc(OUT_BUFFER_SIZE);
    w->scratch = malloc(2 * IPFIX_FILE_MAX_MESSAGE);
    ipfix_writer_config wc = {
        /* Leave room for the Message Details sets the store path appends. */
        .max_message_size = IPFIX_FILE_MAX_MESSAGE - (w->opt.message_details ? MD_EXTENSION_MAX : 0),
        .observation_domain_id = w->odid,
        .clock = writer_clock,
        .clock_context = w,
    };
    w->writer = ipfix_writer_new(&wc, writer_sink, w);
    if (!w->path || !w->out || !w->scratch || !w->writer) {
        writer_free(w);
        return ipfix_error_set(err, IPFIX_ERR_NOMEM, 0, "out of memory", NULL);
    }
    if (strcmp(path, "-") == 0) {
        w->is_stdout = true;
        w->fd = STDOUT_FILENO;
        w->temp_path = strdup("-");
        if (!w->temp_path) {
            writer_free(w);
            return ipfix_error_set(err, IPFIX_ERR_NOMEM, 0, "out of memory", NULL);
        }
    } else {
        w->fd = create_temp(w, path);
        if (w->fd < 0) {
            int e = errno;
            ipfix_error_set(err, IPFIX_ERR_IO, 0, "I/O error", "create %s: %s",
                            w->temp_path ? w->temp_path : path, strerror(e));
            writer_free(w);
            return IPFIX_ERR_IO;
        }
    }
    ipfix_error_clear(&w->last_error);
    *out = w;
    return IPFIX_OK;
}

static void remove_temp(ipfix_file_writer *w) {
    if (w->is_stdout) return;
    if (w->fd >= 0) close(w->fd);
    w->fd = -1;
    if (w->temp_path) unlink(w->temp_path);
}

void ipfix_file_writer_abort(ipfix_file_writer *w) {
    if (!w) return;
    remove_temp(w);
    writer_free(w);
}

/* ---- metadata written at close (RFC 5655 §8.1) ---- */

static ipfix_status meta_template(ipfix_file_writer *w, uint16_t id, const ipfix_field_spec *specs,
                                  uint16_t count, ipfix_template **out) {
    ipfix_error e;
    ipfix_status st = ipfix_template_new(w->opt.model, id, 1, specs, count, out, &e);
    if (st != IPFIX_OK) {
        w->last_error = e;
        return st;
    }
    st = ipfix_writer_add_template(w->writer, *out);
    return writer_status(w, st);
}

/* RFC 5655 §8.1.2 File Time Window: sessionScope, minFlowStartMilliseconds,
 * maxFlowEndMilliseconds. */
static ipfix_status meta_time_window(ipfix_file_writer *w, ipfix_template **t, uint8_t *rec,
                                     size_t *len) {
    static const ipfix_field_spec specs[] = {
        {0, IE_SESSION_SCOPE, 1}, {0, IE_MIN_FLOW_START_MS, 8}, {0, IE_MAX_FLOW_END_MS, 8}};
    ipfix_status st = meta_template(w, w->opt.time_window_template_id, specs, 3, t);
    if (st != IPFIX_OK) return st;
    rec[0] = 0; /* RFC 5655 §8.2.18: sessionScope MUST be written as 0 */
    ipfix_put_u64(rec + 1, w->min_start_ms);
    ipfix_put_u64(rec + 9, w->max_end_ms);
    *len = 17;
    return IPFIX_OK;
}

static size_t meta_address(ipfix_field_spec *specs, uint16_t *count, uint8_t *rec, size_t pos,
                           const ipfix_file_address *a, uint16_t ie4, uint16_t ie6) {
    if (a->version != 4 && a->version != 6) return pos;
    size_t n = a->version == 4 ? 4 : 16;
    specs[(*count)++] = (ipfix_field_spec){0, a->version == 4 ? ie4 : ie6, (uint16_t)n};
    memcpy(rec + pos, a->bytes, n);
    return pos + n;
}

/* RFC 5655 §8.1.3 Export Session Details: sessionScope + the endpoints'
 * addresses and ports + transport protocol + min/max export time. */
static ipfix_status meta_session_details(ipfix_file_writer *w, ipfix_template **t, uint8_t *rec,
                                         size_t *len) {
    const ipfix_file_session_details *sd = &w->opt.session_details;
    ipfix_field_spec specs[9];
    uint16_t count = 0;
    size_t pos = 0;
    specs[count++] = (ipfix_field_spec){0, IE_SESSION_SCOPE, 1};
    rec[pos++] = 0;
    pos = meta_address(specs, &count, rec, pos, &sd->exporter, IE_EXPORTER_IPV4, IE_EXPORTER_IPV6);
    if (sd->exporter_port) {
        specs[count++] = (ipfix_field_spec){0, IE_EXPORTER_PORT, 2};
        ipfix_put_u16(rec + pos, sd->exporter_port);
        pos += 2;
    }
    pos = meta_address(specs, &count, rec, pos, &sd->collector, IE_COLLECTOR_IPV4, IE_COLLECTOR_IPV6);
    if (sd->collector_port) {
        specs[count++] = (ipfix_field_spec){0, IE_COLLECTOR_PORT, 2};
        ipfix_put_u16(rec + pos, sd->collector_port);
        pos += 2;
    }
    if (sd->transport_protocol) {
        specs[count++] = (ipfix_field_spec){0, IE_TRANSPORT_PROTOCOL, 1};
        rec[pos++] = sd->transport_protocol;
    }
    specs[count++] = (ipfix_field_spec){0, IE_MIN_EXPORT_SECONDS, 4};
    ipfix_put_u32(rec + pos, w->min_export);
    specs[count++] = (ipfix_field_spec){0, IE_MAX_EXPORT_SECONDS, 4};
    ipfix_put_u32(rec + pos + 4, w->max_export);
    pos += 8;
    *len = pos;
    return meta_template(w, w->opt.session_details_template_id, specs, count, t);
}

/* Continue the metadata domain's sequence after raw messages stored there. */
static ipfix_status meta_sequence(ipfix_file_writer *w, uint32_t odid) {
    domain_state *d = domain_get(w, odid);
    if (!d || !d->raw || !w->session) return IPFIX_OK;
    ipfix_domain_stats *st = ipfix_session_domain(w->session, odid, false);
    if (!st || !st->sequence_known) return IPFIX_OK;
    return ipfix_writer_set_sequence(w->writer, odid, st->next_sequence - d->delta);
}

static ipfix_status write_metadata(ipfix_file_writer *w) {
    bool window = w->opt.time_window && w->have_times;
    bool details = w->opt.has_session_details;
    if (!window && !details) return IPFIX_OK;
    uint32_t odid = w->opt.observation_domain_id;
    ipfix_status st = ipfix_writer_set_domain(w->writer, odid);
    if (st == IPFIX_OK) st = ipfix_writer_flush(w->writer);
    if (st == IPFIX_OK) st = meta_sequence(w, odid);
    if (st != IPFIX_OK) return writer_status(w, st);
    uint32_t now = writer_clock(w);
    w->pinned_export_time = now ? now : 1;
    note_export_time(w, w->pinned_export_time);
    ipfix_template *tw = NULL, *sd = NULL;
    uint8_t tw_rec[17], sd_rec[64];
    size_t tw_len = 0, sd_len = 0;
    if (window) st = meta_time_window(w, &tw, tw_rec, &tw_len);
    if (st == IPFIX_OK && details) st = meta_session_details(w, &sd, sd_rec, &sd_len);
    if (st == IPFIX_OK && tw) st = writer_status(w, ipfix_writer_add_record(w->writer, tw, tw_rec, tw_len));
    if (st == IPFIX_OK && sd) st = writer_status(w, ipfix_writer_add_record(w->writer, sd, sd_rec, sd_len));
    if (st == IPFIX_OK) st = writer_status(w, ipfix_writer_flush(w->writer));
    if (tw) ipfix_template_unref(tw);
    if (sd) ipfix_template_unref(sd);
    return st;
}

/* fsync the directory holding `path` so the rename is durable. */
static void sync_directory(const char *path) {
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash) {
        snprintf(dir, sizeof dir, ".");
    } else {
        size_t n = (size_t)(slash - path);
        if (n == 0) n = 1;
        if (n >= sizeof dir) return;
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;
    fsync(fd);
    close(fd);
}

ipfix_status ipfix_file_writer_close(ipfix_file_writer *w, ipfix_error *err) {
    if (!w) return ipfix_error_set(err, IPFIX_ERR_INVALID_ARG, 0, "file writer", "NULL writer");
    ipfix_status st = writer_status(w, ipfix_writer_flush(w->writer));
    if (st == IPFIX_OK) st = write_metadata(w);
    if (st == IPFIX_OK) st = out_flush(w);
    if (st == IPFIX_OK && !w->is_stdout) {
        if (w->opt.sync && fsync(w->fd) != 0) st = io_error(w, NULL, "fsync");
        if (st == IPFIX_OK) {
            int fd = w->fd;
            w->fd = -1;
            if (close(fd) != 0) st = io_error(w, NULL, "close");
        }
        if (st == IPFIX_OK && rename(w->temp_path, w->path) != 0) st = io_error(w, NULL, "rename");
        if (st == IPFIX_OK && w->opt.sync) sync_directory(w->path);
    }
    if (st != IPFIX_OK) {
        if (err) *err = w->last_error;
        remove_temp(w);
    }
    writer_free(w);
    return st;
}

/* ---------------------------------------------------------- records, API */

ipfix_status ipfix_file_writer_set_domain(ipfix_file_writer *w, uint32_t odid) {
    if (!w) return IPFIX_ERR_INVALID_ARG;
    ipfix_status st = writer_status(w, ipfix_writer_set_domain(w->writer, odid));
    if (st != IPFIX_OK) return st;
    w->odid = odid;
    w->cache_tmpl = NULL;
    w->cache_slot = NULL;
    return IPFIX_OK;
}

ipfix_status ipfix_file_writer_add_template(ipfix_file_writer *w, const ipfix_template *tmpl) {
    if (!w || !tmpl) return IPFIX_ERR_INVALID_ARG;
    template_slot *s;
    ipfix_status st = template_install(w, tmpl, &s);
    w->cache_tmpl = NULL;
    w->cache_slot = NULL;
    return st;
}

ipfix_status ipfix_file_writer_withdraw(ipfix_file_writer *w, uint16_t template_id, bool options) {
    if (!w) return IPFIX_ERR_INVALID_ARG;
    ipfix_status st = writer_status(w, ipfix_writer_withdraw(w->writer, template_id, options));
    if (st != IPFIX_OK) return st;
    w->stats.templates++;
    w->cache_tmpl = NULL;
    w->cache_slot = NULL;
    bool all = template_id < IPFIX_TEMPLATE_ID_MIN;
    for (size_t i = 0; i < w->slot_capacity; i++) {
        template_slot *s = &w->slots[i];
        if (!s->used || !s->tmpl || s->odid != w->odid) continue;
        if (all ? ipfix_template_is_options(s->tmpl) == options : s->id == template_id) slot_set(s, NULL);
    }
    if (all && options) {
        /* Our Message Details template went too: send it again. */
        domain_state *d = domain_get(w, w->odid);
        if (d) d->md_written = false;
    }
    return IPFIX_OK;
}

static ipfix_status reserve_record(ipfix_file_writer *w, const ipfix_template *tmpl,
                                   size_t max_length, uint8_t **out) {
    ipfix_status st = template_for_record(w, tmpl);
    if (st != IPFIX_OK) return st;
    uint8_t *p = ipfix_writer_reserve_record(w->writer, tmpl, max_length);
    if (!p) {
        st = ipfix_writer_last_status(w->writer);
        if (st == IPFIX_ERR_NOMEM) return api_error(w, st, "out of memory", NULL);
        return writer_status(w, st);
    }
    w->reserved = p;
    *out = p;
    return IPFIX_OK;
}

uint8_t *ipfix_file_writer_reserve_record(ipfix_file_writer *w, const ipfix_template *tmpl,
                                          size_t max_length) {
    uint8_t *p = NULL;
    if (!w || !tmpl) return NULL;
    return reserve_record(w, tmpl, max_length, &p) == IPFIX_OK ? p : NULL;
}

ipfix_status ipfix_file_writer_commit_record(ipfix_file_writer *w, size_t length) {
    if (!w || !w->reserved) return IPFIX_ERR_INVALID_ARG;
    ipfix_status st = ipfix_writer_commit_record(w->writer, length);
    if (st != IPFIX_OK) return writer_status(w, st);
    const template_slot *s = w->cache_slot;
    if (s->times.start_kind != TIME_NONE && w->opt.time_window)
        note_record_times(w, s->tmpl, &s->times, w->reserved, length);
    w->reserved = NULL;
    w->stats.records++;
    return IPFIX_OK;
}

ipfix_status ipfix_file_writer_add_record(ipfix_file_writer *w, const ipfix_template *tmpl,
                                          const uint8_t *record, size_t length) {
    if (!w || !tmpl || !record || !length) return IPFIX_ERR_INVALID_ARG;
    uint8_t *p = NULL;
    ipfix_status st = reserve_record(w, tmpl, length, &p);
    if (st != IPFIX_OK) return st;
    memcpy(p, record, length);
    return ipfix_file_writer_commit_record(w, length);
}

void ipfix_file_writer_note_flow_time(ipfix_file_writer *w, uint64_t start_ms, uint64_t end_ms) {
    if (!w) return;
    note_times(w, start_ms, end_ms < start_ms ? start_ms : end_ms);
}

void ipfix_file_writer_set_collection_time(ipfix_file_writer *w, uint64_t ms) {
    if (w) w->collection_ms = ms;
}

/* ------------------------------------------------------------ raw messages */

/* Decode a stored raw message: templates and sequence state go into the
 * session; flow records widen the time window. */
static ipfix_status account_raw(ipfix_file_writer *w, const uint8_t *msg, size_t len) {
    if (!w->session) {
        ipfix_session_config cfg;
        ipfix_session_config_default(&cfg, IPFIX_TRANSPORT_FILE);
        w->session = ipfix_session_new(w->opt.model, &cfg);
        if (!w->session) return api_error(w, IPFIX_ERR_NOMEM, "out of memory", NULL);
    }
    ipfix_reader r;
    if (ipfix_reader_begin(&r, w->session, msg, len, 0, NULL) != IPFIX_OK) return IPFIX_OK;
    ipfix_event ev;
    while (ipfix_reader_next(&r, &ev) == IPFIX_OK) {
        if (ev.kind == IPFIX_EVENT_TEMPLATE || ev.kind == IPFIX_EVENT_WITHDRAWAL) {
            w->raw_cache_tmpl = NULL;
        } else if (ev.kind == IPFIX_EVENT_RECORD && w->opt.time_window) {
            const ipfix_template *t = ev.u.record.tmpl;
            if (t != w->raw_cache_tmpl) {
                w->raw_cache_times = time_fields_find(t);
                w->raw_cache_tmpl = t;
            }
            if (w->raw_cache_times.start_kind != TIME_NONE)
                note_record_times(w, t, &w->raw_cache_times, ev.u.record.data, ev.u.record.length);
        }
    }
    return IPFIX_OK;
}

ipfix_status ipfix_file_writer_write_message(ipfix_file_writer *w, const uint8_t *message,
                                             size_t length, ipfix_error *err) {
    if (!w || !message)
        return ipfix_error_set(err, IPFIX_ERR_INVALID_ARG, 0, "file writer", "NULL argument");
    ipfix_message_header h;
    ipfix_status st = ipfix_message_header_parse(message, length, &h, err);
    if (st != IPFIX_OK) return st;
    if (h.length != length)
        return ipfix_error_set(err, IPFIX_ERR_MALFORMED, 2, "RFC 7011 §3.1: message length field",
                               "length field %u, %zu bytes given", h.length, length);
    /* Keep the file in order: records added before go first. */
    st = writer_status(w, ipfix_writer_flush(w->writer));
    if (st == IPFIX_OK) st = file_store_message(w, message, length, true);
    if (st != IPFIX_OK) {
        if (err) *err = w->last_error;
        return st;
    }
    w->stats.raw_messages++;
    return IPFIX_OK;
}

ipfix_status ipfix_file_writer_flush(ipfix_file_writer *w, ipfix_error *err) {
    if (!w) return ipfix_error_set(err, IPFIX_ERR_INVALID_ARG, 0, "file writer", "NULL writer");
    ipfix_status st = writer_status(w, ipfix_writer_flush(w->writer));
    if (st == IPFIX_OK) st = out_flush(w);
    if (st != IPFIX_OK && err) *err = w->last_error;
    return st;
}

const ipfix_error *ipfix_file_writer_last_error(const ipfix_file_writer *w) {
    return w ? &w->last_error : NULL;
}

const char *ipfix_file_writer_temp_path(const ipfix_file_writer *w) {
    return w ? w->temp_path : NULL;
}

void ipfix_file_writer_get_stats(const ipfix_file_writer *w, ipfix_file_writer_stats *stats) {
    if (w && stats) *stats = w->stats;
}
