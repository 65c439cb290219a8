/*
 * exporter.c — the Exporting Process of `ipfix probe` (see export.h): builds
 * the flow templates from the flow definition, encodes each expired Flow
 * once into a fixed-length Data Record (a plan of field kinds and offsets
 * computed with the template, no per-record allocation) and adds it to
 * every destination: the IPFIX File writer (file.h, which writes templates
 * itself) and the Collector links (collector_link.c).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "export/collector_link.h"
#include "ipfixkit/export.h"
#include "ipfixkit/file.h"
#include "ipfixkit/value.h"

#define MAX_LINKS 16
#define MAX_PLAN 32
#define RECORD_MAX 256

/* What to write for each field of a flow template. */
typedef enum field_kind {
    F_SRC4, F_DST4, F_SRC6, F_DST6, F_SRC_PREFIX, F_DST_PREFIX, F_SRC_PORT, F_DST_PORT,
    F_PROTOCOL, F_IP_VERSION, F_VLAN, F_INGRESS, F_START, F_END, F_OCTETS, F_PACKETS,
    F_TCP_FLAGS, F_TOS, F_MIN_TTL, F_MAX_TTL, F_ICMP, F_FLOW_LABEL, F_MPLS, F_END_REASON,
    F_OBS_POINT, F_EXP_PROCESS, F_SELECTOR
} field_kind;

typedef struct plan_field {
    uint8_t kind;
    uint8_t constant8;   /* prefix lengths */
    uint16_t offset;
} plan_field;

typedef struct flow_plan {
    ipfix_template *tmpl;
    plan_field fields[MAX_PLAN];
    unsigned count;
    uint16_t length;
} flow_plan;

struct ipfix_exporter {
    ipfix_exporter_config config;
    flow_plan plan[2];                  /* [0] IPv4, [1] IPv6 */
    ipfix_template *stats_tmpl[4];      /* §4.1, §4.2, §4.3, Selector Report */
    unsigned stats_count;
    ipfix_template *all_templates[6];
    ipfix_file_writer *file;
    collector_link *links[MAX_LINKS];
    unsigned link_count;
    uint64_t flows;
    uint64_t file_lost_flows, file_lost_packets, file_lost_octets;
    uint64_t first_lost_ms, last_lost_ms, lost_seen;
};

void ipfix_exporter_config_init(ipfix_exporter_config *config) {
    memset(config, 0, sizeof *config);
    ipfix_flow_keymask_default(&config->keymask);
    config->fields = IPFIX_FIELDS_ALL;
    config->udp_max_message = 1400;
    config->template_refresh_s = 60;
    config->template_refresh_messages = 100;
    config->tcp_queue_bytes = 4u << 20;
    config->selector_id = 1;
}

/* --------------------------- template building --------------------------- */

static void plan_add(flow_plan *p, ipfix_field_spec *specs, uint16_t id, uint16_t length,
                     field_kind kind, uint8_t constant8) {
    specs[p->count] = (ipfix_field_spec){0, id, length};
    p->fields[p->count] = (plan_field){(uint8_t)kind, constant8, p->length};
    p->length = (uint16_t)(p->length + length);
    p->count++;
}

