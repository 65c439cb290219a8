/*
 * render.h — turns decoded IPFIX items into text lines or JSON Lines.
 *
 * Pure formatting, no I/O: every function appends to an ipfix_buffer that
 * the caller writes out (the `ipfix dump` command flushes it with fwrite).
 * The buffer grows by doubling and is reused, so rendering a stream of
 * records allocates nothing in steady state.
 *
 * An ipfix_renderer caches one render plan per template (element key
 * strings, value formatter per field), keyed by the template pointer and
 * re-validated against the template's fields on every use, so a template
 * freed and re-allocated at the same address is never rendered with a stale
 * plan. Sub-templates of subTemplateList / subTemplateMultiList fields
 * (RFC 6313) are found through a caller-supplied lookup (normally
 * ipfix_session_find_template).
 *
 * Output shapes (one line per item, each ending in '\n'):
 *
 *   text  record odid=1 template=256 sourceIPv4Address=192.0.2.1 protocolIdentifier=tcp ...
 *         options odid=1 template=257 meteringProcessId=1 ...        (options record)
 *         template odid=1 id=256 scopeCount=0 sourceIPv4Address(8)/4 interfaceName(82)/var
 *         options-template odid=1 id=257 scopeCount=1 meteringProcessId(143)/4 ...
 *         withdrawal odid=1 id=256 options=false
 *   JSON  {"record":{"sourceIPv4Address":"192.0.2.1","protocolIdentifier":6,...},"odid":1,"templateId":256}
 *         {"options":{...},"odid":1,"templateId":257}
 *         {"template":{"id":256,"odid":1,"scopeCount":0,"fields":[{"name":"sourceIPv4Address","id":8,"length":4},...]}}
 *         {"withdrawal":{"id":256,"odid":1,"options":false}}
 *   The record's fields are an object of their own, keyed by element names
 *   (jq .record.sourceIPv4Address), so "odid"/"templateId" never clash with
 *   an element. With an origin (e.g. the exporter of a capture) text lines
 *   get `exporter=ORIGIN` after the kind word and JSON objects an "exporter"
 *   key.
 *
 * Value rules:
 *   - keys are element names; a name repeated within one template gets
 *     "#2", "#3", ... on its 2nd, 3rd, ... occurrence (sourceIPv4Address,
 *     sourceIPv4Address#2); elements unknown to the model use "pen:id".
 *   - integers: decimal (JSON numbers, also unsigned64 up to 2^64-1); in text
 *     registry values by name (protocolIdentifier=tcp, flowEndReason=idleTimeout)
 *     and tcpControlBits as flags (SYN|ACK, RFC 7125 bit order); JSON keeps
 *     the numbers.
 *   - float: shortest form that reads back to the same value; NaN and
 *     infinities as "NaN", "Infinity", "-Infinity" (strings in JSON).
 *   - boolean true/false; macAddress aa:bb:cc:dd:ee:ff; IPv4 dotted quad;
 *     IPv6 per RFC 5952 (IPv4-mapped addresses as ::ffff:192.0.2.1).
 *   - dateTime*: ISO 8601 UTC with the element's precision
 *     (2026-11-22T13:05:00Z, .123Z, .123456Z, .123456789Z).
 *   - string: quoted and escaped like JSON in both formats (control
 *     characters as \u00XX); octetArray and unsigned256 as 0x-hex (a string
 *     in JSON).
 *   - basicList: text [a,b], JSON [a,b] (list semantic not shown);
 *     subTemplateList: a list of records, text [{k=v k=v},{...}], JSON
 *     [{"k":v},...]; subTemplateMultiList: one inner list per entry,
 *     text [[{...}],[{...},{...}]], JSON [[{...}],[...]].
 *   - a field that cannot be decoded (bad boolean, invalid UTF-8, broken
 *     list, unknown sub-template, nesting deeper than
 *     IPFIX_STRUCTURED_MAX_DEPTH) is rendered as its raw bytes with a marker
 *     instead of failing the record: text `name=!invalid:0x0102`, JSON
 *     `"name":{"invalid":"0x0102"}`.
 */
#ifndef IPFIXKIT_RENDER_H
#define IPFIXKIT_RENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "template.h"
#include "value.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A growable output buffer. Zero-initialise (or ipfix_buffer_init) before use. */
typedef struct ipfix_buffer {
    char *data;
    size_t length;
    size_t capacity;
} ipfix_buffer;

