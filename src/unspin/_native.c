/* Optional compiled helper for unspin.lm.NGramLM: n-gram lookups and log-probabilities.
 *
 * Why: the language-model probes were 35-40 % of a `check` on spun text. In numpy, one
 * batch of lookups is a branch-free binary search of five passes over the whole query
 * array, each pass a few temporaries; here each query is one short loop inside a bucket
 * of the sorted fingerprints. The results are the same values, bit for bit, as the numpy
 * code in lm.py (float32 arithmetic in the same order), which stays the reference and the
 * fallback when this module is not built (no C compiler at install time) or when
 * UNSPIN_NATIVE=0.
 *
 * `Model.joint` also runs the decoder's joint step (decode._CompiledJoint): enumerating
 * each cluster's combinations of options, scoring their windows and summing posteriors was
 * half of a spun `restore` in Python, which stays the reference there too.
 * `Model.word_entries` scores the single-word candidates (decode.Decoder._word_entries),
 * `Model.phrase_windows` the language-model part of the multiword ones
 * (decode.Decoder._phrase_scores), and `two_step_best` picks `restore --two-step`'s
 * candidates; the numpy code is the reference for all three, with the same values to the
 * last bit (tests compare them). `group_by_position` groups a chunk's candidates by
 * position (a counting sort; none when they are in order) for decode._logsumexp_by and
 * decode._best_by, whose numpy sorts were a few per cent of checking spun text.
 *
 * The n-gram tables are laid out again when a Model is made (`build_table`: about 30 ms
 * and 25 MB for the shipped model): one cache line per bucket, holding the rest of each
 * fingerprint and its values, matched with SSE2 where there is SSE2. The lookups this
 * serves are most of a `check` on spun text; the file's layout (bucket starts, sorted
 * keys, one array per value) cost three or four cache misses a lookup against one, and
 * `check_many` ran about 1.15x faster for the change (BENCHMARKS.md, session 20). On Linux
 * the lines sit in 2 MB pages where the kernel gives them (madvise): with 4 KB pages most
 * lookups also cost a page walk.
 *
 * Arrays come in through the buffer protocol (no numpy headers needed to build). The
 * caller (lm.py) checks dtypes and shapes; this code checks lengths and id ranges so that
 * a wrong call raises instead of reading out of bounds.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#if defined(__GNUC__) || defined(__clang__)
#define PREFETCH(p) __builtin_prefetch(p)
#else
#define PREFETCH(p) ((void)(p))
#endif

#define BITS 21
#define MIX 0xBF58476D1CE4E5B9ULL

/* One bucket of a table in one 64-byte cache line: the rest (below the bucket's bits) of
 * up to `slots` fingerprints as uint16, then their values: 16 slots of 2-byte values (a
 * bigram's probability and back-off), or 21 slots of 1-byte values (a trigram's). */
typedef struct {
    uint8_t b[64];
} Line;
#define EMPTY_SLOT 0xFFFFu

/* An n-gram table for lookups: the fingerprints (uint32, sorted) as the model file stores
 * them, laid out again when the model is made. Bucket b (the top `bits` bits of a
 * fingerprint, bits >= 17 so that the rest stays below EMPTY_SLOT) is one cache line, so
 * that a lookup costs one cache miss where the file's layout (bucket starts, keys, then
 * one array per value) cost three or four. A bucket that overflows its line keeps the
 * rest in a sorted side table, flagged in a bitmap. The value of a stored n-gram comes
 * back as the lookup's `pos` (callers read no other array): for a bigram (p << 8) | bow,
 * for a trigram p, both quantised indices into `lp` / `bw`. Equal fingerprints (collisions
 * of the 64-bit key) give the first one's value, as the binary search over the file's
 * sorted keys did. */
typedef struct {
    Line *lines;          /* 64-byte aligned, inside `raw` */
    void *raw;
    int bits;             /* buckets: 1 << bits */
    int slots;            /* per line: 16 (2-byte values) or 21 (1-byte values) */
    uint32_t rem_mask;    /* (1 << (32 - bits)) - 1 */
    uint8_t *ovf_bit;     /* per bucket: part of it is in the side table */
    uint32_t *ovf_keys;   /* the side table, sorted */
    uint16_t *ovf_val;
    Py_ssize_t n_ovf;
    Py_ssize_t n;         /* n-grams stored */
} Table;

typedef struct {
    PyObject_HEAD
    Py_buffer bufs[11];
    int nbufs;
    Table t2, t3;
    const float *p1f, *bow1f, *lp, *bw;
    Py_ssize_t vocab;
} Model;

static inline uint32_t fingerprint(uint64_t k) {
    k = (k ^ (k >> 29)) * MIX;
    return (uint32_t)(k >> 32);
}

/* Value of a bigram lookup's `pos`: its probability's and back-off's quantised indices. */
#define P2_OF(pos) ((uint32_t)(pos) >> 8)
#define BOW2_OF(pos) ((uint32_t)(pos) & 0xFFu)

/* Which of a line's slots hold r: MASK_BITS bits a slot, the lowest set bit the first. */
#if defined(__SSE2__)
#include <emmintrin.h>
#define MASK_BITS 2
static inline uint64_t match_mask(const Line *ln, uint16_t r, int slots) {
    __m128i k = _mm_set1_epi16((short)r);
    const __m128i *v = (const __m128i *)ln->b;
    uint64_t m = (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi16(_mm_load_si128(v), k)) |
                 ((uint64_t)(uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi16(_mm_load_si128(v + 1), k))
                  << 16);
    if (slots > 16) {  /* the third block holds 5 more slots, then values */
        uint32_t m3 = (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi16(_mm_load_si128(v + 2), k));
        m |= (uint64_t)(m3 & ((1u << (MASK_BITS * (slots - 16))) - 1u)) << 32;
    }
    return m;
}
#else
#define MASK_BITS 1
static inline uint64_t match_mask(const Line *ln, uint16_t r, int slots) {
    const uint16_t *rem = (const uint16_t *)ln->b;
    uint64_t m = 0;
    for (int i = 0; i < slots; i++) m |= (uint64_t)(rem[i] == r) << i;
    return m;
}
#endif

static inline int lowest_bit(uint64_t m) {  /* m != 0 */
#if defined(__GNUC__) || defined(__clang__)
    return __builtin_ctzll(m);
#else
    int k = 0;
    while (!(m & 1)) {
        m >>= 1;
        k++;
    }
    return k;
#endif
}

static inline uint16_t slot_value(const Table *t, const Line *ln, int i) {
    const uint8_t *vals = ln->b + 2 * t->slots;
    if (t->slots == 16) {
        uint16_t v;
        memcpy(&v, vals + 2 * i, 2);
        return v;
    }
    return vals[i];
}

static inline const Line *line_of(const Table *t, uint32_t q) {
    return &t->lines[q >> (32 - t->bits)];
}

/* 1 if q is stored, its value in *val. */
static inline int find(const Table *t, uint32_t q, int32_t *val) {
    if (t->n == 0) {
        *val = 0;
        return 0;
    }
    uint32_t b = q >> (32 - t->bits);
    const Line *ln = &t->lines[b];
    uint64_t m = match_mask(ln, (uint16_t)(q & t->rem_mask), t->slots);
    if (m) {
        *val = slot_value(t, ln, lowest_bit(m) / MASK_BITS);
        return 1;
    }
    if (t->ovf_bit[b >> 3] & (1u << (b & 7))) {
        Py_ssize_t lo = 0, hi = t->n_ovf;
        while (lo < hi) {
            Py_ssize_t mid = (lo + hi) >> 1;
            if (t->ovf_keys[mid] < q)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < t->n_ovf && t->ovf_keys[lo] == q) {
            *val = t->ovf_val[lo];
            return 1;
        }
    }
    *val = 0;
    return 0;
}

static inline uint32_t pair_fp(uint64_t x, uint64_t y) {
    return fingerprint((x << BITS) | y);
}

static inline uint32_t tri_fp(uint64_t a, uint64_t b, uint64_t c) {
    return fingerprint((a << (2 * BITS)) | (b << BITS) | c);
}

/* Look many fingerprints up. The lookups are independent and each misses the CPU cache
 * once (its line), so the loop runs ahead: it prefetches the line of query i + AHEAD
 * while it finishes query i. */
#define AHEAD 16
static void find_many(const Table *t, const uint32_t *q, Py_ssize_t n, uint8_t *hit,
                      int32_t *pos) {
    if (t->n == 0) {
        memset(hit, 0, (size_t)n);
        memset(pos, 0, (size_t)n * sizeof(int32_t));
        return;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (i + AHEAD < n) PREFETCH(line_of(t, q[i + AHEAD]));
        hit[i] = (uint8_t)find(t, q[i], &pos[i]);
    }
}

/* Lay a table out in lines (see Table) from the file's sorted fingerprints and values
 * (`v1`, and `v2` for a bigram: val = v1 << 8 | v2). Returns -1 with an exception set. */
static int build_table(Table *t, const uint32_t *keys, Py_ssize_t n, const uint8_t *v1,
                       const uint8_t *v2) {
    memset(t, 0, sizeof(*t));
    t->n = n;
    t->slots = v2 ? 16 : 21;
    /* About 10 keys a line of 16, 16 a line of 21: an overflow in a few per cent of them. */
    Py_ssize_t load = v2 ? 10 : 16;
    int bits = 17;
    while (bits < 30 && ((Py_ssize_t)1 << bits) * load < n) bits++;
    t->bits = bits;
    t->rem_mask = (uint32_t)((1u << (32 - bits)) - 1u);
    size_t nlines = (size_t)1 << bits;
    /* Aligned by hand (posix_memalign is not everywhere): a line must not straddle two,
     * and on Linux the lines start a 2 MB page and ask for huge pages (madvise: where the
     * kernel gives them only when asked). Lookups land anywhere in 25 MB, more than the
     * CPU's TLB covers with 4 KB pages: most of them cost a page walk besides the miss. */
    size_t bytes = nlines * sizeof(Line);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    const uintptr_t align = (uintptr_t)2 << 20;
#else
    const uintptr_t align = 64;
#endif
    t->raw = malloc(bytes + align - 1);
    if (!t->raw) {
        PyErr_NoMemory();
        return -1;
    }
    t->lines = (Line *)(((uintptr_t)t->raw + align - 1) & ~(align - 1));
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (bytes >= align)  /* advice only: no huge pages, the same table */
        (void)madvise(t->lines, bytes & ~(size_t)(align - 1), MADV_HUGEPAGE);
#endif
    memset(t->lines, 0xFF, bytes);
    t->ovf_bit = calloc(nlines / 8 + 1, 1);
    uint8_t *fill = calloc(nlines, 1);
    t->ovf_keys = malloc((size_t)(n ? n : 1) * sizeof(uint32_t));
    t->ovf_val = malloc((size_t)(n ? n : 1) * sizeof(uint16_t));
    if (!t->ovf_bit || !fill || !t->ovf_keys || !t->ovf_val) {
        free(fill);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        uint32_t q = keys[i];
        if (i && q < keys[i - 1]) {
            free(fill);
            PyErr_SetString(PyExc_ValueError, "n-gram keys are not sorted");
            return -1;
        }
        uint16_t v = v2 ? (uint16_t)(((uint16_t)v1[i] << 8) | v2[i]) : v1[i];
        size_t b = q >> (32 - bits);
        int k = fill[b];
        if (k < t->slots) {
            uint8_t *line = t->lines[b].b;
            uint16_t r = (uint16_t)(q & t->rem_mask);
            memcpy(line + 2 * k, &r, 2);
            if (v2)
                memcpy(line + 2 * t->slots + 2 * k, &v, 2);
            else
                line[2 * t->slots + k] = (uint8_t)v;
            fill[b]++;
        } else {
            t->ovf_bit[b >> 3] |= (uint8_t)(1u << (b & 7));
            t->ovf_keys[t->n_ovf] = q;
            t->ovf_val[t->n_ovf++] = v;
        }
    }
    free(fill);
    return 0;
}