static ipfix_status build_flow_plan(ipfix_exporter *e, int v6, ipfix_error *err) {
    const ipfix_flow_keymask *m = &e->config.keymask;
    flow_plan *p = &e->plan[v6];
    ipfix_field_spec specs[MAX_PLAN];
    unsigned sp = v6 ? m->src6_prefix : m->src4_prefix, dp = v6 ? m->dst6_prefix : m->dst4_prefix;
    unsigned full = v6 ? 128 : 32;
    if (sp) {
        plan_add(p, specs, v6 ? 27 : 8, v6 ? 16 : 4, v6 ? F_SRC6 : F_SRC4, 0);
        if (sp < full) plan_add(p, specs, v6 ? 29 : 9, 1, F_SRC_PREFIX, (uint8_t)sp);
    }
    if (dp) {
        plan_add(p, specs, v6 ? 28 : 12, v6 ? 16 : 4, v6 ? F_DST6 : F_DST4, 0);
        if (dp < full) plan_add(p, specs, v6 ? 30 : 13, 1, F_DST_PREFIX, (uint8_t)dp);
    }
    if (m->src_port) plan_add(p, specs, 7, 2, F_SRC_PORT, 0);
    if (m->dst_port) plan_add(p, specs, 11, 2, F_DST_PORT, 0);
    plan_add(p, specs, 4, 1, F_PROTOCOL, 0);
    plan_add(p, specs, 60, 1, F_IP_VERSION, 0);
    if (m->vlan_id) plan_add(p, specs, 58, 2, F_VLAN, 0);
    if (m->ingress_interface) plan_add(p, specs, 10, 4, F_INGRESS, 0);
    static const uint16_t start_ids[] = {152, 154, 156};
    unsigned unit = e->config.time_unit <= IPFIX_TIME_NANOSECONDS ? e->config.time_unit : 0;
    uint32_t want = e->config.fields;
    if (want & IPFIX_FIELD_TIMES) {
        plan_add(p, specs, start_ids[unit], 8, F_START, 0);
        plan_add(p, specs, (uint16_t)(start_ids[unit] + 1), 8, F_END, 0);
    }
    if (want & IPFIX_FIELD_OCTETS) plan_add(p, specs, 1, 8, F_OCTETS, 0);
    if (want & IPFIX_FIELD_PACKETS) plan_add(p, specs, 2, 8, F_PACKETS, 0);
    if (want & IPFIX_FIELD_TCP_FLAGS) plan_add(p, specs, 6, 2, F_TCP_FLAGS, 0);
    if (want & IPFIX_FIELD_TOS) plan_add(p, specs, 5, 1, F_TOS, 0);
    if (want & IPFIX_FIELD_MIN_TTL) plan_add(p, specs, 52, 1, F_MIN_TTL, 0);
    if (want & IPFIX_FIELD_MAX_TTL) plan_add(p, specs, 53, 1, F_MAX_TTL, 0);
    if (want & IPFIX_FIELD_ICMP) plan_add(p, specs, v6 ? 139 : 32, 2, F_ICMP, 0);
    if (v6 && (want & IPFIX_FIELD_FLOW_LABEL)) plan_add(p, specs, 31, 4, F_FLOW_LABEL, 0);
    if (want & IPFIX_FIELD_MPLS) plan_add(p, specs, 70, 3, F_MPLS, 0);
    if (want & IPFIX_FIELD_END_REASON) plan_add(p, specs, 136, 1, F_END_REASON, 0);
    if (want & IPFIX_FIELD_OBS_POINT) plan_add(p, specs, 138, 4, F_OBS_POINT, 0);
    if (want & IPFIX_FIELD_EXP_PROCESS) plan_add(p, specs, 144, 4, F_EXP_PROCESS, 0);
    if (e->config.sampling.algorithm != IPFIX_SELECTOR_NONE)
        plan_add(p, specs, 302, 8, F_SELECTOR, 0);
    return ipfix_template_new(e->config.model,
                              v6 ? IPFIX_EXPORT_TEMPLATE_FLOW6 : IPFIX_EXPORT_TEMPLATE_FLOW4, 0,
                              specs, (uint16_t)p->count, &p->tmpl, err);
}

static const struct {
    const char *name;
    uint32_t bit;
} field_names[] = {
    {"octetDeltaCount", IPFIX_FIELD_OCTETS},       {"packetDeltaCount", IPFIX_FIELD_PACKETS},
    {"tcpControlBits", IPFIX_FIELD_TCP_FLAGS},     {"ipClassOfService", IPFIX_FIELD_TOS},
    {"minimumTTL", IPFIX_FIELD_MIN_TTL},           {"maximumTTL", IPFIX_FIELD_MAX_TTL},
    {"icmpTypeCodeIPv4", IPFIX_FIELD_ICMP},        {"icmpTypeCodeIPv6", IPFIX_FIELD_ICMP},
    {"flowLabelIPv6", IPFIX_FIELD_FLOW_LABEL},     {"mplsTopLabelStackSection", IPFIX_FIELD_MPLS},
    {"flowEndReason", IPFIX_FIELD_END_REASON},     {"observationPointId", IPFIX_FIELD_OBS_POINT},
    {"exportingProcessId", IPFIX_FIELD_EXP_PROCESS},
};

