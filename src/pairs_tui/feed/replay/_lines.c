/* The NDJSON replay's fast path: Binance trade frames, a block of lines at a time, straight
 * into columns. (And, at the end of this file, the live read loop's: one frame at a time,
 * trade_frame.)
 *
 * A line is read here only when it is exactly what the replay's typed msgspec decoder would
 * accept as a market trade of the file's kind, and only in the plainest spelling of it: ASCII
 * strings without escapes, no nested values besides the frame's ``data``, every key once,
 * numbers without exponents (the Struct decoder's result for those is the correctly rounded
 * double, which this computes too). Any other line, valid or not, is *refused*: its position
 * is handed back and the Python reader reads it exactly as before. So this module decides
 * nothing the Python path would decide differently; it only spares the common line the Python
 * objects of a decode (tests/feed/replay/test_lines.py holds the two equal).
 *
 * scan(block, enveloped, agg, prefixed) -> (rows, time, price, qty, maker, id, symbol, at,
 *                                           symbols, refused)
 *
 *   block      the lines, separated by b"\n" (no newline after the last)
 *   enveloped  frames are {"stream":…,"data":{…}} (else bare payloads)
 *   agg        the file's kind is aggTrade (id "a"); else trade (id "t", "X":"MARKET")
 *   prefixed   a cryptofeed receive-time prefix precedes each frame: read from the first "{"
 *
 *   rows       lines read
 *   time…id    bytes: int64 T, float64 p, float64 q, uint8 m, int64 id; one item a row
 *   symbol     bytes: uint8, an index into ``symbols`` a row
 *   at         bytes: int64, the row's line within the block (0-based)
 *   symbols    list[str]: the symbols as spelled in the file, in order of first appearance
 *   refused    list[tuple[int, int, int]]: (line, start, end) of every line not read
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <string.h>

#define MAX_SYMBOLS 255
#define MAX_SYMBOL_LEN 31
#define MAX_NUMBER_LEN 40

typedef struct {
    const char *p;
    const char *end;
} Cursor;

typedef struct {
    int64_t time;
    int64_t id;
    double price;
    double qty;
    int maker;
    const char *symbol;
    Py_ssize_t symbol_len;
} Row;

enum {
    SEEN_E = 1 << 0,
    SEEN_T = 1 << 1,
    SEEN_S = 1 << 2,
    SEEN_P = 1 << 3,
    SEEN_Q = 1 << 4,
    SEEN_M = 1 << 5,
    SEEN_ID = 1 << 6,
    SEEN_X = 1 << 7,
};

static const double POW10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                               1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                               1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static inline void skip_ws(Cursor *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\r' || *c->p == '\n')) {
        c->p++;
    }
}

static inline int is_digit(char ch) { return ch >= '0' && ch <= '9'; }

/* The next non-blank byte is ``ch``: consume it. */
static inline int take(Cursor *c, char ch) {
    skip_ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

/* Bytes a plain string holds as they are: printable ASCII but the quote and the backslash. */
static unsigned char PLAIN[256];

static void init_plain(void) {
    for (int ch = 0x20; ch < 0x80; ch++) {
        PLAIN[ch] = ch != '"' && ch != '\\';
    }
}

/* A string of printable ASCII without escapes: its content is [*s, *s + *n). */
static inline __attribute__((always_inline)) int string(Cursor *c, const char **s, Py_ssize_t *n) {
    skip_ws(c);
    if (c->p >= c->end || *c->p != '"') {
        return 0;
    }
    const char *q = c->p + 1;
    while (q < c->end && PLAIN[(unsigned char)*q]) {
        q++;
    }
    if (q >= c->end || *q != '"') {
        return 0; /* an escape, a control or non-ASCII byte, or no closing quote */
    }
    *s = c->p + 1;
    *n = q - (c->p + 1);
    c->p = q + 1;
    return 1;
}

/* A JSON number (RFC 8259's grammar) at [p, end): the byte after it, or NULL. ``plain`` is
 * set when it has no sign and no exponent. */
static const char *number_end(const char *p, const char *end, int *plain) {
    *plain = 1;
    if (p < end && *p == '-') {
        *plain = 0;
        p++;
    }
    if (p >= end) {
        return NULL;
    }
    if (*p == '0') {
        p++;
    } else if (*p >= '1' && *p <= '9') {
        while (p < end && is_digit(*p)) {
            p++;
        }
    } else {
        return NULL;
    }
    if (p < end && *p == '.') {
        p++;
        if (p >= end || !is_digit(*p)) {
            return NULL;
        }
        while (p < end && is_digit(*p)) {
            p++;
        }
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        *plain = 0;
        p++;
        if (p < end && (*p == '+' || *p == '-')) {
            p++;
        }
        if (p >= end || !is_digit(*p)) {
            return NULL;
        }
        while (p < end && is_digit(*p)) {
            p++;
        }
    }
    return p;
}

/* A JSON integer without fraction or exponent, at most 18 digits (no overflow). */
static inline __attribute__((always_inline)) int integer(Cursor *c, int64_t *out) {
    skip_ws(c);
    const char *p = c->p;
    int negative = 0;
    if (p < c->end && *p == '-') {
        negative = 1;
        p++;
    }
    if (p >= c->end || !is_digit(*p) || (*p == '0' && p + 1 < c->end && is_digit(p[1]))) {
        return 0;
    }
    int64_t value = 0;
    const char *start = p;
    while (p < c->end && is_digit(*p)) {
        value = value * 10 + (*p - '0');
        p++;
    }
    if (p - start > 18 || (p < c->end && (*p == '.' || *p == 'e' || *p == 'E'))) {
        return 0;
    }
    *out = negative ? -value : value;
    c->p = p;
    return 1;
}

/* Digits with an optional fraction, no sign, no exponent, as a double.
 *
 * Up to 15 significant digits (an integer a double holds exactly) and 22 decimals, the quotient
 * of two exact doubles is correctly rounded by IEEE division (Clinger's fast path); anything
 * longer goes through Python's own correctly rounded conversion. Either way the result is the
 * correctly rounded double, which is what msgspec's decoder gives. */
static inline __attribute__((always_inline)) int decimal(const char *s, Py_ssize_t n, double *out) {
    int plain;
    if (n == 0 || n > MAX_NUMBER_LEN || number_end(s, s + n, &plain) != s + n || !plain) {
        return 0;
    }
    uint64_t mantissa = 0;
    int digits = 0, decimals = 0, after_point = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (s[i] == '.') {
            after_point = 1;
            continue;
        }
        if (digits || s[i] != '0') {
            digits++;
        }
        mantissa = mantissa * 10 + (uint64_t)(s[i] - '0');
        decimals += after_point;
        if (digits > 15) {
            break;
        }
    }
    if (digits <= 15 && decimals <= 22) {
        *out = (double)mantissa / POW10[decimals];
        return 1;
    }
    char text[MAX_NUMBER_LEN + 1];
    memcpy(text, s, (size_t)n);
    text[n] = '\0';
    char *stop = NULL;
    double value = PyOS_string_to_double(text, &stop, NULL);
    if (value == -1.0 && PyErr_Occurred()) {
        PyErr_Clear();
        return 0;
    }
    if (stop != text + n) {
        return 0;
    }
    *out = value;
    return 1;
}

