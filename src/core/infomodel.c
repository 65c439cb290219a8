/*
 * infomodel.c — the information model object: the generated IANA table
 * (build/generated/infomodel_table.c), reverse elements (RFC 5103 §6.1) and
 * enterprise elements loaded at run time, indexed for O(1) lookup by
 * (PEN, ID) and by name.
 *
 * IANA and reverse elements are looked up through a dense array indexed by
 * ID; enterprise elements and all names go through open-addressing hash
 * tables. Enterprise elements and their names are owned by the model.
 */
#include "ipfixkit/infomodel.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/csv.h"
#include "core/infomodel_table.h"

typedef struct element_slot {
    uint64_t key;                  /* pen << 16 | id, for the (pen,id) table */
    const ipfix_element *element;  /* NULL = empty */
} element_slot;

typedef struct owned_element {
    ipfix_element element;
    char *name;
} owned_element;

struct ipfix_infomodel {
    const ipfix_element **iana_by_id;     /* [max_iana_id + 1] */
    size_t iana_id_limit;
    element_slot *by_key;                 /* enterprise elements */
    size_t by_key_capacity, by_key_used;
    const ipfix_element **by_name;        /* all elements, by name */
    size_t by_name_capacity, by_name_used;
    owned_element **owned;                /* enterprise elements we allocated */
    size_t owned_count, owned_capacity;
};

static uint64_t hash_string(const char *s) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

static uint64_t hash_key(uint64_t key) {
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdull;
    key ^= key >> 33;
    return key;
}

static bool name_table_grow(ipfix_infomodel *m);

static bool name_table_put(ipfix_infomodel *m, const ipfix_element *e) {
    if ((m->by_name_used + 1) * 2 > m->by_name_capacity && !name_table_grow(m)) return false;
    size_t mask = m->by_name_capacity - 1;
    for (size_t i = hash_string(e->name) & mask;; i = (i + 1) & mask) {
        const ipfix_element *cur = m->by_name[i];
        if (!cur) {
            m->by_name[i] = e;
            m->by_name_used++;
            return true;
        }
        if (strcmp(cur->name, e->name) == 0) {
            m->by_name[i] = e; /* a later definition replaces the name */
            return true;
        }
    }
}

static bool name_table_grow(ipfix_infomodel *m) {
    size_t old_capacity = m->by_name_capacity;
    const ipfix_element **old = m->by_name;
    size_t capacity = old_capacity ? old_capacity * 2 : 2048;
    m->by_name = calloc(capacity, sizeof *m->by_name);
    if (!m->by_name) {
        m->by_name = old;
        return false;
    }
    m->by_name_capacity = capacity;
    m->by_name_used = 0;
    for (size_t i = 0; i < old_capacity; i++)
        if (old[i]) name_table_put(m, old[i]);
    free(old);
    return true;
}

static bool key_table_grow(ipfix_infomodel *m);

static bool key_table_put(ipfix_infomodel *m, const ipfix_element *e) {
    if ((m->by_key_used + 1) * 2 > m->by_key_capacity && !key_table_grow(m)) return false;
    uint64_t key = (uint64_t)e->pen << 16 | e->id;
    size_t mask = m->by_key_capacity - 1;
    for (size_t i = hash_key(key) & mask;; i = (i + 1) & mask) {
        if (!m->by_key[i].element) {
            m->by_key[i].key = key;
            m->by_key[i].element = e;
            m->by_key_used++;
            return true;
        }
        if (m->by_key[i].key == key) {
            m->by_key[i].element = e;
            return true;
        }
    }
}

static bool key_table_grow(ipfix_infomodel *m) {
    size_t old_capacity = m->by_key_capacity;
    element_slot *old = m->by_key;
    size_t capacity = old_capacity ? old_capacity * 2 : 64;
    m->by_key = calloc(capacity, sizeof *m->by_key);
    if (!m->by_key) {
        m->by_key = old;
        return false;
    }
    m->by_key_capacity = capacity;
    m->by_key_used = 0;
    for (size_t i = 0; i < old_capacity; i++)
        if (old[i].element) key_table_put(m, old[i].element);
    free(old);
    return true;
}

