/*
 * cmd_collect.c — `ipfix collect`: the Collecting Process as a command
 * (library: collect.h). Parses the options, opens the listeners, starts the
 * workers and then handles signals in the main thread (all signals are
 * blocked in every thread and taken with sigtimedwait, so no handler and no
 * global flag is needed):
 *   SIGINT/SIGTERM  stop accepting, drain the sockets, close the files, exit 0
 *   SIGHUP          close the current files now (rotation)
 *   SIGUSR1         write the statistics (to --stats FILE, else stderr)
 * TLS and DTLS listeners (tls://, dtls://, RFC 7011 §11) take --cert/--key/--ca and optional
 * --peer-name (the exporters' certificates must match one of the names;
 * without, any certificate of the CA is accepted: RFC 5153 §8.2).
 * Statistics are also written every --stats-interval seconds (with --stats)
 * and printed to stderr at exit. Exit status 0, or 1 when messages could
 * not be stored (I/O errors, logged).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "cli/commands.h"
#include "ipfixkit/collect.h"
#include "ipfixkit/infomodel.h"

typedef struct collect_options {
    ipfix_collector_config config;
    const char *json_path;     /* NULL: no JSON; "-": stdout */
    const char *stats_path;
    unsigned stats_interval;
    const char *pidfile;
    bool daemon;
    bool syslog;               /* log to syslog (after --daemon detached) */
    int verbosity;             /* 0 warnings, 1 info */
} collect_options;

static void usage(FILE *out) {
    fprintf(out,
            "usage: ipfix collect --listen URI... [-w DIR] [--json [FILE]] [options]\n\n"
            "Receive IPFIX (RFC 7011) over UDP, TCP, TLS, DTLS and SCTP, store it in rotated\n"
            "IPFIX files"
            " (RFC 5655) and/or print records as JSON Lines.\n\n"
            "  -l, --listen URI       udp://HOST:PORT, tcp://HOST:PORT, tls://HOST:PORT,\n"
            "                         dtls://HOST:PORT, sctp://HOST:PORT or\n"
            "                         sctp+udp://HOST:PORT (repeatable; IPv6 as\n"
            "                         udp://[::]:4739; default udp://[::]:4739 and\n"
            "                         tcp://[::]:4739; tls and dtls default port 4740).\n"
            "                         sctp: native SCTP over raw IP (root or CAP_NET_RAW);\n"
            "                         sctp+udp: SCTP over UDP encapsulation (RFC 6951) on UDP\n"
            "                         port PORT (one sctp+udp port per collector)\n"
            "  -w, --store DIR        write files DIR/YYYY/MM/DD/ipfix-YYYYMMDDHHMMSS-wN.ipfix\n"
            "      --per-exporter     one directory per exporter address instead:\n"
            "                         DIR/ADDRESS/YYYY/MM/DD/ipfix-YYYYMMDDHHMMSS-udpPORT.ipfix\n"
            "      --rotate SECONDS   file period (default 300)\n"
            "      --no-fsync         do not fsync files before renaming them\n"
            "      --json [FILE]      JSON Lines of the records (as `ipfix dump --json`) to\n"
            "                         FILE or standard output ('-')\n"
            "      --stats FILE       write statistics to FILE (on SIGUSR1 and every interval)\n"
            "      --stats-interval S statistics period (default 60)\n"
            "      --workers N        threads (default: number of CPUs)\n"
            "      --allow PREFIX     accept exporters only from PREFIX (repeatable)\n"
            "      --max-sessions N   UDP exporters + TCP connections + DTLS sessions\n"
            "                         (default 4096)\n"
            "      --max-templates N  templates per session (default 4096)\n"
            "      --max-pending BYTES per UDP session, data held until its template arrives\n"
            "                         (default 1M)\n"
            "      --max-memory BYTES approximate memory for sessions (K/M/G suffixes)\n"
            "      --rcvbuf BYTES     UDP socket receive buffer (default 32M)\n"
            "      --cert FILE        tls://, dtls://: our certificate (PEM; chain may follow)\n"
            "      --key FILE         tls://, dtls://: its private key (PEM)\n"
            "      --ca FILE          tls://, dtls://: CA certificate(s) exporters' certificates must\n"
            "                         chain to (a certificate is required from every exporter)\n"
            "      --crl FILE         tls://, dtls://: revocation list(s) of the CA (PEM): revoked\n"
            "                         exporter certificates are refused\n"
            "      --peer-name NAME   tls://, dtls://: accept only exporters whose certificate carries\n"
            "                         NAME (DNS or IP, in subjectAltName or CN; repeatable;\n"
            "                         default: any certificate issued by the CA)\n"
            "      --daemon           run in the background (logs go to syslog)\n"
            "      --pidfile FILE     write the process ID to FILE\n"
            "  -v, --verbose          log sessions and informational events\n\n"
            "Signals: INT/TERM drain and exit (0; 1 if messages could not be stored),\n"
            "HUP rotate files now, USR1 write statistics.\n");
}

