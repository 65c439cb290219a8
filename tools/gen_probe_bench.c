/*
 * gen_probe_bench.c — writes the synthetic pcap that bench/probe.sh meters:
 * PACKETS Ethernet frames over FLOWS flows, spread evenly over DURATION
 * seconds of packet time, reproducible from SEED.
 *
 * Mix: flows are 90% IPv4 / 10% IPv6; TCP 80%, UDP 17%, ICMP 3%. Half the
 * packets go to a "heavy" 1% of the flows, half uniformly to all (so most
 * flows are alive at once: with the defaults every flow sees a packet at
 * least every few seconds, far below a 15 s idle timeout). Frame sizes
 * follow a simple IMIX (7:4:1 of 64, 576 and 1500 bytes on the wire);
 * frames are captured with a 96-byte snap length, as a header-only capture
 * would be, so the file stays small (wire lengths are kept in the pcap
 * headers and in the IP total length). TCP packets carry ACK (PSH on data),
 * never SYN/FIN/RST, so flow boundaries come from timeouts only and every
 * meter with the same timeouts finds the same flows.
 *
 * usage: gen_probe_bench OUT.pcap PACKETS FLOWS [DURATION_S [SEED]]
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SNAPLEN 96u
#define T0 1700000000u

static uint64_t mix64(uint64_t x) {
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBull;
    x ^= x >> 31;
    return x;
}

static uint64_t rng_state;

static uint64_t rng(void) {
    rng_state += 0x9E3779B97F4A7C15ull;
    return mix64(rng_state);
}

static void put16(uint8_t *p, unsigned v) {
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v) {
    put16(p, v >> 16);
    put16(p + 2, v & 0xFFFF);
}

static void le32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* Builds the frame of one packet of flow `f`; returns the captured length
 * and sets *wire. */
static size_t build(uint8_t *b, uint64_t f, unsigned *wire) {
    uint64_t h = mix64(f * 0x2545F4914F6CDD1Dull + 1);
    bool v6 = h % 10 == 0;
    unsigned r = (unsigned)((h >> 8) % 100);
    unsigned proto = r < 80 ? 6 : r < 97 ? 17 : v6 ? 58 : 1;
    unsigned sz = (unsigned)(rng() % 12);
    unsigned len = sz < 7 ? 64 : sz < 11 ? 576 : 1500; /* wire frame length */
    unsigned l4 = proto == 6 ? 20 : 8;
    unsigned ipl = (v6 ? 40 : 20) + l4;
    if (len - 14 < ipl) len = 14 + ipl;
    unsigned ip_total = len - 14;
    memset(b, 0, SNAPLEN);
    b[0] = 2, b[5] = 1, b[6] = 2, b[11] = 2;
    uint8_t *ip = b + 14;
    uint8_t *l4p;
    if (!v6) {
        put16(b + 12, 0x0800);
        ip[0] = 0x45;
        put16(ip + 2, ip_total);
        ip[8] = 64;
        ip[9] = (uint8_t)proto;
        put32(ip + 12, 0x0A000000u | (uint32_t)(h >> 16 & 0xFFFFFF));
        put32(ip + 16, 0xC0A80000u | (uint32_t)(h >> 40 & 0xFFFF));
        l4p = ip + 20;
    } else {
        put16(b + 12, 0x86DD);
        ip[0] = 0x60;
        put16(ip + 4, ip_total - 40);
        ip[6] = (uint8_t)proto;
        ip[7] = 64;
        ip[8] = 0x20, ip[9] = 0x01, ip[10] = 0x0d, ip[11] = 0xb8;
        put32(ip + 20, (uint32_t)(h >> 16));
        ip[24] = 0x20, ip[25] = 0x01, ip[26] = 0x0d, ip[27] = 0xb8, ip[28] = 1;
        put32(ip + 36, (uint32_t)(h >> 40));
        l4p = ip + 40;
    }
    unsigned sport = 1024 + (unsigned)(mix64(h) % 60000);
    static const unsigned dports[] = {443, 80, 53, 22, 123, 8080, 993, 25};
    unsigned dport = dports[(h >> 56) % 8];
    if (proto == 6) {
        put16(l4p, sport);
        put16(l4p + 2, dport);
        l4p[12] = 0x50;
        l4p[13] = ip_total > ipl ? 0x18 : 0x10; /* PSH|ACK with data, else ACK */
    } else if (proto == 17) {
        put16(l4p, sport);
        put16(l4p + 2, dport);
        put16(l4p + 4, ip_total - (v6 ? 40 : 20));
    } else {
        l4p[0] = proto == 1 ? 8 : 128; /* echo request */
    }
    *wire = len;
    return len < SNAPLEN ? len : SNAPLEN;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s OUT.pcap PACKETS FLOWS [DURATION_S [SEED]]\n", argv[0]);
        return 2;
    }
    uint64_t packets = strtoull(argv[2], NULL, 10), flows = strtoull(argv[3], NULL, 10);
    double duration = argc > 4 ? strtod(argv[4], NULL) : 60.0;
    rng_state = argc > 5 ? strtoull(argv[5], NULL, 10) : 1;
    if (!packets || !flows || !(duration > 0)) {
        fprintf(stderr, "%s: bad arguments\n", argv[0]);
        return 2;
    }
    FILE *out = fopen(argv[1], "wb");
    if (!out) {
        fprintf(stderr, "%s: %s: %s\n", argv[0], argv[1], strerror(errno));
        return 1;
    }
    static char buf[1 << 20];
    setvbuf(out, buf, _IOFBF, sizeof buf);
    uint8_t gh[24];
    le32(gh, 0xA1B2C3D4);
    gh[4] = 2, gh[5] = 0, gh[6] = 4, gh[7] = 0;
    memset(gh + 8, 0, 8);
    le32(gh + 16, SNAPLEN);
    le32(gh + 20, 1);
    fwrite(gh, 1, sizeof gh, out);
    uint64_t heavy = flows / 100 ? flows / 100 : 1;
    uint64_t step_ns = (uint64_t)(duration * 1e9 / (double)packets);
    uint8_t rec[16 + SNAPLEN];
    for (uint64_t i = 0; i < packets; i++) {
        uint64_t r = rng();
        /* the first `flows` packets visit every flow once, in order */
        uint64_t f = i < flows ? i : (r & 1) ? (r >> 1) % heavy : (r >> 1) % flows;
        unsigned wire;
        size_t cap = build(rec + 16, f, &wire);
        uint64_t t = i * step_ns;
        le32(rec, T0 + (uint32_t)(t / 1000000000u));
        le32(rec + 4, (uint32_t)(t % 1000000000u / 1000u));
        le32(rec + 8, (uint32_t)cap);
        le32(rec + 12, wire);
        if (fwrite(rec, 1, 16 + cap, out) != 16 + cap) {
            fprintf(stderr, "%s: write failed\n", argv[0]);
            return 1;
        }
    }
    if (fclose(out) != 0) {
        fprintf(stderr, "%s: write failed\n", argv[0]);
        return 1;
    }
    return 0;
}
