/* test_torch_parity.c - groovybee's LSTM against PyTorch itself. tests/fixtures/torch_*.safetensors
 * (made by tools/torch_fixtures.py with torch 1.13; see tests/fixtures/README.md) hold the
 * report's network built in PyTorch (lstm1/lstm2 = nn.LSTMCell, dropout between, fc =
 * nn.Linear, a loop over steps), its initial weights, a batch, and what PyTorch computed from
 * them: outputs, loss, every gradient, and the losses and weights of 5 Adam steps. Each fixture
 * is loaded into a gb_lstm and the same computation is run in both kernel paths (reference and
 * fast), in evaluation mode (dropout is 0 in the fixtures: random masks cannot match between
 * frameworks).
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
 * Adam's first steps move every weight by ~lr whatever its gradient's size (m_hat / sqrt(v_hat)
 * ~ +-1), so a gradient whose sign were at the mercy of rounding could move a weight ~2 lr =
 * 2e-3 differently in the two frameworks; none does in these fixtures (measured 3.7e-7), and
 * they are fixed, so a failure of the adam5 bound means a real change, not bad luck. */
#include "io/safetensors.h"
#include "model/lstm.h"
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
    float loss;
} fixture;

/* PyTorch's parameter names -> gb_lstm_views, with the shapes both sides must have:
 * lstmK.weight_ih -> w_ih[K-1] (4H, in), lstmK.weight_hh -> w_hh[K-1] (4H, H), lstmK.bias_ih ->
 * b_ih[K-1] (4H), lstmK.bias_hh -> b_hh[K-1] (4H), fc.weight -> fc_w (D, H), fc.bias -> fc_b (D).
 * The layouts are the same: row-major, gate blocks i, f, g, o. */
#define PMAP_NAME 32
typedef struct {
    char name[PMAP_NAME];
    float *p;      /* into the gb_lstm_views block it was made from */
    int ndim;
    int64_t shape[2];
    size_t n;
} pmap;

#define MAX_PMAP (4 * GB_LSTM_MAX_LAYERS + 2)