static void log_line(void *context, ipfix_log_level level, const char *line) {
    const collect_options *o = context;
    if (level == IPFIX_LOG_INFO && o->verbosity < 1) return;
    static const char *const names[] = {"error", "warning", "info"};
    if (o->syslog) {
        static const int priorities[] = {LOG_ERR, LOG_WARNING, LOG_INFO};
        syslog(priorities[level], "%s", line);
        return;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    fprintf(stderr, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ ipfix collect: %s: %s\n",
            tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
            ts.tv_nsec / 1000000, names[level], line);
}

static bool parse_size(const char *text, size_t *out) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || end == text) return false;
    switch (*end) {
    case 'k': case 'K': v <<= 10; end++; break;
    case 'm': case 'M': v <<= 20; end++; break;
    case 'g': case 'G': v <<= 30; end++; break;
    default: break;
    }
    if (*end) return false;
    *out = (size_t)v;
    return true;
}

static bool parse_uint(const char *text, unsigned *out) {
    size_t v;
    if (!parse_size(text, &v) || v > 0xFFFFFFFFu) return false;
    *out = (unsigned)v;
    return true;
}

/* Returns -1 to continue, else an exit code. */
static int parse_args(int argc, char **argv, collect_options *o) {
    ipfix_collector_config *c = &o->config;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool bad = false;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return IPFIX_EXIT_OK;
        } else if (!strcmp(a, "-l") || !strcmp(a, "--listen")) {
            if (!v || c->listen_count >= IPFIX_COLLECT_MAX_LISTENERS) bad = true;
            else c->listen[c->listen_count++] = argv[++i];
        } else if (!strcmp(a, "-w") || !strcmp(a, "--store")) {
            if (!v) bad = true;
            else c->store_dir = argv[++i];
        } else if (!strcmp(a, "--rotate")) {
            bad = !v || !parse_uint(argv[++i], &c->rotate_seconds) || c->rotate_seconds == 0;
        } else if (!strcmp(a, "--no-fsync")) {
            c->fsync = false;
        } else if (!strcmp(a, "--per-exporter")) {
            c->per_exporter_dirs = true;
        } else if (!strcmp(a, "--json")) {
            o->json_path = "-";
            if (v && (v[0] != '-' || !strcmp(v, "-"))) o->json_path = argv[++i];
        } else if (!strncmp(a, "--json=", 7)) {
            o->json_path = a + 7;
        } else if (!strcmp(a, "--stats")) {
            if (!v) bad = true;
            else o->stats_path = argv[++i];
        } else if (!strcmp(a, "--stats-interval")) {
            bad = !v || !parse_uint(argv[++i], &o->stats_interval) || o->stats_interval == 0;
        } else if (!strcmp(a, "--workers")) {
            bad = !v || !parse_uint(argv[++i], &c->workers);
        } else if (!strcmp(a, "--allow")) {
            ipfix_error err;
            if (!v || c->allow_count >= IPFIX_COLLECT_MAX_PREFIXES ||
                ipfix_prefix_parse(argv[++i], &c->allow[c->allow_count], &err) != IPFIX_OK)
                bad = true;
            else
                c->allow_count++;
        } else if (!strcmp(a, "--max-sessions")) {
            unsigned n = 0;
            bad = !v || !parse_uint(argv[++i], &n);
            c->max_sessions = n;
        } else if (!strcmp(a, "--max-templates")) {
            unsigned n = 0;
            bad = !v || !parse_uint(argv[++i], &n);
            c->max_templates = n;
        } else if (!strcmp(a, "--max-pending")) {
            bad = !v || !parse_size(argv[++i], &c->max_pending);
        } else if (!strcmp(a, "--max-memory")) {
            bad = !v || !parse_size(argv[++i], &c->max_memory);
        } else if (!strcmp(a, "--rcvbuf")) {
            bad = !v || !parse_size(argv[++i], &c->udp_rcvbuf);
        } else if (!strcmp(a, "--cert")) {
            if (!v) bad = true;
            else c->tls.cert = argv[++i];
        } else if (!strcmp(a, "--key")) {
            if (!v) bad = true;
            else c->tls.key = argv[++i];
        } else if (!strcmp(a, "--ca")) {
            if (!v) bad = true;
            else c->tls.ca = argv[++i];
        } else if (!strcmp(a, "--crl")) {
            if (!v) bad = true;
            else c->tls.crl = argv[++i];
        } else if (!strcmp(a, "--peer-name")) {
            if (!v || !v[0] || c->tls.peer_name_count >= IPFIX_TLS_MAX_PEER_NAMES) bad = true;
            else c->tls.peer_names[c->tls.peer_name_count++] = argv[++i];
        } else if (!strcmp(a, "--daemon")) {
            o->daemon = true;
        } else if (!strcmp(a, "--pidfile")) {
            if (!v) bad = true;
            else o->pidfile = argv[++i];
        } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            o->verbosity++;
        } else {
            fprintf(stderr, "ipfix collect: unknown option '%s'\n", a);
            usage(stderr);
            return IPFIX_EXIT_USAGE;
        }
        if (bad) {
            fprintf(stderr, "ipfix collect: bad or missing value for %s\n", a);
            return IPFIX_EXIT_USAGE;
        }
    }
    if (c->listen_count == 0) {
        c->listen[c->listen_count++] = "udp://[::]:4739";
        c->listen[c->listen_count++] = "tcp://[::]:4739";
    }
    for (unsigned i = 0; i < c->listen_count; i++) {
        if (strncmp(c->listen[i], "tls://", 6) != 0 && strncmp(c->listen[i], "dtls://", 7) != 0)
            continue;
        if (!c->tls.cert || !c->tls.key || !c->tls.ca) {
            fprintf(stderr, "ipfix collect: %s: TLS needs --cert FILE, --key FILE and --ca FILE "
                            "(RFC 7011 §11.3: mutual authentication)\n", c->listen[i]);
            return IPFIX_EXIT_USAGE;
        }
    }
    if (c->per_exporter_dirs && !c->store_dir) {
        fprintf(stderr, "ipfix collect: --per-exporter needs -w DIR\n");
        return IPFIX_EXIT_USAGE;
    }
    if (!c->store_dir && !o->json_path)
        fprintf(stderr, "ipfix collect: note: neither -w nor --json: records are only counted\n");
    return -1;
}

