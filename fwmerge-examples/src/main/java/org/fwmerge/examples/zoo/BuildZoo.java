package org.fwmerge.examples.zoo;

import java.io.IOException;
import java.nio.file.Path;

/**
 * Builds (or loads from the cache) the demo's zoo and prints per-task accuracies and the time taken.
 * Usage: {@code BuildZoo [cache-dir]} (default {@code work/zoo}).
 */
public final class BuildZoo {

    private BuildZoo() {
    }

    /**
     * Entry point.
     *
     * @param args optional cache directory
     * @throws IOException if data or cache cannot be read or written
     */
    public static void main(String[] args) throws IOException {
        Path cache = Path.of(args.length > 0 ? args[0] : "work/zoo");
        long t0 = System.nanoTime();
        Zoo zoo = Zoo.build(ZooConfig.defaults(), cache, ProgressListener.line(System.err));
        double secs = (System.nanoTime() - t0) / 1e9;
        System.out.println(report(zoo));
        System.out.printf("zoo ready in %.1f s (cache %s)%n", secs, cache);
    }

    /** A Markdown table of per-task accuracies. */
    public static String report(Zoo zoo) {
        StringBuilder sb = new StringBuilder("| task | classes | train | test | pre-trained acc | fine-tuned acc |\n");
        sb.append("|---|---|---|---|---|---|\n");
        double a = 0;
        double b = 0;
        for (TaskModel t : zoo.tasks()) {
            sb.append(String.format("| %s | %d | %d | %d | %.3f | %.3f |%n", t.task().name(), t.task().classes(),
                    t.train().size(), t.test().size(), t.pretrainedAccuracy(), t.finetunedAccuracy()));
            a += t.pretrainedAccuracy();
            b += t.finetunedAccuracy();
        }
        int n = zoo.tasks().size();
        sb.append(String.format("| mean | | | | %.3f | %.3f |%n", a / n, b / n));
        return sb.toString();
    }
}
