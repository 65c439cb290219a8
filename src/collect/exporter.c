/*
 * exporter.c — one exporter's Transport Session inside a collector worker
 * (RFC 7011 §10: a UDP exporter is identified by its address, port and the
 * listener it sends to; a TCP exporter by its connection): the core
 * ipfix_session holds its templates per Observation Domain and its sequence
 * accounting; this file decodes each message with ipfix_reader, renders
 * records as JSON Lines, stores the message (collect/store.c), and logs
 * what goes wrong with the exporter's name, the offset and the rule broken,
 * rate-limited so a hostile exporter cannot flood the log.
 *
 * A session is never disturbed by another: every exporter has its own
 * ipfix_session, and a malformed message only affects the counters of the
 * exporter that sent it.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collect/collect_internal.h"
#include "ipfixkit/reader.h"
#include "ipfixkit/render.h"

void collect_log(collect_worker *w, ipfix_log_level level, const char *format, ...) {
    const ipfix_collector_config *c = &w->collector->config;
    if (!c->log) return;
    char line[512];
    va_list ap;
    va_start(ap, format);
    vsnprintf(line, sizeof line, format, ap);
    va_end(ap);
    c->log(c->log_context, level, line);
}

void collect_exporter_log(collect_worker *w, collect_exporter *e, ipfix_log_level level,
                          const char *format, ...) {
    const ipfix_collector_config *c = &w->collector->config;
    if (!c->log) return;
    time_t now = time(NULL);
    if (now != e->log_second) {
        e->log_second = now;
        e->log_count = 0;
    }
    if (e->log_count >= COLLECT_LOG_BURST) {
        e->log_suppressed++;
        return;
    }
    e->log_count++;
    char text[400], line[560];
    va_list ap;
    va_start(ap, format);
    vsnprintf(text, sizeof text, format, ap);
    va_end(ap);
    if (e->log_suppressed) {
        snprintf(line, sizeof line, "%s: %s (%llu similar lines suppressed)", e->name, text,
                 (unsigned long long)e->log_suppressed);
        e->log_suppressed = 0;
    } else {
        snprintf(line, sizeof line, "%s: %s", e->name, text);
    }
    c->log(c->log_context, level, line);
}

void collect_format_address(const struct sockaddr_storage *addr, char *out, size_t size,
                            uint8_t *family, uint8_t *bytes, uint16_t *port) {
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    char text[INET6_ADDRSTRLEN] = "?";
    memset(bytes, 0, 16);
    if (addr->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)addr;
        *port = ntohs(a->sin6_port);
        if (memcmp(a->sin6_addr.s6_addr, mapped, 12) == 0) {
            *family = 4;
            memcpy(bytes, a->sin6_addr.s6_addr + 12, 4);
            inet_ntop(AF_INET, bytes, text, sizeof text);
            snprintf(out, size, "%s:%u", text, (unsigned)*port);
        } else {
            *family = 6;
            memcpy(bytes, a->sin6_addr.s6_addr, 16);
            inet_ntop(AF_INET6, bytes, text, sizeof text);
            snprintf(out, size, "[%s]:%u", text, (unsigned)*port);
        }
    } else {
        const struct sockaddr_in *a = (const struct sockaddr_in *)addr;
        *port = ntohs(a->sin_port);
        *family = 4;
        memcpy(bytes, &a->sin_addr, 4);
        inet_ntop(AF_INET, bytes, text, sizeof text);
        snprintf(out, size, "%s:%u", text, (unsigned)*port);
    }
}

collect_exporter *collect_exporter_new(collect_worker *w, ipfix_transport transport,
                                       const struct sockaddr_storage *addr, unsigned listener) {
    ipfix_collector *c = w->collector;
    collect_exporter *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->transport = transport;
    e->addr = *addr;
    e->source.listener = listener;
    e->source.fd = -1;
    collect_format_address(addr, e->origin, sizeof e->origin, &e->family, e->address, &e->port);
    snprintf(e->name, sizeof e->name, "%s %s", ipfix_transport_name(transport), e->origin);
    ipfix_session_config sc;
    ipfix_session_config_default(&sc, transport);
    if (c->config.max_templates) sc.max_templates = c->config.max_templates;
    /* RFC 7011 §3.1: a sequence space per inbound SCTP stream granted. */
    if (transport == IPFIX_TRANSPORT_SCTP) sc.max_streams = COLLECT_SCTP_STREAMS;
    /* Data sets whose template is missing are held (bounded) and replayed
     * when it arrives; the store writes the replayed records after the
     * message that brought the template (see store_replayed below). */
    if (c->config.max_pending && transport == IPFIX_TRANSPORT_UDP)
        sc.pending_bytes_max = c->config.max_pending;
    e->session = ipfix_session_new(c->config.model, &sc);
    if (transport == IPFIX_TRANSPORT_TCP) e->rx = malloc(COLLECT_TCP_BUFFER);
    if (!e->session || (transport == IPFIX_TRANSPORT_TCP && !e->rx)) {
        ipfix_session_free(e->session);
        free(e->rx);
        free(e);
        return NULL;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    e->start_ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    e->next = w->exporters;
    w->exporters = e;
    w->sessions_total++;
    return e;
}

