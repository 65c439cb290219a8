/*
 * flow_cache.c — the Flow Cache of the Metering Process: accounts parsed
 * packets into Flows and expires them (RFC 5470 §5.1.1, RFC 7012
 * flowEndReason).
 *
 * Memory: one table of 96-byte ipfix_flow entries allocated at creation
 * from the byte budget (an anonymous mapping with huge pages requested:
 * pages are zeroed by the kernel when first touched, and a zero entry is a
 * free one). Flows live in the table itself, open addressing with linear
 * probing from the bucket the key hash maps to (multiply-shift, so the
 * table size need not be a power of two), load at most 3/4: 128 bytes of
 * budget per cached flow, and a lookup costs one random memory access
 * (then neighbouring entries). Deletion shifts the following entries of
 * the probe run back (no tombstones). No allocation per packet.
 *
 * Expiry:
 *  - on a Flow's next packet: idle (gap > idle timeout), active (flow older
 *    than the active timeout) or end of flow (FIN/RST seen and the grace
 *    period passed, or a new SYN) expire the old Flow first, so reasons and
 *    boundaries do not depend on sweep timing;
 *  - an incremental sweep, driven by packet time, visits the table in 16
 *    steps per pass (a pass per half idle timeout, 1-30 s), expiring Flows
 *    whose timeouts passed without packets (an entry moved back by a
 *    deletion may wait for the next pass);
 *  - table full: the least recently seen of 8 Flows at a rotating hand is
 *    evicted (lackOfResources), an LRU approximation;
 *  - flush (end of input): Flows due by the last packet time expire with
 *    their timeout reason, Flows that saw FIN/RST with endOfFlowDetected,
 *    the rest with forcedEnd.
 * TCP FIN/RST do not end a Flow at once: the final ACKs of a connection
 * belong to it, so the Flow ends after `fin_timeout` without packets.
 *
 * Non-initial fragments (RFC 3917 §5.8) are mapped to their Flow through a
 * small direct-mapped table filled by first fragments (addresses, protocol,
 * fragment ID -> ports); unmatched ones are accounted with ports 0 and
 * counted.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "ipfixkit/meter.h"

_Static_assert(sizeof(ipfix_flow) == 96, "flow entry is 96 bytes");

#define SWEEP_STEPS 16u                 /* the table is visited in 16 chunks per pass */
#define BATCH 256u                      /* packets hashed ahead */
#define AHEAD 12u                       /* table buckets prefetched this many packets ahead */
#define EVICT_SAMPLE 8u
#define FRAG_TABLE_SIZE 4096u           /* power of two */
#define FRAG_LIFETIME_NS (30ull * 1000000000ull) /* RFC 791 reassembly timer order */
#define NS_PER_S 1000000000ull
#define MAX_BUCKETS (1u << 31)

enum { STATE_FREE = 0, STATE_ACTIVE = 1, STATE_FIN = 2 };
enum { TCP_FIN = 0x01, TCP_SYN = 0x02, TCP_RST = 0x04, TCP_ACK = 0x10 };

typedef struct frag_entry {
    uint64_t id;       /* hash of addresses, protocol, fragment ID; 0 = unused */
    uint64_t time_ns;
    uint16_t src_port, dst_port;
} frag_entry;

struct ipfix_flow_cache {
    ipfix_flow_cache_config config;
    ipfix_flow *table;
    uint32_t size;           /* buckets */
    uint32_t capacity;       /* flows: size * 3/4 */
    uint64_t now_ns;
    uint64_t sweep_next_ns;
    uint64_t sweep_step_ns;
    uint32_t sweep_cursor;
    uint32_t evict_hand;
    frag_entry *frags;
    ipfix_status last_status;
    ipfix_flow_cache_stats stats;
};

