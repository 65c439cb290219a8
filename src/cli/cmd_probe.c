/*
 * cmd_probe.c — `ipfix probe`: the Metering and Exporting Processes of an
 * IPFIX Exporter (RFC 7011 §2, RFC 3917). Reads packets from a pcap/pcapng
 * file (-r, packet timestamps drive all timeouts, so a trace replays
 * deterministically and as fast as the machine allows) or a live interface
 * (-i, libpcap), meters them into Flows (src/meter) and exports the Flows to
 * Collectors over UDP/TCP/TLS/DTLS and/or an IPFIX File (src/export). TLS
 * and DTLS collectors (tls://, dtls://, RFC 7011 §11) take
 * --cert/--key/--ca/--peer-name; connection state changes of TCP/TLS/DTLS
 * collectors (connected, refused and
 * why, lost) are printed on stderr as they happen.
 *
 * Threads. A file is metered by one worker in the main thread. A live
 * interface can be spread over `--threads N` workers: each opens its own
 * libpcap ring (TPACKET_V3) on the interface and joins one PACKET_FANOUT
 * group (hash of the flow, fragments defragmented first so they reach the
 * worker of their flow), and has its own selector and flow cache (a share
 * of the memory budget), so the packet path takes no lock. Expired flows
 * go to the one exporter under a mutex; the main thread does the exporter's
 * housekeeping and statistics, reading each worker's counters under that
 * worker's lock (held per dispatch batch).
 *
 * Packets that cannot be metered are counted by reason and reported as
 * ignored packets (RFC 7011 §4.2, RFC 3917 §5.1/5.3 overload); capture
 * drops reported by the kernel count too. The summary on stderr lists
 * packets, flows, expiry reasons, records exported and lost.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <net/if.h>
#include <linux/if_packet.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/commands.h"
#include "ipfixkit/export.h"
#include "ipfixkit/ipfixkit.h"
#include "ipfixkit/meter.h"
#include "ipfixkit/uri.h"
#include "meter/pcap_reader.h"

#define MAX_COLLECTORS 16
#define MAX_THREADS 64
#define DISPATCH_BATCH 4096
#define METER_BATCH 256
#define NS_PER_S 1000000000ull

typedef struct probe_options {
    const char *read_file, *interface, *filter, *write_file, *keys, *fields, *sample;
    uint64_t sample_seed;
    const char *collectors[MAX_COLLECTORS];
    unsigned collector_count;
    double idle_s, active_s, fin_s;
    size_t memory;
    ipfix_exporter_config export;
    unsigned stats_interval_s;
    int snaplen;
    bool promisc, quiet;
    int progress; /* -1 auto, 0 off, 1 on */
    bool ingress_set;
    unsigned threads;   /* live capture workers (PACKET_FANOUT) */
} probe_options;

typedef struct probe probe;

/* One metering worker: its packet source, Selector, Flow Cache, counters. */
typedef struct probe_worker {
    probe *probe;
    unsigned index;
    pcap_t *pcap;               /* libpcap: live, pcapng, or with a filter */
    ipfix_pcap_reader *reader;  /* mmap: classic pcap files without a filter */
    int linktype;
    ipfix_packet_selector selector; /* PSAMP selection before parsing */
    ipfix_flow_cache *cache;
    uint64_t frames;
    uint64_t parse_counts[IPFIX_PARSE_RESULT_COUNT];
    ipfix_metering_counters ignored;
    uint64_t capture_drops;
    ipfix_packet batch[METER_BATCH]; /* parsed, waiting for the flow cache */
    size_t batch_count;
    pthread_mutex_t lock;       /* threads: held per dispatch batch; counters read under it */
    pthread_t thread;
    bool started;
    int exit_code;
} probe_worker;

struct probe {
    probe_options opt;
    probe_worker *workers;
    unsigned worker_count;
    ipfix_exporter *exporter;
    pthread_mutex_t export_lock; /* threads: serialises the exporter */
    FILE *file;       /* -r through libpcap: for progress */
    long file_size;
};

/* Counters summed over the workers (for statistics and the summary). */
typedef struct probe_totals {
    uint64_t frames;
    uint64_t parse_counts[IPFIX_PARSE_RESULT_COUNT];
    uint64_t capture_drops;
    uint64_t observed, selected;
    ipfix_metering_counters counters;
    ipfix_flow_cache_stats cache;
} probe_totals;

static volatile sig_atomic_t stop_requested;
static pcap_t *signal_pcap;

static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
    if (signal_pcap) pcap_breakloop(signal_pcap);
}

