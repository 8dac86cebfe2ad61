/* test_torch_parity.c - groovybee's LSTM against PyTorch itself. tests/fixtures/torch_*.safetensors
 * (made by tools/torch_fixtures.py with torch 1.13; see tests/fixtures/README.md) hold the
 * report's network built in PyTorch (lstm1/lstm2 = nn.LSTMCell, dropout between, fc =
 * nn.Linear, a loop over steps), its initial weights, a batch, and what PyTorch computed from
 * them: outputs, loss, every gradient, and the losses and weights of 5 Adam steps. Each fixture
 * is loaded into a gb_lstm and the same computation is run in both kernel paths (reference and
 * fast), in evaluation mode (dropout is 0 in the fixtures: random masks cannot match between
 * frameworks). torch_nade puts an RNN-NADE head (nade.W, nade.V, both (D, Hn) as groovybee keeps
 * them) on the stack, with E = 20 meter inputs and a short window (mask); there the per-step
 * nll and the NADE's conditionals p are compared too.
 *
 * Tolerances. Both sides compute in float32 with different summation orders, so they can only
 * agree to float32 rounding. The fixtures record how large that rounding is on each problem:
 * PyTorch float32 against PyTorch float64 from the same weights (metadata noise.*, paper/roll):
 * outputs 2.3e-8/3.8e-8 max abs, loss 1.1e-9/7.8e-9 relative, gradients 1.2e-7/1.3e-7 of the
 * largest gradient, Adam losses 7.5e-8/8.7e-8 relative, Adam weights 2.2e-7/2.4e-7 max abs.
 * groovybee against PyTorch float32, worst over both presets and both kernel paths (measured
 * with OpenBLAS 0.3.21 on 1, 2 and 4 threads, the same to two digits):
 *     y 6.0e-8 max abs          loss 0 (the same float)     grads 4.4e-7 of max |g| per tensor
 *     grads rel L2 2.6e-7       losses_adam 8.7e-8 rel      adam5 weights 3.7e-7 max abs
 * i.e. the size of float32's own noise. The bounds below are 10-17x those, so they do not
 * flake across BLAS builds and thread counts, and sit well below what a mistake costs:
 * test_catches_mistakes shows swapped gate blocks moving y by 4e-3, the loss by 8e-5 relative
 * and the gradients by 0.18 of their size, and an Adam lr off by 1% moving the weights by 8e-5
 * (a 0.1% error in one gate's derivative moved the gradients by 1.1e-4: 20x the bound).
 * The relative L2 bound 3e-6 is an NMSE bound of 9e-12.
 *
 * torch_nade: its float32 noise is of the same size (outputs 2e-8, loss 5.8e-8 relative, grads
 * 1.2e-7 of the largest, adam5 1.9e-7; p 6.6e-8 max abs, nll 7.9e-6 max abs of ~87 nats, 1e-7
 * relative), and groovybee's NADE (its fast path: float, a vectorised sigmoid of relative error
 * 2e-7) stays within the same bounds; measured, worst of both paths: y 3e-8, loss 8.7e-8 rel,
 * grads 2.6e-7 of max |g|, rel L2 1.5e-7, losses_adam 8.9e-8, adam5 1.9e-7, per-step nll 8.8e-8
 * relative (held to TOL_LOSS), p 6e-8 max abs (held to TOL_Y). Reading nade.W in the (Hn, D)
 * layout instead moves the loss by 4.5e-6, the nll by 1.9e-3, p by 0.023 and the gradients by
 * 0.077 of their size (test_catches_mistakes).
 * torch_events is the token model (issue 12): token ids (x (T, B, 1)) one-hot into lstm1
 * (groovybee gathers the token's column of W_ih), the softmax head fc = Linear(H, V = 388),
 * nn.CrossEntropyLoss over the real steps of short windows; its per-step nll is compared too.
 * Measured, worst of both paths (PyTorch's own float32 noise in brackets): y 6e-8 [3.3e-8],
 * loss 0 [1.1e-8], grads 5.3e-7 of max |g| [1.2e-7], rel L2 4.2e-7, losses_adam 1.6e-7
 * [1.6e-7], adam5 1.2e-6 [1.7e-6: biases with gradients of 4e-7 of their tensor's largest,
 * which Adam moves by ~lr whatever their size], nll 8.6e-8 relative; within the same bounds.
 * Reading every token as the next one (a column off) moves y by 0.032 and the gradients by 1.1
 * of their size (test_catches_mistakes).
 * Non-vacuity: the smallest max |g| of a tensor is 1.04e-4 (paper's lstm1.weight_hh), 1.07e-4
 * (roll's lstm1.weight_ih), 1.09e-4 (nade's lstm1.weight_hh: little recurrence at T = 8); the
 * floor is 1e-5, under those with room for a regenerated fixture and still 4 orders above float
 * rounding at that scale. Inputs that are never on (pitches; nade's unused meter columns) give
 * columns of exactly zero gradient in lstm1.weight_ih (160, 512 and 5376 elements); they must
 * be exact zeros here too, which the per-tensor errors, relative to the largest |g|, could not
 * tell (and no per-element relative error is taken: it would divide by those zeros).
 *
 * Adam's first steps move every weight by ~lr whatever its gradient's size (m_hat / sqrt(v_hat)
 * ~ +-1), so a gradient whose sign were at the mercy of rounding could move a weight ~2 lr =
 * 2e-3 differently in the two frameworks; none does in these fixtures (measured 3.7e-7), and
 * they are fixed, so a failure of the adam5 bound means a real change, not bad luck. */
