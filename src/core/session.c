/*
 * session.c — templates, sequence accounting and counters of one Transport
 * Session, per Observation Domain; see session.h for the rules applied.
 *
 * Templates of a domain live in a two-level table indexed by Template ID
 * (256 pages of 256 slots, pages allocated on first use): O(1) lookup with
 * memory proportional to the IDs actually used.
 *
 * Sequence state: over SCTP with max_streams > 1 a domain has an array of
 * max_streams stream slots (expected sequence, known flag, records lost on
 * that stream), allocated on the domain's first sequence update and freed
 * with the domain — one allocation per domain, none per message. Other
 * transports (and SCTP with max_streams <= 1, or if that allocation failed)
 * use the domain's own next_sequence/sequence_known and lost_records.
 */
#include "ipfixkit/session.h"

#include <stdlib.h>
#include <string.h>

#include "core/session_internal.h"

typedef struct template_slot {
    ipfix_template *tmpl;
    uint32_t last_seen;   /* receive time of the last definition/refresh (UDP lifetime) */
} template_slot;

/* Sequence space of one SCTP stream of a domain (RFC 7011 §3.1). */
typedef struct stream_slot {
    uint32_t next_sequence;
    bool sequence_known;
    uint64_t lost_records;   /* this stream's share of stats.lost_records */
} stream_slot;

typedef struct domain {
    ipfix_domain_stats stats;
    template_slot *pages[256];
    uint32_t template_count;
    stream_slot *streams;    /* SCTP: config.max_streams slots, or NULL */
    bool streams_failed;     /* allocation failed once: one sequence space */
} domain;

struct ipfix_session {
    const ipfix_infomodel *model;
    ipfix_session_config config;
    domain **domains;
    size_t domain_count, domain_capacity;
    domain *last_domain;     /* lookup cache: most messages hit the same ODID */
    uint32_t template_count; /* over all domains */
    ipfix_held_set *held_head, *held_tail;
    size_t held_bytes;
};

const char *ipfix_transport_name(ipfix_transport transport) {
    switch (transport) {
    case IPFIX_TRANSPORT_FILE: return "file";
    case IPFIX_TRANSPORT_UDP: return "udp";
    case IPFIX_TRANSPORT_TCP: return "tcp";
    case IPFIX_TRANSPORT_SCTP: return "sctp";
    }
    return "unknown";
}

void ipfix_session_config_default(ipfix_session_config *c, ipfix_transport transport) {
    memset(c, 0, sizeof *c);
    c->transport = transport;
    if (transport == IPFIX_TRANSPORT_UDP) {
        c->template_lifetime = 1800;      /* RFC 6728 default templateLifeTime */
        c->pending_bytes_max = 1u << 20;
    }
    c->max_templates = 16384;
    c->max_domains = 1024;
    c->max_streams = transport == IPFIX_TRANSPORT_SCTP ? 16 : 1;
}

ipfix_session *ipfix_session_new(const ipfix_infomodel *model, const ipfix_session_config *config) {
    ipfix_session *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->model = model;
    if (config)
        s->config = *config;
    else
        ipfix_session_config_default(&s->config, IPFIX_TRANSPORT_FILE);
    return s;
}

static void domain_free(domain *d) {
    for (int p = 0; p < 256; p++) {
        if (!d->pages[p]) continue;
        for (int i = 0; i < 256; i++) ipfix_template_unref(d->pages[p][i].tmpl);
        free(d->pages[p]);
    }
    free(d->streams);
    free(d);
}

void ipfix_session_free(ipfix_session *s) {
    if (!s) return;
    for (size_t i = 0; i < s->domain_count; i++) domain_free(s->domains[i]);
    free(s->domains);
    while (s->held_head) {
        ipfix_held_set *next = s->held_head->next;
        free(s->held_head);
        s->held_head = next;
    }
    free(s);
}

const ipfix_session_config *ipfix_session_get_config(const ipfix_session *s) { return &s->config; }
const ipfix_infomodel *ipfix_session_model(const ipfix_session *s) { return s->model; }

static domain *find_domain(const ipfix_session *s, uint32_t odid) {
    if (s->last_domain && s->last_domain->stats.odid == odid) return s->last_domain;
    for (size_t i = 0; i < s->domain_count; i++)
        if (s->domains[i]->stats.odid == odid) return s->domains[i];
    return NULL;
}

