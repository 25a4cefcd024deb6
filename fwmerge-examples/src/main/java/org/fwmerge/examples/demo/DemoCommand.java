package org.fwmerge.examples.demo;

import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.Callable;
import org.fwmerge.nd4j.SameDiffOutput;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code fwmerge demo [--full] [--data-dir DIR] [--out DIR] [--cache DIR]}. */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Build a zoo of fine-tuned models on Fashion-MNIST and MNIST digits, merge them with every method, "
                + "and write results.md and charts.")
public final class DemoCommand implements Callable<Integer> {

    @Option(names = "--full", description = "Run every experiment at full size (default: zoo, experiment 1, a short experiment 2).")
    boolean full;

    @Option(names = "--data-dir", description = "Directory with the full Fashion-MNIST idx files (default: the Debian "
            + "package's if installed, else the bundled subset).")
    Path dataDir;

    @Option(names = "--out", description = "Output directory (default: ${DEFAULT-VALUE}).", defaultValue = "fwmerge-out")
    Path out;

    @Option(names = "--cache", description = "Zoo cache directory (default: ${DEFAULT-VALUE}).", defaultValue = "work/zoo")
    Path cache;

    /** Picocli instantiates the command. */
    public DemoCommand() {
    }

    @Override
    public Integer call() throws Exception {
        System.setProperty("java.awt.headless", "true");
        // SameDiff announces every differentiated op on standard output (zoo training too): keep the demo readable.
        SameDiffOutput.quietly(() -> new Demo(Demo.DemoConfig.of(full, Optional.ofNullable(dataDir), out, cache), System.out).run());
        return 0;
    }
}
