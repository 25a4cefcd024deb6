package org.fwmerge.baseline;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.fwmerge.Merger;
import org.fwmerge.Model;
import org.fwmerge.ModelPool;
import org.fwmerge.Objective;
import org.fwmerge.QuadraticObjective;
import org.fwmerge.io.Checkpoint;
import org.junit.jupiter.api.Test;

/**
 * Memory is constant in the pool size: every baseline streams candidate tensors through chunked
 * {@link org.fwmerge.io.TensorReader}s (which, for files, hold nothing but a per-thread buffer) and
 * never loads a candidate tensor whole, for 3 and for 12 candidates alike.
 */
class StreamingTest {

    static Model randomModel(String name, CountingBackend backend, Random r) {
        float[] a = new float[70_000];
        float[] b = new float[33];
        for (int k = 0; k < a.length; k++) {
            a[k] = (float) r.nextGaussian();
        }
        for (int k = 0; k < b.length; k++) {
            b[k] = (float) r.nextGaussian();
        }
        return Pools.model(name, backend, a, b);
    }

    static int maxOpen(int n, java.util.function.BiFunction<CountingBackend, List<Model>, Merger> merger) throws Exception {
        CountingBackend counter = new CountingBackend();
        Random r = new Random(n);
        List<Model> models = new ArrayList<>();
        List<Checkpoint> cands = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Model m = randomModel("m" + i, counter, r);
            models.add(m);
            cands.add(new CountingCheckpoint(m, counter));
        }
        ModelPool pool = ModelPool.of(randomModel("base", counter, r), cands);
        counter.reset();
        merger.apply(counter, models).merge(pool).model().close();
        assertEquals(0, counter.open.get(), "tensors left open");
        return counter.maxOpen.get();
    }

    static Map<String, java.util.function.BiFunction<CountingBackend, List<Model>, Merger>> mergers() {
        Map<String, java.util.function.BiFunction<CountingBackend, List<Model>, Merger>> m = new LinkedHashMap<>();
        m.put("weight-averaging", (b, ms) -> WeightAveraging.builder().backend(b).build());
        m.put("task-arithmetic", (b, ms) -> TaskArithmetic.builder().backend(b).build());
        m.put("ties", (b, ms) -> Ties.builder().backend(b).build());
        m.put("ties per tensor, mean", (b, ms) -> Ties.builder().trim(Ties.Trim.PER_TENSOR).combine(Ties.Combine.MEAN)
                .backend(b).build());
        m.put("dare-ta", (b, ms) -> Dare.builder().backend(b).build());
        m.put("dare-ties", (b, ms) -> Dare.builder().ties(Ties.builder().backend(b).build()).build());
        m.put("fisher", (b, ms) -> {
            List<Objective> objectives = new ArrayList<>();
            for (Model model : ms) {
                Model c = model.copy();
                b.scale(0.5, c.tensor("a"));
                objectives.add(new QuadraticObjective(c));
            }
            return FisherMerging.builder().objectives(objectives).backend(b).build();
        });
        m.put("adamerging streamed", (b, ms) -> AdaMerging.builder().objective(new QuadraticObjective(ms.get(0)))
                .steps(2).backend(b).build());
        return m;
    }

    @Test
    void baselines_openCandidateTensors_constantInPoolSize() throws Exception {
        for (var e : mergers().entrySet()) {
            int small = maxOpen(3, e.getValue());
            int large = maxOpen(12, e.getValue());
            assertEquals(0, small, e.getKey() + " with 3 candidates");
            assertEquals(0, large, e.getKey() + " with 12 candidates");
        }
    }
}