void collect_exporter_retire(collect_worker *w, collect_exporter *e) {
    if (!e->session) return;
    size_t n = ipfix_session_domain_count(e->session);
    e->retired = n ? calloc(n, sizeof *e->retired) : NULL;
    if (e->retired) {
        for (size_t i = 0; i < n; i++) e->retired[i] = *ipfix_session_domain_stats(e->session, i);
        e->retired_count = n;
    }
    ipfix_session_free(e->session);
    e->session = NULL;
    free(e->rx);
    e->rx = NULL;
    e->rx_length = 0;
    for (size_t i = 0; i < e->domain_count; i++) collect_store_domain_release(&e->domains[i].store);
    free(e->domains);
    e->domains = NULL;
    e->domain_count = e->domain_capacity = 0;
    collect_exporter_close_store(w, e);
    w->retired_count++;
}

/* With per-exporter directories: DIR/ADDRESS/ (IPv6 with '-' for ':'), files
 * tagged with transport and port ("udp5000"), so that several sessions of
 * one address never share a file name. Created on the first message. */
static collect_store *exporter_store(collect_worker *w, collect_exporter *e) {
    ipfix_collector *c = w->collector;
    if (!c->config.per_exporter_dirs) return w->store;
    if (e->store) return e->store;
    char address[INET6_ADDRSTRLEN] = "";
    inet_ntop(e->family == 6 ? AF_INET6 : AF_INET, e->address, address, sizeof address);
    for (char *p = address; *p; p++)
        if (*p == ':') *p = '-';
    char dir[4096], tag[32];
    snprintf(dir, sizeof dir, "%s/%s", c->config.store_dir, address);
    snprintf(tag, sizeof tag, "%s%u", ipfix_transport_name(e->transport), e->port);
    e->store = collect_store_new(dir, c->config.rotate_seconds, tag, c->config.fsync, true,
                                 c->closer);
    return e->store;
}

void collect_exporter_close_store(collect_worker *w, collect_exporter *e) {
    if (!e->store) return;
    ipfix_error err;
    ipfix_error_clear(&err);
    ipfix_status st = collect_store_rotate(e->store, &(struct timespec){0, 0}, true, &err);
    if (st != IPFIX_OK)
        collect_log(w, IPFIX_LOG_ERROR, "store: %s: %s (%s)", e->name, err.rule, err.detail);
    collect_store_stats ss;
    collect_store_get_stats(e->store, &ss);
    collect_store_free(e->store, &err);
    e->store = NULL;
    w->closed_stores.files += ss.files;
    w->closed_stores.messages += ss.messages;
    w->closed_stores.bytes += ss.bytes;
}

static void add_stats(ipfix_domain_stats *to, const ipfix_domain_stats *d) {
    to->messages += d->messages;
    to->bytes += d->bytes;
    to->data_records += d->data_records;
    to->option_records += d->option_records;
    to->templates += d->templates;
    to->lost_records += d->lost_records;
    to->out_of_order_messages += d->out_of_order_messages;
    to->malformed += d->malformed;
    to->missing_template_sets += d->missing_template_sets;
}

void collect_exporter_fold_retired(collect_worker *w) {
    while (w->retired_count > COLLECT_RETIRED_MAX) {
        /* the list is newest first: the oldest closed session is the last one */
        collect_exporter **pp = &w->exporters, **oldest = NULL;
        for (; *pp; pp = &(*pp)->next)
            if (!(*pp)->session) oldest = pp;
        if (!oldest) return;
        collect_exporter *e = *oldest;
        *oldest = e->next;
        for (size_t i = 0; i < e->retired_count; i++) add_stats(&w->folded, &e->retired[i]);
        w->folded_sessions++;
        w->folded_header_errors += e->header_errors;
        w->retired_count--;
        collect_exporter_free(e);
    }
}

