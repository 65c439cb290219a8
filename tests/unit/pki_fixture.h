/*
 * pki_fixture.h — the test PKI for the TLS and DTLS unit tests
 * (test_tls.c, test_dtls.c): a cmocka group setup that runs
 * tests/tls/make_certs.sh into a fresh temporary directory (a test CA with
 * collector.test and exporter.test, a second CA, expired certificates), the
 * matching teardown, and pki_file() for a path inside it. Header-only:
 * include it from one test program.
 */
#ifndef IPFIXKIT_TEST_PKI_FIXTURE_H
#define IPFIXKIT_TEST_PKI_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>

static char pki_dir[256];

/* "DIR/name"; the last 8 results stay valid. */
static const char *pki_file(const char *name) {
    static char paths[8][320];
    static unsigned next;
    char *p = paths[next++ % 8];
    snprintf(p, 320, "%s/%s", pki_dir, name);
    return p;
}

static int pki_setup(void **state) {
    (void)state;
    if (system("command -v openssl >/dev/null 2>&1") != 0) {
        fprintf(stderr, "the openssl command is missing (scripts/setup-deps.sh)\n");
        return -1;
    }
    snprintf(pki_dir, sizeof pki_dir, "/tmp/test_pki.XXXXXX");
    if (!mkdtemp(pki_dir)) return -1;
    char cmd[800];
    snprintf(cmd, sizeof cmd, "bash %s/tests/tls/make_certs.sh %s >/dev/null", IPFIXKIT_SOURCE_DIR,
             pki_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static int pki_teardown(void **state) {
    (void)state;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", pki_dir);
    return system(cmd) == 0 ? 0 : -1;
}

#endif
