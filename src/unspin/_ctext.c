/* Optional compiled helper for the text stages: tokens, token flags, the language gate's
 * character and stop-word counts, the cleaner's control-character test and the first words
 * of its boilerplate lines, and the language model's id lookup; `token_pass` makes a batch's
 * tokens, normalised forms, flags, ids and offsets in one pass over its texts.
 *
 * Why: on clean documents (most of a crawl) these per-character and per-token passes were
 * about a quarter of a `check` (regular expressions over the text, a dictionary lookup per
 * token). Each function here gives exactly what the Python code it replaces gives (the
 * regular expressions of tokens.py and clean.py under Python's `re` rules: `\w` is
 * `str.isalnum()` or "_", `\d` is `str.isdecimal()`, `\s` is `str.isspace()`), which stays
 * the reference and the fallback when this module is not built or UNSPIN_NATIVE=0. The
 * tests compare the two on generated text.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__) || defined(__clang__)
#define PREFETCH(p) __builtin_prefetch(p)
#define ALWAYS_INLINE __attribute__((always_inline))
#else
#define PREFETCH(p) ((void)(p))
#define ALWAYS_INLINE
#endif

/* Character classes of ASCII from a table (Python's own predicates are several calls
 * each, most of the cost of a pass over English text); above ASCII, Python's. */
enum { A_LETTER = 1, A_DIGIT = 2, A_SPACE = 4 };
static unsigned char ascii_class[128];

static void init_ascii_class(void) {
    for (int c = 0; c < 128; c++) {
        unsigned char k = 0;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')) k |= A_LETTER;
        if (c >= '0' && c <= '9') k |= A_DIGIT;
        if (Py_UNICODE_ISSPACE(c)) k |= A_SPACE; /* \t\n\v\f\r, \x1c-\x1f, space */
        ascii_class[c] = k;
    }
}

static inline int is_letter(Py_UCS4 c) { /* [^\W\d_] */
    if (c < 128) return ascii_class[c] & A_LETTER;
    return Py_UNICODE_ISALNUM(c) && !Py_UNICODE_ISDECIMAL(c);
}
static inline int is_digit(Py_UCS4 c) { /* \d */
    if (c < 128) return ascii_class[c] & A_DIGIT;
    return Py_UNICODE_ISDECIMAL(c);
}
static inline int is_word(Py_UCS4 c) { /* \w */
    if (c < 128) return (ascii_class[c] & (A_LETTER | A_DIGIT)) || c == '_';
    return Py_UNICODE_ISALNUM(c);
}
static inline int is_space(Py_UCS4 c) { /* \s */
    if (c < 128) return ascii_class[c] & A_SPACE;
    return Py_UNICODE_ISSPACE(c);
}

#define IS_WORD(c) is_word(c)
#define IS_DIGIT(c) is_digit(c)
#define IS_LETTER(c) is_letter(c)
#define IS_SEP(c) ((c) == '-' || (c) == '\'' || (c) == 0x2019)          /* [-'’] */
#define IS_APOS(c) ((c) == '\'' || (c) == 0x2019)                        /* ['’] */
#define IS_S(c) ((c) == 's' || (c) == 'S')

/* `[sS]\b` at position k: an s, then the end of the text or a character that is not \w. */
static inline ALWAYS_INLINE int s_at_boundary(int kind, const void *data, Py_ssize_t k, Py_ssize_t n) {
    if (k >= n || !IS_S(PyUnicode_READ(kind, data, k))) return 0;
    return k + 1 >= n || !IS_WORD(PyUnicode_READ(kind, data, k + 1));
}

/* End of the token starting at i (a character that is not white space), by tokens.TOKEN_RE:
 *   [^\W\d_]+(?:[-'’](?![sS]\b)[^\W\d_]+)* | ['’][sS]\b | \d+(?:[.,:]\d+)* | [^\w\s] | _
 * The alternatives are tried in that order, as `re` does; each is deterministic here. */
static inline ALWAYS_INLINE Py_ssize_t token_end(int kind, const void *data, Py_ssize_t i, Py_ssize_t n) {
    Py_UCS4 c = PyUnicode_READ(kind, data, i);
    Py_ssize_t j = i;
    if (IS_LETTER(c)) {
        while (j < n && IS_LETTER(PyUnicode_READ(kind, data, j))) j++;
        while (j + 1 < n && IS_SEP(PyUnicode_READ(kind, data, j))) {
            Py_ssize_t k = j + 1;
            if (s_at_boundary(kind, data, k, n) || !IS_LETTER(PyUnicode_READ(kind, data, k)))
                break;
            j = k;
            while (j < n && IS_LETTER(PyUnicode_READ(kind, data, j))) j++;
        }
        return j;
    }
    if (IS_APOS(c) && s_at_boundary(kind, data, i + 1, n)) return i + 2;
    if (IS_DIGIT(c)) {
        while (j < n && IS_DIGIT(PyUnicode_READ(kind, data, j))) j++;
        while (j + 1 < n) {
            Py_UCS4 d = PyUnicode_READ(kind, data, j);
            if (!(d == '.' || d == ',' || d == ':') ||
                !IS_DIGIT(PyUnicode_READ(kind, data, j + 1)))
                break;
            j += 1;
            while (j < n && IS_DIGIT(PyUnicode_READ(kind, data, j))) j++;
        }
        return j;
    }
    return i + 1; /* [^\w\s] or _ */
}

/* The characters of a str argument; 0, or -1 with a TypeError naming the function. */
static int text_arg(PyObject *arg, const char *fn, int *kind, const void **data,
                    Py_ssize_t *n) {
    if (!PyUnicode_Check(arg)) {
        PyErr_Format(PyExc_TypeError, "%s: text must be str", fn);
        return -1;
    }
    if (PyUnicode_READY(arg) < 0) return -1;
    *kind = PyUnicode_KIND(arg);
    *data = PyUnicode_DATA(arg);
    *n = PyUnicode_GET_LENGTH(arg);
    return 0;
}

/* The next token at or after *i (white space skipped): its start in *start, *i moved past
 * its end; 0 when the text has no more. The scan of find_tokens, token_starts and
 * token_pass. */
static inline ALWAYS_INLINE int next_token(int kind, const void *data, Py_ssize_t n, Py_ssize_t *i,
                             Py_ssize_t *start) {
    while (*i < n && is_space(PyUnicode_READ(kind, data, *i))) (*i)++;
    if (*i >= n) return 0;
    *start = *i;
    *i = token_end(kind, data, *i, n);
    return 1;
}

