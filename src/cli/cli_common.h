/*
 * cli_common.h — small pieces shared by the `ipfix` subcommands.
 */
#ifndef IPFIXKIT_CLI_COMMON_H
#define IPFIXKIT_CLI_COMMON_H

#include <stdbool.h>

#include "ipfixkit/infomodel.h"

/* Load enterprise-specific elements from a CSV in the IANA registry's shape
 * with a PEN column (`--elements FILE`). Prints the error, prefixed with
 * `command`, and returns false on failure. */
bool ipfix_cli_load_elements(ipfix_infomodel *model, const char *path, const char *command);

#endif
