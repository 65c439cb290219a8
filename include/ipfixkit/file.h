/*
 * file.h — IPFIX Files (RFC 5655): a File Writer that stores IPFIX Messages
 * in a file that is complete or absent, and a File Reader that yields the
 * messages of a file one by one and recovers from damaged regions.
 *
 * Writer. ipfix_file_writer_open() creates "<path>.tmp-XXXXXX" next to
 * `path`; ipfix_file_writer_close() writes the metadata records, fsyncs and
 * renames it to `path`, so a crash never leaves a partial file under the
 * final name (ipfix_file_writer_abort() removes the temporary file). Path
 * "-" writes to standard output (no temporary file, no rename). Records are
 * packed by an ipfix_writer (writer.h) into messages of at most 65535 bytes.
 * A template is written before the first data record that uses it (RFC 5655
 * §7.2): if a record arrives for a template not yet in the file, or for an
 * ID whose template in the file differs, the writer writes it first (with a
 * withdrawal of the old definition, §7.2 "SHOULD use Template Withdrawals").
 * On close the writer adds the metadata of RFC 5655 §8.1:
 *  - a File Time Window record (§8.1.2: sessionScope, minFlowStartMilliseconds,
 *    maxFlowEndMilliseconds) when flow times are known, from
 *    ipfix_file_writer_note_flow_time() and from records whose template has
 *    flowStart/flowEnd Seconds, Milliseconds, Microseconds or Nanoseconds;
 *  - an Export Session Details record (§8.1.3) when session details were
 *    given in the options.
 * With options.message_details, every message also carries a Message Details
 * record (§8.1.4: messageScope, collectionTimeMilliseconds).
 * The metadata options templates use IDs 65533 (message details), 65534
 * (session details) and 65535 (time window) in options.observation_domain_id
 * unless the options choose others; records and templates added through this
 * API may not use these IDs in that domain (IPFIX_ERR_INVALID_ARG).
 *
 * Raw messages. ipfix_file_writer_write_message() stores a message as
 * received (a collector archiving a Transport Session, RFC 5655 §7.3.1).
 * The CALLER is responsible for keeping the file self-contained: every
 * template a stored message's data sets use must have been stored before
 * (e.g. write the session's active templates first), and the caller's
 * template IDs must not collide with the metadata IDs above. Do not mix raw
 * messages and records added through the API in one Observation Domain. Raw
 * messages are decoded (ipfix_session of transport FILE) to learn flow times
 * and the next sequence number, so the metadata message continues each
 * domain's sequence. When message details are on, the record is appended to
 * the message (§7.3.1 "SHOULD extend the length of the Message"), and the
 * sequence numbers of later messages of that domain are raised by the
 * records added, so that the file's sequence accounting stays exact; a
 * message too large to extend gets its record in a separate message just
 * before it.
 *
 * Reader. ipfix_file_reader_open() maps a regular file read-only; other
 * files (pipes, "-" for standard input) are read through a buffer.
 * ipfix_file_reader_next() frames messages with ipfix_message_frame(); on a
 * framing error (bad version, length < 16, length past the end of the file)
 * it returns the error with its file offset and the rule, and the next call
 * resynchronises by scanning forward for a plausible message header (version
 * 10, length >= 16 within the file, Sets exactly tiling the message). Decode
 * the messages with an ipfix_session of transport IPFIX_TRANSPORT_FILE and
 * ipfix_reader (reader.h).
 *
 * Ownership: both handles are opaque and owned by the caller until
 * ipfix_file_writer_close()/_abort() or ipfix_file_reader_close(), which
 * always free them. Options are copied at open (session details included);
 * the information model in the options is borrowed and must outlive the
 * writer. Templates passed to the writer are referenced (ipfix_template_ref)
 * while the file may still need them and released at close, so the caller
 * may unref its own references at any time. A message returned by the reader
 * stays valid until the next ipfix_file_reader_next() or close. Handles are
 * not thread-safe: use one from one thread at a time.
 */
