/*
 * cmd_generate.c — `ipfix generate`: writes a realistic, reproducible sample
 * IPFIX File (RFC 5655) for demos, tests and the decode benchmark.
 *
 * Flows come from a small xorshift PRNG seeded by --seed, so the same
 * arguments always give the same bytes (export times are simulated too).
 * The mix: ~90% IPv4 / ~10% IPv6; TCP ~80% (443, 80, 22, ...), UDP ~17%
 * (53, 443/QUIC, 123, ...), ICMP ~3%; packet counts heavy-tailed (Pareto,
 * alpha ~4/3), bytes from per-flow packet sizes; durations grow with
 * packets, capped by a 30-minute active timeout. A Metering Process
 * Statistics options record (RFC 7011 §4.1) is written before the flows,
 * every 100000 flows and at the end.
 *
 * Speed: records are encoded in place (ipfix_file_writer_reserve_record),
 * with no allocation per record; the file writer buffers 1 MiB writes.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/commands.h"
#include "ipfixkit/file.h"
#include "ipfixkit/ipfixkit.h"

#define GEN_DEFAULT_RECORDS 1000u
#define GEN_DEFAULT_START 1704067200u /* 2024-01-01T00:00:00Z: reproducible by default */
#define GEN_STATS_EVERY 100000u
#define GEN_ACTIVE_TIMEOUT_MS 1800000u

enum { TID_FLOW4 = 256, TID_FLOW6 = 257, TID_STATS = 258 };

/* IANA flowEndReason values (RFC 5102 §5.11.3). */
enum { END_IDLE = 1, END_ACTIVE = 2, END_OF_FLOW = 3, END_FORCED = 4, END_RESOURCES = 5 };

/* Fields shared by both flow templates, after the two addresses. */
#define FLOW_COMMON_FIELDS                                                                       \
    {0, IPFIX_IE_SOURCE_TRANSPORT_PORT, 2}, {0, IPFIX_IE_DESTINATION_TRANSPORT_PORT, 2},         \
        {0, IPFIX_IE_PROTOCOL_IDENTIFIER, 1}, {0, IPFIX_IE_TCP_CONTROL_BITS, 2},                 \
        {0, IPFIX_IE_OCTET_DELTA_COUNT, 8}, {0, IPFIX_IE_PACKET_DELTA_COUNT, 8},                 \
        {0, IPFIX_IE_FLOW_START_MILLISECONDS, 8}, {0, IPFIX_IE_FLOW_END_MILLISECONDS, 8},        \
        {0, IPFIX_IE_FLOW_END_REASON, 1}, {0, 10 /* ingressInterface */, 4},                     \
        {0, 5 /* ipClassOfService */, 1}

static const ipfix_field_spec flow4_specs[] = {
    {0, IPFIX_IE_SOURCE_IPV4_ADDRESS, 4}, {0, IPFIX_IE_DESTINATION_IPV4_ADDRESS, 4}, FLOW_COMMON_FIELDS};
static const ipfix_field_spec flow6_specs[] = {
    {0, IPFIX_IE_SOURCE_IPV6_ADDRESS, 16}, {0, IPFIX_IE_DESTINATION_IPV6_ADDRESS, 16}, FLOW_COMMON_FIELDS};
/* RFC 7011 §4.1 Metering Process Statistics: two scopes, three counters. */
static const ipfix_field_spec stats_specs[] = {
    {0, 149 /* observationDomainId */, 4}, {0, 143 /* meteringProcessId */, 4},
    {0, 41 /* exportedMessageTotalCount */, 8}, {0, 42 /* exportedFlowRecordTotalCount */, 8},
    {0, 40 /* exportedOctetTotalCount */, 8}};

#define COMMON_LEN 45u /* bytes of FLOW_COMMON_FIELDS */
#define FLOW4_LEN (8u + COMMON_LEN)
#define FLOW6_LEN (32u + COMMON_LEN)
#define STATS_LEN 32u

/* ---- PRNG: xorshift64* seeded through splitmix64 ---- */

typedef struct gen_rng {
    uint64_t s;
} gen_rng;

