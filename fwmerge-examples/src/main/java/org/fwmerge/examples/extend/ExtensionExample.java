package org.fwmerge.examples.extend;

import java.io.IOException;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;
import org.fwmerge.Evaluation;
import org.fwmerge.FrankWolfeMerger;
import org.fwmerge.Lmo;
import org.fwmerge.MergeResult;
import org.fwmerge.Model;
import org.fwmerge.ModelPool;
import org.fwmerge.Objective;
import org.fwmerge.Variant;
import org.fwmerge.examples.data.DataBundle;
import org.fwmerge.examples.data.DataSources;
import org.fwmerge.examples.data.Dataset;
import org.fwmerge.examples.zoo.Task;
import org.fwmerge.tensor.TensorBackend;
import org.fwmerge.tensor.TensorBackends;

/**
 * The three extension examples in one run, on real data (the bundled MNIST digits): softmax regression
 * "pre-trained" on upright digits, "fine-tuned" on rotated and flipped digits by gradient descent with
 * {@link SoftmaxRegression}'s own gradient, then merged by Frank-Wolfe with {@link SoftmaxRegression}
 * as the objective (100 calibration samples of each of two target tasks), {@link DampedMergeFn} as the
 * merge function and {@link ArmijoBacktracking} as the step rule. Prints the accuracy on the target
 * tasks' test splits before and after.
 *
 * <p>Run: {@code java -cp fwmerge-examples/target/fwmerge.jar org.fwmerge.examples.extend.ExtensionExample}
 */
public final class ExtensionExample {

    /** The tasks with a fine-tuned candidate; the first two are the merge's targets. */
    static final List<Task.Transform> CANDIDATES = List.of(Task.Transform.rotate(90), Task.Transform.flipHorizontal(),
            Task.Transform.rotate(180), Task.Transform.flipVertical());
    static final int TARGETS = 2;
    static final int CALIBRATION_PER_TASK = 100;

    /** What one run measured: mean test accuracy on the target tasks, and the FW calibration losses. */
    record Outcome(double baseAccuracy, double bestCandidateAccuracy, double mergedAccuracy, double firstLoss,
            double lastLoss, List<String> vertices) {
    }

    private ExtensionExample() {
    }

    /**
     * Runs the example and prints its progress and result.
     *
     * @param args ignored
     */
    public static void main(String[] args) throws IOException {
        run(System.out, 60, 10);
    }

    static Outcome run(PrintStream out, int trainSteps, int fwIterations) throws IOException {
        TensorBackend backend = TensorBackends.get();
        DataBundle data = DataSources.bundled();
        Dataset train = data.digitsTrain().stratifiedSubset(100, 1); // 1,000 images: seconds, not minutes
        Dataset test = data.digitsTest();
        int classes = 10;

        Model base = zeros(backend, classes);
        train(base, objective(train, Task.Transform.identity()), trainSteps);
        List<Model> candidates = new ArrayList<>();
        for (Task.Transform t : CANDIDATES) {
            Model m = base.copy();
            train(m, objective(train, t), trainSteps);
            candidates.add(Model.of(t.name(), backend, m.tensors()));
        }

        List<Objective> calibration = new ArrayList<>();
        List<SoftmaxRegression> testSets = new ArrayList<>();
        for (Task.Transform t : CANDIDATES.subList(0, TARGETS)) {
            calibration.add(objective(train.stratifiedSubset(CALIBRATION_PER_TASK / classes, 7), t));
            testSets.add(objective(test, t));
        }

        // tag::builder[]
        FrankWolfeMerger merger = FrankWolfeMerger.builder()
                .objective(Objective.sum(calibration))                      // hand-written objective
                .variant(Variant.hard(new ArmijoBacktracking(1e-4, 12),        // custom step rule
                        new DampedMergeFn(Pattern.compile(".*\\.bias"), 0.5)))   // custom merge function
                .lmo(Lmo.layerWise())
                .maxIterations(fwIterations)
                .build();
        // end::builder[]

        try (ModelPool pool = ModelPool.of(base, candidates)) {
            MergeResult result = merger.merge(pool);
            double baseAcc = mean(testSets, base);
            double bestCandidate = 0;
            for (Model c : candidates) {
                bestCandidate = Math.max(bestCandidate, mean(testSets, c));
            }
            double merged = mean(testSets, result.model());
            double first = result.iterations().get(0).loss();
            out.printf(Locale.ROOT, "target tasks %s, %d calibration samples each%n",
                    CANDIDATES.subList(0, TARGETS), CALIBRATION_PER_TASK);
            out.printf(Locale.ROOT, "mean test accuracy: base %.3f, best single candidate %.3f, FW merge %.3f%n",
                    baseAcc, bestCandidate, merged);
            out.printf(Locale.ROOT, "calibration loss %.4f -> %.4f in %d iterations (%s)%n", first, result.returnedLoss(),
                    result.iterations().size(), result.stopReason());
            result.model().close();
            return new Outcome(baseAcc, bestCandidate, merged, first, result.returnedLoss(), result.vertices());
        } finally {
            base.close();
            candidates.forEach(Model::close);
        }
    }

    /** The objective on a dataset seen through a pixel transform. */
    static SoftmaxRegression objective(Dataset d, Task.Transform t) {
        Dataset seen = new Task("t", Task.Source.DIGITS, t, new int[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 10).apply(d);
        return new SoftmaxRegression(seen.pixels(), seen.labels(), Dataset.PIXELS, seen.classes());
    }

    static Model zeros(TensorBackend backend, int classes) {
        Map<String, float[]> a = new LinkedHashMap<>();
        a.put(SoftmaxRegression.WEIGHT, new float[classes * Dataset.PIXELS]);
        a.put(SoftmaxRegression.BIAS, new float[classes]);
        return Model.ofArrays("base", backend, a, Map.of(SoftmaxRegression.WEIGHT, new long[] {classes, Dataset.PIXELS}));
    }

    /** Plain gradient descent with the objective's own gradient. */
    static void train(Model x, Objective objective, int steps) {
        for (int i = 0; i < steps; i++) {
            try (Evaluation e = objective.evaluate(x)) {
                for (String name : x.names()) {
                    x.backend().axpy(-0.5, e.gradient(name), x.tensor(name));
                }
            }
        }
    }

    private static double mean(List<SoftmaxRegression> tasks, Model m) {
        double s = 0;
        for (SoftmaxRegression t : tasks) {
            s += t.accuracy(m);
        }
        return s / tasks.size();
    }
}
