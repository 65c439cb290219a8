/*
 * scan.c — the parallel scan behind `ipfix query`: one worker thread per
 * core, each with its own session, filter matcher, time check, and
 * aggregation or record lister; aggregations are merged at the end.
 *
 * Work units are (file, part): when there are fewer files than workers,
 * files of at least SPLIT_MIN bytes are split into one part per worker,
 * unless their messages hold many sets each (see worth_splitting). A file is cut into 4 MiB blocks by message
 * offset and part k owns the messages starting in blocks k, k+P, ...; every
 * part reads all message headers, feeds messages holding (options) template
 * sets through its session (ignoring their records unless it owns them),
 * and evaluates only the records of its own messages, so templates are
 * always known without any coordination. Problems (framing errors, bad
 * sets, missing templates) are reported by the owner of the bytes (framing
 * errors: part 0), through the caller's callback, under a lock.
 *
 * Listing mode keeps file order: each block's output is buffered and
 * written when it is that block's turn (file by file, block by block).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ipfixkit/file.h"
#include "ipfixkit/reader.h"
#include "ipfixkit/session.h"
#include "query/query_internal.h"

#define BLOCK_SHIFT 22                 /* 4 MiB blocks */
#define SPLIT_MIN (8ull << 20)         /* split files from 8 MiB */

typedef struct unit {
    size_t file;
    unsigned part, parts;
} unit;

typedef struct shared {
    const ipfix_query_scan_config *cfg;
    char *const *files;
    size_t file_count;
    uint64_t *file_blocks;
    bool *file_bad;
    bool *file_opened;
    unit *units;
    size_t unit_count;
    atomic_size_t next;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    size_t turn_file;
    uint64_t turn_block;
    ipfix_status failure;
    atomic_bool stop;
    ipfix_error failure_error;
} shared;

typedef struct worker {
    shared *sh;
    pthread_t thread;
    ipfix_query_matcher *matcher;
    ipfix_query_agg *agg;
    ipfix_query_lister *lister;
    qcache times;
    ipfix_buffer out;
    ipfix_query_stats stats;
    ipfix_session *session;
    const char *path;
    size_t file;
} worker;

/* ------------------------------------------------------------ helpers */

static void fail(shared *sh, ipfix_status st, const char *what) {
    pthread_mutex_lock(&sh->lock);
    if (sh->failure == IPFIX_OK) {
        sh->failure = st;
        ipfix_error_set(&sh->failure_error, st, 0, what, NULL);
    }
    atomic_store(&sh->stop, true);
    pthread_cond_broadcast(&sh->cond);
    pthread_mutex_unlock(&sh->lock);
}

static void problem(worker *w, uint64_t offset, const ipfix_error *err) {
    shared *sh = w->sh;
    pthread_mutex_lock(&sh->lock);
    sh->file_bad[w->file] = true;
    w->stats.errors++;
    if (sh->cfg->problem) sh->cfg->problem(sh->cfg->context, w->path, offset, err);
    pthread_mutex_unlock(&sh->lock);
}

static void problem_text(worker *w, uint64_t offset, const char *rule, const char *detail) {
    ipfix_error e;
    ipfix_error_set(&e, IPFIX_ERR_MALFORMED, (size_t)offset, rule, "%s", detail ? detail : "");
    problem(w, offset, &e);
}

/* Listing: wait for the turn of (file, block), write the buffer, pass on. */
static void take_turn(worker *w, size_t file, uint64_t block) {
    shared *sh = w->sh;
    pthread_mutex_lock(&sh->lock);
    while (!(sh->turn_file == file && sh->turn_block == block) && !atomic_load(&sh->stop))
        pthread_cond_wait(&sh->cond, &sh->lock);
    if (!atomic_load(&sh->stop) && w->out.length) {
        ipfix_status st = sh->cfg->write(sh->cfg->context, w->out.data, w->out.length);
        if (st != IPFIX_OK) {
            if (sh->failure == IPFIX_OK) {
                sh->failure = st;
                ipfix_error_set(&sh->failure_error, st, 0, "write error", NULL);
            }
            atomic_store(&sh->stop, true);
        }
    }
    w->out.length = 0;
    if (++sh->turn_block >= sh->file_blocks[sh->turn_file]) {
        sh->turn_file++;
        sh->turn_block = 0;
    }
    pthread_cond_broadcast(&sh->cond);
    pthread_mutex_unlock(&sh->lock);
}