static void rng_seed(gen_rng *r, uint64_t seed) {
    uint64_t z = seed + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    r->s = (z ^ (z >> 31)) | 1;
}

static inline uint64_t rng_next(gen_rng *r) {
    uint64_t x = r->s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

/* Uniform in [0, n) (n < 2^32; the bias is negligible here). */
static inline uint32_t rng_below(gen_rng *r, uint32_t n) {
    return (uint32_t)(((rng_next(r) >> 32) * n) >> 32);
}

/* Heavy-tailed count >= 1: P(X >= 2^j) ~ 2^(-4j/3), i.e. Pareto with
 * alpha ~ 4/3, from the leading zeros of a random word (no libm). */
static inline uint64_t rng_heavy(gen_rng *r, unsigned max_bits) {
    unsigned k = (unsigned)__builtin_clzll(rng_next(r) | 1) * 3u / 4u;
    if (k > max_bits) k = max_bits;
    uint64_t base = 1ull << k;
    return base + (rng_next(r) & (base - 1));
}

/* ---- the flow model ---- */

typedef struct gen_flow {
    uint16_t sport, dport, tcp_flags;
    uint8_t proto, reason, tos;
    uint32_t ingress;
    uint64_t packets, octets, start_ms, end_ms;
    bool reply; /* sent by the server (source port is the service) */
} gen_flow;

typedef struct gen_weighted {
    uint16_t value;
    uint16_t weight; /* cumulative, out of 1000 */
} gen_weighted;

static const gen_weighted tcp_ports[] = {
    {443, 550}, {80, 700}, {22, 730}, {8080, 760}, {8443, 780}, {993, 800},
    {25, 815},  {3389, 830}, {445, 845}, {5222, 855}, {0, 1000} /* 0: random */};
static const gen_weighted udp_ports[] = {
    {53, 500}, {443, 750}, {123, 850}, {4500, 880}, {161, 900}, {514, 915}, {1194, 930}, {0, 1000}};
static const gen_weighted icmp_types[] = {
    {0x0800, 450} /* echo request */, {0x0000, 850} /* echo reply */,
    {0x0303, 950} /* port unreachable */, {0x0b00, 1000} /* time exceeded */};

static uint16_t pick(gen_rng *r, const gen_weighted *table) {
    uint32_t x = rng_below(r, 1000);
    for (;; table++)
        if (x < table->weight) return table->value;
}

static void gen_ports(gen_rng *r, gen_flow *f) {
    uint32_t p = rng_below(r, 1000);
    uint16_t ephemeral = (uint16_t)(32768 + rng_below(r, 28232));
    if (p < 800) {
        f->proto = 6;
        uint16_t service = pick(r, tcp_ports);
        f->dport = service ? service : (uint16_t)(1024 + rng_below(r, 64511));
    } else if (p < 970) {
        f->proto = 17;
        uint16_t service = pick(r, udp_ports);
        f->dport = service ? service : (uint16_t)(1024 + rng_below(r, 64511));
    } else {
        f->proto = 1;
        f->sport = 0;
        f->dport = pick(r, icmp_types); /* ICMP type/code in the destination port, as exporters do */
        f->reply = f->dport != 0x0800;
        return;
    }
    f->sport = ephemeral;
    f->reply = rng_below(r, 2);
    if (f->reply) { /* the server's answer: ports swapped */
        f->sport = f->dport;
        f->dport = ephemeral;
    }
}

static void gen_counters(gen_rng *r, gen_flow *f) {
    if (f->proto == 1) {
        f->packets = 1 + rng_below(r, 4);
        f->octets = f->packets * 84u;
    } else if (f->proto == 17 && (f->sport == 53 || f->dport == 53 || f->sport == 123 || f->dport == 123)) {
        f->packets = 1 + (rng_below(r, 10) == 0);
        f->octets = f->packets * (60u + rng_below(r, 300));
    } else {
        /* Heavy tail from a log-uniform floor: a few packets typical, a
         * handful of elephants with millions. */
        f->packets = rng_heavy(r, 24) * (1u + rng_below(r, 8));
        if (f->proto == 6 && rng_below(r, 5) == 0) f->packets = 1 + rng_below(r, 2); /* scans, resets */
        uint32_t kind = rng_below(r, 10);
        uint64_t size = f->packets <= 3 || kind < 4 ? 40u + rng_below(r, 80) /* handshakes, acks */
                        : kind < 8 ? 120u + rng_below(r, 1380)              /* mixed */
                                   : 1400u + rng_below(r, 101);             /* bulk */
        f->octets = f->packets * size;
    }
}

static void gen_times(gen_rng *r, gen_flow *f, uint64_t start_ms) {
    f->start_ms = start_ms;
    uint64_t duration = 0;
    if (f->packets > 1) duration = (f->packets - 1) * (1u + rng_below(r, 200));
    if (duration >= GEN_ACTIVE_TIMEOUT_MS) {
        duration = GEN_ACTIVE_TIMEOUT_MS;
        f->reason = END_ACTIVE;
    } else {
        uint32_t x = rng_below(r, 1000);
        if (f->proto == 6)
            f->reason = x < 650 ? END_OF_FLOW : x < 980 ? END_IDLE : x < 995 ? END_FORCED : END_RESOURCES;
        else
            f->reason = x < 990 ? END_IDLE : END_FORCED;
    }
    f->end_ms = start_ms + duration;
}

static void gen_flags(gen_rng *r, gen_flow *f) {
    if (f->proto != 6) {
        f->tcp_flags = 0;
        return;
    }
    uint32_t x = rng_below(r, 100);
    if (f->packets <= 2) {
        if (!f->reply)
            f->tcp_flags = x < 80 ? 0x02 /* SYN */ : 0x10 /* ACK */;
        else
            f->tcp_flags = x < 60 ? 0x12 /* SYN|ACK */ : 0x14 /* RST|ACK */;
        if (f->reason != END_ACTIVE) f->reason = f->tcp_flags & 0x04 ? END_OF_FLOW : END_IDLE;
    }
    else if (f->reason == END_OF_FLOW)
        f->tcp_flags = x < 85 ? 0x1b /* FIN|SYN|PSH|ACK */ : 0x1e /* RST|SYN|PSH|ACK */;
    else
        f->tcp_flags = x < 90 ? 0x1a /* SYN|PSH|ACK */ : 0x10;
}

static void gen_flow_next(gen_rng *r, gen_flow *f, uint64_t start_ms) {
    gen_ports(r, f);
    gen_counters(r, f);
    gen_times(r, f, start_ms);
    gen_flags(r, f);
    uint32_t t = rng_below(r, 100);
    f->tos = t < 85 ? 0 : t < 92 ? 0x28 : t < 97 ? 0xb8 : 0x48;
    uint32_t i = rng_below(r, 100);
    f->ingress = i < 60 ? 1 : i < 85 ? 2 : i < 95 ? 3 : 4;
}

/* Internal hosts: a popular few and a long tail in 10.0.0.0/16. */
static uint32_t gen_inside4(gen_rng *r) {
    uint32_t host = rng_below(r, 8) ? rng_below(r, 256) : rng_below(r, 65536);
    return 0x0a000000u | host;
}

/* Outside: popular servers in a few public /8s, and random addresses. */
static uint32_t gen_outside4(gen_rng *r) {
    static const uint8_t nets[] = {23, 31, 34, 35, 52, 54, 104, 142, 151, 157, 185, 199, 216};
    uint32_t net = nets[rng_below(r, sizeof nets)];
    uint32_t host = rng_below(r, 4) ? rng_below(r, 1024) * 2654435761u : (uint32_t)rng_next(r);
    return net << 24 | (host & 0x00ffffffu);
}

static void gen_addresses4(gen_rng *r, const gen_flow *f, uint8_t *p) {
    uint32_t in = gen_inside4(r), out = gen_outside4(r);
    bool outbound = !f->reply; /* clients are inside */
    ipfix_put_u32(p, outbound ? in : out);
    ipfix_put_u32(p + 4, outbound ? out : in);
}

/* IPv6 from the documentation prefix 2001:db8::/32 (RFC 3849). */
static void gen_address6(gen_rng *r, uint8_t *p, bool inside) {
    ipfix_put_u32(p, 0x20010db8u);
    ipfix_put_u32(p + 4, inside ? 0x00010000u | rng_below(r, 16) : 0xff000000u | rng_below(r, 4096));
    ipfix_put_u64(p + 8, inside ? rng_below(r, 512) + 1 : rng_next(r));
}

static void gen_addresses6(gen_rng *r, const gen_flow *f, uint8_t *p) {
    bool outbound = !f->reply;
    gen_address6(r, p, outbound);
    gen_address6(r, p + 16, !outbound);
}

static void encode_common(const gen_flow *f, uint8_t *p) {
    ipfix_put_u16(p, f->sport);
    ipfix_put_u16(p + 2, f->dport);
    p[4] = f->proto;
    ipfix_put_u16(p + 5, f->tcp_flags);
    ipfix_put_u64(p + 7, f->octets);
    ipfix_put_u64(p + 15, f->packets);
    ipfix_put_u64(p + 23, f->start_ms);
    ipfix_put_u64(p + 31, f->end_ms);
    p[39] = f->reason;
    ipfix_put_u32(p + 40, f->ingress);
    p[44] = f->tos;
}

/* ---- command line ---- */

typedef struct gen_options {
    uint64_t records;
    uint64_t seed;
    uint32_t odid;
    uint64_t start;     /* seconds since the epoch */
    const char *output;
    bool quiet;
} gen_options;

static void usage(FILE *out) {
    fprintf(out,
            "usage: ipfix generate [-n RECORDS] [--seed N] [--odid N] [--start TIME] [-q] -w FILE\n\n"
            "Write a realistic sample IPFIX File (RFC 5655): IPv4 and IPv6 (~10%%) flow\n"
            "records (addresses, ports, protocol, TCP flags, octets, packets, start/end\n"
            "in milliseconds, end reason, ingress interface, class of service) and\n"
            "Metering Process Statistics options records (RFC 7011 §4.1). The same\n"
            "arguments always produce the same file.\n\n"
            "options:\n"
            "  -n, --records N   flow records to write (default %u; suffixes k, M, G)\n"
            "      --seed N      seed of the pseudo-random generator (default 1)\n"
            "      --odid N      Observation Domain ID (default 1)\n"
            "      --start TIME  first flow start: seconds since the epoch or\n"
            "                    YYYY-MM-DD[THH:MM:SS[Z]] in UTC (default 2024-01-01)\n"
            "  -w, -o FILE       output file; '-' writes to standard output. The file\n"
            "                    appears only when complete (written as FILE.tmp-*)\n"
            "  -q, --quiet       no summary on standard error\n"
            "  -h, --help        this help\n",
            GEN_DEFAULT_RECORDS);
}

static bool parse_u64(const char *s, uint64_t max, bool suffixes, uint64_t *out) {
    if (!s || !*s || *s == '-') return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || end == s) return false;
    uint64_t mul = 1;
    if (suffixes && *end) {
        if (*end == 'k' || *end == 'K') mul = 1000ull;
        else if (*end == 'M') mul = 1000000ull;
        else if (*end == 'G') mul = 1000000000ull;
        else return false;
        end++;
    }
    if (*end || v > max / mul) return false;
    *out = v * mul;
    return true;
}

