/*
 * archive._bm25: FTS5's bm25 ranking with document frequencies supplied by the caller.
 *
 * FTS5's own bm25() counts, once per query, the rows holding each phrase by reading
 * the phrase's whole posting list. For the common syllables of Vietnamese that is
 * most of the cost of a search in a large archive (60-150 ms at a million articles),
 * while the archive already keeps each word's document count in a table. This
 * function, `bm25_df`, takes those counts as its second argument and otherwise
 * computes exactly what bm25() computes, in the same order of floating-point
 * operations, so that both give bit-identical scores:
 *
 *     bm25_df(articles_fts, '12,,7', w0, w1, ...)
 *
 * One comma-separated entry per phrase of the MATCH expression, in the order FTS5
 * numbers them. An empty entry means "not known": that phrase's rows are counted as
 * bm25() counts them. The trailing arguments are the per-column weights.
 *
 * It is registered on the connections of Python's own sqlite3 module, which cannot
 * load extensions in many builds: `install(connection)` reaches the connection's
 * sqlite3 handle and calls SQLite through the library that module itself uses.
 * The file declares the few parts of the SQLite and FTS5 interfaces it needs, so
 * building it needs a C compiler and Python's headers, not SQLite's.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* --- the SQLite interface used (stable C ABI, declared here, resolved at run time) -- */
typedef struct sqlite3 sqlite3;
typedef struct sqlite3_stmt sqlite3_stmt;
typedef struct sqlite3_context sqlite3_context;
typedef struct sqlite3_value sqlite3_value;
typedef int64_t sqlite3_int64;

#define SQLITE_OK 0
#define SQLITE_NOMEM 7
#define SQLITE_NULL 5

typedef struct Fts5Context Fts5Context;
typedef struct Fts5ExtensionApi Fts5ExtensionApi;
typedef struct {
    const unsigned char *a, *b;
} Fts5PhraseIter;
typedef void (*fts5_function)(const Fts5ExtensionApi *, Fts5Context *, sqlite3_context *, int,
                              sqlite3_value **);

/* The leading members of FTS5's extension API (its layout is fixed since SQLite 3.9). */
struct Fts5ExtensionApi {
    int iVersion;
    void *(*xUserData)(Fts5Context *);
    int (*xColumnCount)(Fts5Context *);
    int (*xRowCount)(Fts5Context *, sqlite3_int64 *);
    int (*xColumnTotalSize)(Fts5Context *, int, sqlite3_int64 *);
    int (*xTokenize)(Fts5Context *, const char *, int, void *,
                     int (*)(void *, int, const char *, int, int, int));
    int (*xPhraseCount)(Fts5Context *);
    int (*xPhraseSize)(Fts5Context *, int);
    int (*xInstCount)(Fts5Context *, int *);
    int (*xInst)(Fts5Context *, int, int *, int *, int *);
    sqlite3_int64 (*xRowid)(Fts5Context *);
    int (*xColumnText)(Fts5Context *, int, const char **, int *);
    int (*xColumnSize)(Fts5Context *, int, int *);
    int (*xQueryPhrase)(Fts5Context *, int, void *,
                        int (*)(const Fts5ExtensionApi *, Fts5Context *, void *));
    int (*xSetAuxdata)(Fts5Context *, void *, void (*)(void *));
    void *(*xGetAuxdata)(Fts5Context *, int);
    int (*xPhraseFirst)(Fts5Context *, int, Fts5PhraseIter *, int *, int *);
    void (*xPhraseNext)(Fts5Context *, Fts5PhraseIter *, int *, int *);
};

/* The leading members of the fts5_api object (version 2, SQLite 3.20 and later). */
typedef struct fts5_api fts5_api;
struct fts5_api {
    int iVersion;
    void *xCreateTokenizer;
    void *xFindTokenizer;
    int (*xCreateFunction)(fts5_api *, const char *, void *, fts5_function, void (*)(void *));
};

static struct {
    int (*prepare_v2)(sqlite3 *, const char *, int, sqlite3_stmt **, const char **);
    int (*bind_pointer)(sqlite3_stmt *, int, void *, const char *, void (*)(void *));
    int (*step)(sqlite3_stmt *);
    int (*finalize)(sqlite3_stmt *);
    const char *(*db_filename)(sqlite3 *, const char *);
    const unsigned char *(*value_text)(sqlite3_value *);
    int (*value_type)(sqlite3_value *);
    double (*value_double)(sqlite3_value *);
    void (*result_double)(sqlite3_context *, double);
    void (*result_error)(sqlite3_context *, const char *, int);
    void (*result_error_code)(sqlite3_context *, int);
} api;

