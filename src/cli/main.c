/*
 * main.c — entry point of the `ipfix` command: dispatches to subcommands
 * (one file each, cmd_<name>.c) and prints the overall help and version.
 */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "ipfixkit/ipfixkit.h"

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"dump", ipfix_cmd_dump, "decode IPFIX files or captures to text or JSON"},
    {"generate", ipfix_cmd_generate, "write a sample IPFIX file (demo, tests, benchmarks)"},
    {"elements", ipfix_cmd_elements, "list or look up Information Elements"},
    {"collect", ipfix_cmd_collect, "receive IPFIX over UDP/TCP into rotated files and/or JSON"},
    {"probe", ipfix_cmd_probe, "meter packets (pcap file or interface) into flows and export them"},
    {"query", ipfix_cmd_query, "filter, aggregate and rank stored flows (top-N, time series)"},
};

static void print_help(FILE *out) {
    fprintf(out,
            "usage: ipfix <command> [options]\n"
            "       ipfix help [command] | ipfix --version\n\n"
            "IP Flow Information Export (IPFIX, RFC 7011) toolkit.\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nRun 'ipfix <command> --help' for the options of a command.\n"
                 "Exit codes: 0 ok, 1 failure, 2 usage error, 3 input had errors (partial).\n");
}

static const command *find_command(const char *name) {
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(commands[i].name, name) == 0) return &commands[i];
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        print_help(stderr);
        return IPFIX_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
        printf("ipfix (ipfixkit) %s\n", IPFIXKIT_VERSION);
        return IPFIX_EXIT_OK;
    }
    if (strcmp(name, "help") == 0 || strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
        if (argc > 2 && find_command(argv[2])) {
            char *help_argv[] = {argv[2], "--help", NULL};
            return find_command(argv[2])->run(2, help_argv);
        }
        print_help(stdout);
        return IPFIX_EXIT_OK;
    }
    const command *cmd = find_command(name);
    if (!cmd) {
        fprintf(stderr, "ipfix: unknown command '%s'\n\n", name);
        print_help(stderr);
        return IPFIX_EXIT_USAGE;
    }
    return cmd->run(argc - 1, argv + 1);
}