ipfix_status ipfix_export_fields_parse(const char *list, uint32_t *mask, ipfix_error *err) {
    uint32_t m = 0;
    const char *p = list;
    while (*p) {
        size_t n = strcspn(p, ",");
        char name[64];
        if (n >= sizeof name)
            return ipfix_error_set(err, IPFIX_ERR_INVALID_ARG, (size_t)(p - list), "fields",
                                   "name too long");
        memcpy(name, p, n);
        name[n] = '\0';
        bool found = n == 0;
        if (strncmp(name, "flowStart", 9) == 0 || strncmp(name, "flowEnd", 7) == 0) {
            if (strcmp(name, "flowEndReason") != 0) {
                m |= IPFIX_FIELD_TIMES;
                found = true;
            }
        }
        for (size_t i = 0; !found && i < sizeof field_names / sizeof field_names[0]; i++) {
            if (strcmp(name, field_names[i].name) == 0) {
                m |= field_names[i].bit;
                found = true;
            }
        }
        if (!found)
            return ipfix_error_set(err, IPFIX_ERR_INVALID_ARG, (size_t)(p - list), "fields",
                                   "'%s' is not a supported non-key field", name);
        p += n;
        if (*p == ',') p++;
    }
    *mask = m;
    return IPFIX_OK;
}

/* RFC 7011 §4.1-4.3 options templates. */
static ipfix_status build_stats_templates(ipfix_exporter *e, ipfix_error *err) {
    static const ipfix_field_spec metering[] = {
        {0, 149, 4}, {0, 143, 4}, {0, 41, 8}, {0, 42, 8}, {0, 40, 8}};
    static const ipfix_field_spec metering_rel[] = {
        {0, 149, 4}, {0, 143, 4}, {0, 164, 8}, {0, 165, 8}, {0, 323, 8}, {0, 323, 8}};
    static const ipfix_field_spec exporting_rel[] = {
        {0, 144, 4}, {0, 166, 8}, {0, 167, 8}, {0, 168, 8}, {0, 323, 8}, {0, 323, 8}};
    ipfix_status st = ipfix_template_new(e->config.model, IPFIX_EXPORT_TEMPLATE_METERING_STATS, 2,
                                         metering, 5, &e->stats_tmpl[0], err);
    if (st == IPFIX_OK)
        st = ipfix_template_new(e->config.model, IPFIX_EXPORT_TEMPLATE_METERING_RELIABILITY, 2,
                                metering_rel, 6, &e->stats_tmpl[1], err);
    if (st == IPFIX_OK)
        st = ipfix_template_new(e->config.model, IPFIX_EXPORT_TEMPLATE_EXPORTING_RELIABILITY, 1,
                                exporting_rel, 6, &e->stats_tmpl[2], err);
    e->stats_count = 3;
    const ipfix_packet_selector *sel = &e->config.sampling;
    if (st != IPFIX_OK || sel->algorithm == IPFIX_SELECTOR_NONE) return st;
    /* RFC 5476 §6.5.2 Selector Report: scope selectorId, the algorithm and
     * its parameters (§6.5.2.1 systematic count, §6.5.2.3 n-out-of-N,
     * §6.5.2.4 uniform probabilistic), then the RFC 5477 counters. */
    ipfix_field_spec report[7] = {{0, 302, 8}, {0, 304, 2}};
    uint16_t n = 2;
    if (sel->algorithm == IPFIX_SELECTOR_SYSTEMATIC_COUNT) {
        report[n++] = (ipfix_field_spec){0, 305, 4};
        report[n++] = (ipfix_field_spec){0, 306, 4};
    } else if (sel->algorithm == IPFIX_SELECTOR_RANDOM_N_OF_N) {
        report[n++] = (ipfix_field_spec){0, 309, 4};
        report[n++] = (ipfix_field_spec){0, 310, 4};
    } else {
        report[n++] = (ipfix_field_spec){0, 311, 8};
    }
    report[n++] = (ipfix_field_spec){0, 318, 8};
    report[n++] = (ipfix_field_spec){0, 319, 8};
    st = ipfix_template_new(e->config.model, IPFIX_EXPORT_TEMPLATE_SELECTOR_REPORT, 1, report, n,
                            &e->stats_tmpl[3], err);
    if (st == IPFIX_OK) e->stats_count = 4;
    return st;
}

