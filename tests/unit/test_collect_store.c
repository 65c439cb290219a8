/*
 * test_collect_store.c — the collector's store (src/collect/store.c) and
 * allow-list prefixes (src/collect/prefix.c), without sockets:
 *   - file names sort by time and carry the worker;
 *   - two exporters with the same ODID and Template ID but different
 *     layouts land in one file under distinct file-local ODIDs and
 *     file-unique Template IDs, each preceded by its templates and an
 *     exporter-map options record; the file decodes with 0 errors and every
 *     record comes back byte for byte under the right exporter;
 *   - a data set marked as skipped (unknown template) is left out;
 *   - nothing is visible under the final name before the file is closed;
 *   - prefixes parse and match (IPv4, IPv6, IPv4-mapped).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "collect/store.h"
#include "ipfixkit/collect.h"
#include "ipfixkit/file.h"
#include "ipfixkit/ipfixkit.h"

static void test_file_name(void **state) {
    (void)state;
    char a[128], b[128];
    assert_true(collect_store_file_name(a, sizeof a, 1795352700, "w0") > 0); /* 2026-11-22 13:05 */
    assert_string_equal(a, "2026/11/22/ipfix-20261122130500-w0.ipfix");
    assert_true(collect_store_file_name(b, sizeof b, 1795352701, "w1") > 0);
    assert_true(strcmp(a, b) < 0);
    assert_int_equal(collect_store_file_name(a, 10, 1795352700, "w0"), 0);
}

/* --- messages built with the core writer --- */

typedef struct capture {
    uint8_t data[8][2048];
    size_t length[8];
    int count;
} capture;

static ipfix_status capture_sink(void *context, const uint8_t *message, size_t length) {
    capture *c = context;
    assert_true(c->count < 8 && length <= sizeof c->data[0]);
    memcpy(c->data[c->count], message, length);
    c->length[c->count++] = length;
    return IPFIX_OK;
}

/* One exporter: template 256 (layout by `wide`) and 3 records in ODID 7. */
static void build(const ipfix_infomodel *model, bool wide, capture *out) {
    static const ipfix_field_spec narrow_specs[] = {{0, 8, 4}, {0, 2, 4}};
    static const ipfix_field_spec wide_specs[] = {{0, 1, 8}, {0, 8, 4}, {0, 2, 8}};
    ipfix_template *t;
    ipfix_error err;
    assert_int_equal(ipfix_template_new(model, 256, 0, wide ? wide_specs : narrow_specs,
                                        wide ? 3 : 2, &t, &err),
                     IPFIX_OK);
    ipfix_writer_config wc = {.max_message_size = 1400, .observation_domain_id = 7};
    memset(out, 0, sizeof *out);
    ipfix_writer *w = ipfix_writer_new(&wc, capture_sink, out);
    assert_non_null(w);
    assert_int_equal(ipfix_writer_add_template(w, t), IPFIX_OK);
    for (uint8_t i = 0; i < 3; i++) {
        uint8_t r[20] = {0};
        size_t n = wide ? 20 : 8;
        r[n - 1] = (uint8_t)(wide ? 0xA0 + i : 0x10 + i);
        assert_int_equal(ipfix_writer_add_record(w, t, r, n), IPFIX_OK);
    }
    assert_int_equal(ipfix_writer_flush(w), IPFIX_OK);
    ipfix_writer_free(w);
    ipfix_template_unref(t);
    assert_int_equal(out->count, 1);
}

/* Let the session learn the message's templates, as the collector does. */
static void decode(ipfix_session *s, const uint8_t *m, size_t n) {
    ipfix_reader r;
    ipfix_error err;
    assert_int_equal(ipfix_reader_begin(&r, s, m, n, 0, &err), IPFIX_OK);
    ipfix_event ev;
    while (ipfix_reader_next(&r, &ev) == IPFIX_OK) {}
}