static void free_table(Table *t) {
    free(t->raw);
    free(t->ovf_bit);
    free(t->ovf_keys);
    free(t->ovf_val);
    memset(t, 0, sizeof(*t));
}

/* Every window of three of each row of an (n, m) id array, from the lookups of its
 * adjacent pairs ((n, m - 1) each). The trigram lookups are gathered and made together.
 * Returns -1 (MemoryError set, GIL needed) if a buffer cannot be allocated. */
static int windows(const Model *md, const int64_t *seq, Py_ssize_t n, Py_ssize_t m,
                   const uint8_t *hit, const int32_t *pos, float *out) {
    Py_ssize_t w = n * (m - 2);
    uint32_t *q3 = malloc((size_t)(w ? w : 1) * sizeof(uint32_t));
    Py_ssize_t *at3 = malloc((size_t)(w ? w : 1) * sizeof(Py_ssize_t));
    uint8_t *h3 = malloc((size_t)(w ? w : 1));
    int32_t *p3 = malloc((size_t)(w ? w : 1) * sizeof(int32_t));
    if (!q3 || !at3 || !h3 || !p3) {
        free(q3); free(at3); free(h3); free(p3);
        return -1;
    }
    Py_ssize_t n3 = 0;
    for (Py_ssize_t r = 0; r < n; r++) {
        const int64_t *s = seq + r * m;
        const uint8_t *h = hit + r * (m - 1);
        const int32_t *p = pos + r * (m - 1);
        float *o = out + r * (m - 2);
        if (r + AHEAD < n) {
            /* The unigram values read below for missed pairs lie scattered over arrays of
             * a few MB: fetch those of a row ahead (see word_entries). */
            Py_ssize_t ra = r + AHEAD;
            const int64_t *sa = seq + ra * m;
            const uint8_t *ha = hit + ra * (m - 1);
            for (Py_ssize_t t = 0; t < m - 1; t++) {
                if (!ha[t]) {
                    PREFETCH(&md->p1f[sa[t + 1]]);
                    PREFETCH(&md->bow1f[sa[t]]);
                }
            }
        }
        for (Py_ssize_t t = 0; t < m - 2; t++) {
            int64_t b = s[t + 1], c = s[t + 2];
            int hit2 = h[t + 1], hitc = h[t];
            float p2 = hit2 ? md->lp[P2_OF(p[t + 1])] : md->bow1f[b] + md->p1f[c];
            float bow2 = hitc ? md->bw[BOW2_OF(p[t])] : 0.0f;
            o[t] = bow2 + p2;
            /* A trigram is stored only if both its bigrams are: probe only there. */
            if (hit2 && hitc) {
                q3[n3] = tri_fp((uint64_t)s[t], (uint64_t)b, (uint64_t)c);
                at3[n3++] = r * (m - 2) + t;
            }
        }
    }
    find_many(&md->t3, q3, n3, h3, p3);
    for (Py_ssize_t k = 0; k < n3; k++) {
        if (h3[k]) out[at3[k]] = md->lp[p3[k]];
    }
    free(q3); free(at3); free(h3); free(p3);
    return 0;
}

/* The lookups of every adjacent pair of each row of an (n, m) id array. */
static int row_pairs(const Model *md, const int64_t *seq, Py_ssize_t n, Py_ssize_t m,
                     uint8_t *hit, int32_t *pos) {
    Py_ssize_t np_ = n * (m - 1);
    uint32_t *q = malloc((size_t)(np_ ? np_ : 1) * sizeof(uint32_t));
    if (!q) return -1;
    for (Py_ssize_t r = 0; r < n; r++)
        for (Py_ssize_t t = 0; t < m - 1; t++)
            q[r * (m - 1) + t] = pair_fp((uint64_t)seq[r * m + t], (uint64_t)seq[r * m + t + 1]);
    find_many(&md->t2, q, np_, hit, pos);
    free(q);
    return 0;
}

/* Every window of three of each row of an (n, m) id array, pairs looked up here.
 * Returns -1 if a buffer cannot be allocated (runs without the GIL). */
static int score_rows(const Model *md, const int64_t *seq, Py_ssize_t n, Py_ssize_t m,
                      float *out) {
    size_t npairs = (size_t)(n * (m - 1)) + 1;
    uint8_t *hit = malloc(npairs);
    int32_t *pos = malloc(npairs * sizeof(int32_t));
    int rc = (hit && pos) ? 0 : -1;
    if (!rc) rc = row_pairs(md, seq, n, m, hit, pos);
    if (!rc) rc = windows(md, seq, n, m, hit, pos, out);
    free(hit);
    free(pos);
    return rc;
}


/* Every window of three of one row of m ids, looked up one at a time: the values of
 * `windows`. For the joint step's short rows, whose n-grams the other combinations of the
 * cluster share (in cache), without `score_rows`' buffers. */
static void score_row_direct(const Model *md, const int64_t *s, Py_ssize_t m, float *out) {
    int32_t pos_ab = 0, pos_bc = 0, pos3 = 0;
    int hit_ab = find(&md->t2, pair_fp((uint64_t)s[0], (uint64_t)s[1]), &pos_ab);
    for (Py_ssize_t t = 0; t + 2 < m; t++) {
        int64_t b = s[t + 1], c = s[t + 2];
        int hit_bc = find(&md->t2, pair_fp((uint64_t)b, (uint64_t)c), &pos_bc);
        float p2 = hit_bc ? md->lp[P2_OF(pos_bc)] : md->bow1f[b] + md->p1f[c];
        float bow2 = hit_ab ? md->bw[BOW2_OF(pos_ab)] : 0.0f;
        float o = bow2 + p2;
        if (hit_bc && hit_ab && find(&md->t3, tri_fp((uint64_t)s[t], (uint64_t)b, (uint64_t)c), &pos3))
            o = md->lp[pos3];
        out[t] = o;
        hit_ab = hit_bc;
        pos_ab = pos_bc;
    }
}

/* numpy's summation order for float64 (`pairwise_sum` in its loops): blocks of eight
 * partial sums, halves above 128 items. `joint` sums in this order so that its results are
 * those of the numpy code in decode.py to the last bit (where numpy's exp is the C
 * library's: on AVX-512 CPUs numpy has its own, which can differ in the last bit). */
static double pairwise(const double *a, Py_ssize_t n) {
    if (n < 8) {
        double res = 0.0;
        for (Py_ssize_t i = 0; i < n; i++) res += a[i];
        return res;
    }
    if (n <= 128) {
        double r[8];
        for (int j = 0; j < 8; j++) r[j] = a[j];
        Py_ssize_t i;
        for (i = 8; i < n - (n % 8); i += 8)
            for (int j = 0; j < 8; j++) r[j] += a[i + j];
        double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++) res += a[i];
        return res;
    }
    Py_ssize_t n2 = n / 2;
    n2 -= n2 % 8;
    return pairwise(a, n2) + pairwise(a + n2, n - n2);
}

/* Work space of `joint_cluster`, grown as needed. */
typedef struct {
    double *ch, *ls, *ch2, *ls2, *lm, *dbl;
    int32_t *chosen, *chosen2, *nch, *nch2, *order;
    int64_t *seq;
    float *lpf;
    Py_ssize_t cap_combos, cap_stride, cap_seq;
} Work;

static void work_free(Work *w) {
    free(w->ch); free(w->ls); free(w->ch2); free(w->ls2); free(w->lm); free(w->dbl);
    free(w->chosen); free(w->chosen2); free(w->nch); free(w->nch2); free(w->order);
    free(w->seq); free(w->lpf);
    memset(w, 0, sizeof(*w));
}

static int work_fit(Work *w, Py_ssize_t combos, Py_ssize_t stride, Py_ssize_t seq) {
    if (combos > w->cap_combos || stride > w->cap_stride) {
        Py_ssize_t c = combos > w->cap_combos ? combos : w->cap_combos;
        Py_ssize_t s = stride > w->cap_stride ? stride : w->cap_stride;
        free(w->ch); free(w->ls); free(w->ch2); free(w->ls2); free(w->lm);
        free(w->chosen); free(w->chosen2); free(w->nch); free(w->nch2); free(w->order);
        w->ch = malloc(c * sizeof(double)); w->ls = malloc(c * sizeof(double));
        w->ch2 = malloc(c * sizeof(double)); w->ls2 = malloc(c * sizeof(double));
        w->lm = malloc(c * sizeof(double));
        w->chosen = malloc(c * s * sizeof(int32_t)); w->chosen2 = malloc(c * s * sizeof(int32_t));
        w->nch = malloc(c * sizeof(int32_t)); w->nch2 = malloc(c * sizeof(int32_t));
        w->order = malloc(c * sizeof(int32_t));
        w->cap_combos = c;
        w->cap_stride = s;
        if (!w->ch || !w->ls || !w->ch2 || !w->ls2 || !w->lm || !w->chosen || !w->chosen2 ||
            !w->nch || !w->nch2 || !w->order)
            return -1;
    }
    if (seq > w->cap_seq) {
        free(w->seq); free(w->lpf); free(w->dbl);
        w->seq = malloc(seq * sizeof(int64_t));
        w->lpf = malloc(seq * sizeof(float));
        w->dbl = malloc(seq * sizeof(double));
        w->cap_seq = seq;
        if (!w->seq || !w->lpf || !w->dbl) return -1;
    }
    return 0;
}

