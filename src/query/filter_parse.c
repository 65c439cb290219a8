/*
 * filter_parse.c — lexer and recursive-descent parser of the query filter
 * language (nfdump/tcpdump-like primitives plus `ELEMENT OP VALUE` for any
 * Information Element) into the AST of query_internal.h.
 *
 * Grammar (precedence not > and > or):
 *   expr    := and ( ('or' | '||') and )*
 *   and     := unary ( ('and' | '&&') unary )*
 *   unary   := ('not' | '!') unary | '(' expr ')' | primitive
 *   primitive := 'any' | 'proto' PROTO | [dir] ('host'|'ip') ADDR
 *              | [dir] 'net' PREFIX | [dir] 'port' [OP] NUMBER
 *              | ('packets'|'bytes'|'flows'|'records') [OP] NUMBER
 *              | 'flags' LETTERS | ('in'|'out') 'if' NUMBER
 *              | 'ipv4' | 'inet' | 'ipv6' | 'inet6' | 'tos' [OP] NUMBER
 *              | ELEMENT OP VALUE
 *   dir     := 'src' | 'dst' | 'src and dst' | 'src or dst'
 *              (without it: source or destination, as 'src or dst')
 *   OP      := = == != < <= > >= eq ne lt le gt ge
 * Numbers take K/M/G suffixes (x1000). Errors carry the 1-based column.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "query/query_internal.h"

#define RULE "filter syntax"

typedef enum tok_kind { T_END, T_WORD, T_STRING, T_LP, T_RP, T_OP, T_AND, T_OR, T_NOT } tok_kind;

typedef struct token {
    tok_kind kind;
    size_t column;      /* 1-based */
    const char *start;
    size_t length;
    uint8_t cmp;        /* T_OP */
} token;

typedef struct parser {
    const ipfix_infomodel *model;
    const char *text;
    size_t pos;
    token tok;          /* current token */
    ipfix_query_filter *f;
    ipfix_error *err;
    bool failed;
} parser;

static bool is_word_char(char c) {
    return c && !isspace((unsigned char)c) && !strchr("()!=<>&|\"", c);
}

static void lex(parser *p) {
    const char *s = p->text;
    while (s[p->pos] && isspace((unsigned char)s[p->pos])) p->pos++;
    token *t = &p->tok;
    t->start = s + p->pos;
    t->column = p->pos + 1;
    t->length = 1;
    char c = s[p->pos];
    if (!c) {
        t->kind = T_END;
        t->length = 0;
        return;
    }
    char d = s[p->pos + 1];
    if (c == '(') t->kind = T_LP;
    else if (c == ')') t->kind = T_RP;
    else if (c == '!' && d == '=') t->kind = T_OP, t->cmp = QC_NE, t->length = 2;
    else if (c == '!') t->kind = T_NOT;
    else if (c == '=' && d == '=') t->kind = T_OP, t->cmp = QC_EQ, t->length = 2;
    else if (c == '=') t->kind = T_OP, t->cmp = QC_EQ;
    else if (c == '<' && d == '=') t->kind = T_OP, t->cmp = QC_LE, t->length = 2;
    else if (c == '<') t->kind = T_OP, t->cmp = QC_LT;
    else if (c == '>' && d == '=') t->kind = T_OP, t->cmp = QC_GE, t->length = 2;
    else if (c == '>') t->kind = T_OP, t->cmp = QC_GT;
    else if (c == '&' && d == '&') t->kind = T_AND, t->length = 2;
    else if (c == '|' && d == '|') t->kind = T_OR, t->length = 2;
    else if (c == '"') {
        size_t i = p->pos + 1;
        while (s[i] && s[i] != '"') i++;
        t->kind = T_STRING;
        t->length = (s[i] == '"' ? i + 1 : i) - p->pos;
    } else if (c == '&' || c == '|') {
        t->kind = T_WORD; /* reported as unexpected by the parser */
    } else {
        size_t i = p->pos;
        while (is_word_char(s[i])) i++;
        t->kind = T_WORD;
        t->length = i - p->pos;
        if (t->length == 3 && strncasecmp(t->start, "and", 3) == 0) t->kind = T_AND;
        else if (t->length == 2 && strncasecmp(t->start, "or", 2) == 0) t->kind = T_OR;
        else if (t->length == 3 && strncasecmp(t->start, "not", 3) == 0) t->kind = T_NOT;
    }
    p->pos += t->length;
}