#include "io/safetensors.h"
#include "model/lstm.h"
#include "model/nade.h"
#include "test.h"

#include <math.h>
#include <stdlib.h>

#define FIXTURES "tests/fixtures/"
#define REGEN "/usr/bin/python3 tools/torch_fixtures.py"

/* the bounds (see above; measured worst case in brackets) */
#define TOL_Y 1e-6       /* max abs error of the outputs y (T, B, D), y ~ O(0.1..1) [6e-8] */
#define TOL_LOSS 1e-6    /* relative error of the loss and of each Adam loss [0, 8.7e-8] */
#define TOL_GRAD 5e-6    /* per parameter tensor: max abs error / max |g| of it [4.4e-7] */
#define TOL_GRAD_L2 3e-6 /* per parameter tensor: ||g - g_torch|| / ||g_torch|| [2.6e-7] */
#define TOL_ADAM 5e-6    /* max abs error of the weights after 5 Adam steps (lr 1e-3) [3.7e-7] */
#define GRAD_FLOOR 1e-5  /* non-vacuity: every tensor's max |g| above this [1.04e-4] */

#define ADAM_LR 1e-3f
#define ADAM_B1 0.9f
#define ADAM_B2 0.999f
#define ADAM_EPS 1e-8f
#define ADAM_STEPS 5

static int verbose(void) { return getenv("GB_TEST_VERBOSE") != NULL; }

/* ------------------------------------------------------------------------------------------ */
/* a fixture and the name map */

typedef struct {
    gb_st_file f;
    const char *path;
    gb_lstm_config cfg;
    int T, B;
    gb_loss_kind kind;
    gb_loss_on on;
    const float *x, *target, *y, *losses_adam;
    const float *mask, *p, *nll; /* nade (else NULL): (T, B), (T, B, D), (T, B); events:
                                    mask, nll */
    float loss;
} fixture;

/* PyTorch's parameter names -> gb_lstm_views, with the shapes both sides must have:
 * lstmK.weight_ih -> w_ih[K-1] (4H, in), lstmK.weight_hh -> w_hh[K-1] (4H, H), lstmK.bias_ih ->
 * b_ih[K-1] (4H), lstmK.bias_hh -> b_hh[K-1] (4H), fc.weight -> fc_w (Dout, H), fc.bias -> fc_b
 * (Dout), and with a NADE head nade.W -> nade_w (D, Hn), nade.V -> nade_v (D, Hn). The layouts
 * are the same: row-major, gate blocks i, f, g, o; the NADE's row k for pitch k. */
#define PMAP_NAME 32
typedef struct {
    char name[PMAP_NAME];
    float *p;      /* into the gb_lstm_views block it was made from */
    int ndim;
    int64_t shape[2];
    size_t n;
} pmap;

#define MAX_PMAP (4 * GB_LSTM_MAX_LAYERS + 4)