void ipfix_flow_cache_config_init(ipfix_flow_cache_config *config) {
    memset(config, 0, sizeof *config);
    config->memory_bytes = 128u << 20;
    config->idle_timeout_ns = 15 * NS_PER_S;
    config->active_timeout_ns = 1800 * NS_PER_S;
    config->fin_timeout_ns = 2 * NS_PER_S;
    ipfix_flow_keymask_default(&config->keymask);
}

/* Large zeroed allocations: anonymous mappings (pages zeroed lazily by the
 * kernel) with transparent huge pages requested, since random lookups over
 * tens of megabytes would otherwise miss the TLB on almost every packet. */
static void *big_alloc(size_t size) {
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
#ifdef MADV_HUGEPAGE
    madvise(p, size, MADV_HUGEPAGE);
#endif
    return p;
}

static void big_free(void *p, size_t size) {
    if (p) munmap(p, size);
}

/* 64-bit mixing of the five key words (multiply-xorshift, murmur3 finaliser). */
static inline uint64_t key_hash(const ipfix_meter_key *key) {
    uint64_t w[5];
    memcpy(w, key, sizeof w);
    uint64_t h = 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < 5; i++) {
        h ^= w[i];
        h *= 0xBF58476D1CE4E5B9ull;
        h ^= h >> 31;
    }
    h ^= h >> 33;
    h *= 0xFF51AFD7ED558CCDull;
    h ^= h >> 33;
    return h;
}

static inline bool key_equal(const ipfix_meter_key *a, const ipfix_meter_key *b) {
    uint64_t x[5], y[5];
    memcpy(x, a, sizeof x);
    memcpy(y, b, sizeof y);
    return ((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2]) | (x[3] ^ y[3]) | (x[4] ^ y[4])) == 0;
}

ipfix_status ipfix_flow_cache_new(const ipfix_flow_cache_config *config,
                                  ipfix_flow_cache **out) {
    *out = NULL;
    if (!config || !config->expired) return IPFIX_ERR_INVALID_ARG;
    uint64_t buckets = config->memory_bytes / sizeof(ipfix_flow);
    if (buckets > MAX_BUCKETS) buckets = MAX_BUCKETS;
    if (buckets < 22) return IPFIX_ERR_INVALID_ARG; /* at least 16 flows */
    ipfix_flow_cache *c = calloc(1, sizeof *c);
    if (!c) return IPFIX_ERR_NOMEM;
    c->config = *config;
    c->size = (uint32_t)buckets;
    c->capacity = c->size - c->size / 4;
    c->table = big_alloc((size_t)c->size * sizeof(ipfix_flow));
    c->frags = calloc(FRAG_TABLE_SIZE, sizeof(frag_entry));
    if (!c->table || !c->frags) {
        ipfix_flow_cache_free(c);
        return IPFIX_ERR_NOMEM;
    }
    /* one sweep pass per half idle timeout, between 1 s and 30 s */
    uint64_t pass = config->idle_timeout_ns / 2;
    if (pass < NS_PER_S) pass = NS_PER_S;
    if (pass > 30 * NS_PER_S) pass = 30 * NS_PER_S;
    c->sweep_step_ns = pass / SWEEP_STEPS;
    c->stats.max_flows = c->capacity;
    c->stats.memory_bytes = (size_t)c->size * sizeof(ipfix_flow);
    *out = c;
    return IPFIX_OK;
}

void ipfix_flow_cache_free(ipfix_flow_cache *cache) {
    if (!cache) return;
    big_free(cache->table, (size_t)cache->size * sizeof(ipfix_flow));
    free(cache->frags);
    free(cache);
}

/* Bucket where a hash's probe run starts. */
static inline uint32_t home_of(const ipfix_flow_cache *c, uint32_t hash) {
    return (uint32_t)(((uint64_t)hash * c->size) >> 32);
}

static inline uint32_t next_bucket(const ipfix_flow_cache *c, uint32_t i) {
    return i + 1 == c->size ? 0 : i + 1;
}