static domain *get_domain(ipfix_session *s, uint32_t odid, bool create) {
    domain *d = find_domain(s, odid);
    if (d || !create) {
        if (d) s->last_domain = d;
        return d;
    }
    if (s->config.max_domains && s->domain_count >= s->config.max_domains) return NULL;
    if (s->domain_count == s->domain_capacity) {
        size_t capacity = s->domain_capacity ? s->domain_capacity * 2 : 4;
        domain **domains = realloc(s->domains, capacity * sizeof *domains);
        if (!domains) return NULL;
        s->domains = domains;
        s->domain_capacity = capacity;
    }
    d = calloc(1, sizeof *d);
    if (!d) return NULL;
    d->stats.odid = odid;
    s->domains[s->domain_count++] = d;
    s->last_domain = d;
    return d;
}

ipfix_domain_stats *ipfix_session_domain(ipfix_session *s, uint32_t odid, bool create) {
    domain *d = get_domain(s, odid, create);
    return d ? &d->stats : NULL;
}

size_t ipfix_session_domain_count(const ipfix_session *s) { return s->domain_count; }

const ipfix_domain_stats *ipfix_session_domain_stats(const ipfix_session *s, size_t index) {
    return index < s->domain_count ? &s->domains[index]->stats : NULL;
}

void ipfix_session_total_stats(const ipfix_session *s, ipfix_domain_stats *t) {
    memset(t, 0, sizeof *t);
    for (size_t i = 0; i < s->domain_count; i++) {
        const ipfix_domain_stats *d = &s->domains[i]->stats;
        t->messages += d->messages;
        t->bytes += d->bytes;
        t->data_records += d->data_records;
        t->option_records += d->option_records;
        t->templates += d->templates;
        t->template_conflicts += d->template_conflicts;
        t->templates_expired += d->templates_expired;
        t->withdrawals += d->withdrawals;
        t->withdrawals_ignored += d->withdrawals_ignored;
        t->missing_template_sets += d->missing_template_sets;
        t->missing_template_bytes += d->missing_template_bytes;
        t->held_sets_replayed += d->held_sets_replayed;
        t->held_sets_dropped += d->held_sets_dropped;
        t->malformed += d->malformed;
        t->lost_records += d->lost_records;
        t->out_of_order_messages += d->out_of_order_messages;
        t->sequence_resets += d->sequence_resets;
    }
}

/* ---- templates ---- */

static template_slot *find_slot(const domain *d, uint16_t id) {
    template_slot *page = d->pages[id >> 8];
    return page ? &page[id & 0xff] : NULL;
}

static void slot_clear(ipfix_session *s, domain *d, template_slot *slot) {
    ipfix_template_unref(slot->tmpl);
    slot->tmpl = NULL;
    d->template_count--;
    s->template_count--;
}

/* RFC 7011 §8.4: a UDP template not refreshed within its lifetime expires. */
static bool slot_expired(const ipfix_session *s, const template_slot *slot, uint32_t now) {
    return s->config.transport == IPFIX_TRANSPORT_UDP && s->config.template_lifetime && now &&
           now > slot->last_seen && now - slot->last_seen > s->config.template_lifetime;
}

const ipfix_template *ipfix_session_find_template(ipfix_session *s, uint32_t odid, uint16_t id,
                                                  uint32_t now) {
    domain *d = get_domain(s, odid, false);
    if (!d) return NULL;
    template_slot *slot = find_slot(d, id);
    if (!slot || !slot->tmpl) return NULL;
    if (slot_expired(s, slot, now)) {
        slot_clear(s, d, slot);
        d->stats.templates_expired++;
        return NULL;
    }
    return slot->tmpl;
}

ipfix_status ipfix_session_add_template(ipfix_session *s, uint32_t odid, ipfix_template *tmpl,
                                        uint32_t now, ipfix_template_change *change) {
    domain *d = get_domain(s, odid, true);
    if (!d) return IPFIX_ERR_LIMIT;
    template_slot *page = d->pages[tmpl->id >> 8];
    if (!page) {
        page = calloc(256, sizeof *page);
        if (!page) return IPFIX_ERR_NOMEM;
        d->pages[tmpl->id >> 8] = page;
    }
    template_slot *slot = &page[tmpl->id & 0xff];
    if (slot->tmpl && slot_expired(s, slot, now)) {
        slot_clear(s, d, slot);
        d->stats.templates_expired++;
    }
    if (slot->tmpl) {
        slot->last_seen = now;
        if (ipfix_template_equal(slot->tmpl, tmpl)) {
            *change = IPFIX_TEMPLATE_REFRESHED; /* RFC 7011 §8.1: not an error */
            return IPFIX_OK;
        }
        bool reliable = s->config.transport == IPFIX_TRANSPORT_TCP ||
                        s->config.transport == IPFIX_TRANSPORT_SCTP;
        /* RFC 7011 §8.1: on TCP/SCTP a different template without a
         * withdrawal means a broken exporter: report it, but decode with the
         * newest definition. §8.4 / RFC 5655 §7.1: on UDP and in files it is
         * the normal way to reuse an ID. */
        *change = reliable ? IPFIX_TEMPLATE_CONFLICT : IPFIX_TEMPLATE_REPLACED;
        if (reliable) d->stats.template_conflicts++;
        ipfix_template_unref(slot->tmpl);
        slot->tmpl = ipfix_template_ref(tmpl);
        return IPFIX_OK;
    }
    if (s->config.max_templates && s->template_count >= s->config.max_templates) return IPFIX_ERR_LIMIT;
    slot->tmpl = ipfix_template_ref(tmpl);
    slot->last_seen = now;
    d->template_count++;
    s->template_count++;
    *change = IPFIX_TEMPLATE_NEW;
    return IPFIX_OK;
}