static int pmap_make(const gb_lstm_config *c, const gb_lstm_views *v, pmap *m) {
    int n = 0, G = 4 * c->H, Dout = gb_lstm_dout(c);
    for (int l = 0; l < c->L; l++) {
        int in = l ? c->H : gb_lstm_dw(c);
        const char *suffix[4] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};
        float *ptr[4] = {v->w_ih[l], v->w_hh[l], v->b_ih[l], v->b_hh[l]};
        int cols[4] = {in, c->H, 0, 0};
        for (int k = 0; k < 4; k++, n++) {
            snprintf(m[n].name, sizeof m[n].name, "lstm%d.%s", l + 1, suffix[k]);
            m[n].p = ptr[k];
            m[n].ndim = cols[k] ? 2 : 1;
            m[n].shape[0] = G, m[n].shape[1] = cols[k];
            m[n].n = (size_t)G * (cols[k] ? cols[k] : 1);
        }
    }
    snprintf(m[n].name, sizeof m[n].name, "fc.weight");
    m[n].p = v->fc_w, m[n].ndim = 2, m[n].shape[0] = Dout, m[n].shape[1] = c->H;
    m[n].n = (size_t)Dout * c->H, n++;
    snprintf(m[n].name, sizeof m[n].name, "fc.bias");
    m[n].p = v->fc_b, m[n].ndim = 1, m[n].shape[0] = Dout, m[n].shape[1] = 0;
    m[n].n = (size_t)Dout, n++;
    if (c->head == GB_HEAD_NADE)
        for (int k = 0; k < 2; k++, n++) {
            snprintf(m[n].name, sizeof m[n].name, k ? "nade.V" : "nade.W");
            m[n].p = k ? v->nade_v : v->nade_w, m[n].ndim = 2;
            m[n].shape[0] = c->D, m[n].shape[1] = c->Hn;
            m[n].n = (size_t)c->D * c->Hn;
        }
    return n;
}

/* The tensor prefix+name with exactly that shape, or NULL with a failed check that says why. */
static const gb_st_tensor *need(const fixture *fx, const char *prefix, const char *name, int ndim,
                                const int64_t *shape) {
    char full[GB_ST_MAX_NAME + 1];
    snprintf(full, sizeof full, "%s%s", prefix, name);
    const gb_st_tensor *t = gb_st_find(&fx->f, full);
    int ok = t && t->ndim == ndim;
    for (int d = 0; ok && d < ndim; d++) ok = t->shape[d] == shape[d];
    if (!ok) {
        fprintf(stderr, "  FAIL %s: tensor '%s' %s\n", fx->path, full,
                t ? "has the wrong shape" : "is missing");
        CHECK(ok);
        return NULL;
    }
    return t;
}

static void fixture_free(fixture *fx) { gb_st_free(&fx->f); }