static void time_plan_free(void *p) { free(p); }
static void *time_plan_build(void *context, const ipfix_template *t) {
    (void)context;
    qflow_fields *f = malloc(sizeof *f);
    if (f) q_flow_fields(t, f);
    return f;
}

/* Is the record's time (flow start, else end) inside [from, to)? */
static bool time_ok(worker *w, const ipfix_record *r) {
    const ipfix_query_scan_config *cfg = w->sh->cfg;
    const qflow_fields *f = qcache_get(&w->times, r->tmpl);
    if (!f) return false;
    int index = f->start >= 0 ? f->start : f->end;
    if (index < 0) return false;
    const ipfix_template_field *tf = &r->tmpl->fields[index];
    const uint8_t *p;
    uint16_t len;
    if (!r->tmpl->variable) {
        p = r->data + tf->offset;
        len = tf->spec.length;
    } else {
        /* walk to the field */
        size_t pos = 0;
        p = NULL;
        len = 0;
        for (int i = 0; i <= index; i++) {
            size_t n = r->tmpl->fields[i].spec.length;
            if (n == IPFIX_VARLEN) {
                size_t prefix;
                if (ipfix_varlen_decode(r->data + pos, r->length - pos, &prefix, &n) != IPFIX_OK) return false;
                pos += prefix;
            }
            if (pos + n > r->length) return false;
            if (i == index) {
                p = r->data + pos;
                len = (uint16_t)n;
            }
            pos += n;
        }
    }
    int64_t ns;
    if (!q_time_ns(tf->type, p, len, &ns)) return false;
    int64_t ms = ns / 1000000;
    if (cfg->from_ms && ms < cfg->from_ms) return false;
    if (cfg->to_ms && ms >= cfg->to_ms) return false;
    return true;
}

static void templates_changed(worker *w) {
    if (w->matcher) ipfix_query_matcher_templates_changed(w->matcher);
    if (w->agg) ipfix_query_agg_templates_changed(w->agg);
    if (w->lister) ipfix_query_lister_templates_changed(w->lister);
    qcache_forget_last(&w->times);
}

static bool has_template_sets(const uint8_t *m, size_t length) {
    for (size_t pos = IPFIX_MESSAGE_HEADER_SIZE; pos + 4 <= length;) {
        __builtin_prefetch(m + pos + 1024); /* the walk is a chain of dependent loads */
        uint16_t id = ipfix_get_u16(m + pos), len = ipfix_get_u16(m + pos + 2);
        if (id == IPFIX_SET_ID_TEMPLATE || id == IPFIX_SET_ID_OPTIONS_TEMPLATE) return true;
        if (len < 4) return true; /* damaged: let the reader decide */
        pos += len;
    }
    return false;
}

static const ipfix_template *lookup_template(void *context, uint32_t odid, uint16_t id) {
    return ipfix_session_find_template(context, odid, id, 0);
}

