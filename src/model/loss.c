/* loss.c - the two losses of the report, with PyTorch's mean reduction, and dL/dy. */
#include "model/lstm.h"

#include <math.h>
#include <string.h>

float gb_loss(gb_loss_kind k, gb_loss_on on, const float *y, const float *target, int T, int B,
              int D, float *dy) {
    size_t all = (size_t)T * B * D, n = on == GB_LOSS_ON_ALL ? all : (size_t)B * D;
    size_t first = all - n; /* ON_LAST: the last step's B*D elements */
    memset(dy, 0, first * sizeof *dy);
    double sum = 0, inv = 1.0 / (double)n;
    for (size_t i = first; i < all; i++) {
        double v = y[i], t = target[i];
        if (k == GB_LOSS_MSE) { /* (y - t)^2, d/dy = 2 (y - t) */
            sum += (v - t) * (v - t);
            dy[i] = (float)(2.0 * (v - t) * inv);
        } else { /* softplus(y) - t y = max(y, 0) + log1p(exp(-|y|)) - t y; d/dy = sigmoid(y) - t */
            sum += (v > 0 ? v : 0) + log1p(exp(-fabs(v))) - t * v;
            double s = v >= 0 ? 1.0 / (1.0 + exp(-v)) : exp(v) / (1.0 + exp(v));
            dy[i] = (float)((s - t) * inv);
        }
    }
    return (float)(sum * inv);
}
