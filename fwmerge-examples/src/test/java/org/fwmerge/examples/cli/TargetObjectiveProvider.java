package org.fwmerge.examples.cli;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.fwmerge.Evaluation;
import org.fwmerge.Model;
import org.fwmerge.Objective;
import org.fwmerge.tensor.Tensor;
import org.fwmerge.tensor.TensorBackend;

/** A provider for the merge tests: ½‖w − target‖² with {@code target} given in the YAML. */
public final class TargetObjectiveProvider implements ObjectiveProvider {

    @Override
    public Objective create(Map<String, Object> settings) {
        List<?> t = (List<?>) settings.get("target");
        float[] target = new float[t.size()];
        for (int i = 0; i < target.length; i++) {
            target[i] = ((Number) t.get(i)).floatValue();
        }
        return new Objective() {
            @Override
            public double loss(Model x) {
                float[] w = x.values("w");
                double s = 0;
                for (int i = 0; i < w.length; i++) {
                    s += 0.5 * (w[i] - target[i]) * (w[i] - target[i]);
                }
                return s;
            }

            @Override
            public Evaluation evaluate(Model x) {
                TensorBackend b = x.backend();
                float[] w = x.values("w");
                float[] g = new float[w.length];
                for (int i = 0; i < w.length; i++) {
                    g[i] = w[i] - target[i];
                }
                Map<String, Tensor> grad = new LinkedHashMap<>();
                grad.put("w", b.fromFloats(g, x.tensor("w").shape()));
                return new Evaluation(loss(x), grad);
            }
        };
    }
}