static void process_message(worker *w, const uint8_t *msg, size_t length, uint64_t offset,
                            bool own) {
    const ipfix_query_scan_config *cfg = w->sh->cfg;
    ipfix_reader rd;
    ipfix_error err;
    ipfix_error_clear(&err);
    if (ipfix_reader_begin(&rd, w->session, msg, length, 0, &err) != IPFIX_OK) {
        if (own) problem(w, offset + err.offset, &err);
        return;
    }
    if (own) w->stats.messages++;
    bool timed = cfg->from_ms || cfg->to_ms;
    ipfix_render_source source = {0, NULL, lookup_template, w->session};
    ipfix_event ev;
    while (ipfix_reader_next(&rd, &ev) == IPFIX_OK) {
        switch (ev.kind) {
        case IPFIX_EVENT_RECORD: {
            if (!own) break;
            const ipfix_record *r = &ev.u.record;
            __builtin_prefetch(r->data + 768); /* records are read in file order */
            if (!q_is_flow_template(r->tmpl)) {
                w->stats.options_records++;
                break;
            }
            w->stats.records++;
            if (w->matcher && !ipfix_query_matcher_match(w->matcher, r)) break;
            if (timed && !time_ok(w, r)) break;
            w->stats.matched++;
            ipfix_status st;
            if (w->agg) {
                st = ipfix_query_agg_add(w->agg, r);
                if (st == IPFIX_ERR_NOMEM) {
                    fail(w->sh, st, "out of memory");
                    ipfix_reader_abandon(&rd);
                    return;
                }
            } else {
                source.odid = ev.odid;
                st = ipfix_query_lister_record(w->lister, &source, r, &w->out);
                if (st != IPFIX_OK) {
                    fail(w->sh, st, "out of memory");
                    ipfix_reader_abandon(&rd);
                    return;
                }
            }
            break;
        }
        case IPFIX_EVENT_TEMPLATE:
        case IPFIX_EVENT_WITHDRAWAL: templates_changed(w); break;
        case IPFIX_EVENT_MISSING_TEMPLATE:
            if (own && !ev.u.missing.held) {
                char detail[96];
                snprintf(detail, sizeof detail, "template %u, %zu bytes of records skipped",
                         (unsigned)ev.u.missing.template_id, ev.u.missing.length);
                problem_text(w, offset + ev.offset, "RFC 7011 §8: data set for a template not received",
                             detail);
            }
            break;
        case IPFIX_EVENT_ERROR:
            if (own) problem(w, offset + ev.u.error.offset, &ev.u.error);
            break;
        case IPFIX_EVENT_SEQUENCE: break;
        }
    }
}

static void process_unit(worker *w, size_t index) {
    shared *sh = w->sh;
    const unit *u = &sh->units[index];
    bool listing = sh->cfg->agg == NULL;
    uint64_t blocks = sh->file_blocks[u->file];
    w->file = u->file;
    w->path = sh->files[u->file];
    uint64_t next_block = 0; /* listing: blocks before this one are done */
    ipfix_file_reader *fr = NULL;
    ipfix_error err;
    ipfix_error_clear(&err);
    if (ipfix_file_reader_open(w->path, &fr, &err) != IPFIX_OK) {
        if (u->part == 0) problem(w, 0, &err);
        fr = NULL;
    }
    ipfix_session_config sc;
    ipfix_session_config_default(&sc, IPFIX_TRANSPORT_FILE);
    if (fr) {
        w->session = ipfix_session_new(sh->cfg->model, &sc);
        if (!w->session) {
            fail(sh, IPFIX_ERR_NOMEM, "out of memory");
            ipfix_file_reader_close(fr);
            fr = NULL;
        } else if (u->part == 0) {
            pthread_mutex_lock(&sh->lock);
            sh->file_opened[u->file] = true;
            pthread_mutex_unlock(&sh->lock);
        }
    }
    bool sized = fr && ipfix_file_reader_size(fr) > 0;
    while (fr && !atomic_load(&sh->stop)) {
        const uint8_t *msg;
        size_t length;
        uint64_t offset;
        ipfix_status st = ipfix_file_reader_next(fr, &msg, &length, &offset, &err);
        if (st == IPFIX_END) break;
        if (st != IPFIX_OK) {
            if (u->part == 0) problem(w, err.offset, &err);
            if (st == IPFIX_ERR_IO) break;
            continue;
        }
        uint64_t block = sized ? offset >> BLOCK_SHIFT : 0;
        if (block >= blocks) block = blocks - 1;
        bool own = u->parts == 1 || block % u->parts == u->part;
        if (listing) {
            for (; next_block < block; next_block++)
                if (u->parts == 1 || next_block % u->parts == u->part) take_turn(w, u->file, next_block);
        }
        if (own) process_message(w, msg, length, offset, true);
        else if (has_template_sets(msg, length)) process_message(w, msg, length, offset, false);
    }
    if (listing)
        for (; next_block < blocks; next_block++)
            if (u->parts == 1 || next_block % u->parts == u->part) take_turn(w, u->file, next_block);
    if (fr) {
        ipfix_file_reader_close(fr);
        ipfix_session_free(w->session);
        w->session = NULL;
    }
    templates_changed(w);
    if (w->matcher) ipfix_query_matcher_reset(w->matcher);
    qcache_clear(&w->times);
}

