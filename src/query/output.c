/*
 * output.c — renders query answers: aggregation rows as an aligned table
 * (human units, percentages of the totals), CSV or JSON Lines, and the
 * record listing (flow columns as a table or CSV; JSON Lines through the
 * core renderer, identical to `ipfix dump --json`). Appends to an
 * ipfix_buffer; no I/O.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query/query_internal.h"

size_t ipfix_query_format_human(char *out, size_t size, uint64_t v) {
    int n;
    if (v < 1000) n = snprintf(out, size, "%llu", (unsigned long long)v);
    else if (v < 1000000) n = snprintf(out, size, "%.1f K", (double)v / 1e3);
    else if (v < 1000000000) n = snprintf(out, size, "%.1f M", (double)v / 1e6);
    else if (v < 1000000000000ull) n = snprintf(out, size, "%.1f G", (double)v / 1e9);
    else n = snprintf(out, size, "%.1f T", (double)v / 1e12);
    return n > 0 ? (size_t)n : 0;
}

static size_t format_ms(char *out, uint64_t ms) {
    ipfix_timestamp ts = {(int64_t)(ms / 1000), (uint32_t)(ms % 1000) * 1000000u};
    return ipfix_format_timestamp(out, ts, IPFIX_TYPE_DATE_TIME_MILLISECONDS);
}

static ipfix_status append(ipfix_buffer *b, const char *s, size_t n) {
    return ipfix_buffer_append(b, s, n);
}

static ipfix_status append_str(ipfix_buffer *b, const char *s) { return append(b, s, strlen(s)); }

/* CSV field: quoted when it holds a comma, quote or newline. */
static ipfix_status append_csv(ipfix_buffer *b, const char *s) {
    if (!strpbrk(s, ",\"\n\r")) return append_str(b, s);
    ipfix_status st = append(b, "\"", 1);
    for (const char *c = s; *c && st == IPFIX_OK; c++)
        st = *c == '"' ? append(b, "\"\"", 2) : append(b, c, 1);
    return st == IPFIX_OK ? append(b, "\"", 1) : st;
}

static ipfix_status append_json_string(ipfix_buffer *b, const char *s) {
    ipfix_status st = append(b, "\"", 1);
    for (const unsigned char *c = (const unsigned char *)s; *c && st == IPFIX_OK; c++) {
        char esc[8];
        if (*c == '"' || *c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*c;
            st = append(b, esc, 2);
        } else if (*c < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", *c);
            st = append(b, esc, 6);
        } else {
            st = append(b, (const char *)c, 1);
        }
    }
    return st == IPFIX_OK ? append(b, "\"", 1) : st;
}

/* ---------------------------------------------------------------- rows */

typedef struct column {
    const char *title;
    bool right;     /* right-aligned */
    size_t width;
} column;

static void pct(char *out, size_t size, uint64_t v, uint64_t total) {
    if (!total) snprintf(out, size, "(-)");
    else snprintf(out, size, "(%.1f%%)", 100.0 * (double)v / (double)total);
}