ipfix_infomodel *ipfix_infomodel_new(void) {
    ipfix_infomodel *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    uint16_t max_id = 0;
    for (size_t i = 0; i < ipfix_iana_element_count; i++)
        if (ipfix_iana_elements[i].id > max_id) max_id = ipfix_iana_elements[i].id;
    m->iana_id_limit = (size_t)max_id + 1;
    m->iana_by_id = calloc(m->iana_id_limit * 2, sizeof *m->iana_by_id);
    if (!m->iana_by_id || !name_table_grow(m)) {
        ipfix_infomodel_free(m);
        return NULL;
    }
    for (size_t i = 0; i < ipfix_iana_element_count; i++) {
        const ipfix_element *e = &ipfix_iana_elements[i];
        const ipfix_element *r = &ipfix_reverse_elements[i];
        m->iana_by_id[e->id] = e;
        m->iana_by_id[m->iana_id_limit + e->id] = r;
        if (!name_table_put(m, e) || !name_table_put(m, r)) {
            ipfix_infomodel_free(m);
            return NULL;
        }
    }
    return m;
}

void ipfix_infomodel_free(ipfix_infomodel *m) {
    if (!m) return;
    for (size_t i = 0; i < m->owned_count; i++) {
        free(m->owned[i]->name);
        free(m->owned[i]);
    }
    free(m->owned);
    free(m->iana_by_id);
    free(m->by_key);
    free(m->by_name);
    free(m);
}

const ipfix_element *ipfix_infomodel_find(const ipfix_infomodel *m, uint32_t pen, uint16_t id) {
    if (pen == IPFIX_PEN_IANA || pen == IPFIX_PEN_REVERSE) {
        if (id < m->iana_id_limit) {
            const ipfix_element *e = m->iana_by_id[(pen ? m->iana_id_limit : 0) + id];
            if (e) return e;
        }
    }
    if (!m->by_key_used) return NULL;
    uint64_t key = (uint64_t)pen << 16 | id;
    size_t mask = m->by_key_capacity - 1;
    for (size_t i = hash_key(key) & mask; m->by_key[i].element; i = (i + 1) & mask)
        if (m->by_key[i].key == key) return m->by_key[i].element;
    return NULL;
}

static bool parse_pen_id(const char *name, uint32_t *pen, uint16_t *id) {
    char *end;
    errno = 0;
    unsigned long p = strtoul(name, &end, 10);
    if (end == name || *end != ':' || errno || p > UINT32_MAX) return false;
    const char *id_text = end + 1;
    unsigned long i = strtoul(id_text, &end, 10);
    if (end == id_text || *end || i > 32767) return false;
    *pen = (uint32_t)p;
    *id = (uint16_t)i;
    return true;
}

const ipfix_element *ipfix_infomodel_find_by_name(const ipfix_infomodel *m, const char *name) {
    size_t mask = m->by_name_capacity - 1;
    for (size_t i = hash_string(name) & mask; m->by_name[i]; i = (i + 1) & mask)
        if (strcmp(m->by_name[i]->name, name) == 0) return m->by_name[i];
    uint32_t pen;
    uint16_t id;
    if (parse_pen_id(name, &pen, &id)) return ipfix_infomodel_find(m, pen, id);
    return NULL;
}

ipfix_status ipfix_infomodel_add(ipfix_infomodel *m, const ipfix_element *element) {
    if (!element || !element->name || !element->name[0]) return IPFIX_ERR_INVALID_ARG;
    if (element->pen == IPFIX_PEN_IANA || element->pen == IPFIX_PEN_REVERSE)
        return IPFIX_ERR_INVALID_ARG; /* the IANA space comes from the registry */
    if (m->owned_count == m->owned_capacity) {
        size_t capacity = m->owned_capacity ? m->owned_capacity * 2 : 16;
        owned_element **owned = realloc(m->owned, capacity * sizeof *owned);
        if (!owned) return IPFIX_ERR_NOMEM;
        m->owned = owned;
        m->owned_capacity = capacity;
    }
    owned_element *o = calloc(1, sizeof *o);
    if (!o) return IPFIX_ERR_NOMEM;
    o->name = strdup(element->name);
    if (!o->name) {
        free(o);
        return IPFIX_ERR_NOMEM;
    }
    o->element = *element;
    o->element.name = o->name;
    o->element.known = true;
    o->element.reversible = false; /* RFC 5103 §6.2: no enterprise reverse IEs */
    m->owned[m->owned_count++] = o;
    if (!key_table_put(m, &o->element) || !name_table_put(m, &o->element)) return IPFIX_ERR_NOMEM;
    return IPFIX_OK;
}