/* A float field: a decimal as a string (Binance's spelling) or as a bare number. */
static inline __attribute__((always_inline)) int amount(Cursor *c, double *out) {
    skip_ws(c);
    const char *s;
    Py_ssize_t n;
    if (c->p < c->end && *c->p == '"') {
        return string(c, &s, &n) && decimal(s, n, out);
    }
    int plain;
    const char *stop = number_end(c->p, c->end, &plain);
    if (stop == NULL || !plain || !decimal(c->p, stop - c->p, out)) {
        return 0;
    }
    c->p = stop;
    return 1;
}

static int literal(Cursor *c, const char *word, Py_ssize_t n) {
    skip_ws(c);
    if (c->end - c->p >= n && memcmp(c->p, word, (size_t)n) == 0) {
        c->p += n;
        return 1;
    }
    return 0;
}

/* A value the reader does not use: a string, number, true, false or null. Objects and
 * arrays are refused (no trade payload has one). */
static int skip_value(Cursor *c) {
    skip_ws(c);
    if (c->p >= c->end) {
        return 0;
    }
    const char *s;
    Py_ssize_t n;
    int plain;
    switch (*c->p) {
        case '"':
            return string(c, &s, &n);
        case 't':
            return literal(c, "true", 4);
        case 'f':
            return literal(c, "false", 5);
        case 'n':
            return literal(c, "null", 4);
        default: {
            const char *stop = number_end(c->p, c->end, &plain);
            if (stop == NULL) {
                return 0;
            }
            c->p = stop;
            return 1;
        }
    }
}

static inline int is(const char *s, Py_ssize_t n, const char *word) {
    return (Py_ssize_t)strlen(word) == n && memcmp(s, word, (size_t)n) == 0;
}

