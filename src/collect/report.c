/*
 * report.c — the collector's statistics: totals and the text report (per
 * listener: kernel drops, rejected exporters; per exporter and Observation
 * Domain: messages, records, bytes, records lost by sequence gaps, messages
 * out of order, malformed messages, data sets with unknown templates).
 * Each worker's data is read under that worker's lock, so a report is
 * consistent per worker and never stops more than one worker at a time.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collect/collect_internal.h"

typedef struct text {
    char *data;
    size_t length, capacity;
    bool failed;
} text;

static void add(text *t, const char *format, ...) __attribute__((format(printf, 2, 3)));
static void add(text *t, const char *format, ...) {
    if (t->failed) return;
    for (;;) {
        va_list ap;
        va_start(ap, format);
        int n = vsnprintf(t->data + t->length, t->capacity - t->length, format, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = true;
            return;
        }
        if ((size_t)n < t->capacity - t->length) {
            t->length += (size_t)n;
            return;
        }
        size_t cap = (t->capacity + (size_t)n + 1) * 2;
        char *d = realloc(t->data, cap);
        if (!d) {
            t->failed = true;
            return;
        }
        t->data = d;
        t->capacity = cap;
    }
}

/* The index-th domain counter block of the exporter (live or retired); 0 past the end. */
static size_t exporter_domains(const collect_exporter *e, const ipfix_domain_stats **out,
                               size_t index) {
    if (e->session) {
        if (index >= ipfix_session_domain_count(e->session)) return 0;
        *out = ipfix_session_domain_stats(e->session, index);
        return 1;
    }
    if (index >= e->retired_count) return 0;
    *out = &e->retired[index];
    return 1;
}

static void add_totals(ipfix_collector_totals *t, const ipfix_domain_stats *d) {
    t->messages += d->messages;
    t->bytes += d->bytes;
    t->records += d->data_records;
    t->lost_records += d->lost_records;
    t->out_of_order += d->out_of_order_messages;
    t->malformed += d->malformed;
    t->missing_template_sets += d->missing_template_sets;
}

static void worker_totals(collect_worker *w, ipfix_collector_totals *t) {
    for (unsigned i = 0; i < w->collector->listener_count; i++) {
        t->socket_drops += w->socket_drops[i];
        t->rejected += w->rejected[i];
        t->tls_failures += w->tls_failures[i];
    }
    t->sessions_total += w->sessions_total;
    add_totals(t, &w->folded);
    t->malformed += w->folded_header_errors;
    for (const collect_exporter *e = w->exporters; e; e = e->next) {
        if (e->session) t->sessions++;
        t->malformed += e->header_errors;
        const ipfix_domain_stats *d;
        for (size_t i = 0; exporter_domains(e, &d, i); i++) add_totals(t, d);
    }
    t->store_errors += w->store_errors;
    collect_store_stats sum = w->closed_stores, ss;
    if (w->store) {
        collect_store_get_stats(w->store, &ss);
        sum.messages += ss.messages, sum.bytes += ss.bytes, sum.files += ss.files;
    }
    for (const collect_exporter *e = w->exporters; e; e = e->next) {
        if (!e->store) continue;
        collect_store_get_stats(e->store, &ss);
        sum.messages += ss.messages, sum.bytes += ss.bytes, sum.files += ss.files;
    }
    t->stored_messages += sum.messages;
    t->stored_bytes += sum.bytes;
    t->files += sum.files;
}

void ipfix_collector_totals_get(ipfix_collector *c, ipfix_collector_totals *t) {
    memset(t, 0, sizeof *t);
    for (unsigned i = 0; i < c->worker_count; i++) {
        collect_worker *w = &c->workers[i];
        pthread_mutex_lock(&w->lock);
        worker_totals(w, t);
        pthread_mutex_unlock(&w->lock);
    }
    if (c->closer) { /* files handed to the closer that could not be completed */
        uint64_t files, errors;
        collect_store_closer_get_stats(c->closer, &files, &errors);
        t->store_errors += errors;
        t->files -= errors < t->files ? errors : t->files;
    }
}