static void withdraw_all(ipfix_session *s, domain *d, bool options) {
    for (int p = 0; p < 256; p++) {
        if (!d->pages[p]) continue;
        for (int i = 0; i < 256; i++) {
            template_slot *slot = &d->pages[p][i];
            if (slot->tmpl && ipfix_template_is_options(slot->tmpl) == options) slot_clear(s, d, slot);
        }
    }
}

ipfix_status ipfix_session_withdraw(ipfix_session *s, uint32_t odid, uint16_t id, bool options_set) {
    if (s->config.transport == IPFIX_TRANSPORT_UDP) return IPFIX_ERR_UNSUPPORTED; /* RFC 7011 §8.4 */
    domain *d = get_domain(s, odid, true);
    if (!d) return IPFIX_ERR_LIMIT;
    /* RFC 7011 §8.1: ID 2 in a Template Set / 3 in an Options Template Set
     * withdraws all templates / options templates of the domain. */
    if ((id == 2 && !options_set) || (id == 3 && options_set)) {
        withdraw_all(s, d, options_set);
        return IPFIX_OK;
    }
    template_slot *slot = find_slot(d, id);
    if (!slot || !slot->tmpl) return IPFIX_ERR_NOT_FOUND;
    slot_clear(s, d, slot);
    return IPFIX_OK;
}

size_t ipfix_session_template_count(const ipfix_session *s, uint32_t odid) {
    const domain *d = find_domain(s, odid);
    return d ? d->template_count : 0;
}

const ipfix_template *ipfix_session_next_template(const ipfix_session *s, uint32_t odid,
                                                  uint32_t *cursor) {
    const domain *d = find_domain(s, odid);
    if (!d) return NULL;
    for (; *cursor < 65536; (*cursor)++) {
        const template_slot *page = d->pages[*cursor >> 8];
        if (!page) {
            *cursor |= 0xff;
            continue;
        }
        if (page[*cursor & 0xff].tmpl) return page[(*cursor)++ & 0xff].tmpl;
    }
    return NULL;
}

/* ---- sequence accounting (RFC 7011 §3.1) ---- */

static bool per_stream(const ipfix_session *s) {
    return s->config.transport == IPFIX_TRANSPORT_SCTP && s->config.max_streams > 1;
}

static size_t stream_index(const ipfix_session *s, uint16_t stream) {
    return stream < s->config.max_streams ? stream : (size_t)s->config.max_streams - 1u;
}

/* The slot of `stream` in `d`, allocating the domain's slots on first use;
 * NULL when the domain has one sequence space: not SCTP, max_streams <= 1,
 * or the allocation failed (then the streams of that domain are ignored —
 * reordering across streams may be reported — rather than losing the
 * accounting; it is not retried, so there is no allocation per message). */
static stream_slot *get_stream(ipfix_session *s, domain *d, uint16_t stream) {
    if (!per_stream(s) || d->streams_failed) return NULL;
    if (!d->streams) {
        d->streams = calloc(s->config.max_streams, sizeof *d->streams);
        if (!d->streams) {
            d->streams_failed = true;
            return NULL;
        }
    }
    return &d->streams[stream_index(s, stream)];
}

