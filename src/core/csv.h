/*
 * csv.h — a small RFC 4180 CSV reader (quoted fields may span lines), used to
 * load enterprise Information Elements in the IANA registry's CSV shape.
 * Private to the library. The row's field strings belong to the reader and
 * stay valid until the next ipfix_csv_next() or ipfix_csv_close().
 */
#ifndef IPFIXKIT_CORE_CSV_H
#define IPFIXKIT_CORE_CSV_H

#include <stddef.h>

#include "ipfixkit/error.h"

#define IPFIX_CSV_MAX_FIELDS 32

typedef struct ipfix_csv_row {
    const char *fields[IPFIX_CSV_MAX_FIELDS];
    size_t count;
    size_t line; /* 1-based line where the row starts */
} ipfix_csv_row;

typedef struct ipfix_csv_reader ipfix_csv_reader;

ipfix_status ipfix_csv_open(const char *path, ipfix_csv_reader **out, ipfix_error *err);
/* IPFIX_OK with a row, IPFIX_END at end of file, or an error naming the line. */
ipfix_status ipfix_csv_next(ipfix_csv_reader *reader, ipfix_csv_row *row, ipfix_error *err);
void ipfix_csv_close(ipfix_csv_reader *reader);

#endif