void collect_exporter_free(collect_exporter *e) {
    if (!e) return;
    if (e->store) {
        ipfix_error err;
        collect_store_free(e->store, &err);
    }
    ipfix_session_free(e->session);
    ipfix_tls_conn_free(e->tls);
    free(e->retired);
    free(e->rx);
    for (size_t i = 0; i < e->domain_count; i++) collect_store_domain_release(&e->domains[i].store);
    free(e->domains);
    free(e);
}

static collect_domain *find_domain(collect_exporter *e, uint32_t odid) {
    for (size_t i = 0; i < e->domain_count; i++)
        if (e->domains[i].odid == odid) return &e->domains[i];
    if (e->domain_count == e->domain_capacity) {
        size_t n = e->domain_capacity ? e->domain_capacity * 2 : 4;
        collect_domain *d = realloc(e->domains, n * sizeof *d);
        if (!d) return NULL;
        e->domains = d;
        e->domain_capacity = n;
    }
    collect_domain *d = &e->domains[e->domain_count++];
    memset(d, 0, sizeof *d);
    d->odid = odid;
    return d;
}

void collect_json_flush(collect_worker *w, size_t threshold) {
    if (w->json.length == 0 || w->json.length < threshold) return;
    ipfix_collector *c = w->collector;
    pthread_mutex_lock(&c->json_lock);
    fwrite(w->json.data, 1, w->json.length, c->config.json);
    if (threshold == 0) fflush(c->config.json);
    pthread_mutex_unlock(&c->json_lock);
    ipfix_buffer_clear(&w->json);
}

static const ipfix_template *lookup_template(void *context, uint32_t odid, uint16_t id) {
    return ipfix_session_find_template(context, odid, id, 0);
}

/* Over SCTP each stream counts its own sequence numbers (RFC 7011 §3.1):
 * the log names the stream ("odid 5 stream 3: ..."); loss episodes stay per
 * domain. */
static void note_sequence(collect_worker *w, collect_exporter *e, collect_domain *d,
                          const ipfix_event *ev, time_t now) {
    char where[48];
    if (e->transport == IPFIX_TRANSPORT_SCTP)
        snprintf(where, sizeof where, "odid %u stream %u", (unsigned)ev->odid,
                 (unsigned)ev->u.sequence.stream);
    else
        snprintf(where, sizeof where, "odid %u", (unsigned)ev->odid);
    if (ev->u.sequence.out_of_order) {
        collect_exporter_log(w, e, IPFIX_LOG_INFO,
                             "%s: message out of order (RFC 7011 §3.1): expected sequence "
                             "%u, received %u",
                             where, (unsigned)ev->u.sequence.expected,
                             (unsigned)ev->u.sequence.received);
        return;
    }
    if (ev->u.sequence.lost == 0 || !d) return;
    if (!d->losing) {
        d->losing = true;
        d->episode_lost = 0;
        collect_exporter_log(w, e, IPFIX_LOG_WARNING,
                             "%s: loss started: %llu records lost (RFC 7011 §3.1 sequence "
                             "gap: expected %u, received %u)",
                             where, (unsigned long long)ev->u.sequence.lost,
                             (unsigned)ev->u.sequence.expected,
                             (unsigned)ev->u.sequence.received);
    }
    d->episode_lost += ev->u.sequence.lost;
    d->last_loss = now;
}

void collect_exporter_housekeeping(collect_worker *w, collect_exporter *e, time_t now) {
    for (size_t i = 0; i < e->domain_count; i++) {
        collect_domain *d = &e->domains[i];
        if (!d->losing || now - d->last_loss < COLLECT_LOSS_QUIET_SECONDS) continue;
        d->losing = false;
        collect_log(w, IPFIX_LOG_INFO, "%s: odid %u: loss stopped: %llu records lost in this episode",
                    e->name, (unsigned)d->odid, (unsigned long long)d->episode_lost);
    }
}

