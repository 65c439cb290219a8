/*
 * query.h — answering questions over stored flow records (`ipfix query`):
 * an nfdump/tcpdump-like filter language, aggregation by any list of
 * elements (with address prefix masks), top-N, time bins, and a parallel
 * scan of IPFIX Files (RFC 5655) and collector storage directories.
 *
 * Pieces, usable alone or together:
 *   filter   ipfix_query_filter_parse() turns "proto tcp and dst port 443"
 *            into an immutable AST (shareable between threads).
 *            ipfix_query_matcher (one per thread) compiles the AST once per
 *            template into a small program of field offsets and evaluates
 *            records in place, with no allocation per record.
 *   keys     ipfix_query_keys_parse() parses a group-by list
 *            ("sourceIPv4Address/24,dstport"); immutable, shareable.
 *   agg      ipfix_query_agg: hash table keyed by the group-by values (and
 *            the time bin), summing flows, packets, bytes, first start and
 *            last end. One per thread; merge them with ipfix_query_agg_merge.
 *            ipfix_query_agg_result() gives the rows, top-N by a sum.
 *   scan     ipfix_query_scan() reads files with one worker per core, each
 *            with its own session, matcher and aggregation, merged at the
 *            end; without aggregation it lists the matching records (CSV,
 *            JSON Lines, text) through a write callback, in file order.
 *   output   ipfix_query_format_rows() renders aggregation rows as an
 *            aligned table (human units, percentages), CSV or JSON Lines.
 * Only flow records are considered: records of Options Templates (collector
 * metadata, RFC 5655 §8 time windows, statistics) are skipped.
 *
 * Ownership: every handle is opaque, created by a _new/_parse call and freed
 * by its _free call. Filters and keys are borrowed by matchers,
 * aggregations and scans and must outlive them. Rows returned by
 * ipfix_query_agg_result() are one malloc'd array (free() it) whose key
 * pointers borrow the aggregation. The information model is borrowed.
 * Library code never prints: errors are returned in ipfix_error (for the
 * filter language: offset = 1-based column, detail = the message) and
 * per-file problems of a scan are passed to a callback.
 */
#ifndef IPFIXKIT_QUERY_H
#define IPFIXKIT_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "infomodel.h"
#include "render.h"
#include "template.h"