static void test_two_exporters_one_file(void **state) {
    (void)state;
    char dir[] = "/tmp/test_collect_store.XXXXXX";
    assert_non_null(mkdtemp(dir));
    ipfix_infomodel *model = ipfix_infomodel_new();
    assert_non_null(model);
    ipfix_session_config sc;
    ipfix_session_config_default(&sc, IPFIX_TRANSPORT_UDP);
    ipfix_session *s1 = ipfix_session_new(model, &sc), *s2 = ipfix_session_new(model, &sc);
    capture m1, m2;
    build(model, false, &m1);
    build(model, true, &m2);
    decode(s1, m1.data[0], m1.length[0]);
    decode(s2, m2.data[0], m2.length[0]);

    collect_store *st = collect_store_new(dir, 300, "w3", false, false, NULL);
    assert_non_null(st);
    collect_store_domain d1, d2;
    memset(&d1, 0, sizeof d1);
    memset(&d2, 0, sizeof d2);
    collect_store_origin o1 = {.family = 4, .address = {192, 0, 2, 1}, .port = 1001,
                               .protocol = 17, .odid = 7, .session = s1};
    collect_store_origin o2 = {.family = 6, .address = {0x20, 0x01, 0x0d, 0xb8, [15] = 2},
                               .port = 2002, .protocol = 6, .odid = 7, .session = s2};
    struct timespec now = {1795352700, 0};
    ipfix_error err;
    assert_int_equal(collect_store_message(st, &d1, &o1, m1.data[0], m1.length[0], NULL, 0, &now, &err), IPFIX_OK);
    assert_int_equal(collect_store_message(st, &d2, &o2, m2.data[0], m2.length[0], NULL, 0, &now, &err), IPFIX_OK);
    /* The same message again with its data set marked as skipped: only the
     * template set is stored. The data set starts after the template set. */
    size_t tset = (size_t)(m1.data[0][18] << 8 | m1.data[0][19]);
    size_t dset = 16 + tset;
    collect_store_skip skip = {(uint32_t)dset, (uint32_t)(m1.data[0][dset + 2] << 8 | m1.data[0][dset + 3])};
    assert_int_equal(collect_store_message(st, &d1, &o1, m1.data[0], m1.length[0], &skip, 1, &now, &err), IPFIX_OK);
    assert_int_not_equal(d1.local_odid, d2.local_odid);

    char path[512], name[128];
    collect_store_file_name(name, sizeof name, now.tv_sec, "w3");
    snprintf(path, sizeof path, "%s/%s", dir, name);
    struct stat sb;
    assert_int_not_equal(stat(path, &sb), 0); /* not visible before close */
    assert_int_equal(collect_store_rotate(st, &now, true, &err), IPFIX_OK);
    assert_string_equal(collect_store_last_path(st), path);
    assert_int_equal(stat(path, &sb), 0);

    /* Read it back. */
    ipfix_file_reader *fr;
    assert_int_equal(ipfix_file_reader_open(path, &fr, &err), IPFIX_OK);
    ipfix_session_config fc;
    ipfix_session_config_default(&fc, IPFIX_TRANSPORT_FILE);
    ipfix_session *fs = ipfix_session_new(model, &fc);
    const uint8_t *msg;
    size_t len;
    uint64_t off;
    int maps = 0, records[3] = {0}, errors = 0;
    uint32_t map_port[3] = {0};
    uint16_t tid[3] = {0};
    while (ipfix_file_reader_next(fr, &msg, &len, &off, &err) == IPFIX_OK) {
        ipfix_reader r;
        assert_int_equal(ipfix_reader_begin(&r, fs, msg, len, 0, &err), IPFIX_OK);
        ipfix_event ev;
        while (ipfix_reader_next(&r, &ev) == IPFIX_OK) {
            if (ev.kind == IPFIX_EVENT_ERROR || ev.kind == IPFIX_EVENT_MISSING_TEMPLATE) errors++;
            if (ev.kind != IPFIX_EVENT_RECORD) continue;
            const ipfix_record *rec = &ev.u.record;
            if (ev.odid == COLLECT_STORE_META_ODID) {
                uint32_t local = (uint32_t)rec->data[0] << 24 | rec->data[1] << 16 | rec->data[2] << 8 | rec->data[3];
                size_t addr = rec->tmpl->id == COLLECT_STORE_MAP_V6_TEMPLATE ? 16 : 4;
                assert_true(local == 1 || local == 2);
                map_port[local] = (uint32_t)(rec->data[4 + addr] << 8 | rec->data[5 + addr]);
                maps++;
                continue;
            }
            assert_true(ev.odid == 1 || ev.odid == 2);
            records[ev.odid]++;
            tid[ev.odid] = rec->tmpl->id;
            /* the last byte carries the exporter's marker */
            uint8_t last = rec->data[rec->length - 1];
            if (ev.odid == d1.local_odid) assert_true(rec->length == 8 && last >= 0x10 && last < 0x13);
            else assert_true(rec->length == 20 && last >= 0xA0 && last < 0xA3);
        }
    }
    assert_int_equal(errors, 0);
    assert_int_equal(maps, 2);
    assert_int_equal(map_port[d1.local_odid], 1001);
    assert_int_equal(map_port[d2.local_odid], 2002);
    assert_int_equal(records[d1.local_odid], 3); /* the skipped copy added none */
    assert_int_equal(records[d2.local_odid], 3);
    assert_int_not_equal(tid[1], tid[2]);        /* file-unique Template IDs */
    ipfix_file_reader_close(fr);
    ipfix_session_free(fs);

    assert_int_equal(collect_store_free(st, &err), IPFIX_OK);
    collect_store_domain_release(&d1);
    collect_store_domain_release(&d2);
    ipfix_session_free(s1);
    ipfix_session_free(s2);
    ipfix_infomodel_free(model);
    unlink(path);
}