static PyObject *find_tokens(PyObject *self, PyObject *arg) {
    int kind;
    const void *data;
    Py_ssize_t n;
    if (text_arg(arg, "find_tokens", &kind, &data, &n) < 0) return NULL;
    PyObject *out = PyList_New(0);
    if (!out) return NULL;
    Py_ssize_t i = 0, a;
    while (next_token(kind, data, n, &i, &a)) {
        PyObject *tok = PyUnicode_Substring(arg, a, i);
        if (!tok || PyList_Append(out, tok) < 0) {
            Py_XDECREF(tok);
            Py_DECREF(out);
            return NULL;
        }
        Py_DECREF(tok);
    }
    return out;
}

/* lookup_ids' table of a vocabulary (see vocab_table, defined below). */
#define VOCAB_CAPSULE "unspin._ctext.vocab_table"
/* Bytes before a vocab_table's slots: int64 nslots, pool size, longest word, unused. */
#define VOCAB_HEADER 32

/* The length of the longest word in a vocab_table. */
static inline Py_ssize_t vocab_longest(const char *base) {
    int64_t v;
    memcpy(&v, base + 16, 8);
    return (Py_ssize_t)v;
}

/* a[:len] == b[:len], for the few bytes of a word. */
static inline int same_bytes(const unsigned char *a, const unsigned char *b, Py_ssize_t len) {
    for (Py_ssize_t k = 0; k < len; k++)
        if (a[k] != b[k]) return 0;
    return 1;
}

/* vocab_hash: FNV-1a over the bytes, then its high bits folded in (HASH_FINISH). */
#define FNV_OFFSET 1469598103934665603ULL
#define FNV_PRIME 1099511628211ULL
#define HASH_FINISH(h) ((h) ^ ((h) >> 29))

static uint64_t vocab_hash(const unsigned char *s, Py_ssize_t n) {
    uint64_t h = FNV_OFFSET;
    for (Py_ssize_t k = 0; k < n; k++) h = (h ^ s[k]) * FNV_PRIME;
    return HASH_FINISH(h);
}

/* The table inside a vocab_table capsule, or NULL with a TypeError naming `fn`. Only
 * vocab_table makes these capsules, so their slots and pool are consistent. */
static const char *vocab_base(PyObject *capsule, const char *fn) {
    const char *base = PyCapsule_GetPointer(capsule, VOCAB_CAPSULE);
    if (!base) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "%s: table must come from vocab_table", fn);
    }
    return base;
}

/* One slot of a vocab_table (16 bytes, four to a cache line): `meta` is 0 for an empty
 * slot, else the word's length << 24 | (1 + the offset in the pool of its bytes after the
 * eighth); its first eight bytes inline (zero-padded). A word of up to eight bytes (most
 * of a text's words) is matched without reading the pool: one cache miss, not two. */
typedef struct {
    uint32_t meta;
    int32_t id;
    unsigned char head[8];
} VocabSlot;

/* Does an occupied slot hold the word d[:len] (its tail in the pool `pl`)? */
static inline int slot_holds(const VocabSlot *s, const unsigned char *pl,
                             const unsigned char *d, Py_ssize_t len) {
    return (Py_ssize_t)(s->meta >> 24) == len && same_bytes(s->head, d, len < 8 ? len : 8) &&
           (len <= 8 || same_bytes(pl + (s->meta & 0xFFFFFFu) - 1, d + 8, len - 8));
}

/* The id of an ASCII word (len <= 255, vocab_hash `hash`) in a vocab_table, or -1. */
static int64_t vocab_find(const char *base, uint64_t hash, const unsigned char *d,
                          Py_ssize_t len) {
    int64_t nslots;
    memcpy(&nslots, base, 8);
    const VocabSlot *slots = (const VocabSlot *)(base + VOCAB_HEADER);
    const unsigned char *pl = (const unsigned char *)(base + VOCAB_HEADER + nslots * 16);
    uint64_t h = hash & (uint64_t)(nslots - 1);
    for (;;) {
        if (slots[h].meta == 0) return -1;
        if (slot_holds(&slots[h], pl, d, len)) return (int64_t)slots[h].id;
        h = (h + 1) & (uint64_t)(nslots - 1);
    }
}

/* Counts of stopword_counts. */
typedef struct {
    Py_ssize_t words, en, foreign;
} StopCounts;

/* A letter run other than a short ASCII one looked up in the sets, as the Python code
 * does (an ASCII run lowered here, any other by str.lower()); -1 with an exception set. */
static int count_run_in_sets(PyObject *text, int kind, const void *data, Py_ssize_t i,
                             Py_ssize_t j, int ascii, PyObject *en, PyObject *foreign,
                             StopCounts *c) {
    PyObject *w;
    if (ascii) {
        w = PyUnicode_New(j - i, 127);
        if (!w) return -1;
        Py_UCS1 *dst = PyUnicode_1BYTE_DATA(w);
        for (Py_ssize_t k = i; k < j; k++) {
            Py_UCS4 ch = PyUnicode_READ(kind, data, k);
            dst[k - i] = (Py_UCS1)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
        }
    } else {
        PyObject *run = PyUnicode_Substring(text, i, j);
        if (!run) return -1;
        w = PyObject_CallMethod(run, "lower", NULL);
        Py_DECREF(run);
        if (!w) return -1;
    }
    int a = PySet_Contains(en, w), b = a < 0 ? -1 : PySet_Contains(foreign, w);
    Py_DECREF(w);
    if (a < 0 || b < 0) return -1;
    c->words++;
    c->en += a;
    c->foreign += b;
    return 0;
}

/* stopword_counts' pass over a text of one `kind` (a constant where it is inlined, so that
 * each kind gets a loop of its own: reading a character through the kind was most of the
 * pass). An ASCII run is lowered and hashed (vocab_hash) as it is read; one longer than
 * every word of both tables is not looked up. 0, or -1 with an exception set. */
