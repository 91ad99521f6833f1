/* Two loops over sorted runs that numpy has no single call for (pairs_tui._runs).
 *
 * merge_order(keys, ids, out) -> int
 *     The order of the rows by key, then id, then row: what ``np.lexsort((ids, keys))`` gives.
 *     Rows of a replay come as a few runs already in that order (one per leg of a recording),
 *     so the runs are found in one pass and merged pairwise, stably: each pass is a linear
 *     merge, without branches, and rows in order already cost the one pass. Returns the number
 *     of runs (MOST_RUNS + 1 for more); the order is written into ``out`` when there are 2 to
 *     MOST_RUNS, else ``out`` is left as it was.
 *
 * fold_leg(legs, times, prices, qtys, leg, tf, carried, keys, first, last, high, low, volume,
 *          count) -> int
 *     One leg's bars of a batch of trades, in one pass (see below).
 *
 * The arrays are C-contiguous buffers of int64 or float64 (and uint8 legs); the loops run
 * without the GIL.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* More runs than this are left to a sort (np.lexsort): each doubling of the runs costs a pass. */
#define MOST_RUNS 16

/* A C-contiguous one-dimensional buffer of ``kind``: 'B' uint8, 'q' int64, 'd' float64. */
static int get_array(PyObject *obj, Py_buffer *view, char kind, int writable, const char *name) {
    Py_ssize_t size = kind == 'B' ? 1 : 8;
    int flags = PyBUF_ND | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, view, flags) < 0) {
        return -1;
    }
    const char *format = view->format == NULL ? "B" : view->format;
    if (format[0] == '<' || format[0] == '=' || format[0] == '@') {
        format++;
    }
    int ok = view->ndim == 1 && view->itemsize == size && format[1] == '\0' &&
             (kind == 'q' ? format[0] == 'q' || format[0] == 'l' : format[0] == kind);
    if (!ok) {
        PyErr_Format(PyExc_TypeError, "%s must be a one-dimensional %s array", name,
                     kind == 'd' ? "float64" : kind == 'q' ? "int64" : "uint8");
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

/* Row a comes strictly before row b (without branches: which run a merge takes from next is
 * a coin toss where two legs' trades interleave, and a mispredicted branch costs more than the
 * loads it would save). */
static inline int before(const int64_t *keys, const int64_t *ids, int64_t a, int64_t b) {
    return (keys[a] < keys[b]) | ((keys[a] == keys[b]) & (ids[a] < ids[b]));
}

/* One pass: merge runs 0 and 1, 2 and 3, ... of ``from`` (the rows themselves when
 * ``from`` is NULL) into ``to``; returns how many runs are left, their starts in ``starts``. */
static inline Py_ssize_t merge_pass(const int64_t *keys, const int64_t *ids, const int64_t *from,
                                    int64_t *to, Py_ssize_t *starts, Py_ssize_t runs) {
    Py_ssize_t merged = 0;
    for (Py_ssize_t r = 0; r < runs; r += 2) {
        Py_ssize_t lo = starts[r], mid = starts[r + 1];
        Py_ssize_t hi = r + 2 <= runs ? starts[r + 2] : mid;
        Py_ssize_t i = lo, j = mid, o = lo;
        while (i < mid && j < hi) {
            /* Stable: the left run's row unless the right's comes strictly before it. */
            int64_t left = from == NULL ? i : from[i], right = from == NULL ? j : from[j];
            int right_first = before(keys, ids, right, left);
            to[o++] = right_first ? right : left;
            j += right_first;
            i += !right_first;
        }
        for (; i < mid; i++) {
            to[o++] = from == NULL ? i : from[i];
        }
        for (; j < hi; j++) {
            to[o++] = from == NULL ? j : from[j];
        }
        starts[merged++] = lo;
    }
    starts[merged] = starts[runs];
    return merged;
}

static PyObject *merge_order(PyObject *Py_UNUSED(module), PyObject *const *args,
                             Py_ssize_t nargs) {
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "merge_order(keys, ids, out) takes 3 arguments");
        return NULL;
    }
    Py_buffer kv, iv, ov;
    if (get_array(args[0], &kv, 'q', 0, "keys") < 0) {
        return NULL;
    }
    if (get_array(args[1], &iv, 'q', 0, "ids") < 0) {
        PyBuffer_Release(&kv);
        return NULL;
    }
    if (get_array(args[2], &ov, 'q', 1, "out") < 0) {
        PyBuffer_Release(&kv);
        PyBuffer_Release(&iv);
        return NULL;
    }
    PyObject *result = NULL;
    Py_ssize_t n = kv.shape[0];
    if (iv.shape[0] != n || ov.shape[0] != n) {
        PyErr_SetString(PyExc_ValueError, "keys, ids and out must be as long as one another");
        goto done;
    }
    const int64_t *keys = kv.buf, *ids = iv.buf;
    int64_t *out = ov.buf, *spare = NULL;
    Py_ssize_t starts[MOST_RUNS + 1] = {0};
    Py_ssize_t runs = 1, passes = 0;
    for (Py_ssize_t i = 1; i < n && runs <= MOST_RUNS; i++) {
        if (before(keys, ids, i, i - 1)) {
            if (runs < MOST_RUNS) {
                starts[runs] = i;
            }
            runs++;
        }
    }
    if (runs == 1 || runs > MOST_RUNS) {
        result = PyLong_FromSsize_t(runs);
        goto done;
    }
    starts[runs] = n;
    while ((1 << passes) < runs) {
        passes++;
    }
    if (passes > 1 && (spare = PyMem_RawMalloc((size_t)n * sizeof(int64_t))) == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS;
    /* The passes take turns between out and spare, the last landing in out. */
    int64_t *to = passes % 2 ? out : spare, *from = NULL;
    Py_ssize_t left = runs;
    while (left > 1) {
        left = merge_pass(keys, ids, from, to, starts, left);
        from = to;
        to = to == out ? spare : out;
    }
    Py_END_ALLOW_THREADS;
    PyMem_RawFree(spare);
    result = PyLong_FromSsize_t(runs);
done:
    PyBuffer_Release(&kv);
    PyBuffer_Release(&iv);
    PyBuffer_Release(&ov);
    return result;
}

