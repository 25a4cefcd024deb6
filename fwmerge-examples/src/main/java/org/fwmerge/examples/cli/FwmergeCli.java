package org.fwmerge.examples.cli;

import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * The {@code fwmerge} command line: {@code java -jar fwmerge.jar <command> ...}.
 *
 * <p>Commands: {@code inspect PATH [--base BASE]} lists and validates a checkpoint; {@code merge CONFIG.yaml OUT_DIR} merges the models of a mergekit-style configuration; {@code demo} runs the end-to-end demo; {@code bench} measures memory and throughput on synthetic checkpoints. Exit code 0 on
 * success, 1 when the input is invalid (the reason printed on one line to standard error, without a
 * stack trace), 2 for a usage error.
 */
@Command(name = "fwmerge", mixinStandardHelpOptions = true, version = "fwmerge 0.1.0",
        description = "Merge fine-tuned checkpoints by Frank-Wolfe optimisation, and inspect checkpoints.",
        subcommands = {InspectCommand.class, MergeCommand.class, org.fwmerge.examples.demo.DemoCommand.class,
                org.fwmerge.examples.bench.BenchCommand.class})
public final class FwmergeCli implements Runnable {

    @Spec
    CommandSpec spec;

    /** Picocli instantiates the command; use {@link #run(String[], PrintWriter, PrintWriter)}. */
    public FwmergeCli() {
    }

    /** Without a subcommand: a usage error. */
    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "missing command (try: fwmerge inspect PATH)");
    }

    /**
     * Runs the tool in-process.
     *
     * @param args command-line arguments
     * @param out  standard output
     * @param err  standard error
     * @return the exit code: 0 success, 1 invalid input, 2 usage error
     */
    public static int run(String[] args, PrintWriter out, PrintWriter err) {
        // Load the tensor backends before any command touches ND4J (merge loads SameDiff graphs first): the
        // ND4J backend sets JavaCPP's limits when its class loads, which counts only before JavaCPP starts.
        org.fwmerge.tensor.TensorBackends.get();
        CommandLine cl = new CommandLine(new FwmergeCli());
        cl.setOut(out);
        cl.setErr(err);
        cl.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
            commandLine.getErr().println("fwmerge " + commandLine.getCommandName() + ": " + describe(ex));
            commandLine.getErr().flush();
            return 1;
        });
        int code = cl.execute(args);
        out.flush();
        err.flush();
        return code;
    }

    /** One line for the user: the validation message, which already names file, tensor and value. */
    static String describe(Exception ex) {
        if (ex instanceof NoSuchFileException n) {
            return "no such file: " + n.getFile();
        }
        Throwable t = ex instanceof java.io.UncheckedIOException && ex.getCause() != null ? ex.getCause() : ex;
        String m = t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
        return m.replace('\n', ' ');
    }

    /**
     * Entry point of {@code fwmerge.jar}.
     *
     * @param args command-line arguments
     */
    public static void main(String[] args) {
        // ND4J's OpenBLAS misjudges newer CPUs: run in a JVM that tells it which kernels to use (OpenBlasCore).
        java.util.Optional<Integer> child = OpenBlasCore.relaunch(FwmergeCli.class.getName(), args);
        if (child.isPresent()) {
            System.exit(child.get());
        }
        int code = run(args, new PrintWriter(System.out, true, StandardCharsets.UTF_8),
                new PrintWriter(System.err, true, StandardCharsets.UTF_8));
        System.exit(code);
    }
}