/* Loads and validates a fixture; 0 (with failed checks) if it is missing or malformed. */
static int fixture_load(fixture *fx, const char *path) {
    memset(fx, 0, sizeof *fx);
    fx->path = path;
    gb_error err = {0};
    if (gb_st_read(path, &fx->f, &err) != GB_OK) {
        fprintf(stderr,
                "  FAIL %s: %s\n  the PyTorch parity fixtures are committed in tests/fixtures/;"
                " regenerate them with `%s` (see tests/fixtures/README.md)\n",
                path, err.msg, REGEN);
        CHECK(!"fixture missing or unreadable");
        return 0;
    }
    /* sizes from the shapes: x (T, B, Din), target (T, B, D), lstm1.weight_hh (4H, H), with a
     * NADE head nade.V (D, Hn); L from lstmK present. A token model (metadata vocab V): x
     * (T, B, 1 + E) ids first, target (T, B) ids, fc.weight (D, H), the softmax head */
    const gb_st_tensor *x = gb_st_find(&fx->f, "x"), *whh = gb_st_find(&fx->f, "lstm1.weight_hh");
    const gb_st_tensor *tg = gb_st_find(&fx->f, "target"), *nv = gb_st_find(&fx->f, "nade.V");
    const gb_st_tensor *fw = gb_st_find(&fx->f, "fc.weight");
    const char *vocab = gb_st_meta(&fx->f, "vocab");
    int tok = vocab != NULL;
    if (!x || x->ndim != 3 || !tg || tg->ndim != (tok ? 2 : 3) ||
        (!tok && tg->shape[2] > x->shape[2]) || !whh || whh->ndim != 2 ||
        whh->shape[0] != 4 * whh->shape[1] || (nv && nv->ndim != 2) || !fw || fw->ndim != 2 ||
        (tok && (nv || atoi(vocab) < 1 || x->shape[2] < 1))) {
        fprintf(stderr, "  FAIL %s: no x (T, B, Din), target (T, B, D) (tokens: (T, B)), "
                "fc.weight or lstm1.weight_hh (4H, H), or nade.V not (D, Hn)\n", path);
        CHECK(!"fixture malformed");
        return 0;
    }
    fx->T = (int)x->shape[0], fx->B = (int)x->shape[1];
    fx->cfg.D = tok ? (int)fw->shape[0] : (int)tg->shape[2];
    fx->cfg.V = tok ? atoi(vocab) : 0;
    fx->cfg.E = (int)(x->shape[2] - (tok ? 1 : tg->shape[2]));
    fx->cfg.H = (int)whh->shape[1], fx->cfg.dropout = 0.0f;
    fx->cfg.head = nv ? GB_HEAD_NADE : tok ? GB_HEAD_SOFTMAX : GB_HEAD_LINEAR;
    fx->cfg.Hn = nv ? (int)nv->shape[1] : 0;
    int nade = nv != NULL;
    int L = 0;
    for (char nm[32]; L < GB_LSTM_MAX_LAYERS; L++) {
        snprintf(nm, sizeof nm, "lstm%d.weight_ih", L + 1);
        if (!gb_st_find(&fx->f, nm)) break;
    }
    fx->cfg.L = L;
    const char *loss = gb_st_meta(&fx->f, "loss"), *on = gb_st_meta(&fx->f, "loss_on");
    /* nade, events: the NADE's loss, the cross-entropy, over the real steps of the mask
     * (gb_loss ON_ALL with the mask) */
    int ok = L >= 1 && loss && on &&
             (nade  ? !strcmp(loss, "nade") && !strcmp(on, "mask")
              : tok ? !strcmp(loss, "ce") && !strcmp(on, "mask")
                    : (!strcmp(loss, "mse") || !strcmp(loss, "bce")) &&
                          (!strcmp(on, "last") || !strcmp(on, "all")));
    CHECK(ok);
    if (!ok) {
        fprintf(stderr, "  FAIL %s: L = %d, metadata loss '%s', loss_on '%s'\n", path, L,
                loss ? loss : "(none)", on ? on : "(none)");
        return 0;
    }
    fx->kind = !strcmp(loss, "mse") ? GB_LOSS_MSE : tok ? GB_LOSS_CE : GB_LOSS_BCE;
    fx->on = !strcmp(on, "last") ? GB_LOSS_ON_LAST : GB_LOSS_ON_ALL;
    /* the metadata's sizes agree with the shapes */
    int sizes[7] = {fx->cfg.D, fx->cfg.H, L, fx->T, fx->B, fx->cfg.E, fx->cfg.Hn};
    const char *keys[7] = {"D", "H", "L", "T", "B", "E", "Hn"};
    for (int k = 0; k < (nade ? 7 : tok ? 6 : 5); k++) {
        const char *v = gb_st_meta(&fx->f, keys[k]);
        CHECK(v && atoi(v) == sizes[k]);
    }
    int64_t tbd[3] = {fx->T, fx->B, fx->cfg.D}, five = ADAM_STEPS;
    int64_t tbo[3] = {fx->T, fx->B, gb_lstm_dout(&fx->cfg)}, tb[2] = {fx->T, fx->B};
    const gb_st_tensor *t = tok ? need(fx, "", "target", 2, tb) : need(fx, "", "target", 3, tbd);
    const gb_st_tensor *y = need(fx, "", "y", 3, tbo);
    const gb_st_tensor *l = need(fx, "", "loss", 0, NULL);
    const gb_st_tensor *la = need(fx, "", "losses_adam", 1, &five);
    if (!t || !y || !l || !la) return 0;
    fx->x = x->data, fx->target = t->data, fx->y = y->data, fx->losses_adam = la->data;
    fx->loss = l->data[0];
    if (nade) {
        const gb_st_tensor *mk = need(fx, "", "mask", 2, tb), *p = need(fx, "", "p", 3, tbd);
        const gb_st_tensor *nll = need(fx, "", "nll", 2, tb);
        if (!mk || !p || !nll) return 0;
        fx->mask = mk->data, fx->p = p->data, fx->nll = nll->data;
    }
    if (tok) {
        const gb_st_tensor *mk = need(fx, "", "mask", 2, tb), *nll = need(fx, "", "nll", 2, tb);
        if (!mk || !nll) return 0;
        fx->mask = mk->data, fx->nll = nll->data;
    }
    /* every parameter in three versions (initial, grad., adam5.), and nothing else */
    gb_lstm_views v;
    pmap pm[MAX_PMAP];
    float dummy;
    gb_lstm_views_of(&fx->cfg, &dummy, &v); /* only the names and shapes are used */
    int np = pmap_make(&fx->cfg, &v, pm);
    const char *prefix[3] = {"", "grad.", "adam5."};
    for (int k = 0; k < np; k++)
        for (int s = 0; s < 3; s++)
            if (!need(fx, prefix[s], pm[k].name, pm[k].ndim, pm[k].shape)) return 0;
    size_t want = (size_t)3 * np + 5 + (nade ? 3 : tok ? 2 : 0); /* mask, (p), nll */
    CHECK_INT(fx->f.n, want);
    return fx->f.n == want;
}