static int pmap_make(const gb_lstm_config *c, const gb_lstm_views *v, pmap *m) {
    int n = 0, G = 4 * c->H;
    for (int l = 0; l < c->L; l++) {
        int in = l ? c->H : c->D;
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
    m[n].p = v->fc_w, m[n].ndim = 2, m[n].shape[0] = c->D, m[n].shape[1] = c->H;
    m[n].n = (size_t)c->D * c->H, n++;
    snprintf(m[n].name, sizeof m[n].name, "fc.bias");
    m[n].p = v->fc_b, m[n].ndim = 1, m[n].shape[0] = c->D, m[n].shape[1] = 0;
    m[n].n = (size_t)c->D, n++;
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
    /* sizes from the shapes: x (T, B, D), lstm1.weight_hh (4H, H), L from lstmK present */
    const gb_st_tensor *x = gb_st_find(&fx->f, "x"), *whh = gb_st_find(&fx->f, "lstm1.weight_hh");
    if (!x || x->ndim != 3 || !whh || whh->ndim != 2 || whh->shape[0] != 4 * whh->shape[1]) {
        fprintf(stderr, "  FAIL %s: no x (T, B, D) or lstm1.weight_hh (4H, H)\n", path);
        CHECK(!"fixture malformed");
        return 0;
    }
    fx->T = (int)x->shape[0], fx->B = (int)x->shape[1];
    fx->cfg.D = (int)x->shape[2], fx->cfg.H = (int)whh->shape[1], fx->cfg.dropout = 0.0f;
    int L = 0;
    for (char nm[32]; L < GB_LSTM_MAX_LAYERS; L++) {
        snprintf(nm, sizeof nm, "lstm%d.weight_ih", L + 1);
        if (!gb_st_find(&fx->f, nm)) break;
    }
    fx->cfg.L = L;
    const char *loss = gb_st_meta(&fx->f, "loss"), *on = gb_st_meta(&fx->f, "loss_on");
    int ok = L >= 1 && loss && on && (!strcmp(loss, "mse") || !strcmp(loss, "bce")) &&
             (!strcmp(on, "last") || !strcmp(on, "all"));
    CHECK(ok);
    if (!ok) {
        fprintf(stderr, "  FAIL %s: L = %d, metadata loss '%s', loss_on '%s'\n", path, L,
                loss ? loss : "(none)", on ? on : "(none)");
        return 0;
    }
    fx->kind = !strcmp(loss, "mse") ? GB_LOSS_MSE : GB_LOSS_BCE;
    fx->on = !strcmp(on, "all") ? GB_LOSS_ON_ALL : GB_LOSS_ON_LAST;
    /* the metadata's sizes agree with the shapes */
    int sizes[5] = {fx->cfg.D, fx->cfg.H, L, fx->T, fx->B};
    const char *keys[5] = {"D", "H", "L", "T", "B"};
    for (int k = 0; k < 5; k++) {
        const char *v = gb_st_meta(&fx->f, keys[k]);
        CHECK(v && atoi(v) == sizes[k]);
    }
    int64_t tbd[3] = {fx->T, fx->B, fx->cfg.D}, five = ADAM_STEPS;
    const gb_st_tensor *t = need(fx, "", "target", 3, tbd), *y = need(fx, "", "y", 3, tbd);
    const gb_st_tensor *l = need(fx, "", "loss", 0, NULL);
    const gb_st_tensor *la = need(fx, "", "losses_adam", 1, &five);
    if (!t || !y || !l || !la) return 0;
    fx->x = x->data, fx->target = t->data, fx->y = y->data, fx->losses_adam = la->data;
    fx->loss = l->data[0];
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
    CHECK_INT(fx->f.n, 3 * np + 5);
    return fx->f.n == (size_t)(3 * np + 5);
}

/* ------------------------------------------------------------------------------------------ */
/* the comparison */

typedef enum { MUT_NONE, MUT_SWAP_GATES, MUT_ADAM_LR } mutation;

typedef struct {
    double y, loss, grad, grad_l2, losses_adam, adam5; /* the worst of each, as the bounds */
    double grad_min_max, adam_min_move; /* non-vacuity: smallest max |g|, smallest max move */
    char grad_at[PMAP_NAME], adam_at[PMAP_NAME]; /* the tensors with the worst errors */
} errors;

static double maxabs_diff(const float *a, const float *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= m)) m = d; /* NaN sticks */
    }
    return m;
}

/* Runs the fixture's computation with groovybee in one kernel path and measures it against
 * PyTorch's numbers. A mutation, for test_catches_mistakes, breaks the setup on purpose. */
static void run_parity(const fixture *fx, int ref, mutation mut, errors *e) {
    const gb_lstm_config *c = &fx->cfg;
    int T = fx->T, B = fx->B, D = c->D, H = c->H;
    size_t tbd = (size_t)T * B * D;
    memset(e, 0, sizeof *e);
    e->grad_min_max = e->adam_min_move = INFINITY;
    gb_rng r;
    gb_rng_seed(&r, 1);
    gb_lstm m;
    gb_lstm_acts *a = NULL;
    CHECK_INT(gb_lstm_init(&m, c, &r, NULL), GB_OK);
    CHECK_INT(gb_lstm_acts_new(c, T, B, &a, NULL), GB_OK);
    float *y = malloc(tbd * sizeof *y), *dy = malloc(tbd * sizeof *dy);
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
        size_t blk = (size_t)H * D;
        float *w = m.p.w_ih[0];
        for (size_t i = 0; i < blk; i++) {
            float t = w[i];
            w[i] = w[blk + i], w[blk + i] = t;
        }
    }

    /* forward (evaluation: no rng, no dropout), loss, backward */
    gb_lstm_use_reference(ref);
    gb_lstm_zero_grad(&m);
    gb_lstm_forward(&m, a, fx->x, T, B, y, NULL);
    float loss = gb_loss(fx->kind, fx->on, y, fx->target, T, B, D, dy);
    gb_lstm_backward(&m, a, fx->x, dy, T, B);
    e->y = maxabs_diff(y, fx->y, tbd);
    e->loss = fabs((double)loss - fx->loss) / fabs((double)fx->loss);
    if (!(e->loss == e->loss)) e->loss = INFINITY;
    for (int k = 0; k < np; k++) {
        char nm[64];
        snprintf(nm, sizeof nm, "grad.%.*s", PMAP_NAME, pg[k].name);
        const float *gt = gb_st_find(&fx->f, nm)->data;
        double gmax = 0, d2 = 0, n2 = 0;
        for (size_t i = 0; i < pg[k].n; i++) {
            double d = (double)pg[k].p[i] - gt[i];
            if (fabs(gt[i]) > gmax) gmax = fabs(gt[i]);
            d2 += d * d, n2 += (double)gt[i] * gt[i];
        }
        double rel = gmax > 0 ? maxabs_diff(pg[k].p, gt, pg[k].n) / gmax : INFINITY;
        double l2 = n2 > 0 ? sqrt(d2 / n2) : INFINITY;
        if (!(l2 == l2)) l2 = INFINITY;
        if (!(rel <= e->grad)) e->grad = rel, memcpy(e->grad_at, pg[k].name, sizeof e->grad_at);
        if (!(l2 <= e->grad_l2)) e->grad_l2 = l2;
        if (gmax < e->grad_min_max) e->grad_min_max = gmax;
    }

    /* 5 Adam steps on the same batch, as torch.optim.Adam after zero_grad/forward/backward */
    float lr = mut == MUT_ADAM_LR ? ADAM_LR * 1.01f : ADAM_LR;
    for (int s = 0; s < ADAM_STEPS; s++) {
        gb_lstm_zero_grad(&m);
        gb_lstm_forward(&m, a, fx->x, T, B, y, NULL);
        float ls = gb_loss(fx->kind, fx->on, y, fx->target, T, B, D, dy);
        gb_lstm_backward(&m, a, fx->x, dy, T, B);
        gb_adam_step(&m, lr, ADAM_B1, ADAM_B2, ADAM_EPS);
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
    free(y), free(dy);
    gb_lstm_acts_free(a);
    gb_lstm_free(&m);
    gb_lstm_use_reference(0);
}

