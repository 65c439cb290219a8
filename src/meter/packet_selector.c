/*
 * packet_selector.c — PSAMP packet selection (RFC 5475) in front of the
 * Metering Process: decides per observed packet whether it is metered.
 * Implemented Selectors (selectorAlgorithm values, RFC 5476 / IANA PSAMP
 * registry):
 *   1 systematic count-based: every `interval` packets out of `interval +
 *     space` (RFC 5475 §5.1; `--sample N` = 1 packet in every N);
 *   3 random n-out-of-N: `size` packets chosen at random positions in every
 *     window of `population` packets (RFC 5475 §5.2.1);
 *   4 uniform probabilistic: each packet independently with `probability`
 *     (RFC 5475 §5.2.2.1).
 * The random Selectors use xorshift64* from a configurable seed, so a trace
 * replays to the same selection. The observed/selected counters feed the
 * Selector Report and statistics Options Records (RFC 5476 §6.5.2, §6.5.3)
 * written by the exporter. No allocation; one branch and a counter per
 * packet for systematic sampling.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipfixkit/meter.h"

static uint64_t next_random(ipfix_packet_selector *s) {
    uint64_t x = s->random_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    s->random_state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

/* Random n-out-of-N: mark `size` distinct positions of the next window
 * (selection sampling, Knuth's algorithm S, without a bitmap: the decision
 * for each position is made as the packet arrives). */
static bool select_n_of_n(ipfix_packet_selector *s) {
    uint32_t remaining_population = s->population - s->position;
    uint32_t remaining_needed = s->size - s->chosen;
    bool pick = remaining_needed > 0 &&
                (next_random(s) >> 11) * (1.0 / 9007199254740992.0) * remaining_population <
                    (double)remaining_needed;
    if (pick) s->chosen++;
    if (++s->position == s->population) s->position = s->chosen = 0;
    return pick;
}

bool ipfix_packet_selector_select_slow(ipfix_packet_selector *s) {
    bool pick;
    switch (s->algorithm) {
    case IPFIX_SELECTOR_SYSTEMATIC_COUNT:
        pick = s->position < s->interval;
        if (++s->position == s->interval + s->space) s->position = 0;
        break;
    case IPFIX_SELECTOR_RANDOM_N_OF_N: pick = select_n_of_n(s); break;
    case IPFIX_SELECTOR_UNIFORM_PROBABILISTIC:
        pick = next_random(s) < s->threshold;
        break;
    default: pick = true; break;
    }
    s->selected += pick;
    return pick;
}

ipfix_status ipfix_packet_selector_init(ipfix_packet_selector *s, const char *spec,
                                        uint64_t seed, ipfix_error *err) {
    memset(s, 0, sizeof *s);
    s->random_state = seed ? seed : 0x9E3779B97F4A7C15ull;
    if (!spec || strcmp(spec, "all") == 0) return IPFIX_OK;
    char *end = NULL;
    if (strncmp(spec, "random:", 7) == 0) {
        /* random:N (1 out of N) or random:n/N */
        unsigned long a = strtoul(spec + 7, &end, 10), b = 0;
        if (end && *end == '/') b = strtoul(end + 1, &end, 10);
        else b = a, a = 1;
        if (!end || *end || a == 0 || b == 0 || a > b || b > UINT32_MAX) goto bad;
        s->algorithm = IPFIX_SELECTOR_RANDOM_N_OF_N;
        s->size = (uint32_t)a;
        s->population = (uint32_t)b;
        return IPFIX_OK;
    }
    if (strncmp(spec, "probability:", 12) == 0) {
        double p = strtod(spec + 12, &end);
        if (!end || *end || !(p > 0.0) || p > 1.0) goto bad;
        s->algorithm = IPFIX_SELECTOR_UNIFORM_PROBABILISTIC;
        s->probability = p;
        s->threshold = p >= 1.0 ? UINT64_MAX : (uint64_t)ldexp(p, 64);
        return IPFIX_OK;
    }
    /* N (1 in N) or count:n/N (n consecutive packets in every N) */
    const char *p = strncmp(spec, "count:", 6) == 0 ? spec + 6 : spec;
    unsigned long a = strtoul(p, &end, 10), b = 0;
    if (end && *end == '/') b = strtoul(end + 1, &end, 10);
    else b = a, a = 1;
    if (!end || end == p || *end || a == 0 || b == 0 || a > b || b > UINT32_MAX) goto bad;
    if (a == b) return IPFIX_OK; /* everything: no Selector */
    s->algorithm = IPFIX_SELECTOR_SYSTEMATIC_COUNT;
    s->interval = (uint32_t)a;
    s->space = (uint32_t)(b - a);
    return IPFIX_OK;
bad:
    return ipfix_error_set(err, IPFIX_ERR_INVALID_ARG, 0, "sample",
                           "'%s': expected N, count:n/N, random:N, random:n/N or "
                           "probability:P (0 < P <= 1)", spec);
}