/* ------------------------------------------------------------------------------------------ */
/* the comparison */

typedef enum { MUT_NONE, MUT_SWAP_GATES, MUT_ADAM_LR, MUT_NADE_W_T, MUT_TOKEN_NEXT } mutation;

typedef struct {
    double y, loss, grad, grad_l2, losses_adam, adam5; /* the worst of each, as the bounds */
    double nll, p;      /* nade: per-step nll (relative) and conditionals (max abs) */
    double grad_min_max, adam_min_move; /* non-vacuity: smallest max |g|, smallest max move */
    long zeros, zeros_lost; /* gradient elements exactly 0 in PyTorch; of those, not 0 here */
    char grad_at[PMAP_NAME], adam_at[PMAP_NAME], min_at[PMAP_NAME]; /* where the worst are */
} errors;

static double maxabs_diff(const float *a, const float *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= m)) m = d; /* NaN sticks */
    }
    return m;
}

/* nade: the NADE's conditionals p(t_k = 1 | t_<k) (T, B, D) under our outputs y, each from the
 * reference's nll of that one key (tests/test_nade.c holds the reference to the definition). */
static void nade_conditionals(const gb_lstm *m, const float *y, const float *target, int n,
                              float *p) {
    int D = m->cfg.D, Hn = m->cfg.Hn;
    uint8_t *keys = calloc(D, 1);
    for (int r = 0; r < n; r++)
        for (int k = 0; k < D; k++) {
            double nll;
            keys[k] = 1;
            gb_nade_ref(1, D, Hn, m->p.nade_w, m->p.nade_v, y + (size_t)r * (D + Hn),
                        target + (size_t)r * D, NULL, keys, &nll, NULL, NULL, NULL);
            keys[k] = 0;
            double pt = exp(-nll); /* p(t_k | t_<k): of 1 where t_k is 1, of 0 where it is 0 */
            p[(size_t)r * D + k] = (float)(target[(size_t)r * D + k] != 0 ? pt : 1 - pt);
        }
    free(keys);
}

/* Runs the fixture's computation with groovybee in one kernel path and measures it against
 * PyTorch's numbers. A mutation, for test_catches_mistakes, breaks the setup on purpose. */