#ifdef __cplusplus
extern "C" {
#endif

/* =============================== filter ================================ */

typedef struct ipfix_query_filter ipfix_query_filter;

/* Parse `text` (NULL or blank = "any"). On a syntax error: IPFIX_ERR_MALFORMED,
 * err->offset = 1-based column of the offending token, err->detail like
 * "expected ADDRESS after 'host', got 'foo'". */
ipfix_status ipfix_query_filter_parse(const ipfix_infomodel *model, const char *text,
                                      ipfix_query_filter **out, ipfix_error *err);
void ipfix_query_filter_free(ipfix_query_filter *filter);

/* Canonical, fully parenthesised form of the AST (tests, --explain):
 * e.g. "(and (= protocolIdentifier 6) (or (= sourceTransportPort 443) ...))".
 * Returns the length it needs (like snprintf). */
size_t ipfix_query_filter_format(const ipfix_query_filter *filter, char *out, size_t size);

/* Is the filter "any" (matches everything)? */
bool ipfix_query_filter_is_any(const ipfix_query_filter *filter);

typedef struct ipfix_query_matcher ipfix_query_matcher;

/* A per-thread evaluator of `filter` (borrowed). NULL on allocation failure. */
ipfix_query_matcher *ipfix_query_matcher_new(const ipfix_query_filter *filter);
void ipfix_query_matcher_free(ipfix_query_matcher *matcher);

/* Does `record` match? Compiles the filter for record->tmpl on first use
 * (cached by template pointer, re-validated against the template's fields).
 * A record too short for its template does not match. */
bool ipfix_query_matcher_match(ipfix_query_matcher *matcher, const ipfix_record *record);

/* Forget compiled programs (call when templates may have been freed). */
void ipfix_query_matcher_reset(ipfix_query_matcher *matcher);
/* Cheaper: only the last-template fast path is dropped (call after any
 * template event; cached programs are re-validated on lookup). */
void ipfix_query_matcher_templates_changed(ipfix_query_matcher *matcher);

/* ============================ group-by keys ============================ */

typedef struct ipfix_query_keys ipfix_query_keys;

/* Comma-separated list: element names or aliases (srcip, dstip, srcport,
 * dstport, proto, srcnet, dstnet, srcas, dstas, inif, outif, tos, flags,
 * nexthop), each optionally /LEN (IPv4 prefix) or /LEN4/LEN6. */
ipfix_status ipfix_query_keys_parse(const ipfix_infomodel *model, const char *list,
                                    ipfix_query_keys **out, ipfix_error *err);
void ipfix_query_keys_free(ipfix_query_keys *keys);
size_t ipfix_query_keys_count(const ipfix_query_keys *keys);
/* Column title of key part `index` as written ("srcip/24"). */
const char *ipfix_query_keys_name(const ipfix_query_keys *keys, size_t index);
/* Is the part a number (JSON number, right-aligned)? */
bool ipfix_query_keys_numeric(const ipfix_query_keys *keys, size_t index);

/* ============================= aggregation ============================= */

typedef enum ipfix_query_order {
    IPFIX_QUERY_ORDER_NONE = 0,   /* by key */
    IPFIX_QUERY_ORDER_FLOWS,
    IPFIX_QUERY_ORDER_PACKETS,
    IPFIX_QUERY_ORDER_BYTES,
    IPFIX_QUERY_ORDER_FIRST,      /* earliest first start first */
    IPFIX_QUERY_ORDER_LAST        /* latest last end first */
} ipfix_query_order;

/* "flows"/"records", "packets", "bytes", "first"/"start", "last"/"end". */
ipfix_status ipfix_query_order_from_name(const char *name, ipfix_query_order *out);

typedef struct ipfix_query_agg_config {
    const ipfix_query_keys *keys; /* NULL or empty: totals (per bin) only */
    uint64_t interval_ms;         /* > 0: time bins of this width */
    bool bin_by_end;              /* bins by flowEnd instead of flowStart */
    bool bidirectional;           /* A->B and B->A in one group */
} ipfix_query_agg_config;

typedef struct ipfix_query_counters {
    uint64_t flows;
    uint64_t packets;
    uint64_t bytes;
    uint64_t first_ms;    /* earliest flow start (UINT64_MAX: none) */
    uint64_t last_ms;     /* latest flow end (0: none) */
} ipfix_query_counters;

typedef struct ipfix_query_row {
    uint64_t bin_ms;              /* bin start (interval_ms > 0) */
    const uint8_t *key;           /* encoded key (borrowed from the aggregation) */
    ipfix_query_counters counters;
} ipfix_query_row;

typedef struct ipfix_query_agg ipfix_query_agg;

ipfix_query_agg *ipfix_query_agg_new(const ipfix_query_agg_config *config);
void ipfix_query_agg_free(ipfix_query_agg *agg);

/* Templates may have been freed: drop the per-template key plans. */
void ipfix_query_agg_templates_changed(ipfix_query_agg *agg);

/* Add one flow record. IPFIX_ERR_NOMEM when the table cannot grow. */
ipfix_status ipfix_query_agg_add(ipfix_query_agg *agg, const ipfix_record *record);

/* Add every group of `from` into `into` (same config). */
ipfix_status ipfix_query_agg_merge(ipfix_query_agg *into, const ipfix_query_agg *from);

/* Number of groups, and the sums over all of them. */
size_t ipfix_query_agg_groups(const ipfix_query_agg *agg);
void ipfix_query_agg_totals(const ipfix_query_agg *agg, ipfix_query_counters *totals);

/* The rows: with interval_ms, ordered by bin, then within each bin by
 * `order` (descending for sums), at most `top` per bin (0: all). Ties are
 * broken by key bytes so the answer is deterministic. *rows is malloc'd
 * (free() it; NULL when *count is 0). */
ipfix_status ipfix_query_agg_result(const ipfix_query_agg *agg, ipfix_query_order order,
                                    size_t top, ipfix_query_row **rows, size_t *count);

/* Text of key part `index` of a row ("10.0.0.0/24", "443", "tcp" for
 * protocolIdentifier when !numeric, "-" when absent). Returns the length. */
size_t ipfix_query_key_format(const ipfix_query_keys *keys, size_t index,
                              const ipfix_query_row *row, bool numeric, char *out,
                              size_t size);

/* ================================ output ================================ */

typedef enum ipfix_query_format {
    IPFIX_QUERY_FORMAT_TABLE = 0,
    IPFIX_QUERY_FORMAT_CSV = 1,
    IPFIX_QUERY_FORMAT_JSON = 2
} ipfix_query_format;

/* Aggregation rows: TABLE aligned with human units (1.2 K, 3.4 M, 5.6 G)
 * and percentages of `totals`; CSV with a header line and plain numbers;
 * JSON Lines, one object per row. `interval_ms` > 0 adds a bin column. */
ipfix_status ipfix_query_format_rows(ipfix_query_format format, const ipfix_query_keys *keys,
                                     uint64_t interval_ms, const ipfix_query_row *rows,
                                     size_t count, const ipfix_query_counters *totals,
                                     bool numeric, ipfix_buffer *out);

/* "1.2 K" style (1000-based); raw number below 1000. Returns the length. */
size_t ipfix_query_format_human(char *out, size_t size, uint64_t value);

/* Listing of records (no aggregation): TABLE/CSV lines of the flow columns
 * first,last,duration,proto,srcaddr,srcport,dstaddr,dstport,flags,packets,
 * bytes,inif,outif; JSON Lines exactly as `ipfix dump --json`. */
typedef struct ipfix_query_lister ipfix_query_lister;
ipfix_query_lister *ipfix_query_lister_new(ipfix_query_format format, bool numeric);
void ipfix_query_lister_free(ipfix_query_lister *lister);
/* Header line (TABLE/CSV; nothing for JSON). */
ipfix_status ipfix_query_lister_header(ipfix_query_lister *lister, ipfix_buffer *out);
ipfix_status ipfix_query_lister_record(ipfix_query_lister *lister,
                                       const ipfix_render_source *source,
                                       const ipfix_record *record, ipfix_buffer *out);
/* Templates may have been freed (e.g. a file's session ended). */
void ipfix_query_lister_templates_changed(ipfix_query_lister *lister);

/* ================================= scan ================================= */

/* Expand PATHs (files, storage directories, "-") into the files to read:
 * directories are walked recursively for "*.ipfix" files (hidden
 * ".NAME.tmp" files in progress are skipped), in name order. With a time
 * range, files named ipfix-YYYYMMDDHHMMSS-*.ipfix are kept only when that
 * (open) time lies in [from - 1 h, to + 1 h] (stored flows may have started
 * up to an active timeout before their file was opened); records are then
 * selected by time in the scan. *files is a malloc'd array of malloc'd
 * strings: free with ipfix_query_files_free. */
ipfix_status ipfix_query_files(const char *const *paths, size_t path_count, int64_t from_ms,
                               int64_t to_ms, char ***files, size_t *count, ipfix_error *err);
void ipfix_query_files_free(char **files, size_t count);

/* Parse "2026-11-22T13:00[:SS]" / "2026-11-22 13:00:00" / "2026-11-22" (UTC)
 * or a number of seconds since the epoch into milliseconds. */
ipfix_status ipfix_query_parse_time(const char *text, int64_t *ms);
/* Parse "300", "30s", "5m", "1h", "1d" into milliseconds (> 0). */
ipfix_status ipfix_query_parse_duration(const char *text, uint64_t *ms);

typedef struct ipfix_query_stats {
    uint64_t files;            /* files opened and read */
    uint64_t bad_files;        /* files with errors (reported) or unreadable */
    uint64_t messages;
    uint64_t records;          /* flow records scanned */
    uint64_t options_records;  /* options records skipped */
    uint64_t matched;          /* flow records that matched filter and time range */
    uint64_t errors;           /* problems reported */
} ipfix_query_stats;

/* A problem with one file: `path`, file offset, and what (rule + detail). */
typedef void (*ipfix_query_problem_fn)(void *context, const char *path, uint64_t offset,
                                       const ipfix_error *error);
/* List mode output, called in file order from worker threads (serialised). */
typedef ipfix_status (*ipfix_query_write_fn)(void *context, const char *data, size_t length);

typedef struct ipfix_query_scan_config {
    const ipfix_infomodel *model;
    const ipfix_query_filter *filter;     /* NULL: any */
    const ipfix_query_agg_config *agg;    /* NULL: list the matching records */
    ipfix_query_format list_format;       /* list mode */
    bool numeric;                         /* list mode text: numbers, not names */
    int64_t from_ms, to_ms;               /* record time range [from, to); 0/0: none */
    unsigned threads;                     /* 0: one per online CPU */
    ipfix_query_problem_fn problem;       /* may be NULL */
    ipfix_query_write_fn write;           /* list mode */
    void *context;
} ipfix_query_scan_config;

/* Scan `files` (as given by ipfix_query_files; "-" = standard input).
 * Aggregation mode: *result (caller frees) holds the merged aggregation.
 * Bad or truncated files are reported through config->problem, counted in
 * stats->bad_files, and the rest is answered: the return is then IPFIX_OK
 * and the caller tells "partial" from stats->bad_files. IPFIX_ERR_NOMEM /
 * IPFIX_ERR_IO (output) are failures. */
ipfix_status ipfix_query_scan(const ipfix_query_scan_config *config, char *const *files,
                              size_t file_count, ipfix_query_agg **result,
                              ipfix_query_stats *stats, ipfix_error *err);

#ifdef __cplusplus
}
#endif
#endif