/* The Selector Report record (template 261) into rec; its length. */
static size_t encode_selector_report(const ipfix_exporter *e, const ipfix_metering_counters *mc,
                                     uint8_t *rec) {
    const ipfix_packet_selector *sel = &e->config.sampling;
    size_t n = 0;
    ipfix_put_u64(rec, e->config.selector_id);
    ipfix_put_u16(rec + 8, sel->algorithm);
    n = 10;
    if (sel->algorithm == IPFIX_SELECTOR_SYSTEMATIC_COUNT) {
        ipfix_put_u32(rec + n, sel->interval);
        ipfix_put_u32(rec + n + 4, sel->space);
        n += 8;
    } else if (sel->algorithm == IPFIX_SELECTOR_RANDOM_N_OF_N) {
        ipfix_put_u32(rec + n, sel->size);
        ipfix_put_u32(rec + n + 4, sel->population);
        n += 8;
    } else {
        ipfix_value v = {.type = IPFIX_TYPE_FLOAT64};
        v.v.f64 = sel->probability;
        ipfix_value_encode(&v, rec + n, 8);
        n += 8;
    }
    ipfix_put_u64(rec + n, mc ? mc->packets_observed : 0);
    ipfix_put_u64(rec + n + 8, mc ? mc->packets_selected : 0);
    return n + 16;
}

ipfix_status ipfix_exporter_new(const ipfix_exporter_config *config, ipfix_exporter **out,
                                ipfix_error *err) {
    *out = NULL;
    if (!config->model)
        return ipfix_error_set(err, IPFIX_ERR_INVALID_ARG, 0, "export", "no information model");
    ipfix_exporter *e = calloc(1, sizeof *e);
    if (!e) return IPFIX_ERR_NOMEM;
    e->config = *config;
    if (!e->config.udp_max_message) e->config.udp_max_message = 1400;
    ipfix_status st = build_flow_plan(e, 0, err);
    if (st == IPFIX_OK) st = build_flow_plan(e, 1, err);
    if (st == IPFIX_OK) st = build_stats_templates(e, err);
    if (st != IPFIX_OK) {
        ipfix_exporter_close(e, 0, NULL, NULL);
        return st;
    }
    e->all_templates[0] = e->plan[0].tmpl;
    e->all_templates[1] = e->plan[1].tmpl;
    for (unsigned i = 0; i < e->stats_count; i++) e->all_templates[2 + i] = e->stats_tmpl[i];
    *out = e;
    return IPFIX_OK;
}

ipfix_status ipfix_exporter_add_file(ipfix_exporter *e, const char *path, ipfix_error *err) {
    if (e->file)
        return ipfix_error_set(err, IPFIX_ERR_INVALID_ARG, 0, "export", "only one output file");
    ipfix_file_writer_options o;
    ipfix_file_writer_options_init(&o);
    o.observation_domain_id = e->config.observation_domain_id;
    o.model = e->config.model;
    return ipfix_file_writer_open(path, &o, &e->file, err);
}

