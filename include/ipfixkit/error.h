/*
 * error.h — status codes and the error descriptor every decoder fills in.
 *
 * Library functions return an ipfix_status; decoders that reject input also
 * fill an ipfix_error that says where (byte offset) and which rule was broken,
 * so callers can log "exporter X, offset N: RFC 7011 §3.3.2 ..." without the
 * library printing anything itself.
 */
#ifndef IPFIXKIT_ERROR_H
#define IPFIXKIT_ERROR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ipfix_status {
    IPFIX_OK = 0,
    IPFIX_END = 1,                /* iteration finished: not an error */
    IPFIX_ERR_NOMEM = -1,         /* allocation failed */
    IPFIX_ERR_INVALID_ARG = -2,   /* caller passed a bad argument */
    IPFIX_ERR_MALFORMED = -3,     /* input breaks a protocol rule */
    IPFIX_ERR_TRUNCATED = -4,     /* input ends before a structure does */
    IPFIX_ERR_UNSUPPORTED = -5,   /* valid but not supported */
    IPFIX_ERR_NOT_FOUND = -6,     /* lookup failed */
    IPFIX_ERR_IO = -7,            /* operating-system I/O error (errno kept) */
    IPFIX_ERR_LIMIT = -8,         /* a configured limit was reached */
    IPFIX_ERR_NO_SPACE = -9,      /* output buffer too small */
    IPFIX_ERR_RANGE = -10         /* value does not fit the field */
} ipfix_status;

/* Where and why input was rejected. `rule` points to a static string that
 * cites the rule ("RFC 7011 §3.3.2: set length exceeds message"); `detail`
 * holds the numbers of this instance. */
typedef struct ipfix_error {
    ipfix_status status;
    size_t offset;        /* byte offset of the offending item in the input */
    const char *rule;     /* static, never NULL once set */
    char detail[112];     /* NUL-terminated, may be empty */
} ipfix_error;

/* Short English name of a status ("malformed input"). Never NULL. */
const char *ipfix_status_string(ipfix_status status);

/* Fill `err` (which may be NULL) and return `status`: the one place errors are
 * built, so every error carries an offset and a rule. printf-style detail. */
ipfix_status ipfix_error_set(ipfix_error *err, ipfix_status status, size_t offset,
                             const char *rule, const char *detail_format, ...)
    __attribute__((format(printf, 5, 6)));

/* Reset to "no error". */
void ipfix_error_clear(ipfix_error *err);

#ifdef __cplusplus
}
#endif
#endif