/* Splitting pays when the parts that do not own a message can skip it
 * cheaply: sample the first messages of the file and count their sets
 * (every non-owning part walks the set headers of every message). */
static bool worth_splitting(const char *path) {
    enum { SAMPLE = 256 * 1024, MAX_SETS_PER_MESSAGE = 16 };
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    uint8_t *buf = malloc(SAMPLE);
    size_t n = buf ? fread(buf, 1, SAMPLE, f) : 0;
    fclose(f);
    uint64_t messages = 0, sets = 0;
    for (size_t pos = 0; buf && pos + IPFIX_MESSAGE_HEADER_SIZE <= n;) {
        size_t length = ipfix_get_u16(buf + pos + 2);
        if (ipfix_get_u16(buf + pos) != IPFIX_VERSION || length < IPFIX_MESSAGE_HEADER_SIZE ||
            pos + length > n)
            break;
        for (size_t s = pos + IPFIX_MESSAGE_HEADER_SIZE; s + 4 <= pos + length;) {
            size_t set_length = ipfix_get_u16(buf + s + 2);
            sets++;
            if (set_length < 4) break;
            s += set_length;
        }
        messages++;
        pos += length;
    }
    free(buf);
    return messages > 0 && sets <= messages * MAX_SETS_PER_MESSAGE;
}

static void *worker_run(void *arg) {
    worker *w = arg;
    shared *sh = w->sh;
    for (;;) {
        if (atomic_load(&sh->stop)) break;
        size_t i = atomic_fetch_add(&sh->next, 1);
        if (i >= sh->unit_count) break;
        process_unit(w, i);
    }
    return NULL;
}

static void worker_free(worker *w) {
    ipfix_query_matcher_free(w->matcher);
    ipfix_query_agg_free(w->agg);
    ipfix_query_lister_free(w->lister);
    qcache_clear(&w->times);
    ipfix_buffer_free(&w->out);
}