size_t ipfix_infomodel_iana_count(void) { return ipfix_iana_element_count; }

const ipfix_element *ipfix_infomodel_iana_element(size_t index) {
    return index < ipfix_iana_element_count ? &ipfix_iana_elements[index] : NULL;
}

/* ---- names of enums ---- */

static const char *const type_names[IPFIX_TYPE_COUNT] = {
    "octetArray", "unsigned8", "unsigned16", "unsigned32", "unsigned64", "signed8",
    "signed16", "signed32", "signed64", "float32", "float64", "boolean", "macAddress",
    "string", "dateTimeSeconds", "dateTimeMilliseconds", "dateTimeMicroseconds",
    "dateTimeNanoseconds", "ipv4Address", "ipv6Address", "basicList", "subTemplateList",
    "subTemplateMultiList", "unsigned256"};

static const char *const semantics_names[] = {
    "default", "quantity", "totalCounter", "deltaCounter", "identifier",
    "flags", "list", "snmpCounter", "snmpGauge"};

const char *ipfix_type_name(ipfix_type type) {
    return (unsigned)type < IPFIX_TYPE_COUNT ? type_names[type] : "unknown";
}

ipfix_status ipfix_type_from_name(const char *name, ipfix_type *out) {
    for (int t = 0; t < IPFIX_TYPE_COUNT; t++)
        if (strcmp(type_names[t], name) == 0) {
            *out = (ipfix_type)t;
            return IPFIX_OK;
        }
    return IPFIX_ERR_NOT_FOUND;
}

const char *ipfix_semantics_name(ipfix_semantics semantics) {
    return (unsigned)semantics < sizeof semantics_names / sizeof *semantics_names
               ? semantics_names[semantics] : "default";
}

static int semantics_from_name(const char *name) {
    for (size_t s = 0; s < sizeof semantics_names / sizeof *semantics_names; s++)
        if (strcmp(semantics_names[s], name) == 0) return (int)s;
    return -1;
}

const char *ipfix_units_name(uint16_t units) {
    return units < ipfix_units_name_count ? ipfix_units_names[units] : "";
}

static int units_from_name(const char *name) {
    for (size_t u = 1; u < ipfix_units_name_count; u++)
        if (strcmp(ipfix_units_names[u], name) == 0) return (int)u;
    return -1;
}

/* ---- registry value names: binary search over the sorted generated table ---- */

const char *ipfix_value_name(uint16_t element_id, uint64_t value) {
    size_t lo = 0, hi = ipfix_value_name_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const ipfix_value_name_entry *e = &ipfix_value_names[mid];
        if (e->element_id < element_id || (e->element_id == element_id && e->value < value))
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < ipfix_value_name_count && ipfix_value_names[lo].element_id == element_id &&
        ipfix_value_names[lo].value == value)
        return ipfix_value_names[lo].name;
    return NULL;
}

ipfix_status ipfix_value_from_name(uint16_t element_id, const char *name, uint64_t *out) {
    for (size_t i = 0; i < ipfix_value_name_count; i++)
        if (ipfix_value_names[i].element_id == element_id &&
            strcmp(ipfix_value_names[i].name, name) == 0) {
            *out = ipfix_value_names[i].value;
            return IPFIX_OK;
        }
    return IPFIX_ERR_NOT_FOUND;
}

/* ---- enterprise elements from CSV (same columns as the IANA file) ---- */

typedef struct csv_columns {
    int id, name, type, semantics, status, units, range, pen;
} csv_columns;

static int column_index(const ipfix_csv_row *row, const char *name) {
    for (size_t i = 0; i < row->count; i++)
        if (strcmp(row->fields[i], name) == 0) return (int)i;
    return -1;
}

static const char *column(const ipfix_csv_row *row, int index) {
    return index >= 0 && (size_t)index < row->count ? row->fields[index] : "";
}