static bool word_is(const token *t, const char *w) {
    return t->kind == T_WORD && strlen(w) == t->length && strncasecmp(t->start, w, t->length) == 0;
}

/* Describe the current token for an error message. */
static void token_text(const token *t, char *out, size_t size) {
    if (t->kind == T_END) snprintf(out, size, "end of filter");
    else snprintf(out, size, "'%.*s'", (int)(t->length > 40 ? 40 : t->length), t->start);
}

static void fail_at(parser *p, size_t column, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
static void fail_at(parser *p, size_t column, const char *format, ...) {
    if (p->failed) return;
    p->failed = true;
    char msg[112];
    va_list ap;
    va_start(ap, format);
    vsnprintf(msg, sizeof msg, format, ap);
    va_end(ap);
    ipfix_error_set(p->err, IPFIX_ERR_MALFORMED, column, RULE, "%s", msg);
}

/* "expected WHAT after 'PREV', got TOKEN" at the current token. */
static void expected(parser *p, const char *what, const char *after) {
    char got[64];
    token_text(&p->tok, got, sizeof got);
    if (after) fail_at(p, p->tok.column, "expected %s after '%s', got %s", what, after, got);
    else fail_at(p, p->tok.column, "expected %s, got %s", what, got);
}

static int new_node(parser *p, qnode_kind kind) {
    ipfix_query_filter *f = p->f;
    if (f->count == f->capacity) {
        size_t cap = f->capacity ? f->capacity * 2 : 16;
        qnode *n = realloc(f->nodes, cap * sizeof *n);
        if (!n) {
            if (!p->failed) ipfix_error_set(p->err, IPFIX_ERR_NOMEM, 0, "out of memory", NULL);
            p->failed = true;
            return -1;
        }
        f->nodes = n;
        f->capacity = cap;
    }
    qnode *n = &f->nodes[f->count];
    memset(n, 0, sizeof *n);
    n->kind = (uint8_t)kind;
    n->a = n->b = -1;
    return (int)f->count++;
}

static int binary(parser *p, qnode_kind kind, int a, int b) {
    if (a < 0 || b < 0) return -1;
    int n = new_node(p, kind);
    if (n < 0) return -1;
    p->f->nodes[n].a = a;
    p->f->nodes[n].b = b;
    return n;
}

static qpred *pred_of(parser *p, int n) { return &p->f->nodes[n].pred; }

static int new_pred(parser *p, qvalue_kind kind, qcmp cmp, const char *label) {
    int n = new_node(p, Q_PRED);
    if (n < 0) return -1;
    qpred *q = pred_of(p, n);
    q->kind = (uint8_t)kind;
    q->cmp = (uint8_t)cmp;
    q->label = strdup(label);
    if (!q->label) {
        p->failed = true;
        ipfix_error_set(p->err, IPFIX_ERR_NOMEM, 0, "out of memory", NULL);
        return -1;
    }
    return n;
}

static void add_alt(qpred *q, uint32_t pen, uint16_t id) {
    if (q->alt_count < Q_MAX_ALTS) q->alts[q->alt_count++] = (qfield_ref){pen, id};
}

/* ------------------------------------------------------------- values */

/* The current word as a C string (bounded). */
static void word_copy(const token *t, char *out, size_t size) {
    size_t n = t->length < size - 1 ? t->length : size - 1;
    memcpy(out, t->start, n);
    out[n] = 0;
}

/* Number with optional K/M/G suffix; hex 0x..; false if not a number. */
static bool parse_number(const char *s, uint64_t *out) {
    if (!*s || *s == '-' || *s == '+') return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || end == s) return false;
    uint64_t scale = 1;
    if (*end) {
        char c = (char)tolower((unsigned char)*end);
        if (c == 'k') scale = 1000;
        else if (c == 'm') scale = 1000000;
        else if (c == 'g') scale = 1000000000;
        else if (c == 't') scale = 1000000000000ull;
        else return false;
        if (end[1]) return false;
    }
    if (scale > 1 && v > UINT64_MAX / scale) return false;
    *out = (uint64_t)v * scale;
    return true;
}