ipfix_status ipfix_query_scan(const ipfix_query_scan_config *cfg, char *const *files,
                              size_t file_count, ipfix_query_agg **result,
                              ipfix_query_stats *stats, ipfix_error *err) {
    if (result) *result = NULL;
    memset(stats, 0, sizeof *stats);
    if (!cfg->agg && !cfg->write)
        return ipfix_error_set(err, IPFIX_ERR_INVALID_ARG, 0, "query scan", "listing needs a write callback");
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned threads = cfg->threads ? cfg->threads : (unsigned)(cpus > 0 ? cpus : 1);
    if (threads > 64) threads = 64;
    shared sh;
    memset(&sh, 0, sizeof sh);
    sh.cfg = cfg;
    sh.files = files;
    sh.file_count = file_count;
    sh.file_blocks = calloc(file_count + 1, sizeof *sh.file_blocks);
    sh.file_bad = calloc(file_count + 1, sizeof *sh.file_bad);
    sh.file_opened = calloc(file_count + 1, sizeof *sh.file_opened);
    sh.units = calloc(file_count * threads + 1, sizeof *sh.units);
    worker *ws = calloc(threads, sizeof *ws);
    ipfix_status st = IPFIX_OK;
    if (!sh.file_blocks || !sh.file_bad || !sh.file_opened || !sh.units || !ws) {
        st = ipfix_error_set(err, IPFIX_ERR_NOMEM, 0, "out of memory", NULL);
        goto done;
    }
    for (size_t f = 0; f < file_count; f++) {
        struct stat sb;
        uint64_t size = 0;
        if (strcmp(files[f], "-") != 0 && stat(files[f], &sb) == 0 && S_ISREG(sb.st_mode))
            size = (uint64_t)sb.st_size;
        uint64_t blocks = size ? ((size - 1) >> BLOCK_SHIFT) + 1 : 1;
        sh.file_blocks[f] = blocks;
        /* split only when there are fewer files than workers: every part
         * walks the set headers of the messages it does not own */
        unsigned parts = size >= SPLIT_MIN && threads > 1 && file_count < threads &&
                                 worth_splitting(files[f])
                             ? threads
                             : 1;
        if (parts > blocks) parts = (unsigned)blocks;
        for (unsigned p = 0; p < parts; p++) sh.units[sh.unit_count++] = (unit){f, p, parts};
    }
    if (threads > sh.unit_count) threads = sh.unit_count ? (unsigned)sh.unit_count : 1;
    pthread_mutex_init(&sh.lock, NULL);
    pthread_cond_init(&sh.cond, NULL);
    atomic_init(&sh.next, 0);
    atomic_init(&sh.stop, false);
    for (unsigned t = 0; t < threads; t++) {
        worker *w = &ws[t];
        w->sh = &sh;
        qcache_init(&w->times, time_plan_build, time_plan_free, NULL);
        if (cfg->filter && !ipfix_query_filter_is_any(cfg->filter)) {
            w->matcher = ipfix_query_matcher_new(cfg->filter);
            if (!w->matcher) st = IPFIX_ERR_NOMEM;
        }
        if (cfg->agg) {
            w->agg = ipfix_query_agg_new(cfg->agg);
            if (!w->agg) st = IPFIX_ERR_NOMEM;
        } else {
            w->lister = ipfix_query_lister_new(cfg->list_format, cfg->numeric);
            if (!w->lister) st = IPFIX_ERR_NOMEM;
        }
    }
    if (st != IPFIX_OK) {
        ipfix_error_set(err, st, 0, "out of memory", NULL);
        goto destroy;
    }
    unsigned started = 0;
    for (unsigned t = 1; t < threads; t++) {
        if (pthread_create(&ws[t].thread, NULL, worker_run, &ws[t]) != 0) break;
        started++;
    }
    worker_run(&ws[0]);
    for (unsigned t = 1; t <= started; t++) pthread_join(ws[t].thread, NULL);
    if (sh.failure != IPFIX_OK) {
        st = sh.failure;
        if (err) *err = sh.failure_error;
        goto destroy;
    }
    for (unsigned t = 0; t < threads; t++) {
        const ipfix_query_stats *s = &ws[t].stats;
        stats->messages += s->messages;
        stats->records += s->records;
        stats->options_records += s->options_records;
        stats->matched += s->matched;
        stats->errors += s->errors;
        if (t && cfg->agg && (st = ipfix_query_agg_merge(ws[0].agg, ws[t].agg)) != IPFIX_OK) {
            ipfix_error_set(err, st, 0, "out of memory", NULL);
            goto destroy;
        }
    }
    for (size_t f = 0; f < file_count; f++) {
        stats->files += sh.file_opened[f];
        stats->bad_files += sh.file_bad[f];
    }
    if (cfg->agg && result) {
        *result = ws[0].agg;
        ws[0].agg = NULL;
    }
destroy:
    for (unsigned t = 0; t < threads; t++) worker_free(&ws[t]);
    pthread_mutex_destroy(&sh.lock);
    pthread_cond_destroy(&sh.cond);
done:
    free(sh.file_blocks);
    free(sh.file_bad);
    free(sh.file_opened);
    free(sh.units);
    free(ws);
    return st;
}