static bool parse_time(const char *s, uint64_t *out) {
    if (parse_u64(s, UINT32_MAX, false, out)) return true;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    char tail[8] = "";
    int n = sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%7s", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                   &tm.tm_min, &tm.tm_sec, tail);
    if (n != 3 && n != 6 && !(n == 7 && strcmp(tail, "Z") == 0)) return false;
    if (n == 3 && strlen(s) != 10) return false;
    if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31) return false;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t = timegm(&tm);
    if (t < 0 || (uint64_t)t > UINT32_MAX) return false;
    *out = (uint64_t)t;
    return true;
}

/* "--name=value" or "--name value" / "-x value". NULL if `arg` is not `name`. */
static const char *option_value(int argc, char **argv, int *i, const char *short_name,
                                const char *long_name, bool *missing) {
    const char *arg = argv[*i];
    size_t n = long_name ? strlen(long_name) : 0;
    if (long_name && strncmp(arg, long_name, n) == 0 && arg[n] == '=') return arg + n + 1;
    if ((short_name && strcmp(arg, short_name) == 0) || (long_name && strcmp(arg, long_name) == 0)) {
        if (*i + 1 >= argc) {
            *missing = true;
            return NULL;
        }
        return argv[++*i];
    }
    return NULL;
}

/* 0 ok, IPFIX_EXIT_USAGE on error, -1 for --help. */
static int parse_args(int argc, char **argv, gen_options *o) {
    *o = (gen_options){.records = GEN_DEFAULT_RECORDS, .seed = 1, .odid = 1, .start = GEN_DEFAULT_START};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        bool missing = false;
        uint64_t x;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) return -1;
        if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
            o->quiet = true;
        } else if ((v = option_value(argc, argv, &i, "-n", "--records", &missing))) {
            if (!parse_u64(v, UINT64_MAX / 2, true, &o->records)) goto bad_value;
        } else if ((v = option_value(argc, argv, &i, NULL, "--seed", &missing))) {
            if (!parse_u64(v, UINT64_MAX, false, &o->seed)) goto bad_value;
        } else if ((v = option_value(argc, argv, &i, NULL, "--odid", &missing))) {
            if (!parse_u64(v, UINT32_MAX, false, &x)) goto bad_value;
            o->odid = (uint32_t)x;
        } else if ((v = option_value(argc, argv, &i, NULL, "--start", &missing))) {
            if (!parse_time(v, &o->start)) goto bad_value;
        } else if ((v = option_value(argc, argv, &i, "-w", "--output", &missing)) ||
                   (!missing && (v = option_value(argc, argv, &i, "-o", NULL, &missing)))) {
            o->output = v;
        } else {
            if (missing)
                fprintf(stderr, "ipfix generate: option %s needs a value\n", a);
            else
                fprintf(stderr, "ipfix generate: unknown argument '%s'\n", a);
            return IPFIX_EXIT_USAGE;
        }
        continue;
    bad_value:
        fprintf(stderr, "ipfix generate: bad value '%s' for %s\n", v, a);
        return IPFIX_EXIT_USAGE;
    }
    if (!o->output) {
        fprintf(stderr, "ipfix generate: no output file (use -w FILE, or -w - for standard output)\n");
        return IPFIX_EXIT_USAGE;
    }
    return 0;
}