/* ADDR or ADDR/LEN. */
static bool parse_address(const char *s, bool allow_prefix, uint8_t *family, uint8_t addr[16],
                          uint8_t *prefix, bool *had_prefix) {
    char buf[80];
    size_t n = strlen(s);
    if (n >= sizeof buf) return false;
    memcpy(buf, s, n + 1);
    char *slash = strchr(buf, '/');
    *had_prefix = slash != NULL;
    if (slash) {
        if (!allow_prefix) return false;
        *slash = 0;
    }
    memset(addr, 0, 16);
    if (inet_pton(AF_INET, buf, addr) == 1) *family = 4;
    else if (inet_pton(AF_INET6, buf, addr) == 1) *family = 6;
    else return false;
    unsigned max = *family == 4 ? 32 : 128;
    *prefix = (uint8_t)max;
    if (slash) {
        char *end;
        unsigned long len = strtoul(slash + 1, &end, 10);
        if (end == slash + 1 || *end || len > max) return false;
        *prefix = (uint8_t)len;
    }
    /* normalise: clear host bits */
    for (unsigned bit = *prefix; bit < max; bit++) addr[bit / 8] &= (uint8_t)~(0x80u >> (bit % 8));
    return true;
}

static bool parse_op(parser *p, uint8_t *cmp) {
    token *t = &p->tok;
    if (t->kind == T_OP) {
        *cmp = t->cmp;
        lex(p);
        return true;
    }
    static const struct { const char *w; qcmp c; } words[] = {
        {"eq", QC_EQ}, {"ne", QC_NE}, {"lt", QC_LT}, {"le", QC_LE}, {"gt", QC_GT}, {"ge", QC_GE}};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (word_is(t, words[i].w)) {
            *cmp = (uint8_t)words[i].c;
            lex(p);
            return true;
        }
    return false;
}

/* ------------------------------------------------------- primitives */

typedef enum dir { DIR_EITHER, DIR_SRC, DIR_DST, DIR_BOTH } dir;

static int address_pred(parser *p, dir d, bool net, const char *keyword) {
    char buf[80];
    if (p->tok.kind != T_WORD) {
        expected(p, net ? "PREFIX" : "ADDRESS", keyword);
        return -1;
    }
    word_copy(&p->tok, buf, sizeof buf);
    uint8_t family, addr[16], prefix;
    bool had_prefix;
    if (!parse_address(buf, net, &family, addr, &prefix, &had_prefix) || (net && !had_prefix)) {
        expected(p, net ? "PREFIX (ADDRESS/LENGTH)" : "ADDRESS", keyword);
        return -1;
    }
    char label[128];
    snprintf(label, sizeof label, "%s%s", d == DIR_SRC ? "src " : d == DIR_DST ? "dst " : "",
             keyword);
    int n = new_pred(p, family == 4 ? QV_IPV4 : QV_IPV6, QC_EQ, label);
    if (n < 0) return -1;
    qpred *q = pred_of(p, n);
    memcpy(q->v.addr, addr, 16);
    q->prefix = prefix;
    uint16_t s = family == 4 ? IPFIX_IE_SOURCE_IPV4_ADDRESS : IPFIX_IE_SOURCE_IPV6_ADDRESS;
    uint16_t t = family == 4 ? IPFIX_IE_DESTINATION_IPV4_ADDRESS : IPFIX_IE_DESTINATION_IPV6_ADDRESS;
    if (d != DIR_DST) add_alt(q, 0, s);
    if (d != DIR_SRC) add_alt(q, 0, t);
    lex(p);
    return n;
}

/* [OP] NUMBER for port/packets/bytes/...; `max` bounds the number. */
static int number_pred(parser *p, const char *keyword, const char *what, uint64_t max,
                       const char *label, uint8_t *cmp_out, uint64_t *value_out) {
    uint8_t cmp = QC_EQ;
    parse_op(p, &cmp);
    char buf[64];
    uint64_t v;
    if (p->tok.kind != T_WORD) {
        expected(p, what, keyword);
        return -1;
    }
    word_copy(&p->tok, buf, sizeof buf);
    if (!parse_number(buf, &v) || v > max) {
        expected(p, what, keyword);
        return -1;
    }
    lex(p);
    *cmp_out = cmp;
    *value_out = v;
    int n = new_pred(p, QV_UINT, (qcmp)cmp, label);
    if (n < 0) return -1;
    pred_of(p, n)->v.u64 = v;
    return n;
}

static int port_pred(parser *p, dir d) {
    uint8_t cmp;
    uint64_t v;
    const char *label = d == DIR_SRC ? "src port" : d == DIR_DST ? "dst port" : "port";
    int n = number_pred(p, "port", "PORT (0..65535)", 65535, label, &cmp, &v);
    if (n < 0) return -1;
    qpred *q = pred_of(p, n);
    if (d != DIR_DST) add_alt(q, 0, IPFIX_IE_SOURCE_TRANSPORT_PORT);
    if (d != DIR_SRC) add_alt(q, 0, IPFIX_IE_DESTINATION_TRANSPORT_PORT);
    return n;
}

