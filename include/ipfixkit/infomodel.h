/*
 * infomodel.h — the IPFIX information model (RFC 7012, RFC 7011 §6).
 *
 * The IANA elements are compiled in: tools/gen_infomodel.py turns
 * data/iana-ipfix-information-elements.csv into a C table at build time.
 * An ipfix_infomodel adds enterprise-specific elements loaded at run time
 * (same CSV shape, plus a PEN) and the reverse elements of RFC 5103 §6.1
 * (PEN 29305, named "reverse" + Name). Lookups by (PEN, ID) and by name are
 * O(1) hash/array lookups.
 *
 * Ownership: an ipfix_infomodel owns every ipfix_element it returns; element
 * pointers stay valid until ipfix_infomodel_free(). The model is read-only
 * after loading and may be shared between threads.
 */
#ifndef IPFIXKIT_INFOMODEL_H
#define IPFIXKIT_INFOMODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Abstract data types; values are IANA informationElementDataType codes
 * (RFC 5610 §3.1), so they can be exported as-is. */
typedef enum ipfix_type {
    IPFIX_TYPE_OCTET_ARRAY = 0,
    IPFIX_TYPE_UNSIGNED8 = 1,
    IPFIX_TYPE_UNSIGNED16 = 2,
    IPFIX_TYPE_UNSIGNED32 = 3,
    IPFIX_TYPE_UNSIGNED64 = 4,
    IPFIX_TYPE_SIGNED8 = 5,
    IPFIX_TYPE_SIGNED16 = 6,
    IPFIX_TYPE_SIGNED32 = 7,
    IPFIX_TYPE_SIGNED64 = 8,
    IPFIX_TYPE_FLOAT32 = 9,
    IPFIX_TYPE_FLOAT64 = 10,
    IPFIX_TYPE_BOOLEAN = 11,
    IPFIX_TYPE_MAC_ADDRESS = 12,
    IPFIX_TYPE_STRING = 13,
    IPFIX_TYPE_DATE_TIME_SECONDS = 14,
    IPFIX_TYPE_DATE_TIME_MILLISECONDS = 15,
    IPFIX_TYPE_DATE_TIME_MICROSECONDS = 16,
    IPFIX_TYPE_DATE_TIME_NANOSECONDS = 17,
    IPFIX_TYPE_IPV4_ADDRESS = 18,
    IPFIX_TYPE_IPV6_ADDRESS = 19,
    IPFIX_TYPE_BASIC_LIST = 20,
    IPFIX_TYPE_SUB_TEMPLATE_LIST = 21,
    IPFIX_TYPE_SUB_TEMPLATE_MULTI_LIST = 22,
    IPFIX_TYPE_UNSIGNED256 = 23,
    IPFIX_TYPE_COUNT
} ipfix_type;

/* Data type semantics; IANA informationElementSemantics codes. */
typedef enum ipfix_semantics {
    IPFIX_SEMANTICS_DEFAULT = 0,
    IPFIX_SEMANTICS_QUANTITY = 1,
    IPFIX_SEMANTICS_TOTAL_COUNTER = 2,
    IPFIX_SEMANTICS_DELTA_COUNTER = 3,
    IPFIX_SEMANTICS_IDENTIFIER = 4,
    IPFIX_SEMANTICS_FLAGS = 5,
    IPFIX_SEMANTICS_LIST = 6,
    IPFIX_SEMANTICS_SNMP_COUNTER = 7,
    IPFIX_SEMANTICS_SNMP_GAUGE = 8,
    IPFIX_SEMANTICS_UNASSIGNED = 255
} ipfix_semantics;

typedef enum ipfix_element_status {
    IPFIX_STATUS_CURRENT = 0,
    IPFIX_STATUS_DEPRECATED = 1
} ipfix_element_status;

#define IPFIX_PEN_IANA 0u
#define IPFIX_PEN_REVERSE 29305u /* RFC 5103 §6.1 */