static void usage(FILE *out) {
    fprintf(out,
        "usage: ipfix probe (-r FILE | -i IFACE) (-e URI... | -w FILE) [options]\n"
        "\n"
        "Meter packets into flows and export them with IPFIX (RFC 7011).\n"
        "\n"
        "packet source:\n"
        "  -r, --read FILE          pcap or pcapng file (packet timestamps drive timeouts)\n"
        "  -i, --interface IFACE    live capture (libpcap)\n"
        "  -f, --filter EXPR        BPF filter\n"
        "      --snaplen N          live capture snap length (default 256)\n"
        "      --no-promisc         do not put the interface in promiscuous mode\n"
        "      --threads N          live capture on N worker threads, each with its own\n"
        "                           ring and flow cache, flows spread by PACKET_FANOUT hash\n"
        "                           (default 1; the -m budget is shared out)\n"
        "export:\n"
        "  -e, --export URI         collector udp://host:port, tcp://host:port,\n"
        "                           tls://host:port, dtls://host:port,\n"
        "                           sctp://host:port (native SCTP over raw IP: root or\n"
        "                           CAP_NET_RAW) or sctp+udp://host:port (SCTP over UDP\n"
        "                           encapsulation, RFC 6951); default port 4739, 4740 for\n"
        "                           tls and dtls (repeatable)\n"
        "  -w, --write FILE         IPFIX file (RFC 5655); '-' for stdout\n"
        "      --odid N             observation domain ID (default 0)\n"
        "      --observation-point-id N, --exporting-process-id N, --metering-process-id N\n"
        "      --ingress-interface N  ingressInterface value (default: the interface index\n"
        "                           with -i, 0 with -r)\n"
        "      --max-message N      UDP message size limit (default 1400: fits a 1500 MTU);\n"
        "                           dtls://: the DTLS record's (messages 37 bytes less)\n"
        "      --template-refresh S UDP template refresh interval (default 60 s)\n"
        "      --template-refresh-messages N  ... and message count (default 100)\n"
        "      --time-unit U        ms (default), us or ns flow timestamps\n"
        "      --stats-interval S   statistics options records every S s (default 60; 0 end only)\n"
        "SCTP (sctp://, sctp+udp:// collectors, RFC 7011 §10.2; templates on stream 0 and\n"
        "statistics on stream 2 fully reliable, flow records on stream 1):\n"
        "      --sctp-pr-ttl MS     flow records with PR-SCTP timed reliability: abandoned\n"
        "                           after MS ms (RFC 3758); 0 = fully reliable (default)\n"
        "      --sctp-udp-port N    local UDP encapsulation port (default: any free one)\n"
        "TLS and DTLS (tls://, dtls:// collectors, RFC 7011 §11; mutual X.509 auth):\n"
        "      --cert FILE          our certificate (PEM; chain may follow)\n"
        "      --key FILE           its private key (PEM)\n"
        "      --ca FILE            CA certificate(s) the collector's certificate must chain to\n"
        "      --crl FILE           revocation list(s) of the CA (PEM): a revoked collector\n"
        "                           certificate is refused\n"
        "      --peer-name NAME     name (DNS or IP) the collector's certificate must carry,\n"
        "                           in subjectAltName or CN (repeatable; default: the host\n"
        "                           of the tls:// or dtls:// URI)\n"
        "flow definition and cache:\n"
        "      --keys LIST          key fields, e.g. sourceIPv4Address/24,destinationIPv4Address\n"
        "                           (default: 5-tuple + ipVersion + ingressInterface)\n"
        "      --fields LIST        non-key fields, e.g. flowStartMilliseconds,packetDeltaCount\n"
        "                           (default: all: times, octet/packet deltas, tcpControlBits,\n"
        "                           ipClassOfService, minimumTTL, maximumTTL, icmpTypeCode*,\n"
        "                           flowLabelIPv6, mplsTopLabelStackSection, flowEndReason,\n"
        "                           observationPointId, exportingProcessId)\n"
        "      --idle-timeout S     default 15\n"
        "      --active-timeout S   default 1800\n"
        "      --fin-timeout S      end a TCP flow S s after FIN/RST (default 2)\n"
        "  -m, --memory SIZE        flow cache budget, e.g. 64M, 1G (default 128M)\n"
        "packet sampling (PSAMP, RFC 5475; reported in Selector Report options records):\n"
        "  -s, --sample SPEC        N: 1 packet in every N (systematic count-based);\n"
        "                           count:n/N: n consecutive packets in every N;\n"
        "                           random:N or random:n/N: n random packets in every N;\n"
        "                           probability:P: each packet with probability P\n"
        "      --sample-seed N      seed of the random selectors (default fixed: replayable)\n"
        "other:\n"
        "  -q, --quiet              no summary\n"
        "      --progress, --no-progress  progress on stderr (default: when a terminal)\n"
        "  -h, --help\n"
        "\n"
        "Flow end reasons (flowEndReason): idleTimeout, activeTimeout, endOfFlowDetected\n"
        "(TCP FIN/RST), forcedEnd (end of input), lackOfResources (cache full).\n");
}

enum {
    OPT_SNAPLEN = 256, OPT_NO_PROMISC, OPT_ODID, OPT_OBS_POINT, OPT_EXP_PROCESS, OPT_MET_PROCESS,
    OPT_INGRESS, OPT_MAX_MESSAGE, OPT_REFRESH, OPT_REFRESH_MSGS, OPT_TIME_UNIT, OPT_STATS,
    OPT_KEYS, OPT_FIELDS, OPT_IDLE, OPT_ACTIVE, OPT_FIN, OPT_PROGRESS, OPT_NO_PROGRESS,
    OPT_SAMPLE_SEED, OPT_THREADS, OPT_CERT, OPT_KEY, OPT_CA, OPT_CRL, OPT_PEER_NAME,
    OPT_SCTP_PR_TTL, OPT_SCTP_UDP_PORT
};

static bool parse_u64(const char *s, uint64_t max, uint64_t *out) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || end == s || *end || v > max || s[0] == '-') return false;
    *out = v;
    return true;
}

static bool parse_seconds(const char *s, double *out) {
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v >= 0) || v > 1e9) return false;
    *out = v;
    return true;
}

static bool parse_size(const char *s, size_t *out) {
    char *end;
    double v = strtod(s, &end);
    double mult = 1;
    if (*end == 'k' || *end == 'K') mult = 1024.0, end++;
    else if (*end == 'm' || *end == 'M') mult = 1048576.0, end++;
    else if (*end == 'g' || *end == 'G') mult = 1073741824.0, end++;
    if (end == s || *end || !(v > 0) || v * mult > 1e12) return false;
    *out = (size_t)(v * mult);
    return true;
}