/* Arrays describing the clusters of one `joint` call (see decode.Decoder.joint). */
typedef struct {
    const int64_t *rows, *c_row, *c_rowlen, *c_pos0, *c_npos, *p_i, *p_opt0, *p_nopt;
    const int64_t *o_i, *o_len, *o_orig0, *o_norig, *orig;
    const double *o_s, *o_ch;
    Py_ssize_t max_combinations;
    double lm_weight, ln10;
    int64_t unk;        /* the id of <unk>, charged `unk_penalty` decades (Decoder._logprob) */
    float unk_penalty;
} Clusters;

/* One cluster: enumerate the non-overlapping choices of its positions' options as
 * Decoder.joint does (keeping the best `max_combinations` by local score after each
 * position, stable order), score each choice's window with the model, and give every option
 * the posterior mass of the choices that take it and `chosen` = 1 for the best choice's. */
static int joint_cluster(const Model *md, const Clusters *cl, Py_ssize_t c, Work *w,
                         double *mass, uint8_t *chosen_out) {
    Py_ssize_t npos = cl->c_npos[c], p0 = cl->c_pos0[c];
    if (npos == 1) {
        /* A lone position: its joint window is the local one, so the local scores give the
         * posterior (Decoder.joint's lone-position branch, in its order of operations). */
        Py_ssize_t o0 = cl->p_opt0[p0], no = cl->p_nopt[p0], best = o0;
        for (Py_ssize_t o = o0 + 1; o < o0 + no; o++)
            if (cl->o_s[o] > cl->o_s[best]) best = o;
        double top = cl->o_s[best], acc = 0.0;
        for (Py_ssize_t o = o0; o < o0 + no; o++) acc += exp(cl->o_s[o] - top);
        double z = exp(-top) + acc;
        if (top > 0.0) {
            chosen_out[best] = 1;
            mass[best] = 1.0 / z;
        }
        return 0;
    }
    const int64_t *row = cl->rows + cl->c_row[c];
    Py_ssize_t n = cl->c_rowlen[c];
    Py_ssize_t maxc = cl->max_combinations, maxopt = 0, hi = 0, orig_len = 0;
    for (Py_ssize_t k = 0; k < npos; k++) {
        Py_ssize_t p = p0 + k, i = cl->p_i[p], longest = 0;
        if (cl->p_nopt[p] > maxopt) maxopt = cl->p_nopt[p];
        for (Py_ssize_t j = 0; j < cl->p_nopt[p]; j++) {
            Py_ssize_t o = cl->p_opt0[p] + j;
            if (cl->o_len[o] > longest) longest = cl->o_len[o];
            if (cl->o_norig[o] > orig_len) orig_len = cl->o_norig[o];
        }
        if (i + longest > hi) hi = i + longest;
    }
    Py_ssize_t lo = cl->p_i[p0];
    Py_ssize_t end = hi + 4 < n ? hi + 4 : n;
    Py_ssize_t cap = (maxc + 1) * (1 + maxopt) + 1;
    if (work_fit(w, cap, npos + 1, (end - lo) + npos * orig_len + 4)) return -1;
    Py_ssize_t stride = w->cap_stride;
    /* combos: chosen options (global numbers), channel and local score sums */
    Py_ssize_t nc = 1;
    w->nch[0] = 0;
    w->ch[0] = 0.0;
    w->ls[0] = 0.0;
    for (Py_ssize_t k = 0; k < npos; k++) {
        Py_ssize_t p = p0 + k, i = cl->p_i[p];
        Py_ssize_t nn = 0;
        for (Py_ssize_t a = 0; a < nc; a++) {
            int32_t na = w->nch[a];
            const int32_t *ca = w->chosen + a * stride;
            w->nch2[nn] = na;
            memcpy(w->chosen2 + nn * stride, ca, na * sizeof(int32_t));
            w->ch2[nn] = w->ch[a];
            w->ls2[nn] = w->ls[a];
            nn++;
            if (na) {
                int32_t last = ca[na - 1];
                if (cl->o_i[last] + cl->o_len[last] > i) continue;
            }
            for (Py_ssize_t j = 0; j < cl->p_nopt[p]; j++) {
                Py_ssize_t o = cl->p_opt0[p] + j;
                w->nch2[nn] = na + 1;
                memcpy(w->chosen2 + nn * stride, ca, na * sizeof(int32_t));
                w->chosen2[nn * stride + na] = (int32_t)o;
                w->ch2[nn] = w->ch[a] + cl->o_ch[o];
                w->ls2[nn] = w->ls[a] + cl->o_s[o];
                nn++;
            }
        }
        if (nn > maxc) {
            /* stable sort by descending local score (Python's list.sort on -score) */
            for (Py_ssize_t a = 0; a < nn; a++) {
                int32_t v = (int32_t)a;
                Py_ssize_t b = a;
                while (b > 0 && -w->ls2[w->order[b - 1]] > -w->ls2[v]) {
                    w->order[b] = w->order[b - 1];
                    b--;
                }
                w->order[b] = v;
            }
            nn = maxc;
        } else {
            for (Py_ssize_t a = 0; a < nn; a++) w->order[a] = (int32_t)a;
        }
        for (Py_ssize_t a = 0; a < nn; a++) {
            int32_t s = w->order[a];
            w->nch[a] = w->nch2[s];
            memcpy(w->chosen + a * stride, w->chosen2 + s * stride, w->nch2[s] * sizeof(int32_t));
            w->ch[a] = w->ch2[s];
            w->ls[a] = w->ls2[s];
        }
        nc = nn;
    }
    /* language-model score of each choice's window */
    for (Py_ssize_t a = 0; a < nc; a++) {
        Py_ssize_t m = 0, pos = lo;
        w->seq[m++] = row[lo];
        w->seq[m++] = row[lo + 1];
        const int32_t *ca = w->chosen + a * stride;
        for (int32_t t = 0; t < w->nch[a]; t++) {
            int32_t o = ca[t];
            Py_ssize_t i = cl->o_i[o];
            for (Py_ssize_t x = pos + 2; x < i + 2 && x < n; x++) w->seq[m++] = row[x];
            for (Py_ssize_t x = 0; x < cl->o_norig[o]; x++) w->seq[m++] = cl->orig[cl->o_orig0[o] + x];
            pos = i + cl->o_len[o];
        }
        for (Py_ssize_t x = pos + 2; x < end; x++) w->seq[m++] = row[x];
        Py_ssize_t nw = m - 2;
        /* every window of three: the values of NGramLM.logprob on each (a, b, c) */
        score_row_direct(md, w->seq, m, w->lpf);
        if (cl->unk_penalty != 0.0f)
            for (Py_ssize_t t = 0; t < nw; t++)
                if (w->seq[t + 2] == cl->unk) w->lpf[t] = w->lpf[t] - cl->unk_penalty;
        for (Py_ssize_t t = 0; t < nw; t++) w->dbl[t] = (double)w->lpf[t];
        /* np.add.reduceat: the first item, then the pairwise sum of the rest */
        double sum = nw > 1 ? w->dbl[0] + pairwise(w->dbl + 1, nw - 1) : w->dbl[0];
        w->lm[a] = sum * cl->ln10;
    }
    /* posteriors; the best choice; every option's mass */
    Py_ssize_t best = 0;
    for (Py_ssize_t a = 0; a < nc; a++) {
        w->ls2[a] = w->lm[a] * cl->lm_weight + w->ch[a];  /* reuse ls2 for the totals */
        if (w->ls2[a] > w->ls2[best]) best = a;
    }
    double top = w->ls2[best];
    for (Py_ssize_t a = 0; a < nc; a++) w->ch2[a] = exp(w->ls2[a] - top);
    double z = pairwise(w->ch2, nc);
    for (Py_ssize_t a = 0; a < nc; a++) {
        double pa = w->ch2[a] / z;
        const int32_t *ca = w->chosen + a * stride;
        for (int32_t t = 0; t < w->nch[a]; t++) mass[ca[t]] += pa;
    }
    const int32_t *cb = w->chosen + best * stride;
    for (int32_t t = 0; t < w->nch[best]; t++) chosen_out[cb[t]] = 1;
    return 0;
}

static void Model_dealloc(Model *self) {
    free_table(&self->t2);
    free_table(&self->t3);
    for (int i = 0; i < self->nbufs; i++) PyBuffer_Release(&self->bufs[i]);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int take(Model *self, PyObject *obj, Py_ssize_t itemsize, const char *name) {
    Py_buffer *b = &self->bufs[self->nbufs];
    if (PyObject_GetBuffer(obj, b, PyBUF_C_CONTIGUOUS) < 0) return -1;
    self->nbufs++;
    if (b->len % itemsize != 0) {
        PyErr_Format(PyExc_ValueError, "%s: %zd bytes is not a whole number of items",
                     name, b->len);
        return -1;
    }
    return 0;
}

#define NITEMS(i, size) (self->bufs[i].len / (size))

static PyObject *Model_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    PyObject *k2, *k3, *p1f, *bow1f, *lp, *bw, *p2, *bow2, *p3;
    if (!PyArg_ParseTuple(args, "OOOOOOOOO", &k2, &k3, &p1f, &bow1f, &lp, &bw, &p2, &bow2,
                          &p3))
        return NULL;
    Model *self = (Model *)type->tp_alloc(type, 0);
    if (!self) return NULL;
    self->nbufs = 0;
    if (take(self, k2, 4, "k2") || take(self, k3, 4, "k3") || take(self, p1f, 4, "p1f") ||
        take(self, bow1f, 4, "bow1f") || take(self, lp, 4, "lp") || take(self, bw, 4, "bw") ||
        take(self, p2, 1, "p2") || take(self, bow2, 1, "bow2") || take(self, p3, 1, "p3")) {
        Py_DECREF(self);
        return NULL;
    }
    Py_ssize_t n2 = NITEMS(0, 4), n3 = NITEMS(1, 4);
    self->p1f = self->bufs[2].buf;
    self->bow1f = self->bufs[3].buf;
    self->lp = self->bufs[4].buf;
    self->bw = self->bufs[5].buf;
    self->vocab = NITEMS(2, 4);
    if (NITEMS(3, 4) != self->vocab || NITEMS(4, 4) != 256 || NITEMS(5, 4) != 256 ||
        NITEMS(6, 1) != n2 || NITEMS(7, 1) != n2 || NITEMS(8, 1) != n3) {
        PyErr_SetString(PyExc_ValueError, "model arrays have inconsistent lengths");
        Py_DECREF(self);
        return NULL;
    }
    /* (build_table checks that the keys are sorted.) */
    if (build_table(&self->t2, self->bufs[0].buf, n2, self->bufs[6].buf, self->bufs[7].buf) ||
        build_table(&self->t3, self->bufs[1].buf, n3, self->bufs[8].buf, NULL)) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

/* Buffers of one call; released by release_all. */
typedef struct {
    Py_buffer b[20];
    int n;
} Bufs;

static void release_all(Bufs *bs) {
    for (int i = 0; i < bs->n; i++) PyBuffer_Release(&bs->b[i]);
    bs->n = 0;
}

/* End of a call: release its buffers; None, or MemoryError when rc says so. */
static PyObject *finish(Bufs *bs, int rc) {
    release_all(bs);
    if (rc) return PyErr_NoMemory();
    Py_RETURN_NONE;
}

static void *get(Bufs *bs, PyObject *obj, Py_ssize_t itemsize, Py_ssize_t count, int writable,
                 const char *name) {
    Py_buffer *b = &bs->b[bs->n];
    int flags = PyBUF_C_CONTIGUOUS | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, b, flags) < 0) return NULL;
    bs->n++;
    if (b->len != itemsize * count) {
        PyErr_Format(PyExc_ValueError, "%s: expected %zd items of %zd bytes, got %zd bytes",
                     name, count, itemsize, b->len);
        return NULL;
    }
    return b->buf;
}