ipfix_status ipfix_exporter_add_collector(ipfix_exporter *e, const ipfix_endpoint *endpoint,
                                          ipfix_error *err) {
    if (e->link_count == MAX_LINKS)
        return ipfix_error_set(err, IPFIX_ERR_LIMIT, 0, "export", "at most %d collectors",
                               MAX_LINKS);
    collector_link_config lc = {.odid = e->config.observation_domain_id,
                                .max_message = e->config.udp_max_message,
                                .template_refresh_s = e->config.template_refresh_s,
                                .template_refresh_messages = e->config.template_refresh_messages,
                                .queue_bytes = e->config.tcp_queue_bytes,
                                .templates = e->all_templates,
                                .template_count = 2 + e->stats_count,
                                .log = e->config.log,
                                .log_context = e->config.log_context,
                                .sctp_pr_ttl_ms = e->config.sctp_pr_ttl_ms,
                                .sctp_udp_port = e->config.sctp_udp_port};
    if (endpoint->scheme == IPFIX_SCHEME_TLS || endpoint->scheme == IPFIX_SCHEME_DTLS) {
        if (!e->config.tls.cert || !e->config.tls.key || !e->config.tls.ca)
            return ipfix_error_set(err, IPFIX_ERR_INVALID_ARG, 0, "RFC 7011 §11.3",
                                   "%s:// needs a certificate, its key and a CA file",
                                   ipfix_scheme_name(endpoint->scheme));
        lc.tls = &e->config.tls;
    }
    ipfix_status st = collector_link_open(endpoint, &lc, &e->links[e->link_count], err);
    if (st == IPFIX_OK) e->link_count++;
    return st;
}

/* ------------------------------- encoding ------------------------------- */

static void put_time(uint8_t *p, ipfix_time_unit unit, uint64_t ns) {
    if (unit == IPFIX_TIME_MILLISECONDS) {
        ipfix_put_u64(p, ns / 1000000u);
        return;
    }
    ipfix_value v = {.type = unit == IPFIX_TIME_MICROSECONDS ? IPFIX_TYPE_DATE_TIME_MICROSECONDS
                                                             : IPFIX_TYPE_DATE_TIME_NANOSECONDS};
    v.v.time.seconds = (int64_t)(ns / 1000000000u);
    v.v.time.nanoseconds = (uint32_t)(ns % 1000000000u);
    ipfix_value_encode(&v, p, 8);
}

static void encode_flow(const ipfix_exporter *e, const flow_plan *p, const ipfix_flow *f,
                        uint8_t *rec) {
    const ipfix_meter_key *k = &f->key;
    bool icmp = k->protocol == 1 || k->protocol == 58;
    for (unsigned i = 0; i < p->count; i++) {
        uint8_t *o = rec + p->fields[i].offset;
        switch ((field_kind)p->fields[i].kind) {
        case F_SRC4: memcpy(o, k->src, 4); break;
        case F_DST4: memcpy(o, k->dst, 4); break;
        case F_SRC6: memcpy(o, k->src, 16); break;
        case F_DST6: memcpy(o, k->dst, 16); break;
        case F_SRC_PREFIX:
        case F_DST_PREFIX: *o = p->fields[i].constant8; break;
        case F_SRC_PORT: ipfix_put_u16(o, icmp ? 0 : k->src_port); break;
        case F_DST_PORT: ipfix_put_u16(o, icmp ? 0 : k->dst_port); break;
        case F_PROTOCOL: *o = k->protocol; break;
        case F_IP_VERSION: *o = k->ip_version; break;
        case F_VLAN: ipfix_put_u16(o, k->vlan_id); break;
        case F_INGRESS: ipfix_put_u32(o, e->config.ingress_interface); break;
        case F_START: put_time(o, e->config.time_unit, f->first_ns); break;
        case F_END: put_time(o, e->config.time_unit, f->last_ns); break;
        case F_OCTETS: ipfix_put_u64(o, f->octets); break;
        case F_PACKETS: ipfix_put_u64(o, f->packets); break;
        case F_TCP_FLAGS: ipfix_put_u16(o, f->tcp_flags); break;
        case F_TOS: *o = f->tos; break;
        case F_MIN_TTL: *o = f->min_ttl; break;
        case F_MAX_TTL: *o = f->max_ttl; break;
        case F_ICMP: ipfix_put_u16(o, icmp ? k->dst_port : 0); break;
        case F_FLOW_LABEL: ipfix_put_u32(o, f->flow_label); break;
        case F_MPLS:
            o[0] = (uint8_t)(f->mpls_top >> 16);
            o[1] = (uint8_t)(f->mpls_top >> 8);
            o[2] = (uint8_t)f->mpls_top;
            break;
        case F_END_REASON: *o = f->end_reason; break;
        case F_OBS_POINT: ipfix_put_u32(o, e->config.observation_point_id); break;
        case F_EXP_PROCESS: ipfix_put_u32(o, e->config.exporting_process_id); break;
        case F_SELECTOR: ipfix_put_u64(o, e->config.selector_id); break;
        }
    }
}

