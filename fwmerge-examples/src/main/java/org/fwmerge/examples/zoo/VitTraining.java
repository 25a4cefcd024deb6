package org.fwmerge.examples.zoo;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.fwmerge.Evaluation;
import org.fwmerge.Model;
import org.fwmerge.Objective;
import org.fwmerge.onnx.OnnxObjective;
import org.fwmerge.tensor.TensorBackend;
import org.fwmerge.tensor.TensorBackends;

/**
 * Adam on an {@link OnnxObjective}'s gradients: how the ViT zoo is pre-trained and fine-tuned in Java,
 * through the same exported graph the merges use. Each step draws a minibatch of the graph's batch size
 * ({@link Objective#minibatch}) from one of the objectives (round robin: pre-training alternates the two
 * datasets) and updates the trainable tensors — the point's; what the objective reads from its fixed
 * checkpoint (a frozen head, a frozen encoder) does not move.
 */
final class VitTraining {

    private static final double BETA1 = 0.9;
    private static final double BETA2 = 0.999;
    private static final double EPS = 1e-8;
    private static final TensorBackend REF = TensorBackends.reference();

    private VitTraining() {
    }

    /**
     * Trains {@code params} in place.
     *
     * @param objectives one per parameter set; step s uses objective s mod k with {@code params.get(s mod k)}
     *                   (pre-training: shared encoder arrays, one head per dataset)
     * @param params     the tensors each objective's point holds (arrays shared between sets are updated once
     *                   per step that uses them)
     * @param shapes     every tensor's shape
     * @param epochs     passes over the largest objective's samples
     */
    static void fit(List<OnnxObjective> objectives, List<Map<String, float[]>> params, Map<String, long[]> shapes,
            int epochs, double lr, long seed, Mlp.EpochListener listener) {
        SplittableRandom random = new SplittableRandom(seed);
        int batch = objectives.get(0).batchSize();
        int largest = objectives.stream().mapToInt(OnnxObjective::samples).max().orElseThrow();
        int stepsPerEpoch = Math.max(1, (largest + batch - 1) / batch) * objectives.size();
        Map<float[], float[][]> moments = new LinkedHashMap<>();
        int[] t = new int[1];
        for (int e = 1; e <= epochs; e++) {
            double sum = 0;
            for (int s = 0; s < stepsPerEpoch; s++) {
                int k = s % objectives.size();
                Map<String, float[]> p = params.get(k);
                Map<String, long[]> sh = new LinkedHashMap<>();
                p.keySet().forEach(n -> sh.put(n, shapes.get(n)));
                try (Model x = Model.ofArrays("training point", REF, p, sh);
                     Evaluation ev = objectives.get(k).minibatch(batch, random).evaluate(x)) {
                    sum += ev.loss();
                    t[0]++;
                    double c1 = 1 - Math.pow(BETA1, t[0]);
                    double c2 = 1 - Math.pow(BETA2, t[0]);
                    for (Map.Entry<String, float[]> w : p.entrySet()) {
                        float[] g = REF.toFloats(ev.gradient(w.getKey()));
                        float[][] mv = moments.computeIfAbsent(w.getValue(), a -> new float[][] {new float[a.length],
                            new float[a.length]});
                        float[] v = w.getValue();
                        for (int i = 0; i < v.length; i++) {
                            mv[0][i] = (float) (BETA1 * mv[0][i] + (1 - BETA1) * g[i]);
                            mv[1][i] = (float) (BETA2 * mv[1][i] + (1 - BETA2) * g[i] * g[i]);
                            v[i] -= (float) (lr * (mv[0][i] / c1) / (Math.sqrt(mv[1][i] / c2) + EPS));
                        }
                    }
                }
            }
            listener.epochDone(e, sum / stepsPerEpoch);
        }
    }
}