static ipfix_status format_table(const ipfix_query_keys *keys, uint64_t interval_ms,
                                 const ipfix_query_row *rows, size_t count,
                                 const ipfix_query_counters *totals, bool numeric,
                                 ipfix_buffer *out) {
    size_t nkeys = ipfix_query_keys_count(keys);
    size_t ncols = (interval_ms ? 1 : 0) + 2 + nkeys + 3;
    column *cols = calloc(ncols, sizeof *cols);
    char **cells = calloc((count + 1) * ncols, sizeof *cells);
    ipfix_status st = IPFIX_OK;
    if (!cols || !cells) {
        free(cols);
        free(cells);
        return IPFIX_ERR_NOMEM;
    }
    size_t c = 0;
    if (interval_ms) cols[c++] = (column){"Bin", false, 0};
    cols[c++] = (column){"First seen", false, 0};
    cols[c++] = (column){"Duration", true, 0};
    for (size_t k = 0; k < nkeys; k++)
        cols[c++] = (column){ipfix_query_keys_name(keys, k), ipfix_query_keys_numeric(keys, k), 0};
    cols[c++] = (column){"Flows", true, 0};
    cols[c++] = (column){"Packets", true, 0};
    cols[c++] = (column){"Bytes", true, 0};
    for (size_t i = 0; i < ncols; i++) cells[i] = strdup(cols[i].title);
    for (size_t r = 0; r < count; r++) {
        const ipfix_query_row *row = &rows[r];
        char **cell = cells + (r + 1) * ncols;
        char buf[160], h[32], p[32];
        size_t n;
        c = 0;
        if (interval_ms) {
            n = format_ms(buf, row->bin_ms);
            buf[n] = 0;
            cell[c++] = strdup(buf);
        }
        if (row->counters.first_ms != UINT64_MAX) {
            n = format_ms(buf, row->counters.first_ms);
            buf[n] = 0;
        } else {
            strcpy(buf, "-");
        }
        cell[c++] = strdup(buf);
        uint64_t d = row->counters.first_ms != UINT64_MAX && row->counters.last_ms >= row->counters.first_ms
                         ? row->counters.last_ms - row->counters.first_ms : 0;
        snprintf(buf, sizeof buf, "%llu.%03u", (unsigned long long)(d / 1000), (unsigned)(d % 1000));
        cell[c++] = strdup(buf);
        for (size_t k = 0; k < nkeys; k++) {
            ipfix_query_key_format(keys, k, row, numeric, buf, sizeof buf);
            cell[c++] = strdup(buf);
        }
        const uint64_t vals[3] = {row->counters.flows, row->counters.packets, row->counters.bytes};
        const uint64_t tots[3] = {totals->flows, totals->packets, totals->bytes};
        for (int v = 0; v < 3; v++) {
            ipfix_query_format_human(h, sizeof h, vals[v]);
            pct(p, sizeof p, vals[v], tots[v]);
            snprintf(buf, sizeof buf, "%s %7s", h, p);
            cell[c++] = strdup(buf);
        }
    }
    for (size_t i = 0; i < (count + 1) * ncols; i++) {
        if (!cells[i]) {
            st = IPFIX_ERR_NOMEM;
            break;
        }
        size_t w = strlen(cells[i]);
        if (w > cols[i % ncols].width) cols[i % ncols].width = w;
    }
    for (size_t r = 0; st == IPFIX_OK && r <= count; r++) {
        for (size_t i = 0; i < ncols && st == IPFIX_OK; i++) {
            const char *s = cells[r * ncols + i];
            size_t w = strlen(s), pad = cols[i].width - w;
            char spaces[256];
            if (pad > sizeof spaces) pad = sizeof spaces;
            memset(spaces, ' ', pad);
            if (i) st = append(out, "  ", 2);
            if (cols[i].right) st = append(out, spaces, pad);
            if (st == IPFIX_OK) st = append(out, s, w);
            if (!cols[i].right && i + 1 < ncols && st == IPFIX_OK) st = append(out, spaces, pad);
        }
        if (st == IPFIX_OK) st = append(out, "\n", 1);
    }
    if (st == IPFIX_OK) {
        char line[256], a[32], b[32], d[32];
        ipfix_query_format_human(a, sizeof a, totals->flows);
        ipfix_query_format_human(b, sizeof b, totals->packets);
        ipfix_query_format_human(d, sizeof d, totals->bytes);
        int n = snprintf(line, sizeof line, "Summary: %zu rows; total flows %s, packets %s, bytes %s\n",
                         count, a, b, d);
        st = append(out, line, (size_t)n);
    }
    for (size_t i = 0; i < (count + 1) * ncols; i++) free(cells[i]);
    free(cells);
    free(cols);
    return st;
}