static void note_file_loss(ipfix_exporter *e, uint64_t packets, uint64_t octets) {
    e->file_lost_flows++;
    e->file_lost_packets += packets;
    e->file_lost_octets += octets;
}

/* Add one record to every destination; the first error is returned. */
static ipfix_status add_everywhere(ipfix_exporter *e, const ipfix_template *t,
                                   const uint8_t *rec, size_t len, uint64_t packets,
                                   uint64_t octets) {
    ipfix_status first = IPFIX_OK;
    if (e->file) {
        ipfix_status st = ipfix_file_writer_add_record(e->file, t, rec, len);
        if (st != IPFIX_OK) {
            note_file_loss(e, packets, octets);
            first = st;
        }
    }
    for (unsigned i = 0; i < e->link_count; i++) {
        ipfix_status st = collector_link_add(e->links[i], t, rec, len, packets, octets);
        if (st != IPFIX_OK && first == IPFIX_OK) first = st;
    }
    return first;
}

ipfix_status ipfix_exporter_flow(void *exporter, const ipfix_flow *flow) {
    ipfix_exporter *e = exporter;
    const flow_plan *p = &e->plan[flow->key.ip_version == 6];
    uint8_t rec[RECORD_MAX];
    encode_flow(e, p, flow, rec);
    e->flows++;
    return add_everywhere(e, p->tmpl, rec, p->length, flow->packets, flow->octets);
}

ipfix_status ipfix_exporter_statistics(ipfix_exporter *e, const ipfix_metering_counters *mc) {
    ipfix_exporter_stats s;
    ipfix_exporter_get_stats(e, &s);
    if (s.not_sent_flows > e->lost_seen) { /* time of loss known to the report period */
        e->last_lost_ms = (uint64_t)time(NULL) * 1000u;
        if (!e->first_lost_ms) e->first_lost_ms = e->last_lost_ms;
        e->lost_seen = s.not_sent_flows;
    }
    uint8_t rec[64];
    uint32_t odid = e->config.observation_domain_id, mpid = e->config.metering_process_id;
    /* §4.1: exported message/flow/octet totals so far */
    ipfix_put_u32(rec, odid);
    ipfix_put_u32(rec + 4, mpid);
    ipfix_put_u64(rec + 8, s.messages);
    ipfix_put_u64(rec + 16, e->flows);
    ipfix_put_u64(rec + 24, s.bytes);
    ipfix_status st = add_everywhere(e, e->stats_tmpl[0], rec, 32, 0, 0);
    /* §4.2: packets the Metering Process ignored */
    ipfix_put_u32(rec, odid);
    ipfix_put_u32(rec + 4, mpid);
    ipfix_put_u64(rec + 8, mc ? mc->ignored_packets : 0);
    ipfix_put_u64(rec + 16, mc ? mc->ignored_octets : 0);
    ipfix_put_u64(rec + 24, mc ? mc->first_ignored_ms : 0);
    ipfix_put_u64(rec + 32, mc ? mc->last_ignored_ms : 0);
    ipfix_status st2 = add_everywhere(e, e->stats_tmpl[1], rec, 40, 0, 0);
    /* §4.3: records the Exporting Process could not send */
    ipfix_put_u32(rec, e->config.exporting_process_id);
    ipfix_put_u64(rec + 4, s.not_sent_flows);
    ipfix_put_u64(rec + 12, s.not_sent_packets);
    ipfix_put_u64(rec + 20, s.not_sent_octets);
    ipfix_put_u64(rec + 28, e->first_lost_ms);
    ipfix_put_u64(rec + 36, e->last_lost_ms);
    ipfix_status st3 = add_everywhere(e, e->stats_tmpl[2], rec, 44, 0, 0);
    if (e->stats_count == 4 && st3 == IPFIX_OK)
        st3 = add_everywhere(e, e->stats_tmpl[3], rec, encode_selector_report(e, mc, rec), 0, 0);
    return st != IPFIX_OK ? st : st2 != IPFIX_OK ? st2 : st3;
}