/* "src and dst KEYWORD ARG": the source and the destination predicate on
 * the same argument, which is parsed twice from the same position. */
static int both_directions(parser *p, const token *kw) {
    bool address = word_is(kw, "host") || word_is(kw, "ip"), net = word_is(kw, "net");
    const char *name = word_is(kw, "ip") ? "ip" : net ? "net" : "host";
    parser at_argument = *p;
    int a = address || net ? address_pred(p, DIR_SRC, net, name) : port_pred(p, DIR_SRC);
    if (a < 0) return -1;
    parser after = *p; /* where the argument ends */
    *p = at_argument;
    int b = address || net ? address_pred(p, DIR_DST, net, name) : port_pred(p, DIR_DST);
    if (b < 0) return -1;
    if (p->pos != after.pos) return -1; /* cannot happen: the same text parsed twice */
    return binary(p, Q_AND, a, b);
}

static int flags_pred(parser *p) {
    char buf[32];
    if (p->tok.kind != T_WORD) {
        expected(p, "TCP FLAGS (letters of FSRPAUEC or X)", "flags");
        return -1;
    }
    word_copy(&p->tok, buf, sizeof buf);
    uint64_t mask = 0;
    for (const char *c = buf; *c; c++) {
        switch (toupper((unsigned char)*c)) {
        case 'F': mask |= 0x01; break;
        case 'S': mask |= 0x02; break;
        case 'R': mask |= 0x04; break;
        case 'P': mask |= 0x08; break;
        case 'A': mask |= 0x10; break;
        case 'U': mask |= 0x20; break;
        case 'E': mask |= 0x40; break;
        case 'C': mask |= 0x80; break;
        case 'X': mask |= 0x3f; break;
        default:
            expected(p, "TCP FLAGS (letters of FSRPAUEC or X)", "flags");
            return -1;
        }
    }
    lex(p);
    int n = new_pred(p, QV_FLAGS, QC_EQ, "flags");
    if (n < 0) return -1;
    pred_of(p, n)->v.u64 = mask;
    add_alt(pred_of(p, n), 0, IPFIX_IE_TCP_CONTROL_BITS);
    return n;
}

static int proto_pred(parser *p) {
    char buf[64];
    if (p->tok.kind != T_WORD) {
        expected(p, "PROTOCOL (name or number)", "proto");
        return -1;
    }
    word_copy(&p->tok, buf, sizeof buf);
    for (char *c = buf; *c; c++) *c = (char)tolower((unsigned char)*c);
    uint64_t v;
    if (!parse_number(buf, &v)) {
        if (strcmp(buf, "icmp6") == 0 || strcmp(buf, "icmpv6") == 0) strcpy(buf, "ipv6-icmp");
        if (ipfix_value_from_name(IPFIX_IE_PROTOCOL_IDENTIFIER, buf, &v) != IPFIX_OK) v = 256;
    }
    if (v > 255) {
        expected(p, "PROTOCOL (name or number)", "proto");
        return -1;
    }
    lex(p);
    int n = new_pred(p, QV_UINT, QC_EQ, "proto");
    if (n < 0) return -1;
    pred_of(p, n)->v.u64 = v;
    add_alt(pred_of(p, n), 0, IPFIX_IE_PROTOCOL_IDENTIFIER);
    return n;
}