/* ---- writing ---- */

typedef struct gen_state {
    ipfix_file_writer *w;
    ipfix_template *flow4, *flow6, *stats;
    uint32_t odid;
    uint32_t export_time;  /* simulated: the latest flow end seen, in seconds */
    uint64_t flows;
} gen_state;

static uint32_t gen_clock(void *context) {
    return ((const gen_state *)context)->export_time;
}

static ipfix_status write_stats(gen_state *g) {
    uint8_t *p = ipfix_file_writer_reserve_record(g->w, g->stats, STATS_LEN);
    if (!p) return ipfix_file_writer_last_error(g->w)->status;
    ipfix_file_writer_stats ws;
    ipfix_file_writer_get_stats(g->w, &ws);
    ipfix_put_u32(p, g->odid);
    ipfix_put_u32(p + 4, 1); /* meteringProcessId */
    ipfix_put_u64(p + 8, ws.messages);
    ipfix_put_u64(p + 16, g->flows);
    ipfix_put_u64(p + 24, ws.bytes);
    return ipfix_file_writer_commit_record(g->w, STATS_LEN);
}

static ipfix_status make_templates(gen_state *g, ipfix_error *err) {
    ipfix_status st = ipfix_template_new(NULL, TID_FLOW4, 0, flow4_specs, 13, &g->flow4, err);
    if (st == IPFIX_OK) st = ipfix_template_new(NULL, TID_FLOW6, 0, flow6_specs, 13, &g->flow6, err);
    if (st == IPFIX_OK) st = ipfix_template_new(NULL, TID_STATS, 2, stats_specs, 5, &g->stats, err);
    return st;
}

