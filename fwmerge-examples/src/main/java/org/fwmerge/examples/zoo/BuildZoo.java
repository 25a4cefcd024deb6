package org.fwmerge.examples.zoo;

import java.io.IOException;
import java.nio.file.Path;

/**
 * Builds (or loads from the cache) the demo's zoo and prints per-task accuracies and the time taken.
 * Usage: {@code BuildZoo [cache-root [seed]]} (default {@code work/zoo}, seed 1); the zoo goes into
 * {@code <cache-root>/seed-<seed>}, where the demo looks for it.
 */
public final class BuildZoo {

    private BuildZoo() {
    }

    /**
     * Entry point.
     *
     * @param args optional cache directory and seed
     * @throws IOException if data or cache cannot be read or written
     */
    public static void main(String[] args) throws IOException {
        long seed = args.length > 1 ? Long.parseLong(args[1]) : 1L;
        Path cache = Path.of(args.length > 0 ? args[0] : "work/zoo").resolve("seed-" + seed);
        long t0 = System.nanoTime();
        Zoo zoo = Zoo.build(ZooConfig.defaults(seed), cache, ProgressListener.line(System.err));
        double secs = (System.nanoTime() - t0) / 1e9;
        System.out.println(report(zoo));
        System.out.printf("zoo ready in %.1f s (cache %s)%n", secs, cache);
    }

    /** A Markdown table of per-task accuracies. */
    public static String report(Zoo zoo) {
        StringBuilder sb = new StringBuilder("| task | classes | train | test | pre-trained acc | fine-tuned acc | LoRA acc |\n");
        sb.append("|---|---|---|---|---|---|---|\n");
        double a = 0;
        double b = 0;
        for (TaskModel t : zoo.tasks()) {
            sb.append(String.format("| %s | %d | %d | %d | %.3f | %.3f | %.3f |%n", t.task().name(), t.task().classes(),
                    t.train().size(), t.test().size(), t.pretrainedAccuracy(), t.finetunedAccuracy(),
                    t.adapter().map(LoraAdapter::accuracy).orElse(Double.NaN)));
            a += t.pretrainedAccuracy();
            b += t.finetunedAccuracy();
        }
        int n = zoo.tasks().size();
        sb.append(String.format("| mean | | | | %.3f | %.3f | %.3f |%n", a / n, b / n, zoo.tasks().stream()
                .mapToDouble(t -> t.adapter().map(LoraAdapter::accuracy).orElse(Double.NaN)).average().orElse(Double.NaN)));
        zoo.misinitialized().ifPresent(m -> sb.append(String.format("%nmisinitialised model of %s: %.3f%n", m.task(),
                m.accuracy())));
        return sb.toString();
    }
}
