/*
 * commands.h — the subcommands of the `ipfix` command. Each takes the
 * arguments after its name (argv[0] is the subcommand name), prints its own
 * --help, and returns the process exit code (see EXIT CODES in main.c).
 */
#ifndef IPFIXKIT_CLI_COMMANDS_H
#define IPFIXKIT_CLI_COMMANDS_H

/* Exit codes shared by every subcommand. */
enum {
    IPFIX_EXIT_OK = 0,        /* success */
    IPFIX_EXIT_FAILURE = 1,   /* could not do the job (I/O error, ...) */
    IPFIX_EXIT_USAGE = 2,     /* bad command line */
    IPFIX_EXIT_PARTIAL = 3    /* done, but the input had errors (reported) */
};

int ipfix_cmd_dump(int argc, char **argv);
int ipfix_cmd_generate(int argc, char **argv);
int ipfix_cmd_elements(int argc, char **argv);
int ipfix_cmd_collect(int argc, char **argv);
int ipfix_cmd_probe(int argc, char **argv);
int ipfix_cmd_query(int argc, char **argv);

#endif
