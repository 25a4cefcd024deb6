package org.fwmerge.examples.extend;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import org.fwmerge.Evaluation;
import org.fwmerge.Model;
import org.fwmerge.Objective;
import org.fwmerge.tensor.Tensor;

/**
 * A hand-written objective: the mean cross-entropy of a linear softmax classifier z = W·a + b on
 * calibration features a with labels y, with its gradient written out (no autodiff):
 * ∂ℓ/∂W = (1/n) Σ_s (p_s − e_{y_s}) a_sᵀ and ∂ℓ/∂b = (1/n) Σ_s (p_s − e_{y_s}), p = softmax(z).
 *
 * <p>The point holds {@value #WEIGHT} {@code [classes, features]} and {@value #BIAS} {@code [classes]}.
 * Computed in double from the point's float32 values; immutable, so safe from several threads.
 */
public final class SoftmaxRegression implements Objective {

    /** Name of the weight tensor, shape {@code [classes, features]}. */
    public static final String WEIGHT = "linear.weight";
    /** Name of the bias tensor, shape {@code [classes]}. */
    public static final String BIAS = "linear.bias";

    private final float[] features;
    private final int[] labels;
    private final int dim;
    private final int classes;

    /**
     * @param features n × dim values, one sample after the other (copied)
     * @param labels   n labels in [0, classes) (copied)
     * @param dim      features per sample
     * @param classes  number of classes
     * @throws IllegalArgumentException if the sizes disagree or a label is out of range
     */
    public SoftmaxRegression(float[] features, int[] labels, int dim, int classes) {
        Objects.requireNonNull(features, "features");
        Objects.requireNonNull(labels, "labels");
        if (dim < 1 || classes < 2 || labels.length == 0 || features.length != labels.length * dim) {
            throw new IllegalArgumentException(features.length + " feature values for " + labels.length
                    + " samples of " + dim + " features and " + classes + " classes");
        }
        for (int i = 0; i < labels.length; i++) {
            if (labels[i] < 0 || labels[i] >= classes) {
                throw new IllegalArgumentException("label " + labels[i] + " of sample " + i + " is outside [0, " + classes + ")");
            }
        }
        this.features = features.clone();
        this.labels = labels.clone();
        this.dim = dim;
        this.classes = classes;
    }

    @Override
    public double loss(Model x) {
        return pass(x, null, null);
    }

    // tag::objective[]
    @Override
    public Evaluation evaluate(Model x) {
        double[] gw = new double[classes * dim];
        double[] gb = new double[classes];
        double loss = pass(x, gw, gb);
        Map<String, Tensor> gradient = new LinkedHashMap<>();
        gradient.put(WEIGHT, x.backend().fromFloats(toFloats(gw), classes, dim));
        gradient.put(BIAS, x.backend().fromFloats(toFloats(gb), classes));
        return new Evaluation(loss, gradient);
    }

    /** Mean cross-entropy at x; adds (1/n)·∂ℓ_s/∂W and ∂ℓ_s/∂b into gw, gb unless they are null. */
    private double pass(Model x, double[] gw, double[] gb) {
        float[] w = x.values(WEIGHT);
        float[] b = x.values(BIAS);
        int n = labels.length;
        double total = 0;
        double[] p = new double[classes];
        for (int s = 0; s < n; s++) {
            double max = Double.NEGATIVE_INFINITY;
            for (int c = 0; c < classes; c++) {
                double z = b[c];
                for (int j = 0; j < dim; j++) {
                    z += (double) w[c * dim + j] * features[s * dim + j];
                }
                p[c] = z;
                max = Math.max(max, z);
            }
            double zy = p[labels[s]] - max;
            double sum = 0;
            for (int c = 0; c < classes; c++) {
                p[c] = Math.exp(p[c] - max); // shifted by the maximum: exp stays finite
                sum += p[c];
            }
            total += Math.log(sum) - zy; // −log softmax(z)_y
            if (gw != null) {
                for (int c = 0; c < classes; c++) {
                    double r = (p[c] / sum - (c == labels[s] ? 1 : 0)) / n;
                    gb[c] += r;
                    for (int j = 0; j < dim; j++) {
                        gw[c * dim + j] += r * features[s * dim + j];
                    }
                }
            }
        }
        return total / n;
    }
    // end::objective[]

    /** The fraction of calibration samples whose largest logit is the label (ties: lowest class). */
    public double accuracy(Model x) {
        float[] w = x.values(WEIGHT);
        float[] b = x.values(BIAS);
        int correct = 0;
        for (int s = 0; s < labels.length; s++) {
            int best = 0;
            double bestZ = Double.NEGATIVE_INFINITY;
            for (int c = 0; c < classes; c++) {
                double z = b[c];
                for (int j = 0; j < dim; j++) {
                    z += (double) w[c * dim + j] * features[s * dim + j];
                }
                if (z > bestZ) {
                    bestZ = z;
                    best = c;
                }
            }
            correct += best == labels[s] ? 1 : 0;
        }
        return (double) correct / labels.length;
    }

    private static float[] toFloats(double[] v) {
        float[] f = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            f[i] = (float) v[i];
        }
        return f;
    }

    @Override
    public String toString() {
        return "SoftmaxRegression[" + labels.length + " samples, " + dim + " features, " + classes + " classes]";
    }
}
