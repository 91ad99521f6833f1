/* The tick store's per-trade append, in C (pairs_tui._columns).
 *
 * Appender(cls, names, rows, full) is a callable object: appender.append(record) appends the
 * attributes ``names`` of ``record`` to one list per name, the lists of ``appender.columns``,
 * and calls ``full()`` once the lists hold ``rows`` items or more; ``appender.take()`` returns
 * the lists and starts new empty ones. It is what this Python does, without the interpreter:
 *
 *     for column, name in zip(columns, names):
 *         column.append(getattr(record, name))
 *     if len(columns[-1]) >= rows:
 *         full()
 *
 * For a record of exactly ``cls`` whose attributes are plain slots (a msgspec Struct's fields),
 * the values are read straight from the slots; any other record, or an unset slot, goes through
 * getattr, with its errors. The lists hold the very objects, so what is made of them later
 * (a Polars chunk) is what the Python appends would have given.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#define MAX_COLUMNS 8

typedef struct {
    PyObject_HEAD
    PyTypeObject *cls;
    PyObject *names;   /* tuple of str */
    PyObject *full;    /* callable */
    PyObject *columns; /* tuple of lists */
    Py_ssize_t count;
    Py_ssize_t rows;
    Py_ssize_t offsets[MAX_COLUMNS]; /* -1: read with getattr */
} Appender;

static PyObject *new_columns(Py_ssize_t count) {
    PyObject *columns = PyTuple_New(count);
    if (columns == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *column = PyList_New(0);
        if (column == NULL) {
            Py_DECREF(columns);
            return NULL;
        }
        PyTuple_SET_ITEM(columns, i, column);
    }
    return columns;
}

static int appender_init(Appender *self, PyObject *args, PyObject *kwargs) {
    PyObject *cls, *names, *full;
    Py_ssize_t rows;
    static char *keywords[] = {"cls", "names", "rows", "full", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!O!nO:Appender", keywords, &PyType_Type,
                                     &cls, &PyTuple_Type, &names, &rows, &full)) {
        return -1;
    }
    Py_ssize_t count = PyTuple_GET_SIZE(names);
    if (count < 1 || count > MAX_COLUMNS) {
        PyErr_Format(PyExc_ValueError, "1 to %d names, not %zd", MAX_COLUMNS, count);
        return -1;
    }
    if (!PyCallable_Check(full)) {
        PyErr_SetString(PyExc_TypeError, "full must be callable");
        return -1;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *name = PyTuple_GET_ITEM(names, i);
        if (!PyUnicode_Check(name)) {
            PyErr_SetString(PyExc_TypeError, "names must be str");
            return -1;
        }
        /* A slot of the class itself: a member descriptor holding an object. */
        PyObject *descr = PyDict_GetItemWithError(((PyTypeObject *)cls)->tp_dict, name);
        if (descr == NULL && PyErr_Occurred()) {
            return -1;
        }
        self->offsets[i] = -1;
        if (descr != NULL && Py_IS_TYPE(descr, &PyMemberDescr_Type)) {
            PyMemberDef *member = ((PyMemberDescrObject *)descr)->d_member;
            if ((member->type == T_OBJECT_EX || member->type == T_OBJECT) &&
                !(member->flags & PY_AUDIT_READ)) {
                self->offsets[i] = member->offset;
            }
        }
    }
    PyObject *columns = new_columns(count);
    if (columns == NULL) {
        return -1;
    }
    Py_INCREF(cls);
    Py_XSETREF(self->cls, (PyTypeObject *)cls);
    Py_INCREF(names);
    Py_XSETREF(self->names, names);
    Py_INCREF(full);
    Py_XSETREF(self->full, full);
    Py_XSETREF(self->columns, columns);
    self->count = count;
    self->rows = rows;
    return 0;
}

static PyObject *appender_append(Appender *self, PyObject *record) {
    if (self->columns == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Appender not initialised");
        return NULL;
    }
    int exact = Py_IS_TYPE(record, self->cls);
    PyObject *columns = self->columns;
    Py_INCREF(columns); /* full() may replace it */
    for (Py_ssize_t i = 0; i < self->count; i++) {
        PyObject *value = NULL;
        if (exact && self->offsets[i] >= 0) {
            value = *(PyObject **)((char *)record + self->offsets[i]);
            Py_XINCREF(value);
        }
        if (value == NULL) {
            value = PyObject_GetAttr(record, PyTuple_GET_ITEM(self->names, i));
            if (value == NULL) {
                Py_DECREF(columns);
                return NULL;
            }
        }
        int failed = PyList_Append(PyTuple_GET_ITEM(columns, i), value);
        Py_DECREF(value);
        if (failed) {
            Py_DECREF(columns);
            return NULL;
        }
    }
    Py_ssize_t held = PyList_GET_SIZE(PyTuple_GET_ITEM(columns, self->count - 1));
    Py_DECREF(columns);
    if (held >= self->rows) {
        PyObject *done = PyObject_CallNoArgs(self->full);
        if (done == NULL) {
            return NULL;
        }
        Py_DECREF(done);
    }
    Py_RETURN_NONE;
}

static PyObject *appender_take(Appender *self, PyObject *unused) {
    (void)unused;
    if (self->columns == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Appender not initialised");
        return NULL;
    }
    PyObject *fresh = new_columns(self->count);
    if (fresh == NULL) {
        return NULL;
    }
    PyObject *taken = self->columns;
    self->columns = fresh;
    return taken;
}

static PyObject *appender_get_columns(Appender *self, void *closure) {
    (void)closure;
    if (self->columns == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Appender not initialised");
        return NULL;
    }
    Py_INCREF(self->columns);
    return self->columns;
}

static int appender_traverse(Appender *self, visitproc visit, void *arg) {
    Py_VISIT(self->cls);
    Py_VISIT(self->names);
    Py_VISIT(self->full);
    Py_VISIT(self->columns);
    return 0;
}

static int appender_clear(Appender *self) {
    Py_CLEAR(self->cls);
    Py_CLEAR(self->names);
    Py_CLEAR(self->full);
    Py_CLEAR(self->columns);
    return 0;
}

static void appender_dealloc(Appender *self) {
    PyObject_GC_UnTrack(self);
    appender_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef appender_methods[] = {
    {"append", (PyCFunction)appender_append, METH_O,
     "append(record): its attributes onto the columns; full() once they hold rows items."},
    {"take", (PyCFunction)appender_take, METH_NOARGS,
     "take(): the columns, replaced by new empty ones."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef appender_getset[] = {
    {"columns", (getter)appender_get_columns, NULL, "The lists, one per name.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject AppenderType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "pairs_tui._columns.Appender",
    .tp_basicsize = sizeof(Appender),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "Appender(cls, names, rows, full): records' attributes onto one list per name.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)appender_init,
    .tp_dealloc = (destructor)appender_dealloc,
    .tp_traverse = (traverseproc)appender_traverse,
    .tp_clear = (inquiry)appender_clear,
    .tp_methods = appender_methods,
    .tp_getset = appender_getset,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_columns",
    "The tick store's per-trade append: records' attributes onto column lists, in C.", -1,
    NULL,      NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__columns(void) {
    if (PyType_Ready(&AppenderType) < 0) {
        return NULL;
    }
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) {
        return NULL;
    }
    Py_INCREF(&AppenderType);
    if (PyModule_AddObject(m, "Appender", (PyObject *)&AppenderType) < 0) {
        Py_DECREF(&AppenderType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