static int parse_options(int argc, char **argv, probe_options *o) {
    static const struct option longopts[] = {
        {"read", required_argument, 0, 'r'},      {"interface", required_argument, 0, 'i'},
        {"filter", required_argument, 0, 'f'},    {"export", required_argument, 0, 'e'},
        {"write", required_argument, 0, 'w'},     {"memory", required_argument, 0, 'm'},
        {"quiet", no_argument, 0, 'q'},           {"help", no_argument, 0, 'h'},
        {"sample", required_argument, 0, 's'},
        {"sample-seed", required_argument, 0, OPT_SAMPLE_SEED},
        {"threads", required_argument, 0, OPT_THREADS},
        {"snaplen", required_argument, 0, OPT_SNAPLEN},
        {"no-promisc", no_argument, 0, OPT_NO_PROMISC},
        {"odid", required_argument, 0, OPT_ODID},
        {"observation-point-id", required_argument, 0, OPT_OBS_POINT},
        {"exporting-process-id", required_argument, 0, OPT_EXP_PROCESS},
        {"metering-process-id", required_argument, 0, OPT_MET_PROCESS},
        {"ingress-interface", required_argument, 0, OPT_INGRESS},
        {"max-message", required_argument, 0, OPT_MAX_MESSAGE},
        {"template-refresh", required_argument, 0, OPT_REFRESH},
        {"template-refresh-messages", required_argument, 0, OPT_REFRESH_MSGS},
        {"time-unit", required_argument, 0, OPT_TIME_UNIT},
        {"stats-interval", required_argument, 0, OPT_STATS},
        {"keys", required_argument, 0, OPT_KEYS},
        {"fields", required_argument, 0, OPT_FIELDS},
        {"idle-timeout", required_argument, 0, OPT_IDLE},
        {"active-timeout", required_argument, 0, OPT_ACTIVE},
        {"fin-timeout", required_argument, 0, OPT_FIN},
        {"progress", no_argument, 0, OPT_PROGRESS},
        {"no-progress", no_argument, 0, OPT_NO_PROGRESS},
        {"cert", required_argument, 0, OPT_CERT},
        {"key", required_argument, 0, OPT_KEY},
        {"ca", required_argument, 0, OPT_CA},
        {"crl", required_argument, 0, OPT_CRL},
        {"peer-name", required_argument, 0, OPT_PEER_NAME},
        {"sctp-pr-ttl", required_argument, 0, OPT_SCTP_PR_TTL},
        {"sctp-udp-port", required_argument, 0, OPT_SCTP_UDP_PORT},
        {0, 0, 0, 0}};
    uint64_t v = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "r:i:f:e:w:m:s:qh", longopts, NULL)) != -1) {
        bool ok = true;
        switch (c) {
        case 'r': o->read_file = optarg; break;
        case 'i': o->interface = optarg; break;
        case 'f': o->filter = optarg; break;
        case 'w': o->write_file = optarg; break;
        case 'e':
            if (o->collector_count == MAX_COLLECTORS) {
                fprintf(stderr, "ipfix probe: at most %d collectors\n", MAX_COLLECTORS);
                return IPFIX_EXIT_USAGE;
            }
            o->collectors[o->collector_count++] = optarg;
            break;
        case 'm': ok = parse_size(optarg, &o->memory); break;
        case 'q': o->quiet = true; break;
        case 's': o->sample = optarg; break;
        case OPT_SAMPLE_SEED: ok = parse_u64(optarg, UINT64_MAX, &o->sample_seed); break;
        case OPT_THREADS: ok = parse_u64(optarg, MAX_THREADS, &v) && v >= 1; o->threads = (unsigned)v; break;
        case 'h': usage(stdout); return -1;
        case OPT_SNAPLEN: ok = parse_u64(optarg, 262144, &v) && v >= 64; o->snaplen = (int)v; break;
        case OPT_NO_PROMISC: o->promisc = false; break;
        case OPT_ODID: ok = parse_u64(optarg, UINT32_MAX, &v); o->export.observation_domain_id = (uint32_t)v; break;
        case OPT_OBS_POINT: ok = parse_u64(optarg, UINT32_MAX, &v); o->export.observation_point_id = (uint32_t)v; break;
        case OPT_EXP_PROCESS: ok = parse_u64(optarg, UINT32_MAX, &v); o->export.exporting_process_id = (uint32_t)v; break;
        case OPT_MET_PROCESS: ok = parse_u64(optarg, UINT32_MAX, &v); o->export.metering_process_id = (uint32_t)v; break;
        case OPT_INGRESS: ok = parse_u64(optarg, UINT32_MAX, &v); o->export.ingress_interface = (uint32_t)v; o->ingress_set = true; break;
        case OPT_MAX_MESSAGE: ok = parse_u64(optarg, 65535, &v) && v >= 256; o->export.udp_max_message = (size_t)v; break;
        case OPT_REFRESH: ok = parse_u64(optarg, 86400, &v); o->export.template_refresh_s = (unsigned)v; break;
        case OPT_REFRESH_MSGS: ok = parse_u64(optarg, 1000000, &v); o->export.template_refresh_messages = (unsigned)v; break;
        case OPT_TIME_UNIT:
            if (strcmp(optarg, "ms") == 0) o->export.time_unit = IPFIX_TIME_MILLISECONDS;
            else if (strcmp(optarg, "us") == 0) o->export.time_unit = IPFIX_TIME_MICROSECONDS;
            else if (strcmp(optarg, "ns") == 0) o->export.time_unit = IPFIX_TIME_NANOSECONDS;
            else ok = false;
            break;
        case OPT_STATS: ok = parse_u64(optarg, 86400, &v); o->stats_interval_s = (unsigned)v; break;
        case OPT_KEYS: o->keys = optarg; break;
        case OPT_FIELDS: o->fields = optarg; break;
        case OPT_IDLE: ok = parse_seconds(optarg, &o->idle_s); break;
        case OPT_ACTIVE: ok = parse_seconds(optarg, &o->active_s); break;
        case OPT_FIN: ok = parse_seconds(optarg, &o->fin_s); break;
        case OPT_PROGRESS: o->progress = 1; break;
        case OPT_NO_PROGRESS: o->progress = 0; break;
        case OPT_CERT: o->export.tls.cert = optarg; break;
        case OPT_KEY: o->export.tls.key = optarg; break;
        case OPT_CA: o->export.tls.ca = optarg; break;
        case OPT_CRL: o->export.tls.crl = optarg; break;
        case OPT_SCTP_PR_TTL: ok = parse_u64(optarg, 3600000, &v); o->export.sctp_pr_ttl_ms = (uint32_t)v; break;
        case OPT_SCTP_UDP_PORT: ok = parse_u64(optarg, 65535, &v) && v >= 1; o->export.sctp_udp_port = (uint16_t)v; break;
        case OPT_PEER_NAME:
            if (o->export.tls.peer_name_count == IPFIX_TLS_MAX_PEER_NAMES) {
                fprintf(stderr, "ipfix probe: at most %u --peer-name\n", IPFIX_TLS_MAX_PEER_NAMES);
                return IPFIX_EXIT_USAGE;
            }
            ok = optarg[0] != '\0';
            o->export.tls.peer_names[o->export.tls.peer_name_count++] = optarg;
            break;
        default: usage(stderr); return IPFIX_EXIT_USAGE;
        }
        if (!ok) {
            fprintf(stderr, "ipfix probe: bad value '%s' for option %s\n", optarg, argv[optind - 1]);
            return IPFIX_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "ipfix probe: unexpected argument '%s' (use -f for a filter)\n", argv[optind]);
        return IPFIX_EXIT_USAGE;
    }
    if (!o->read_file == !o->interface) {
        fprintf(stderr, "ipfix probe: give exactly one of -r FILE or -i IFACE\n\n");
        usage(stderr);
        return IPFIX_EXIT_USAGE;
    }
    for (unsigned i = 0; i < o->collector_count; i++) {
        if (strncmp(o->collectors[i], "tls://", 6) != 0 &&
            strncmp(o->collectors[i], "dtls://", 7) != 0)
            continue;
        if (!o->export.tls.cert || !o->export.tls.key || !o->export.tls.ca) {
            fprintf(stderr, "ipfix probe: %s: TLS needs --cert FILE, --key FILE and --ca FILE "
                            "(RFC 7011 §11.3: mutual authentication)\n", o->collectors[i]);
            return IPFIX_EXIT_USAGE;
        }
    }
    if (!o->write_file && o->collector_count == 0) {
        fprintf(stderr, "ipfix probe: give -e URI and/or -w FILE\n\n");
        usage(stderr);
        return IPFIX_EXIT_USAGE;
    }
    return IPFIX_EXIT_OK;
}