/* VALUE typed by `e` after ELEMENT OP. */
static int element_value(parser *p, const ipfix_element *e, uint8_t cmp) {
    char buf[256];
    char what[96];
    int n;
    const char *name = e->name;
    if (p->tok.kind != T_WORD && p->tok.kind != T_STRING) {
        snprintf(what, sizeof what, "a %s VALUE", ipfix_type_name((ipfix_type)e->type));
        expected(p, what, name);
        return -1;
    }
    word_copy(&p->tok, buf, sizeof buf);
    bool quoted = p->tok.kind == T_STRING;
    if (quoted) {
        size_t len = strlen(buf);
        if (len < 2 || buf[len - 1] != '"') {
            fail_at(p, p->tok.column, "unterminated string");
            return -1;
        }
        memmove(buf, buf + 1, len - 2);
        buf[len - 2] = 0;
    }
    qvalue_kind kind;
    switch ((ipfix_type)e->type) {
    case IPFIX_TYPE_UNSIGNED8: case IPFIX_TYPE_UNSIGNED16: case IPFIX_TYPE_UNSIGNED32:
    case IPFIX_TYPE_UNSIGNED64: kind = QV_UINT; break;
    case IPFIX_TYPE_SIGNED8: case IPFIX_TYPE_SIGNED16: case IPFIX_TYPE_SIGNED32:
    case IPFIX_TYPE_SIGNED64: kind = QV_INT; break;
    case IPFIX_TYPE_FLOAT32: case IPFIX_TYPE_FLOAT64: kind = QV_FLOAT; break;
    case IPFIX_TYPE_BOOLEAN: kind = QV_UINT; break;
    case IPFIX_TYPE_MAC_ADDRESS: kind = QV_MAC; break;
    case IPFIX_TYPE_STRING: case IPFIX_TYPE_OCTET_ARRAY: kind = QV_BYTES; break;
    case IPFIX_TYPE_DATE_TIME_SECONDS: case IPFIX_TYPE_DATE_TIME_MILLISECONDS:
    case IPFIX_TYPE_DATE_TIME_MICROSECONDS: case IPFIX_TYPE_DATE_TIME_NANOSECONDS:
        kind = QV_TIME;
        break;
    case IPFIX_TYPE_IPV4_ADDRESS: kind = QV_IPV4; break;
    case IPFIX_TYPE_IPV6_ADDRESS: kind = QV_IPV6; break;
    default:
        fail_at(p, p->tok.column, "elements of type %s cannot be compared",
                ipfix_type_name((ipfix_type)e->type));
        return -1;
    }
    n = new_pred(p, kind, (qcmp)cmp, name);
    if (n < 0) return -1;
    qpred *q = pred_of(p, n);
    add_alt(q, e->pen, e->id);
    bool ok = true;
    switch (kind) {
    case QV_UINT:
        if (e->type == IPFIX_TYPE_BOOLEAN) {
            if (strcasecmp(buf, "true") == 0) q->v.u64 = 1;
            else if (strcasecmp(buf, "false") == 0) q->v.u64 = 2;
            else ok = false;
            snprintf(what, sizeof what, "true or false");
        } else if (!parse_number(buf, &q->v.u64)) {
            ok = e->pen == 0 && ipfix_value_from_name(e->id, buf, &q->v.u64) == IPFIX_OK;
            snprintf(what, sizeof what, "a NUMBER%s", ipfix_value_name(e->id, 1) || ipfix_value_name(e->id, 0) ? " or value name" : "");
        }
        break;
    case QV_INT: {
        char *end;
        errno = 0;
        long long v = strtoll(buf, &end, 0);
        ok = !errno && end != buf && !*end;
        q->v.i64 = v;
        snprintf(what, sizeof what, "a signed NUMBER");
        break;
    }
    case QV_FLOAT: {
        char *end;
        q->v.f64 = strtod(buf, &end);
        ok = end != buf && !*end;
        snprintf(what, sizeof what, "a NUMBER");
        break;
    }
    case QV_MAC: {
        unsigned m[6];
        char extra;
        ok = sscanf(buf, "%x:%x:%x:%x:%x:%x%c", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5],
                    &extra) == 6;
        for (int i = 0; i < 6 && ok; i++) {
            if (m[i] > 255) ok = false;
            q->v.mac[i] = (uint8_t)m[i];
        }
        snprintf(what, sizeof what, "a MAC ADDRESS");
        break;
    }
    case QV_BYTES: {
        size_t len = strlen(buf);
        if (e->type == IPFIX_TYPE_OCTET_ARRAY && !quoted) {
            ok = len > 2 && len % 2 == 0 && buf[0] == '0' && (buf[1] == 'x' || buf[1] == 'X');
            size_t bytes = ok ? (len - 2) / 2 : 0;
            q->v.bytes.data = malloc(bytes + 1);
            if (!q->v.bytes.data) ok = false;
            for (size_t i = 0; ok && i < bytes; i++) {
                unsigned b;
                if (!isxdigit((unsigned char)buf[2 + 2 * i]) || !isxdigit((unsigned char)buf[3 + 2 * i]) ||
                    sscanf(buf + 2 + 2 * i, "%2x", &b) != 1)
                    ok = false;
                else q->v.bytes.data[i] = (uint8_t)b;
            }
            q->v.bytes.length = bytes;
            snprintf(what, sizeof what, "0xHEX bytes or a \"string\"");
        } else {
            q->v.bytes.data = (uint8_t *)strdup(buf);
            q->v.bytes.length = len;
            ok = q->v.bytes.data != NULL;
        }
        break;
    }
    case QV_TIME: {
        int64_t ms = 0;
        ok = ipfix_query_parse_time(buf, &ms) == IPFIX_OK && ms > -9000000000000ll &&
             ms < 9000000000000ll; /* nanoseconds fit in 64 bits */
        q->v.i64 = ok ? ms * 1000000 : 0;
        snprintf(what, sizeof what, "a TIME (YYYY-MM-DDTHH:MM:SS)");
        break;
    }
    case QV_IPV4:
    case QV_IPV6: {
        uint8_t family;
        bool had;
        ok = parse_address(buf, cmp == QC_EQ || cmp == QC_NE, &family, q->v.addr, &q->prefix, &had) &&
             family == (kind == QV_IPV4 ? 4 : 6);
        snprintf(what, sizeof what, "an %s ADDRESS%s", kind == QV_IPV4 ? "IPv4" : "IPv6",
                 cmp == QC_EQ || cmp == QC_NE ? " or PREFIX" : "");
        break;
    }
    default: break;
    }
    if (!ok) {
        expected(p, what, name);
        return -1;
    }
    lex(p);
    return n;
}

