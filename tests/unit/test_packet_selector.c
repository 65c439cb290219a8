/*
 * test_packet_selector.c — unit tests of PSAMP packet selection
 * (src/meter/packet_selector.c): the selection specs, systematic
 * count-based positions (RFC 5475 §5.1), exactly n per window for random
 * n-out-of-N (§5.2.1), the rate of uniform probabilistic selection
 * (§5.2.2.1), replayability from a seed, and the observed/selected counters.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ipfixkit/meter.h"

static void init(ipfix_packet_selector *s, const char *spec, uint64_t seed) {
    ipfix_error err;
    ipfix_error_clear(&err);
    assert_int_equal(ipfix_packet_selector_init(s, spec, seed, &err), IPFIX_OK);
}

static void test_specs(void **state) {
    (void)state;
    ipfix_packet_selector s;
    ipfix_error err;
    init(&s, NULL, 0);
    assert_int_equal(s.algorithm, IPFIX_SELECTOR_NONE);
    init(&s, "all", 0);
    assert_int_equal(s.algorithm, IPFIX_SELECTOR_NONE);
    init(&s, "1", 0); /* 1 in 1: everything, no Selector */
    assert_int_equal(s.algorithm, IPFIX_SELECTOR_NONE);
    init(&s, "100", 0);
    assert_int_equal(s.algorithm, IPFIX_SELECTOR_SYSTEMATIC_COUNT);
    assert_int_equal(s.interval, 1);
    assert_int_equal(s.space, 99);
    init(&s, "count:3/10", 0);
    assert_int_equal(s.interval, 3);
    assert_int_equal(s.space, 7);
    init(&s, "random:64", 0);
    assert_int_equal(s.algorithm, IPFIX_SELECTOR_RANDOM_N_OF_N);
    assert_int_equal(s.size, 1);
    assert_int_equal(s.population, 64);
    init(&s, "random:5/50", 0);
    assert_int_equal(s.size, 5);
    assert_int_equal(s.population, 50);
    init(&s, "probability:0.01", 0);
    assert_int_equal(s.algorithm, IPFIX_SELECTOR_UNIFORM_PROBABILISTIC);
    assert_true(s.probability == 0.01);
    static const char *bad[] = {"", "0", "x", "5/3", "count:", "count:0/4", "random:",
                                "random:6/5", "probability:0", "probability:1.5",
                                "probability:x", "10x", "99999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ipfix_error_clear(&err);
        assert_int_equal(ipfix_packet_selector_init(&s, bad[i], 0, &err), IPFIX_ERR_INVALID_ARG);
        assert_non_null(strstr(err.detail, "expected"));
    }
}

static void test_systematic(void **state) {
    (void)state;
    ipfix_packet_selector s;
    init(&s, "count:2/5", 0);
    for (int i = 0; i < 50; i++) {
        bool want = i % 5 < 2; /* the first 2 of every 5 */
        assert_int_equal(ipfix_packet_selector_select(&s), want);
    }
    assert_int_equal(s.observed, 50);
    assert_int_equal(s.selected, 20);
    init(&s, NULL, 0);
    for (int i = 0; i < 7; i++) assert_true(ipfix_packet_selector_select(&s));
    assert_int_equal(s.observed, 7);
    assert_int_equal(s.selected, 7);
}

static void test_random_n_of_n(void **state) {
    (void)state;
    ipfix_packet_selector s;
    init(&s, "random:3/10", 42);
    unsigned position_hits[10] = {0};
    for (int w = 0; w < 2000; w++) {
        unsigned in_window = 0;
        for (int i = 0; i < 10; i++)
            if (ipfix_packet_selector_select(&s)) {
                in_window++;
                position_hits[i]++;
            }
        assert_int_equal(in_window, 3); /* exactly n in every window of N */
    }
    for (int i = 0; i < 10; i++) /* each position about 3/10 of the windows */
        assert_true(position_hits[i] > 450 && position_hits[i] < 750);
}

static void test_probabilistic_and_replay(void **state) {
    (void)state;
    ipfix_packet_selector a, b, c;
    init(&a, "probability:0.25", 7);
    init(&b, "probability:0.25", 7);
    init(&c, "probability:0.25", 8);
    unsigned differ = 0;
    for (int i = 0; i < 200000; i++) {
        bool x = ipfix_packet_selector_select(&a);
        assert_int_equal(x, ipfix_packet_selector_select(&b)); /* same seed, same choice */
        differ += x != ipfix_packet_selector_select(&c);
    }
    assert_true(a.selected > 49000 && a.selected < 51000);
    assert_true(differ > 0);
    assert_int_equal(a.observed, 200000);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_specs),
        cmocka_unit_test(test_systematic),
        cmocka_unit_test(test_random_n_of_n),
        cmocka_unit_test(test_probabilistic_and_replay),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