/* A key the payload's Struct reads, once each: the bit it sets, or 0 for a key it ignores. */
static unsigned field_bit(const char *key, Py_ssize_t n, int agg) {
    if (n != 1) {
        return 0;
    }
    switch (key[0]) {
        case 'e':
            return SEEN_E;
        case 'T':
            return SEEN_T;
        case 's':
            return SEEN_S;
        case 'p':
            return SEEN_P;
        case 'q':
            return SEEN_Q;
        case 'm':
            return SEEN_M;
        case 'a':
            return agg ? SEEN_ID : 0;
        case 't':
            return agg ? 0 : SEEN_ID;
        case 'X':
            return agg ? 0 : SEEN_X;
        default:
            return 0;
    }
}

static int payload(Cursor *c, int agg, Row *row) {
    if (!take(c, '{')) {
        return 0;
    }
    unsigned seen = 0;
    const unsigned needed = SEEN_E | SEEN_T | SEEN_S | SEEN_P | SEEN_Q | SEEN_M | SEEN_ID |
                            (agg ? 0u : (unsigned)SEEN_X);
    do {
        const char *key, *s;
        Py_ssize_t n, sn;
        if (!string(c, &key, &n) || !take(c, ':')) {
            return 0;
        }
        unsigned bit = field_bit(key, n, agg);
        if (bit & seen) {
            return 0; /* a key twice: the Python path decides */
        }
        seen |= bit;
        int ok;
        switch (bit) {
            case SEEN_E:
                ok = string(c, &s, &sn) && is(s, sn, agg ? "aggTrade" : "trade");
                break;
            case SEEN_T:
                ok = integer(c, &row->time);
                break;
            case SEEN_S:
                ok = string(c, &row->symbol, &row->symbol_len);
                break;
            case SEEN_P:
                ok = amount(c, &row->price);
                break;
            case SEEN_Q:
                ok = amount(c, &row->qty);
                break;
            case SEEN_M:
                if (literal(c, "true", 4)) {
                    row->maker = 1;
                    ok = 1;
                } else {
                    row->maker = 0;
                    ok = literal(c, "false", 5);
                }
                break;
            case SEEN_ID:
                ok = integer(c, &row->id);
                break;
            case SEEN_X:
                ok = string(c, &s, &sn) && is(s, sn, "MARKET");
                break;
            default:
                ok = skip_value(c);
        }
        if (!ok) {
            return 0;
        }
    } while (take(c, ','));
    return take(c, '}') && seen == needed;
}

static int frame(Cursor *c, int agg, Row *row) {
    if (!take(c, '{')) {
        return 0;
    }
    int has_data = 0;
    do {
        const char *key;
        Py_ssize_t n;
        if (!string(c, &key, &n) || !take(c, ':')) {
            return 0;
        }
        if (is(key, n, "data")) {
            if (has_data || !payload(c, agg, row)) {
                return 0;
            }
            has_data = 1;
        } else if (!skip_value(c)) {
            return 0;
        }
    } while (take(c, ','));
    return take(c, '}') && has_data;
}

static int read_line(const char *p, const char *end, int enveloped, int agg, int prefixed,
                     Row *row) {
    if (prefixed) {
        p = memchr(p, '{', (size_t)(end - p));
        if (p == NULL) {
            return 0;
        }
    }
    Cursor c = {p, end};
    if (!(enveloped ? frame(&c, agg, row) : payload(&c, agg, row))) {
        return 0;
    }
    skip_ws(&c);
    return c.p == end;
}

typedef struct {
    char text[MAX_SYMBOL_LEN];
    Py_ssize_t len;
} Symbol;

/* The symbol's index, added when new; -1 when the table is full or the name too long. */
static int symbol_index(Symbol *table, int *count, int *last, const char *s, Py_ssize_t n) {
    if (*last >= 0 && table[*last].len == n && memcmp(table[*last].text, s, (size_t)n) == 0) {
        return *last;
    }
    for (int i = 0; i < *count; i++) {
        if (table[i].len == n && memcmp(table[i].text, s, (size_t)n) == 0) {
            *last = i;
            return i;
        }
    }
    if (*count == MAX_SYMBOLS || n > MAX_SYMBOL_LEN) {
        return -1;
    }
    memcpy(table[*count].text, s, (size_t)n);
    table[*count].len = n;
    *last = (*count)++;
    return *last;
}