static int expr(parser *p);

static int primitive(parser *p) {
    token t = p->tok;
    char word[128];
    if (t.kind != T_WORD) {
        expected(p, "a filter primitive", NULL);
        return -1;
    }
    word_copy(&t, word, sizeof word);
    lex(p);
    if (word_is(&t, "any")) return new_node(p, Q_ANY);
    if (word_is(&t, "proto")) return proto_pred(p);
    dir d = DIR_EITHER;
    const char *dir_word = NULL;
    token kw = t;
    if (word_is(&t, "src") || word_is(&t, "dst")) {
        d = word_is(&t, "src") ? DIR_SRC : DIR_DST;
        dir_word = d == DIR_SRC ? "src" : "dst";
        if (d == DIR_SRC && (p->tok.kind == T_AND || p->tok.kind == T_OR)) {
            /* nfdump's "src and dst host X" / "src or dst port N" */
            parser saved = *p;
            bool both = p->tok.kind == T_AND;
            lex(p);
            if (word_is(&p->tok, "dst")) {
                d = both ? DIR_BOTH : DIR_EITHER;
                dir_word = "dst";
                lex(p);
            } else {
                *p = saved; /* "src" followed by a binary operator: an error below */
            }
        }
        kw = p->tok;
        if (!(word_is(&kw, "host") || word_is(&kw, "ip") || word_is(&kw, "net") ||
              word_is(&kw, "port"))) {
            expected(p, "'host', 'ip', 'net' or 'port'", dir_word);
            return -1;
        }
        lex(p);
    }
    if (d == DIR_BOTH) return both_directions(p, &kw);
    if (word_is(&kw, "host") || word_is(&kw, "ip")) return address_pred(p, d, false, word_is(&kw, "ip") ? "ip" : "host");
    if (word_is(&kw, "net")) return address_pred(p, d, true, "net");
    if (word_is(&kw, "port")) return port_pred(p, d);
    uint8_t cmp;
    uint64_t v;
    if (word_is(&t, "packets") || word_is(&t, "bytes")) {
        bool pk = word_is(&t, "packets");
        int n = number_pred(p, pk ? "packets" : "bytes", "a NUMBER (K/M/G suffixes)", UINT64_MAX,
                            pk ? "packets" : "bytes", &cmp, &v);
        if (n < 0) return -1;
        add_alt(pred_of(p, n), 0, pk ? IPFIX_IE_PACKET_DELTA_COUNT : IPFIX_IE_OCTET_DELTA_COUNT);
        add_alt(pred_of(p, n), 0, pk ? 86 /* packetTotalCount */ : 85 /* octetTotalCount */);
        return n;
    }
    if (word_is(&t, "flows") || word_is(&t, "records")) {
        /* a stored flow record is one flow */
        int n = number_pred(p, word, "a NUMBER (K/M/G suffixes)", UINT64_MAX, word, &cmp, &v);
        if (n < 0) return -1;
        p->f->nodes[n].kind = q_cmp_unsigned(cmp, 1, v) ? Q_ANY : Q_NONE;
        free(pred_of(p, n)->label);
        pred_of(p, n)->label = NULL;
        return n;
    }
    if (word_is(&t, "tos")) {
        int n = number_pred(p, "tos", "a NUMBER (0..255)", 255, "tos", &cmp, &v);
        if (n >= 0) add_alt(pred_of(p, n), 0, 5 /* ipClassOfService */);
        return n;
    }
    if (word_is(&t, "flags")) return flags_pred(p);
    if (word_is(&t, "in") || word_is(&t, "out")) {
        bool in = word_is(&t, "in");
        if (!word_is(&p->tok, "if")) {
            expected(p, "'if'", in ? "in" : "out");
            return -1;
        }
        lex(p);
        int n = number_pred(p, "if", "an INTERFACE NUMBER", UINT32_MAX, in ? "in if" : "out if",
                            &cmp, &v);
        if (n >= 0) add_alt(pred_of(p, n), 0, in ? 10 /* ingressInterface */ : 14 /* egressInterface */);
        return n;
    }
    if (word_is(&t, "ipv4") || word_is(&t, "inet") || word_is(&t, "ipv6") || word_is(&t, "inet6")) {
        bool v6 = word_is(&t, "ipv6") || word_is(&t, "inet6");
        int n = new_pred(p, QV_HAS, QC_EQ, v6 ? "ipv6" : "ipv4");
        if (n < 0) return -1;
        add_alt(pred_of(p, n), 0, v6 ? IPFIX_IE_SOURCE_IPV6_ADDRESS : IPFIX_IE_SOURCE_IPV4_ADDRESS);
        add_alt(pred_of(p, n), 0, v6 ? IPFIX_IE_DESTINATION_IPV6_ADDRESS : IPFIX_IE_DESTINATION_IPV4_ADDRESS);
        return n;
    }
    const ipfix_element *e = ipfix_infomodel_find_by_name(p->model, word);
    if (!e) {
        char got[64];
        token_text(&t, got, sizeof got);
        fail_at(p, t.column, "expected a filter primitive or element name, got %s", got);
        return -1;
    }
    if (!parse_op(p, &cmp)) {
        expected(p, "a comparison operator (= == != < <= > >=)", e->name);
        return -1;
    }
    return element_value(p, e, cmp);
}