static ipfix_status generate(gen_state *g, const gen_options *o) {
    /* Templates and options first (RFC 5655 §7.2). */
    ipfix_status st = ipfix_file_writer_add_template(g->w, g->flow4);
    if (st == IPFIX_OK) st = ipfix_file_writer_add_template(g->w, g->flow6);
    if (st == IPFIX_OK) st = ipfix_file_writer_add_template(g->w, g->stats);
    if (st == IPFIX_OK) st = write_stats(g);
    gen_rng r;
    rng_seed(&r, o->seed);
    uint64_t clock_ms = o->start * 1000u;
    gen_flow f;
    for (uint64_t i = 0; i < o->records && st == IPFIX_OK; i++) {
        clock_ms += rng_below(&r, 3); /* ~1000 flows per second */
        gen_flow_next(&r, &f, clock_ms);
        bool v6 = rng_below(&r, 10) == 0;
        uint8_t *p = ipfix_file_writer_reserve_record(g->w, v6 ? g->flow6 : g->flow4,
                                                      v6 ? FLOW6_LEN : FLOW4_LEN);
        if (!p) return ipfix_file_writer_last_error(g->w)->status;
        if (v6) {
            gen_addresses6(&r, &f, p);
            encode_common(&f, p + 32);
        } else {
            gen_addresses4(&r, &f, p);
            encode_common(&f, p + 8);
        }
        st = ipfix_file_writer_commit_record(g->w, v6 ? FLOW6_LEN : FLOW4_LEN);
        g->flows++;
        uint32_t end_s = (uint32_t)(f.end_ms / 1000u);
        if (end_s > g->export_time) g->export_time = end_s;
        if (st == IPFIX_OK && g->flows % GEN_STATS_EVERY == 0) st = write_stats(g);
    }
    if (st == IPFIX_OK && g->flows % GEN_STATS_EVERY != 0) st = write_stats(g);
    return st;
}