/* ------------------------------ packet path ------------------------------ */

static void flush_batch(probe_worker *w) {
    ipfix_flow_cache_add_batch(w->cache, w->batch, w->batch_count);
    w->batch_count = 0;
}

static inline void handle_packet(probe_worker *w, uint64_t time_ns, const uint8_t *bytes,
                                 uint32_t caplen, uint32_t wirelen) {
    ipfix_packet *pkt = &w->batch[w->batch_count];
    pkt->time_ns = time_ns;
    w->frames++;
    if (!ipfix_packet_selector_select(&w->selector)) return;
    ipfix_parse_result r = ipfix_packet_parse(w->linktype, bytes, caplen, wirelen, pkt);
    if (__builtin_expect(r == IPFIX_PARSE_OK, 1)) {
        if (++w->batch_count == METER_BATCH) flush_batch(w);
        return;
    }
    w->parse_counts[r]++;
    if (r == IPFIX_PARSE_NOT_IP) return;
    uint64_t ms = pkt->time_ns / 1000000u;
    w->ignored.ignored_packets++;
    w->ignored.ignored_octets += wirelen;
    if (!w->ignored.first_ignored_ms) w->ignored.first_ignored_ms = ms;
    w->ignored.last_ignored_ms = ms;
}

static void on_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes) {
    /* opened with nanosecond precision: tv_usec holds nanoseconds */
    handle_packet((probe_worker *)user, (uint64_t)h->ts.tv_sec * NS_PER_S + (uint64_t)h->ts.tv_usec,
                  bytes, h->caplen, h->len);
}

/* Up to `max` packets from the mmap reader; 0 at the end. */
static int read_mapped(probe_worker *w, int max) {
    int n = 0;
    uint64_t t;
    const uint8_t *data;
    uint32_t caplen, wirelen;
    while (n < max && ipfix_pcap_reader_next(w->reader, &t, &data, &caplen, &wirelen)) {
        handle_packet(w, t, data, caplen, wirelen);
        n++;
    }
    return n;
}

/* Live capture: wait up to 100 ms for packets. The ring is non-blocking
 * (pcap_setnonblock) because a TPACKET_V3 ring does not wake a blocking
 * reader while no packet arrives, and a quiet interface must still see its
 * flows expire and its exporter housekept. */
static void wait_for_packets(probe_worker *w) {
    struct pollfd pfd = {.fd = pcap_get_selectable_fd(w->pcap), .events = POLLIN};
    if (pfd.fd >= 0) poll(&pfd, 1, 100);
}

/* One dispatch batch: packets read (0: none yet, or the end of a file), or
 * PCAP_ERROR / PCAP_ERROR_BREAK. */
static int dispatch(probe_worker *w) {
    int n = w->reader ? read_mapped(w, DISPATCH_BATCH)
                      : pcap_dispatch(w->pcap, DISPATCH_BATCH, on_packet, (u_char *)w);
    flush_batch(w);
    return n;
}

/* Expiry callback with several workers: the exporter is shared. */
static ipfix_status export_flow_locked(void *context, const ipfix_flow *flow) {
    probe *p = context;
    pthread_mutex_lock(&p->export_lock);
    ipfix_status st = ipfix_exporter_flow(p->exporter, flow);
    pthread_mutex_unlock(&p->export_lock);
    return st;
}

static uint64_t wall_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static uint64_t mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static void update_capture_drops(probe_worker *w) {
    struct pcap_stat ps;
    if (!w->probe->opt.interface || !w->pcap || pcap_stats(w->pcap, &ps) != 0) return;
    uint64_t drops = (uint64_t)ps.ps_drop + ps.ps_ifdrop;
    if (drops > w->capture_drops) { /* RFC 3917 §5.1: loss reported as ignored packets */
        w->ignored.ignored_packets += drops - w->capture_drops;
        uint64_t ms = wall_ns() / 1000000u;
        if (!w->ignored.first_ignored_ms) w->ignored.first_ignored_ms = ms;
        w->ignored.last_ignored_ms = ms;
        w->capture_drops = drops;
    }
}