static int unary(parser *p) {
    if (p->failed) return -1;
    if (p->tok.kind == T_NOT) {
        lex(p);
        int a = unary(p);
        if (a < 0) return -1;
        int n = new_node(p, Q_NOT);
        if (n >= 0) p->f->nodes[n].a = a;
        return n;
    }
    if (p->tok.kind == T_LP) {
        token open = p->tok;
        lex(p);
        int n = expr(p);
        if (n < 0) return -1;
        if (p->tok.kind != T_RP) {
            char got[64];
            token_text(&p->tok, got, sizeof got);
            fail_at(p, p->tok.column, "expected ')' to close '(' at column %zu, got %s",
                    open.column, got);
            return -1;
        }
        lex(p);
        return n;
    }
    return primitive(p);
}

static int and_expr(parser *p) {
    int a = unary(p);
    while (a >= 0 && p->tok.kind == T_AND) {
        lex(p);
        a = binary(p, Q_AND, a, unary(p));
    }
    return a;
}

static int expr(parser *p) {
    int a = and_expr(p);
    while (a >= 0 && p->tok.kind == T_OR) {
        lex(p);
        a = binary(p, Q_OR, a, and_expr(p));
    }
    return a;
}

ipfix_status ipfix_query_filter_parse(const ipfix_infomodel *model, const char *text,
                                      ipfix_query_filter **out, ipfix_error *err) {
    *out = NULL;
    ipfix_query_filter *f = calloc(1, sizeof *f);
    if (!f) return ipfix_error_set(err, IPFIX_ERR_NOMEM, 0, "out of memory", NULL);
    f->model = model;
    parser p = {.model = model, .text = text ? text : "", .f = f, .err = err};
    lex(&p);
    if (p.tok.kind == T_END) {
        f->root = new_node(&p, Q_ANY);
    } else {
        f->root = expr(&p);
        if (f->root >= 0 && p.tok.kind != T_END) {
            char got[64];
            token_text(&p.tok, got, sizeof got);
            fail_at(&p, p.tok.column, "expected 'and', 'or' or end of filter, got %s", got);
        }
    }
    if (p.failed || f->root < 0) {
        if (!p.failed) ipfix_error_set(err, IPFIX_ERR_MALFORMED, 1, RULE, "invalid filter");
        ipfix_status st = err ? err->status : IPFIX_ERR_MALFORMED;
        ipfix_query_filter_free(f);
        return st ? st : IPFIX_ERR_MALFORMED;
    }
    *out = f;
    return IPFIX_OK;
}