static int check_ids(const Model *m, const int64_t *ids, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= m->vocab) {
            PyErr_Format(PyExc_IndexError, "word id %lld out of range", (long long)ids[i]);
            return -1;
        }
    }
    return 0;
}

/* pairs(x, y, n, hit, pos): look the bigrams (x[i], y[i]) up. */
static PyObject *Model_pairs(Model *self, PyObject *args) {
    PyObject *ox, *oy, *ohit, *opos;
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "OOnOO", &ox, &oy, &n, &ohit, &opos)) return NULL;
    Bufs bs = {.n = 0};
    const int64_t *x = get(&bs, ox, 8, n, 0, "x");
    const int64_t *y = x ? get(&bs, oy, 8, n, 0, "y") : NULL;
    uint8_t *hit = y ? get(&bs, ohit, 1, n, 1, "hit") : NULL;
    int32_t *pos = hit ? get(&bs, opos, 4, n, 1, "pos") : NULL;
    if (!pos || check_ids(self, x, n) || check_ids(self, y, n)) {
        release_all(&bs);
        return NULL;
    }
    uint32_t *q = malloc((size_t)(n ? n : 1) * sizeof(uint32_t));
    int rc = q ? 0 : -1;
    if (!rc) {
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t i = 0; i < n; i++) q[i] = pair_fp((uint64_t)x[i], (uint64_t)y[i]);
        find_many(&self->t2, q, n, hit, pos);
        Py_END_ALLOW_THREADS
    }
    free(q);
    return finish(&bs, rc);
}

/* logprob(a, b, c, n, out): log10 P(c[i] | a[i] b[i]). */
static PyObject *Model_logprob(Model *self, PyObject *args) {
    PyObject *oa, *ob, *oc, *oout;
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "OOOnO", &oa, &ob, &oc, &n, &oout)) return NULL;
    Bufs bs = {.n = 0};
    const int64_t *a = get(&bs, oa, 8, n, 0, "a");
    const int64_t *b = a ? get(&bs, ob, 8, n, 0, "b") : NULL;
    const int64_t *c = b ? get(&bs, oc, 8, n, 0, "c") : NULL;
    float *out = c ? get(&bs, oout, 4, n, 1, "out") : NULL;
    if (!out || check_ids(self, a, n) || check_ids(self, b, n) || check_ids(self, c, n)) {
        release_all(&bs);
        return NULL;
    }
    int64_t *seq = malloc((size_t)(n ? n : 1) * 3 * sizeof(int64_t));
    int rc = seq ? 0 : -1;
    if (!rc) {
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t i = 0; i < n; i++) {
            seq[3 * i] = a[i];
            seq[3 * i + 1] = b[i];
            seq[3 * i + 2] = c[i];
        }
        rc = score_rows(self, seq, n, 3, out);
        Py_END_ALLOW_THREADS
    }
    free(seq);
    return finish(&bs, rc);
}

/* logprob_seq(seq, n, m, out): every window of three of each row of an (n, m) id array;
 * each adjacent pair is looked up once (it is the (b, c) of one window and the context of
 * the next). */
static PyObject *Model_logprob_seq(Model *self, PyObject *args) {
    PyObject *oseq, *oout;
    Py_ssize_t n, m;
    if (!PyArg_ParseTuple(args, "OnnO", &oseq, &n, &m, &oout)) return NULL;
    if (m < 3 || n < 0) {
        PyErr_SetString(PyExc_ValueError, "logprob_seq needs rows of at least three ids");
        return NULL;
    }
    Bufs bs = {.n = 0};
    const int64_t *seq = get(&bs, oseq, 8, n * m, 0, "seq");
    float *out = seq ? get(&bs, oout, 4, n * (m - 2), 1, "out") : NULL;
    if (!out || check_ids(self, seq, n * m)) {
        release_all(&bs);
        return NULL;
    }
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = score_rows(self, seq, n, m, out);
    Py_END_ALLOW_THREADS
    return finish(&bs, rc);
}

/* logprob_pairs(seq, n, m, hit, pos, out): logprob_seq with the pair lookups given
 * ((n, m - 1) each, from `pairs`). */
static PyObject *Model_logprob_pairs(Model *self, PyObject *args) {
    PyObject *oseq, *ohit, *opos, *oout;
    Py_ssize_t n, m;
    if (!PyArg_ParseTuple(args, "OnnOOO", &oseq, &n, &m, &ohit, &opos, &oout)) return NULL;
    if (m < 3 || n < 0) {
        PyErr_SetString(PyExc_ValueError, "logprob_pairs needs rows of at least three ids");
        return NULL;
    }
    Bufs bs = {.n = 0};
    const int64_t *seq = get(&bs, oseq, 8, n * m, 0, "seq");
    const uint8_t *hit = seq ? get(&bs, ohit, 1, n * (m - 1), 0, "hit") : NULL;
    const int32_t *pos = hit ? get(&bs, opos, 4, n * (m - 1), 0, "pos") : NULL;
    float *out = pos ? get(&bs, oout, 4, n * (m - 2), 1, "out") : NULL;
    if (!out || check_ids(self, seq, n * m)) {
        release_all(&bs);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n * (m - 1); i++) {
        if (hit[i] && (pos[i] < 0 || pos[i] > 0xFFFF)) {
            release_all(&bs);
            PyErr_SetString(PyExc_IndexError, "pair position out of range");
            return NULL;
        }
    }
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = windows(self, seq, n, m, hit, pos, out);
    Py_END_ALLOW_THREADS
    return finish(&bs, rc);
}


/* joint(rows, c_row, c_rowlen, c_pos0, c_npos, p_i, p_opt0, p_nopt, o_i, o_len, o_orig0,
 *       o_norig, orig, o_s, o_ch, max_combinations, lm_weight, ln10, unk, unk_penalty,
 *       mass, chosen):
 * Decoder.joint's clusters of several positions (see joint_cluster). Int arrays are
 * int64, scores float64; `mass` (float64, zeroed) and `chosen` (uint8, zeroed) have one
 * item per option. */
static PyObject *Model_joint(Model *self, PyObject *args) {
    PyObject *o[20];
    Py_ssize_t maxc, unk;
    double lm_weight, ln10;
    float unk_penalty;
    if (!PyArg_ParseTuple(args, "OOOOOOOOOOOOOOOnddnfOO", &o[0], &o[1], &o[2], &o[3], &o[4],
                          &o[5], &o[6], &o[7], &o[8], &o[9], &o[10], &o[11], &o[12], &o[13],
                          &o[14], &maxc, &lm_weight, &ln10, &unk, &unk_penalty, &o[15], &o[16]))
        return NULL;
    if (maxc < 1) {
        PyErr_SetString(PyExc_ValueError, "max_combinations must be at least 1");
        return NULL;
    }
    Bufs bs = {.n = 0};
    Py_buffer view;
    Py_ssize_t lens[17];
    /* lengths first: every array of a kind has the length of its first one */
    for (int k = 0; k < 17; k++) {
        if (PyObject_GetBuffer(o[k], &view, PyBUF_C_CONTIGUOUS) < 0) return NULL;
        lens[k] = view.len;
        PyBuffer_Release(&view);
    }
    Py_ssize_t nrows = lens[0] / 8, nc = lens[1] / 8, np_ = lens[5] / 8, no = lens[8] / 8;
    Py_ssize_t norig = lens[12] / 8;
    Clusters cl;
    cl.rows = get(&bs, o[0], 8, nrows, 0, "rows");
    cl.c_row = cl.rows ? get(&bs, o[1], 8, nc, 0, "c_row") : NULL;
    cl.c_rowlen = cl.c_row ? get(&bs, o[2], 8, nc, 0, "c_rowlen") : NULL;
    cl.c_pos0 = cl.c_rowlen ? get(&bs, o[3], 8, nc, 0, "c_pos0") : NULL;
    cl.c_npos = cl.c_pos0 ? get(&bs, o[4], 8, nc, 0, "c_npos") : NULL;
    cl.p_i = cl.c_npos ? get(&bs, o[5], 8, np_, 0, "p_i") : NULL;
    cl.p_opt0 = cl.p_i ? get(&bs, o[6], 8, np_, 0, "p_opt0") : NULL;
    cl.p_nopt = cl.p_opt0 ? get(&bs, o[7], 8, np_, 0, "p_nopt") : NULL;
    cl.o_i = cl.p_nopt ? get(&bs, o[8], 8, no, 0, "o_i") : NULL;
    cl.o_len = cl.o_i ? get(&bs, o[9], 8, no, 0, "o_len") : NULL;
    cl.o_orig0 = cl.o_len ? get(&bs, o[10], 8, no, 0, "o_orig0") : NULL;
    cl.o_norig = cl.o_orig0 ? get(&bs, o[11], 8, no, 0, "o_norig") : NULL;
    cl.orig = cl.o_norig ? get(&bs, o[12], 8, norig, 0, "orig") : NULL;
    cl.o_s = cl.orig ? get(&bs, o[13], 8, no, 0, "o_s") : NULL;
    cl.o_ch = cl.o_s ? get(&bs, o[14], 8, no, 0, "o_ch") : NULL;
    double *mass = cl.o_ch ? get(&bs, o[15], 8, no, 1, "mass") : NULL;
    uint8_t *chosen = mass ? get(&bs, o[16], 1, no, 1, "chosen") : NULL;
    if (!chosen || check_ids(self, cl.rows, nrows) || check_ids(self, cl.orig, norig)) {
        release_all(&bs);
        return NULL;
    }
    cl.max_combinations = maxc;
    cl.lm_weight = lm_weight;
    cl.ln10 = ln10;
    cl.unk = unk;
    cl.unk_penalty = unk_penalty;
    /* Every index must stay inside its array: clusters cover positions, positions options,
     * options ids, and each cluster's window lies inside its row. */
    const char *bad = NULL;
    for (Py_ssize_t c = 0; c < nc && !bad; c++) {
        if (cl.c_npos[c] < 1 || cl.c_pos0[c] < 0 || cl.c_pos0[c] + cl.c_npos[c] > np_ ||
            cl.c_row[c] < 0 || cl.c_rowlen[c] < 3 || cl.c_row[c] + cl.c_rowlen[c] > nrows) {
            bad = "cluster out of range";
            break;
        }
        Py_ssize_t prev = -1;
        for (Py_ssize_t p = cl.c_pos0[c]; p < cl.c_pos0[c] + cl.c_npos[c]; p++) {
            Py_ssize_t i = cl.p_i[p];
            if (i <= prev || i < 0 || i + 3 > cl.c_rowlen[c] || cl.p_nopt[p] < 1 ||
                cl.p_opt0[p] < 0 || cl.p_opt0[p] + cl.p_nopt[p] > no) {
                bad = "position out of range";
                break;
            }
            prev = i;
            for (Py_ssize_t q = cl.p_opt0[p]; q < cl.p_opt0[p] + cl.p_nopt[p]; q++) {
                if (cl.o_i[q] != i || cl.o_len[q] < 1 || i + cl.o_len[q] + 2 > cl.c_rowlen[c] ||
                    cl.o_norig[q] < 1 || cl.o_orig0[q] < 0 || cl.o_orig0[q] + cl.o_norig[q] > norig) {
                    bad = "option out of range";
                    break;
                }
            }
            if (bad) break;
        }
    }
    if (bad) {
        release_all(&bs);
        PyErr_SetString(PyExc_ValueError, bad);
        return NULL;
    }
    Work w;
    memset(&w, 0, sizeof(w));
    int rc = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t c = 0; c < nc && !rc; c++) rc = joint_cluster(self, &cl, c, &w, mass, chosen);
    Py_END_ALLOW_THREADS
    work_free(&w);
    return finish(&bs, rc);
}

