/*
 * session.h — one IPFIX Transport Session as seen by a Collecting Process
 * (or a File Reader): its templates per Observation Domain, its sequence
 * accounting and its counters.
 *
 * Template rules follow the transport (RFC 7011 §8, RFC 5153 §5.3):
 *  - UDP: templates expire after `template_lifetime` seconds without a
 *    refresh (§8.4); a different template for a used ID replaces the old one;
 *    withdrawals are ignored and counted (§8.4 "MUST be ignored").
 *  - TCP/SCTP: templates live until withdrawn or the session ends; an
 *    identical re-send is a refresh, not an error; a different one without a
 *    withdrawal is a conflict: counted, reported, and the new one is used;
 *    withdrawal of an unknown template is ignored and counted (§8.1).
 *  - FILE: the union of the above (RFC 5655 §7.1): redefinition replaces,
 *    withdrawals are honoured, nothing expires.
 * Data sets whose template is missing are counted; when `pending_bytes_max`
 * is non-zero (default for UDP) they are held, bounded, until the template
 * arrives, and the reader then replays them (RFC 7011 §8 "MAY buffer").
 *
 * Sequence accounting (RFC 7011 §3.1, RFC 3917 §6.3.2) is per (session,
 * ODID) over UDP, TCP and files, and per (session, ODID, SCTP stream) over
 * SCTP (§3.1: "Each SCTP Stream counts sequence numbers separately"; §9.2:
 * the Collecting Process MUST support multiple streams). The expected next
 * sequence number of a stream is the received one plus the data records in
 * the message; a jump forward counts lost records, a step back counts an
 * out-of-order message and gives back (at most) the records lost earlier on
 * the same stream. SCTP keeps `max_streams` sequence spaces per domain,
 * allocated on the domain's first message; the loss/reorder counters stay
 * per domain, summed over its streams.
 *
 * Ownership: the session owns its templates (ref-counted, see template.h)
 * and pending data; it borrows the information model, which must outlive it.
 * A session is used by one thread at a time.
 */
#ifndef IPFIXKIT_SESSION_H
#define IPFIXKIT_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "infomodel.h"
#include "template.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ipfix_transport {
    IPFIX_TRANSPORT_FILE = 0,
    IPFIX_TRANSPORT_UDP = 1,
    IPFIX_TRANSPORT_TCP = 2,
    IPFIX_TRANSPORT_SCTP = 3
} ipfix_transport;

const char *ipfix_transport_name(ipfix_transport transport); /* "udp", ... */

typedef struct ipfix_session_config {
    ipfix_transport transport;
    uint32_t template_lifetime;   /* seconds, UDP only; 0 = never expire */
    size_t pending_bytes_max;     /* data-set bytes held for missing templates; 0 = none */
    uint32_t max_templates;       /* per session, over all domains */
    uint32_t max_domains;         /* observation domains per session */
    uint16_t max_streams;         /* SCTP only: sequence spaces per domain (streams
                                   * 0..max_streams-2 each have their own, streams
                                   * >= max_streams-1 share the last); 0 or 1 = one
                                   * space, stream ignored. Ignored by other transports. */
} ipfix_session_config;

/* Defaults for a transport: UDP lifetime 1800 s and 1 MiB pending; others 0;
 * 16384 templates; 1024 domains; max_streams 16 for SCTP (the inbound
 * streams a Collecting Process typically grants), 1 otherwise. */
void ipfix_session_config_default(ipfix_session_config *config, ipfix_transport transport);

/* What happened when a template arrived. */
typedef enum ipfix_template_change {
    IPFIX_TEMPLATE_NEW = 0,       /* ID was free */
    IPFIX_TEMPLATE_REFRESHED = 1, /* identical to the stored one */
    IPFIX_TEMPLATE_REPLACED = 2,  /* different, allowed (UDP/FILE, or after expiry) */
    IPFIX_TEMPLATE_CONFLICT = 3   /* different, without withdrawal, on TCP/SCTP */
} ipfix_template_change;

