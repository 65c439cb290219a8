/*
 * cmd_probe.c — `ipfix probe`: the Metering and Exporting Processes of an
 * IPFIX Exporter (RFC 7011 §2, RFC 3917). Reads packets from a pcap/pcapng
 * file (-r, packet timestamps drive all timeouts, so a trace replays
 * deterministically and as fast as the machine allows) or a live interface
 * (-i, libpcap), meters them into Flows (src/meter) and exports the Flows to
 * Collectors over UDP/TCP and/or an IPFIX File (src/export).
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
#include <pcap/pcap.h>
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
} probe_options;

typedef struct probe {
    probe_options opt;
    pcap_t *pcap;               /* libpcap: live, pcapng, or with a filter */
    ipfix_pcap_reader *reader;  /* mmap: classic pcap files without a filter */
    int linktype;
    ipfix_packet_selector selector; /* PSAMP selection before parsing */
    ipfix_flow_cache *cache;
    ipfix_exporter *exporter;
    uint64_t frames, frame_bytes;
    uint64_t parse_counts[IPFIX_PARSE_RESULT_COUNT];
    ipfix_metering_counters ignored;
    uint64_t capture_drops;
    uint64_t last_time_ns;
    ipfix_packet batch[METER_BATCH]; /* parsed, waiting for the flow cache */
    size_t batch_count;
    FILE *file;       /* -r: for progress */
    long file_size;
} probe;

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
        "export:\n"
        "  -e, --export URI         collector udp://host:port or tcp://host:port (repeatable)\n"
        "  -w, --write FILE         IPFIX file (RFC 5655); '-' for stdout\n"
        "      --odid N             observation domain ID (default 0)\n"
        "      --observation-point-id N, --exporting-process-id N, --metering-process-id N\n"
        "      --ingress-interface N  ingressInterface value (default: the interface index\n"
        "                           with -i, 0 with -r)\n"
        "      --max-message N      UDP message size limit (default 1400: fits a 1500 MTU)\n"
        "      --template-refresh S UDP template refresh interval (default 60 s)\n"
        "      --template-refresh-messages N  ... and message count (default 100)\n"
        "      --time-unit U        ms (default), us or ns flow timestamps\n"
        "      --stats-interval S   statistics options records every S s (default 60; 0 end only)\n"
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
    OPT_SAMPLE_SEED
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
    if (!o->write_file && o->collector_count == 0) {
        fprintf(stderr, "ipfix probe: give -e URI and/or -w FILE\n\n");
        usage(stderr);
        return IPFIX_EXIT_USAGE;
    }
    return IPFIX_EXIT_OK;
}

/* ------------------------------ packet path ------------------------------ */

static void flush_batch(probe *p) {
    ipfix_flow_cache_add_batch(p->cache, p->batch, p->batch_count);
    p->batch_count = 0;
}

static inline void handle_packet(probe *p, uint64_t time_ns, const uint8_t *bytes,
                                 uint32_t caplen, uint32_t wirelen) {
    ipfix_packet *pkt = &p->batch[p->batch_count];
    pkt->time_ns = time_ns;
    p->frames++;
    p->frame_bytes += wirelen;
    p->last_time_ns = time_ns;
    if (!ipfix_packet_selector_select(&p->selector)) return;
    ipfix_parse_result r = ipfix_packet_parse(p->linktype, bytes, caplen, wirelen, pkt);
    if (__builtin_expect(r == IPFIX_PARSE_OK, 1)) {
        if (++p->batch_count == METER_BATCH) flush_batch(p);
        return;
    }
    p->parse_counts[r]++;
    if (r == IPFIX_PARSE_NOT_IP) return;
    uint64_t ms = pkt->time_ns / 1000000u;
    p->ignored.ignored_packets++;
    p->ignored.ignored_octets += wirelen;
    if (!p->ignored.first_ignored_ms) p->ignored.first_ignored_ms = ms;
    p->ignored.last_ignored_ms = ms;
}

static void on_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes) {
    /* opened with nanosecond precision: tv_usec holds nanoseconds */
    handle_packet((probe *)user, (uint64_t)h->ts.tv_sec * NS_PER_S + (uint64_t)h->ts.tv_usec,
                  bytes, h->caplen, h->len);
}