/* --- the ranking function --------------------------------------------------------- */
typedef struct {
    int phrases;
    double avgdl;
    double *idf;  /* one per phrase */
    double *freq; /* one per phrase, reset for each row */
} Stats;

static int count_row(const Fts5ExtensionApi *fts, Fts5Context *ctx, void *counter) {
    (void)fts;
    (void)ctx;
    (*(sqlite3_int64 *)counter)++;
    return SQLITE_OK;
}

/* Parse entry `i` of the comma-separated list: 1 and *out set if it holds a count. */
static int list_entry(const char *list, int i, sqlite3_int64 *out) {
    const char *at = list;
    for (; i > 0 && at; i--) {
        at = strchr(at, ',');
        if (at) at++;
    }
    if (!at || *at == ',' || *at == '\0') return 0;
    char *end;
    long long value = strtoll(at, &end, 10);
    if (end == at || (*end != ',' && *end != '\0') || value < 0) return 0;
    *out = (sqlite3_int64)value;
    return 1;
}

static int entries(const char *list) {
    int n = 1;
    for (const char *at = list; *at; at++) n += *at == ',';
    return n;
}

/* Not an SQLite code: the count list does not fit the query. */
#define COUNTS_MISMATCH (-1)

static int load_stats(const Fts5ExtensionApi *fts, Fts5Context *ctx, const char *list,
                      Stats **out) {
    Stats *stats = fts->xGetAuxdata(ctx, 0);
    if (stats) {
        *out = stats;
        return SQLITE_OK;
    }
    int phrases = fts->xPhraseCount(ctx);
    if (entries(list) != phrases) return COUNTS_MISMATCH;
    stats = calloc(1, sizeof(Stats) + 2 * (size_t)phrases * sizeof(double));
    if (!stats) return SQLITE_NOMEM;
    stats->phrases = phrases;
    stats->idf = (double *)&stats[1];
    stats->freq = stats->idf + phrases;
    sqlite3_int64 rows = 0, tokens = 0;
    int rc = fts->xRowCount(ctx, &rows);
    if (rc == SQLITE_OK) rc = fts->xColumnTotalSize(ctx, -1, &tokens);
    if (rc == SQLITE_OK) stats->avgdl = (double)tokens / (double)rows;
    for (int i = 0; rc == SQLITE_OK && i < phrases; i++) {
        sqlite3_int64 hits = 0;
        /* A known count holds only for a one-word phrase: a longer one is counted. */
        if (!(fts->xPhraseSize(ctx, i) == 1 && list_entry(list, i, &hits))) {
            hits = 0;
            rc = fts->xQueryPhrase(ctx, i, &hits, count_row);
        }
        /* bm25's IDF, floored as bm25() floors it. */
        double idf = log((rows - hits + 0.5) / (hits + 0.5));
        if (idf <= 0.0) idf = 1e-6;
        stats->idf[i] = idf;
    }
    if (rc == SQLITE_OK) rc = fts->xSetAuxdata(ctx, stats, free);
    else free(stats);
    *out = rc == SQLITE_OK ? stats : NULL;
    return rc;
}