static inline ALWAYS_INLINE int stop_pass(
    PyObject *text, int kind, const void *data, Py_ssize_t n, PyObject *en, PyObject *foreign,
    const char *t_en, const char *t_for, StopCounts *c) {
    Py_ssize_t longest = 0;
    if (t_en) {
        longest = vocab_longest(t_en);
        if (vocab_longest(t_for) > longest) longest = vocab_longest(t_for);
    }
    Py_ssize_t i = 0;
    unsigned char buf[256];
    while (i < n) {
        if (!IS_LETTER(PyUnicode_READ(kind, data, i))) {
            i++;
            continue;
        }
        Py_ssize_t j = i;
        int ascii = 1;
        uint64_t h = FNV_OFFSET;
        while (j < n) {
            Py_UCS4 ch = PyUnicode_READ(kind, data, j);
            if (ch < 128) {
                if (!(ascii_class[ch] & A_LETTER)) break;
                unsigned char lc = (unsigned char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
                if (j - i < 256) buf[j - i] = lc;
                h = (h ^ lc) * FNV_PRIME;
            } else {
                if (!IS_LETTER(ch)) break;
                ascii = 0;
            }
            j++;
        }
        if (ascii && t_en && j - i <= 255) {
            Py_ssize_t len = j - i;
            c->words++;
            if (len <= longest) {
                h = HASH_FINISH(h);
                c->en += vocab_find(t_en, h, buf, len) >= 0;
                c->foreign += vocab_find(t_for, h, buf, len) >= 0;
            }
        } else if (count_run_in_sets(text, kind, data, i, j, ascii, en, foreign, c) < 0) {
            return -1;
        }
        i = j;
    }
    return 0;
}

/* (words, in `en`, in `foreign`) over the lower-cased letter runs of a text: what
 * clean.is_english counts, without a list of words. Runs of ASCII letters are lower-cased
 * here; any other run by str.lower(), as the Python code does. With vocab_tables of the
 * two sets' words (`en_table`, `foreign_table`), an ASCII run is looked up there, without
 * building a str object and hashing it twice (the sets' non-ASCII words can only match
 * non-ASCII runs, which the sets answer). */
static PyObject *stopword_counts(PyObject *self, PyObject *args) {
    PyObject *text, *en, *foreign, *oen = NULL, *ofor = NULL;
    if (!PyArg_ParseTuple(args, "UOO|OO", &text, &en, &foreign, &oen, &ofor)) return NULL;
    if (!PyAnySet_Check(en) || !PyAnySet_Check(foreign)) {
        PyErr_SetString(PyExc_TypeError, "stopword_counts: expected sets");
        return NULL;
    }
    const char *t_en = NULL, *t_for = NULL;
    if (oen || ofor) {
        if (!oen || !ofor) {
            PyErr_SetString(PyExc_TypeError, "stopword_counts: give both tables or neither");
            return NULL;
        }
        if (!(t_en = vocab_base(oen, "stopword_counts"))) return NULL;
        if (!(t_for = vocab_base(ofor, "stopword_counts"))) return NULL;
    }
    int kind;
    const void *data;
    Py_ssize_t n;
    if (text_arg(text, "stopword_counts", &kind, &data, &n) < 0) return NULL;
    StopCounts c = {0, 0, 0};
    int rc;
    if (kind == PyUnicode_1BYTE_KIND)
        rc = stop_pass(text, PyUnicode_1BYTE_KIND, data, n, en, foreign, t_en, t_for, &c);
    else if (kind == PyUnicode_2BYTE_KIND)
        rc = stop_pass(text, PyUnicode_2BYTE_KIND, data, n, en, foreign, t_en, t_for, &c);
    else
        rc = stop_pass(text, PyUnicode_4BYTE_KIND, data, n, en, foreign, t_en, t_for, &c);
    if (rc < 0) return NULL;
    return Py_BuildValue("nnn", c.words, c.en, c.foreign);
}

/* tokens.CODE_* flags (tokens._code_of), one byte per token string. */
enum { CODE_END = 1, CODE_LOWER = 2, CODE_UPPER = 4, CODE_ACRONYM = 8, CODE_OPENER = 16,
       CODE_WORD = 32 };

/* code_of an ASCII token (most of them), with comparisons instead of Python's
 * character-class functions: the same flags. */
static int code_of_ascii(const Py_UCS1 *d, Py_ssize_t n) {
    Py_UCS1 c = d[0];
    int code = 0;
    int lower = c >= 'a' && c <= 'z', upper = c >= 'A' && c <= 'Z';
    if (n == 1 && (c == '.' || c == '!' || c == '?')) code |= CODE_END;
    if (lower) code |= CODE_LOWER;
    if (upper) {
        code |= CODE_UPPER;
        if (n > 1) { /* no lower-case letter (the first is a capital) */
            Py_ssize_t k = 1;
            while (k < n && !(d[k] >= 'a' && d[k] <= 'z')) k++;
            if (k == n) code |= CODE_ACRONYM;
        }
    }
    if (n == 1 && (c == '"' || c == '\'' || c == '(' || c == '[' || c == ':' || c == '-' ||
                   c == '.' || c == '!' || c == '?'))
        code |= CODE_OPENER;
    if (!(c >= '0' && c <= '9') && (n > 1 || lower || upper))
        code |= CODE_WORD;
    return code;
}

static int code_of(PyObject *t) {
    int kind = PyUnicode_KIND(t);
    const void *data = PyUnicode_DATA(t);
    Py_ssize_t n = PyUnicode_GET_LENGTH(t);
    if (n == 0) return 0;
    if (PyUnicode_IS_ASCII(t)) return code_of_ascii(PyUnicode_1BYTE_DATA(t), n);
    Py_UCS4 c = PyUnicode_READ(kind, data, 0);
    int code = 0;
    if (n == 1 && (c == '.' || c == '!' || c == '?')) code |= CODE_END;
    /* str.islower() / str.isupper() of one character are Py_UNICODE_ISLOWER / ISUPPER. */
    if (Py_UNICODE_ISLOWER(c)) code |= CODE_LOWER;
    if (Py_UNICODE_ISUPPER(c)) {
        code |= CODE_UPPER;
        if (n > 1) { /* t.isupper(): no lower or title case letter, and some upper case */
            int cased = 0, ok = 1;
            for (Py_ssize_t k = 0; k < n; k++) {
                Py_UCS4 d = PyUnicode_READ(kind, data, k);
                if (Py_UNICODE_ISLOWER(d) || Py_UNICODE_ISTITLE(d)) {
                    ok = 0;
                    break;
                }
                if (Py_UNICODE_ISUPPER(d)) cased = 1;
            }
            if (ok && cased) code |= CODE_ACRONYM;
        }
    }
    if (n == 1 && (c == '"' || c == '\'' || c == '(' || c == '[' || c == 0x201C ||
                   c == 0x2018 || c == ':' || c == '-' || c == 0x2013 || c == 0x2014 ||
                   c == '.' || c == '!' || c == '?'))
        code |= CODE_OPENER;
    if (!Py_UNICODE_ISDECIMAL(c) && (n > 1 || (Py_UNICODE_ISALNUM(c) && c != '_')))
        code |= CODE_WORD;
    return code;
}

static PyObject *token_codes(PyObject *self, PyObject *arg) {
    if (!PyList_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "token_codes: expected a list of str");
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(arg);
    PyObject *out = PyByteArray_FromStringAndSize(NULL, n);
    if (!out) return NULL;
    uint8_t *buf = (uint8_t *)PyByteArray_AS_STRING(out);
    for (Py_ssize_t k = 0; k < n; k++) {
        PyObject *t = PyList_GET_ITEM(arg, k);
        if (!PyUnicode_Check(t) || PyUnicode_READY(t) < 0) {
            if (!PyErr_Occurred())
                PyErr_Format(PyExc_TypeError, "token_codes: item %zd is not str", k);
            Py_DECREF(out);
            return NULL;
        }
        buf[k] = (uint8_t)code_of(t);
    }
    return out;
}

/* Does the text hold a carriage return or a character of clean._JUNK (what clean's
 * control stage edits)? */
static inline int is_junk(Py_UCS4 c) {
    if (c < 0x20) return c != '\t' && c != '\n';
    if (c < 0x7f) return 0;
    if (c <= 0x9f || c == 0xad) return 1;
    if (c < 0x061c) return 0;
    return c == 0x061c || c == 0x180e || (c >= 0x200b && c <= 0x200f) ||
           (c >= 0x202a && c <= 0x202e) || (c >= 0x2060 && c <= 0x206f) || c == 0xfeff ||
           (c >= 0xfff9 && c <= 0xfffb) || (c >= 0xfdd0 && c <= 0xfdef) || c == 0xfffe ||
           c == 0xffff || (c >= 0xd800 && c <= 0xdfff);
}

static PyObject *has_controls(PyObject *self, PyObject *arg) {
    int kind;
    const void *data;
    Py_ssize_t n;
    if (text_arg(arg, "has_controls", &kind, &data, &n) < 0) return NULL;
    if (kind == PyUnicode_1BYTE_KIND) {
        const uint8_t *s = (const uint8_t *)data;
        for (Py_ssize_t i = 0; i < n; i++)
            if ((s[i] < 0x20 && s[i] != '\t' && s[i] != '\n') || (s[i] >= 0x7f && s[i] <= 0x9f) ||
                s[i] == 0xad)
                Py_RETURN_TRUE;
        Py_RETURN_FALSE;
    }
    for (Py_ssize_t i = 0; i < n; i++)
        if (is_junk(PyUnicode_READ(kind, data, i))) Py_RETURN_TRUE;
    Py_RETURN_FALSE;
}

/* (visible, bad, letters, others) of clean._counts' ASCII part: its ASCII characters that
 * are not white space (\s), that are controls other than \t \n \r ([\x00-\x08\x0b\x0c
 * \x0e-\x1f\x7f]) and that are letters; `others` is the text's non-ASCII characters, in
 * order, as a str (clean._counts looks at those one by one). One pass, where the Python
 * code encoded the text and ran three bytes.translate passes and a regular expression. */
static PyObject *ascii_counts(PyObject *self, PyObject *arg) {
    int kind;
    const void *data;
    Py_ssize_t n, visible = 0, bad = 0, letters = 0, nother = 0;
    if (text_arg(arg, "ascii_counts", &kind, &data, &n) < 0) return NULL;
    Py_UCS4 maxchar = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (c >= 128) {
            nother++;
            if (c > maxchar) maxchar = c;
            continue;
        }
        unsigned char k = ascii_class[c];
        visible += !(k & A_SPACE);
        letters += (k & A_LETTER) != 0;
        bad += c <= 0x08 || c == 0x0b || c == 0x0c || (c >= 0x0e && c <= 0x1f) || c == 0x7f;
    }
    PyObject *others = PyUnicode_New(nother, maxchar);
    if (!others) return NULL;
    if (nother) {
        int okind = PyUnicode_KIND(others);
        void *odata = PyUnicode_DATA(others);
        Py_ssize_t j = 0;
        for (Py_ssize_t i = 0; i < n; i++) {
            Py_UCS4 c = PyUnicode_READ(kind, data, i);
            if (c >= 128) PyUnicode_WRITE(okind, odata, j++, c);
        }
    }
    return Py_BuildValue("nnnN", visible, bad, letters, others);
}