static void add_cache_stats(ipfix_flow_cache_stats *to, const ipfix_flow_cache_stats *s) {
    to->packets += s->packets;
    to->octets += s->octets;
    to->flows_created += s->flows_created;
    for (int i = 0; i < 6; i++) to->flows_expired[i] += s->flows_expired[i];
    to->fragments_mapped += s->fragments_mapped;
    to->fragments_unmapped += s->fragments_unmapped;
    to->active_flows += s->active_flows;
    to->max_flows += s->max_flows;
    to->peak_flows += s->peak_flows; /* sum of the workers' peaks */
    to->memory_bytes += s->memory_bytes;
}

/* Sum the workers' counters; with threads, each under its worker's lock. */
static void probe_totals_get(probe *p, probe_totals *t) {
    memset(t, 0, sizeof *t);
    bool threads = p->worker_count > 1;
    for (unsigned i = 0; i < p->worker_count; i++) {
        probe_worker *w = &p->workers[i];
        if (threads) pthread_mutex_lock(&w->lock);
        t->frames += w->frames;
        for (int r = 0; r < IPFIX_PARSE_RESULT_COUNT; r++) t->parse_counts[r] += w->parse_counts[r];
        t->capture_drops += w->capture_drops;
        t->observed += w->selector.observed;
        t->selected += w->selector.selected;
        ipfix_metering_counters *c = &t->counters;
        c->ignored_packets += w->ignored.ignored_packets;
        c->ignored_octets += w->ignored.ignored_octets;
        if (w->ignored.first_ignored_ms &&
            (!c->first_ignored_ms || w->ignored.first_ignored_ms < c->first_ignored_ms))
            c->first_ignored_ms = w->ignored.first_ignored_ms;
        if (w->ignored.last_ignored_ms > c->last_ignored_ms)
            c->last_ignored_ms = w->ignored.last_ignored_ms;
        if (w->cache) {
            ipfix_flow_cache_stats cs;
            ipfix_flow_cache_get_stats(w->cache, &cs);
            add_cache_stats(&t->cache, &cs);
        }
        if (threads) pthread_mutex_unlock(&w->lock);
    }
    t->counters.packets_observed = t->observed;
    t->counters.packets_selected = t->selected;
}

/* Export the statistics Options Records now. */
static void export_statistics(probe *p) {
    probe_totals t;
    probe_totals_get(p, &t); /* before the exporter lock: workers take it inside theirs */
    pthread_mutex_lock(&p->export_lock);
    ipfix_exporter_statistics(p->exporter, &t.counters);
    pthread_mutex_unlock(&p->export_lock);
}

static void show_progress(probe *p, bool final) {
    probe_totals t;
    probe_totals_get(p, &t);
    const probe_worker *w = &p->workers[0];
    double pos = -1;
    if (w->reader)
        pos = (double)ipfix_pcap_reader_offset(w->reader) / (double)ipfix_pcap_reader_size(w->reader);
    else if (p->file && p->file_size > 0)
        pos = (double)ftell(p->file) / (double)p->file_size;
    if (pos >= 0) {
        fprintf(stderr, "\rprobe: %5.1f%%  %" PRIu64 " packets  %" PRIu64 " flows in cache%s",
                100.0 * pos, t.frames, t.cache.active_flows, final ? "\n" : "   ");
    } else {
        fprintf(stderr, "\rprobe: %" PRIu64 " packets  %" PRIu64 " flows in cache%s", t.frames,
                t.cache.active_flows, final ? "\n" : "   ");
    }
}

/* ------------------------------ setting up ------------------------------ */

/* Spread the workers' sockets over one fanout group: by flow hash, with
 * IPv4/IPv6 fragments reassembled for the choice only, so every fragment
 * of a datagram reaches the worker of its flow (RFC 3917 §5.8). */
static ipfix_status join_fanout(probe_worker *w, unsigned group) {
    int arg = (int)((group & 0xFFFFu) |
                    ((unsigned)(PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_DEFRAG) << 16));
    if (setsockopt(pcap_fileno(w->pcap), SOL_PACKET, PACKET_FANOUT, &arg, sizeof arg) != 0) {
        fprintf(stderr, "ipfix probe: %s: PACKET_FANOUT: %s\n", w->probe->opt.interface,
                strerror(errno));
        return IPFIX_ERR_IO;
    }
    return IPFIX_OK;
}

static ipfix_status open_live(probe_worker *w) {
    const probe_options *o = &w->probe->opt;
    char errbuf[PCAP_ERRBUF_SIZE] = "";
    w->pcap = pcap_create(o->interface, errbuf);
    if (!w->pcap) {
        fprintf(stderr, "ipfix probe: %s\n", errbuf);
        return IPFIX_ERR_IO;
    }
    pcap_set_snaplen(w->pcap, o->snaplen);
    pcap_set_promisc(w->pcap, o->promisc);
    pcap_set_timeout(w->pcap, 100);
    pcap_set_buffer_size(w->pcap, 64 << 20); /* the TPACKET_V3 ring of this worker */
    pcap_set_tstamp_precision(w->pcap, PCAP_TSTAMP_PRECISION_NANO);
    int rc = pcap_activate(w->pcap);
    if (rc < 0 || pcap_setnonblock(w->pcap, 1, errbuf) < 0) {
        fprintf(stderr, "ipfix probe: %s: %s\n", o->interface,
                rc < 0 ? pcap_geterr(w->pcap) : errbuf);
        return IPFIX_ERR_IO;
    }
    if (w->probe->worker_count > 1) return join_fanout(w, (unsigned)getpid());
    return IPFIX_OK;
}