static ipfix_status format_csv_rows(const ipfix_query_keys *keys, uint64_t interval_ms,
                                    const ipfix_query_row *rows, size_t count, bool numeric,
                                    ipfix_buffer *out) {
    size_t nkeys = ipfix_query_keys_count(keys);
    ipfix_status st = IPFIX_OK;
    if (interval_ms) st = append_str(out, "bin,");
    for (size_t k = 0; k < nkeys && st == IPFIX_OK; k++) {
        st = append_csv(out, ipfix_query_keys_name(keys, k));
        if (st == IPFIX_OK) st = append(out, ",", 1);
    }
    if (st == IPFIX_OK) st = append_str(out, "flows,packets,bytes,first,last\n");
    for (size_t r = 0; r < count && st == IPFIX_OK; r++) {
        const ipfix_query_row *row = &rows[r];
        char buf[160];
        size_t n;
        if (interval_ms) {
            n = format_ms(buf, row->bin_ms);
            buf[n++] = ',';
            st = append(out, buf, n);
        }
        for (size_t k = 0; k < nkeys && st == IPFIX_OK; k++) {
            ipfix_query_key_format(keys, k, row, numeric, buf, sizeof buf);
            st = append_csv(out, buf);
            if (st == IPFIX_OK) st = append(out, ",", 1);
        }
        n = (size_t)snprintf(buf, sizeof buf, "%llu,%llu,%llu,", (unsigned long long)row->counters.flows,
                             (unsigned long long)row->counters.packets,
                             (unsigned long long)row->counters.bytes);
        if (row->counters.first_ms != UINT64_MAX) n += format_ms(buf + n, row->counters.first_ms);
        buf[n++] = ',';
        if (row->counters.last_ms) n += format_ms(buf + n, row->counters.last_ms);
        buf[n++] = '\n';
        if (st == IPFIX_OK) st = append(out, buf, n);
    }
    return st;
}

static ipfix_status format_json_rows(const ipfix_query_keys *keys, uint64_t interval_ms,
                                     const ipfix_query_row *rows, size_t count, bool numeric,
                                     ipfix_buffer *out) {
    size_t nkeys = ipfix_query_keys_count(keys);
    ipfix_status st = IPFIX_OK;
    for (size_t r = 0; r < count && st == IPFIX_OK; r++) {
        const ipfix_query_row *row = &rows[r];
        char buf[160];
        size_t n;
        st = append(out, "{", 1);
        if (interval_ms && st == IPFIX_OK) {
            st = append_str(out, "\"bin\":\"");
            n = format_ms(buf, row->bin_ms);
            if (st == IPFIX_OK) st = append(out, buf, n);
            if (st == IPFIX_OK) st = append(out, "\",", 2);
        }
        for (size_t k = 0; k < nkeys && st == IPFIX_OK; k++) {
            st = append_json_string(out, ipfix_query_keys_name(keys, k));
            if (st == IPFIX_OK) st = append(out, ":", 1);
            ipfix_query_key_format(keys, k, row, true, buf, sizeof buf);
            bool number = ipfix_query_keys_numeric(keys, k) && strcmp(buf, "-") != 0;
            if (!number && !numeric) ipfix_query_key_format(keys, k, row, false, buf, sizeof buf);
            if (st == IPFIX_OK) st = number ? append_str(out, buf) : append_json_string(out, buf);
            if (st == IPFIX_OK) st = append(out, ",", 1);
        }
        n = (size_t)snprintf(buf, sizeof buf, "\"flows\":%llu,\"packets\":%llu,\"bytes\":%llu",
                             (unsigned long long)row->counters.flows,
                             (unsigned long long)row->counters.packets,
                             (unsigned long long)row->counters.bytes);
        if (st == IPFIX_OK) st = append(out, buf, n);
        if (row->counters.first_ms != UINT64_MAX && st == IPFIX_OK) {
            n = (size_t)snprintf(buf, sizeof buf, ",\"first\":\"");
            n += format_ms(buf + n, row->counters.first_ms);
            n += (size_t)snprintf(buf + n, sizeof buf - n, "\",\"last\":\"");
            n += format_ms(buf + n, row->counters.last_ms);
            buf[n++] = '"';
            st = append(out, buf, n);
        }
        if (st == IPFIX_OK) st = append(out, "}\n", 2);
    }
    return st;
}

