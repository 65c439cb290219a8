/*
 * fuzz_structured.c — libFuzzer target for structured data (RFC 6313,
 * structured.h) and record splitting (template.h), without the message
 * layer: the input is one field's content, decoded against a fixed set of
 * templates (fixed- and variable-length, options, nested and self-nesting
 * list fields) registered once in a static session.
 *
 * Input: one selector byte, then the field bytes. Selector bits 0-1:
 *   0 basicList, 1 subTemplateList, 2 subTemplateMultiList — walked
 *     recursively (sub-templates from the session) up to
 *     IPFIX_STRUCTURED_MAX_DEPTH;
 *   3 a run of data records of template 300 + (bits 2-5) (300-308; others
 *     are not defined: no-op), each measured, split into fields and
 *     decoded the same way.
 * Seeds: fuzz/corpus/fuzz_structured (tools/make_fuzz_seeds.py).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define V IPFIX_VARLEN
#define PEN_TEST 6871u /* not in the model: unknown elements */
#define P FUZZ_PEN      /* in the model: one element per type */

typedef struct fixed_template {
    uint16_t id;
    uint16_t scope;
    uint16_t count;
    ipfix_field_spec specs[12];
} fixed_template;

/* Keep in sync with tools/make_fuzz_seeds.py (STRUCTURED_TEMPLATES). */
static const fixed_template TEMPLATES[] = {
    /* 300: fixed 19 bytes: sourceIPv4Address, destinationIPv4Address,
     * sourceTransportPort, protocolIdentifier, octetDeltaCount */
    {300, 0, 5, {{0, 8, 4}, {0, 12, 4}, {0, 7, 2}, {0, 4, 1}, {0, 1, 8}}},
    /* 301: variable: interfaceName, octetDeltaCount (reduced to 4),
     * applicationName, an enterprise field (unknown: octetArray) */
    {301, 0, 4, {{0, 82, V}, {0, 1, 4}, {0, 96, V}, {PEN_TEST, 12, V}}},
    /* 302: basicList, subTemplateList, packetDeltaCount */
    {302, 0, 3, {{0, 291, V}, {0, 292, V}, {0, 2, 8}}},
    /* 303: subTemplateMultiList, fixed-length subTemplateList (one 300
     * record) and basicList (two IPv4 addresses) */
    {303, 0, 3, {{0, 293, V}, {0, 292, 22}, {0, 291, 13}}},
    /* 304: options: scope observationDomainId; samplingPacketInterval,
     * samplingProbability (float64), dataRecordsReliability (boolean) */
    {304, 1, 4, {{0, 149, 4}, {0, 305, 4}, {0, 311, 8}, {0, 276, 1}}},
    /* 305: self-nesting: protocolIdentifier, subTemplateList (of 305...) */
    {305, 0, 2, {{0, 4, 1}, {0, 292, V}}},
    /* 306: the other types: IPv6, MAC, the four dateTimes, signed32 (full
     * and reduced), unsigned256, float64 reduced to float32, a length the
     * type cannot have (decoded as octetArray) */
    {306, 0, 11, {{0, 27, 16}, {0, 56, 6}, {0, 150, 4}, {0, 152, 8}, {0, 154, 8}, {0, 156, 8},
                  {0, 434, 4}, {0, 434, 2}, {0, 515, 32}, {0, 311, 4}, {0, 8, 3}}},
    /* 307: subTemplateMultiList, basicList, both variable */
    {307, 0, 2, {{0, 293, V}, {0, 291, V}}},
    /* 308: FUZZ_PEN elements (ID = type code): signed8, signed16, signed64
     * (full and reduced), float32, unsigned256 (reduced), string, boolean,
     * macAddress, unsigned16 (reduced), subTemplateList */
    {308, 0, 11, {{P, 5, 1}, {P, 6, 2}, {P, 8, 8}, {P, 8, 3}, {P, 9, 4}, {P, 23, 5}, {P, 13, V},
                  {P, 11, 1}, {P, 12, 6}, {P, 2, 1}, {P, 21, V}}},
};

static ipfix_session *session(void) {
    static ipfix_session *s;
    if (s) return s;
    const ipfix_infomodel *m = fuzz_model();
    ipfix_session_config cfg;
    ipfix_session_config_default(&cfg, IPFIX_TRANSPORT_FILE);
    s = ipfix_session_new(m, &cfg);
    if (!s) abort();
    for (size_t i = 0; i < sizeof TEMPLATES / sizeof TEMPLATES[0]; i++) {
        const fixed_template *f = &TEMPLATES[i];
        ipfix_template *t = NULL;
        ipfix_template_change change;
        ipfix_error err = {0};
        if (ipfix_template_new(m, f->id, f->scope, f->specs, f->count, &t, &err) != IPFIX_OK ||
            ipfix_session_add_template(s, 0, t, 0, &change) != IPFIX_OK) {
            fprintf(stderr, "fuzz_structured: template %u rejected: %s\n", f->id,
                    err.rule ? err.rule : "?");
            abort();
        }
        ipfix_template_unref(t);
    }
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    uint8_t sel = data[0];
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    fuzz_ctx ctx = {.session = session(), .odid = 0, .now = 0};
    switch (sel & 3) {
    case 0: fuzz_decode_field(&ctx, IPFIX_TYPE_BASIC_LIST, p, n, 0); break;
    case 1: fuzz_decode_field(&ctx, IPFIX_TYPE_SUB_TEMPLATE_LIST, p, n, 0); break;
    case 2: fuzz_decode_field(&ctx, IPFIX_TYPE_SUB_TEMPLATE_MULTI_LIST, p, n, 0); break;
    default: {
        const ipfix_template *t =
            ipfix_session_find_template(ctx.session, 0, (uint16_t)(300 + ((sel >> 2) & 15)), 0);
        if (!t) break;
        size_t pos = 0, length;
        while (pos < n && ipfix_record_measure(t, p + pos, n - pos, &length) == IPFIX_OK) {
            FUZZ_CHECK(length >= t->min_record_length && length <= n - pos);
            ipfix_record rec = {.tmpl = t, .data = p + pos, .length = length};
            fuzz_walk_record(&ctx, &rec, 0);
            pos += length;
        }
        break;
    }
    }
    (void)ctx.sink;
    return 0;
}