static ipfix_status element_from_row(const ipfix_csv_row *row, const csv_columns *c,
                                     uint32_t default_pen, ipfix_element *e, ipfix_error *err) {
    memset(e, 0, sizeof *e);
    char *end;
    const char *id_text = column(row, c->id);
    unsigned long id = strtoul(id_text, &end, 10);
    if (end == id_text || *end || id > 32767)
        return ipfix_error_set(err, IPFIX_ERR_MALFORMED, row->line, "element CSV: ElementID must be 0..32767",
                               "line %zu: '%s'", row->line, id_text);
    e->id = (uint16_t)id;
    e->pen = default_pen;
    if (c->pen >= 0) {
        const char *pen_text = column(row, c->pen);
        unsigned long pen = strtoul(pen_text, &end, 10);
        if (end == pen_text || *end || pen > UINT32_MAX)
            return ipfix_error_set(err, IPFIX_ERR_MALFORMED, row->line, "element CSV: bad PEN",
                                   "line %zu: '%s'", row->line, pen_text);
        e->pen = (uint32_t)pen;
    }
    e->name = column(row, c->name);
    ipfix_type type;
    if (!e->name[0] || ipfix_type_from_name(column(row, c->type), &type) != IPFIX_OK)
        return ipfix_error_set(err, IPFIX_ERR_MALFORMED, row->line,
                               "element CSV: name and a known abstract data type are required",
                               "line %zu: type '%s'", row->line, column(row, c->type));
    e->type = (uint8_t)type;
    int semantics = semantics_from_name(column(row, c->semantics));
    e->semantics = (uint8_t)(semantics < 0 ? 0 : semantics);
    e->status = strcmp(column(row, c->status), "deprecated") == 0 ? IPFIX_STATUS_DEPRECATED
                                                                   : IPFIX_STATUS_CURRENT;
    int units = units_from_name(column(row, c->units));
    e->units = (uint16_t)(units < 0 ? 0 : units);
    unsigned long long lo, hi;
    if (sscanf(column(row, c->range), "%lli-%lli", &lo, &hi) == 2) {
        e->has_range = true;
        e->range_low = lo;
        e->range_high = hi;
    }
    return IPFIX_OK;
}

ipfix_status ipfix_infomodel_load_csv(ipfix_infomodel *m, const char *path, uint32_t default_pen,
                                      ipfix_error *err) {
    ipfix_csv_reader *csv = NULL;
    ipfix_status st = ipfix_csv_open(path, &csv, err);
    if (st != IPFIX_OK) return st;
    ipfix_csv_row row;
    csv_columns c;
    st = ipfix_csv_next(csv, &row, err);
    if (st != IPFIX_OK) {
        ipfix_csv_close(csv);
        return st == IPFIX_END ? ipfix_error_set(err, IPFIX_ERR_MALFORMED, 0, "element CSV: empty file", "%s", path) : st;
    }
    c.id = column_index(&row, "ElementID");
    c.name = column_index(&row, "Name");
    c.type = column_index(&row, "Abstract Data Type");
    c.semantics = column_index(&row, "Data Type Semantics");
    c.status = column_index(&row, "Status");
    c.units = column_index(&row, "Units");
    c.range = column_index(&row, "Range");
    c.pen = column_index(&row, "PEN");
    if (c.id < 0 || c.name < 0 || c.type < 0) {
        ipfix_csv_close(csv);
        return ipfix_error_set(err, IPFIX_ERR_MALFORMED, 1,
                               "element CSV: header needs ElementID, Name, Abstract Data Type", "%s", path);
    }
    if (c.pen < 0 && (default_pen == IPFIX_PEN_IANA || default_pen == IPFIX_PEN_REVERSE)) {
        ipfix_csv_close(csv);
        return ipfix_error_set(err, IPFIX_ERR_INVALID_ARG, 0,
                               "element CSV: enterprise elements need a PEN other than 0 and 29305",
                               "%s has no PEN column", path);
    }
    while ((st = ipfix_csv_next(csv, &row, err)) == IPFIX_OK) {
        if (row.count == 1 && !row.fields[0][0]) continue; /* blank line */
        ipfix_element e;
        st = element_from_row(&row, &c, default_pen, &e, err);
        if (st == IPFIX_OK) {
            st = ipfix_infomodel_add(m, &e);
            if (st != IPFIX_OK)
                ipfix_error_set(err, st, row.line, "element CSV: PEN must not be 0 or 29305",
                                "line %zu", row.line);
        }
        if (st != IPFIX_OK) break;
    }
    ipfix_csv_close(csv);
    return st == IPFIX_END ? IPFIX_OK : st;
}