ipfix_status ipfix_query_format_rows(ipfix_query_format format, const ipfix_query_keys *keys,
                                     uint64_t interval_ms, const ipfix_query_row *rows,
                                     size_t count, const ipfix_query_counters *totals,
                                     bool numeric, ipfix_buffer *out) {
    switch (format) {
    case IPFIX_QUERY_FORMAT_CSV: return format_csv_rows(keys, interval_ms, rows, count, numeric, out);
    case IPFIX_QUERY_FORMAT_JSON: return format_json_rows(keys, interval_ms, rows, count, numeric, out);
    default: return format_table(keys, interval_ms, rows, count, totals, numeric, out);
    }
}

/* ------------------------------------------------------------ listing */

enum { L_SRC4, L_DST4, L_SRC6, L_DST6, L_SPORT, L_DPORT, L_PROTO, L_FLAGS, L_INIF, L_OUTIF, L_COUNT };

typedef struct list_plan {
    qflow_fields flow;
    int field[L_COUNT];
} list_plan;

struct ipfix_query_lister {
    ipfix_query_format format;
    bool numeric;
    ipfix_renderer *renderer;
    qcache cache;
    ipfix_field_view *views;
    size_t view_capacity;
    int64_t cached_second;   /* timestamp formatting cache */
    char cached_text[32];
    size_t cached_length;
};

static void list_plan_free(void *p) { free(p); }

static void *list_plan_build(void *context, const ipfix_template *t) {
    (void)context;
    list_plan *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    q_flow_fields(t, &p->flow);
    static const uint16_t ids[L_COUNT] = {8, 12, 27, 28, 7, 11, 4, 6, 10, 14};
    for (int i = 0; i < L_COUNT; i++) p->field[i] = ipfix_template_find_field(t, 0, ids[i], 0);
    /* sanity of lengths */
    if (p->field[L_SRC4] >= 0 && t->fields[p->field[L_SRC4]].spec.length != 4) p->field[L_SRC4] = -1;
    if (p->field[L_DST4] >= 0 && t->fields[p->field[L_DST4]].spec.length != 4) p->field[L_DST4] = -1;
    if (p->field[L_SRC6] >= 0 && t->fields[p->field[L_SRC6]].spec.length != 16) p->field[L_SRC6] = -1;
    if (p->field[L_DST6] >= 0 && t->fields[p->field[L_DST6]].spec.length != 16) p->field[L_DST6] = -1;
    for (int i = L_SPORT; i < L_COUNT; i++)
        if (p->field[i] >= 0 && t->fields[p->field[i]].spec.length > 8) p->field[i] = -1;
    return p;
}

ipfix_query_lister *ipfix_query_lister_new(ipfix_query_format format, bool numeric) {
    ipfix_query_lister *l = calloc(1, sizeof *l);
    if (!l) return NULL;
    l->format = format;
    l->numeric = numeric;
    l->cached_second = -1;
    if (format == IPFIX_QUERY_FORMAT_JSON) {
        ipfix_render_options o = {IPFIX_RENDER_JSON, false};
        l->renderer = ipfix_renderer_new(&o);
        if (!l->renderer) {
            free(l);
            return NULL;
        }
    }
    qcache_init(&l->cache, list_plan_build, list_plan_free, NULL);
    return l;
}

void ipfix_query_lister_free(ipfix_query_lister *l) {
    if (!l) return;
    ipfix_renderer_free(l->renderer);
    qcache_clear(&l->cache);
    free(l->views);
    free(l);
}

void ipfix_query_lister_templates_changed(ipfix_query_lister *l) { qcache_forget_last(&l->cache); }

static const char TABLE_HEADER[] =
    "Date first seen          Duration Proto  Src IP Addr:Port                  Dst IP Addr:Port          Flags  Packets    Bytes\n";
static const char CSV_HEADER[] =
    "first,last,duration,proto,srcaddr,srcport,dstaddr,dstport,flags,packets,bytes,inif,outif\n";

ipfix_status ipfix_query_lister_header(ipfix_query_lister *l, ipfix_buffer *out) {
    if (l->format == IPFIX_QUERY_FORMAT_CSV) return append(out, CSV_HEADER, sizeof CSV_HEADER - 1);
    if (l->format == IPFIX_QUERY_FORMAT_TABLE) return append(out, TABLE_HEADER, sizeof TABLE_HEADER - 1);
    return IPFIX_OK;
}