/* The closer thread completes files in order, and a file it cannot
 * complete is logged, counted and its temporary file removed. */
static unsigned closer_log_lines;
static void count_log(void *context, ipfix_log_level level, const char *line) {
    (void)context;
    (void)line;
    if (level == IPFIX_LOG_ERROR) closer_log_lines++;
}

static void test_closer(void **state) {
    (void)state;
    char dir[] = "/tmp/test_closer.XXXXXX";
    assert_non_null(mkdtemp(dir));
    collect_store_closer *c = collect_store_closer_new(count_log, NULL);
    assert_non_null(c);
    char temp[256], final[256];
    for (int i = 0; i < 20; i++) {
        snprintf(temp, sizeof temp, "%s/.f%d.tmp", dir, i);
        snprintf(final, sizeof final, "%s/f%d.ipfix", dir, i);
        int fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, "abc", 3), 3);
        assert_int_equal(collect_store_closer_submit(c, fd, temp, final, i % 2 == 0), IPFIX_OK);
    }
    /* one that cannot be renamed: its target directory does not exist */
    snprintf(temp, sizeof temp, "%s/.bad.tmp", dir);
    snprintf(final, sizeof final, "%s/missing/bad.ipfix", dir);
    int fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(collect_store_closer_submit(c, fd, temp, final, true), IPFIX_OK);
    collect_store_closer_drain(c);
    uint64_t files, errors;
    collect_store_closer_get_stats(c, &files, &errors);
    assert_int_equal(files, 20);
    assert_int_equal(errors, 1);
    assert_int_equal(closer_log_lines, 1);
    struct stat sb;
    for (int i = 0; i < 20; i++) {
        snprintf(final, sizeof final, "%s/f%d.ipfix", dir, i);
        assert_int_equal(stat(final, &sb), 0);
        assert_int_equal(sb.st_size, 3);
        unlink(final);
    }
    assert_int_equal(stat(temp, &sb), -1); /* removed */
    collect_store_closer_free(c);
    assert_int_equal(rmdir(dir), 0);
}

static void test_prefix(void **state) {
    (void)state;
    ipfix_prefix p;
    ipfix_error err;
    static const uint8_t a[4] = {192, 0, 2, 77}, b[4] = {192, 0, 3, 1};
    static const uint8_t mapped[16] = {[10] = 0xff, [11] = 0xff, 192, 0, 2, 9};
    static const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
    assert_int_equal(ipfix_prefix_parse("192.0.2.0/24", &p, &err), IPFIX_OK);
    assert_true(ipfix_prefix_match(&p, 4, a));
    assert_false(ipfix_prefix_match(&p, 4, b));
    assert_true(ipfix_prefix_match(&p, 6, mapped));
    assert_false(ipfix_prefix_match(&p, 6, v6));
    assert_int_equal(ipfix_prefix_parse("2001:db8::/32", &p, &err), IPFIX_OK);
    assert_true(ipfix_prefix_match(&p, 6, v6));
    assert_false(ipfix_prefix_match(&p, 4, a));
    assert_int_equal(ipfix_prefix_parse("192.0.2.77", &p, &err), IPFIX_OK);
    assert_int_equal(p.length, 32);
    assert_true(ipfix_prefix_match(&p, 4, a));
    assert_int_equal(ipfix_prefix_parse("192.0.2.0/33", &p, &err), IPFIX_ERR_INVALID_ARG);
    assert_int_equal(ipfix_prefix_parse("nonsense/8", &p, &err), IPFIX_ERR_INVALID_ARG);
    assert_int_equal(ipfix_prefix_parse("10.0.0.0/", &p, &err), IPFIX_ERR_INVALID_ARG);
    assert_int_equal(ipfix_prefix_parse("10.1.0.0/12", &p, &err), IPFIX_OK);
    static const uint8_t c[4] = {10, 15, 255, 255}, d[4] = {10, 16, 0, 0};
    assert_true(ipfix_prefix_match(&p, 4, c));
    assert_false(ipfix_prefix_match(&p, 4, d));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_name),
        cmocka_unit_test(test_two_exporters_one_file),
        cmocka_unit_test(test_closer),
        cmocka_unit_test(test_prefix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