/* Free bucket `i` by shifting back the later entries of its probe run. */
static void table_delete(ipfix_flow_cache *c, uint32_t i) {
    uint32_t j = i;
    for (;;) {
        j = next_bucket(c, j);
        ipfix_flow *fj = &c->table[j];
        if (fj->state == STATE_FREE) break;
        uint32_t home = home_of(c, fj->hash);
        /* the entry at j may move to i unless its home lies cyclically in (i, j] */
        bool stays = (i <= j) ? (home > i && home <= j) : (home > i || home <= j);
        if (stays) continue;
        c->table[i] = *fj;
        i = j;
    }
    c->table[i].state = STATE_FREE;
}

static void report(ipfix_flow_cache *c, ipfix_flow *f, uint8_t reason) {
    f->end_reason = reason;
    ipfix_status st = c->config.expired(c->config.context, f);
    if (st != IPFIX_OK) c->last_status = st;
    c->stats.flows_expired[reason]++;
}

static void expire(ipfix_flow_cache *c, ipfix_flow *f, uint8_t reason) {
    report(c, f, reason);
    c->stats.active_flows--;
    table_delete(c, (uint32_t)(f - c->table));
}

/* Reason `f` is due at `now`, or 0. */
static inline uint8_t due_reason(const ipfix_flow_cache *c, const ipfix_flow *f, uint64_t now) {
    uint64_t idle = now - f->last_ns;
    if (f->state == STATE_FIN && idle > c->config.fin_timeout_ns) return IPFIX_END_OF_FLOW;
    if (idle > c->config.idle_timeout_ns) return IPFIX_END_IDLE_TIMEOUT;
    if (now - f->first_ns > c->config.active_timeout_ns) return IPFIX_END_ACTIVE_TIMEOUT;
    return 0;
}

static void sweep_range(ipfix_flow_cache *c, uint32_t count) {
    for (uint32_t n = 0; n < count; n++) {
        if (c->sweep_cursor >= c->size) c->sweep_cursor = 0;
        ipfix_flow *f = &c->table[c->sweep_cursor++];
        if (f->state == STATE_FREE) continue;
        uint8_t reason = due_reason(c, f, c->now_ns);
        if (reason) expire(c, f, reason);
    }
}

static void sweep(ipfix_flow_cache *c) {
    if (c->stats.active_flows == 0) {
        c->sweep_next_ns = c->now_ns + c->sweep_step_ns;
        return;
    }
    uint32_t chunk = (c->size + SWEEP_STEPS - 1) / SWEEP_STEPS;
    for (unsigned steps = 0; c->now_ns >= c->sweep_next_ns; steps++) {
        if (steps == SWEEP_STEPS) { /* a long gap: one full pass is enough */
            c->sweep_next_ns = c->now_ns + c->sweep_step_ns;
            break;
        }
        sweep_range(c, chunk);
        c->sweep_next_ns += c->sweep_step_ns;
    }
}

static void set_time(ipfix_flow_cache *c, uint64_t now) {
    if (now <= c->now_ns) return;
    if (c->sweep_next_ns == 0) c->sweep_next_ns = now + c->sweep_step_ns;
    c->now_ns = now;
    if (now >= c->sweep_next_ns) sweep(c);
}

void ipfix_flow_cache_advance(ipfix_flow_cache *cache, uint64_t now_ns) {
    set_time(cache, now_ns);
}

/* Table full: expire the least recently seen of EVICT_SAMPLE flows found
 * from the rotating hand. */
static void evict_one(ipfix_flow_cache *c) {
    ipfix_flow *oldest = NULL;
    unsigned found = 0;
    for (uint32_t n = 0; n < c->size && found < EVICT_SAMPLE; n++) {
        if (c->evict_hand >= c->size) c->evict_hand = 0;
        ipfix_flow *f = &c->table[c->evict_hand++];
        if (f->state == STATE_FREE) continue;
        found++;
        if (!oldest || f->last_ns < oldest->last_ns) oldest = f;
    }
    if (oldest) expire(c, oldest, IPFIX_END_LACK_OF_RESOURCES);
}