/* index.get(t, unk) into *id: ASCII words in the vocab_table `base` when given (see
 * lookup_ids), others in the dict. -1 with an exception set on error. */
static int id_of(PyObject *t, PyObject *index, long long unk, const char *base, int64_t *id) {
    if (base && PyUnicode_Check(t) && PyUnicode_IS_ASCII(t) && PyUnicode_GET_LENGTH(t) <= 255) {
        const unsigned char *d = PyUnicode_1BYTE_DATA(t);
        Py_ssize_t len = PyUnicode_GET_LENGTH(t);
        int64_t found = vocab_find(base, vocab_hash(d, len), d, len);
        *id = found >= 0 ? found : unk;
        return 0;
    }
    PyObject *v = PyDict_GetItemWithError(index, t);
    if (!v) {
        if (PyErr_Occurred()) return -1;
        *id = unk;
        return 0;
    }
    long long x = PyLong_AsLongLong(v);
    if (x == -1 && PyErr_Occurred()) return -1;
    *id = x;
    return 0;
}

/* `[index.get(w, unk) for w in words]` as int64 (lm.NGramLM.ids). */
static PyObject *lookup_ids(PyObject *self, PyObject *args) {
    PyObject *index, *words, *table = NULL;
    long long unk;
    if (!PyArg_ParseTuple(args, "O!O!L|O", &PyDict_Type, &index, &PyList_Type, &words, &unk,
                          &table))
        return NULL;
    /* With a vocab_table of the same vocabulary: ASCII words there, others in the dict. */
    const char *base = NULL;
    if (table && !(base = vocab_base(table, "lookup_ids"))) return NULL;
    Py_ssize_t n = PyList_GET_SIZE(words);
    PyObject *out = PyByteArray_FromStringAndSize(NULL, n * (Py_ssize_t)sizeof(int64_t));
    if (!out) return NULL;
    int64_t *buf = (int64_t *)PyByteArray_AS_STRING(out);
    for (Py_ssize_t k = 0; k < n; k++) {
        if (id_of(PyList_GET_ITEM(words, k), index, unk, base, &buf[k]) < 0) {
            Py_DECREF(out);
            return NULL;
        }
    }
    return out;
}

/* vocab_table(words) -> capsule: the ASCII words of a vocabulary (id = position in the list)
 * in an open-addressing table for lookup_ids (a capsule, so that no other bytes can pass
 * for one and be read out of bounds). Layout (native ints): int64 nslots (a power of two,
 * at least 1.25 slots a word), int64 pool size, int64 length of the longest word, 8 bytes
 * unused (VOCAB_HEADER), then nslots VocabSlots, then the pool: the
 * bytes after the eighth of each longer word. Words longer than 255 bytes or not ASCII stay
 * out (lookup_ids asks the dict for those). */
static void vocab_table_free(PyObject *capsule) {
    free(PyCapsule_GetPointer(capsule, VOCAB_CAPSULE));
}