int ipfix_cmd_generate(int argc, char **argv) {
    gen_options o;
    int rc = parse_args(argc, argv, &o);
    if (rc < 0) {
        usage(stdout);
        return IPFIX_EXIT_OK;
    }
    if (rc) {
        usage(stderr);
        return rc;
    }
    gen_state g = {.odid = o.odid, .export_time = (uint32_t)o.start};
    ipfix_error err;
    ipfix_error_clear(&err);
    if (make_templates(&g, &err) != IPFIX_OK) {
        fprintf(stderr, "ipfix generate: template: %s (%s)\n", err.rule, err.detail);
        rc = IPFIX_EXIT_FAILURE;
        goto done;
    }
    ipfix_file_writer_options wo;
    ipfix_file_writer_options_init(&wo);
    wo.observation_domain_id = o.odid;
    wo.clock = gen_clock;
    wo.clock_context = &g;
    if (ipfix_file_writer_open(o.output, &wo, &g.w, &err) != IPFIX_OK) {
        fprintf(stderr, "ipfix generate: %s\n", err.detail[0] ? err.detail : err.rule);
        rc = IPFIX_EXIT_FAILURE;
        goto done;
    }
    ipfix_status st = generate(&g, &o);
    if (st != IPFIX_OK) {
        const ipfix_error *e = ipfix_file_writer_last_error(g.w);
        fprintf(stderr, "ipfix generate: %s: %s\n", e->rule ? e->rule : ipfix_status_string(st), e->detail);
        ipfix_file_writer_abort(g.w);
        rc = IPFIX_EXIT_FAILURE;
        goto done;
    }
    if (ipfix_file_writer_close(g.w, &err) != IPFIX_OK) {
        fprintf(stderr, "ipfix generate: %s\n", err.detail[0] ? err.detail : err.rule);
        rc = IPFIX_EXIT_FAILURE;
        goto done;
    }
    if (!o.quiet)
        fprintf(stderr, "ipfix generate: wrote %" PRIu64 " flow records to %s\n", g.flows,
                strcmp(o.output, "-") == 0 ? "standard output" : o.output);
    rc = IPFIX_EXIT_OK;
done:
    if (g.flow4) ipfix_template_unref(g.flow4);
    if (g.flow6) ipfix_template_unref(g.flow6);
    if (g.stats) ipfix_template_unref(g.stats);
    return rc;
}