void ipfix_exporter_tick(ipfix_exporter *e) {
    for (unsigned i = 0; i < e->link_count; i++) collector_link_tick(e->links[i]);
}

void ipfix_exporter_get_stats(const ipfix_exporter *e, ipfix_exporter_stats *s) {
    memset(s, 0, sizeof *s);
    s->flows = e->flows;
    s->not_sent_flows = e->file_lost_flows;
    s->not_sent_packets = e->file_lost_packets;
    s->not_sent_octets = e->file_lost_octets;
    if (e->file) {
        ipfix_file_writer_stats fs;
        ipfix_file_writer_get_stats(e->file, &fs);
        s->messages += fs.messages;
        s->bytes += fs.bytes;
    }
    for (unsigned i = 0; i < e->link_count; i++) {
        collector_link_stats ls;
        collector_link_get_stats(e->links[i], &ls);
        s->messages += ls.messages;
        s->bytes += ls.bytes;
        s->not_sent_flows += ls.lost_records;
        s->not_sent_packets += ls.lost_packets;
        s->not_sent_octets += ls.lost_octets;
        s->reconnects += ls.reconnects;
        s->queued_messages += ls.queued_messages;
    }
}

ipfix_status ipfix_exporter_close(ipfix_exporter *e, unsigned drain_ms,
                                  ipfix_exporter_stats *final, ipfix_error *err) {
    if (!e) return IPFIX_OK;
    ipfix_status st = IPFIX_OK;
    ipfix_exporter_stats s = {.flows = e->flows,
                              .not_sent_flows = e->file_lost_flows,
                              .not_sent_packets = e->file_lost_packets,
                              .not_sent_octets = e->file_lost_octets};
    if (e->file) {
        ipfix_file_writer_stats fs;
        st = ipfix_file_writer_flush(e->file, err);
        ipfix_file_writer_get_stats(e->file, &fs);
        s.messages = fs.messages;
        s.bytes = fs.bytes;
        ipfix_status cst = ipfix_file_writer_close(e->file, err);
        if (st == IPFIX_OK) st = cst;
    }
    for (unsigned i = 0; i < e->link_count; i++) {
        collector_link_stats ls;
        collector_link_close(e->links[i], drain_ms, &ls);
        s.messages += ls.messages;
        s.bytes += ls.bytes;
        s.not_sent_flows += ls.lost_records;
        s.not_sent_packets += ls.lost_packets;
        s.not_sent_octets += ls.lost_octets;
        s.reconnects += ls.reconnects;
    }
    if (final) *final = s;
    for (int v = 0; v < 2; v++)
        if (e->plan[v].tmpl) ipfix_template_unref(e->plan[v].tmpl);
    for (int i = 0; i < 4; i++)
        if (e->stats_tmpl[i]) ipfix_template_unref(e->stats_tmpl[i]);
    free(e);
    return st;
}