static PyObject *vocab_table(PyObject *self, PyObject *arg) {
    if (!PyList_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "vocab_table: expected a list of str");
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(arg), pool = 0, nwords = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *w = PyList_GET_ITEM(arg, i);
        if (!PyUnicode_Check(w)) {
            PyErr_SetString(PyExc_TypeError, "vocab_table: expected a list of str");
            return NULL;
        }
        if (PyUnicode_IS_ASCII(w) && PyUnicode_GET_LENGTH(w) <= 255) {
            if (PyUnicode_GET_LENGTH(w) > 8) pool += PyUnicode_GET_LENGTH(w) - 8;
            nwords++;
        }
    }
    if (pool >= (Py_ssize_t)0xFFFFFF || n > INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "vocab_table: vocabulary too large");
        return NULL;
    }
    Py_ssize_t nslots = 1024;
    while (nslots < nwords + nwords / 4 + 2) nslots *= 2;
    Py_ssize_t size = VOCAB_HEADER + nslots * 16 + pool;
    char *base = malloc((size_t)size);
    if (!base) return PyErr_NoMemory();
    memset(base, 0, (size_t)(VOCAB_HEADER + nslots * 16));
    int64_t hdr[3] = {nslots, pool, 0};
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *w = PyList_GET_ITEM(arg, i);
        if (PyUnicode_IS_ASCII(w) && PyUnicode_GET_LENGTH(w) <= 255 &&
            PyUnicode_GET_LENGTH(w) > hdr[2])
            hdr[2] = PyUnicode_GET_LENGTH(w);
    }
    memcpy(base, hdr, sizeof(hdr));
    VocabSlot *slots = (VocabSlot *)(base + VOCAB_HEADER);
    unsigned char *pl = (unsigned char *)(base + VOCAB_HEADER + nslots * 16);
    uint32_t at = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *w = PyList_GET_ITEM(arg, i);
        if (!PyUnicode_IS_ASCII(w) || PyUnicode_GET_LENGTH(w) > 255) continue;
        Py_ssize_t len = PyUnicode_GET_LENGTH(w);
        const unsigned char *d = PyUnicode_1BYTE_DATA(w);
        uint64_t k = vocab_hash(d, len) & (uint64_t)(nslots - 1);
        while (slots[k].meta != 0 && !slot_holds(&slots[k], pl, d, len))
            k = (k + 1) & (uint64_t)(nslots - 1);
        slots[k].id = (int32_t)i; /* a repeated word: its last id, as dict(zip(words, ids)) */
        if (slots[k].meta != 0) continue;
        slots[k].meta = ((uint32_t)len << 24) | (at + 1);
        memcpy(slots[k].head, d, len < 8 ? (size_t)len : 8);
        if (len > 8) {
            memcpy(pl + at, d + 8, (size_t)(len - 8));
            at += (uint32_t)(len - 8);
        }
    }
    PyObject *out = PyCapsule_New(base, VOCAB_CAPSULE, vocab_table_free);
    if (!out) free(base);
    return out;
}

/* token_starts(text): the offset of each token of find_tokens(text), as int64 bytes. The
 * same scan as find_tokens without building the strings: for the spans' offsets, which
 * took a UTF-32 copy of the text and a table look-up per character in numpy. */
static PyObject *token_starts(PyObject *self, PyObject *arg) {
    int kind;
    const void *data;
    Py_ssize_t n;
    if (text_arg(arg, "token_starts", &kind, &data, &n) < 0) return NULL;
    Py_ssize_t cap = 64, m = 0;
    int64_t *buf = malloc((size_t)cap * sizeof(int64_t));
    if (!buf) return PyErr_NoMemory();
    Py_ssize_t i = 0, a;
    while (next_token(kind, data, n, &i, &a)) {
        if (m == cap) {
            cap *= 2;
            int64_t *grown = realloc(buf, (size_t)cap * sizeof(int64_t));
            if (!grown) {
                free(buf);
                return PyErr_NoMemory();
            }
            buf = grown;
        }
        buf[m++] = a;
    }
    PyObject *out = PyBytes_FromStringAndSize((const char *)buf, m * (Py_ssize_t)sizeof(int64_t));
    free(buf);
    return out;
}

/* One token lower-cased as lower_tokens does it (a new reference, NULL on error): an ASCII
 * token with no capital is returned as it is, one with capitals is lowered here, any other
 * goes through str.lower (and U+2019 becomes ' when `straight`). */
static PyObject *lower_one(PyObject *t, int straight) {
    if (PyUnicode_IS_ASCII(t)) {
        const Py_UCS1 *c = PyUnicode_1BYTE_DATA(t);
        Py_ssize_t len = PyUnicode_GET_LENGTH(t), i = 0;
        while (i < len && !(c[i] >= 'A' && c[i] <= 'Z')) i++;
        if (i == len) {
            Py_INCREF(t);
            return t;
        }
        PyObject *low = PyUnicode_New(len, 127);
        if (low) {
            Py_UCS1 *d = PyUnicode_1BYTE_DATA(low);
            for (Py_ssize_t j = 0; j < len; j++)
                d[j] = (c[j] >= 'A' && c[j] <= 'Z') ? (Py_UCS1)(c[j] + 32) : c[j];
        }
        return low;
    }
    PyObject *low = PyObject_CallMethod(t, "lower", NULL);
    if (low && straight && PyUnicode_FindChar(low, 0x2019, 0, PyUnicode_GET_LENGTH(low), 1) >= 0) {
        PyObject *curly = PyUnicode_FromOrdinal(0x2019);
        PyObject *plain = curly ? PyUnicode_FromOrdinal('\'') : NULL;
        PyObject *fixed = plain ? PyUnicode_Replace(low, curly, plain, -1) : NULL;
        Py_XDECREF(curly);
        Py_XDECREF(plain);
        Py_DECREF(low);
        low = fixed;
    }
    return low;
}

/* lower_tokens(tokens, straight_quotes): [t.lower() for t in tokens], with U+2019 made a
 * straight apostrophe when straight_quotes: what tokens.lower_tokens gives. An ASCII token
 * with no capital is returned as it is (no copy: most tokens), one with capitals is
 * lowered here; any other goes through str.lower (its special cases: final sigma, dotted
 * capital I). The Python code joined the tokens, lowered and split them again. */
static PyObject *lower_tokens(PyObject *self, PyObject *args) {
    PyObject *tokens;
    int straight;
    if (!PyArg_ParseTuple(args, "O!p", &PyList_Type, &tokens, &straight)) return NULL;
    Py_ssize_t n = PyList_GET_SIZE(tokens);
    PyObject *out = PyList_New(n);
    if (!out) return NULL;
    for (Py_ssize_t k = 0; k < n; k++) {
        PyObject *t = PyList_GET_ITEM(tokens, k);
        if (!PyUnicode_Check(t) || PyUnicode_READY(t) < 0) {
            if (!PyErr_Occurred())
                PyErr_Format(PyExc_TypeError, "lower_tokens: item %zd is not str", k);
            Py_DECREF(out);
            return NULL;
        }
        PyObject *low = lower_one(t, straight);
        if (!low) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, k, low);
    }
    return out;
}