static void run_parity(const fixture *fx, int ref, mutation mut, errors *e) {
    const gb_lstm_config *c = &fx->cfg;
    int T = fx->T, B = fx->B, D = c->D, H = c->H, Dw = gb_lstm_dw(c), Dout = gb_lstm_dout(c);
    size_t tbo = (size_t)T * B * Dout;
    const float *x = fx->x;
    float *xm = NULL;
    if (mut == MUT_TOKEN_NEXT && c->V) { /* every token read as the next one: a column off */
        size_t nx = (size_t)T * B * gb_lstm_din(c);
        x = xm = malloc(nx * sizeof *xm);
        memcpy(xm, fx->x, nx * sizeof *xm);
        for (size_t r = 0; r < (size_t)T * B; r++) {
            float *id = xm + r * gb_lstm_din(c);
            *id = (float)(((int)*id + 1) % c->V);
        }
    }
    memset(e, 0, sizeof *e);
    e->grad_min_max = e->adam_min_move = INFINITY;
    gb_rng r;
    gb_rng_seed(&r, 1);
    gb_lstm m;
    gb_lstm_acts *a = NULL;
    CHECK_INT(gb_lstm_init(&m, c, &r, NULL), GB_OK);
    CHECK_INT(gb_lstm_acts_new(c, T, B, &a, NULL), GB_OK);
    float *y = malloc(tbo * sizeof *y), *dy = malloc(tbo * sizeof *dy);
    CHECK(y && dy && a && m.params);
    if (!y || !dy || !a || !m.params) goto out;

    /* the initial weights: every float of the block comes from the fixture (NaN would show) */
    for (size_t i = 0; i < m.n_params; i++) m.params[i] = NAN;
    pmap pp[MAX_PMAP], pg[MAX_PMAP];
    int np = pmap_make(c, &m.p, pp);
    pmap_make(c, &m.g, pg);
    size_t covered = 0;
    for (int k = 0; k < np; k++) {
        memcpy(pp[k].p, gb_st_find(&fx->f, pp[k].name)->data, pp[k].n * sizeof(float));
        covered += pp[k].n;
    }
    CHECK(covered == m.n_params);
    if (mut == MUT_SWAP_GATES) { /* swap the i and f blocks of lstm1.weight_ih (rows) */
        size_t blk = (size_t)H * Dw;
        float *w = m.p.w_ih[0];
        for (size_t i = 0; i < blk; i++) {
            float t = w[i];
            w[i] = w[blk + i], w[blk + i] = t;
        }
    }
    if (mut == MUT_NADE_W_T && m.p.nade_w) { /* nade.W read as if it were (Hn, D) */
        const float *w = gb_st_find(&fx->f, "nade.W")->data;
        int Hn = c->Hn;
        for (int k = 0; k < D; k++)
            for (int j = 0; j < Hn; j++) m.p.nade_w[(size_t)k * Hn + j] = w[(size_t)j * D + k];
    }

    /* forward (evaluation: no rng, no dropout), loss, backward */
    gb_lstm_use_reference(ref);
    gb_lstm_zero_grad(&m);
    gb_lstm_forward(&m, a, x, T, B, y, NULL);
    float loss = gb_loss(&m, &m.g, fx->kind, fx->on, y, fx->target, fx->mask, T, B, dy);
    gb_lstm_backward(&m, a, x, dy, T, B);
    e->y = maxabs_diff(y, fx->y, tbo);
    e->loss = fabs((double)loss - fx->loss) / fabs((double)fx->loss);
    if (!(e->loss == e->loss)) e->loss = INFINITY;
    if (c->head == GB_HEAD_NADE) { /* every step's nll (padding too) and every conditional */
        int n = T * B;
        double *nll = malloc(n * sizeof *nll);
        float *p = malloc((size_t)n * D * sizeof *p);
        gb_step_nll(&m, y, fx->target, n, NULL, nll);
        for (int i = 0; i < n; i++) {
            double rel = fabs(nll[i] - fx->nll[i]) / fabs((double)fx->nll[i]);
            if (!(rel <= e->nll)) e->nll = rel;
        }
        nade_conditionals(&m, y, fx->target, n, p);
        e->p = maxabs_diff(p, fx->p, (size_t)n * D);
        free(nll), free(p);
    }
    if (c->head == GB_HEAD_SOFTMAX) { /* every step's cross-entropy (padding too) */
        int n = T * B;
        double *nll = malloc(n * sizeof *nll);
        gb_step_nll(&m, y, fx->target, n, NULL, nll);
        for (int i = 0; i < n; i++) {
            double rel = fabs(nll[i] - fx->nll[i]) / fabs((double)fx->nll[i]);
            if (!(rel <= e->nll)) e->nll = rel;
        }
        free(nll);
    }
    for (int k = 0; k < np; k++) {
        char nm[64];
        snprintf(nm, sizeof nm, "grad.%.*s", PMAP_NAME, pg[k].name);
        const float *gt = gb_st_find(&fx->f, nm)->data;
        double gmax = 0, d2 = 0, n2 = 0;
        for (size_t i = 0; i < pg[k].n; i++) {
            double d = (double)pg[k].p[i] - gt[i];
            if (fabs(gt[i]) > gmax) gmax = fabs(gt[i]);
            d2 += d * d, n2 += (double)gt[i] * gt[i];
            if (gt[i] == 0) e->zeros++, e->zeros_lost += pg[k].p[i] != 0;
        }
        double rel = gmax > 0 ? maxabs_diff(pg[k].p, gt, pg[k].n) / gmax : INFINITY;
        double l2 = n2 > 0 ? sqrt(d2 / n2) : INFINITY;
        if (!(l2 == l2)) l2 = INFINITY;
        if (!(rel <= e->grad)) e->grad = rel, memcpy(e->grad_at, pg[k].name, sizeof e->grad_at);
        if (!(l2 <= e->grad_l2)) e->grad_l2 = l2;
        if (gmax < e->grad_min_max)
            e->grad_min_max = gmax, memcpy(e->min_at, pg[k].name, sizeof e->min_at);
    }

    /* 5 Adam steps on the same batch, as torch.optim.Adam after zero_grad/forward/backward */
    float lr = mut == MUT_ADAM_LR ? ADAM_LR * 1.01f : ADAM_LR;
    for (int s = 0; s < ADAM_STEPS; s++) {
        gb_lstm_zero_grad(&m);
        gb_lstm_forward(&m, a, x, T, B, y, NULL);
        float ls = gb_loss(&m, &m.g, fx->kind, fx->on, y, fx->target, fx->mask, T, B, dy);
        gb_lstm_backward(&m, a, x, dy, T, B);
        gb_adam_step(&m, lr, ADAM_B1, ADAM_B2, ADAM_EPS, 0.0f);
        double rel = fabs((double)ls - fx->losses_adam[s]) / fabs((double)fx->losses_adam[s]);
        if (!(rel <= e->losses_adam)) e->losses_adam = rel;
    }
    CHECK_INT(m.adam_t, ADAM_STEPS);
    for (int k = 0; k < np; k++) {
        char nm[64];
        snprintf(nm, sizeof nm, "adam5.%.*s", PMAP_NAME, pp[k].name);
        const float *wt = gb_st_find(&fx->f, nm)->data;
        const float *w0 = gb_st_find(&fx->f, pp[k].name)->data;
        double d = maxabs_diff(pp[k].p, wt, pp[k].n), move = maxabs_diff(wt, w0, pp[k].n);
        if (!(d <= e->adam5)) e->adam5 = d, memcpy(e->adam_at, pp[k].name, sizeof e->adam_at);
        if (move < e->adam_min_move) e->adam_min_move = move;
    }
out:
    free(y), free(dy), free(xm);
    gb_lstm_acts_free(a);
    gb_lstm_free(&m);
    gb_lstm_use_reference(0);
}