/* ---- replayed records: rebuilt into one message (per exporter message) ----
 * A replayed record belongs to a data set that arrived before its template
 * and was not stored then (it was skipped); it is stored now, in a message
 * of its own written right after the one that carried the template, so the
 * file keeps "templates before data" (RFC 5655 §7.2). */

#define REPLAY_MAX 65535u

static void put16be(uint8_t *p, size_t v) {
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void replay_close_set(collect_worker *w) {
    if (!w->replay_set) return;
    put16be(w->replay + w->replay_set + 2, w->replay_length - w->replay_set);
    w->replay_set = 0;
}

static void replay_close_message(collect_worker *w) {
    replay_close_set(w);
    put16be(w->replay + w->replay_message + 2, w->replay_length - w->replay_message);
}

/* Append one replayed record (a new set when the template changes, a new
 * message when 64 KiB would be passed); amortised growth, no per-record
 * allocation in steady state. */
static void replay_add(collect_worker *w, const uint8_t *header, const ipfix_record *rec) {
    size_t worst = IPFIX_MESSAGE_HEADER_SIZE + 4 + rec->length;
    if (w->replay_length + worst > w->replay_capacity) {
        size_t cap = (w->replay_capacity + worst) * 2;
        uint8_t *p = realloc(w->replay, cap);
        if (!p) return;
        w->replay = p;
        w->replay_capacity = cap;
    }
    bool same_set = w->replay_set && w->replay_template == rec->tmpl->id;
    if (w->replay_length &&
        w->replay_length - w->replay_message + rec->length + (same_set ? 0 : 4) > REPLAY_MAX) {
        replay_close_message(w);
        same_set = false;
        w->replay_message = w->replay_length; /* a new message follows */
    }
    if (w->replay_length == w->replay_message) {
        memcpy(w->replay + w->replay_length, header, IPFIX_MESSAGE_HEADER_SIZE);
        w->replay_length += IPFIX_MESSAGE_HEADER_SIZE;
    }
    if (!same_set) {
        replay_close_set(w);
        w->replay_set = w->replay_length;
        w->replay_template = rec->tmpl->id;
        put16be(w->replay + w->replay_length, rec->tmpl->id);
        w->replay_length += 4;
    }
    memcpy(w->replay + w->replay_length, rec->data, rec->length);
    w->replay_length += rec->length;
}

static void store(collect_worker *w, collect_exporter *e, collect_domain *domain,
                  const uint8_t *message, size_t length, size_t skip_count,
                  const struct timespec *now);
static void store_replayed(collect_worker *w, collect_exporter *e, collect_domain *d,
                           const struct timespec *now);

static void render_record(collect_worker *w, collect_exporter *e, const ipfix_event *ev) {
    ipfix_render_source source = {ev->odid, e->origin, lookup_template, e->session};
    ipfix_error err;
    ipfix_render_record(w->renderer, &source, &ev->u.record, &w->json, &err);
    collect_json_flush(w, 1u << 18);
}

ipfix_status collect_exporter_message(collect_worker *w, collect_exporter *e,
                                      const uint8_t *message, size_t length, uint16_t stream,
                                      const struct timespec *now) {
    ipfix_collector *c = w->collector;
    ipfix_reader reader;
    ipfix_error err;
    ipfix_error_clear(&err);
    e->last_seen = now->tv_sec;
    ipfix_status st = ipfix_reader_begin(&reader, e->session, message, length,
                                         (uint32_t)now->tv_sec, &err);
    if (st != IPFIX_OK) {
        e->header_errors++;
        e->malformed_messages++;
        collect_exporter_log(w, e, IPFIX_LOG_WARNING, "malformed message: offset %zu: %s (%s)",
                             err.offset, err.rule ? err.rule : "?", err.detail);
        return st;
    }
    ipfix_reader_set_stream(&reader, stream);
    size_t skip_count = 0;
    bool malformed = false, stored_ok = true;
    collect_domain *domain = find_domain(e, reader.header.odid);
    ipfix_event ev;
    while (ipfix_reader_next(&reader, &ev) == IPFIX_OK) {
        switch (ev.kind) {
        case IPFIX_EVENT_RECORD:
            if (c->config.json) render_record(w, e, &ev);
            if (ev.replayed && c->config.store_dir && domain)
                replay_add(w, message, &ev.u.record);
            break;
        case IPFIX_EVENT_MISSING_TEMPLATE:
            if (ev.replayed) break;
            if (ev.offset + 4 <= length && skip_count < COLLECT_MAX_SKIPS) {
                uint32_t set_length = (uint32_t)message[ev.offset + 2] << 8 | message[ev.offset + 3];
                w->skips[skip_count++] = (collect_store_skip){(uint32_t)ev.offset, set_length};
            } else if (c->config.store_dir) {
                stored_ok = false; /* too many unknown sets: do not store a broken copy */
            }
            collect_exporter_log(w, e, IPFIX_LOG_INFO,
                                 "odid %u: offset %zu: data set for template %u not received "
                                 "(RFC 7011 §8), %zu bytes %s",
                                 (unsigned)ev.odid, ev.offset,
                                 (unsigned)ev.u.missing.template_id, ev.u.missing.length,
                                 ev.u.missing.held ? "held" : "skipped");
            break;
        case IPFIX_EVENT_ERROR:
            malformed = true;
            collect_exporter_log(w, e,
                                 ev.u.error.status == IPFIX_ERR_LIMIT ? IPFIX_LOG_ERROR
                                                                      : IPFIX_LOG_WARNING,
                                 "odid %u: %s at offset %zu: %s (%s)", (unsigned)ev.odid,
                                 ev.u.error.status == IPFIX_ERR_LIMIT ? "limit hit"
                                                                      : "malformed message",
                                 ev.u.error.offset, ev.u.error.rule ? ev.u.error.rule : "?",
                                 ev.u.error.detail);
            break;
        case IPFIX_EVENT_SEQUENCE: note_sequence(w, e, domain, &ev, now->tv_sec); break;
        case IPFIX_EVENT_TEMPLATE:
            if (ev.u.tmpl.change == IPFIX_TEMPLATE_CONFLICT)
                collect_exporter_log(w, e, IPFIX_LOG_WARNING,
                                     "odid %u: offset %zu: template %u redefined without a "
                                     "withdrawal (RFC 7011 §8.1)",
                                     (unsigned)ev.odid, ev.offset, (unsigned)ev.u.tmpl.tmpl->id);
            break;
        case IPFIX_EVENT_WITHDRAWAL: break;
        }
    }
    if (malformed) e->malformed_messages++;
    if (c->config.store_dir && domain && stored_ok)
        store(w, e, domain, message, length, skip_count, now);
    if (w->replay_length) store_replayed(w, e, domain, now);
    return IPFIX_OK;
}

/* Store the messages rebuilt from replayed records, after the message that
 * brought their template. */
static void store_replayed(collect_worker *w, collect_exporter *e, collect_domain *d,
                           const struct timespec *now) {
    replay_close_message(w);
    size_t end = w->replay_length;
    w->replay_length = w->replay_message = 0;
    for (size_t pos = 0; d && pos + IPFIX_MESSAGE_HEADER_SIZE <= end;) {
        size_t n = (size_t)(w->replay[pos + 2] << 8 | w->replay[pos + 3]);
        if (n < IPFIX_MESSAGE_HEADER_SIZE || pos + n > end) break;
        store(w, e, d, w->replay + pos, n, 0, now);
        pos += n;
    }
}

static void store(collect_worker *w, collect_exporter *e, collect_domain *domain,
                  const uint8_t *message, size_t length, size_t skip_count,
                  const struct timespec *now) {
    ipfix_error err;
    ipfix_error_clear(&err);
    collect_store_origin origin = {
        .family = e->family,
        .port = e->port,
        .protocol = e->transport == IPFIX_TRANSPORT_TCP ? 6 : 17,
        .odid = domain->odid,
        .session_start_ms = e->start_ms,
        .session = e->session,
    };
    memcpy(origin.address, e->address, 16);
    collect_store *s = exporter_store(w, e);
    ipfix_status st = s ? collect_store_message(s, &domain->store, &origin, message, length,
                                                w->skips, skip_count, now, &err)
                        : ipfix_error_set(&err, IPFIX_ERR_NOMEM, 0, "memory", "store");
    {
        if (st != IPFIX_OK) {
            w->store_errors++;
            if (now->tv_sec != w->store_log_second) {
                w->store_log_second = now->tv_sec;
                collect_log(w, IPFIX_LOG_ERROR, "store: %s: %s (%s); %llu messages not stored",
                            ipfix_status_string(st), err.rule ? err.rule : "?", err.detail,
                            (unsigned long long)w->store_errors);
            }
        }
    }
}
