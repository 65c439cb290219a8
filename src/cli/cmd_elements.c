/*
 * cmd_elements.c — `ipfix elements`: look up Information Elements of the
 * compiled-in IANA model (RFC 7012) and their RFC 5103 reverse forms, by
 * name, ID or PEN:ID, or list every IANA element; text or JSON Lines.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "ipfixkit/ipfixkit.h"

static void usage(FILE *out) {
    fprintf(out,
            "usage: ipfix elements [--json] [--elements FILE]... [NAME|ID|PEN:ID]...\n"
            "\n"
            "Print Information Elements: ID, name, abstract data type, semantics,\n"
            "units, range and status. Without arguments, every IANA element.\n"
            "Names are case-sensitive; reverse elements (RFC 5103) are found as\n"
            "reverseNAME or 29305:ID.\n"
            "\n"
            "options:\n"
            "  --json            one JSON object per element\n"
            "  --elements FILE   also load enterprise elements from a CSV in the IANA\n"
            "                    registry's shape with a PEN column (repeatable)\n"
            "  -h, --help        this help\n"
            "\n"
            "examples:\n"
            "  ipfix elements sourceIPv4Address\n"
            "  ipfix elements 4 136 reverseOctetDeltaCount\n"
            "  ipfix elements --json | jq -r .name\n"
            "\n"
            "exit status: 0 ok, 1 an element was not found, 2 usage error.\n");
}

static void print_json_string(FILE *out, const char *s) {
    fputc('"', out);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(out, "\\%c", c);
        else if (c < 0x20) fprintf(out, "\\u%04x", c);
        else fputc(c, out);
    }
    fputc('"', out);
}

static void print_element(const ipfix_element *e, bool json) {
    const char *type = ipfix_type_name((ipfix_type)e->type);
    const char *semantics = ipfix_semantics_name((ipfix_semantics)e->semantics);
    const char *units = ipfix_units_name(e->units);
    const char *status = e->status == IPFIX_STATUS_DEPRECATED ? "deprecated" : "current";
    if (json) {
        printf("{\"id\":%u,\"pen\":%u,\"name\":", (unsigned)e->id, (unsigned)e->pen);
        print_json_string(stdout, e->name);
        printf(",\"type\":\"%s\",\"semantics\":\"%s\",\"units\":", type ? type : "",
               semantics ? semantics : "");
        print_json_string(stdout, units ? units : "");
        if (e->has_range)
            printf(",\"range\":[%llu,%llu]", (unsigned long long)e->range_low,
                   (unsigned long long)e->range_high);
        else
            printf(",\"range\":null");
        printf(",\"status\":\"%s\",\"reversible\":%s}\n", status,
               e->reversible ? "true" : "false");
        return;
    }
    char id[32];
    if (e->pen) snprintf(id, sizeof id, "%u:%u", (unsigned)e->pen, (unsigned)e->id);
    else snprintf(id, sizeof id, "%u", (unsigned)e->id);
    char range[48] = "-";
    if (e->has_range)
        snprintf(range, sizeof range, "%llu-%llu", (unsigned long long)e->range_low,
                 (unsigned long long)e->range_high);
    printf("%-11s %-42s %-22s %-13s %-14s %-22s %s\n", id, e->name, type ? type : "?",
           semantics ? semantics : "?", units && units[0] ? units : "-", range, status);
}

/* NAME, ID (IANA) or PEN:ID. */
static const ipfix_element *lookup(const ipfix_infomodel *model, const char *arg) {
    char *end;
    errno = 0;
    unsigned long id = strtoul(arg, &end, 10);
    if (end != arg && !*end && !errno) {
        if (id > 32767) return NULL;
        return ipfix_infomodel_find(model, IPFIX_PEN_IANA, (uint16_t)id);
    }
    return ipfix_infomodel_find_by_name(model, arg); /* also "pen:id", "reverse..." */
}

int ipfix_cmd_elements(int argc, char **argv) {
    bool json = false;
    int first = argc;
    ipfix_infomodel *model = ipfix_infomodel_new();
    if (!model) {
        fprintf(stderr, "ipfix elements: out of memory\n");
        return IPFIX_EXIT_FAILURE;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (strcmp(argv[i], "--elements") == 0 && i + 1 < argc) {
            if (!ipfix_cli_load_elements(model, argv[++i], "ipfix elements")) {
                ipfix_infomodel_free(model);
                return IPFIX_EXIT_FAILURE;
            }
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            ipfix_infomodel_free(model);
            return IPFIX_EXIT_OK;
        } else if (strcmp(argv[i], "--") == 0) {
            first = i + 1;
            break;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "ipfix elements: unknown option '%s'\n", argv[i]);
            usage(stderr);
            ipfix_infomodel_free(model);
            return IPFIX_EXIT_USAGE;
        } else {
            first = i;
            break;
        }
    }
    if (!json && first >= argc) { /* listing: a header line */
        printf("%-11s %-42s %-22s %-13s %-14s %-22s %s\n", "ID", "NAME", "TYPE", "SEMANTICS",
               "UNITS", "RANGE", "STATUS");
    }
    if (first >= argc) {
        size_t count = ipfix_infomodel_iana_count();
        for (size_t i = 0; i < count; i++) print_element(ipfix_infomodel_iana_element(i), json);
        ipfix_infomodel_free(model);
        return IPFIX_EXIT_OK;
    }
    int rc = IPFIX_EXIT_OK;
    for (int i = first; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = true;
            continue;
        }
        const ipfix_element *e = lookup(model, argv[i]);
        if (!e) {
            fprintf(stderr, "ipfix elements: no element '%s'\n", argv[i]);
            rc = IPFIX_EXIT_FAILURE;
            continue;
        }
        print_element(e, json);
    }
    ipfix_infomodel_free(model);
    return rc;
}