static PyObject *scan(PyObject *module, PyObject *args) {
    (void)module;
    Py_buffer view;
    int enveloped, agg, prefixed;
    if (!PyArg_ParseTuple(args, "y*ppp", &view, &enveloped, &agg, &prefixed)) {
        return NULL;
    }
    const char *data = view.buf;
    const char *end = data + view.len;
    Py_ssize_t lines = 1;
    for (const char *p = data; (p = memchr(p, '\n', (size_t)(end - p))) != NULL; p++) {
        lines++;
    }
    PyObject *result = NULL, *refused = PyList_New(0), *symbols = NULL;
    int64_t *time = PyMem_Malloc(sizeof(int64_t) * (size_t)lines);
    int64_t *id = PyMem_Malloc(sizeof(int64_t) * (size_t)lines);
    int64_t *at = PyMem_Malloc(sizeof(int64_t) * (size_t)lines);
    double *price = PyMem_Malloc(sizeof(double) * (size_t)lines);
    double *qty = PyMem_Malloc(sizeof(double) * (size_t)lines);
    uint8_t *maker = PyMem_Malloc((size_t)lines);
    uint8_t *symbol = PyMem_Malloc((size_t)lines);
    Symbol *table = PyMem_Malloc(sizeof(Symbol) * MAX_SYMBOLS);
    if (refused == NULL || !time || !id || !at || !price || !qty || !maker || !symbol || !table) {
        PyErr_NoMemory();
        goto done;
    }
    int count = 0, last = -1;
    Py_ssize_t rows = 0, line = 0;
    for (const char *p = data; line < lines; line++) {
        const char *stop = memchr(p, '\n', (size_t)(end - p));
        if (stop == NULL) {
            stop = end;
        }
        Row row;
        int index;
        if (read_line(p, stop, enveloped, agg, prefixed, &row) &&
            (index = symbol_index(table, &count, &last, row.symbol, row.symbol_len)) >= 0) {
            time[rows] = row.time;
            id[rows] = row.id;
            price[rows] = row.price;
            qty[rows] = row.qty;
            maker[rows] = (uint8_t)row.maker;
            symbol[rows] = (uint8_t)index;
            at[rows] = line;
            rows++;
        } else {
            PyObject *where = Py_BuildValue("(nnn)", line, (Py_ssize_t)(p - data),
                                            (Py_ssize_t)(stop - data));
            if (where == NULL || PyList_Append(refused, where) < 0) {
                Py_XDECREF(where);
                goto done;
            }
            Py_DECREF(where);
        }
        p = stop + 1;
    }
    symbols = PyList_New(count);
    if (symbols == NULL) {
        goto done;
    }
    for (int i = 0; i < count; i++) {
        PyObject *name = PyUnicode_FromStringAndSize(table[i].text, table[i].len);
        if (name == NULL) {
            goto done;
        }
        PyList_SET_ITEM(symbols, i, name);
    }
    result = Py_BuildValue(
        "(ny#y#y#y#y#y#y#OO)", rows, (const char *)time, rows * (Py_ssize_t)sizeof(int64_t),
        (const char *)price, rows * (Py_ssize_t)sizeof(double), (const char *)qty,
        rows * (Py_ssize_t)sizeof(double), (const char *)maker, rows, (const char *)id,
        rows * (Py_ssize_t)sizeof(int64_t), (const char *)symbol, rows, (const char *)at,
        rows * (Py_ssize_t)sizeof(int64_t), symbols, refused);
done:
    PyMem_Free(time);
    PyMem_Free(id);
    PyMem_Free(at);
    PyMem_Free(price);
    PyMem_Free(qty);
    PyMem_Free(maker);
    PyMem_Free(symbol);
    PyMem_Free(table);
    Py_XDECREF(symbols);
    Py_XDECREF(refused);
    PyBuffer_Release(&view);
    return result;
}

/* -- one live frame ----------------------------------------------------------------------- */

/* The live read loop's fast path: one combined-stream frame of the feed's trade stream, read
 * only when it is exactly what ``schemas.ws.FRAME_DECODER`` decodes into a payload that the
 * read loop delivers as a trade without further ado: the payload of the kind, every key once,
 * the fields' msgspec constraints met (amounts finite and not negative, T since 1970), the
 * checks over two fields passed (no positive quantity at a zero price, T within an hour of E),
 * a positive quantity and, for @trade, X == "MARKET". The frame's own keys other than
 * ``stream`` and ``data`` must be ignored ones with a scalar value (an ``id``, ``result`` or
 * ``error`` is refused). Anything else, valid or not, is refused: the caller decodes it with
 * msgspec as before (tests/feed/test_live_frame.py holds the two equal). */

