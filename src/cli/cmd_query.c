/*
 * cmd_query.c — `ipfix query`: answer questions over stored flows (files,
 * collector storage directories, stdin) with a filter, aggregation by any
 * list of elements, top-N, time bins and table/CSV/JSON output. The work is
 * done by the query library (include/ipfixkit/query.h); this file parses the
 * command line, prints problems and the footer, and sets the exit code.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "ipfixkit/ipfixkit.h"
#include "ipfixkit/query.h"

static void usage(FILE *out) {
    fprintf(out,
            "usage: ipfix query [options] PATH... [FILTER]\n"
            "\n"
            "Filter, aggregate and rank stored flow records. PATH: IPFIX files, collector\n"
            "storage directories (ipfix collect -w DIR; searched recursively for *.ipfix,\n"
            "in-progress .NAME.tmp files skipped) or '-' for standard input. The last\n"
            "argument is the FILTER when it is not an existing path. Options records\n"
            "(collector metadata, statistics) are not flows and are skipped.\n"
            "\n"
            "options:\n"
            "  -g, --group-by LIST   aggregate by elements or aliases, comma-separated, each\n"
            "                        optionally /LEN (IPv4) or /LEN4/LEN6 (prefix masks):\n"
            "                        srcip dstip srcport dstport proto srcas dstas inif outif\n"
            "                        tos flags nexthop, or any element name\n"
            "                        (sourceIPv4Address/24,destinationTransportPort)\n"
            "  -n, --top N           keep the N largest groups (per time bin) by --order\n"
            "  -O, --order FIELD     flows (default) | packets | bytes | first | last | key\n"
            "  -i, --interval D      time series: bins of D (30s, 5m, 1h, 1d) by flow start\n"
            "      --bin-by-end      bin by flow end instead of start\n"
            "  -B, --bidirectional   group A->B and B->A together (source/destination key\n"
            "                        pairs in canonical order)\n"
            "      --totals          one row with the totals of the matching flows\n"
            "  -t, --time FROM..TO   only flows starting in [FROM, TO) (UTC, e.g.\n"
            "                        2026-11-22T13:00..2026-11-22T14:00; either side may be\n"
            "                        empty); storage files are chosen by the time in their name\n"
            "      --filter EXPR     the filter (instead of the last argument)\n"
            "      --csv             CSV output (header line, plain numbers)\n"
            "      --json            JSON Lines output (listing: as `ipfix dump --json`)\n"
            "      --numeric         numbers instead of names (protocols)\n"
            "      --threads N       worker threads (default: one per CPU)\n"
            "  -q, --quiet           no footer\n"
            "      --explain         print the parsed filter and exit\n"
            "      --elements FILE   load enterprise elements (CSV with a PEN column)\n"
            "  -h, --help            this help\n"
            "\n"
            "Without --group-by, --interval or --totals the matching records are listed.\n"
            "The footer (after the table, on standard error for CSV/JSON) gives files\n"
            "read, records scanned, matched and the time taken.\n"
            "\n"
            "filter (see ipfix-query(1)): proto tcp|udp|icmp|N, [src|dst] host ADDR,\n"
            "  [src|dst] net PREFIX, [src|dst] port [OP] N, packets|bytes|flows OP N (K/M/G),\n"
            "  flags SAF..., in if N, out if N, ipv4, ipv6, tos N, ELEMENT OP VALUE,\n"
            "  any; and or not && || ! ( ); OP: = == != < <= > >=\n"
            "\n"
            "examples:\n"
            "  ipfix query /var/lib/ipfix 'proto tcp and dst port 443'\n"
            "  ipfix query -g srcip -n 10 -O bytes /var/lib/ipfix 'bytes > 1M'\n"
            "  ipfix query -g sourceIPv4Address/24,destinationTransportPort flows.ipfix\n"
            "  ipfix query -i 5m --totals -t 2026-11-22T13:00..2026-11-22T14:00 /var/lib/ipfix\n"
            "  ipfix query --json flows.ipfix 'flowEndReason = idleTimeout' | jq .record\n"
            "\n"
            "exit status: 0 ok, 1 failure, 2 usage error, 3 partial answer (a bad or\n"
            "truncated file was reported and skipped).\n");
}

typedef struct out_ctx {
    bool failed;
} out_ctx;

static ipfix_status write_stdout(void *context, const char *data, size_t length) {
    out_ctx *o = context;
    if (!length) return IPFIX_OK;
    if (fwrite(data, 1, length, stdout) != length) {
        o->failed = true;
        return IPFIX_ERR_IO;
    }
    return IPFIX_OK;
}

static void report_problem(void *context, const char *path, uint64_t offset, const ipfix_error *e) {
    (void)context;
    fflush(stdout);
    const char *rule = e->rule ? e->rule : ipfix_status_string(e->status);
    if (e->detail[0])
        fprintf(stderr, "ipfix query: %s: offset %llu: %s (%s)\n", strcmp(path, "-") ? path : "<stdin>",
                (unsigned long long)offset, rule, e->detail);
    else
        fprintf(stderr, "ipfix query: %s: offset %llu: %s\n", strcmp(path, "-") ? path : "<stdin>",
                (unsigned long long)offset, rule);
}

static bool parse_range(const char *s, int64_t *from, int64_t *to) {
    const char *dots = strstr(s, "..");
    char a[64] = "", b[64] = "";
    if (!dots) return false;
    size_t n = (size_t)(dots - s);
    if (n >= sizeof a || strlen(dots + 2) >= sizeof b) return false;
    memcpy(a, s, n);
    a[n] = 0;
    strcpy(b, dots + 2);
    *from = *to = 0;
    if (a[0] && ipfix_query_parse_time(a, from) != IPFIX_OK) return false;
    if (b[0] && ipfix_query_parse_time(b, to) != IPFIX_OK) return false;
    return !(a[0] && b[0] && *to <= *from);
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int usage_error(const char *message, const char *arg) {
    fprintf(stderr, "ipfix query: %s%s%s\n", message, arg ? " " : "", arg ? arg : "");
    fprintf(stderr, "Run 'ipfix query --help' for the options.\n");
    return IPFIX_EXIT_USAGE;
}

int ipfix_cmd_query(int argc, char **argv) {
    const char *group_by = NULL, *order_name = NULL, *interval_text = NULL, *time_text = NULL;
    const char *filter_text = NULL, *threads_text = NULL, *top_text = NULL;
    bool csv = false, json = false, numeric = false, quiet = false, explain = false;
    bool bidirectional = false, bin_by_end = false, totals_only = false;
    char **positional = calloc((size_t)argc + 1, sizeof *positional);
    const char **element_files = calloc((size_t)argc + 1, sizeof *element_files);
    size_t npos = 0, nelem = 0;
    int rc = IPFIX_EXIT_OK;
    if (!positional || !element_files) {
        free(positional);
        free(element_files);
        return IPFIX_EXIT_FAILURE;
    }
    bool options_done = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *value = NULL;
#define TAKE(shortname, longname, var)                                                            \
    if (strcmp(a, shortname) == 0 || strcmp(a, longname) == 0) {                                  \
        if (i + 1 >= argc) {                                                                     \
            rc = usage_error("missing value for", a);                                            \
            goto out;                                                                            \
        }                                                                                        \
        var = argv[++i];                                                                         \
        continue;                                                                                \
    }                                                                                            \
    if (strncmp(a, longname "=", sizeof longname) == 0) {                                        \
        var = a + sizeof longname;                                                               \
        continue;                                                                                \
    }
        if (options_done || a[0] != '-' || strcmp(a, "-") == 0) {
            positional[npos++] = argv[i];
            continue;
        }
        if (strcmp(a, "--") == 0) {
            options_done = true;
            continue;
        }
        TAKE("-g", "--group-by", group_by)
        TAKE("-n", "--top", top_text)
        TAKE("-O", "--order", order_name)
        TAKE("-i", "--interval", interval_text)
        TAKE("-t", "--time", time_text)
        TAKE("--filter", "--filter", filter_text)
        TAKE("--threads", "--threads", threads_text)
        TAKE("--elements", "--elements", value)
        if (value) {
            element_files[nelem++] = value;
            continue;
        }
        if (strcmp(a, "--csv") == 0) csv = true;
        else if (strcmp(a, "--json") == 0) json = true;
        else if (strcmp(a, "--numeric") == 0) numeric = true;
        else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) quiet = true;
        else if (strcmp(a, "--explain") == 0) explain = true;
        else if (strcmp(a, "-B") == 0 || strcmp(a, "--bidirectional") == 0) bidirectional = true;
        else if (strcmp(a, "--bin-by-end") == 0) bin_by_end = true;
        else if (strcmp(a, "--totals") == 0) totals_only = true;
        else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            goto out;
        } else {
            rc = usage_error("unknown option", a);
            goto out;
        }
#undef TAKE
    }
    if (csv && json) {
        rc = usage_error("--csv and --json exclude each other", NULL);
        goto out;
    }
    /* the filter: --filter, else the last positional argument that is not a path */
    if (!filter_text && npos >= 1) {
        struct stat sb;
        const char *last = positional[npos - 1];
        if (strcmp(last, "-") != 0 && stat(last, &sb) != 0 && (npos > 1 || explain)) {
            filter_text = last;
            npos--;
        }
    }
    if (!npos && !explain) {
        rc = usage_error("no input PATH (use - for standard input)", NULL);
        goto out;
    }
    uint64_t top = 0, interval_ms = 0;
    unsigned threads = 0;
    ipfix_query_order order = IPFIX_QUERY_ORDER_FLOWS;
    int64_t from_ms = 0, to_ms = 0;
    if (top_text) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(top_text, &end, 10);
        if (errno || end == top_text || *end || v == 0) {
            rc = usage_error("--top needs a number > 0, not", top_text);
            goto out;
        }
        top = v;
    }
    if (order_name && ipfix_query_order_from_name(order_name, &order) != IPFIX_OK) {
        rc = usage_error("--order: flows, packets, bytes, first, last or key, not", order_name);
        goto out;
    }
    if (interval_text && ipfix_query_parse_duration(interval_text, &interval_ms) != IPFIX_OK) {
        rc = usage_error("--interval needs a duration like 30s, 5m, 1h, not", interval_text);
        goto out;
    }
    if (time_text && !parse_range(time_text, &from_ms, &to_ms)) {
        rc = usage_error("--time needs FROM..TO (YYYY-MM-DDTHH:MM[:SS], FROM < TO), not", time_text);
        goto out;
    }
    if (threads_text) {
        char *end;
        unsigned long v = strtoul(threads_text, &end, 10);
        if (end == threads_text || *end || v == 0 || v > 64) {
            rc = usage_error("--threads needs 1..64, not", threads_text);
            goto out;
        }
        threads = (unsigned)v;
    }
    bool aggregate = group_by || interval_ms || totals_only;
    if (top && !aggregate) {
        rc = usage_error("--top needs --group-by (or --interval)", NULL);
        goto out;
    }
    if (bidirectional && !group_by) {
        rc = usage_error("--bidirectional needs --group-by", NULL);
        goto out;
    }

    ipfix_infomodel *model = ipfix_infomodel_new();
    if (!model) {
        rc = IPFIX_EXIT_FAILURE;
        goto out;
    }
    for (size_t i = 0; i < nelem; i++)
        if (!ipfix_cli_load_elements(model, element_files[i], "ipfix query")) {
            ipfix_infomodel_free(model);
            rc = IPFIX_EXIT_FAILURE;
            goto out;
        }
    ipfix_error err;
    ipfix_error_clear(&err);
    ipfix_query_filter *filter = NULL;
    ipfix_query_keys *keys = NULL;
    char **files = NULL;
    size_t file_count = 0;
    ipfix_query_agg *agg = NULL;
    ipfix_query_row *rows = NULL;
    size_t row_count = 0;
    ipfix_buffer buf;
    ipfix_buffer_init(&buf);
    if (ipfix_query_filter_parse(model, filter_text, &filter, &err) != IPFIX_OK) {
        if (err.status == IPFIX_ERR_MALFORMED) {
            fprintf(stderr, "ipfix query: filter: column %zu: %s\n", err.offset, err.detail);
            fprintf(stderr, "  %s\n  %*s^\n", filter_text, (int)(err.offset ? err.offset - 1 : 0), "");
            rc = IPFIX_EXIT_USAGE;
        } else {
            fprintf(stderr, "ipfix query: %s\n", ipfix_status_string(err.status));
            rc = IPFIX_EXIT_FAILURE;
        }
        goto cleanup;
    }
    if (explain) {
        size_t n = ipfix_query_filter_format(filter, NULL, 0);
        char *text = malloc(n + 1);
        if (text) {
            ipfix_query_filter_format(filter, text, n + 1);
            printf("%s\n", text);
            free(text);
        }
        goto cleanup;
    }
    if (group_by && ipfix_query_keys_parse(model, group_by, &keys, &err) != IPFIX_OK) {
        fprintf(stderr, "ipfix query: --group-by: %s\n", err.detail);
        rc = err.status == IPFIX_ERR_NOMEM ? IPFIX_EXIT_FAILURE : IPFIX_EXIT_USAGE;
        goto cleanup;
    }
    if (ipfix_query_files((const char *const *)positional, npos, from_ms, to_ms, &files,
                          &file_count, &err) != IPFIX_OK) {
        fprintf(stderr, "ipfix query: %s%s%s\n", err.rule, err.detail[0] ? ": " : "", err.detail);
        rc = IPFIX_EXIT_FAILURE;
        goto cleanup;
    }
    ipfix_query_format format = csv ? IPFIX_QUERY_FORMAT_CSV
                                : json ? IPFIX_QUERY_FORMAT_JSON : IPFIX_QUERY_FORMAT_TABLE;
    ipfix_query_agg_config ac = {keys, interval_ms, bin_by_end, bidirectional};
    out_ctx oc = {false};
    ipfix_query_scan_config sc = {
        .model = model, .filter = filter, .agg = aggregate ? &ac : NULL, .list_format = format,
        .numeric = numeric, .from_ms = from_ms, .to_ms = to_ms, .threads = threads,
        .problem = report_problem, .write = write_stdout, .context = &oc};
    static char stdout_buffer[1 << 20];
    setvbuf(stdout, stdout_buffer, _IOFBF, sizeof stdout_buffer);
    ipfix_query_lister *header = NULL;
    if (!aggregate) {
        header = ipfix_query_lister_new(format, numeric);
        if (header) {
            ipfix_query_lister_header(header, &buf);
            write_stdout(&oc, buf.data, buf.length);
            buf.length = 0;
            ipfix_query_lister_free(header);
        }
    }
    double t0 = now_seconds();
    ipfix_query_stats stats;
    ipfix_status st = ipfix_query_scan(&sc, files, file_count, &agg, &stats, &err);
    if (st != IPFIX_OK) {
        fprintf(stderr, "ipfix query: %s%s%s\n", err.rule ? err.rule : ipfix_status_string(st),
                err.detail[0] ? ": " : "", err.detail);
        rc = IPFIX_EXIT_FAILURE;
        goto cleanup;
    }
    ipfix_query_counters totals = {0, 0, 0, UINT64_MAX, 0};
    if (aggregate) {
        ipfix_query_agg_totals(agg, &totals);
        if (ipfix_query_agg_result(agg, order, top, &rows, &row_count) != IPFIX_OK ||
            ipfix_query_format_rows(format, keys, interval_ms, rows, row_count, &totals, numeric,
                                    &buf) != IPFIX_OK) {
            fprintf(stderr, "ipfix query: out of memory\n");
            rc = IPFIX_EXIT_FAILURE;
            goto cleanup;
        }
        write_stdout(&oc, buf.data, buf.length);
    }
    double elapsed = now_seconds() - t0;
    if (!quiet) {
        FILE *f = format == IPFIX_QUERY_FORMAT_TABLE ? stdout : stderr;
        fflush(stdout);
        fprintf(f,
                "files read: %llu (bad: %llu), records scanned: %llu, matched: %llu, "
                "time: %.3f s (%.2fM records/s)\n",
                (unsigned long long)stats.files, (unsigned long long)stats.bad_files,
                (unsigned long long)stats.records, (unsigned long long)stats.matched, elapsed,
                elapsed > 0 ? (double)stats.records / elapsed / 1e6 : 0.0);
    }
    if (fflush(stdout) != 0) oc.failed = true;
    if (oc.failed) {
        fprintf(stderr, "ipfix query: write error: %s\n", strerror(errno));
        rc = IPFIX_EXIT_FAILURE;
    } else if (stats.bad_files) {
        rc = IPFIX_EXIT_PARTIAL;
    }
cleanup:
    free(rows);
    ipfix_query_agg_free(agg);
    ipfix_buffer_free(&buf);
    ipfix_query_files_free(files, file_count);
    ipfix_query_keys_free(keys);
    ipfix_query_filter_free(filter);
    ipfix_infomodel_free(model);
out:
    free(positional);
    free(element_files);
    return rc;
}