static void print_errors(const char *label, const errors *e) {
    fprintf(stderr,
            "  info %s: y max abs %.2g, loss rel %.2g, grad max/max|g| %.2g (%s), grad rel L2 "
            "%.2g, losses_adam rel %.2g, adam5 max abs %.2g (%s)\n",
            label, e->y, e->loss, e->grad, e->grad_at, e->grad_l2, e->losses_adam, e->adam5,
            e->adam_at);
}

static void parity(const char *preset) {
    char path[128];
    snprintf(path, sizeof path, FIXTURES "torch_%s.safetensors", preset);
    fixture fx;
    if (fixture_load(&fx, path)) {
        /* the fixture's own first Adam loss is its loss: the batch and weights are the same */
        CHECK(fx.losses_adam[0] == fx.loss);
        for (int ref = 1; ref >= 0; ref--) {
            errors e;
            run_parity(&fx, ref, MUT_NONE, &e);
            char label[64];
            snprintf(label, sizeof label, "%s %s", preset, ref ? "ref" : "fast");
            int ok = e.y <= TOL_Y && e.loss <= TOL_LOSS && e.grad <= TOL_GRAD &&
                     e.grad_l2 <= TOL_GRAD_L2 && e.losses_adam <= TOL_LOSS &&
                     e.adam5 <= TOL_ADAM;
            if (!ok || verbose()) print_errors(label, &e);
            CHECK(e.y <= TOL_Y);
            CHECK(e.loss <= TOL_LOSS);
            CHECK(e.grad <= TOL_GRAD);
            CHECK(e.grad_l2 <= TOL_GRAD_L2);
            CHECK(e.losses_adam <= TOL_LOSS);
            CHECK(e.adam5 <= TOL_ADAM);
            /* not vacuous: every tensor has gradients well above the bounds, and Adam moved
             * every tensor by about its 5 steps of lr (~5e-3) */
            CHECK(e.grad_min_max > 1e-4);
            CHECK(e.adam_min_move > 1e-3);
        }
    }
    fixture_free(&fx);
}

static void test_paper(void) { parity("paper"); }
static void test_roll(void) { parity("roll"); }

/* The bounds catch mistakes: i and f gate blocks of layer 1 swapped (a wrong gate order), in
 * each path, and Adam's lr off by 1%. */
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
}

int main(void) {
    RUN(test_paper);
    RUN(test_roll);
    RUN(test_catches_mistakes);
    TEST_END();
}