/* word_entries(g, base, end_of, shape, own_hit, own_pos, at, lo, cnt, t_orig, t_channel,
 *              ex_j, ex_orig, ex_ch, priors, name_penalty, channel_floor, lm_weight, ln10,
 *              unk, unk_penalty, J, E, O, CH, S) -> n
 * decode.Decoder._word_entries: every single-word candidate at the eligible positions of a
 * padded chunk g (ng ids), scored against keeping the observed word. Position at[i] takes
 * table entries lo[i] .. lo[i] + cnt[i] (original t_orig[e], channel t_channel[e] + priors,
 * less name_penalty where shape is 1), those above channel_floor; then the extra entries
 * (ex_j, ex_orig, ex_ch: words the LM does not know; E = -1). For each, the three trigram
 * windows the original changes (those inside the sentence, end_of) are scored with the
 * text's own pair lookups (own_hit/own_pos, from `pairs` over g) and the new pairs looked
 * up here in one batch; S = ((new - old) * ln10) * lm_weight + CH, with the unknown-word
 * penalty as decode._logprob_seq applies it. Writes J, E, O (int64), CH, S (float64): the
 * rows kept, in the numpy code's order, with its values to the last bit; returns how many.
 * Why compiled: the numpy version built a dozen arrays per call and was about a tenth of
 * a `check` on top of the lookups themselves. */
static PyObject *Model_word_entries(Model *self, PyObject *args) {
    PyObject *og, *obase, *oend, *oshape, *ohit, *opos, *oat, *olo, *ocnt, *otorig, *otch,
        *oexj, *oexo, *oexc, *oJ, *oE, *oO, *oCH, *oS;
    double priors, name_pen, floor_, lm_weight, ln10, unk_pen;
    long long unk;
    if (!PyArg_ParseTuple(args, "OOOOOOOOOOOOOOddddd" "LdOOOOO", &og, &obase, &oend, &oshape,
                          &ohit, &opos, &oat, &olo, &ocnt, &otorig, &otch, &oexj, &oexo, &oexc,
                          &priors, &name_pen, &floor_, &lm_weight, &ln10, &unk, &unk_pen, &oJ,
                          &oE, &oO, &oCH, &oS))
        return NULL;
    Bufs bs = {.n = 0};
    Py_buffer views[5];
    PyObject *vobjs[5] = {og, oat, otorig, oexj, oexo};
    Py_ssize_t lens[5];
    int nv = 0;
    for (; nv < 5; nv++) {
        if (PyObject_GetBuffer(vobjs[nv], &views[nv], PyBUF_C_CONTIGUOUS) < 0) break;
        lens[nv] = views[nv].len;
    }
    if (nv < 5) {
        for (int i = 0; i < nv; i++) PyBuffer_Release(&views[i]);
        return NULL;
    }
    Py_ssize_t ng = lens[0] / 8, na = lens[1] / 8, nt = lens[2] / 4, nx = lens[3] / 8;
    for (int i = 0; i < 5; i++) PyBuffer_Release(&views[i]);
    const int64_t *g = get(&bs, og, 8, ng, 0, "g");
    const double *base = g ? get(&bs, obase, 8, ng, 0, "base") : NULL;
    const int64_t *end_of = base ? get(&bs, oend, 8, ng, 0, "end_of") : NULL;
    const int64_t *shape = end_of ? get(&bs, oshape, 8, ng, 0, "shape") : NULL;
    Py_ssize_t npair = ng > 0 ? ng - 1 : 0;
    const uint8_t *own_hit = shape ? get(&bs, ohit, 1, npair, 0, "own_hit") : NULL;
    const int32_t *own_pos = own_hit ? get(&bs, opos, 4, npair, 0, "own_pos") : NULL;
    const int64_t *at = own_pos ? get(&bs, oat, 8, na, 0, "at") : NULL;
    const int64_t *lo = at ? get(&bs, olo, 8, na, 0, "lo") : NULL;
    const int64_t *cnt = lo ? get(&bs, ocnt, 8, na, 0, "cnt") : NULL;
    const int32_t *t_orig = cnt ? get(&bs, otorig, 4, nt, 0, "t_orig") : NULL;
    const double *t_ch = t_orig ? get(&bs, otch, 8, nt, 0, "t_channel") : NULL;
    const int64_t *ex_j = t_ch ? get(&bs, oexj, 8, nx, 0, "ex_j") : NULL;
    const int64_t *ex_o = ex_j ? get(&bs, oexo, 8, nx, 0, "ex_orig") : NULL;
    const double *ex_c = ex_o ? get(&bs, oexc, 8, nx, 0, "ex_ch") : NULL;
    Py_ssize_t cap = 0;
    const char *bad = NULL;
    if (ex_c) {
        for (Py_ssize_t i = 0; i < na && !bad; i++) {
            if (at[i] < 2 || at[i] >= ng || cnt[i] < 0 || lo[i] < 0 || lo[i] + cnt[i] > nt)
                bad = "position or table range out of bounds";
            cap += cnt[i];
        }
        for (Py_ssize_t i = 0; i < nx && !bad; i++)
            if (ex_j[i] < 2 || ex_j[i] >= ng || ex_o[i] < 0 || ex_o[i] >= self->vocab)
                bad = "extra entry out of bounds";
        for (Py_ssize_t i = 0; i < ng && !bad; i++)
            if (g[i] < 0 || g[i] >= self->vocab || end_of[i] < 0 || end_of[i] > ng)
                bad = "id or sentence end out of range";
        for (Py_ssize_t i = 0; i < npair && !bad; i++)
            if (own_hit[i] && (own_pos[i] < 0 || own_pos[i] > 0xFFFF))
                bad = "pair position out of range";
        cap += nx;
    }
    int64_t *J = (ex_c && !bad) ? get(&bs, oJ, 8, cap, 1, "J") : NULL;
    int64_t *E = J ? get(&bs, oE, 8, cap, 1, "E") : NULL;
    int64_t *O = E ? get(&bs, oO, 8, cap, 1, "O") : NULL;
    double *CH = O ? get(&bs, oCH, 8, cap, 1, "CH") : NULL;
    double *S = CH ? get(&bs, oS, 8, cap, 1, "S") : NULL;
    if (!S) {
        release_all(&bs);
        if (bad) PyErr_Format(PyExc_ValueError, "word_entries: %s", bad);
        return NULL;
    }
    /* Rows: table entries above the floor, then the extras. */
    Py_ssize_t n = 0;
    for (Py_ssize_t i = 0; i < na && !bad; i++) {
        int64_t j = at[i];
        for (int64_t e = lo[i]; e < lo[i] + cnt[i]; e++) {
            double ch = t_ch[e] + priors;
            if (shape[j] == 1) ch = ch - name_pen;
            if (!(ch > floor_)) continue;
            if (t_orig[e] < 0 || t_orig[e] >= self->vocab) {
                bad = "table original out of range";
                break;
            }
            J[n] = j;
            E[n] = e;
            O[n] = t_orig[e];
            CH[n] = ch;
            n++;
        }
    }
    for (Py_ssize_t i = 0; i < nx; i++) {
        J[n] = ex_j[i];
        E[n] = -1;
        O[n] = ex_o[i];
        CH[n] = ex_c[i];
        n++;
    }
    if (bad) {
        release_all(&bs);
        PyErr_Format(PyExc_ValueError, "word_entries: %s", bad);
        return NULL;
    }
    int rc = 0;
    Py_BEGIN_ALLOW_THREADS
    /* New pairs: (g[J-1], o) for every row; (o, g[J+1]) where the second window is used. */
    uint32_t *q = calloc((size_t)(2 * n + 1), sizeof(uint32_t));
    uint8_t *hit = malloc((size_t)(2 * n + 1));
    int32_t *pos = malloc((size_t)(2 * n + 1) * sizeof(int32_t));
    uint32_t *q3 = calloc((size_t)(3 * n + 1), sizeof(uint32_t));
    int64_t *at3 = malloc((size_t)(3 * n + 1) * sizeof(int64_t));
    uint8_t *h3 = malloc((size_t)(3 * n + 1));
    int32_t *p3 = malloc((size_t)(3 * n + 1) * sizeof(int32_t));
    float *lpw = malloc((size_t)(3 * n + 1) * sizeof(float));
    /* Per row: index in q of (b, o) and of (o, c1) (-1: window unused). */
    int64_t *i_bo = malloc((size_t)(n + 1) * sizeof(int64_t));
    int64_t *i_oc = malloc((size_t)(n + 1) * sizeof(int64_t));
    if (!q || !hit || !pos || !q3 || !at3 || !h3 || !p3 || !lpw || !i_bo || !i_oc) {
        rc = -1;
    } else {
        Py_ssize_t last = ng - 1, nq = 0, n3 = 0;
        for (Py_ssize_t r = 0; r < n; r++) {
            int64_t j = J[r], o = O[r];
            int v1 = j + 1 < end_of[j];
            q[nq] = pair_fp((uint64_t)g[j - 1], (uint64_t)o);
            i_bo[r] = nq++;
            if (v1) {
                int64_t j1 = j + 1 < last ? j + 1 : last;
                q[nq] = pair_fp((uint64_t)o, (uint64_t)g[j1]);
                i_oc[r] = nq++;
            } else {
                i_oc[r] = -1;
            }
        }
        find_many(&self->t2, q, nq, hit, pos);
        float pen = (float)unk_pen;
        for (Py_ssize_t r = 0; r < n; r++) {
            if (r + AHEAD < n) {
                /* The original's unigram values, read below, lie scattered over arrays
                 * of a few MB: fetch those of a row ahead so that they arrive in time. */
                Py_ssize_t ra = r + AHEAD;
                int64_t oa = O[ra];
                PREFETCH(&self->p1f[oa]);
                PREFETCH(&self->bow1f[oa]);
            }
            int64_t j = J[r], o = O[r];
            int64_t j1 = j + 1 < last ? j + 1 : last;
            int64_t j2 = j + 2 < last ? j + 2 : last;
            int v1 = j + 1 < end_of[j], v2 = j + 2 < end_of[j];
            /* The window's (a, b, c) and its pairs' lookups: hitc for (a, b), hit2 for (b, c). */
            int64_t wa[3] = {g[j - 2], g[j - 1], o};
            int64_t wb[3] = {g[j - 1], o, g[j1]};
            int64_t wc[3] = {o, g[j1], g[j2]};
            int hc[3], h2[3];
            int32_t pc[3], p2_[3];
            hc[0] = own_hit[j - 2];
            pc[0] = own_pos[j - 2];
            h2[0] = hit[i_bo[r]];
            p2_[0] = pos[i_bo[r]];
            int nw = 1 + v1 + v2;
            if (v1) {
                hc[1] = h2[0];
                pc[1] = p2_[0];
                h2[1] = hit[i_oc[r]];
                p2_[1] = pos[i_oc[r]];
            }
            if (v2) {
                hc[2] = h2[1];
                pc[2] = p2_[1];
                h2[2] = own_hit[j1];
                p2_[2] = own_pos[j1];
            }
            for (int t = 0; t < nw; t++) {
                float p2v = h2[t] ? self->lp[P2_OF(p2_[t])] : self->bow1f[wb[t]] + self->p1f[wc[t]];
                float bow = hc[t] ? self->bw[BOW2_OF(pc[t])] : 0.0f;
                lpw[3 * r + t] = bow + p2v;
                if (h2[t] && hc[t]) {
                    q3[n3] = tri_fp((uint64_t)wa[t], (uint64_t)wb[t], (uint64_t)wc[t]);
                    at3[n3++] = 3 * r + t;
                }
            }
        }
        find_many(&self->t3, q3, n3, h3, p3);
        for (Py_ssize_t k = 0; k < n3; k++) {
            if (h3[k]) lpw[at3[k]] = self->lp[p3[k]];
        }
        for (Py_ssize_t r = 0; r < n; r++) {
            int64_t j = J[r], o = O[r];
            int64_t j1 = j + 1 < last ? j + 1 : last;
            int64_t j2 = j + 2 < last ? j + 2 : last;
            int v1 = j + 1 < end_of[j], v2 = j + 2 < end_of[j];
            float l0 = lpw[3 * r], l1 = v1 ? lpw[3 * r + 1] : 0.0f, l2 = v2 ? lpw[3 * r + 2] : 0.0f;
            if (unk_pen != 0.0) {  /* as decode._logprob_seq: on the predicted word */
                l0 = l0 - (o == unk ? pen : 0.0f);
                if (v1) l1 = l1 - (g[j1] == unk ? pen : 0.0f);
                if (v2) l2 = l2 - (g[j2] == unk ? pen : 0.0f);
            }
            double nw_ = (double)l0 + (v1 ? (double)l1 : 0.0) + (v2 ? (double)l2 : 0.0);
            double old = base[j] + (v1 ? base[j1] : 0.0) + (v2 ? base[j2] : 0.0);
            S[r] = (nw_ - old) * ln10 * lm_weight + CH[r];
        }
    }
    free(q); free(hit); free(pos); free(q3); free(at3); free(h3); free(p3);
    free(lpw); free(i_bo); free(i_oc);
    Py_END_ALLOW_THREADS
    release_all(&bs);
    if (rc) return PyErr_NoMemory();
    return PyLong_FromSsize_t(n);
}