static uint64_t frag_id(const ipfix_packet *pkt) {
    ipfix_meter_key k;
    memset(&k, 0, sizeof k);
    memcpy(k.src, pkt->src, 16);
    memcpy(k.dst, pkt->dst, 16);
    k.protocol = pkt->protocol;
    k.ip_version = pkt->ip_version;
    k.src_port = (uint16_t)(pkt->fragment_id >> 16);
    k.dst_port = (uint16_t)pkt->fragment_id;
    return key_hash(&k) | 1u;
}

/* First fragments remember their ports; later ones look them up. */
static void map_fragment(ipfix_flow_cache *c, const ipfix_packet *pkt, ipfix_meter_key *key) {
    uint64_t id = frag_id(pkt);
    frag_entry *e = &c->frags[id & (FRAG_TABLE_SIZE - 1)];
    if (pkt->fragment == IPFIX_FRAG_FIRST) {
        e->id = id;
        e->time_ns = pkt->time_ns;
        e->src_port = pkt->src_port;
        e->dst_port = pkt->dst_port;
        return;
    }
    if (e->id == id && pkt->time_ns - e->time_ns <= FRAG_LIFETIME_NS) {
        const ipfix_meter_key *m =
            pkt->ip_version == 6 ? &c->config.keymask.mask6 : &c->config.keymask.mask4;
        key->src_port = e->src_port & m->src_port;
        key->dst_port = e->dst_port & m->dst_port;
        c->stats.fragments_mapped++;
    } else {
        c->stats.fragments_unmapped++;
    }
}

static ipfix_flow *flow_create(ipfix_flow_cache *c, const ipfix_meter_key *key, uint32_t hash,
                               const ipfix_packet *pkt) {
    if (c->stats.active_flows >= c->capacity) evict_one(c);
    uint32_t i = home_of(c, hash);
    while (c->table[i].state != STATE_FREE) i = next_bucket(c, i);
    ipfix_flow *f = &c->table[i];
    f->key = *key;
    f->first_ns = f->last_ns = pkt->time_ns;
    f->octets = 0;
    f->packets = 0;
    f->flow_label = pkt->flow_label;
    f->mpls_top = pkt->mpls_top;
    f->fragments = 0;
    f->tcp_flags = 0;
    f->tos = pkt->tos;
    f->min_ttl = f->max_ttl = pkt->ttl;
    f->state = STATE_ACTIVE;
    f->end_reason = 0;
    f->reserved = 0;
    f->hash = hash;
    c->stats.flows_created++;
    if (++c->stats.active_flows > c->stats.peak_flows) c->stats.peak_flows = c->stats.active_flows;
    return f;
}

static inline ipfix_flow *flow_lookup(ipfix_flow_cache *c, const ipfix_meter_key *key,
                                      uint32_t hash) {
    for (uint32_t i = home_of(c, hash);; i = next_bucket(c, i)) {
        ipfix_flow *f = &c->table[i];
        if (f->state == STATE_FREE) return NULL;
        if (f->hash == hash && key_equal(&f->key, key)) return f;
    }
}

static inline void prefetch_bucket(const ipfix_flow_cache *c, uint32_t hash) {
    const char *b = (const char *)&c->table[home_of(c, hash)];
    __builtin_prefetch(b);
    __builtin_prefetch(b + 64);
    __builtin_prefetch(b + 127);
}

/* Key and hash of a packet (fragments mapped first); time clamped. */
static inline void prepare(ipfix_flow_cache *c, ipfix_packet *pkt, ipfix_meter_key *key,
                           uint32_t *hash) {
    if (pkt->time_ns < c->now_ns) pkt->time_ns = c->now_ns;
    ipfix_meter_key_make(pkt, &c->config.keymask, key);
    if (pkt->fragment != IPFIX_FRAG_NONE) map_fragment(c, pkt, key);
    *hash = (uint32_t)key_hash(key);
}

