/*
 * reader.h — walks one IPFIX Message (RFC 7011 §3) and yields its contents
 * as events: templates defined, withdrawals, data records, sets whose
 * template is missing, errors and sequence gaps.
 *
 * Nothing is copied: a record event points into the message buffer, which
 * must stay valid until the next ipfix_reader_next() call. Templates are
 * applied to the session as they appear (RFC 7011 §8.1: "in the order in
 * which they appear"), so data records later in the same message decode with
 * them. Every length and count is checked against the buffer; a malformed
 * set is reported (with its offset and the rule broken) and skipped, and
 * reading goes on with the next set when the set header allows it.
 *
 * Usage:
 *     ipfix_reader r;
 *     if (ipfix_reader_begin(&r, session, buf, len, now, &err) != IPFIX_OK) ...
 *     ipfix_reader_set_stream(&r, sctp_stream);   (SCTP sessions only)
 *     ipfix_event ev;
 *     while (ipfix_reader_next(&r, &ev) == IPFIX_OK) { switch (ev.kind) ... }
 *
 * The framing helper ipfix_message_frame() finds message boundaries in a
 * byte stream (TCP, files).
 */
#ifndef IPFIXKIT_READER_H
#define IPFIXKIT_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "session.h"
#include "template.h"

#ifdef __cplusplus
extern "C" {
#endif

#define IPFIX_VERSION 10u
#define IPFIX_MESSAGE_HEADER_SIZE 16u
#define IPFIX_SET_HEADER_SIZE 4u
#define IPFIX_SET_ID_TEMPLATE 2u
#define IPFIX_SET_ID_OPTIONS_TEMPLATE 3u
#define IPFIX_SET_ID_DATA_MIN 256u

typedef struct ipfix_message_header {
    uint16_t version;
    uint16_t length;
    uint32_t export_time;   /* seconds since the Unix epoch */
    uint32_t sequence;
    uint32_t odid;
} ipfix_message_header;

/* Parse and check a message header (RFC 7011 §3.1): version 10, length
 * >= 16 and <= available. */
ipfix_status ipfix_message_header_parse(const uint8_t *p, size_t available,
                                        ipfix_message_header *header, ipfix_error *err);

/* In a byte stream: is there a complete message at `p`? IPFIX_OK with
 * *length set; IPFIX_ERR_TRUNCATED when more bytes are needed (*length is the
 * total needed if the header was readable, else 16); IPFIX_ERR_MALFORMED when
 * the bytes cannot start a message (bad version or length < 16). */
ipfix_status ipfix_message_frame(const uint8_t *p, size_t available, size_t *length,
                                 ipfix_error *err);

typedef enum ipfix_event_kind {
    IPFIX_EVENT_TEMPLATE = 1,      /* u.tmpl: a (options) template arrived */
    IPFIX_EVENT_WITHDRAWAL,        /* u.withdrawal */
    IPFIX_EVENT_RECORD,            /* u.record: a data record */
    IPFIX_EVENT_MISSING_TEMPLATE,  /* u.missing: data set with no template */
    IPFIX_EVENT_ERROR,             /* u.error: malformed input, skipped */
    IPFIX_EVENT_SEQUENCE           /* u.sequence: gap or reordering, at message end */
} ipfix_event_kind;

typedef struct ipfix_event {
    ipfix_event_kind kind;
    uint32_t odid;
    uint16_t set_id;
    bool replayed;          /* RECORD from a held data set of an earlier message */
    size_t offset;          /* byte offset of the item within the message */
    union {
        struct {
            const ipfix_template *tmpl;
            ipfix_template_change change;
        } tmpl;
        struct {
            uint16_t template_id;   /* 2 or 3 for "all (options) templates" */
            bool options;           /* came in an Options Template Set */
            bool ignored;           /* unknown template, or UDP */
        } withdrawal;
        ipfix_record record;
        struct {
            uint16_t template_id;
            size_t length;          /* data bytes of the set */
            bool held;              /* kept for replay */
        } missing;
        ipfix_error error;
        struct {
            uint32_t expected;      /* of this message's stream */
            uint32_t received;
            uint16_t stream;        /* SCTP stream (RFC 7011 §3.1); 0 for other transports */
            uint64_t lost;          /* records newly counted lost */
            uint64_t recovered;     /* late message: records taken back from "lost" */
            bool out_of_order;
        } sequence;
    } u;
} ipfix_event;

/* Reader state; stack-allocate it. Fields are private. */
typedef struct ipfix_reader {
    ipfix_session *session;
    const uint8_t *message;
    size_t length;              /* the message's own length (header field) */
    size_t trailing;            /* bytes after the message in the buffer */
    ipfix_message_header header;
    uint32_t now;
    ipfix_domain_stats *domain;
    int mode;                   /* what the next call continues with */
    size_t pos;                 /* next set header */
    size_t set_start;
    size_t set_end;
    uint16_t set_id;
    const ipfix_template *set_template;
    const uint8_t *records;     /* base of the current data (message or held set) */
    size_t record_pos;
    uint64_t set_records;       /* records yielded from the current set */
    uint64_t message_records;   /* data records seen in this message */
    bool records_known;
    void *held;                 /* held set being replayed (owned) */
    bool replay_wanted;         /* templates arrived for held sets: replay them */
    uint16_t stream;            /* SCTP stream of the message (ipfix_reader_set_stream) */
} ipfix_reader;

/* Start reading a message of `length` bytes (exactly one message: trailing
 * bytes are an error). `now` is the receive time in seconds (UDP template
 * lifetime), 0 to disable expiry. A header error is returned here and the
 * domain is not touched. */
ipfix_status ipfix_reader_begin(ipfix_reader *reader, ipfix_session *session,
                                const uint8_t *message, size_t length, uint32_t now,
                                ipfix_error *err);

/* The SCTP stream the message arrived on (0 after ipfix_reader_begin). Call
 * it after a successful ipfix_reader_begin and before the first
 * ipfix_reader_next. Only meaningful for IPFIX_TRANSPORT_SCTP sessions,
 * whose sequence numbers are counted per stream (RFC 7011 §3.1); other
 * transports ignore it (one sequence space per domain). */
void ipfix_reader_set_stream(ipfix_reader *reader, uint16_t stream);

/* Next event: IPFIX_OK with *event filled, IPFIX_END after the last one
 * (sequence accounting for the message happens just before IPFIX_END). */
ipfix_status ipfix_reader_next(ipfix_reader *reader, ipfix_event *event);

/* Release what the reader holds if you stop before IPFIX_END. Safe to call
 * after IPFIX_END too. */
void ipfix_reader_abandon(ipfix_reader *reader);

#ifdef __cplusplus
}
#endif
#endif
