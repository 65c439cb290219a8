/*
 * csv.c — RFC 4180 CSV reader; see csv.h. Reads the whole file into memory
 * (element files are small) and splits rows in place.
 */
#include "core/csv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ipfix_csv_reader {
    char *text;
    size_t length;
    size_t pos;
    size_t line;
    char *row_buffer; /* unescaped fields of the current row */
};

ipfix_status ipfix_csv_open(const char *path, ipfix_csv_reader **out, ipfix_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return ipfix_error_set(err, IPFIX_ERR_IO, 0, "cannot open file", "%s: %s", path, strerror(errno));
    ipfix_csv_reader *r = calloc(1, sizeof *r);
    size_t capacity = 1 << 16;
    char *text = malloc(capacity);
    if (!r || !text) {
        fclose(f);
        free(r);
        free(text);
        return IPFIX_ERR_NOMEM;
    }
    size_t n;
    while ((n = fread(text + r->length, 1, capacity - r->length, f)) > 0) {
        r->length += n;
        if (r->length == capacity) {
            char *bigger = realloc(text, capacity * 2);
            if (!bigger) {
                fclose(f);
                free(text);
                free(r);
                return IPFIX_ERR_NOMEM;
            }
            text = bigger;
            capacity *= 2;
        }
    }
    fclose(f);
    r->text = text;
    r->row_buffer = malloc(r->length + 1);
    if (!r->row_buffer) {
        ipfix_csv_close(r);
        return IPFIX_ERR_NOMEM;
    }
    r->line = 1;
    *out = r;
    return IPFIX_OK;
}

ipfix_status ipfix_csv_next(ipfix_csv_reader *r, ipfix_csv_row *row, ipfix_error *err) {
    if (r->pos >= r->length) return IPFIX_END;
    row->count = 0;
    row->line = r->line;
    char *out = r->row_buffer;
    const char *t = r->text;
    for (;;) {
        if (row->count == IPFIX_CSV_MAX_FIELDS)
            return ipfix_error_set(err, IPFIX_ERR_MALFORMED, r->pos, "CSV: too many fields",
                                   "line %zu has more than %d fields", row->line, IPFIX_CSV_MAX_FIELDS);
        row->fields[row->count++] = out;
        if (r->pos < r->length && t[r->pos] == '"') {
            r->pos++;
            for (;;) {
                if (r->pos >= r->length)
                    return ipfix_error_set(err, IPFIX_ERR_MALFORMED, r->pos,
                                           "RFC 4180 §2: unterminated quoted field",
                                           "row starting at line %zu", row->line);
                char ch = t[r->pos++];
                if (ch == '"') {
                    if (r->pos < r->length && t[r->pos] == '"') {
                        *out++ = '"';
                        r->pos++;
                        continue;
                    }
                    break;
                }
                if (ch == '\n') r->line++;
                *out++ = ch;
            }
        }
        while (r->pos < r->length && t[r->pos] != ',' && t[r->pos] != '\n') {
            if (t[r->pos] != '\r') *out++ = t[r->pos];
            r->pos++;
        }
        *out++ = '\0';
        if (r->pos >= r->length) break;
        if (t[r->pos++] == '\n') {
            r->line++;
            break;
        }
    }
    return IPFIX_OK;
}

void ipfix_csv_close(ipfix_csv_reader *r) {
    if (!r) return;
    free(r->text);
    free(r->row_buffer);
    free(r);
}