/* A character of clean._CP1252_CONT (what follows the lead byte of UTF-8 read as cp1252). */
static inline int is_cp1252_cont(Py_UCS4 c) {
    if (c >= 0x80 && c <= 0xbf) return 1;
    switch (c) {
    case 0x152: case 0x153: case 0x160: case 0x161: case 0x178: case 0x17d: case 0x17e:
    case 0x192: case 0x2c6: case 0x2dc: case 0x2013: case 0x2014: case 0x2026: case 0x2030:
    case 0x2039: case 0x203a: case 0x20ac: case 0x2122: case 0xfffd: case ' ':
        return 1;
    default:
        return (c >= 0x2018 && c <= 0x201a) || (c >= 0x201c && c <= 0x201e) ||
               (c >= 0x2020 && c <= 0x2022);
    }
}

/* maybe_mojibake(text): whether clean._MOJI_HINT finds anything in the text (the mojibake
 * stage has nothing to do otherwise): one pass instead of the regular expression's, which
 * was a few per cent of a clean `check` on text with a curly quote or a dash. */
static PyObject *maybe_mojibake(PyObject *self, PyObject *arg) {
    int kind;
    const void *data;
    Py_ssize_t n;
    if (text_arg(arg, "maybe_mojibake", &kind, &data, &n) < 0) return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (c < 0x80) {
            if (c == 0x1b) Py_RETURN_TRUE;
            continue;
        }
        if (c <= 0x9f || (c >= 0xfb00 && c <= 0xfb06) || (c >= 0xd800 && c <= 0xdfff))
            Py_RETURN_TRUE;
        if (c >= 0xc2 && c <= 0xf4 && i + 1 < n) {
            Py_UCS4 d = PyUnicode_READ(kind, data, i + 1);
            /* A space after à..ô (a longer sequence's lead) only with a continuation
             * after it (see clean._MOJI_HINT). */
            if (d == ' ' && c >= 0xe0) {
                if (i + 2 < n && is_cp1252_cont(PyUnicode_READ(kind, data, i + 2)))
                    Py_RETURN_TRUE;
            } else if (is_cp1252_cont(d)) {
                Py_RETURN_TRUE;
            }
        }
    }
    Py_RETURN_FALSE;
}

/* An ASCII token of at most FAST_TOKEN characters: read into `orig` (as it is) and `low`
 * (A-Z lowered); 1 if it is one (*upper: it holds a capital), else 0. */
#define FAST_TOKEN 64
static inline ALWAYS_INLINE int ascii_token(int kind, const void *data, Py_ssize_t a, Py_ssize_t len,
                              unsigned char *orig, unsigned char *low, int *upper) {
    if (len > FAST_TOKEN) return 0;
    int up = 0;
    for (Py_ssize_t k = 0; k < len; k++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, a + k);
        if (c >= 128) return 0;
        int cap = c >= 'A' && c <= 'Z';
        up |= cap;
        orig[k] = (unsigned char)c;
        low[k] = (unsigned char)(cap ? c + 32 : c);
    }
    *upper = up;
    return 1;
}

/* A new ASCII str of len bytes. */
static inline PyObject *ascii_str(const unsigned char *d, Py_ssize_t len) {
    PyObject *s = PyUnicode_New(len, 127);
    if (s) memcpy(PyUnicode_1BYTE_DATA(s), d, (size_t)len);
    return s;
}

/* Per token of one text, what token_pass's passes over it pass on (see there). */
typedef struct {
    Py_ssize_t a, len;
    Py_ssize_t at;   /* where its bytes (as they are, and lowered) start in the buffers */
    uint64_t hash;
    int64_t found;   /* its id in the vocab_table, or -1 */
    int fast, upper; /* an ASCII token of at most FAST_TOKEN characters; with a capital */
} TokenSlot;

/* token_pass's first step over a text of one `kind` (a constant where it is inlined: a
 * loop per kind, as in stop_pass): its tokens into *ts (grown as needed), the fast ones'
 * bytes into `ob` and `lb` (as they are, lowered; at most n bytes), their hashes, and with
 * a vocab_table (`slots`) their slots fetched. The number of tokens, or -1 (MemoryError). */
static inline ALWAYS_INLINE Py_ssize_t split_tokens(int kind, const void *data, Py_ssize_t n,
                                                    TokenSlot **ts, Py_ssize_t *tcap,
                                                    unsigned char *ob, unsigned char *lb,
                                                    const VocabSlot *slots, int64_t nslots) {
    Py_ssize_t i = 0, a, nk = 0, used = 0;
    while (next_token(kind, data, n, &i, &a)) {
        if (nk == *tcap) {
            TokenSlot *t2 = realloc(*ts, (size_t)(2 * *tcap) * sizeof(TokenSlot));
            if (!t2) {
                PyErr_NoMemory();
                return -1;
            }
            *ts = t2;
            *tcap *= 2;
        }
        TokenSlot *t = &(*ts)[nk++];
        t->a = a;
        t->len = i - a;
        t->found = -1;
        t->at = used;
        t->fast = ascii_token(kind, data, a, t->len, ob + used, lb + used, &t->upper);
        if (t->fast) {
            used += t->len;
            if (slots) {
                t->hash = vocab_hash(lb + t->at, t->len);
                PREFETCH(&slots[t->hash & (uint64_t)(nslots - 1)]);
            }
        }
    }
    return nk;
}

/* The table's answer for a fast token (its slot fetched before), its item of `items`
 * fetched. */
#define WORD_AHEAD 8
static inline void answer(TokenSlot *t, const char *base, const unsigned char *lb,
                          PyObject *const *items, Py_ssize_t nwords) {
    if (!t->fast) return;
    t->found = vocab_find(base, t->hash, lb + t->at, t->len);
    if (items && t->found >= 0 && t->found < nwords) PREFETCH(&items[t->found]);
}

/* token_pass(texts, straight_quotes[, index, unk, table[, words]]) -> (tokens, norms, codes,
 * ids, starts): for each text its find_tokens list (`tokens`, a list per text), and for all
 * their tokens in order the lower_tokens forms, the token_codes bytes, with a vocabulary the
 * lookup_ids bytes of the forms (else None), and the token_starts bytes (offsets in their
 * own text). One pass instead of four over the batch's tokens (tokens.token_pass).
 *
 * With `words`, the vocabulary's words as a list (the table's id = position), an ASCII
 * token found in the table takes the list's own str as its normalised form (and as the
 * token too when it has no capital) instead of a new one; the list's word is checked
 * against the token (a wrong list costs speed, never a wrong form). Each text is gone over
 * in steps, each fetching what the next one reads (the table's slot, the list's item, the
 * word): a table of 200,000 words and its str objects lie far outside the CPU's caches,
 * and one token at a time each lookup waited for its cache misses in turn. */
