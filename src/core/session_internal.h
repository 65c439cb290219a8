/*
 * session_internal.h — the part of the session that only the message reader
 * uses: data sets held while their template is missing (RFC 7011 §8 "MAY
 * buffer Data Records for which it has no Templates").
 */
#ifndef IPFIXKIT_CORE_SESSION_INTERNAL_H
#define IPFIXKIT_CORE_SESSION_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipfixkit/session.h"

typedef struct ipfix_held_set {
    struct ipfix_held_set *next;
    uint32_t odid;
    uint16_t template_id;
    size_t length;       /* bytes of records (set header removed) */
    uint8_t data[];
} ipfix_held_set;

/* Copy a data set's records to the hold; drops the oldest held sets when
 * pending_bytes_max would be exceeded (counted as held_sets_dropped).
 * Returns false when holding is off or the set alone is too big. */
bool ipfix_session_hold_set(ipfix_session *session, uint32_t odid, uint16_t template_id,
                            const uint8_t *records, size_t length);

bool ipfix_session_has_held_set(const ipfix_session *session, uint32_t odid, uint16_t template_id);

/* Remove and return the oldest held set of `odid` whose template is now
 * known (not expired at `now`), or NULL. The caller frees it with free(). */
ipfix_held_set *ipfix_session_take_ready_held_set(ipfix_session *session, uint32_t odid,
                                                  uint32_t now);

#endif