void ipfix_buffer_init(ipfix_buffer *buffer);
void ipfix_buffer_free(ipfix_buffer *buffer);
static inline void ipfix_buffer_clear(ipfix_buffer *buffer) { buffer->length = 0; }
/* Make room for `extra` more bytes (IPFIX_ERR_NOMEM on failure). */
ipfix_status ipfix_buffer_reserve(ipfix_buffer *buffer, size_t extra);
ipfix_status ipfix_buffer_append(ipfix_buffer *buffer, const void *data, size_t length);

typedef enum ipfix_render_format {
    IPFIX_RENDER_TEXT = 0,
    IPFIX_RENDER_JSON = 1
} ipfix_render_format;

typedef struct ipfix_render_options {
    ipfix_render_format format;
    bool numeric; /* text: registry values and TCP flags as plain numbers */
} ipfix_render_options;

/* Finds the template a subTemplateList / subTemplateMultiList refers to;
 * NULL when unknown. */
typedef const ipfix_template *(*ipfix_template_lookup)(void *context, uint32_t odid,
                                                      uint16_t template_id);

/* Where the items being rendered come from. */
typedef struct ipfix_render_source {
    uint32_t odid;
    const char *origin;           /* NULL: none; else shown as exporter=... */
    ipfix_template_lookup lookup; /* NULL: sub-template lists render as invalid */
    void *lookup_context;
} ipfix_render_source;

typedef struct ipfix_renderer ipfix_renderer;

/* NULL on allocation failure. `options` NULL means text with names. */
ipfix_renderer *ipfix_renderer_new(const ipfix_render_options *options);
void ipfix_renderer_free(ipfix_renderer *renderer);

/* Append one line for a data record (kind word "record", or "options" when
 * its template is an Options Template). Returns IPFIX_OK; IPFIX_ERR_MALFORMED
 * when the line was rendered but some field could not be decoded (then `err`,
 * which may be NULL, holds the first such field: offset relative to the
 * record start, rule from the value decoder; `err` is not touched
 * otherwise); IPFIX_ERR_NOMEM with the buffer unchanged. */
ipfix_status ipfix_render_record(ipfix_renderer *renderer, const ipfix_render_source *source,
                                 const ipfix_record *record, ipfix_buffer *out,
                                 ipfix_error *err);

/* Append one line describing a (Options) Template. */
ipfix_status ipfix_render_template(ipfix_renderer *renderer, const ipfix_render_source *source,
                                   const ipfix_template *tmpl, ipfix_buffer *out);

/* Append one line for a Template Withdrawal (RFC 7011 §8.1). */
ipfix_status ipfix_render_withdrawal(ipfix_renderer *renderer,
                                     const ipfix_render_source *source,
                                     uint16_t template_id, bool options, ipfix_buffer *out);

/* ---- formatters (exposed for tests and other tools) ----
 * Each writes into `out` (no NUL terminator) and returns the length.
 * `out` must hold the maximum shown. */
size_t ipfix_format_u64(char *out, uint64_t value);            /* 20 */
size_t ipfix_format_i64(char *out, int64_t value);             /* 20 */
size_t ipfix_format_ipv4(char *out, const uint8_t address[4]); /* 15 */
size_t ipfix_format_ipv6(char *out, const uint8_t address[16]); /* 45 */
size_t ipfix_format_mac(char *out, const uint8_t address[6]);  /* 17 */
/* ISO 8601 UTC; `precision` is one of the dateTime types. Years outside
 * 0000..9999 are written with as many digits as needed (and a sign if
 * negative). 40 */
size_t ipfix_format_timestamp(char *out, ipfix_timestamp ts, ipfix_type precision);
/* Shortest decimal that reads back as `value` (as a float when
 * `single`); "NaN", "Infinity", "-Infinity". 32 */
size_t ipfix_format_double(char *out, double value, bool single);
/* tcpControlBits names joined by '|' (FIN|SYN|...), unknown bits as 0x-hex,
 * "0" for none. 64 */
size_t ipfix_format_tcp_flags(char *out, uint16_t bits);

#ifdef __cplusplus
}
#endif
#endif