/* Write the report to the stats file (temporary name + rename) or stderr. */
static void write_stats(ipfix_collector *collector, const char *path, bool to_stderr) {
    char *report = ipfix_collector_report(collector);
    if (!report) return;
    if (path) {
        char temp[4200];
        snprintf(temp, sizeof temp, "%s.tmp", path);
        FILE *f = fopen(temp, "w");
        if (f) {
            fputs(report, f);
            if (fclose(f) == 0) rename(temp, path);
        } else {
            fprintf(stderr, "ipfix collect: %s: %s\n", temp, strerror(errno));
        }
    }
    if (to_stderr) fputs(report, stderr);
    free(report);
}

static int write_pidfile(const char *path) {
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fprintf(f, "%ld\n", (long)getpid());
    return fclose(f);
}

/* Handle signals until INT/TERM. */
static void signal_loop(ipfix_collector *collector, const collect_options *o,
                        const sigset_t *set) {
    time_t next_stats = o->stats_path ? time(NULL) + o->stats_interval : 0;
    for (;;) {
        struct timespec timeout = {1, 0};
        int sig = sigtimedwait(set, NULL, &timeout);
        if (sig == SIGINT || sig == SIGTERM) {
            log_line((void *)o, IPFIX_LOG_INFO, sig == SIGINT ? "SIGINT: stopping" : "SIGTERM: stopping");
            return;
        }
        if (sig == SIGHUP) {
            log_line((void *)o, IPFIX_LOG_INFO, "SIGHUP: rotating files");
            ipfix_collector_rotate(collector);
        }
        if (sig == SIGUSR1) write_stats(collector, o->stats_path, !o->stats_path);
        if (next_stats && time(NULL) >= next_stats) {
            write_stats(collector, o->stats_path, false);
            next_stats = time(NULL) + o->stats_interval;
        }
    }
}