void ipfix_session_sequence_update(ipfix_session *s, uint32_t odid, uint16_t stream,
                                   uint32_t sequence, uint64_t records, bool records_known,
                                   uint64_t *lost, bool *out_of_order, uint64_t *recovered) {
    *lost = 0;
    *recovered = 0;
    *out_of_order = false;
    domain *d = get_domain(s, odid, true);
    if (!d) return;
    ipfix_domain_stats *st = &d->stats;
    /* RFC 7011 §3.1: "Each SCTP Stream counts sequence numbers separately,
     * while all messages in a TCP connection or UDP session are considered
     * to be part of the same stream." The counters in `st` stay per domain. */
    stream_slot *slot = get_stream(s, d, stream);
    uint32_t *next = slot ? &slot->next_sequence : &st->next_sequence;
    bool *known = slot ? &slot->sequence_known : &st->sequence_known;
    uint64_t *stream_lost = slot ? &slot->lost_records : &st->lost_records;
    int32_t diff = *known ? (int32_t)(sequence - *next) : 0;
    if (diff < 0) {
        /* A late message: it fills part of a gap counted before on the same
         * stream; the expectation stays. */
        *out_of_order = true;
        st->out_of_order_messages++;
        uint64_t back = records < *stream_lost ? records : *stream_lost;
        if (back > st->lost_records) back = st->lost_records;
        st->lost_records -= back;
        if (slot) slot->lost_records -= back;
        *recovered = back;
    } else {
        if (diff > 0) {
            *lost = (uint32_t)diff;
            st->lost_records += (uint32_t)diff;
            if (slot) slot->lost_records += (uint32_t)diff;
        }
        if (records_known) {
            *next = sequence + (uint32_t)records;
            *known = true;
        } else {
            if (*known) st->sequence_resets++;
            *known = false;
        }
    }
    /* Over SCTP the domain's next_sequence/sequence_known show the stream
     * of the last message accounted (see session.h). */
    if (slot) {
        st->next_sequence = slot->next_sequence;
        st->sequence_known = slot->sequence_known;
    }
}

bool ipfix_session_sequence_expected(const ipfix_session *s, uint32_t odid, uint16_t stream,
                                     uint32_t *expected) {
    *expected = 0;
    const domain *d = find_domain(s, odid);
    if (!d) return false;
    const uint32_t *next = &d->stats.next_sequence;
    const bool *known = &d->stats.sequence_known;
    if (per_stream(s) && !d->streams_failed) {
        if (!d->streams) return false; /* no message accounted yet */
        const stream_slot *slot = &d->streams[stream_index(s, stream)];
        next = &slot->next_sequence;
        known = &slot->sequence_known;
    }
    if (!*known) return false;
    *expected = *next;
    return true;
}

/* ---- held data sets ---- */

size_t ipfix_session_pending_bytes(const ipfix_session *s) { return s->held_bytes; }

static void drop_oldest_held(ipfix_session *s) {
    ipfix_held_set *h = s->held_head;
    s->held_head = h->next;
    if (!s->held_head) s->held_tail = NULL;
    s->held_bytes -= h->length;
    domain *d = get_domain(s, h->odid, false);
    if (d) d->stats.held_sets_dropped++;
    free(h);
}

bool ipfix_session_hold_set(ipfix_session *s, uint32_t odid, uint16_t template_id,
                            const uint8_t *records, size_t length) {
    size_t limit = s->config.pending_bytes_max;
    if (!limit || length > limit) return false;
    while (s->held_head && s->held_bytes + length > limit) drop_oldest_held(s);
    ipfix_held_set *h = malloc(sizeof *h + length);
    if (!h) return false;
    h->next = NULL;
    h->odid = odid;
    h->template_id = template_id;
    h->length = length;
    memcpy(h->data, records, length);
    if (s->held_tail)
        s->held_tail->next = h;
    else
        s->held_head = h;
    s->held_tail = h;
    s->held_bytes += length;
    return true;
}

bool ipfix_session_has_held_set(const ipfix_session *s, uint32_t odid, uint16_t template_id) {
    for (const ipfix_held_set *h = s->held_head; h; h = h->next)
        if (h->odid == odid && h->template_id == template_id) return true;
    return false;
}

static ipfix_held_set *unlink_held(ipfix_session *s, ipfix_held_set *prev, ipfix_held_set *h) {
    if (prev)
        prev->next = h->next;
    else
        s->held_head = h->next;
    if (s->held_tail == h) s->held_tail = prev;
    s->held_bytes -= h->length;
    h->next = NULL;
    return h;
}

ipfix_held_set *ipfix_session_take_ready_held_set(ipfix_session *s, uint32_t odid, uint32_t now) {
    ipfix_held_set *prev = NULL;
    for (ipfix_held_set *h = s->held_head; h; prev = h, h = h->next)
        if (h->odid == odid && ipfix_session_find_template(s, odid, h->template_id, now))
            return unlink_held(s, prev, h);
    return NULL;
}
