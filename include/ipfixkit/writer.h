/*
 * writer.h — the message writer of an Exporting Process (RFC 7011 §3):
 * packs Template, Options Template, withdrawal and Data Sets into IPFIX
 * Messages no larger than a configured maximum, starting a new message when
 * the next item does not fit, and stamps each message with its export time,
 * sequence number (data records sent before it in this Observation Domain,
 * RFC 7011 §3.1) and Observation Domain ID.
 *
 * Finished messages go to a sink callback (a socket, a file, a buffer); the
 * writer owns one message buffer and never allocates per record.
 *
 * Ownership: the writer borrows templates passed to it only for the call.
 */
#ifndef IPFIXKIT_WRITER_H
#define IPFIXKIT_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "template.h"
#include "value.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Receives each finished message; a non-OK return is passed back to the
 * writer's caller. */
typedef ipfix_status (*ipfix_message_sink)(void *context, const uint8_t *message,
                                           size_t length);

/* Returns the export time (seconds since the epoch) for a new message. */
typedef uint32_t (*ipfix_clock)(void *context);

typedef struct ipfix_writer_config {
    size_t max_message_size;        /* 64..65535; default 65535 */
    uint32_t observation_domain_id; /* initial ODID */
    ipfix_clock clock;              /* NULL: time(NULL) */
    void *clock_context;
} ipfix_writer_config;

typedef struct ipfix_writer ipfix_writer;

/* NULL on allocation failure or a bad config. */
ipfix_writer *ipfix_writer_new(const ipfix_writer_config *config, ipfix_message_sink sink,
                               void *sink_context);
/* Frees without flushing. */
void ipfix_writer_free(ipfix_writer *writer);

/* Switch Observation Domain; flushes the current message if it differs. */
ipfix_status ipfix_writer_set_domain(ipfix_writer *writer, uint32_t odid);

/* Append a Template Record (or Options Template Record) to the message. */
ipfix_status ipfix_writer_add_template(ipfix_writer *writer, const ipfix_template *tmpl);

/* Append a Template Withdrawal (RFC 7011 §8.1); template_id 2 / 3 with the
 * matching `options` withdraws all (options) templates of the domain. */
ipfix_status ipfix_writer_withdraw(ipfix_writer *writer, uint16_t template_id, bool options);

/* Append one data record already encoded for `tmpl`. */
ipfix_status ipfix_writer_add_record(ipfix_writer *writer, const ipfix_template *tmpl,
                                     const uint8_t *record, size_t length);

/* Zero-copy variant: reserve up to `max_length` bytes for a record of
 * `tmpl` in the current data set (NULL if max_length cannot fit even in an
 * empty message), encode into it, then commit the actual length. */
uint8_t *ipfix_writer_reserve_record(ipfix_writer *writer, const ipfix_template *tmpl,
                                     size_t max_length);
ipfix_status ipfix_writer_commit_record(ipfix_writer *writer, size_t length);
/* Why the last ipfix_writer_reserve_record() returned NULL: IPFIX_ERR_NO_SPACE
 * (record cannot fit any message), IPFIX_ERR_INVALID_ARG, or the sink's
 * status when emitting the full message failed. When the sink fails, the
 * item being added is not added; the failed message is dropped but its
 * records still count in the sequence number (the collector sees a gap). */
ipfix_status ipfix_writer_last_status(const ipfix_writer *writer);

/* Emit the current message, if it holds any set. */
ipfix_status ipfix_writer_flush(ipfix_writer *writer);

/* Sequence number the next message of `odid` will carry; messages and
 * records emitted so far. */
uint32_t ipfix_writer_next_sequence(const ipfix_writer *writer, uint32_t odid);
uint64_t ipfix_writer_messages(const ipfix_writer *writer);
uint64_t ipfix_writer_records(const ipfix_writer *writer);

/* Set the sequence number the next message of `odid` carries (e.g. to
 * continue a stream started elsewhere); flushes first if the current message
 * belongs to `odid`. */
ipfix_status ipfix_writer_set_sequence(ipfix_writer *writer, uint32_t odid, uint32_t sequence);
/* Current Observation Domain; data records in the message being built (inside
 * the sink: in the message being emitted); the configured maximum size. */
uint32_t ipfix_writer_domain(const ipfix_writer *writer);
uint32_t ipfix_writer_message_records(const ipfix_writer *writer);
size_t ipfix_writer_max_message_size(const ipfix_writer *writer);

/* Lower (or raise, up to the size the writer was created with) the
 * maximum message size for the messages that follow, e.g. to a path MTU
 * learnt later; a message being built that no longer fits is emitted
 * first. IPFIX_ERR_INVALID_ARG outside 64..the creation size. */
ipfix_status ipfix_writer_set_max_message_size(ipfix_writer *writer, size_t size);

/* Encode a whole record from values in template order (varlen fields get
 * their length prefix). *length receives the bytes written. */
ipfix_status ipfix_record_encode(const ipfix_template *tmpl, const ipfix_value *values,
                                 uint8_t *out, size_t out_size, size_t *length);

#ifdef __cplusplus
}
#endif
#endif