static ipfix_status open_source(probe_worker *w) {
    probe *p = w->probe;
    char errbuf[PCAP_ERRBUF_SIZE] = "";
    if (p->opt.read_file && !p->opt.filter &&
        ipfix_pcap_reader_open(p->opt.read_file, &w->reader) == IPFIX_OK) {
        w->linktype = ipfix_pcap_reader_linktype(w->reader);
        return IPFIX_OK;
    }
    if (p->opt.read_file) {
        w->pcap = pcap_open_offline_with_tstamp_precision(p->opt.read_file,
                                                          PCAP_TSTAMP_PRECISION_NANO, errbuf);
        if (!w->pcap) {
            fprintf(stderr, "ipfix probe: %s\n", errbuf);
            return IPFIX_ERR_IO;
        }
        p->file = pcap_file(w->pcap);
        if (p->file) {
            long pos = ftell(p->file);
            if (fseek(p->file, 0, SEEK_END) == 0) p->file_size = ftell(p->file);
            fseek(p->file, pos, SEEK_SET);
        }
    } else {
        ipfix_status st = open_live(w);
        if (st != IPFIX_OK) return st;
    }
    w->linktype = pcap_datalink(w->pcap);
    if (p->opt.filter) {
        struct bpf_program prog;
        if (pcap_compile(w->pcap, &prog, p->opt.filter, 1, PCAP_NETMASK_UNKNOWN) != 0 ||
            pcap_setfilter(w->pcap, &prog) != 0) {
            fprintf(stderr, "ipfix probe: filter '%s': %s\n", p->opt.filter, pcap_geterr(w->pcap));
            return IPFIX_ERR_INVALID_ARG;
        }
        pcap_freecode(&prog);
    }
    return IPFIX_OK;
}

/* Said once every ring is active, as tcpdump does: from here on no packet
 * of the interface is missed, so scripts may wait for this line. */
static void print_listening(const probe *p) {
    int linktype = p->workers[0].linktype;
    const char *name = pcap_datalink_val_to_name(linktype);
    const char *description = pcap_datalink_val_to_description(linktype);
    fprintf(stderr, "ipfix probe: listening on %s, link-type %s (%s), snapshot length %d bytes",
            p->opt.interface, name ? name : "?", description ? description : "?",
            p->opt.snaplen);
    if (p->worker_count > 1) fprintf(stderr, ", %u workers", p->worker_count);
    fputc('\n', stderr);
}

/* Collector link state changes (connected, refused and why, lost). */
static void export_log(void *context, const char *line) {
    (void)context;
    fprintf(stderr, "ipfix probe: %s\n", line);
}

static ipfix_status open_exporter(probe *p, const ipfix_infomodel *model) {
    ipfix_error err;
    ipfix_error_clear(&err);
    p->opt.export.model = model;
    p->opt.export.log = export_log;
    ipfix_status st = ipfix_exporter_new(&p->opt.export, &p->exporter, &err);
    if (st != IPFIX_OK) {
        fprintf(stderr, "ipfix probe: exporter: %s (%s)\n", ipfix_status_string(st), err.detail);
        return st;
    }
    if (p->opt.write_file) {
        st = ipfix_exporter_add_file(p->exporter, p->opt.write_file, &err);
        if (st != IPFIX_OK) {
            fprintf(stderr, "ipfix probe: %s: %s (%s)\n", p->opt.write_file,
                    ipfix_status_string(st), err.detail);
            return st;
        }
    }
    /* sctp:// collectors first: usrsctp's one stack per process gets its raw
     * IP sockets when it starts, or never (see sctp.h) */
    for (int native_pass = 1; native_pass >= 0; native_pass--) {
        for (unsigned i = 0; i < p->opt.collector_count; i++) {
            ipfix_endpoint ep;
            st = ipfix_endpoint_parse(p->opt.collectors[i], &ep, &err);
            if (st == IPFIX_OK && (ep.scheme == IPFIX_SCHEME_SCTP) != native_pass) continue;
            if (st == IPFIX_OK) st = ipfix_exporter_add_collector(p->exporter, &ep, &err);
            if (st != IPFIX_OK) {
                fprintf(stderr, "ipfix probe: collector %s: %s (%s)\n", p->opt.collectors[i],
                        ipfix_status_string(st), err.detail);
                return st;
            }
        }
    }
    return IPFIX_OK;
}

/* The worker's Flow Cache: its share of the memory budget. */
static ipfix_status open_cache(probe_worker *w) {
    probe *p = w->probe;
    ipfix_flow_cache_config cc;
    ipfix_flow_cache_config_init(&cc);
    if (p->opt.memory) cc.memory_bytes = p->opt.memory;
    cc.memory_bytes /= p->worker_count;
    cc.idle_timeout_ns = (uint64_t)llround(p->opt.idle_s * 1e9);
    cc.active_timeout_ns = (uint64_t)llround(p->opt.active_s * 1e9);
    cc.fin_timeout_ns = (uint64_t)llround(p->opt.fin_s * 1e9);
    cc.keymask = p->opt.export.keymask;
    if (p->worker_count > 1) {
        cc.expired = export_flow_locked;
        cc.context = p;
    } else {
        cc.expired = ipfix_exporter_flow;
        cc.context = p->exporter;
    }
    ipfix_status st = ipfix_flow_cache_new(&cc, &w->cache);
    if (st != IPFIX_OK)
        fprintf(stderr, "ipfix probe: flow cache: %s (memory budget too small?)\n",
                ipfix_status_string(st));
    return st;
}

/* Every worker: packet source, Selector (the same spec, its own state; the
 * random ones seeded apart), Flow Cache. */
static ipfix_status open_workers(probe *p) {
    for (unsigned i = 0; i < p->worker_count; i++) {
        probe_worker *w = &p->workers[i];
        w->probe = p;
        w->index = i;
        pthread_mutex_init(&w->lock, NULL);
        ipfix_error err;
        ipfix_error_clear(&err);
        ipfix_packet_selector_init(&w->selector, p->opt.sample, p->opt.sample_seed + i, &err);
        ipfix_status st = open_source(w);
        if (st == IPFIX_OK) st = open_cache(w);
        if (st != IPFIX_OK) return st;
    }
    return IPFIX_OK;
}

/* ------------------------------- running -------------------------------- */

/* One worker in the main thread (files, and live capture without
 * --threads): dispatch batches until the end of the file or a signal; idle
 * live periods advance the cache clock; housekeeping once a second. */