#ifndef IPFIXKIT_FILE_H
#define IPFIXKIT_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "infomodel.h"
#include "template.h"
#include "writer.h"

#ifdef __cplusplus
extern "C" {
#endif

#define IPFIX_FILE_MAX_MESSAGE 65535u

/* Default template IDs of the RFC 5655 §8.1 metadata options templates. */
#define IPFIX_FILE_TEMPLATE_MESSAGE_DETAILS 65533u
#define IPFIX_FILE_TEMPLATE_SESSION_DETAILS 65534u
#define IPFIX_FILE_TEMPLATE_TIME_WINDOW 65535u

/* ================================ writer ================================ */

typedef struct ipfix_file_writer ipfix_file_writer;

/* An IP address of a Transport Session endpoint. */
typedef struct ipfix_file_address {
    uint8_t version;    /* 0 = absent, 4 or 6 */
    uint8_t bytes[16];  /* network order; IPv4 in the first 4 bytes */
} ipfix_file_address;

/* RFC 5655 §8.1.3 Export Session Details; absent parts (version 0, port 0,
 * protocol 0) are left out of the options template. */
typedef struct ipfix_file_session_details {
    ipfix_file_address exporter;      /* exporterIPv4Address / exporterIPv6Address */
    uint16_t exporter_port;           /* exporterTransportPort */
    ipfix_file_address collector;     /* collectorIPv4Address / collectorIPv6Address */
    uint16_t collector_port;          /* collectorTransportPort */
    uint8_t transport_protocol;       /* IP protocol number: 6 TCP, 17 UDP, 132 SCTP */
} ipfix_file_session_details;

typedef struct ipfix_file_writer_options {
    uint32_t observation_domain_id;   /* initial domain, and that of the metadata */
    bool has_session_details;         /* write an Export Session Details record */
    ipfix_file_session_details session_details;
    bool time_window;                 /* write a File Time Window record (default on) */
    bool message_details;             /* a Message Details record per message (default off) */
    bool sync;                        /* fsync before the rename (default on) */
    uint16_t time_window_template_id;      /* 0: IPFIX_FILE_TEMPLATE_TIME_WINDOW */
    uint16_t session_details_template_id;  /* 0: IPFIX_FILE_TEMPLATE_SESSION_DETAILS */
    uint16_t message_details_template_id;  /* 0: IPFIX_FILE_TEMPLATE_MESSAGE_DETAILS */
    ipfix_clock clock;                /* export time of new messages; NULL: time(NULL) */
    void *clock_context;
    const ipfix_infomodel *model;     /* for decoding raw messages; may be NULL */
    unsigned file_mode;               /* permissions of the created file; 0: 0644 */
} ipfix_file_writer_options;

/* Defaults: domain 0, time window on, message details off, fsync on. */
void ipfix_file_writer_options_init(ipfix_file_writer_options *options);

/* Create the temporary file and the writer. `options` may be NULL (defaults). */
ipfix_status ipfix_file_writer_open(const char *path, const ipfix_file_writer_options *options,
                                    ipfix_file_writer **out, ipfix_error *err);

/* Finish: flush, write the metadata records, fsync, rename to the final path.
 * Always frees the writer; on failure the temporary file is removed. */
ipfix_status ipfix_file_writer_close(ipfix_file_writer *writer, ipfix_error *err);

/* Discard: free the writer and remove the temporary file. */
void ipfix_file_writer_abort(ipfix_file_writer *writer);

/* Switch Observation Domain for the following templates and records. */
ipfix_status ipfix_file_writer_set_domain(ipfix_file_writer *writer, uint32_t odid);

/* Write a (options) template now, unless the identical template is already
 * the current one for its ID in this domain. */
ipfix_status ipfix_file_writer_add_template(ipfix_file_writer *writer, const ipfix_template *tmpl);

/* Write a Template Withdrawal (RFC 7011 §8.1; 2/3 withdraws all). */
ipfix_status ipfix_file_writer_withdraw(ipfix_file_writer *writer, uint16_t template_id,
                                        bool options);

/* Append one encoded data record of `tmpl` (its template is written first if
 * needed). */
ipfix_status ipfix_file_writer_add_record(ipfix_file_writer *writer, const ipfix_template *tmpl,
                                          const uint8_t *record, size_t length);

/* Zero-copy variant (see ipfix_writer_reserve_record): NULL on error, the
 * reason in ipfix_file_writer_last_error(). Commit the encoded length. */
uint8_t *ipfix_file_writer_reserve_record(ipfix_file_writer *writer, const ipfix_template *tmpl,
                                          size_t max_length);
ipfix_status ipfix_file_writer_commit_record(ipfix_file_writer *writer, size_t length);

/* Widen the file's time window (milliseconds since the epoch) by a flow the
 * caller knows of, e.g. records whose templates carry other time fields. */
void ipfix_file_writer_note_flow_time(ipfix_file_writer *writer, uint64_t start_ms,
                                      uint64_t end_ms);

/* Store one complete IPFIX Message as received (see "Raw messages" above).
 * Its header must be valid (version 10, length == `length`). */
ipfix_status ipfix_file_writer_write_message(ipfix_file_writer *writer, const uint8_t *message,
                                             size_t length, ipfix_error *err);

/* collectionTimeMilliseconds for the Message Details records of the
 * following messages; 0 (the default) means the wall-clock time when each
 * message is stored. */
void ipfix_file_writer_set_collection_time(ipfix_file_writer *writer, uint64_t ms);

/* Emit the message being built and push buffered bytes to the OS. */
ipfix_status ipfix_file_writer_flush(ipfix_file_writer *writer, ipfix_error *err);

/* The last error of a call without an `err` parameter. */
const ipfix_error *ipfix_file_writer_last_error(const ipfix_file_writer *writer);

/* Path being written ("<path>.tmp-XXXXXX" until close, or "-"). */
const char *ipfix_file_writer_temp_path(const ipfix_file_writer *writer);

typedef struct ipfix_file_writer_stats {
    uint64_t messages;      /* messages written to the file */
    uint64_t bytes;         /* bytes written to the file */
    uint64_t records;       /* data records added through the API */
    uint64_t templates;     /* template records and withdrawals written by the API */
    uint64_t raw_messages;  /* messages stored with ipfix_file_writer_write_message */
} ipfix_file_writer_stats;

void ipfix_file_writer_get_stats(const ipfix_file_writer *writer, ipfix_file_writer_stats *stats);

/* ================================ reader ================================ */

typedef struct ipfix_file_reader ipfix_file_reader;

/* Open `path` ("-" = standard input). */
ipfix_status ipfix_file_reader_open(const char *path, ipfix_file_reader **out, ipfix_error *err);
void ipfix_file_reader_close(ipfix_file_reader *reader);

/* Next message: IPFIX_OK with *message, *length and *offset (file offset of
 * the message) set; IPFIX_END at the end of the file; IPFIX_ERR_MALFORMED or
 * IPFIX_ERR_TRUNCATED for damaged input, with `err` holding the file offset
 * and the rule (call again to continue after it); IPFIX_ERR_IO on a read
 * error (final). */
ipfix_status ipfix_file_reader_next(ipfix_file_reader *reader, const uint8_t **message,
                                    size_t *length, uint64_t *offset, ipfix_error *err);

typedef struct ipfix_file_reader_stats {
    uint64_t messages;       /* messages returned */
    uint64_t bytes;          /* bytes in the messages returned */
    uint64_t errors;         /* framing errors reported */
    uint64_t resyncs;        /* times reading resumed at a plausible header */
    uint64_t skipped_bytes;  /* bytes passed over (garbage, truncated tails) */
} ipfix_file_reader_stats;

void ipfix_file_reader_get_stats(const ipfix_file_reader *reader, ipfix_file_reader_stats *stats);

/* Size of the file when known (regular files), else 0. */
uint64_t ipfix_file_reader_size(const ipfix_file_reader *reader);

#ifdef __cplusplus
}
#endif
#endif