static void print_errors(const char *label, const errors *e) {
    fprintf(stderr,
            "  info %s: y max abs %.2g, loss rel %.2g, grad max/max|g| %.2g (%s), grad rel L2 "
            "%.2g, losses_adam rel %.2g, adam5 max abs %.2g (%s); smallest max|g| %.3g (%s), "
            "zero grads %ld (%ld not zero here)",
            label, e->y, e->loss, e->grad, e->grad_at, e->grad_l2, e->losses_adam, e->adam5,
            e->adam_at, e->grad_min_max, e->min_at, e->zeros, e->zeros_lost);
    if (e->nll > 0 || e->p > 0) fprintf(stderr, "; nll rel %.2g, p max abs %.2g", e->nll, e->p);
    fprintf(stderr, "\n");
}

static void parity(const char *preset) {
    char path[128];
    snprintf(path, sizeof path, FIXTURES "torch_%s.safetensors", preset);
    fixture fx;
    if (fixture_load(&fx, path)) {
        /* the fixture's own first Adam loss is its loss: the batch and weights are the same */
        CHECK(fx.losses_adam[0] == fx.loss);
        int nade = fx.cfg.head == GB_HEAD_NADE;
        for (int ref = 1; ref >= 0; ref--) {
            errors e;
            run_parity(&fx, ref, MUT_NONE, &e);
            char label[64];
            snprintf(label, sizeof label, "%s %s", preset, ref ? "ref" : "fast");
            int ok = e.y <= TOL_Y && e.loss <= TOL_LOSS && e.grad <= TOL_GRAD &&
                     e.grad_l2 <= TOL_GRAD_L2 && e.losses_adam <= TOL_LOSS &&
                     e.adam5 <= TOL_ADAM && e.nll <= TOL_LOSS && e.p <= TOL_Y &&
                     e.zeros_lost == 0;
            if (!ok || verbose()) print_errors(label, &e);
            CHECK(e.y <= TOL_Y);
            CHECK(e.loss <= TOL_LOSS);
            CHECK(e.grad <= TOL_GRAD);
            CHECK(e.grad_l2 <= TOL_GRAD_L2);
            CHECK(e.losses_adam <= TOL_LOSS);
            CHECK(e.adam5 <= TOL_ADAM);
            CHECK(e.nll <= TOL_LOSS); /* 0 without a NADE head */
            CHECK(e.p <= TOL_Y);
            CHECK_INT(e.zeros_lost, 0);
            /* not vacuous: every tensor has gradients well above float rounding, and Adam
             * moved every tensor by about its 5 steps of lr (~5e-3) */
            CHECK(e.grad_min_max > GRAD_FLOOR);
            CHECK(e.adam_min_move > 1e-3);
            /* exact zeros are there to be kept (events: the columns of tokens not in x) */
            CHECK(e.zeros >= (nade ? 5000 : fx.cfg.V ? 40000 : 100));
        }
    }
    fixture_free(&fx);
}