static int run_single(probe *p, bool progress) {
    probe_worker *w = &p->workers[0];
    uint64_t next_housekeeping = mono_ns() + NS_PER_S;
    uint64_t next_stats = p->opt.stats_interval_s
                              ? mono_ns() + (uint64_t)p->opt.stats_interval_s * NS_PER_S
                              : UINT64_MAX;
    uint64_t next_progress = mono_ns() + NS_PER_S / 2;
    int exit_code = IPFIX_EXIT_OK;
    signal_pcap = w->pcap;
    while (!stop_requested) {
        if (p->opt.interface) wait_for_packets(w);
        int n = dispatch(w);
        if (n == PCAP_ERROR) { /* e.g. a truncated file: export what was read */
            fprintf(stderr, "ipfix probe: capture: %s\n", pcap_geterr(w->pcap));
            exit_code = IPFIX_EXIT_PARTIAL;
            break;
        }
        if (n == PCAP_ERROR_BREAK) break;
        if (n == 0 && p->opt.read_file) break;
        uint64_t now = mono_ns();
        if (now < next_housekeeping) continue;
        next_housekeeping = now + NS_PER_S;
        if (p->opt.interface) {
            ipfix_flow_cache_advance(w->cache, wall_ns());
            update_capture_drops(w);
        }
        ipfix_exporter_tick(p->exporter);
        if (now >= next_stats) {
            export_statistics(p);
            next_stats = now + (uint64_t)p->opt.stats_interval_s * NS_PER_S;
        }
        if (progress && now >= next_progress) {
            show_progress(p, false);
            next_progress = now + NS_PER_S / 2;
        }
    }
    signal_pcap = NULL;
    if (progress) show_progress(p, true);
    if (w->reader && ipfix_pcap_reader_truncated(w->reader)) {
        fprintf(stderr, "ipfix probe: %s: file ends inside a packet record\n", p->opt.read_file);
        exit_code = IPFIX_EXIT_PARTIAL;
    }
    return exit_code;
}

/* A live capture worker thread (--threads): its lock is held per batch. */
static void *worker_main(void *arg) {
    probe_worker *w = arg;
    uint64_t next_housekeeping = mono_ns() + NS_PER_S;
    while (!stop_requested) {
        wait_for_packets(w);
        pthread_mutex_lock(&w->lock);
        int n = dispatch(w);
        uint64_t now = mono_ns();
        if (n >= 0 && now >= next_housekeeping) {
            next_housekeeping = now + NS_PER_S;
            ipfix_flow_cache_advance(w->cache, wall_ns());
            update_capture_drops(w);
        }
        pthread_mutex_unlock(&w->lock);
        if (n == PCAP_ERROR) {
            fprintf(stderr, "ipfix probe: capture (worker %u): %s\n", w->index,
                    pcap_geterr(w->pcap));
            w->exit_code = IPFIX_EXIT_FAILURE;
            stop_requested = 1;
            break;
        }
    }
    return NULL;
}

/* Several workers: they capture; the main thread keeps the exporter going. */
static int run_threads(probe *p) {
    for (unsigned i = 0; i < p->worker_count; i++) {
        probe_worker *w = &p->workers[i];
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            fprintf(stderr, "ipfix probe: cannot start worker %u\n", i);
            stop_requested = 1;
            break;
        }
        w->started = true;
    }
    uint64_t next_stats = p->opt.stats_interval_s
                              ? mono_ns() + (uint64_t)p->opt.stats_interval_s * NS_PER_S
                              : UINT64_MAX;
    while (!stop_requested) {
        nanosleep(&(struct timespec){1, 0}, NULL); /* a signal ends it early */
        pthread_mutex_lock(&p->export_lock);
        ipfix_exporter_tick(p->exporter);
        pthread_mutex_unlock(&p->export_lock);
        uint64_t now = mono_ns();
        if (now >= next_stats) {
            export_statistics(p);
            next_stats = now + (uint64_t)p->opt.stats_interval_s * NS_PER_S;
        }
    }
    int exit_code = IPFIX_EXIT_OK;
    for (unsigned i = 0; i < p->worker_count; i++) {
        probe_worker *w = &p->workers[i];
        if (!w->started) continue;
        pthread_join(w->thread, NULL);
        w->started = false;
        if (w->exit_code != IPFIX_EXIT_OK) exit_code = w->exit_code;
    }
    return exit_code;
}

static void print_summary(const probe_totals *t, const ipfix_exporter_stats *es, double seconds,
                          unsigned workers, bool sampling) {
    const ipfix_flow_cache_stats *cs = &t->cache;
    fprintf(stderr, "ipfix probe: %" PRIu64 " packets read, %" PRIu64 " metered (%" PRIu64
                    " IP octets), %" PRIu64 " not IP, %" PRIu64 " ignored",
            t->frames, cs->packets, cs->octets, t->parse_counts[IPFIX_PARSE_NOT_IP],
            t->counters.ignored_packets);
    const char *sep = " (";
    for (int r = IPFIX_PARSE_NOT_IP + 1; r < IPFIX_PARSE_RESULT_COUNT; r++) {
        if (!t->parse_counts[r]) continue;
        fprintf(stderr, "%s%s %" PRIu64, sep, ipfix_parse_result_name((ipfix_parse_result)r),
                t->parse_counts[r]);
        sep = ", ";
    }
    if (t->capture_drops) fprintf(stderr, "%scaptureDrops %" PRIu64, sep, t->capture_drops), sep = ", ";
    fprintf(stderr, "%s\n", sep[0] == ',' ? ")" : "");
    if (sampling)
        fprintf(stderr, "  sampling: %" PRIu64 " packets selected of %" PRIu64 " observed\n",
                t->selected, t->observed);
    fprintf(stderr, "  flows: %" PRIu64 " created, %" PRIu64 " exported; ended by idleTimeout %"
                    PRIu64 ", activeTimeout %" PRIu64 ", endOfFlowDetected %" PRIu64
                    ", forcedEnd %" PRIu64 ", lackOfResources %" PRIu64 "\n",
            cs->flows_created, es->flows, cs->flows_expired[1], cs->flows_expired[2],
            cs->flows_expired[3], cs->flows_expired[4], cs->flows_expired[5]);
    fprintf(stderr, "  fragments: %" PRIu64 " non-initial mapped to their flow, %" PRIu64
                    " unmapped\n", cs->fragments_mapped, cs->fragments_unmapped);
    fprintf(stderr, "  cache: %" PRIu64 " flows max (%zu bytes, %.0f bytes per flow), peak %"
                    PRIu64 "%s\n", cs->max_flows, cs->memory_bytes,
            cs->max_flows ? (double)cs->memory_bytes / (double)cs->max_flows : 0.0, cs->peak_flows,
            workers > 1 ? " (sum over the workers)" : "");
    fprintf(stderr, "  export: %" PRIu64 " messages, %" PRIu64 " bytes; not sent: %" PRIu64
                    " records (%" PRIu64 " packets)%s\n", es->messages, es->bytes,
            es->not_sent_flows, es->not_sent_packets,
            es->reconnects ? ", reconnected" : "");
    fprintf(stderr, "  time: %.3f s, %.0f packets/s\n", seconds,
            seconds > 0 ? (double)t->frames / seconds : 0.0);
    if (workers > 1) fprintf(stderr, "  workers: %u (PACKET_FANOUT)\n", workers);
}