/* Well-known element IDs used by the library itself. */
enum {
    IPFIX_IE_OCTET_DELTA_COUNT = 1,
    IPFIX_IE_PACKET_DELTA_COUNT = 2,
    IPFIX_IE_PROTOCOL_IDENTIFIER = 4,
    IPFIX_IE_TCP_CONTROL_BITS = 6,
    IPFIX_IE_SOURCE_TRANSPORT_PORT = 7,
    IPFIX_IE_SOURCE_IPV4_ADDRESS = 8,
    IPFIX_IE_DESTINATION_TRANSPORT_PORT = 11,
    IPFIX_IE_DESTINATION_IPV4_ADDRESS = 12,
    IPFIX_IE_SOURCE_IPV6_ADDRESS = 27,
    IPFIX_IE_DESTINATION_IPV6_ADDRESS = 28,
    IPFIX_IE_FLOW_END_REASON = 136,
    IPFIX_IE_FLOW_START_SECONDS = 150,
    IPFIX_IE_FLOW_END_SECONDS = 151,
    IPFIX_IE_FLOW_START_MILLISECONDS = 152,
    IPFIX_IE_FLOW_END_MILLISECONDS = 153,
    IPFIX_IE_FLOW_START_MICROSECONDS = 154,
    IPFIX_IE_FLOW_END_MICROSECONDS = 155,
    IPFIX_IE_FLOW_START_NANOSECONDS = 156,
    IPFIX_IE_FLOW_END_NANOSECONDS = 157,
    IPFIX_IE_BIFLOW_DIRECTION = 239,
    IPFIX_IE_BASIC_LIST = 291,
    IPFIX_IE_SUB_TEMPLATE_LIST = 292,
    IPFIX_IE_SUB_TEMPLATE_MULTI_LIST = 293,
    IPFIX_IE_SELECTOR_ALGORITHM = 304,
};

typedef struct ipfix_element {
    const char *name;         /* "octetDeltaCount", "reverseOctetDeltaCount" */
    uint32_t pen;             /* 0 for IANA */
    uint16_t id;              /* without the enterprise bit */
    uint8_t type;             /* ipfix_type */
    uint8_t semantics;        /* ipfix_semantics */
    uint8_t status;           /* ipfix_element_status */
    bool has_range;           /* range_low/range_high valid */
    bool known;               /* false: placeholder for an unknown element */
    bool reversible;          /* RFC 5103 §6.1: may have a reverse counterpart */
    uint16_t units;           /* IANA unit code (RFC 5610), 0 = none */
    uint64_t range_low;
    uint64_t range_high;
} ipfix_element;

typedef struct ipfix_infomodel ipfix_infomodel;

/* A model holding every IANA element and its reverse (PEN 29305). Returns
 * NULL on allocation failure. Free with ipfix_infomodel_free(). */
ipfix_infomodel *ipfix_infomodel_new(void);
void ipfix_infomodel_free(ipfix_infomodel *model);

/* Load enterprise-specific elements from a CSV in the IANA shape
 * (ElementID,Name,Abstract Data Type,Data Type Semantics,Status,...,Units,Range,...)
 * with one extra leading-or-trailing column "PEN" or, if the file has no PEN
 * column, every row gets `default_pen`. Errors name the line. */
ipfix_status ipfix_infomodel_load_csv(ipfix_infomodel *model, const char *path,
                                      uint32_t default_pen, ipfix_error *err);

/* Add one element (copied; name is copied). Replaces an existing (pen,id). */
ipfix_status ipfix_infomodel_add(ipfix_infomodel *model, const ipfix_element *element);

/* O(1) lookups; NULL when unknown. Name lookup is case-sensitive and also
 * accepts "pen:id" (e.g. "6871:12") and "reverse"+Name. */
const ipfix_element *ipfix_infomodel_find(const ipfix_infomodel *model, uint32_t pen, uint16_t id);
const ipfix_element *ipfix_infomodel_find_by_name(const ipfix_infomodel *model, const char *name);

/* Iterate: returns the i-th IANA element (0 <= i < count), NULL past the end. */
size_t ipfix_infomodel_iana_count(void);
const ipfix_element *ipfix_infomodel_iana_element(size_t index);

/* Names of the enums ("unsigned64", "deltaCounter", "octets", "current"). */
const char *ipfix_type_name(ipfix_type type);
ipfix_status ipfix_type_from_name(const char *name, ipfix_type *out);
const char *ipfix_semantics_name(ipfix_semantics semantics);
const char *ipfix_units_name(uint16_t units); /* "" for none/unknown */

/* Names of values from IANA sub-registries and other registries the element
 * refers to: flowEndReason (136) -> "idleTimeout", protocolIdentifier (4) ->
 * "tcp", biflowDirection (239), selectorAlgorithm (304), structured-data
 * semantics. Returns NULL when the element has no registry or the value is
 * unassigned. Names are camelCase identifiers, usable in filters. */
const char *ipfix_value_name(uint16_t element_id, uint64_t value);
/* Reverse of ipfix_value_name: "tcp" -> 6 for element 4. */
ipfix_status ipfix_value_from_name(uint16_t element_id, const char *name, uint64_t *out);

#ifdef __cplusplus
}
#endif
#endif