/* phrase_windows(g, ng, j, ln, m, entry, n, originals, entries, end_of, unk, unk_pen, out
 *                [, own_hit, own_pos]):
 * the language-model part of each multiword candidate's local score
 * (`decode._phrase_scores`). Candidate r at padded position j[r] replaces ln[r] observed
 * tokens of `g` by the m[r] ids of its original, `originals[entry[r], :m[r]]` (an
 * (entries, width) int32 array, width at most 60); its window is the two tokens before,
 * the original, then the two observed tokens after the span (those inside the segment only:
 * `end_of`). out[r] is the sum of the window's log10 probabilities from the original's
 * first word on, in numpy's order (`np.where(valid, lp, 0.0).sum(axis=1)`). Rows are of
 * varying length: their pairs, then their trigrams, are gathered and looked up together.
 * With the lookups of g's own adjacent pairs (`pairs(g[:-1], g[1:])`, ng - 1 each), the
 * two pairs of a window that are the text's own (before the span, and after it while the
 * segment lasts) are read there instead of looked up again. */
static PyObject *Model_phrase_windows(Model *self, PyObject *args) {
    PyObject *og, *oj, *oln, *om, *oentry, *oorig, *oend, *oout, *oohit = NULL, *oopos = NULL;
    Py_ssize_t n, ng, ne, width = 0;
    long long unk;
    double unk_pen;
    if (!PyArg_ParseTuple(args, "OnOOOOnOnOLdO|OO", &og, &ng, &oj, &oln, &om, &oentry, &n,
                          &oorig, &ne, &oend, &unk, &unk_pen, &oout, &oohit, &oopos))
        return NULL;
    Bufs bs = {.n = 0};
    const int64_t *g = get(&bs, og, 8, ng, 0, "g");
    const int64_t *J = g ? get(&bs, oj, 8, n, 0, "j") : NULL;
    const int64_t *L = J ? get(&bs, oln, 8, n, 0, "ln") : NULL;
    const int64_t *M = L ? get(&bs, om, 8, n, 0, "m") : NULL;
    const int64_t *E = M ? get(&bs, oentry, 8, n, 0, "entry") : NULL;
    const int64_t *end_of = E ? get(&bs, oend, 8, ng, 0, "end_of") : NULL;
    double *out = end_of ? get(&bs, oout, 8, n, 1, "out") : NULL;
    const uint8_t *own_hit = NULL;
    const int32_t *own_pos = NULL;
    if (out && oohit && oohit != Py_None) {
        own_hit = get(&bs, oohit, 1, ng > 0 ? ng - 1 : 0, 0, "own_hit");
        own_pos = own_hit ? get(&bs, oopos, 4, ng > 0 ? ng - 1 : 0, 0, "own_pos") : NULL;
        if (!own_pos) out = NULL;
    }
    const int32_t *orig = NULL;
    if (out) {
        Py_buffer *b = &bs.b[bs.n];
        if (PyObject_GetBuffer(oorig, b, PyBUF_C_CONTIGUOUS) == 0) {
            bs.n++;
            width = ne > 0 ? b->len / 4 / ne : 0;
            if (ne <= 0 || width < 1 || width > 60 || b->len != (Py_ssize_t)4 * ne * width)
                PyErr_SetString(PyExc_ValueError, "originals: not an (entries, width) int32 array");
            else
                orig = b->buf;
        }
    }
    if (orig && ng < 1) {
        PyErr_SetString(PyExc_ValueError, "g is empty");
        orig = NULL;
    }
    if (!orig || check_ids(self, g, ng)) {
        release_all(&bs);
        return NULL;
    }
    Py_ssize_t total = 0;
    for (Py_ssize_t r = 0; r < n; r++) {
        int64_t j = J[r], m = M[r];
        if (j < 2 || j >= ng || L[r] < 1 || j + L[r] > ng || m < 1 || m > width || E[r] < 0 ||
            E[r] >= ne || end_of[j] < 0 || end_of[j] > ng) {
            PyErr_Format(PyExc_IndexError, "candidate %zd out of range", r);
            release_all(&bs);
            return NULL;
        }
        for (int64_t k = 0; k < m; k++) {
            int32_t o = orig[E[r] * width + k];
            if (o < 0 || o >= self->vocab) {
                PyErr_Format(PyExc_IndexError, "word id %d out of range", (int)o);
                release_all(&bs);
                return NULL;
            }
        }
        total += m + 4;
    }
    int rc = 0;
    Py_BEGIN_ALLOW_THREADS
    Py_ssize_t np_ = total - n, nw = total - 2 * n;
    int64_t *seq = malloc((size_t)(total ? total : 1) * sizeof(int64_t));
    uint32_t *q = malloc((size_t)(np_ ? np_ : 1) * sizeof(uint32_t));
    Py_ssize_t *qat = malloc((size_t)(np_ ? np_ : 1) * sizeof(Py_ssize_t));
    uint8_t *qh = malloc((size_t)(np_ ? np_ : 1));
    int32_t *qp = malloc((size_t)(np_ ? np_ : 1) * sizeof(int32_t));
    uint8_t *hit = malloc((size_t)(np_ ? np_ : 1));
    int32_t *pos = malloc((size_t)(np_ ? np_ : 1) * sizeof(int32_t));
    float *lpw = malloc((size_t)(nw ? nw : 1) * sizeof(float));
    uint32_t *q3 = malloc((size_t)(nw ? nw : 1) * sizeof(uint32_t));
    Py_ssize_t *at3 = malloc((size_t)(nw ? nw : 1) * sizeof(Py_ssize_t));
    uint8_t *h3 = malloc((size_t)(nw ? nw : 1));
    int32_t *p3 = malloc((size_t)(nw ? nw : 1) * sizeof(int32_t));
    if (!seq || !q || !qat || !qh || !qp || !hit || !pos || !lpw || !q3 || !at3 || !h3 || !p3) {
        rc = -1;
    } else {
        int64_t last = ng - 1;
        /* Each row's ids, and the fingerprints of its adjacent pairs that are not the
         * text's own (those are copied from own_hit / own_pos when given). */
        Py_ssize_t s0 = 0, p0 = 0, nq = 0;
        for (Py_ssize_t r = 0; r < n; r++) {
            int64_t j = J[r], m = M[r], a1 = j + L[r], a2 = a1 + 1;
            int64_t *s = seq + s0;
            s[0] = g[j - 2];
            s[1] = g[j - 1];
            for (int64_t k = 0; k < m; k++) s[2 + k] = orig[E[r] * width + k];
            s[m + 2] = g[a1 < last ? a1 : last];
            s[m + 3] = g[a2 < last ? a2 : last];
            for (int64_t t = 0; t < m + 3; t++) {
                int64_t own = !own_hit ? -1 : t == 0 ? j - 2 : (t == m + 2 && a2 <= last) ? a1 : -1;
                if (own >= 0) {
                    hit[p0 + t] = own_hit[own];
                    pos[p0 + t] = own_pos[own];
                    continue;
                }
                q[nq] = pair_fp((uint64_t)s[t], (uint64_t)s[t + 1]);
                qat[nq++] = p0 + t;
            }
            s0 += m + 4;
            p0 += m + 3;
        }
        find_many(&self->t2, q, nq, qh, qp);
        for (Py_ssize_t k = 0; k < nq; k++) {
            hit[qat[k]] = qh[k];
            pos[qat[k]] = qp[k];
        }
        /* Every window from the pairs (as `windows` does), the trigrams gathered. */
        Py_ssize_t n3 = 0, w0 = 0;
        s0 = p0 = 0;
        for (Py_ssize_t r = 0; r < n; r++) {
            int64_t m = M[r];
            const int64_t *s = seq + s0;
            const uint8_t *h = hit + p0;
            const int32_t *p = pos + p0;
            for (int64_t t = 0; t < m + 2; t++) {
                int64_t b = s[t + 1], c = s[t + 2];
                int hit2 = h[t + 1], hitc = h[t];
                float p2 = hit2 ? self->lp[P2_OF(p[t + 1])] : self->bow1f[b] + self->p1f[c];
                float bow2 = hitc ? self->bw[BOW2_OF(p[t])] : 0.0f;
                lpw[w0 + t] = bow2 + p2;
                if (hit2 && hitc) {
                    q3[n3] = tri_fp((uint64_t)s[t], (uint64_t)b, (uint64_t)c);
                    at3[n3++] = w0 + t;
                }
            }
            s0 += m + 4;
            p0 += m + 3;
            w0 += m + 2;
        }
        find_many(&self->t3, q3, n3, h3, p3);
        for (Py_ssize_t k = 0; k < n3; k++) {
            if (h3[k]) lpw[at3[k]] = self->lp[p3[k]];
        }
        /* Per row: the valid windows' sum, as numpy sums a row of a 2-D array (the
         * first item, then the pairwise sum of the rest: see `pairwise`). */
        float pen = (float)unk_pen;
        double d[64];
        s0 = w0 = 0;
        for (Py_ssize_t r = 0; r < n; r++) {
            int64_t j = J[r], m = M[r], a1 = j + L[r], stop = end_of[j];
            const int64_t *s = seq + s0;
            for (int64_t t = 0; t < m + 2; t++) {
                float v = lpw[w0 + t];
                if (unk_pen != 0.0) v = v - (s[t + 2] == unk ? pen : 0.0f);  /* _logprob_seq */
                int valid = t < m || (t == m ? a1 < stop : a1 + 1 < stop);
                d[t] = valid ? (double)v : 0.0;
            }
            out[r] = d[0] + pairwise(d + 1, m + 1);
            s0 += m + 4;
            w0 += m + 2;
        }
    }
    free(seq); free(q); free(qat); free(qh); free(qp); free(hit); free(pos); free(lpw);
    free(q3); free(at3); free(h3); free(p3);
    Py_END_ALLOW_THREADS
    return finish(&bs, rc);
}