void ipfix_query_filter_free(ipfix_query_filter *f) {
    if (!f) return;
    for (size_t i = 0; i < f->count; i++) {
        if (f->nodes[i].kind == Q_PRED || f->nodes[i].pred.label) {
            free(f->nodes[i].pred.label);
            if (f->nodes[i].pred.kind == QV_BYTES) free(f->nodes[i].pred.v.bytes.data);
        }
    }
    free(f->nodes);
    free(f);
}

bool ipfix_query_filter_is_any(const ipfix_query_filter *f) {
    return !f || f->nodes[f->root].kind == Q_ANY;
}

/* ------------------------------------------------------------- format */

typedef struct fmt {
    char *out;
    size_t size, length;
} fmt;

static void put(fmt *o, const char *format, ...) __attribute__((format(printf, 2, 3)));
static void put(fmt *o, const char *format, ...) {
    va_list ap;
    va_start(ap, format);
    size_t room = o->length < o->size ? o->size - o->length : 0;
    int n = vsnprintf(room ? o->out + o->length : NULL, room, format, ap);
    va_end(ap);
    if (n > 0) o->length += (size_t)n;
}

static const char *cmp_name(uint8_t c) {
    static const char *names[] = {"=", "!=", "<", "<=", ">", ">="};
    return c < 6 ? names[c] : "?";
}

static void format_node(const ipfix_query_filter *f, int i, fmt *o) {
    const qnode *n = &f->nodes[i];
    switch ((qnode_kind)n->kind) {
    case Q_ANY: put(o, "any"); return;
    case Q_NONE: put(o, "none"); return;
    case Q_NOT:
        put(o, "(not ");
        format_node(f, n->a, o);
        put(o, ")");
        return;
    case Q_AND:
    case Q_OR:
        put(o, "(%s ", n->kind == Q_AND ? "and" : "or");
        format_node(f, n->a, o);
        put(o, " ");
        format_node(f, n->b, o);
        put(o, ")");
        return;
    case Q_PRED: break;
    }
    const qpred *q = &n->pred;
    put(o, "(%s ", q->kind == QV_FLAGS ? "&" : q->kind == QV_HAS ? "has" : cmp_name(q->cmp));
    for (unsigned k = 0; k < q->alt_count; k++) {
        const ipfix_element *e = ipfix_infomodel_find(f->model, q->alts[k].pen, q->alts[k].id);
        if (k) put(o, "|");
        if (e) put(o, "%s", e->name);
        else put(o, "%u:%u", (unsigned)q->alts[k].pen, (unsigned)q->alts[k].id);
    }
    char a[64];
    switch ((qvalue_kind)q->kind) {
    case QV_UINT: put(o, " %llu)", (unsigned long long)q->v.u64); break;
    case QV_FLAGS: put(o, " 0x%02llx)", (unsigned long long)q->v.u64); break;
    case QV_INT: put(o, " %lld)", (long long)q->v.i64); break;
    case QV_TIME: put(o, " %lldns)", (long long)q->v.i64); break;
    case QV_FLOAT: put(o, " %g)", q->v.f64); break;
    case QV_IPV4:
        inet_ntop(AF_INET, q->v.addr, a, sizeof a);
        put(o, " %s/%u)", a, q->prefix);
        break;
    case QV_IPV6:
        inet_ntop(AF_INET6, q->v.addr, a, sizeof a);
        put(o, " %s/%u)", a, q->prefix);
        break;
    case QV_MAC:
        put(o, " %02x:%02x:%02x:%02x:%02x:%02x)", q->v.mac[0], q->v.mac[1], q->v.mac[2],
            q->v.mac[3], q->v.mac[4], q->v.mac[5]);
        break;
    case QV_BYTES: put(o, " \"%.*s\")", (int)q->v.bytes.length, (const char *)q->v.bytes.data); break;
    case QV_HAS: put(o, ")"); break;
    }
}

size_t ipfix_query_filter_format(const ipfix_query_filter *f, char *out, size_t size) {
    fmt o = {out, size, 0};
    if (size) out[0] = 0;
    if (!f) put(&o, "any");
    else format_node(f, f->root, &o);
    if (size) out[o.length < size ? o.length : size - 1] = 0;
    return o.length;
}
