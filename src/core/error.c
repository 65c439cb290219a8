/*
 * error.c — status names and the single constructor of ipfix_error, so that
 * every rejection carries an offset and the rule it enforces.
 */
#include "ipfixkit/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *ipfix_status_string(ipfix_status status) {
    switch (status) {
    case IPFIX_OK: return "ok";
    case IPFIX_END: return "end";
    case IPFIX_ERR_NOMEM: return "out of memory";
    case IPFIX_ERR_INVALID_ARG: return "invalid argument";
    case IPFIX_ERR_MALFORMED: return "malformed input";
    case IPFIX_ERR_TRUNCATED: return "truncated input";
    case IPFIX_ERR_UNSUPPORTED: return "unsupported";
    case IPFIX_ERR_NOT_FOUND: return "not found";
    case IPFIX_ERR_IO: return "I/O error";
    case IPFIX_ERR_LIMIT: return "limit reached";
    case IPFIX_ERR_NO_SPACE: return "no space in buffer";
    case IPFIX_ERR_RANGE: return "value out of range";
    }
    return "unknown status";
}

ipfix_status ipfix_error_set(ipfix_error *err, ipfix_status status, size_t offset,
                             const char *rule, const char *detail_format, ...) {
    if (!err) return status;
    err->status = status;
    err->offset = offset;
    err->rule = rule ? rule : ipfix_status_string(status);
    err->detail[0] = '\0';
    if (detail_format) {
        va_list ap;
        va_start(ap, detail_format);
        vsnprintf(err->detail, sizeof err->detail, detail_format, ap);
        va_end(ap);
    }
    return status;
}

void ipfix_error_clear(ipfix_error *err) {
    if (!err) return;
    memset(err, 0, sizeof *err);
    err->status = IPFIX_OK;
    err->rule = "";
}