static PyMethodDef Model_methods[] = {
    {"pairs", (PyCFunction)Model_pairs, METH_VARARGS, "pairs(x, y, n, hit, pos)"},
    {"logprob", (PyCFunction)Model_logprob, METH_VARARGS, "logprob(a, b, c, n, out)"},
    {"logprob_seq", (PyCFunction)Model_logprob_seq, METH_VARARGS, "logprob_seq(seq, n, m, out)"},
    {"logprob_pairs", (PyCFunction)Model_logprob_pairs, METH_VARARGS,
     "logprob_pairs(seq, n, m, hit, pos, out)"},
    {"joint", (PyCFunction)Model_joint, METH_VARARGS, "joint(rows, ..., mass, chosen): see decode.py"},
    {"word_entries", (PyCFunction)Model_word_entries, METH_VARARGS,
     "word_entries(g, base, end_of, shape, own_hit, own_pos, at, lo, cnt, ...): see decode.py"},
    {"phrase_windows", (PyCFunction)Model_phrase_windows, METH_VARARGS,
     "phrase_windows(g, ng, j, ln, m, entry, n, originals, entries, end_of, unk, unk_pen, out"
     "[, own_hit, own_pos])"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ModelType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "unspin._native.Model",
    .tp_basicsize = sizeof(Model),
    .tp_dealloc = (destructor)Model_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "An n-gram model's arrays, for compiled lookups (see unspin.lm).",
    .tp_methods = Model_methods,
    .tp_new = Model_new,
};


/* two_step_best(offsets, orig, vocab, k1, k2, own, cids, first_word, emb, scale, cvocab, dim,
 *               words, vec, obs, n, top, floor, stamp, out):
 * the decoder's two-step candidates (decode.Decoder._two_step_candidates) in one pass.
 * For slot k of n, observed word words[k] (an LM id): its first k1 word-table entries
 * orig[offsets[w]:...] are the first step; its next `own` entries, then each first-step
 * entry's first k2 entries, are the candidates beyond it; those among the first step or the word itself, those the context model
 * does not know (cids[o] < first_word) and repeats are skipped. Each is scored
 * scale[c] * (emb[c] . vec[k]) - obs[k] with c = cids[o], and the `top` best at or above
 * `floor` are written to out[k * top:(k + 1) * top] as LM ids, best first (ties to the
 * earlier candidate), -1 where fewer qualify. `stamp` (int64, vocab, all -1) is scratch
 * and is left all -1. Types: offsets, cids, words, stamp, out int64; orig int32; emb int8
 * (cvocab, dim); scale, vec (n, dim), obs float32.
 * Why compiled: building each word's set of a hundred words in numpy (a dozen calls a
 * word, most words new to the cache) cost more than scoring them. */
static PyObject *two_step_best(PyObject *mod, PyObject *args) {
    PyObject *ooff, *oorig, *ocids, *oemb, *oscale, *owords, *ovec, *oobs, *ostamp, *oout;
    Py_ssize_t vocab, k1, k2, own, first_word, cvocab, dim, n, top;
    double floor_;
    (void)mod;
    if (!PyArg_ParseTuple(args, "OOnnnnOnOOnnOOOnndOO", &ooff, &oorig, &vocab, &k1, &k2, &own,
                          &ocids, &first_word, &oemb, &oscale, &cvocab, &dim, &owords, &ovec,
                          &oobs, &n, &top, &floor_, &ostamp, &oout))
        return NULL;
    if (vocab < 0 || cvocab < 0 || dim < 1 || n < 0 || top < 1 || top > 64 || k1 < 0 ||
        k2 < 0 || own < 0 || k1 > 10000 || k2 > 10000 || own > 10000) {
        PyErr_SetString(PyExc_ValueError, "two_step_best: bad sizes");
        return NULL;
    }
    Bufs bs = {.n = 0};
    const int64_t *off = get(&bs, ooff, 8, vocab + 1, 0, "offsets");
    Py_buffer *ob = &bs.b[bs.n];
    const int32_t *orig = NULL;
    if (off) {
        if (PyObject_GetBuffer(oorig, ob, PyBUF_C_CONTIGUOUS) == 0) {
            bs.n++;
            orig = ob->buf;
        }
    }
    Py_ssize_t norig = orig ? ob->len / 4 : 0;
    const int64_t *cids = orig ? get(&bs, ocids, 8, vocab, 0, "cids") : NULL;
    const int8_t *emb = cids ? get(&bs, oemb, 1, cvocab * dim, 0, "emb") : NULL;
    const float *scale = emb ? get(&bs, oscale, 4, cvocab, 0, "scale") : NULL;
    const int64_t *words = scale ? get(&bs, owords, 8, n, 0, "words") : NULL;
    const float *vec = words ? get(&bs, ovec, 4, n * dim, 0, "vec") : NULL;
    const float *obs = vec ? get(&bs, oobs, 4, n, 0, "obs") : NULL;
    int64_t *stamp = obs ? get(&bs, ostamp, 8, vocab, 1, "stamp") : NULL;
    int64_t *out = stamp ? get(&bs, oout, 8, n * top, 1, "out") : NULL;
    if (!out) {
        release_all(&bs);
        return NULL;
    }
    /* Checked where read (the table is large; a call reads a small part of it). */
    const char *bad = NULL;
    int64_t *buf = malloc((size_t)(k1 * k2 + own > 0 ? k1 * k2 + own : 1) * sizeof(int64_t));
    if (!buf) {
        release_all(&bs);
        return PyErr_NoMemory();
    }
    /* The GIL stays held: `stamp` is the decoder's shared scratch (threads of a server). */
    float best[64];
    for (Py_ssize_t k = 0; k < n; k++) {
        int64_t *o = out + k * top;
        Py_ssize_t have = 0;
        const float *v = vec + k * dim;
        int64_t w = words[k];
        if (w < 0 || w >= vocab) {
            bad = "word id out of range";
            break;
        }
        int64_t lo = off[w], hi = off[w + 1];
        if (lo < 0 || hi < lo || hi > norig) {
            bad = "offsets out of range";
            break;
        }
        if (hi - lo > k1) hi = lo + k1;
        int64_t own_hi = off[w + 1] - hi > own ? hi + own : off[w + 1];
        for (int64_t e = hi; e < own_hi && !bad; e++)
            if (orig[e] < 0 || orig[e] >= vocab || cids[orig[e]] >= cvocab)
                bad = "orig id or cids out of range";
        for (int64_t e = lo; e < hi && !bad; e++) {
            int64_t f = orig[e];
            if (f < 0 || f >= vocab || off[f] < 0 || off[f + 1] < off[f] || off[f + 1] > norig)
                bad = "orig id or offsets out of range";
            for (int64_t e2 = off[f]; !bad && e2 < off[f + 1] && e2 < off[f] + k2; e2++)
                if (orig[e2] < 0 || orig[e2] >= vocab || cids[orig[e2]] >= cvocab)
                    bad = "orig id or cids out of range";
        }
        if (bad) break;
        /* Stamp k + vocab marks the first step and the word; stamp k a candidate seen.
         * Two passes, so that the scattered reads can be fetched ahead: gather the
         * candidates (context model ids), then score them. */
        int64_t out_mark = k + vocab, seen = k;
        stamp[w] = out_mark;
        for (int64_t e = lo; e < hi; e++) {
            stamp[orig[e]] = out_mark;
            if (e + 2 < hi) PREFETCH(&off[orig[e + 2]]);
        }
        Py_ssize_t nc = 0;
        /* The word's own entries past the first step come first, then the second step. */
        for (int64_t e = hi; e < own_hi; e++) {
            int64_t cand = orig[e];
            if (stamp[cand] == out_mark || stamp[cand] == seen) continue;
            stamp[cand] = seen;
            if (cids[cand] < first_word) continue;
            buf[nc++] = cand;
        }
        for (int64_t e = lo; e < hi; e++) {
            int64_t f = orig[e];
            if (e + 1 < hi) PREFETCH(&orig[off[orig[e + 1]]]);
            int64_t lo2 = off[f], hi2 = off[f + 1];
            if (hi2 - lo2 > k2) hi2 = lo2 + k2;
            for (int64_t e2 = lo2; e2 < hi2; e2++) {
                if (e2 + 4 < hi2) {
                    PREFETCH(&stamp[orig[e2 + 4]]);
                    PREFETCH(&cids[orig[e2 + 4]]);
                }
                int64_t cand = orig[e2];
                if (stamp[cand] == out_mark || stamp[cand] == seen) continue;
                stamp[cand] = seen;
                if (cids[cand] < first_word) continue;
                buf[nc++] = cand;
            }
        }
        for (Py_ssize_t i = 0; i < nc; i++) {
            if (i + 4 < nc) {
                const int8_t *ahead = emb + cids[buf[i + 4]] * dim;
                PREFETCH(ahead);
                PREFETCH(ahead + 64);
            }
            int64_t cand = buf[i];
            int64_t c = cids[cand];
            const int8_t *row = emb + c * dim;
            float acc[8] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
            Py_ssize_t j = 0;
            for (; j + 8 <= dim; j += 8)
                for (int u = 0; u < 8; u++) acc[u] += (float)row[j + u] * v[j + u];
            for (; j < dim; j++) acc[0] += (float)row[j] * v[j];
            float dot = ((acc[0] + acc[1]) + (acc[2] + acc[3])) +
                        ((acc[4] + acc[5]) + (acc[6] + acc[7]));
            float d = scale[c] * dot - obs[k];
            if (!(d >= (float)floor_)) continue;
            if (have == top && !(d > best[top - 1])) continue;
            Py_ssize_t r = have < top ? have++ : top - 1;
            while (r > 0 && d > best[r - 1]) {
                best[r] = best[r - 1];
                o[r] = o[r - 1];
                r--;
            }
            best[r] = d;
            o[r] = cand;
        }
        for (Py_ssize_t r = have; r < top; r++) o[r] = -1;
        /* Leave the scratch as found. */
        stamp[w] = -1;
        for (int64_t e = hi; e < own_hi; e++) stamp[orig[e]] = -1;
        for (int64_t e = lo; e < hi; e++) {
            int64_t f = orig[e];
            stamp[f] = -1;
            int64_t lo2 = off[f], hi2 = off[f + 1];
            if (hi2 - lo2 > k2) hi2 = lo2 + k2;
            for (int64_t e2 = lo2; e2 < hi2; e2++) stamp[orig[e2]] = -1;
        }
    }
    free(buf);
    if (bad) {
        release_all(&bs);
        PyErr_Format(PyExc_ValueError, "two_step_best: %s", bad);
        return NULL;
    }
    return finish(&bs, 0);
}

/* Stable order of n positions (values 0..span-1) by a counting sort, into `order`; 0 with
 * order untouched when they are in order already (the identity), 1 when sorted, -1 when
 * out of memory. */
static int stable_order(const int64_t *pos, Py_ssize_t n, int64_t span, int64_t *order) {
    int sorted = 1;
    for (Py_ssize_t i = 1; i < n; i++) {
        if (pos[i] < pos[i - 1]) {
            sorted = 0;
            break;
        }
    }
    if (sorted) return 0;
    Py_ssize_t *at = calloc((size_t)span + 1, sizeof(Py_ssize_t));
    if (!at) return -1;
    for (Py_ssize_t i = 0; i < n; i++) at[pos[i] + 1]++;
    for (int64_t v = 0; v < span; v++) at[v + 1] += at[v];
    for (Py_ssize_t i = 0; i < n; i++) order[at[pos[i]]++] = i;
    free(at);
    return 1;
}

/* The positions' range: 0 and span = max + 1, or -1 (ValueError set) on a negative one. */
static int64_t position_span(const int64_t *pos, Py_ssize_t n) {
    int64_t hi = -1;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (pos[i] < 0) {
            PyErr_SetString(PyExc_ValueError, "positions must not be negative");
            return -1;
        }
        if (pos[i] > hi) hi = pos[i];
    }
    return hi + 1;
}