/* ISO 8601 with milliseconds, the date/time part cached per second. */
static size_t lister_time(ipfix_query_lister *l, char *out, int64_t ms) {
    int64_t s = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
    unsigned frac = (unsigned)(ms - s * 1000);
    if (s != l->cached_second) {
        ipfix_timestamp ts = {s, 0};
        size_t n = ipfix_format_timestamp(l->cached_text, ts, IPFIX_TYPE_DATE_TIME_SECONDS);
        l->cached_length = n - 1; /* without the 'Z' */
        l->cached_second = s;
    }
    memcpy(out, l->cached_text, l->cached_length);
    char *w = out + l->cached_length;
    *w++ = '.';
    *w++ = (char)('0' + frac / 100);
    *w++ = (char)('0' + frac / 10 % 10);
    *w++ = (char)('0' + frac % 10);
    *w++ = 'Z';
    return (size_t)(w - out);
}

static size_t put_u64(char *w, uint64_t v) { return ipfix_format_u64(w, v); }

ipfix_status ipfix_query_lister_record(ipfix_query_lister *l, const ipfix_render_source *source,
                                       const ipfix_record *r, ipfix_buffer *out) {
    if (l->format == IPFIX_QUERY_FORMAT_JSON) {
        ipfix_status st = ipfix_render_record(l->renderer, source, r, out, NULL);
        return st == IPFIX_ERR_MALFORMED ? IPFIX_OK : st;
    }
    const list_plan *p = qcache_get(&l->cache, r->tmpl);
    if (!p) return IPFIX_ERR_NOMEM;
    const ipfix_field_view *views = NULL;
    if (r->tmpl->variable) {
        if (r->tmpl->field_count > l->view_capacity) {
            ipfix_field_view *v = realloc(l->views, r->tmpl->field_count * sizeof *v);
            if (!v) return IPFIX_ERR_NOMEM;
            l->views = v;
            l->view_capacity = r->tmpl->field_count;
        }
        if (ipfix_record_fields(r, l->views) != IPFIX_OK) return IPFIX_OK;
        views = l->views;
    }
    if (ipfix_buffer_reserve(out, 512) != IPFIX_OK) return IPFIX_ERR_NOMEM;
    char *w = out->data + out->length, *line = w;
    uint16_t len;
    const uint8_t *f;
    int64_t start = -1, end = -1, ns;
    if (p->flow.start >= 0) {
        f = q_field(r, views, p->flow.start, &len);
        if (q_time_ns(r->tmpl->fields[p->flow.start].type, f, len, &ns)) start = ns / 1000000;
    }
    if (p->flow.end >= 0) {
        f = q_field(r, views, p->flow.end, &len);
        if (q_time_ns(r->tmpl->fields[p->flow.end].type, f, len, &ns)) end = ns / 1000000;
    }
    if (start < 0) start = end;
    if (end < 0) end = start;
    uint64_t u[L_COUNT];
    bool has[L_COUNT];
    for (int i = L_SPORT; i < L_COUNT; i++) {
        has[i] = p->field[i] >= 0;
        u[i] = 0;
        if (has[i]) {
            f = q_field(r, views, p->field[i], &len);
            u[i] = q_unsigned(f, len);
        }
    }
    uint64_t packets = 0, bytes = 0;
    if (p->flow.packets >= 0) {
        f = q_field(r, views, p->flow.packets, &len);
        packets = q_unsigned(f, len);
    }
    if (p->flow.bytes >= 0) {
        f = q_field(r, views, p->flow.bytes, &len);
        bytes = q_unsigned(f, len);
    }
    char src[48], dst[48];
    size_t sn = 0, dn = 0;
    if (p->field[L_SRC4] >= 0) sn = ipfix_format_ipv4(src, q_field(r, views, p->field[L_SRC4], &len));
    else if (p->field[L_SRC6] >= 0) sn = ipfix_format_ipv6(src, q_field(r, views, p->field[L_SRC6], &len));
    if (p->field[L_DST4] >= 0) dn = ipfix_format_ipv4(dst, q_field(r, views, p->field[L_DST4], &len));
    else if (p->field[L_DST6] >= 0) dn = ipfix_format_ipv6(dst, q_field(r, views, p->field[L_DST6], &len));
    const char *proto = has[L_PROTO] && !l->numeric ? ipfix_value_name(IPFIX_IE_PROTOCOL_IDENTIFIER, u[L_PROTO]) : NULL;
    char flags[16];
    {
        static const char letters[] = "FSRPAUEC";
        char *fw = flags;
        for (int b = 7; b >= 0; b--) *fw++ = (u[L_FLAGS] >> b) & 1 ? letters[b] : '.';
        *fw = 0;
    }
    uint64_t dur = start >= 0 && end >= start ? (uint64_t)(end - start) : 0;
    if (l->format == IPFIX_QUERY_FORMAT_CSV) {
        if (start >= 0) w += lister_time(l, w, start);
        *w++ = ',';
        if (end >= 0) w += lister_time(l, w, end);
        *w++ = ',';
        w += put_u64(w, dur / 1000);
        *w++ = '.';
        *w++ = (char)('0' + dur % 1000 / 100);
        *w++ = (char)('0' + dur % 100 / 10);
        *w++ = (char)('0' + dur % 10);
        *w++ = ',';
        if (has[L_PROTO]) w += put_u64(w, u[L_PROTO]);
        *w++ = ',';
        memcpy(w, src, sn);
        w += sn;
        *w++ = ',';
        if (has[L_SPORT]) w += put_u64(w, u[L_SPORT]);
        *w++ = ',';
        memcpy(w, dst, dn);
        w += dn;
        *w++ = ',';
        if (has[L_DPORT]) w += put_u64(w, u[L_DPORT]);
        *w++ = ',';
        if (has[L_FLAGS]) {
            memcpy(w, flags, 8);
            w += 8;
        }
        *w++ = ',';
        w += put_u64(w, packets);
        *w++ = ',';
        w += put_u64(w, bytes);
        *w++ = ',';
        if (has[L_INIF]) w += put_u64(w, u[L_INIF]);
        *w++ = ',';
        if (has[L_OUTIF]) w += put_u64(w, u[L_OUTIF]);
        *w++ = '\n';
    } else {
        char t[40] = "-";
        size_t tn = start >= 0 ? lister_time(l, t, start) : 1;
        char pr[16];
        if (proto) snprintf(pr, sizeof pr, "%s", proto);
        else if (has[L_PROTO]) snprintf(pr, sizeof pr, "%llu", (unsigned long long)u[L_PROTO]);
        else snprintf(pr, sizeof pr, "-");
        for (char *c = pr; *c; c++) *c = (char)(*c >= 'a' && *c <= 'z' ? *c - 32 : *c);
        char sa[72], da[72], ph[24], bh[24];
        bool v6 = p->field[L_SRC4] < 0 && p->field[L_SRC6] >= 0;
        snprintf(sa, sizeof sa, v6 ? "[%.*s]:%llu" : "%.*s:%llu", (int)sn, src,
                 (unsigned long long)u[L_SPORT]);
        v6 = p->field[L_DST4] < 0 && p->field[L_DST6] >= 0;
        snprintf(da, sizeof da, v6 ? "[%.*s]:%llu" : "%.*s:%llu", (int)dn, dst,
                 (unsigned long long)u[L_DPORT]);
        ipfix_query_format_human(ph, sizeof ph, packets);
        ipfix_query_format_human(bh, sizeof bh, bytes);
        int n = snprintf(w, 400, "%-24.*s %9llu.%03u %-6s %-33s -> %-24s %s %8s %8s\n", (int)tn, t,
                         (unsigned long long)(dur / 1000), (unsigned)(dur % 1000), pr, sa, da,
                         has[L_FLAGS] ? flags : "........", ph, bh);
        w += n > 0 ? n : 0;
    }
    out->length += (size_t)(w - line);
    return IPFIX_OK;
}