int ipfix_cmd_collect(int argc, char **argv) {
    collect_options o;
    memset(&o, 0, sizeof o);
    ipfix_collector_config_init(&o.config);
    o.stats_interval = 60;
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0) return rc;

    FILE *json = NULL;
    if (o.json_path) {
        json = strcmp(o.json_path, "-") == 0 ? stdout : fopen(o.json_path, "w");
        if (!json) {
            fprintf(stderr, "ipfix collect: %s: %s\n", o.json_path, strerror(errno));
            return IPFIX_EXIT_FAILURE;
        }
    }
    ipfix_infomodel *model = ipfix_infomodel_new();
    if (!model) {
        fprintf(stderr, "ipfix collect: out of memory\n");
        return IPFIX_EXIT_FAILURE;
    }
    o.config.model = model;
    o.config.json = json;
    o.config.log = log_line;
    o.config.log_context = &o;

    /* Block the signals before any thread exists: every thread inherits it. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    ipfix_collector *collector = NULL;
    ipfix_error err;
    ipfix_error_clear(&err);
    ipfix_status st = ipfix_collector_new(&o.config, &collector, &err);
    if (st == IPFIX_OK && o.daemon) {
        if (daemon(1, 0) < 0) {
            fprintf(stderr, "ipfix collect: daemon: %s\n", strerror(errno));
            st = IPFIX_ERR_IO;
        } else {
            openlog("ipfix-collect", LOG_PID, LOG_DAEMON);
            o.syslog = true;
        }
    }
    if (st == IPFIX_OK && o.pidfile && write_pidfile(o.pidfile) < 0)
        fprintf(stderr, "ipfix collect: %s: %s\n", o.pidfile, strerror(errno));
    if (st == IPFIX_OK) st = ipfix_collector_start(collector, &err);
    if (st != IPFIX_OK) {
        fprintf(stderr, "ipfix collect: %s: %s (%s)\n", ipfix_status_string(st),
                err.rule ? err.rule : "?", err.detail);
        ipfix_collector_free(collector);
        ipfix_infomodel_free(model);
        if (json && json != stdout) fclose(json);
        return IPFIX_EXIT_FAILURE;
    }
    {
        char line[1200];
        size_t n = (size_t)snprintf(line, sizeof line, "listening on");
        for (unsigned i = 0; i < o.config.listen_count && n < sizeof line; i++)
            n += (size_t)snprintf(line + n, sizeof line - n, " %s", o.config.listen[i]);
        log_line(&(collect_options){.verbosity = 1, .syslog = o.syslog}, IPFIX_LOG_INFO, line);
    }
    signal_loop(collector, &o, &set);
    ipfix_collector_stop(collector);
    write_stats(collector, o.stats_path, true);
    ipfix_collector_totals totals;
    ipfix_collector_totals_get(collector, &totals);
    ipfix_collector_free(collector);
    ipfix_infomodel_free(model);
    if (json) {
        fflush(json);
        if (json != stdout) fclose(json);
    }
    if (o.pidfile) unlink(o.pidfile);
    /* Messages that could not be stored: the job was not done. */
    return totals.store_errors ? IPFIX_EXIT_FAILURE : IPFIX_EXIT_OK;
}