/* np.maximum's rule: NaN wins, else the larger (the first of equals). */
static inline double nan_max(double m, double x) {
    if (m != m) return m;
    if (x != x || x > m) return x;
    return m;
}

/* The stable order of n positions for the grouping below: a malloc'd array (free it)
 * with *sorted set to 1, or NULL with *sorted 0 when they are in order already (the
 * identity); NULL with an exception set (*sorted -1) on a negative position or no memory. */
static int64_t *group_order(const int64_t *pos, Py_ssize_t n, int *sorted) {
    *sorted = -1;
    int64_t span = position_span(pos, n);
    if (span < 0) return NULL;
    int64_t *order = malloc((size_t)(n ? n : 1) * sizeof(int64_t));
    int rc = order ? stable_order(pos, n, span, order) : -1;
    if (rc <= 0) free(order);
    if (rc < 0) {
        PyErr_NoMemory();
        return NULL;
    }
    *sorted = rc;
    return rc ? order : NULL;
}

/* The group of equal positions that starts at sorted index a: one past its end, and its
 * highest score (np.maximum.reduceat's) in *mx. `order` NULL: the identity. */
static Py_ssize_t group_end(const int64_t *pos, const double *score, const int64_t *order,
                            Py_ssize_t n, Py_ssize_t a, double *mx) {
    int64_t p = pos[order ? order[a] : a];
    double m = score[order ? order[a] : a];
    Py_ssize_t b = a + 1;
    while (b < n && pos[order ? order[b] : b] == p) {
        m = nan_max(m, score[order ? order[b] : b]);
        b++;
    }
    *mx = m;
    return b;
}

/* group_by_position(pos, score, n, gpos, starts, mx, dev, best) -> groups: the entries
 * (int64 pos, float64 score) grouped by position as `decode._logsumexp_by` and
 * `decode._best_by` group them (a stable sort by position): per group its position
 * (`gpos`), and where the array is given (not None): the index of its first entry in sorted
 * order (`starts`), its highest score (`mx`, np.maximum.reduceat's), per entry in sorted
 * order its score less its group's highest (`dev`), and the index of the group's first
 * entry with the highest score (`best`; its first entry where none equals it, which only a
 * NaN makes). */
static PyObject *group_by_position(PyObject *mod, PyObject *args) {
    PyObject *opos, *oscore, *ogpos, *ostarts, *omx, *odev, *obest;
    Py_ssize_t n;
    (void)mod;
    if (!PyArg_ParseTuple(args, "OOnOOOOO", &opos, &oscore, &n, &ogpos, &ostarts, &omx, &odev,
                          &obest))
        return NULL;
    if (n < 0) {
        PyErr_SetString(PyExc_ValueError, "group_by_position: bad size");
        return NULL;
    }
    Bufs bs = {.n = 0};
    int ok = 1;
    const int64_t *pos = get(&bs, opos, 8, n, 0, "pos");
    const double *score = pos ? get(&bs, oscore, 8, n, 0, "score") : NULL;
    int64_t *gpos = score ? get(&bs, ogpos, 8, n, 1, "gpos") : NULL;
    ok = gpos != NULL;
    int64_t *starts = NULL, *best = NULL;
    double *mx = NULL, *dev = NULL;
    if (ok && ostarts != Py_None) ok = (starts = get(&bs, ostarts, 8, n, 1, "starts")) != NULL;
    if (ok && omx != Py_None) ok = (mx = get(&bs, omx, 8, n, 1, "mx")) != NULL;
    if (ok && odev != Py_None) ok = (dev = get(&bs, odev, 8, n, 1, "dev")) != NULL;
    if (ok && obest != Py_None) ok = (best = get(&bs, obest, 8, n, 1, "best")) != NULL;
    int sorted = -1;
    int64_t *order = ok ? group_order(pos, n, &sorted) : NULL;
    if (sorted < 0) {
        release_all(&bs);
        return NULL;
    }
    Py_ssize_t groups = 0;
    for (Py_ssize_t a = 0, b; a < n; a = b, groups++) {
        double m;
        b = group_end(pos, score, order, n, a, &m);
        gpos[groups] = pos[order ? order[a] : a];
        if (starts) starts[groups] = a;
        if (mx) mx[groups] = m;
        if (dev)
            for (Py_ssize_t k = a; k < b; k++) dev[k] = score[order ? order[k] : k] - m;
        if (best) {
            Py_ssize_t pick = order ? order[a] : a;
            for (Py_ssize_t k = a; k < b; k++) {
                Py_ssize_t i = order ? order[k] : k;
                if (score[i] == m) {
                    pick = i;
                    break;
                }
            }
            best[groups] = pick;
        }
    }
    free(order);
    release_all(&bs);
    return PyLong_FromSsize_t(groups);
}

static PyMethodDef module_methods[] = {
    {"two_step_best", two_step_best, METH_VARARGS,
     "two_step_best(offsets, orig, vocab, k1, k2, own, cids, first_word, emb, scale, cvocab, dim, "
     "words, vec, obs, n, top, floor, stamp, out)"},
    {"group_by_position", group_by_position, METH_VARARGS,
     "group_by_position(pos, score, n, gpos, starts, mx, dev, best) -> groups: see "
     "decode._logsumexp_by, decode._best_by"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef native_module = {
    PyModuleDef_HEAD_INIT, "_native",
    "Compiled n-gram lookups for unspin.lm and the decoder's joint step.", -1, module_methods,
};

PyMODINIT_FUNC PyInit__native(void) {
    if (PyType_Ready(&ModelType) < 0) return NULL;
    PyObject *mod = PyModule_Create(&native_module);
    if (!mod) return NULL;
    Py_INCREF(&ModelType);
    if (PyModule_AddObject(mod, "Model", (PyObject *)&ModelType) < 0) {
        Py_DECREF(&ModelType);
        Py_DECREF(mod);
        return NULL;
    }
    return mod;
}