#define MAX_PUSH_DELAY_MS 3600000LL
#define CACHED_SYMBOLS 16

enum {
    LIVE_E = 1 << 0,   /* e */
    LIVE_PUSH = 1 << 1, /* E */
    LIVE_T = 1 << 2,
    LIVE_S = 1 << 3,
    LIVE_P = 1 << 4,
    LIVE_Q = 1 << 5,
    LIVE_M = 1 << 6,
    LIVE_ID = 1 << 7, /* a or t */
    LIVE_X = 1 << 8,
    LIVE_F = 1 << 9,
    LIVE_L = 1 << 10,
    LIVE_NQ = 1 << 11,
    LIVE_ST = 1 << 12,
};

typedef struct {
    int64_t push;
    Row row;
} Live;

/* A key the payload's Struct reads (AggTradePayload or TradePayload), once each. */
static unsigned live_bit(const char *key, Py_ssize_t n, int agg) {
    if (n == 2) {
        if (agg && key[0] == 'n' && key[1] == 'q') {
            return LIVE_NQ;
        }
        if (agg && key[0] == 's' && key[1] == 't') {
            return LIVE_ST;
        }
        return 0;
    }
    if (n != 1) {
        return 0;
    }
    switch (key[0]) {
        case 'e':
            return LIVE_E;
        case 'E':
            return LIVE_PUSH;
        case 'T':
            return LIVE_T;
        case 's':
            return LIVE_S;
        case 'p':
            return LIVE_P;
        case 'q':
            return LIVE_Q;
        case 'm':
            return LIVE_M;
        case 'a':
            return agg ? LIVE_ID : 0;
        case 'f':
            return agg ? LIVE_F : 0;
        case 'l':
            return agg ? LIVE_L : 0;
        case 't':
            return agg ? 0 : LIVE_ID;
        case 'X':
            return agg ? 0 : LIVE_X;
        default:
            return 0;
    }
}

static int live_payload(Cursor *c, int agg, Live *out) {
    if (!take(c, '{')) {
        return 0;
    }
    Row *row = &out->row;
    unsigned seen = 0;
    const unsigned needed = LIVE_E | LIVE_PUSH | LIVE_T | LIVE_S | LIVE_P | LIVE_Q | LIVE_M |
                            LIVE_ID | (agg ? (unsigned)(LIVE_F | LIVE_L) : (unsigned)LIVE_X);
    do {
        const char *key, *s;
        Py_ssize_t n, sn;
        int64_t ignored;
        double unused;
        if (!string(c, &key, &n) || !take(c, ':')) {
            return 0;
        }
        unsigned bit = live_bit(key, n, agg);
        if (bit & seen) {
            return 0; /* a key twice: msgspec decides */
        }
        seen |= bit;
        int ok;
        switch (bit) {
            case LIVE_E:
                ok = string(c, &s, &sn) && is(s, sn, agg ? "aggTrade" : "trade");
                break;
            case LIVE_PUSH:
                ok = integer(c, &out->push);
                break;
            case LIVE_T:
                ok = integer(c, &row->time) && row->time >= 0;
                break;
            case LIVE_S:
                ok = string(c, &row->symbol, &row->symbol_len);
                break;
            case LIVE_P:
                ok = amount(c, &row->price);
                break;
            case LIVE_Q:
                ok = amount(c, &row->qty);
                break;
            case LIVE_M:
                if (literal(c, "true", 4)) {
                    row->maker = 1;
                    ok = 1;
                } else {
                    row->maker = 0;
                    ok = literal(c, "false", 5);
                }
                break;
            case LIVE_ID:
                ok = integer(c, &row->id);
                break;
            case LIVE_X:
                ok = string(c, &s, &sn) && is(s, sn, "MARKET");
                break;
            case LIVE_F:
            case LIVE_L:
                ok = integer(c, &ignored);
                break;
            case LIVE_NQ: /* float | None */
                ok = literal(c, "null", 4) || amount(c, &unused);
                break;
            case LIVE_ST: /* int | None */
                ok = literal(c, "null", 4) || integer(c, &ignored);
                break;
            default:
                ok = skip_value(c);
        }
        if (!ok) {
            return 0;
        }
    } while (take(c, ','));
    if (!take(c, '}') || (seen & needed) != needed) {
        return 0;
    }
    int64_t delay = out->push - row->time;
    return row->qty > 0.0 && row->price > 0.0 && delay >= -MAX_PUSH_DELAY_MS &&
           delay <= MAX_PUSH_DELAY_MS;
}