static void test_paper(void) { parity("paper"); }
static void test_roll(void) { parity("roll"); }
static void test_nade(void) { parity("nade"); }
static void test_events(void) { parity("events"); }

/* The bounds catch mistakes: i and f gate blocks of layer 1 swapped (a wrong gate order), in
 * each path, and Adam's lr off by 1%; with the NADE head, nade.W read in the (Hn, D) layout the
 * fixture once had (the transposed weights of a wrong layout). */
static void test_catches_mistakes(void) {
    fixture fx;
    if (fixture_load(&fx, FIXTURES "torch_paper.safetensors")) {
        for (int ref = 1; ref >= 0; ref--) {
            errors e;
            run_parity(&fx, ref, MUT_SWAP_GATES, &e);
            if (verbose()) print_errors(ref ? "swapped gates ref" : "swapped gates fast", &e);
            CHECK(e.y > 100 * TOL_Y);
            CHECK(e.loss > 10 * TOL_LOSS);
            CHECK(e.grad > 100 * TOL_GRAD);
            CHECK(e.adam5 > 10 * TOL_ADAM);
        }
        errors e;
        run_parity(&fx, 0, MUT_ADAM_LR, &e);
        if (verbose()) print_errors("adam lr +1%", &e);
        CHECK(e.y <= TOL_Y && e.grad <= TOL_GRAD); /* the same start */
        CHECK(e.adam5 > 5 * TOL_ADAM);
    }
    fixture_free(&fx);
    if (fixture_load(&fx, FIXTURES "torch_nade.safetensors")) {
        errors e;
        run_parity(&fx, 0, MUT_NADE_W_T, &e);
        if (verbose()) print_errors("nade.W transposed", &e);
        CHECK(e.y <= TOL_Y); /* the stack is right: only the NADE is off */
        CHECK(e.loss > 2 * TOL_LOSS); /* 4.5e-6: the mean over 128 pitches hides much of it */
        CHECK(e.nll > 100 * TOL_LOSS);
        CHECK(e.p > 1000 * TOL_Y);
        CHECK(e.grad > 1000 * TOL_GRAD);
    }
    fixture_free(&fx);
    if (fixture_load(&fx, FIXTURES "torch_events.safetensors")) {
        errors e;
        run_parity(&fx, 0, MUT_TOKEN_NEXT, &e);
        if (verbose()) print_errors("tokens one column off", &e);
        CHECK(e.y > 100 * TOL_Y);
        CHECK(e.loss > 10 * TOL_LOSS);
        CHECK(e.nll > 10 * TOL_LOSS);
        CHECK(e.grad > 100 * TOL_GRAD);
    }
    fixture_free(&fx);
}

int main(void) {
    RUN(test_paper);
    RUN(test_roll);
    RUN(test_nade);
    RUN(test_events);
    RUN(test_catches_mistakes);
    TEST_END();
}