static inline void account(ipfix_flow_cache *c, const ipfix_packet *pkt,
                           const ipfix_meter_key *key, uint32_t hash) {
    set_time(c, pkt->time_ns);
    ipfix_flow *f = flow_lookup(c, key, hash);
    if (f) {
        uint8_t reason = due_reason(c, f, pkt->time_ns);
        if (!reason && f->state == STATE_FIN && (pkt->tcp_flags & (TCP_SYN | TCP_ACK)) == TCP_SYN)
            reason = IPFIX_END_OF_FLOW; /* a new connection reuses the ports */
        if (reason) {
            expire(c, f, reason);
            f = NULL;
        }
    }
    if (!f) f = flow_create(c, key, hash, pkt);
    f->last_ns = pkt->time_ns;
    f->octets += pkt->ip_length;
    f->packets++;
    f->tcp_flags |= pkt->tcp_flags;
    if (pkt->ttl < f->min_ttl) f->min_ttl = pkt->ttl;
    if (pkt->ttl > f->max_ttl) f->max_ttl = pkt->ttl;
    if (pkt->fragment != IPFIX_FRAG_NONE) f->fragments++;
    if (pkt->tcp_flags & (TCP_FIN | TCP_RST)) f->state = STATE_FIN;
    c->stats.packets++;
    c->stats.octets += pkt->ip_length;
}

void ipfix_flow_cache_add(ipfix_flow_cache *c, const ipfix_packet *pkt_in) {
    ipfix_packet pkt = *pkt_in;
    ipfix_meter_key key;
    uint32_t hash;
    prepare(c, &pkt, &key, &hash);
    account(c, &pkt, &key, hash);
}

/* Up to BATCH packets at a time: every key is hashed first; then, while
 * packets are accounted in order, the table bucket of the packet AHEAD places
 * later is prefetched. The prefetches are only hints, so flows created or
 * expired by earlier packets are handled exactly as by
 * ipfix_flow_cache_add(). */
void ipfix_flow_cache_add_batch(ipfix_flow_cache *c, ipfix_packet *pkts, size_t count) {
    while (count > 0) {
        size_t n = count < BATCH ? count : BATCH;
        ipfix_meter_key k[BATCH];
        uint32_t h[BATCH];
        for (size_t i = 0; i < n; i++) {
            prepare(c, &pkts[i], &k[i], &h[i]);
            if (i < AHEAD) prefetch_bucket(c, h[i]);
        }
        for (size_t i = 0; i < n; i++) {
            if (i + AHEAD < n) prefetch_bucket(c, h[i + AHEAD]);
            account(c, &pkts[i], &k[i], h[i]);
        }
        pkts += n;
        count -= n;
    }
}

/* Every Flow is reported, then the whole table is reset at once (pages
 * given back to the kernel, which zeroes them again on next use). */
void ipfix_flow_cache_flush(ipfix_flow_cache *c) {
    if (c->stats.active_flows > 0) {
        for (uint32_t i = 0; i < c->size; i++) {
            ipfix_flow *f = &c->table[i];
            if (f->state == STATE_FREE) continue;
            uint8_t reason = due_reason(c, f, c->now_ns);
            if (!reason) reason = f->state == STATE_FIN ? IPFIX_END_OF_FLOW : IPFIX_END_FORCED;
            report(c, f, reason);
        }
        size_t bytes = (size_t)c->size * sizeof(ipfix_flow);
        if (madvise(c->table, bytes, MADV_DONTNEED) != 0) memset(c->table, 0, bytes);
    }
    c->sweep_cursor = 0;
    c->evict_hand = 0;
    c->stats.active_flows = 0;
}

void ipfix_flow_cache_get_stats(const ipfix_flow_cache *cache, ipfix_flow_cache_stats *stats) {
    *stats = cache->stats;
}

ipfix_status ipfix_flow_cache_last_status(const ipfix_flow_cache *cache) {
    return cache->last_status;
}