static void bm25_df(const Fts5ExtensionApi *fts, Fts5Context *ctx, sqlite3_context *result,
                    int argc, sqlite3_value **argv) {
    const double k1 = 1.2, b = 0.75;
    if (argc < 1 || api.value_type(argv[0]) == SQLITE_NULL) {
        api.result_error(result, "bm25_df: the first argument lists document counts", -1);
        return;
    }
    Stats *stats = NULL;
    int rc = load_stats(fts, ctx, (const char *)api.value_text(argv[0]), &stats);
    if (rc == COUNTS_MISMATCH) {
        api.result_error(result, "bm25_df: one document count is needed per phrase", -1);
        return;
    }
    /* Each phrase's weighted frequency in this row. bm25() sums the same terms in the
     * same order (its instance list is sorted by column, then offset), read from a
     * merged list of all phrases' instances that costs more to build than the sums. */
    int weights = argc - 1;
    sqlite3_value **weight = argv + 1;
    for (int i = 0; rc == SQLITE_OK && i < stats->phrases; i++) {
        Fts5PhraseIter iter;
        int column, offset;
        double f = 0.0;
        rc = fts->xPhraseFirst(ctx, i, &iter, &column, &offset);
        for (; rc == SQLITE_OK && column >= 0; fts->xPhraseNext(ctx, &iter, &column, &offset))
            f += weights > column ? api.value_double(weight[column]) : 1.0;
        stats->freq[i] = f;
    }
    double length = 0.0;
    if (rc == SQLITE_OK) {
        int size;
        rc = fts->xColumnSize(ctx, -1, &size);
        length = (double)size;
    }
    if (rc != SQLITE_OK) {
        api.result_error_code(result, rc);
        return;
    }
    double score = 0.0;
    for (int i = 0; i < stats->phrases; i++) {
        double f = stats->freq[i];
        score += stats->idf[i] * ((f * (k1 + 1.0)) / (f + k1 * (1 - b + b * length / stats->avgdl)));
    }
    api.result_double(result, -1.0 * score);
}

/* --- installing it on a Python sqlite3 connection ------------------------------------ */

/* CPython's sqlite3.Connection object starts with its sqlite3 handle (3.8 to 3.14). */
typedef struct {
    PyObject_HEAD sqlite3 *db;
} ConnectionHead;

static int resolved;

static int resolve(const char *library) {
    void *handle = dlopen(library, RTLD_NOW | RTLD_NOLOAD);
    if (!handle) return 0;
#define FIND(field, name) \
    if (!(*(void **)&api.field = dlsym(handle, name))) goto missing;
    FIND(prepare_v2, "sqlite3_prepare_v2");
    FIND(bind_pointer, "sqlite3_bind_pointer");
    FIND(step, "sqlite3_step");
    FIND(finalize, "sqlite3_finalize");
    FIND(db_filename, "sqlite3_db_filename");
    FIND(value_text, "sqlite3_value_text");
    FIND(value_type, "sqlite3_value_type");
    FIND(value_double, "sqlite3_value_double");
    FIND(result_double, "sqlite3_result_double");
    FIND(result_error, "sqlite3_result_error");
    FIND(result_error_code, "sqlite3_result_error_code");
#undef FIND
    resolved = 1;
    return 1;
missing:
    memset(&api, 0, sizeof api);
    return 0;
}

/* install(connection, sqlite_module_path, main_filename) -> bool */
static PyObject *install(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *connection, *connection_type;
    const char *library, *filename;
    if (!PyArg_ParseTuple(args, "OOss", &connection, &connection_type, &library, &filename))
        return NULL;
    int is_connection = PyObject_IsInstance(connection, connection_type);
    if (is_connection < 0) return NULL;
    if (!is_connection) {
        PyErr_SetString(PyExc_TypeError, "install() needs a sqlite3.Connection");
        return NULL;
    }
    if (!resolved && !resolve(library)) Py_RETURN_FALSE;
    sqlite3 *db = ((ConnectionHead *)connection)->db;
    if (!db) Py_RETURN_FALSE;
    /* The handle must be this connection's: its main database is the one Python named. */
    const char *main_file = api.db_filename(db, "main");
    if (strcmp(main_file ? main_file : "", filename) != 0) Py_RETURN_FALSE;
    fts5_api *fts5 = NULL;
    sqlite3_stmt *stmt = NULL;
    if (api.prepare_v2(db, "SELECT fts5(?1)", -1, &stmt, NULL) == SQLITE_OK) {
        api.bind_pointer(stmt, 1, &fts5, "fts5_api_ptr", NULL);
        api.step(stmt);
    }
    api.finalize(stmt);
    if (!fts5 || fts5->iVersion < 2) Py_RETURN_FALSE;
    if (fts5->xCreateFunction(fts5, "bm25_df", NULL, bm25_df, NULL) != SQLITE_OK)
        Py_RETURN_FALSE;
    Py_RETURN_TRUE;
}

static PyMethodDef methods[] = {
    {"install", install, METH_VARARGS,
     "install(connection, connection_type, sqlite_library, main_filename) -> bool\n\n"
     "Register the FTS5 function bm25_df on a sqlite3 connection; False if it cannot be."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_bm25",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__bm25(void) { return PyModule_Create(&module); }