static void close_workers(probe *p) {
    for (unsigned i = 0; p->workers && i < p->worker_count; i++) {
        probe_worker *w = &p->workers[i];
        if (!w->probe) continue; /* never opened */
        ipfix_flow_cache_free(w->cache);
        if (w->pcap) pcap_close(w->pcap);
        ipfix_pcap_reader_close(w->reader);
        pthread_mutex_destroy(&w->lock);
    }
    free(p->workers);
    p->workers = NULL;
}

int ipfix_cmd_probe(int argc, char **argv) {
    probe p;
    memset(&p, 0, sizeof p);
    p.opt.idle_s = 15;
    p.opt.active_s = 1800;
    p.opt.fin_s = 2;
    p.opt.snaplen = 256;
    p.opt.promisc = true;
    p.opt.progress = -1;
    p.opt.stats_interval_s = 60;
    p.opt.threads = 1;
    ipfix_exporter_config_init(&p.opt.export);
    int rc = parse_options(argc, argv, &p.opt);
    if (rc < 0) return IPFIX_EXIT_OK;
    if (rc != IPFIX_EXIT_OK) return rc;
    if (p.opt.keys) {
        ipfix_error err;
        ipfix_error_clear(&err);
        if (ipfix_flow_keymask_parse(p.opt.keys, &p.opt.export.keymask, &err) != IPFIX_OK) {
            fprintf(stderr, "ipfix probe: --keys: %s\n", err.detail);
            return IPFIX_EXIT_USAGE;
        }
    }
    if (p.opt.fields) {
        ipfix_error err;
        ipfix_error_clear(&err);
        if (ipfix_export_fields_parse(p.opt.fields, &p.opt.export.fields, &err) != IPFIX_OK) {
            fprintf(stderr, "ipfix probe: --fields: %s\n", err.detail);
            return IPFIX_EXIT_USAGE;
        }
    }
    {
        ipfix_error err;
        ipfix_error_clear(&err);
        ipfix_packet_selector sel;
        if (ipfix_packet_selector_init(&sel, p.opt.sample, p.opt.sample_seed, &err) != IPFIX_OK) {
            fprintf(stderr, "ipfix probe: --sample: %s\n", err.detail);
            return IPFIX_EXIT_USAGE;
        }
        p.opt.export.sampling = sel;
    }
    if (p.opt.interface && !p.opt.ingress_set)
        p.opt.export.ingress_interface = if_nametoindex(p.opt.interface);
    p.worker_count = p.opt.interface ? p.opt.threads : 1;
    p.workers = calloc(p.worker_count, sizeof *p.workers);
    if (!p.workers) return IPFIX_EXIT_FAILURE;
    pthread_mutex_init(&p.export_lock, NULL);
    ipfix_infomodel *model = ipfix_infomodel_new();
    int exit_code = IPFIX_EXIT_FAILURE;
    if (!model) goto done;
    /* the exporter first: the flow caches hand it their expired flows */
    if (open_exporter(&p, model) != IPFIX_OK || open_workers(&p) != IPFIX_OK) goto done;
    bool progress = p.opt.progress == 1 || (p.opt.progress == -1 && p.opt.read_file &&
                                            isatty(STDERR_FILENO) && !p.opt.quiet);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (p.opt.interface && !p.opt.quiet) print_listening(&p);
    uint64_t t0 = mono_ns();
    exit_code = p.worker_count > 1 ? run_threads(&p) : run_single(&p, progress);
    for (unsigned i = 0; i < p.worker_count; i++) {
        update_capture_drops(&p.workers[i]);
        ipfix_flow_cache_flush(p.workers[i].cache);
    }
    double seconds = (double)(mono_ns() - t0) / 1e9;
    probe_totals totals;
    probe_totals_get(&p, &totals);
    ipfix_exporter_statistics(p.exporter, &totals.counters);
    ipfix_exporter_stats es;
    ipfix_error err;
    ipfix_error_clear(&err);
    ipfix_status st = ipfix_exporter_close(p.exporter, 3000, &es, &err);
    p.exporter = NULL;
    if (st != IPFIX_OK) {
        fprintf(stderr, "ipfix probe: export: %s (%s)\n", ipfix_status_string(st), err.detail);
        exit_code = IPFIX_EXIT_FAILURE;
    }
    if (!p.opt.quiet) print_summary(&totals, &es, seconds, p.worker_count,
                                 p.opt.export.sampling.algorithm != IPFIX_SELECTOR_NONE);
done:
    close_workers(&p);
    ipfix_exporter_close(p.exporter, 0, NULL, NULL);
    pthread_mutex_destroy(&p.export_lock);
    ipfix_infomodel_free(model);
    return exit_code;
}
