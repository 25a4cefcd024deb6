package org.fwmerge.examples.demo;

import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.Callable;
import org.fwmerge.nd4j.SameDiffOutput;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code fwmerge demo [--full] [--seed N] [--data-dir DIR] [--out DIR] [--cache DIR]}. */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Build a zoo of fine-tuned models on Fashion-MNIST and MNIST digits, merge them with every method, "
                + "and write results.md and charts.")
public final class DemoCommand implements Callable<Integer> {

    @Option(names = "--full", description = "Run every experiment at full size: more points in experiments 2 and 3, every method in "
            + "experiment 3 (default: fewer points, FW-soft and the data-free baselines in experiment 3).")
    boolean full;

    @Option(names = "--seed", description = "Seed of the zoo (initialisation, subsets, the pixel permutations of the "
            + "permutation tasks) and of the calibration samples (default: ${DEFAULT-VALUE}).", defaultValue = "1")
    long seed;

    @Option(names = "--data-dir", description = "Directory with the full Fashion-MNIST idx files (default: the Debian "
            + "package's if installed, else the bundled subset).")
    Path dataDir;

    @Option(names = "--out", description = "Output directory (default: ${DEFAULT-VALUE}).", defaultValue = "fwmerge-out")
    Path out;

    @Option(names = "--cache", description = "Zoo cache directory; each seed's zoo goes into seed-N under it "
            + "(default: ${DEFAULT-VALUE}).", defaultValue = "work/zoo")
    Path cache;

    /** Picocli instantiates the command. */
    public DemoCommand() {
    }

    @Override
    public Integer call() throws Exception {
        System.setProperty("java.awt.headless", "true");
        // SameDiff announces every differentiated op on standard output (zoo training too): keep the demo readable.
        SameDiffOutput.quietly(() -> new Demo(Demo.DemoConfig.of(full, seed, Optional.ofNullable(dataDir), out, cache), System.out).run());
        return 0;
    }
}