static void report_exporter(text *t, const collect_exporter *e) {
    const ipfix_domain_stats *d;
    if (e->header_errors)
        add(t, "exporter %s: messages rejected at the header %llu\n", e->name,
            (unsigned long long)e->header_errors);
    for (size_t i = 0; exporter_domains(e, &d, i); i++)
        add(t,
            "exporter %s odid %u%s: messages %llu records %llu bytes %llu lost %llu "
            "out_of_order %llu malformed %llu missing_template_sets %llu templates %llu\n",
            e->name, (unsigned)d->odid, e->session ? "" : " (closed)",
            (unsigned long long)d->messages, (unsigned long long)d->data_records,
            (unsigned long long)d->bytes, (unsigned long long)d->lost_records,
            (unsigned long long)d->out_of_order_messages, (unsigned long long)d->malformed,
            (unsigned long long)d->missing_template_sets, (unsigned long long)d->templates);
}

char *ipfix_collector_report(ipfix_collector *c) {
    text t = {0};
    ipfix_collector_totals total = {0};
    uint64_t drops[IPFIX_COLLECT_MAX_LISTENERS] = {0}, rejected[IPFIX_COLLECT_MAX_LISTENERS] = {0};
    uint64_t tls_failures[IPFIX_COLLECT_MAX_LISTENERS] = {0};
    for (unsigned i = 0; i < c->worker_count; i++) {
        collect_worker *w = &c->workers[i];
        pthread_mutex_lock(&w->lock);
        for (const collect_exporter *e = w->exporters; e; e = e->next) report_exporter(&t, e);
        if (w->folded_sessions) {
            const ipfix_domain_stats *d = &w->folded;
            add(&t,
                "earlier closed sessions (worker %u, %llu sessions, merged): messages %llu "
                "records %llu bytes %llu lost %llu out_of_order %llu malformed %llu "
                "missing_template_sets %llu\n",
                w->index, (unsigned long long)w->folded_sessions, (unsigned long long)d->messages,
                (unsigned long long)d->data_records, (unsigned long long)d->bytes,
                (unsigned long long)d->lost_records, (unsigned long long)d->out_of_order_messages,
                (unsigned long long)(d->malformed + w->folded_header_errors),
                (unsigned long long)d->missing_template_sets);
        }
        for (unsigned j = 0; j < c->listener_count; j++) {
            drops[j] += w->socket_drops[j];
            rejected[j] += w->rejected[j];
            tls_failures[j] += w->tls_failures[j];
        }
        worker_totals(w, &total);
        pthread_mutex_unlock(&w->lock);
    }
    for (unsigned j = 0; j < c->listener_count; j++) {
        add(&t, "listener %s: socket_drops %llu rejected %llu", c->listeners[j].uri,
            (unsigned long long)drops[j], (unsigned long long)rejected[j]);
        if (c->listeners[j].tls)
            add(&t, " tls_failures %llu", (unsigned long long)tls_failures[j]);
        add(&t, "\n");
    }
    add(&t,
        "total: sessions %llu (ever %llu) messages %llu records %llu bytes %llu lost %llu "
        "out_of_order %llu malformed %llu missing_template_sets %llu socket_drops %llu "
        "rejected %llu stored_messages %llu files %llu store_errors %llu tls_failures %llu\n",
        (unsigned long long)total.sessions, (unsigned long long)total.sessions_total,
        (unsigned long long)total.messages, (unsigned long long)total.records,
        (unsigned long long)total.bytes, (unsigned long long)total.lost_records,
        (unsigned long long)total.out_of_order, (unsigned long long)total.malformed,
        (unsigned long long)total.missing_template_sets, (unsigned long long)total.socket_drops,
        (unsigned long long)total.rejected, (unsigned long long)total.stored_messages,
        (unsigned long long)total.files, (unsigned long long)total.store_errors,
        (unsigned long long)total.tls_failures);
    if (t.failed) {
        free(t.data);
        return NULL;
    }
    return t.data;
}