/* fold_leg(legs, times, prices, qtys, leg, tf, carried, keys, first, last, high, low, volume,
 *          count) -> int
 * One leg's trades of a batch (the rows whose ``legs`` is ``leg``, times never decreasing) in
 * buckets of ``tf`` ms: each bucket's start, its first and last row in the batch, its high,
 * low, volume (added one by one, from ``carried`` for the first bucket when it is not NaN: the
 * volume of the open bucket it continues) and number of trades, written into the output
 * arrays, which must hold as many as there are buckets; returns how many. One pass over the
 * batch, where numpy takes a pass for each of a dozen steps and a copy of each column. */
static PyObject *fold_leg(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 14) {
        PyErr_SetString(PyExc_TypeError,
                        "fold_leg(legs, times, prices, qtys, leg, tf, carried, keys, first, "
                        "last, high, low, volume, count) takes 14 arguments");
        return NULL;
    }
    long leg = PyLong_AsLong(args[4]);
    long long tf = PyLong_AsLongLong(args[5]);
    double carried = PyFloat_AsDouble(args[6]);
    if (PyErr_Occurred()) {
        return NULL;
    }
    if (tf <= 0) {
        PyErr_SetString(PyExc_ValueError, "tf must be positive");
        return NULL;
    }
    /* The arrays' kinds; 0 for the three numbers among them. */
    static const char kinds[14] = {'B', 'q', 'd', 'd', 0, 0, 0, 'q', 'q', 'q', 'd', 'd', 'd', 'q'};
    static const char *names[14] = {"legs", "times", "prices", "qtys", "",    "",       "",
                                    "keys", "first", "last",   "high", "low", "volume", "count"};
    Py_buffer views[14];
    int got = 0;
    PyObject *result = NULL;
    for (int k = 0; k < 14; k++) {
        if (kinds[k] == 0) {
            continue;
        }
        if (get_array(args[k], &views[k], kinds[k], k >= 7, names[k]) < 0) {
            goto done;
        }
        got |= 1 << k;
    }
    Py_ssize_t n = views[0].shape[0], room = views[7].shape[0];
    for (int k = 1; k < 4; k++) {
        if (views[k].shape[0] != n) {
            PyErr_Format(PyExc_ValueError, "%s must be as long as legs", names[k]);
            goto done;
        }
    }
    for (int k = 8; k < 14; k++) {
        if (views[k].shape[0] != room) {
            PyErr_Format(PyExc_ValueError, "%s must be as long as keys", names[k]);
            goto done;
        }
    }
    const uint8_t *legs = views[0].buf;
    const int64_t *times = views[1].buf;
    const double *prices = views[2].buf, *qtys = views[3].buf;
    int64_t *keys = views[7].buf, *first = views[8].buf, *last = views[9].buf;
    double *high = views[10].buf, *low = views[11].buf, *volume = views[12].buf;
    int64_t *count = views[13].buf;
    Py_ssize_t b = -1;
    int full = 0;
    Py_BEGIN_ALLOW_THREADS;
    for (Py_ssize_t r = 0; r < n; r++) {
        if (legs[r] != leg) {
            continue;
        }
        int64_t t = times[r], into = t % tf;
        int64_t start = t - (into < 0 ? into + tf : into); /* floor, as numpy's % */
        double p = prices[r], q = qtys[r];
        if (b < 0 || start != keys[b]) {
            if (++b == room) {
                full = 1;
                break;
            }
            keys[b] = start;
            first[b] = r;
            high[b] = low[b] = p;
            volume[b] = b == 0 && carried == carried ? carried + q : q;
            count[b] = 1;
        } else {
            high[b] = p > high[b] ? p : high[b];
            low[b] = p < low[b] ? p : low[b];
            volume[b] += q;
            count[b]++;
        }
        last[b] = r;
    }
    Py_END_ALLOW_THREADS;
    if (full) {
        PyErr_Format(PyExc_ValueError, "more buckets than the %zd the arrays hold", room);
        goto done;
    }
    result = PyLong_FromSsize_t(b + 1);
done:
    for (int k = 0; k < 14; k++) {
        if (got & (1 << k)) {
            PyBuffer_Release(&views[k]);
        }
    }
    return result;
}

static PyMethodDef methods[] = {
    {"merge_order", (PyCFunction)(void (*)(void))merge_order, METH_FASTCALL,
     "merge_order(keys, ids, out): the number of runs in order (MOST_RUNS + 1 for more); "
     "from 2 to MOST_RUNS, the rows' order by key, id and row, into out."},
    {"fold_leg", (PyCFunction)(void (*)(void))fold_leg, METH_FASTCALL,
     "fold_leg(legs, times, prices, qtys, leg, tf, carried, keys, first, last, high, low, "
     "volume, count): one leg's buckets of a batch; how many."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    "_runs",
    "Loops over sorted runs: the merged order of a replay's runs, and a leg's bars of a batch.",
    -1,
    methods,
};

PyMODINIT_FUNC PyInit__runs(void) {
    PyObject *m = PyModule_Create(&module);
    if (m != NULL && PyModule_AddIntConstant(m, "MOST_RUNS", MOST_RUNS) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