/* Counters of one Observation Domain in one session. */
typedef struct ipfix_domain_stats {
    uint32_t odid;
    uint64_t messages;
    uint64_t bytes;
    uint64_t data_records;
    uint64_t option_records;          /* subset of data_records with options templates */
    uint64_t templates;               /* template + options template records received */
    uint64_t template_conflicts;      /* TCP/SCTP redefinition without withdrawal */
    uint64_t templates_expired;       /* UDP lifetime */
    uint64_t withdrawals;
    uint64_t withdrawals_ignored;     /* unknown template, or over UDP */
    uint64_t missing_template_sets;   /* data sets whose template was unknown */
    uint64_t missing_template_bytes;
    uint64_t held_sets_replayed;
    uint64_t held_sets_dropped;       /* pending limit hit, or never resolved */
    uint64_t malformed;               /* errors reported for this domain */
    uint64_t lost_records;            /* sequence gaps (net of late arrivals) */
    uint64_t out_of_order_messages;
    uint64_t sequence_resets;         /* baseline lost (e.g. unknown record count) */
    /* Expected next sequence number. Over SCTP: that of the stream of the
     * last message accounted (each stream has its own, see
     * ipfix_session_sequence_expected()); otherwise the domain's only one. */
    uint32_t next_sequence;
    bool sequence_known;
    uint32_t last_export_time;
} ipfix_domain_stats;

typedef struct ipfix_session ipfix_session;

/* NULL on allocation failure. */
ipfix_session *ipfix_session_new(const ipfix_infomodel *model, const ipfix_session_config *config);
void ipfix_session_free(ipfix_session *session);

const ipfix_session_config *ipfix_session_get_config(const ipfix_session *session);
const ipfix_infomodel *ipfix_session_model(const ipfix_session *session);

/* The current template for (odid, id), or NULL. `now` (seconds) applies the
 * UDP lifetime; pass 0 to skip expiry checks. */
const ipfix_template *ipfix_session_find_template(ipfix_session *session, uint32_t odid,
                                                  uint16_t template_id, uint32_t now);

/* Store `tmpl` (the session takes a reference) and report the change.
 * IPFIX_ERR_LIMIT when max_templates would be exceeded. */
ipfix_status ipfix_session_add_template(ipfix_session *session, uint32_t odid,
                                        ipfix_template *tmpl, uint32_t now,
                                        ipfix_template_change *change);

/* Withdraw one template, or all templates (id 2) / all options templates
 * (id 3) of a domain. Returns IPFIX_ERR_NOT_FOUND for an unknown template
 * (nothing changes). UDP sessions ignore withdrawals (IPFIX_ERR_UNSUPPORTED). */
ipfix_status ipfix_session_withdraw(ipfix_session *session, uint32_t odid, uint16_t template_id,
                                    bool options_set);

/* Number of templates stored in a domain, and iteration over them in ID
 * order (`*cursor` starts at 0; NULL at the end). */
size_t ipfix_session_template_count(const ipfix_session *session, uint32_t odid);
const ipfix_template *ipfix_session_next_template(const ipfix_session *session, uint32_t odid,
                                                  uint32_t *cursor);

/* Domain counters; creates the domain on first use in the reader. */
size_t ipfix_session_domain_count(const ipfix_session *session);
const ipfix_domain_stats *ipfix_session_domain_stats(const ipfix_session *session, size_t index);
ipfix_domain_stats *ipfix_session_domain(ipfix_session *session, uint32_t odid, bool create);

/* Sum of all domains' counters (odid field = 0). */
void ipfix_session_total_stats(const ipfix_session *session, ipfix_domain_stats *total);

/* Pending (held) data sets: bytes held now. */
size_t ipfix_session_pending_bytes(const ipfix_session *session);

/* Sequence check for one message of `records` data records that arrived on
 * SCTP stream `stream` (ignored unless the session is SCTP with max_streams
 * > 1; streams >= max_streams are accounted in the last slot, so they share
 * one sequence space); `records_known` false when some sets could not be
 * decoded (the next message of the stream re-baselines). Fills *lost
 * (records newly counted as lost), *out_of_order, and *recovered (records
 * of a late message taken back from the lost count of its stream). Creates
 * the domain if needed; does nothing when that fails (domain limit). */
void ipfix_session_sequence_update(ipfix_session *session, uint32_t odid, uint16_t stream,
                                   uint32_t sequence, uint64_t records, bool records_known,
                                   uint64_t *lost, bool *out_of_order, uint64_t *recovered);

/* The expected next sequence number of (odid, stream) — stream as above —
 * in *expected; false (and *expected = 0) when it is not known yet (no
 * message, or the last one's record count was unknown) or the domain does
 * not exist. */
bool ipfix_session_sequence_expected(const ipfix_session *session, uint32_t odid, uint16_t stream,
                                     uint32_t *expected);

#ifdef __cplusplus
}
#endif
#endif