/* Up to `max` packets from the mmap reader; 0 at the end. */
static int read_mapped(probe *p, int max) {
    int n = 0;
    uint64_t t;
    const uint8_t *data;
    uint32_t caplen, wirelen;
    while (n < max && ipfix_pcap_reader_next(p->reader, &t, &data, &caplen, &wirelen)) {
        handle_packet(p, t, data, caplen, wirelen);
        n++;
    }
    return n;
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

/* The counters for the statistics Options Records, brought up to date. */
static const ipfix_metering_counters *metering_counters(probe *p) {
    p->ignored.packets_observed = p->selector.observed;
    p->ignored.packets_selected = p->selector.selected;
    return &p->ignored;
}

static void update_capture_drops(probe *p) {
    struct pcap_stat ps;
    if (!p->opt.interface || !p->pcap || pcap_stats(p->pcap, &ps) != 0) return;
    uint64_t drops = (uint64_t)ps.ps_drop + ps.ps_ifdrop;
    if (drops > p->capture_drops) { /* RFC 3917 §5.1: loss reported as ignored packets */
        p->ignored.ignored_packets += drops - p->capture_drops;
        uint64_t ms = wall_ns() / 1000000u;
        if (!p->ignored.first_ignored_ms) p->ignored.first_ignored_ms = ms;
        p->ignored.last_ignored_ms = ms;
        p->capture_drops = drops;
    }
}

static void show_progress(probe *p, bool final) {
    ipfix_flow_cache_stats cs;
    ipfix_flow_cache_get_stats(p->cache, &cs);
    double pos = -1;
    if (p->reader)
        pos = (double)ipfix_pcap_reader_offset(p->reader) / (double)ipfix_pcap_reader_size(p->reader);
    else if (p->file && p->file_size > 0)
        pos = (double)ftell(p->file) / (double)p->file_size;
    if (pos >= 0) {
        fprintf(stderr, "\rprobe: %5.1f%%  %" PRIu64 " packets  %" PRIu64 " flows in cache%s",
                100.0 * pos, p->frames,
                cs.active_flows, final ? "\n" : "   ");
    } else {
        fprintf(stderr, "\rprobe: %" PRIu64 " packets  %" PRIu64 " flows in cache%s", p->frames,
                cs.active_flows, final ? "\n" : "   ");
    }
}

static ipfix_status open_source(probe *p) {
    char errbuf[PCAP_ERRBUF_SIZE] = "";
    if (p->opt.read_file && !p->opt.filter &&
        ipfix_pcap_reader_open(p->opt.read_file, &p->reader) == IPFIX_OK) {
        p->linktype = ipfix_pcap_reader_linktype(p->reader);
        return IPFIX_OK;
    }
    if (p->opt.read_file) {
        p->pcap = pcap_open_offline_with_tstamp_precision(p->opt.read_file,
                                                          PCAP_TSTAMP_PRECISION_NANO, errbuf);
        if (!p->pcap) {
            fprintf(stderr, "ipfix probe: %s\n", errbuf);
            return IPFIX_ERR_IO;
        }
        p->file = pcap_file(p->pcap);
        if (p->file) {
            long pos = ftell(p->file);
            if (fseek(p->file, 0, SEEK_END) == 0) p->file_size = ftell(p->file);
            fseek(p->file, pos, SEEK_SET);
        }
    } else {
        p->pcap = pcap_create(p->opt.interface, errbuf);
        if (!p->pcap) {
            fprintf(stderr, "ipfix probe: %s\n", errbuf);
            return IPFIX_ERR_IO;
        }
        pcap_set_snaplen(p->pcap, p->opt.snaplen);
        pcap_set_promisc(p->pcap, p->opt.promisc);
        pcap_set_timeout(p->pcap, 100);
        pcap_set_buffer_size(p->pcap, 64 << 20);
        pcap_set_tstamp_precision(p->pcap, PCAP_TSTAMP_PRECISION_NANO);
        int rc = pcap_activate(p->pcap);
        if (rc < 0) {
            fprintf(stderr, "ipfix probe: %s: %s\n", p->opt.interface, pcap_geterr(p->pcap));
            return IPFIX_ERR_IO;
        }
        if (!p->opt.ingress_set) p->opt.export.ingress_interface = if_nametoindex(p->opt.interface);
    }
    p->linktype = pcap_datalink(p->pcap);
    if (p->opt.filter) {
        struct bpf_program prog;
        if (pcap_compile(p->pcap, &prog, p->opt.filter, 1, PCAP_NETMASK_UNKNOWN) != 0 ||
            pcap_setfilter(p->pcap, &prog) != 0) {
            fprintf(stderr, "ipfix probe: filter '%s': %s\n", p->opt.filter, pcap_geterr(p->pcap));
            return IPFIX_ERR_INVALID_ARG;
        }
        pcap_freecode(&prog);
    }
    return IPFIX_OK;
}

static ipfix_status open_exporter(probe *p, const ipfix_infomodel *model) {
    ipfix_error err;
    ipfix_error_clear(&err);
    p->opt.export.model = model;
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
    for (unsigned i = 0; i < p->opt.collector_count; i++) {
        ipfix_endpoint ep;
        st = ipfix_endpoint_parse(p->opt.collectors[i], &ep, &err);
        if (st == IPFIX_OK) st = ipfix_exporter_add_collector(p->exporter, &ep, &err);
        if (st != IPFIX_OK) {
            fprintf(stderr, "ipfix probe: collector %s: %s (%s)\n", p->opt.collectors[i],
                    ipfix_status_string(st), err.detail);
            return st;
        }
    }
    return IPFIX_OK;
}

static ipfix_status open_cache(probe *p) {
    ipfix_flow_cache_config cc;
    ipfix_flow_cache_config_init(&cc);
    if (p->opt.memory) cc.memory_bytes = p->opt.memory;
    cc.idle_timeout_ns = (uint64_t)llround(p->opt.idle_s * 1e9);
    cc.active_timeout_ns = (uint64_t)llround(p->opt.active_s * 1e9);
    cc.fin_timeout_ns = (uint64_t)llround(p->opt.fin_s * 1e9);
    cc.keymask = p->opt.export.keymask;
    cc.expired = ipfix_exporter_flow;
    cc.context = p->exporter;
    ipfix_status st = ipfix_flow_cache_new(&cc, &p->cache);
    if (st != IPFIX_OK)
        fprintf(stderr, "ipfix probe: flow cache: %s (memory budget too small?)\n",
                ipfix_status_string(st));
    return st;
}

/* The capture loop: dispatch batches until the end of the file or a signal;
 * idle live periods advance the cache clock; housekeeping once a second. */
static int run(probe *p, bool progress) {
    uint64_t next_housekeeping = mono_ns() + NS_PER_S;
    uint64_t next_stats = p->opt.stats_interval_s
                              ? mono_ns() + (uint64_t)p->opt.stats_interval_s * NS_PER_S
                              : UINT64_MAX;
    uint64_t next_progress = mono_ns() + NS_PER_S / 2;
    int exit_code = IPFIX_EXIT_OK;
    while (!stop_requested) {
        int n = p->reader ? read_mapped(p, DISPATCH_BATCH)
                          : pcap_dispatch(p->pcap, DISPATCH_BATCH, on_packet, (u_char *)p);
        flush_batch(p);
        if (n == PCAP_ERROR) { /* e.g. a truncated file: export what was read */
            fprintf(stderr, "ipfix probe: capture: %s\n", pcap_geterr(p->pcap));
            exit_code = IPFIX_EXIT_PARTIAL;
            break;
        }
        if (n == PCAP_ERROR_BREAK) break;
        if (n == 0 && p->opt.read_file) break;
        uint64_t now = mono_ns();
        if (now < next_housekeeping) continue;
        next_housekeeping = now + NS_PER_S;
        if (p->opt.interface) {
            ipfix_flow_cache_advance(p->cache, wall_ns());
            update_capture_drops(p);
        }
        ipfix_exporter_tick(p->exporter);
        if (now >= next_stats) {
            ipfix_exporter_statistics(p->exporter, metering_counters(p));
            next_stats = now + (uint64_t)p->opt.stats_interval_s * NS_PER_S;
        }
        if (progress && now >= next_progress) {
            show_progress(p, false);
            next_progress = now + NS_PER_S / 2;
        }
    }
    if (progress) show_progress(p, true);
    if (p->reader && ipfix_pcap_reader_truncated(p->reader)) {
        fprintf(stderr, "ipfix probe: %s: file ends inside a packet record\n", p->opt.read_file);
        exit_code = IPFIX_EXIT_PARTIAL;
    }
    return exit_code;
}

static void print_summary(const probe *p, const ipfix_flow_cache_stats *cs,
                          const ipfix_exporter_stats *es, double seconds) {
    fprintf(stderr, "ipfix probe: %" PRIu64 " packets read, %" PRIu64 " metered (%" PRIu64
                    " IP octets), %" PRIu64 " not IP, %" PRIu64 " ignored",
            p->frames, cs->packets, cs->octets, p->parse_counts[IPFIX_PARSE_NOT_IP],
            p->ignored.ignored_packets);
    const char *sep = " (";
    for (int r = IPFIX_PARSE_NOT_IP + 1; r < IPFIX_PARSE_RESULT_COUNT; r++) {
        if (!p->parse_counts[r]) continue;
        fprintf(stderr, "%s%s %" PRIu64, sep, ipfix_parse_result_name((ipfix_parse_result)r),
                p->parse_counts[r]);
        sep = ", ";
    }
    if (p->capture_drops) fprintf(stderr, "%scaptureDrops %" PRIu64, sep, p->capture_drops), sep = ", ";
    fprintf(stderr, "%s\n", sep[0] == ',' ? ")" : "");
    if (p->selector.algorithm != IPFIX_SELECTOR_NONE)
        fprintf(stderr, "  sampling: %" PRIu64 " packets selected of %" PRIu64 " observed\n",
                p->selector.selected, p->selector.observed);
    fprintf(stderr, "  flows: %" PRIu64 " created, %" PRIu64 " exported; ended by idleTimeout %"
                    PRIu64 ", activeTimeout %" PRIu64 ", endOfFlowDetected %" PRIu64
                    ", forcedEnd %" PRIu64 ", lackOfResources %" PRIu64 "\n",
            cs->flows_created, es->flows, cs->flows_expired[1], cs->flows_expired[2],
            cs->flows_expired[3], cs->flows_expired[4], cs->flows_expired[5]);
    fprintf(stderr, "  fragments: %" PRIu64 " non-initial mapped to their flow, %" PRIu64
                    " unmapped\n", cs->fragments_mapped, cs->fragments_unmapped);
    fprintf(stderr, "  cache: %" PRIu64 " flows max (%zu bytes, %.0f bytes per flow), peak %"
                    PRIu64 "\n", cs->max_flows, cs->memory_bytes,
            cs->max_flows ? (double)cs->memory_bytes / (double)cs->max_flows : 0.0, cs->peak_flows);
    fprintf(stderr, "  export: %" PRIu64 " messages, %" PRIu64 " bytes; not sent: %" PRIu64
                    " records (%" PRIu64 " packets)%s\n", es->messages, es->bytes,
            es->not_sent_flows, es->not_sent_packets,
            es->reconnects ? ", reconnected" : "");
    fprintf(stderr, "  time: %.3f s, %.0f packets/s\n", seconds,
            seconds > 0 ? (double)p->frames / seconds : 0.0);
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
        if (ipfix_packet_selector_init(&p.selector, p.opt.sample, p.opt.sample_seed, &err) !=
            IPFIX_OK) {
            fprintf(stderr, "ipfix probe: --sample: %s\n", err.detail);
            return IPFIX_EXIT_USAGE;
        }
        p.opt.export.sampling = p.selector;
    }
    ipfix_infomodel *model = ipfix_infomodel_new();
    if (!model) return IPFIX_EXIT_FAILURE;
    int exit_code = IPFIX_EXIT_FAILURE;
    if (open_source(&p) != IPFIX_OK || open_exporter(&p, model) != IPFIX_OK ||
        open_cache(&p) != IPFIX_OK)
        goto done;
    bool progress = p.opt.progress == 1 || (p.opt.progress == -1 && p.opt.read_file &&
                                            isatty(STDERR_FILENO) && !p.opt.quiet);
    signal_pcap = p.pcap;
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    uint64_t t0 = mono_ns();
    exit_code = run(&p, progress);
    update_capture_drops(&p);
    ipfix_flow_cache_flush(p.cache);
    double seconds = (double)(mono_ns() - t0) / 1e9;
    ipfix_exporter_statistics(p.exporter, metering_counters(&p));
    ipfix_flow_cache_stats cs;
    ipfix_flow_cache_get_stats(p.cache, &cs);
    ipfix_exporter_stats es;
    ipfix_error err;
    ipfix_error_clear(&err);
    ipfix_status st = ipfix_exporter_close(p.exporter, 3000, &es, &err);
    p.exporter = NULL;
    if (st != IPFIX_OK) {
        fprintf(stderr, "ipfix probe: export: %s (%s)\n", ipfix_status_string(st), err.detail);
        exit_code = IPFIX_EXIT_FAILURE;
    }
    if (!p.opt.quiet) print_summary(&p, &cs, &es, seconds);
done:
    signal_pcap = NULL;
    ipfix_flow_cache_free(p.cache);
    ipfix_exporter_close(p.exporter, 0, NULL, NULL);
    if (p.pcap) pcap_close(p.pcap);
    ipfix_pcap_reader_close(p.reader);
    ipfix_infomodel_free(model);
    return exit_code;
}