static int live_frame(Cursor *c, int agg, Live *out) {
    if (!take(c, '{')) {
        return 0;
    }
    int has_data = 0, has_stream = 0;
    do {
        const char *key, *s;
        Py_ssize_t n, sn;
        if (!string(c, &key, &n) || !take(c, ':')) {
            return 0;
        }
        if (is(key, n, "data")) {
            if (has_data || !live_payload(c, agg, out)) {
                return 0;
            }
            has_data = 1;
        } else if (is(key, n, "stream")) {
            if (has_stream || !string(c, &s, &sn)) {
                return 0;
            }
            has_stream = 1;
        } else if (is(key, n, "id") || is(key, n, "result") || is(key, n, "error") ||
                   !skip_value(c)) {
            return 0;
        }
    } while (take(c, ','));
    if (!take(c, '}') || !has_data) {
        return 0;
    }
    skip_ws(c);
    return c->p == c->end;
}

/* Symbols seen, as str objects: a frame's symbol is one of them nearly always, so no str is
 * made per frame and its hash is at hand for the caller's dict lookup. */
static PyObject *cached_symbols[CACHED_SYMBOLS];
static int cached_count;

static PyObject *symbol_object(const char *s, Py_ssize_t n) {
    for (int i = 0; i < cached_count; i++) {
        PyObject *name = cached_symbols[i];
        if (PyUnicode_GET_LENGTH(name) == n && memcmp(PyUnicode_DATA(name), s, (size_t)n) == 0) {
            Py_INCREF(name);
            return name;
        }
    }
    PyObject *name = PyUnicode_FromStringAndSize(s, n); /* ASCII: one byte a character */
    if (name != NULL && cached_count < CACHED_SYMBOLS && n <= MAX_SYMBOL_LEN) {
        Py_INCREF(name);
        cached_symbols[cached_count++] = name;
    }
    return name;
}

static PyObject *trade_frame(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "trade_frame(frame, agg) takes 2 arguments");
        return NULL;
    }
    const char *data;
    Py_ssize_t size;
    if (PyBytes_CheckExact(args[0])) {
        data = PyBytes_AS_STRING(args[0]);
        size = PyBytes_GET_SIZE(args[0]);
    } else if (PyUnicode_Check(args[0])) {
        /* A str frame: read when it is ASCII (then its UTF-8 is its data), else refused. */
        if (!PyUnicode_IS_ASCII(args[0])) {
            Py_RETURN_NONE;
        }
        data = (const char *)PyUnicode_DATA(args[0]);
        size = PyUnicode_GET_LENGTH(args[0]);
    } else {
        Py_RETURN_NONE;
    }
    int agg = PyObject_IsTrue(args[1]);
    if (agg < 0) {
        return NULL;
    }
    Live live = {0};
    Cursor c = {data, data + size};
    if (!live_frame(&c, agg, &live)) {
        Py_RETURN_NONE;
    }
    Row *row = &live.row;
    PyObject *out = PyTuple_New(7);
    if (out == NULL) {
        return NULL;
    }
    PyObject *items[7] = {
        symbol_object(row->symbol, row->symbol_len),
        PyLong_FromLongLong(live.push),
        PyLong_FromLongLong(row->time),
        PyLong_FromLongLong(row->id),
        PyFloat_FromDouble(row->price),
        PyFloat_FromDouble(row->qty),
        PyBool_FromLong(row->maker),
    };
    for (int i = 0; i < 7; i++) {
        if (items[i] == NULL) {
            for (int j = 0; j < 7; j++) {
                Py_XDECREF(items[j]);
            }
            Py_DECREF(out);
            return NULL;
        }
    }
    for (int i = 0; i < 7; i++) {
        PyTuple_SET_ITEM(out, i, items[i]);
    }
    return out;
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_VARARGS,
     "scan(block, enveloped, agg, prefixed): the block's plain trade lines as columns, and "
     "the lines left to the Python reader."},
    {"trade_frame", (PyCFunction)(void (*)(void))trade_frame, METH_FASTCALL,
     "trade_frame(frame, agg): (symbol, E, T, id, price, qty, maker) of a plain trade frame "
     "the live read loop delivers as it is, or None for anything msgspec must decode."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_lines",
    "The NDJSON replay's fast path: plain Binance trade lines straight into columns.", -1,
    methods,   NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__lines(void) {
    init_plain();
    return PyModule_Create(&module);
}
