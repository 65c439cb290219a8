/*
 * infomodel_table.h — declarations of the tables that tools/gen_infomodel.py
 * generates from the CSV files in data/ at build time (build/generated/infomodel_table.c).
 * Private to src/core/infomodel.c.
 */
#ifndef IPFIXKIT_CORE_INFOMODEL_TABLE_H
#define IPFIXKIT_CORE_INFOMODEL_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "ipfixkit/infomodel.h"

typedef struct ipfix_value_name_entry {
    uint16_t element_id;
    uint64_t value;
    const char *name;
} ipfix_value_name_entry;

extern const size_t ipfix_iana_element_count;
extern const ipfix_element ipfix_iana_elements[];   /* sorted by id */
extern const ipfix_element ipfix_reverse_elements[]; /* same order, PEN 29305 */
extern const size_t ipfix_units_name_count;
extern const char *const ipfix_units_names[];
extern const size_t ipfix_value_name_count;
extern const ipfix_value_name_entry ipfix_value_names[]; /* sorted by (element, value) */

#endif