static PyObject *token_pass(PyObject *self, PyObject *args) {
    PyObject *texts, *index = NULL, *table = NULL, *words = NULL;
    int straight;
    long long unk = 0;
    if (!PyArg_ParseTuple(args, "O!p|O!LOO!", &PyList_Type, &texts, &straight, &PyDict_Type,
                          &index, &unk, &table, &PyList_Type, &words))
        return NULL;
    const char *base = NULL;
    if (table && table != Py_None && !(base = vocab_base(table, "token_pass"))) return NULL;
    int64_t nslots = 0;
    const VocabSlot *slots = NULL;
    if (base) {
        memcpy(&nslots, base, 8);
        slots = (const VocabSlot *)(base + VOCAB_HEADER);
    }
    Py_ssize_t nwords = words ? PyList_GET_SIZE(words) : 0;
    PyObject **items = words ? ((PyListObject *)words)->ob_item : NULL;
    Py_ssize_t nt = PyList_GET_SIZE(texts), cap = 1024, m = 0, tcap = 256;
    PyObject *per = PyList_New(nt), *norms = PyList_New(0);
    uint8_t *codes = malloc((size_t)cap);
    int64_t *ids = malloc((size_t)cap * sizeof(int64_t));
    int64_t *starts = malloc((size_t)cap * sizeof(int64_t));
    TokenSlot *ts = malloc((size_t)tcap * sizeof(TokenSlot));
    /* The fast tokens' bytes of one text, as they are and lowered (at most its length). */
    Py_ssize_t bcap = 4096;
    unsigned char *ob = malloc((size_t)bcap), *lb = malloc((size_t)bcap);
    if (!per || !norms || !codes || !ids || !starts || !ts || !ob || !lb) goto fail;
    for (Py_ssize_t d = 0; d < nt; d++) {
        PyObject *text = PyList_GET_ITEM(texts, d);
        int kind;
        const void *data;
        Py_ssize_t n;
        if (text_arg(text, "token_pass", &kind, &data, &n) < 0) goto fail;
        PyObject *toks = PyList_New(0);
        if (!toks) goto fail;
        PyList_SET_ITEM(per, d, toks);
        /* 1: the tokens, the hashes of the ASCII ones' forms; their slots fetched. */
        if (n > bcap) {
            while (n > bcap) bcap *= 2;
            unsigned char *o2 = realloc(ob, (size_t)bcap);
            if (o2) ob = o2;
            unsigned char *l2 = o2 ? realloc(lb, (size_t)bcap) : NULL;
            if (l2) lb = l2;
            if (!o2 || !l2) {
                PyErr_NoMemory();
                goto fail;
            }
        }
        Py_ssize_t nk;
        if (kind == PyUnicode_1BYTE_KIND)
            nk = split_tokens(PyUnicode_1BYTE_KIND, data, n, &ts, &tcap, ob, lb, slots, nslots);
        else if (kind == PyUnicode_2BYTE_KIND)
            nk = split_tokens(PyUnicode_2BYTE_KIND, data, n, &ts, &tcap, ob, lb, slots, nslots);
        else
            nk = split_tokens(PyUnicode_4BYTE_KIND, data, n, &ts, &tcap, ob, lb, slots, nslots);
        if (nk < 0) goto fail;
        if (m + nk > cap) {
            while (m + nk > cap) cap *= 2;
            uint8_t *c2 = realloc(codes, (size_t)cap);
            if (c2) codes = c2;
            int64_t *i2 = c2 ? realloc(ids, (size_t)cap * sizeof(int64_t)) : NULL;
            if (i2) ids = i2;
            int64_t *s2 = i2 ? realloc(starts, (size_t)cap * sizeof(int64_t)) : NULL;
            if (s2) starts = s2;
            if (!c2 || !i2 || !s2) {
                PyErr_NoMemory();
                goto fail;
            }
        }
        /* 2: the table's answers for the first tokens (the others in step 3's loop). */
        Py_ssize_t answered = 0;
        if (base)
            for (; answered < nk && answered < 2 * WORD_AHEAD; answered++)
                answer(&ts[answered], base, lb, items, nwords);
        /* 3: the objects, codes and ids, while the table answers for a token further on
         * (fetching its item of `words`) and the word of a token nearer is fetched. */
        for (Py_ssize_t k = 0; k < nk; k++) {
            if (base) {
                if (answered < nk) answer(&ts[answered++], base, lb, items, nwords);
                if (items && k + WORD_AHEAD < nk) {
                    int64_t f = ts[k + WORD_AHEAD].found;
                    if (f >= 0 && f < nwords) PREFETCH(items[f]);
                }
            }
            TokenSlot *t = &ts[k];
            Py_ssize_t len = t->len;
            int rc = 0;
            PyObject *tok = NULL, *low = NULL;
            if (t->fast) {
                const unsigned char *orig = ob + t->at, *lowb = lb + t->at;
                if (t->found >= 0 && t->found < nwords) {
                    PyObject *w = items[t->found];
                    if (PyUnicode_Check(w) && PyUnicode_IS_ASCII(w) &&
                        PyUnicode_GET_LENGTH(w) == len && same_bytes(PyUnicode_1BYTE_DATA(w), lowb, len))
                        low = Py_NewRef(w);
                }
                if (!low) low = ascii_str(lowb, len);
                tok = !low ? NULL : t->upper ? ascii_str(orig, len) : Py_NewRef(low);
                if (tok) {
                    codes[m] = (uint8_t)code_of_ascii(orig, len);
                    if (index) {
                        if (base)
                            ids[m] = t->found >= 0 ? t->found : unk;
                        else
                            rc = id_of(low, index, unk, NULL, &ids[m]);
                    }
                }
            } else {
                tok = PyUnicode_Substring(text, t->a, t->a + len);
                low = tok ? lower_one(tok, straight) : NULL;
                if (low) {
                    codes[m] = (uint8_t)code_of(tok);
                    if (index) rc = id_of(low, index, unk, base, &ids[m]);
                }
            }
            starts[m] = t->a;
            if (tok && low && rc == 0) rc = PyList_Append(toks, tok);
            if (tok && low && rc == 0) rc = PyList_Append(norms, low);
            Py_XDECREF(tok);
            Py_XDECREF(low);
            if (!tok || !low || rc < 0) goto fail;
            m++;
        }
    }
    free(ts);
    free(ob);
    free(lb);
    ts = NULL;
    PyObject *ocodes = PyByteArray_FromStringAndSize((const char *)codes, m);
    PyObject *oids = ocodes ? (index ? PyByteArray_FromStringAndSize(
                                           (const char *)ids, m * (Py_ssize_t)sizeof(int64_t))
                                     : Py_NewRef(Py_None))
                            : NULL;
    PyObject *ostarts = oids ? PyByteArray_FromStringAndSize(
                                   (const char *)starts, m * (Py_ssize_t)sizeof(int64_t))
                             : NULL;
    free(codes);
    free(ids);
    free(starts);
    if (!ostarts) {
        Py_XDECREF(ocodes);
        Py_XDECREF(oids);
        Py_DECREF(per);
        Py_DECREF(norms);
        return NULL;
    }
    return Py_BuildValue("NNNNN", per, norms, ocodes, oids, ostarts);
fail:
    free(codes);
    free(ids);
    free(starts);
    free(ts);
    free(ob);
    free(lb);
    Py_XDECREF(per);
    Py_XDECREF(norms);
    return NULL;
}

