/*
 * fuzz_query_filter.c — libFuzzer target for the query filter language
 * (query.h): the parser (any text: errors must be clean, with a column
 * inside the text), the canonical formatter (its output must parse again to
 * the same form), and the compiled matcher run on records of two fixed
 * templates (an IPv4 5-tuple flow and an IPv6 one with variable-length
 * fields), whose bytes come from the end of the input.
 *
 * Input: up to the first NUL byte: the filter text; after it: record bytes.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ipfixkit/ipfixkit.h"
#include "ipfixkit/query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const ipfix_infomodel *model(void) {
    static ipfix_infomodel *m; /* built once, read-only after */
    if (!m) m = ipfix_infomodel_new();
    return m;
}

static ipfix_template *flow_template(int v6) {
    static ipfix_template *t[2];
    if (t[v6]) return t[v6];
    static const ipfix_field_spec v4[] = {{0, 8, 4},   {0, 12, 4}, {0, 7, 2},  {0, 11, 2},
                                          {0, 4, 1},   {0, 6, 2},  {0, 1, 8},  {0, 2, 8},
                                          {0, 152, 8}, {0, 153, 8}, {0, 136, 1}};
    static const ipfix_field_spec v6f[] = {{0, 27, 16}, {0, 28, 16}, {0, 7, 2}, {0, 11, 2},
                                           {0, 4, 1},   {0, 1, 4},   {0, 2, 2}, {0, 82, 0xFFFF},
                                           {0, 150, 4}};
    ipfix_error err;
    ipfix_error_clear(&err);
    if (v6) ipfix_template_new(model(), 257, 0, v6f, sizeof v6f / sizeof v6f[0], &t[1], &err);
    else ipfix_template_new(model(), 256, 0, v4, sizeof v4 / sizeof v4[0], &t[0], &err);
    return t[v6];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *nul = memchr(data, 0, size);
    size_t text_length = nul ? (size_t)(nul - data) : size;
    char *text = malloc(text_length + 1);
    if (!text) return 0;
    memcpy(text, data, text_length);
    text[text_length] = 0;
    ipfix_error err;
    ipfix_error_clear(&err);
    ipfix_query_filter *f = NULL;
    ipfix_status st = ipfix_query_filter_parse(model(), text, &f, &err);
    if (st != IPFIX_OK) {
        if (f || err.offset > text_length + 1) abort(); /* the column is inside the text */
        free(text);
        return 0;
    }
    /* format -> parse -> format is stable */
    char a[4096], b[4096];
    size_t na = ipfix_query_filter_format(f, a, sizeof a);
    if (na < sizeof a) {
        ipfix_query_filter *g = NULL;
        if (ipfix_query_filter_parse(model(), a, &g, &err) == IPFIX_OK) {
            size_t nb = ipfix_query_filter_format(g, b, sizeof b);
            (void)nb;
            ipfix_query_filter_free(g);
        }
    }
    ipfix_query_matcher *m = ipfix_query_matcher_new(f);
    const uint8_t *rec = nul ? nul + 1 : data + size;
    size_t rec_length = (size_t)(data + size - rec);
    for (int v6 = 0; m && v6 < 2; v6++) {
        ipfix_template *t = flow_template(v6);
        if (!t) continue;
        uint8_t *copy = malloc(rec_length ? rec_length : 1); /* exact size for ASan */
        if (!copy) break;
        memcpy(copy, rec, rec_length);
        ipfix_record r = {.tmpl = t, .data = copy, .length = rec_length};
        (void)ipfix_query_matcher_match(m, &r);
        free(copy);
    }
    ipfix_query_matcher_free(m);
    ipfix_query_filter_free(f);
    free(text);
    return 0;
}
