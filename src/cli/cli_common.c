/*
 * cli_common.c — helpers shared by the subcommands; see cli_common.h.
 */
#include "cli/cli_common.h"

#include <stdio.h>

bool ipfix_cli_load_elements(ipfix_infomodel *model, const char *path, const char *command) {
    ipfix_error err;
    ipfix_error_clear(&err);
    if (ipfix_infomodel_load_csv(model, path, IPFIX_PEN_IANA, &err) == IPFIX_OK) return true;
    fprintf(stderr, "%s: %s: %s%s%s%s\n", command, path, err.rule, err.detail[0] ? " (" : "",
            err.detail, err.detail[0] ? ")" : "");
    return false;
}