/* boiler_candidates(text, first_words) -> [(start, end), ...]: the lines (split at "\n",
 * each with its "\n") that clean._is_boilerplate_line must look at: at most 300
 * characters, and a first word (clean._LEAD: past the leading characters that are neither
 * letters nor digits, the run of letters) that is one of `first_words` (lower-case ASCII
 * str) once lower-cased, or that involves a character beyond ASCII (left to the Python
 * rule). Every other line is one the rule rejects at its first word: most lines of an
 * article, which the Python loop sliced and matched one by one. */
static PyObject *boiler_candidates(PyObject *self, PyObject *args) {
    PyObject *text, *words;
    if (!PyArg_ParseTuple(args, "UO!", &text, &PyList_Type, &words)) return NULL;
    int kind;
    const void *data;
    Py_ssize_t n;
    if (text_arg(text, "boiler_candidates", &kind, &data, &n) < 0) return NULL;
    Py_ssize_t nw = PyList_GET_SIZE(words);
    for (Py_ssize_t k = 0; k < nw; k++) {
        PyObject *w = PyList_GET_ITEM(words, k);
        if (!PyUnicode_Check(w) || !PyUnicode_IS_ASCII(w)) {
            PyErr_SetString(PyExc_TypeError, "boiler_candidates: words must be ASCII str");
            return NULL;
        }
    }
    PyObject *out = PyList_New(0);
    if (!out) return NULL;
    Py_ssize_t pos = 0;
    while (pos < n) {
        Py_ssize_t end = pos;
        while (end < n && PyUnicode_READ(kind, data, end) != '\n') end++;
        if (end < n) end++;  /* the line keeps its "\n" */
        int keep = 0;
        if (end - pos <= 300) {
            Py_ssize_t i = pos;
            Py_UCS4 c = 0;
            /* [\W_]*: past every character that is not a letter or a digit */
            while (i < end) {
                c = PyUnicode_READ(kind, data, i);
                if (c >= 128 || (c >= '0' && c <= '9') || ((c | 32) >= 'a' && (c | 32) <= 'z'))
                    break;
                i++;
            }
            if (i < end && c >= 128) {
                keep = 1;  /* a character beyond ASCII: the Python rule decides */
            } else if (i < end && !(c >= '0' && c <= '9')) {
                char lead[16];
                Py_ssize_t len = 0;
                while (i < end) {
                    c = PyUnicode_READ(kind, data, i);
                    if (!((c | 32) >= 'a' && (c | 32) <= 'z')) break;
                    if (len < (Py_ssize_t)sizeof lead) lead[len] = (char)(c | 32);
                    len++;
                    i++;
                }
                if (i < end && c >= 128) {
                    keep = 1;  /* the word may go on beyond ASCII */
                } else if (len <= (Py_ssize_t)sizeof lead) {
                    for (Py_ssize_t k = 0; k < nw && !keep; k++) {
                        PyObject *w = PyList_GET_ITEM(words, k);
                        keep = PyUnicode_GET_LENGTH(w) == len &&
                               memcmp(PyUnicode_1BYTE_DATA(w), lead, (size_t)len) == 0;
                    }
                }
            }
        }
        if (keep) {
            PyObject *pair = Py_BuildValue("(nn)", pos, end);
            if (!pair || PyList_Append(out, pair) < 0) {
                Py_XDECREF(pair);
                Py_DECREF(out);
                return NULL;
            }
            Py_DECREF(pair);
        }
        pos = end;
    }
    return out;
}

static PyMethodDef methods[] = {
    {"find_tokens", find_tokens, METH_O, "find_tokens(text): tokens.TOKEN_RE.findall(text)"},
    {"lower_tokens", lower_tokens, METH_VARARGS,
     "lower_tokens(tokens, straight_quotes): tokens.lower_tokens"},
    {"token_starts", token_starts, METH_O,
     "token_starts(text): int64 bytes, the offset of each token of find_tokens(text)"},
    {"stopword_counts", stopword_counts, METH_VARARGS,
     "stopword_counts(text, en, foreign): (words, English, foreign) of clean.is_english"},
    {"token_codes", token_codes, METH_O, "token_codes(tokens): tokens._code_of per token, bytes"},
    {"maybe_mojibake", maybe_mojibake, METH_O,
     "maybe_mojibake(text): whether clean._MOJI_HINT matches anywhere in the text"},
    {"ascii_counts", ascii_counts, METH_O,
     "ascii_counts(text): (visible, bad, letters) of its ASCII characters, and the others"},
    {"has_controls", has_controls, METH_O,
     "has_controls(text): whether clean's control stage has anything to edit"},
    {"lookup_ids", lookup_ids, METH_VARARGS,
     "lookup_ids(index, words, unk[, table]): index.get(w, unk) per word, int64 bytes"},
    {"token_pass", token_pass, METH_VARARGS,
     "token_pass(texts, straight_quotes[, index, unk, table]): (tokens per text, norms, codes, "
     "ids, starts)"},
    {"boiler_candidates", boiler_candidates, METH_VARARGS,
     "boiler_candidates(text, first_words): the lines clean._is_boilerplate_line must read"},
    {"vocab_table", vocab_table, METH_O,
     "vocab_table(words): lookup_ids' table of the ASCII words (id = list position)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_ctext",
    "Compiled text passes for unspin (tokens, token flags, letter runs, control test, ids).",
    -1, methods,
};

PyMODINIT_FUNC PyInit__ctext(void) {
    init_ascii_class();
    return PyModule_Create(&module);
}
